/* The rollout check: small scripts written here stand for the command
 * (green, pending, red, killed by a signal, hanging until the timeout),
 * the commit and repository arrive only through the environment (a sha
 * full of shell syntax is not interpreted), the command is split without
 * a shell, output is kept as a bounded tail, cancelling stops it, and bad
 * input is refused. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "cas-cli-process.h"
#include "cas-error.h"
#include "cas-rollout-check.h"

typedef struct {
  char *dir;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr (GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("cas-rollout-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  remove_tree (fixture->dir);
  g_free (fixture->dir);
}

/* Writes an executable /bin/sh script named @name; returns its path. */
static char *
write_script (Fixture    *fixture,
              const char *name,
              const char *body)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = g_strconcat ("#!/bin/sh\n", body, "\n", NULL);
  char *path = g_build_filename (fixture->dir, name, NULL);

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (path, 0755), ==, 0);
  return path;
}

typedef struct {
  gboolean done;
  CasRolloutOutcome *outcome;
  GError *error;
} Wait;

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Wait *wait = user_data;

  wait->outcome = cas_rollout_check_run_finish (CAS_ROLLOUT_CHECK (source), result,
                                                &wait->error);
  wait->done = TRUE;
}

static CasRolloutOutcome *
run_check (CasRolloutCheck *check,
           const char      *repository,
           const char      *commit,
           GCancellable    *cancellable,
           GError         **error)
{
  Wait wait = { 0 };

  cas_rollout_check_run_async (check, repository, commit, cancellable, on_done, &wait);
  while (!wait.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true ((wait.outcome == NULL) != (wait.error == NULL));
  if (wait.error != NULL)
    g_propagate_error (error, wait.error);
  return wait.outcome;
}

/* Every child reaped, its process group swept. */
static void
wait_for_no_children (void)
{
  while (cas_cli_process_get_live_count () > 0)
    g_main_context_iteration (NULL, TRUE);
}

static CasRolloutCheck *
check_for (const char *command,
           guint       timeout_seconds)
{
  g_autoptr (GError) error = NULL;
  CasRolloutCheck *check = cas_rollout_check_new (command, timeout_seconds, &error);

  g_assert_no_error (error);
  g_assert_nonnull (check);
  return check;
}

static void
test_verdicts (Fixture       *fixture,
               gconstpointer  data)
{
  g_autofree char *green = write_script (fixture, "green",
                                         "echo \"rolled out $AFK_REPOSITORY at $AFK_COMMIT\"");
  g_autofree char *pending = write_script (fixture, "pending",
                                           "echo 'still on the old image' >&2\nexit 75");
  g_autofree char *red = write_script (fixture, "red",
                                       "echo 'checking'\necho 'pod crashloops' >&2\nexit 3");
  g_autofree char *signaled = write_script (fixture, "signaled", "kill -9 $$");
  g_autoptr (GError) error = NULL;

  {
    g_autoptr (CasRolloutCheck) check = check_for (green, 30);
    g_autoptr (CasRolloutOutcome) outcome = NULL;

    g_assert_true (cas_rollout_check_is_configured (check));
    outcome = run_check (check, "owner/repo", "0123456789abcdef0123456789abcdef01234567",
                         NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (outcome->verdict, ==, CAS_CI_VERDICT_GREEN);
    g_assert_cmpint (outcome->exit_status, ==, 0);
    g_assert_false (outcome->timed_out);
    g_assert_cmpstr (outcome->summary, ==, "exit 0");
    g_assert_cmpstr (outcome->stdout_tail, ==,
                     "rolled out owner/repo at 0123456789abcdef0123456789abcdef01234567");
    g_assert_cmpstr (outcome->stderr_tail, ==, "");
  }
  {
    g_autoptr (CasRolloutCheck) check = check_for (pending, 30);
    g_autoptr (CasRolloutOutcome) outcome = run_check (check, "owner/repo", "abc", NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpint (outcome->verdict, ==, CAS_CI_VERDICT_PENDING);
    g_assert_cmpint (outcome->exit_status, ==, 75);
    g_assert_cmpstr (outcome->summary, ==, "exit 75: not rolled out yet");
    g_assert_cmpstr (outcome->stderr_tail, ==, "still on the old image");
  }
  {
    g_autoptr (CasRolloutCheck) check = check_for (red, 30);
    g_autoptr (CasRolloutOutcome) outcome = run_check (check, "owner/repo", "abc", NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpint (outcome->verdict, ==, CAS_CI_VERDICT_RED);
    g_assert_cmpint (outcome->exit_status, ==, 3);
    g_assert_cmpstr (outcome->summary, ==, "exit 3: pod crashloops");
    g_assert_cmpstr (outcome->stdout_tail, ==, "checking");
    g_assert_cmpstr (outcome->stderr_tail, ==, "pod crashloops");
  }
  {
    g_autoptr (CasRolloutCheck) check = check_for (signaled, 30);
    g_autoptr (CasRolloutOutcome) outcome = run_check (check, "owner/repo", "abc", NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpint (outcome->verdict, ==, CAS_CI_VERDICT_RED);
    g_assert_cmpint (outcome->exit_status, ==, 128 + 9);
  }
  wait_for_no_children ();
}

static void
test_hang_killed (Fixture       *fixture,
                  gconstpointer  data)
{
  /* One that goes on SIGTERM, and one (with its child) that ignores it
   * and needs the SIGKILL. */
  g_autofree char *hang = write_script (fixture, "hang", "echo waiting\nexec sleep 600");
  g_autofree char *stubborn = write_script (fixture, "stubborn",
                                            "trap '' TERM\necho waiting\nsleep 600\necho never");
  const char *scripts[] = { hang, stubborn };

  for (guint i = 0; i < G_N_ELEMENTS (scripts); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CasRolloutCheck) check = check_for (scripts[i], 1);
      g_autoptr (CasRolloutOutcome) outcome = run_check (check, "owner/repo", "abc", NULL,
                                                         &error);

      g_assert_no_error (error);
      g_assert_cmpint (outcome->verdict, ==, CAS_CI_VERDICT_RED);
      g_assert_true (outcome->timed_out);
      g_assert_cmpint (outcome->exit_status, ==, -1);
      g_assert_cmpstr (outcome->summary, ==, "timed out after 1 s");
      g_assert_cmpstr (outcome->stdout_tail, ==, "waiting");
      /* The sleep went with its group: nothing holds the pipes. */
      g_assert_cmpuint (cas_cli_process_get_live_count (), ==, 0);
    }
}

static void
test_hostile_commit (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autofree char *seen = g_build_filename (fixture->dir, "seen", NULL);
  g_autofree char *pwned = g_build_filename (fixture->dir, "pwned", NULL);
  g_autofree char *body = g_strdup_printf ("printf '%%s' \"$AFK_COMMIT\" > '%s'\n"
                                           "printf '%%s' \"$AFK_REPOSITORY\" >> '%s'\n"
                                           "echo \"args: $#\"",
                                           seen, seen);
  g_autofree char *script = write_script (fixture, "record", body);
  g_autofree char *hostile = g_strdup_printf ("abc$(touch %s)`touch %s`;touch %s|touch %s&&"
                                              "touch %s\n'\"\\ $HOME * ~ %%s %%n",
                                              pwned, pwned, pwned, pwned, pwned);
  g_autoptr (CasRolloutCheck) check = check_for (script, 30);
  g_autoptr (GError) error = NULL;
  g_autoptr (CasRolloutOutcome) outcome = run_check (check, "own-er/re.po_x", hostile, NULL,
                                                     &error);
  g_autofree char *contents = NULL;
  g_autofree char *expected = g_strconcat (hostile, "own-er/re.po_x", NULL);

  g_assert_no_error (error);
  g_assert_cmpint (outcome->verdict, ==, CAS_CI_VERDICT_GREEN);
  /* Not in the argv either. */
  g_assert_cmpstr (outcome->stdout_tail, ==, "args: 0");
  g_assert_true (g_file_get_contents (seen, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, expected);
  g_assert_false (g_file_test (pwned, G_FILE_TEST_EXISTS));
}

static void
test_command_split (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autofree char *pwned = g_build_filename (fixture->dir, "pwned", NULL);
  g_autofree char *script = write_script (fixture, "args",
                                          "for a in \"$@\"; do echo \"[$a]\"; done");
  /* Quotes group words; everything else a shell would act on is a plain
   * argument. */
  g_autofree char *command = g_strdup_printf ("'%s' \"two words\" a;touch %s '|' '$(id)' "
                                              "$HOME >out",
                                              script, pwned);
  g_autoptr (CasRolloutCheck) check = check_for (command, 30);
  g_autoptr (GError) error = NULL;
  g_autoptr (CasRolloutOutcome) outcome = run_check (check, "owner/repo", "abc", NULL, &error);
  g_autofree char *expected = g_strdup_printf ("[two words]\n[a;touch]\n[%s]\n[|]\n[$(id)]\n"
                                               "[$HOME]\n[>out]",
                                               pwned);

  g_assert_no_error (error);
  g_assert_cmpint (outcome->verdict, ==, CAS_CI_VERDICT_GREEN);
  g_assert_cmpstr (outcome->stdout_tail, ==, expected);
  g_assert_false (g_file_test (pwned, G_FILE_TEST_EXISTS));
}

static void
test_environment (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autofree char *script = write_script (fixture, "env",
                                          "echo \"token=${API_BEARER_TOKEN-unset}\"\n"
                                          "echo \"commit=$AFK_COMMIT\"");
  g_autoptr (CasRolloutCheck) check = check_for (script, 30);
  g_autoptr (GError) error = NULL;
  g_autoptr (CasRolloutOutcome) outcome = NULL;

  /* The daemon's secrets stay with the daemon; a stale AFK_COMMIT of
   * ours is replaced. */
  g_setenv ("API_BEARER_TOKEN", "secret-of-the-daemon", TRUE);
  g_setenv ("AFK_COMMIT", "stale", TRUE);
  outcome = run_check (check, "owner/repo", "fresh", NULL, &error);
  g_unsetenv ("API_BEARER_TOKEN");
  g_unsetenv ("AFK_COMMIT");
  g_assert_no_error (error);
  g_assert_cmpstr (outcome->stdout_tail, ==, "token=unset\ncommit=fresh");
}

static void
test_output_bounded (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autofree char *script = write_script (fixture, "chatty",
                                          "i=0\n"
                                          "while [ $i -lt 3000 ]; do\n"
                                          "  echo \"out $i\"; echo \"err $i $i $i $i $i $i\" >&2\n"
                                          "  i=$((i + 1))\n"
                                          "done\n"
                                          "head -c 5000 /dev/zero | tr '\\0' x\n"
                                          "printf '\\n\\377\\376 not utf-8\\n'\n"
                                          "exit 1");
  g_autoptr (CasRolloutCheck) check = check_for (script, 60);
  g_autoptr (GError) error = NULL;
  g_autoptr (CasRolloutOutcome) outcome = run_check (check, "owner/repo", "abc", NULL, &error);
  g_auto (GStrv) lines = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (outcome->verdict, ==, CAS_CI_VERDICT_RED);
  g_assert_true (g_utf8_validate (outcome->stdout_tail, -1, NULL));
  g_assert_true (g_utf8_validate (outcome->stderr_tail, -1, NULL));
  lines = g_strsplit (outcome->stdout_tail, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, CAS_ROLLOUT_CHECK_TAIL_LINES);
  g_assert_cmpstr (lines[0], ==, "out 2992");
  /* A long line is cut. */
  g_assert_cmpuint (strlen (lines[CAS_ROLLOUT_CHECK_TAIL_LINES - 2]), ==, 512);
  g_assert_true (g_str_has_suffix (lines[CAS_ROLLOUT_CHECK_TAIL_LINES - 1], " not utf-8"));
  g_assert_cmpuint (strlen (outcome->stderr_tail), <=, CAS_ROLLOUT_CHECK_TAIL_LINES * 513);
  g_assert_cmpuint (strlen (outcome->summary), <, 300);
}

static void
test_cancel (Fixture       *fixture,
             gconstpointer  data)
{
  g_autofree char *hang = write_script (fixture, "hang", "exec sleep 600");
  g_autoptr (CasRolloutCheck) check = check_for (hang, 600);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  Wait wait = { 0 };

  cas_rollout_check_run_async (check, "owner/repo", "abc", cancellable, on_done, &wait);
  g_assert_cmpuint (cas_cli_process_get_live_count (), ==, 1);
  g_cancellable_cancel (cancellable);
  while (!wait.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_null (wait.outcome);
  g_assert_error (wait.error, CAS_ERROR, CAS_ERROR_CANCELLED);
  g_clear_error (&wait.error);
  wait_for_no_children ();

  /* Cancelled before it starts: nothing runs. */
  {
    g_autoptr (CasRolloutOutcome) outcome = run_check (check, "owner/repo", "abc", cancellable,
                                                       &error);

    g_assert_null (outcome);
    g_assert_error (error, CAS_ERROR, CAS_ERROR_CANCELLED);
    g_assert_cmpuint (cas_cli_process_get_live_count (), ==, 0);
  }
}

static void
test_not_configured (void)
{
  const char *blanks[] = { NULL, "", "   ", " \t\n " };

  for (guint i = 0; i < G_N_ELEMENTS (blanks); i++)
    {
      g_autoptr (CasRolloutCheck) check = check_for (blanks[i], 0);
      g_autoptr (GError) error = NULL;
      g_autoptr (CasRolloutOutcome) outcome = NULL;

      g_assert_false (cas_rollout_check_is_configured (check));
      outcome = run_check (check, "owner/repo", "abc", NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (outcome->verdict, ==, CAS_CI_VERDICT_SKIPPED);
      g_assert_cmpint (outcome->exit_status, ==, -1);
      g_assert_cmpstr (outcome->stdout_tail, ==, "");
    }
}

static void
test_bad_config (Fixture       *fixture,
                 gconstpointer  data)
{
  const char *unparseable[] = { "\"unclosed", "'unclosed", "trailing\\", "\xff\xfe" };
  g_autofree char *not_executable = g_build_filename (fixture->dir, "plain", NULL);
  g_autofree char *missing = g_build_filename (fixture->dir, "missing", NULL);
  const char *not_runnable[] = {
    missing, not_executable, fixture->dir, "no-such-program-anywhere-cas", "./relative-missing"
  };

  for (guint i = 0; i < G_N_ELEMENTS (unparseable); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CasRolloutCheck) check = cas_rollout_check_new (unparseable[i], 0, &error);

      g_assert_null (check);
      g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
    }

  g_assert_true (g_file_set_contents (not_executable, "#!/bin/sh\n", -1, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (not_runnable); i++)
    {
      g_autoptr (CasRolloutCheck) check = check_for (not_runnable[i], 0);
      g_autoptr (GError) error = NULL;
      g_autoptr (CasRolloutOutcome) outcome = run_check (check, "owner/repo", "abc", NULL,
                                                         &error);

      g_assert_null (outcome);
      g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
      g_assert_nonnull (strstr (error->message, not_runnable[i]));
    }
  g_assert_cmpuint (cas_cli_process_get_live_count (), ==, 0);
}

static void
test_bad_input (Fixture       *fixture,
                gconstpointer  data)
{
  g_autofree char *marker = g_build_filename (fixture->dir, "ran", NULL);
  g_autofree char *body = g_strdup_printf ("touch '%s'", marker);
  g_autofree char *script = write_script (fixture, "touch", body);
  g_autoptr (CasRolloutCheck) check = check_for (script, 30);
  g_autofree char *long_commit = g_strnfill (257, 'a');
  g_autofree char *longest_commit = g_strnfill (256, 'a');
  const struct {
    const char *repository;
    const char *commit;
  } bad[] = {
    { NULL, "abc" },
    { "", "abc" },
    { "no-slash", "abc" },
    { "a/b/c", "abc" },
    { "../etc", "abc" },
    { "owner/..", "abc" },
    { "own er/repo", "abc" },
    { "owner/re\npo", "abc" },
    { "\xff/repo", "abc" },
    { "owner/repo", NULL },
    { "owner/repo", "" },
    { "owner/repo", "\xc3\x28" },
    { "owner/repo", long_commit },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CasRolloutOutcome) outcome = run_check (check, bad[i].repository, bad[i].commit,
                                                         NULL, &error);

      g_assert_null (outcome);
      g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
    }
  g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));

  {
    g_autoptr (GError) error = NULL;
    g_autoptr (CasRolloutOutcome) outcome = run_check (check, "owner/repo", longest_commit, NULL,
                                                       &error);

    g_assert_no_error (error);
    g_assert_cmpint (outcome->verdict, ==, CAS_CI_VERDICT_GREEN);
    g_assert_true (g_file_test (marker, G_FILE_TEST_EXISTS));
  }
}

static void
test_tail_lines (void)
{
  static const struct {
    const char *text;
    guint max_lines;
    gsize max_bytes;
    const char *tail;
  } cases[] = {
    { NULL, 3, 100, "" },
    { "", 3, 100, "" },
    { "one", 3, 100, "one" },
    { "one\ntwo\nthree\nfour\n", 3, 100, "two\nthree\nfour" },
    { "one\r\ntwo\r\n\r\n\n  \nthree  \n\n", 2, 100, "two\nthree" },
    { "a\nb", 0, 100, "" },
    { "a\nb", 5, 0, "" },
    { "abcdef\nghij", 5, 6, "f\nghij" },
    /* Cut at a character, from the front. */
    { "\xd0\xb1\xd0\xb3", 5, 3, "\xd0\xb3" },
    { "ok\n\xff\xfe", 5, 100, "ok\n\xef\xbf\xbd\xef\xbf\xbd" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *tail = cas_rollout_check_tail_lines (cases[i].text, cases[i].max_lines,
                                                            cases[i].max_bytes);

      g_assert_cmpstr (tail, ==, cases[i].tail);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/rollout-check/verdicts", Fixture, NULL,
              fixture_set_up, test_verdicts, fixture_tear_down);
  g_test_add ("/rollout-check/hang-killed", Fixture, NULL,
              fixture_set_up, test_hang_killed, fixture_tear_down);
  g_test_add ("/rollout-check/hostile-commit", Fixture, NULL,
              fixture_set_up, test_hostile_commit, fixture_tear_down);
  g_test_add ("/rollout-check/command-split", Fixture, NULL,
              fixture_set_up, test_command_split, fixture_tear_down);
  g_test_add ("/rollout-check/environment", Fixture, NULL,
              fixture_set_up, test_environment, fixture_tear_down);
  g_test_add ("/rollout-check/output-bounded", Fixture, NULL,
              fixture_set_up, test_output_bounded, fixture_tear_down);
  g_test_add ("/rollout-check/cancel", Fixture, NULL,
              fixture_set_up, test_cancel, fixture_tear_down);
  g_test_add_func ("/rollout-check/not-configured", test_not_configured);
  g_test_add ("/rollout-check/bad-config", Fixture, NULL,
              fixture_set_up, test_bad_config, fixture_tear_down);
  g_test_add ("/rollout-check/bad-input", Fixture, NULL,
              fixture_set_up, test_bad_input, fixture_tear_down);
  g_test_add_func ("/rollout-check/tail-lines", test_tail_lines);
  return g_test_run ();
}
