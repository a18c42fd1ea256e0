/* cas_spawn_in_new_group: what the child starts with, and clear errors
 * with nothing left behind when it cannot start. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cas-error.h"
#include "cas-spawn.h"

typedef struct {
  int status;
  char *out;
  char *err;
} Result;

static void
result_clear (Result *result)
{
  g_free (result->out);
  g_free (result->err);
}

static char *
read_all (int fd)
{
  GString *text = g_string_new (NULL);
  char buffer[4096];
  gssize n;

  while ((n = read (fd, buffer, sizeof buffer)) > 0)
    g_string_append_len (text, buffer, n);
  close (fd);
  return g_string_free (text, FALSE);
}

/* Runs /bin/sh -c @script in @cwd, feeding @input, to the end. */
static pid_t
run_script (const char *script,
            const char *cwd,
            const char *input,
            Result     *result,
            GError    **error)
{
  char *argv[] = { "/bin/sh", "-c", (char *) script, NULL };
  char *envp[] = { "LC_ALL=C", "PATH=/usr/bin:/bin", NULL };
  int in[2], out[2], err[2];
  int child_fds[3];
  pid_t pid;

  g_assert_true (cas_spawn_open_pipe (in, NULL));
  g_assert_true (cas_spawn_open_pipe (out, NULL));
  g_assert_true (cas_spawn_open_pipe (err, NULL));
  child_fds[0] = in[0];
  child_fds[1] = out[1];
  child_fds[2] = err[1];
  pid = cas_spawn_in_new_group (argv[0], argv, envp, cwd, child_fds, error);
  close (in[0]);
  close (out[1]);
  close (err[1]);
  if (input != NULL)
    g_assert_cmpint (write (in[1], input, strlen (input)), ==, strlen (input));
  close (in[1]);
  result->out = read_all (out[0]);
  result->err = read_all (err[0]);
  if (pid > 0)
    g_assert_cmpint (waitpid (pid, &result->status, 0), ==, pid);
  return pid;
}

static guint64
status_mask (const char *status_text,
             const char *field)
{
  g_autofree char *key = g_strdup_printf ("%s:\t", field);
  const char *at = strstr (status_text, key);

  g_assert_nonnull (at);
  return g_ascii_strtoull (at + strlen (key), NULL, 16);
}

static void
on_usr1 (int signum)
{
}

static void
test_child_starts_clean (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("cas-spawn-XXXXXX", NULL);
  g_autofree char *real_dir = realpath (dir, NULL);
  g_auto (GStrv) parts = NULL;
  g_autofree char *leftover = NULL;
  sigset_t before, after;
  Result result = { 0 };
  pid_t pid;
  /* A descriptor the daemon forgot to mark close-on-exec. */
  int stray = open ("/dev/null", O_RDONLY);

  /* What a daemon has: SIGPIPE ignored, a handler, a blocked signal. */
  signal (SIGPIPE, SIG_IGN);
  signal (SIGHUP, SIG_IGN);
  signal (SIGUSR1, on_usr1);
  sigemptyset (&before);
  sigaddset (&before, SIGUSR2);
  sigprocmask (SIG_BLOCK, &before, NULL);
  sigprocmask (SIG_BLOCK, NULL, &before);

  pid = run_script ("read line; echo \"$line\"; echo $$; cut -d' ' -f5 /proc/$$/stat; pwd; "
                    "for fd in $(seq 3 64); do [ -e /proc/$$/fd/$fd ] && printf '%s ' $fd; done; echo; "
                    "echo oops >&2; "
                    "exec cat /proc/self/status",
                    dir, "Здравей\n", &result, &error);
  g_assert_no_error (error);
  g_assert_cmpint (pid, >, 0);
  g_assert_true (WIFEXITED (result.status));
  g_assert_cmpint (WEXITSTATUS (result.status), ==, 0);
  g_assert_cmpstr (result.err, ==, "oops\n");

  parts = g_strsplit (result.out, "\n", 6);
  g_assert_cmpuint (g_strv_length (parts), ==, 6);
  g_assert_cmpstr (parts[0], ==, "Здравей");
  /* Its own process group, led by itself. */
  g_assert_cmpint (atoi (parts[1]), ==, pid);
  g_assert_cmpint (atoi (parts[2]), ==, pid);
  g_assert_cmpstr (parts[3], ==, real_dir);
  /* Nothing past stdio: not the stray descriptor, nor our pipe ends. */
  g_assert_cmpint (stray, <, 64);
  g_assert_cmpstr (parts[4], ==, "");
  /* Read by cat exec'd in the same process (the shell blocks signals
   * for a moment around each fork): nothing blocked, SIGPIPE back to
   * default, SIGHUP left ignored, no handlers of ours. */
  g_assert_cmphex (status_mask (parts[5], "SigBlk"), ==, 0);
  g_assert_cmphex (status_mask (parts[5], "SigIgn") & (1u << (SIGPIPE - 1)), ==, 0);
  g_assert_cmphex (status_mask (parts[5], "SigIgn") & (1u << (SIGHUP - 1)), !=, 0);
  g_assert_cmphex (status_mask (parts[5], "SigCgt") & (1u << (SIGUSR1 - 1)), ==, 0);

  /* The caller's own mask and dispositions are as they were. */
  sigprocmask (SIG_BLOCK, NULL, &after);
  g_assert_true (sigismember (&after, SIGUSR2));
  g_assert_false (sigismember (&after, SIGCHLD));
  g_assert_true (signal (SIGPIPE, SIG_IGN) == SIG_IGN);
  g_assert_true (signal (SIGUSR1, on_usr1) == on_usr1);

  close (stray);
  g_rmdir (dir);
  result_clear (&result);
}

static void
assert_no_child_left (void)
{
  errno = 0;
  g_assert_cmpint (waitpid (-1, NULL, WNOHANG), ==, -1);
  g_assert_cmpint (errno, ==, ECHILD);
}

static void
test_missing_directory (void)
{
  g_autoptr (GError) error = NULL;
  Result result = { 0 };

  g_assert_cmpint (run_script ("echo ran", "/nonexistent/cas-spawn", NULL, &result, &error), ==, -1);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CLI_FAILED);
  g_assert_cmpstr (error->message, ==, "cannot enter /nonexistent/cas-spawn: No such file or directory");
  g_assert_cmpstr (result.out, ==, "");
  assert_no_child_left ();
  result_clear (&result);
}

static void
test_program_that_cannot_run (void)
{
  g_autofree char *dir = g_dir_make_tmp ("cas-spawn-XXXXXX", NULL);
  g_autofree char *not_executable = g_build_filename (dir, "plain", NULL);
  g_autofree char *garbage = g_build_filename (dir, "garbage", NULL);
  const char *programs[] = { "/nonexistent/claude", "/tmp", not_executable, garbage };
  const char *reasons[] = { "No such file or directory", "Permission denied",
                            "Permission denied", "Exec format error" };

  g_assert_true (g_file_set_contents (not_executable, "#!/bin/sh\n", -1, NULL));
  g_assert_true (g_file_set_contents (garbage, "\x7f" "ELF garbage", -1, NULL));
  g_assert_cmpint (g_chmod (garbage, 0755), ==, 0);

  for (guint i = 0; i < G_N_ELEMENTS (programs); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *expected = g_strdup_printf ("cannot start %s: %s", programs[i], reasons[i]);
      char *argv[] = { (char *) programs[i], NULL };
      char *envp[] = { NULL };
      int in[2], out[2];
      int child_fds[3];

      g_assert_true (cas_spawn_open_pipe (in, NULL));
      g_assert_true (cas_spawn_open_pipe (out, NULL));
      child_fds[0] = in[0];
      child_fds[1] = out[1];
      child_fds[2] = out[1];
      g_assert_cmpint (cas_spawn_in_new_group (programs[i], argv, envp, NULL, child_fds, &error), ==, -1);
      g_assert_error (error, CAS_ERROR, CAS_ERROR_CLI_FAILED);
      g_assert_cmpstr (error->message, ==, expected);
      assert_no_child_left ();
      close (in[0]);
      close (in[1]);
      close (out[0]);
      close (out[1]);
    }
  g_unlink (not_executable);
  g_unlink (garbage);
  g_rmdir (dir);
}

static void
test_pipes_stay_above_stdio (void)
{
  int saved = dup (0);
  int fds[2];

  /* With stdin closed a plain pipe would take descriptor 0. */
  close (0);
  g_assert_true (cas_spawn_open_pipe (fds, NULL));
  g_assert_cmpint (fds[0], >, 2);
  g_assert_cmpint (fds[1], >, 2);
  g_assert_cmpint (fcntl (fds[0], F_GETFD), ==, FD_CLOEXEC);
  g_assert_cmpint (fcntl (fds[1], F_GETFD), ==, FD_CLOEXEC);
  g_assert_cmpint (fcntl (0, F_GETFD), ==, -1);
  close (fds[0]);
  close (fds[1]);
  g_assert_cmpint (dup2 (saved, 0), ==, 0);
  close (saved);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/spawn/child-starts-clean", test_child_starts_clean);
  g_test_add_func ("/spawn/missing-directory", test_missing_directory);
  g_test_add_func ("/spawn/program-that-cannot-run", test_program_that_cannot_run);
  g_test_add_func ("/spawn/pipes-stay-above-stdio", test_pipes_stay_above_stdio);
  return g_test_run ();
}
