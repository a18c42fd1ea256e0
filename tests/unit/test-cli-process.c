/* CasCliProcess against the real fake claude: stdin, lines, stderr, exit
 * codes, timeouts, stop, and no process left behind. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cas-cli-process.h"
#include "cas-error.h"

typedef struct {
  char *dir;
  char *scenario;
  char *log;
  char *claude;
  GPtrArray *lines;
  gboolean finished;
} Fixture;

static void
fixture_setup (Fixture      *fx,
               gconstpointer data)
{
  const char *fakes = g_getenv ("CAS_FAKES_DIR");

  g_assert_nonnull (fakes);
  fx->dir = g_dir_make_tmp ("cas-cli-process-XXXXXX", NULL);
  fx->scenario = g_build_filename (fx->dir, "scenario", NULL);
  fx->log = g_build_filename (fx->dir, "fake.log", NULL);
  fx->claude = g_build_filename (fakes, "claude", NULL);
  fx->lines = g_ptr_array_new_with_free_func (g_free);
  /* Set before any child exists; every run re-reads the scenario file. */
  g_setenv ("FAKE_CLAUDE_SCENARIO", fx->scenario, TRUE);
  g_setenv ("FAKE_CLAUDE_LOG", fx->log, TRUE);
  g_setenv ("HOME", fx->dir, TRUE);
  g_file_set_contents (fx->scenario, "", 0, NULL);
}

static void
fixture_teardown (Fixture      *fx,
                  gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GFile) dir = g_file_new_for_path (fx->dir);
  g_autoptr (GFileEnumerator) children = NULL;
  GFileInfo *info;

  children = g_file_enumerate_children (dir, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  /* The fake writes only flat files here, plus ~/.claude transcripts. */
  while (children != NULL && (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
    {
      g_autofree char *path = g_build_filename (fx->dir, g_file_info_get_name (info), NULL);
      g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", path);

      if (g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL) == FALSE)
        g_printerr ("cannot remove %s\n", path);
      g_object_unref (info);
    }
  g_rmdir (fx->dir);
  g_free (fx->dir);
  g_free (fx->scenario);
  g_free (fx->log);
  g_free (fx->claude);
  g_ptr_array_unref (fx->lines);
}

static void
set_scenario (Fixture    *fx,
              const char *text)
{
  g_autoptr (GError) error = NULL;

  g_file_set_contents (fx->scenario, text, -1, &error);
  g_assert_no_error (error);
}

static void
on_line (CasCliProcess  *run,
         const char *line,
         guint64     length,
         gpointer    user_data)
{
  Fixture *fx = user_data;

  g_assert_cmpuint (strlen (line), ==, length);
  g_assert_true (g_utf8_validate (line, -1, NULL));
  g_ptr_array_add (fx->lines, g_strdup (line));
}

static void
on_finished (CasCliProcess *run,
             gpointer   user_data)
{
  Fixture *fx = user_data;

  g_assert_false (fx->finished);
  fx->finished = TRUE;
}

static gboolean
on_test_timeout (gpointer user_data)
{
  g_error ("test timed out waiting for the run to finish");
  return G_SOURCE_REMOVE;
}

static CasCliProcess *
start_run (Fixture    *fx,
           const char *prompt,
           gsize       prompt_len,
           guint       timeout)
{
  const char *argv[] = { fx->claude, "-p", "--output-format=stream-json", "--verbose",
                         "--include-partial-messages", NULL };
  g_autoptr (GBytes) input = prompt != NULL ? g_bytes_new (prompt, prompt_len) : NULL;
  g_autoptr (GError) error = NULL;
  CasCliProcess *run = cas_cli_process_new (argv, fx->dir, input);

  cas_cli_process_set_timeout (run, timeout);
  cas_cli_process_set_kill_grace (run, 1);
  g_signal_connect (run, "line", G_CALLBACK (on_line), fx);
  g_signal_connect (run, "finished", G_CALLBACK (on_finished), fx);
  g_assert_true (cas_cli_process_start (run, &error));
  g_assert_no_error (error);
  return run;
}

static void
wait_finished (Fixture *fx)
{
  guint guard = g_timeout_add_seconds (60, on_test_timeout, NULL);

  while (!fx->finished)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (guard);
}

static JsonObject *
last_log_entry (Fixture *fx)
{
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  guint n;

  g_file_get_contents (fx->log, &contents, NULL, &error);
  g_assert_no_error (error);
  lines = g_strsplit (g_strchomp (contents), "\n", -1);
  n = g_strv_length (lines);
  g_assert_cmpuint (n, >, 0);
  json_parser_load_from_data (parser, lines[n - 1], -1, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static gboolean
process_exists (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d", pid);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static void
assert_gone (int pid)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_assert_cmpint (pid, >, 0);
  /* A grandchild is reparented to init, which reaps it soon after. */
  while (process_exists (pid) && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  g_assert_false (process_exists (pid));
}

static void
test_large_prompt_on_stdin (Fixture      *fx,
                            gconstpointer data)
{
  GString *prompt = g_string_new (NULL);
  g_autoptr (CasCliProcess) run = NULL;
  g_autoptr (JsonObject) entry = NULL;
  JsonArray *argv;

  /* 300 KiB, more than Linux allows in one argument (128 KiB). */
  while (prompt->len < 300 * 1024)
    g_string_append (prompt, "Здравей, свят! Line with \"quotes\" and \\ and\ttabs.\n");

  run = start_run (fx, prompt->str, prompt->len, 30);
  wait_finished (fx);

  g_assert_no_error ((GError *) cas_cli_process_get_error (run));
  g_assert_cmpint (cas_cli_process_get_exit_status (run), ==, 0);
  entry = last_log_entry (fx);
  g_assert_cmpint (json_object_get_int_member (entry, "stdin_bytes"), ==, prompt->len);
  g_assert_cmpstr (json_object_get_string_member (entry, "stdin"), ==, prompt->str);
  /* The prompt is nowhere in argv. */
  argv = json_object_get_array_member (entry, "argv");
  for (guint i = 0; i < json_array_get_length (argv); i++)
    g_assert_cmpuint (strlen (json_array_get_string_element (argv, i)), <, 1024);
  /* Its own process group. */
  g_assert_cmpint (json_object_get_int_member (entry, "pgid"), ==,
                   json_object_get_int_member (entry, "pid"));
  g_assert_cmpuint (fx->lines->len, >=, 3);
  g_assert_true (g_str_has_prefix (g_ptr_array_index (fx->lines, fx->lines->len - 1),
                                   "{\"type\":\"result\""));
  g_string_free (prompt, TRUE);
}

static void
test_no_prompt_closes_stdin (Fixture      *fx,
                             gconstpointer data)
{
  g_autoptr (CasCliProcess) run = NULL;

  /* Without input the CLI must see EOF at once, not an open pipe. */
  run = start_run (fx, NULL, 0, 30);
  wait_finished (fx);
  g_assert_error ((GError *) cas_cli_process_get_error (run), CAS_ERROR, CAS_ERROR_CLI_FAILED);
  g_assert_nonnull (strstr (cas_cli_process_get_error (run)->message, "exit 1: Error: Input must be provided"));
}

static void
test_exit_code_and_stderr (Fixture      *fx,
                           gconstpointer data)
{
  g_autoptr (CasCliProcess) run = NULL;
  const GError *error;

  set_scenario (fx, "FAKE_CLAUDE_EXIT_BEFORE_OUTPUT=3\nFAKE_CLAUDE_STDERR=boom: it broke\n");
  run = start_run (fx, "hi", 2, 30);
  wait_finished (fx);
  error = cas_cli_process_get_error (run);
  g_assert_error ((GError *) error, CAS_ERROR, CAS_ERROR_CLI_FAILED);
  g_assert_cmpstr (error->message, ==, "exit 3: boom: it broke");
  g_assert_cmpint (cas_cli_process_get_exit_status (run), ==, 3);
  g_assert_cmpuint (fx->lines->len, ==, 0);
}

static void
test_not_found (Fixture      *fx,
                gconstpointer data)
{
  const char *argv[] = { "claude-does-not-exist-anywhere", "-p", NULL };
  g_autoptr (CasCliProcess) run = cas_cli_process_new (argv, NULL, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_false (cas_cli_process_start (run, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CLI_NOT_FOUND);
  g_assert_cmpstr (error->message, ==,
                   "claude CLI not found (install @anthropic-ai/claude-code and log in)");
  /* Stopping a run that never started is harmless. */
  cas_cli_process_stop (run);
}

static void
test_timeout_kills_everything (Fixture      *fx,
                               gconstpointer data)
{
  g_autoptr (CasCliProcess) run = NULL;
  g_autoptr (JsonObject) entry = NULL;
  gint64 started = g_get_monotonic_time ();

  /* Hangs after init, ignores SIGTERM and leaves a grandchild holding
   * stdout and stderr open. */
  set_scenario (fx, "FAKE_CLAUDE_HANG=1\nFAKE_CLAUDE_IGNORE_SIGTERM=1\nFAKE_CLAUDE_SPAWN_GRANDCHILD=1\n");
  run = start_run (fx, "hi", 2, 1);
  wait_finished (fx);

  g_assert_error ((GError *) cas_cli_process_get_error (run), CAS_ERROR, CAS_ERROR_TIMED_OUT);
  g_assert_cmpstr (cas_cli_process_get_error (run)->message, ==, "agent timed out after 1 s");
  g_assert_cmpint (cas_cli_process_get_exit_status (run), ==, 128 + SIGKILL);
  /* 1 s timeout + 1 s grace, with room for a loaded machine. */
  g_assert_cmpint (g_get_monotonic_time () - started, <, 8 * G_USEC_PER_SEC);
  entry = last_log_entry (fx);
  assert_gone (json_object_get_int_member (entry, "pid"));
  assert_gone (json_object_get_int_member (entry, "grandchild_pid"));
  g_assert_cmpuint (cas_cli_process_get_live_count (), ==, 0);
}

static void
test_stop (Fixture      *fx,
           gconstpointer data)
{
  g_autoptr (CasCliProcess) run = NULL;
  g_autoptr (JsonObject) entry = NULL;

  set_scenario (fx, "FAKE_CLAUDE_HANG=1\nFAKE_CLAUDE_SPAWN_GRANDCHILD=1\n");
  run = start_run (fx, "hi", 2, 0);
  /* Wait for the init line, then stop. */
  while (fx->lines->len == 0)
    g_main_context_iteration (NULL, TRUE);
  cas_cli_process_stop (run);
  cas_cli_process_stop (run);
  wait_finished (fx);

  g_assert_error ((GError *) cas_cli_process_get_error (run), CAS_ERROR, CAS_ERROR_CANCELLED);
  g_assert_cmpint (cas_cli_process_get_exit_status (run), ==, 128 + SIGTERM);
  entry = last_log_entry (fx);
  assert_gone (json_object_get_int_member (entry, "pid"));
  assert_gone (json_object_get_int_member (entry, "grandchild_pid"));
}

/* The value of a "Key:\t..." line of /proc/PID/status. */
static char *
proc_status_field (int         pid,
                   const char *key)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], key) && lines[i][strlen (key)] == ':')
      return g_strdup (g_strstrip (lines[i] + strlen (key) + 1));
  g_assert_not_reached ();
}

static void
test_child_setup (Fixture      *fx,
                  gconstpointer data)
{
  g_autoptr (CasCliProcess) run = NULL;
  g_autofree char *fd_dir = NULL;
  g_autofree char *ignored = NULL;
  g_autofree char *blocked = NULL;
  g_autoptr (GDir) fds = NULL;
  guint n_fds = 0;
  int pid;

  set_scenario (fx, "FAKE_CLAUDE_HANG=1\n");
  run = start_run (fx, "hi", 2, 0);
  while (fx->lines->len == 0)
    g_main_context_iteration (NULL, TRUE);
  pid = cas_cli_process_get_pid (run);

  /* Its own process group, leader of it. */
  g_assert_cmpint (getpgid (pid), ==, pid);
  /* Default dispositions and an empty mask, though the daemon ignores
   * SIGPIPE: bit 13 of SigIgn. */
  ignored = proc_status_field (pid, "SigIgn");
  g_assert_cmpuint (g_ascii_strtoull (ignored, NULL, 16) & (1 << (SIGPIPE - 1)), ==, 0);
  blocked = proc_status_field (pid, "SigBlk");
  g_assert_cmpuint (g_ascii_strtoull (blocked, NULL, 16), ==, 0);
  /* stdin, stdout, stderr and nothing of ours. */
  fd_dir = g_strdup_printf ("/proc/%d/fd", pid);
  fds = g_dir_open (fd_dir, 0, NULL);
  g_assert_nonnull (fds);
  while (g_dir_read_name (fds) != NULL)
    n_fds++;
  g_assert_cmpuint (n_fds, ==, 3);

  cas_cli_process_stop (run);
  wait_finished (fx);
}

/* Iterates until a stdout line of type "result" has come after @from. */
static void
wait_result (Fixture *fx,
             guint    from)
{
  guint guard = g_timeout_add_seconds (60, on_test_timeout, NULL);

  for (;;)
    {
      for (guint i = from; i < fx->lines->len; i++)
        if (strstr (g_ptr_array_index (fx->lines, i), "\"type\":\"result\"") != NULL)
          {
            g_source_remove (guard);
            return;
          }
      g_main_context_iteration (NULL, TRUE);
    }
}

static void
test_long_lived (Fixture      *fx,
                 gconstpointer data)
{
  const char *argv[] = { fx->claude, "-p", "--input-format=stream-json",
                         "--output-format=stream-json", "--verbose",
                         "--include-partial-messages", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (CasCliProcess) run = cas_cli_process_start_long_lived (argv, fx->dir, 1, 1 << 20,
                                                                    &error);
  g_autofree char *big = g_strnfill (300 * 1024, 'x');
  guint first_turn;
  int pid;

  g_assert_no_error (error);
  /* Nothing is emitted before the main loop runs. */
  g_signal_connect (run, "line", G_CALLBACK (on_line), fx);
  g_signal_connect (run, "finished", G_CALLBACK (on_finished), fx);
  pid = cas_cli_process_get_pid (run);

  /* Two turns on one process; the second message is past the pipe's
   * buffer, so part of it waits for the main loop. */
  cas_cli_process_send_user_message (run, "Здравей \"one\"");
  wait_result (fx, 0);
  g_assert_nonnull (strstr (g_ptr_array_index (fx->lines, fx->lines->len - 1),
                            "Echo: Здравей \\\"one\\\""));
  first_turn = fx->lines->len;
  cas_cli_process_send_user_message (run, big);
  wait_result (fx, first_turn);
  g_assert_false (fx->finished);

  /* An interrupted turn ends with a result and keeps the process. */
  set_scenario (fx, "FAKE_CLAUDE_HANG=1\n");
  first_turn = fx->lines->len;
  cas_cli_process_send_user_message (run, "wait");
  while (fx->lines->len == first_turn)
    g_main_context_iteration (NULL, TRUE);
  cas_cli_process_interrupt (run);
  wait_result (fx, first_turn);
  g_assert_nonnull (strstr (g_ptr_array_index (fx->lines, fx->lines->len - 1),
                            "error_during_execution"));
  g_assert_cmpint (cas_cli_process_get_pid (run), ==, pid);
  g_assert_false (fx->finished);

  /* The next turn is a normal one. */
  set_scenario (fx, "");
  first_turn = fx->lines->len;
  cas_cli_process_send_user_message (run, "again");
  wait_result (fx, first_turn);
  g_assert_nonnull (strstr (g_ptr_array_index (fx->lines, fx->lines->len - 1), "Echo: again"));

  /* No more input: the CLI ends by itself (exit 0: its last turn was a
   * success). */
  cas_cli_process_close_stdin (run);
  wait_finished (fx);
  g_assert_no_error ((GError *) cas_cli_process_get_error (run));
  assert_gone (pid);
}

/* GLib reaps children in its worker thread, so one that exits at once
 * can be gone before the spawn returns. */
static void
test_exits_at_once (Fixture      *fx,
                    gconstpointer data)
{
  const char *argv[] = { "/bin/false", NULL };

  for (guint i = 0; i < 200; i++)
    {
      g_autoptr (CasCliProcess) run = cas_cli_process_new (argv, NULL, NULL);
      g_autoptr (GError) error = NULL;

      fx->finished = FALSE;
      g_signal_connect (run, "finished", G_CALLBACK (on_finished), fx);
      g_assert_true (cas_cli_process_start (run, &error));
      g_assert_no_error (error);
      wait_finished (fx);
      g_assert_cmpint (cas_cli_process_get_exit_status (run), ==, 1);
    }
}

static void
test_missing_directory (Fixture      *fx,
                        gconstpointer data)
{
  const char *argv[] = { fx->claude, "-p", NULL };
  g_autofree char *gone = g_build_filename (fx->dir, "gone", NULL);
  g_autoptr (CasCliProcess) run = cas_cli_process_new (argv, gone, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_false (cas_cli_process_start (run, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CLI_FAILED);
  g_assert_nonnull (strstr (error->message, "gone"));
  g_assert_cmpuint (cas_cli_process_get_live_count (), ==, 0);
}

static void
test_stop_all (Fixture      *fx,
               gconstpointer data)
{
  g_autoptr (CasCliProcess) run = NULL;

  set_scenario (fx, "FAKE_CLAUDE_HANG=1\nFAKE_CLAUDE_IGNORE_SIGTERM=1\n");
  run = start_run (fx, "hi", 2, 0);
  g_assert_cmpuint (cas_cli_process_get_live_count (), ==, 1);
  /* Once init is out, the fake is ignoring SIGTERM. */
  while (fx->lines->len == 0)
    g_main_context_iteration (NULL, TRUE);
  cas_cli_process_stop_all ();
  wait_finished (fx);
  g_assert_cmpuint (cas_cli_process_get_live_count (), ==, 0);
  g_assert_cmpint (cas_cli_process_get_exit_status (run), ==, 128 + SIGKILL);
}

/* A process that left the group (setsid) still holds stdout and stderr
 * after the CLI exits: the run finishes after the grace period anyway,
 * with the lines it got. */
static void
test_pipes_held_outside_the_group (Fixture      *fx,
                                   gconstpointer data)
{
  g_autofree char *script = g_build_filename (fx->dir, "escaping-claude", NULL);
  g_autofree char *pid_file = g_build_filename (fx->dir, "escaped.pid", NULL);
  /* The pid file is written once the sleeper has its own session, out
   * of reach of the group kill that follows the CLI's exit. */
  g_autofree char *text = g_strdup_printf ("#!/bin/sh\n"
                                           "setsid sh -c 'echo $$ > \"$0\"; exec sleep 30' '%s' &\n"
                                           "while [ ! -s '%s' ]; do sleep 0.01; done\n"
                                           "echo '{\"type\":\"system\"}'\n",
                                           pid_file, pid_file);
  const char *argv[] = { script, NULL };
  g_autoptr (CasCliProcess) run = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *escaped = NULL;
  gint64 started;

  g_file_set_contents (script, text, -1, &error);
  g_assert_no_error (error);
  g_chmod (script, 0755);
  run = cas_cli_process_new (argv, fx->dir, NULL);
  cas_cli_process_set_kill_grace (run, 1);
  g_signal_connect (run, "line", G_CALLBACK (on_line), fx);
  g_signal_connect (run, "finished", G_CALLBACK (on_finished), fx);
  started = g_get_monotonic_time ();
  g_assert_true (cas_cli_process_start (run, &error));
  wait_finished (fx);

  g_assert_no_error ((GError *) cas_cli_process_get_error (run));
  g_assert_cmpint (cas_cli_process_get_exit_status (run), ==, 0);
  g_assert_cmpuint (fx->lines->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (fx->lines, 0), ==, "{\"type\":\"system\"}");
  g_assert_cmpuint (cas_cli_process_get_live_count (), ==, 0);

  /* Finished while the pipes were still held, long before the sleeper's
   * 30 s. */
  g_assert_cmpint (g_get_monotonic_time () - started, <, 10 * G_USEC_PER_SEC);
  g_file_get_contents (pid_file, &escaped, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (process_exists (atoi (escaped)));
  kill (atoi (escaped), SIGKILL);
  assert_gone (atoi (escaped));
}

static void
test_garbage_and_huge_lines (Fixture      *fx,
                             gconstpointer data)
{
  g_autoptr (CasCliProcess) run = NULL;
  const char *argv[] = { NULL, "-p", "--output-format=stream-json", "--verbose", NULL };
  g_autoptr (GBytes) input = g_bytes_new_static ("hi", 2);
  g_autoptr (GError) error = NULL;

  set_scenario (fx, "FAKE_CLAUDE_GARBAGE=1\nFAKE_CLAUDE_HUGE_LINE_BYTES=10485760\n");
  argv[0] = fx->claude;
  run = cas_cli_process_new (argv, fx->dir, input);
  cas_cli_process_set_max_line_bytes (run, 1024 * 1024);
  g_signal_connect (run, "line", G_CALLBACK (on_line), fx);
  g_signal_connect (run, "finished", G_CALLBACK (on_finished), fx);
  g_assert_true (cas_cli_process_start (run, &error));
  wait_finished (fx);

  g_assert_no_error ((GError *) cas_cli_process_get_error (run));
  g_assert_cmpuint (cas_cli_process_get_oversized_lines (run), ==, 1);
  /* Every delivered line was valid UTF-8 (checked in on_line), and the
   * reply still arrived after the garbage and the huge line. */
  g_assert_true (g_str_has_prefix (g_ptr_array_index (fx->lines, fx->lines->len - 1),
                                   "{\"type\":\"result\""));
}

static void
test_parent_claude_variables_scrubbed (Fixture      *fx,
                                       gconstpointer data)
{
  g_autoptr (CasCliProcess) run = NULL;
  g_autoptr (JsonObject) entry = NULL;
  JsonObject *env;

  g_setenv ("CLAUDECODE", "1", TRUE);
  g_setenv ("CLAUDE_CODE_ENTRYPOINT", "cli", TRUE);
  run = start_run (fx, "hi", 2, 30);
  wait_finished (fx);
  g_unsetenv ("CLAUDECODE");
  g_unsetenv ("CLAUDE_CODE_ENTRYPOINT");

  entry = last_log_entry (fx);
  env = json_object_get_object_member (entry, "env");
  g_assert_false (json_object_has_member (env, "CLAUDECODE"));
  g_assert_false (json_object_has_member (env, "CLAUDE_CODE_ENTRYPOINT"));
  g_assert_cmpstr (json_object_get_string_member (env, "IS_SANDBOX"), ==, "1");
}

static void
test_root_refusal_in_clear_words (Fixture      *fx,
                                  gconstpointer data)
{
  const char *argv[] = { NULL, "-p", "--output-format=json", "--dangerously-skip-permissions", NULL };
  g_autoptr (GBytes) input = g_bytes_new_static ("hi", 2);
  g_autoptr (CasCliProcess) run = NULL;
  g_autoptr (GError) error = NULL;
  const char *old = g_getenv ("IS_SANDBOX");
  g_autofree char *saved = g_strdup (old);

  if (getuid () != 0)
    {
      /* The CLI only refuses as root; as another user there is nothing
       * to refuse, so check the words directly. */
      g_autofree char *words = cas_cli_describe_exit (1, "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons");

      g_assert_nonnull (strstr (words, "IS_SANDBOX=1"));
      return;
    }

  g_unsetenv ("IS_SANDBOX");
  argv[0] = fx->claude;
  run = cas_cli_process_new (argv, fx->dir, input);
  g_signal_connect (run, "finished", G_CALLBACK (on_finished), fx);
  g_assert_true (cas_cli_process_start (run, &error));
  if (saved != NULL)
    g_setenv ("IS_SANDBOX", saved, TRUE);
  wait_finished (fx);

  g_assert_error ((GError *) cas_cli_process_get_error (run), CAS_ERROR, CAS_ERROR_CLI_FAILED);
  g_assert_nonnull (strstr (cas_cli_process_get_error (run)->message, "IS_SANDBOX=1"));
  g_assert_nonnull (strstr (cas_cli_process_get_error (run)->message, "as root"));
}

static void
test_describe_exit (void)
{
  g_autofree char *plain = cas_cli_describe_exit (2, NULL);
  g_autofree char *empty = cas_cli_describe_exit (2, "");
  g_autofree char *line = cas_cli_describe_exit (1, "No conversation found with session ID: x");

  g_assert_cmpstr (plain, ==, "exit 2");
  g_assert_cmpstr (empty, ==, "exit 2");
  g_assert_cmpstr (line, ==, "exit 1: No conversation found with session ID: x");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/cli-process/large-prompt-on-stdin", test_large_prompt_on_stdin);
  ADD ("/cli-process/no-prompt-closes-stdin", test_no_prompt_closes_stdin);
  ADD ("/cli-process/exit-code-and-stderr", test_exit_code_and_stderr);
  ADD ("/cli-process/not-found", test_not_found);
  ADD ("/cli-process/timeout-kills-everything", test_timeout_kills_everything);
  ADD ("/cli-process/stop", test_stop);
  ADD ("/cli-process/stop-all", test_stop_all);
  ADD ("/cli-process/child-setup", test_child_setup);
  ADD ("/cli-process/missing-directory", test_missing_directory);
  ADD ("/cli-process/long-lived", test_long_lived);
  ADD ("/cli-process/exits-at-once", test_exits_at_once);
  ADD ("/cli-process/pipes-held-outside-the-group", test_pipes_held_outside_the_group);
  ADD ("/cli-process/garbage-and-huge-lines", test_garbage_and_huge_lines);
  ADD ("/cli-process/scrubbed-environment", test_parent_claude_variables_scrubbed);
  ADD ("/cli-process/root-refusal", test_root_refusal_in_clear_words);
#undef ADD
  g_test_add_func ("/cli-process/describe-exit", test_describe_exit);

  return g_test_run ();
}
