/* argv builders: flags per path, and what must never be there. */
#include "cas-cli-argv.h"

static gboolean
has (GStrv argv,
     const char *arg)
{
  return g_strv_contains ((const char * const *) argv, arg);
}

static void
test_conversational (void)
{
  CasCliInvocation inv = {
    .kind = CAS_CLI_KIND_CONVERSATIONAL,
    .command = "/usr/bin/claude",
    .agent = "conversational",
    .agents_json = "{\"conversational\":{}}",
    .model = "haiku",
    .session_id = "8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a",
    .max_budget_usd = 5, /* ignored: conversational turns carry no budget */
  };
  g_auto (GStrv) argv = cas_cli_argv_build (&inv);

  g_assert_cmpstr (argv[0], ==, "/usr/bin/claude");
  g_assert_true (has (argv, "-p"));
  g_assert_true (has (argv, "--output-format=stream-json"));
  g_assert_true (has (argv, "--verbose"));
  g_assert_true (has (argv, "--include-partial-messages"));
  g_assert_true (has (argv, "--setting-sources=user"));
  g_assert_true (has (argv, "--exclude-dynamic-system-prompt-sections"));
  g_assert_true (has (argv, "--agent=conversational"));
  g_assert_true (has (argv, "--agents={\"conversational\":{}}"));
  g_assert_true (has (argv, "--model=haiku"));
  g_assert_true (has (argv, "--session-id=8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a"));
  g_assert_false (has (argv, "--dangerously-skip-permissions"));
  for (guint i = 0; argv[i] != NULL; i++)
    {
      g_assert_false (g_str_has_prefix (argv[i], "--permission-mode"));
      g_assert_false (g_str_has_prefix (argv[i], "--max-budget-usd"));
    }

  inv.resume = TRUE;
  {
    g_auto (GStrv) resumed = cas_cli_argv_build (&inv);

    g_assert_true (has (resumed, "--resume=8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a"));
    g_assert_false (has (resumed, "--session-id=8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a"));
    g_assert_false (has (resumed, "--dangerously-skip-permissions"));
  }
}

static void
test_no_session_persistence (void)
{
  CasCliInvocation inv = {
    .kind = CAS_CLI_KIND_CONVERSATIONAL,
    .command = "claude",
    .agent = "conversational",
    .model = "sonnet",
    .no_session_persistence = TRUE,
  };
  g_auto (GStrv) argv = cas_cli_argv_build (&inv);

  g_assert_true (has (argv, "--no-session-persistence"));
  for (guint i = 0; argv[i] != NULL; i++)
    {
      g_assert_false (g_str_has_prefix (argv[i], "--session-id"));
      g_assert_false (g_str_has_prefix (argv[i], "--resume"));
    }

  /* A session that is meant to be resumed must be persisted. */
  inv.session_id = "8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a";
  {
    g_auto (GStrv) with_session = cas_cli_argv_build (&inv);

    g_assert_false (has (with_session, "--no-session-persistence"));
    g_assert_true (has (with_session, "--session-id=8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a"));
  }

  /* Off by default. */
  inv.session_id = NULL;
  inv.no_session_persistence = FALSE;
  {
    g_auto (GStrv) plain = cas_cli_argv_build (&inv);

    g_assert_false (has (plain, "--no-session-persistence"));
  }
}

static void
test_stream_input (void)
{
  CasCliInvocation inv = {
    .kind = CAS_CLI_KIND_CONVERSATIONAL,
    .command = "claude",
    .model = "sonnet",
    .no_session_persistence = TRUE,
    .stream_input = TRUE,
  };
  g_auto (GStrv) warm = cas_cli_argv_build (&inv);

  /* The CLI wants stream-json output (and --verbose) with it. */
  g_assert_true (has (warm, "--input-format=stream-json"));
  g_assert_true (has (warm, "--output-format=stream-json"));
  g_assert_true (has (warm, "--verbose"));

  /* Jobs write one JSON result: no stream input for them. */
  inv.kind = CAS_CLI_KIND_JOB;
  {
    g_auto (GStrv) job = cas_cli_argv_build (&inv);

    g_assert_false (has (job, "--input-format=stream-json"));
  }
}

static void
test_job (void)
{
  CasCliInvocation inv = {
    .kind = CAS_CLI_KIND_JOB,
    .command = "claude",
    .agent = "workspace",
    .max_budget_usd = 0.5,
  };
  g_auto (GStrv) argv = cas_cli_argv_build (&inv);

  g_assert_true (has (argv, "--output-format=json"));
  g_assert_true (has (argv, "--dangerously-skip-permissions"));
  g_assert_true (has (argv, "--max-budget-usd=0.5"));
  g_assert_true (has (argv, "--agent=workspace"));
  g_assert_false (has (argv, "--verbose"));
}

static void
test_breakglass (void)
{
  CasCliInvocation inv = {
    .kind = CAS_CLI_KIND_BREAKGLASS,
    .command = "claude",
    .agent = "breakglass",
    .session_id = "11111111-2222-3333-4444-555555555555",
    .resume = TRUE,
  };
  g_auto (GStrv) argv = cas_cli_argv_build (&inv);

  g_assert_true (has (argv, "--output-format=stream-json"));
  g_assert_true (has (argv, "--verbose"));
  g_assert_true (has (argv, "--resume=11111111-2222-3333-4444-555555555555"));
  g_assert_false (has (argv, "--setting-sources=user"));
}

static void
test_breakglass_live (void)
{
  /* The console's long-lived process: text deltas, stream-json input,
   * the session opened with its own id. */
  CasCliInvocation inv = {
    .kind = CAS_CLI_KIND_BREAKGLASS,
    .command = "claude",
    .agent = "breakglass",
    .session_id = "11111111-2222-3333-4444-555555555555",
    .stream_input = TRUE,
    .partial_messages = TRUE,
  };
  g_auto (GStrv) argv = cas_cli_argv_build (&inv);
  CasCliInvocation plain = { .kind = CAS_CLI_KIND_BREAKGLASS, .command = "claude" };
  g_auto (GStrv) plain_argv = cas_cli_argv_build (&plain);

  g_assert_true (has (argv, "--include-partial-messages"));
  g_assert_true (has (argv, "--input-format=stream-json"));
  g_assert_true (has (argv, "--dangerously-skip-permissions"));
  g_assert_true (has (argv, "--session-id=11111111-2222-3333-4444-555555555555"));
  g_assert_false (has (plain_argv, "--include-partial-messages"));
}

static void
test_hostile_values_stay_one_argument (void)
{
  /* A value with spaces or a leading dash is one --flag=value argument,
   * never split and never read as an option. */
  CasCliInvocation inv = {
    .kind = CAS_CLI_KIND_JOB,
    .command = "claude",
    .agent = "-rf; rm -rf / #",
    .model = "opus --dangerously-skip-permissions",
  };
  g_auto (GStrv) argv = cas_cli_argv_build (&inv);

  g_assert_true (has (argv, "--agent=-rf; rm -rf / #"));
  g_assert_true (has (argv, "--model=opus --dangerously-skip-permissions"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/argv/conversational", test_conversational);
  g_test_add_func ("/argv/no-session-persistence", test_no_session_persistence);
  g_test_add_func ("/argv/stream-input", test_stream_input);
  g_test_add_func ("/argv/job", test_job);
  g_test_add_func ("/argv/breakglass", test_breakglass);
  g_test_add_func ("/argv/breakglass-live", test_breakglass_live);
  g_test_add_func ("/argv/hostile-values", test_hostile_values_stay_one_argument);

  return g_test_run ();
}
