/* cas-spawn.c: start the CLI in its own process group, tied to our life.
 *
 * Why not GSubprocess alone: with a child-setup function or a working
 * directory GLib forks and stalls the main loop about 2.1 ms per spawn;
 * without them it cannot give the child its own group, a parent-death
 * signal or a directory (aesthetics-anchors 5.2). An exec helper did those
 * steps in between, at the price of a second exec on every request: about
 * 0.4 ms of the time to first token. This does what glibc's posix_spawn
 * does, a vfork-style clone that shares our memory until the exec, plus
 * the two steps posix_spawn has no attribute for (the parent-death signal
 * and closing inherited descriptors).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "cas-spawn"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cas-error.h"
#include "cas-spawn.h"

#define CHILD_STACK_BYTES (64 * 1024)

typedef enum {
  FAILED_AT_SETUP = 1,
  FAILED_AT_CHDIR,
  FAILED_AT_EXEC,
} FailedStep;

typedef struct {
  const char *program;
  char * const *argv;
  char * const *envp;
  const char *cwd;
  const int *stdio_fds;
  pid_t parent;
  int report_fd;           /* close-on-exec: EOF means the exec worked */
} SpawnPlan;

typedef struct {
  int step;                /* FailedStep */
  int errno_value;
} SpawnReport;

/* Runs in the child, on its own stack but in our memory until the exec,
 * while the parent waits (CLONE_VFORK): system calls only, no malloc, no
 * locks, and no sanitizer bookkeeping either. */
__attribute__ ((no_sanitize ("address", "undefined")))
static int
exec_in_child (void *data)
{
  const SpawnPlan *plan = data;
  struct sigaction default_action = { .sa_handler = SIG_DFL };
  SpawnReport report = { FAILED_AT_SETUP, 0 };
  sigset_t none;

  /* Signals are blocked (the parent did it). Our handlers must never run
   * here, and an ignored SIGPIPE would survive the exec: reset both
   * before unblocking. Other ignored signals stay as the service's
   * environment set them. */
  for (int signum = 1; signum < NSIG; signum++)
    {
      struct sigaction current;

      if (signum == SIGKILL || signum == SIGSTOP || sigaction (signum, NULL, &current) != 0)
        continue;
      if (current.sa_handler != SIG_DFL && (current.sa_handler != SIG_IGN || signum == SIGPIPE))
        sigaction (signum, &default_action, NULL);
    }

  /* One group: the daemon's kill (-pgid) reaches the CLI and its helpers.
   * Then die with the daemon, even when it crashes. */
  if (setpgid (0, 0) != 0 || prctl (PR_SET_PDEATHSIG, SIGKILL) != 0)
    goto failed;
  if (getppid () != plan->parent)
    _exit (127);

  for (int fd = 0; fd < 3; fd++)
    if (dup2 (plan->stdio_fds[fd], fd) < 0)
      goto failed;
  if (plan->cwd != NULL && chdir (plan->cwd) != 0)
    {
      report.step = FAILED_AT_CHDIR;
      goto failed;
    }
  /* Ours are close-on-exec already; this catches any a library opened
   * without, and keeps the report pipe open until the exec. */
  close_range (3, ~0U, CLOSE_RANGE_CLOEXEC);

  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  execve (plan->program, plan->argv, plan->envp);
  report.step = FAILED_AT_EXEC;

failed:
  report.errno_value = errno;
  if (write (plan->report_fd, &report, sizeof report) < 0)
    _exit (126);
  _exit (127);
}

gboolean
cas_spawn_open_pipe (int      fds[2],
                     GError **error)
{
  if (pipe2 (fds, O_CLOEXEC) != 0)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CLI_FAILED,
                   "cannot create a pipe: %s", g_strerror (errno));
      return FALSE;
    }
  /* When 0, 1 or 2 was closed, a pipe can land there, and dup2 in the
   * child would clobber it. */
  for (int i = 0; i < 2; i++)
    if (fds[i] <= 2)
      {
        int moved = fcntl (fds[i], F_DUPFD_CLOEXEC, 3);

        if (moved < 0)
          {
            g_set_error (error, CAS_ERROR, CAS_ERROR_CLI_FAILED,
                         "cannot create a pipe: %s", g_strerror (errno));
            close (fds[0]);
            close (fds[1]);
            return FALSE;
          }
        close (fds[i]);
        fds[i] = moved;
      }
  return TRUE;
}

static gboolean
read_report (int          report_fd,
             SpawnReport *report)
{
  gssize n;

  do
    n = read (report_fd, report, sizeof *report);
  while (n < 0 && errno == EINTR);
  return n == sizeof *report;
}

pid_t
cas_spawn_in_new_group (const char        *program,
                        char * const      *argv,
                        char * const      *envp,
                        const char        *cwd,
                        const int          stdio_fds[3],
                        GError           **error)
{
  SpawnPlan plan = {
    .program = program,
    .argv = argv,
    .envp = envp,
    .cwd = cwd,
    .stdio_fds = stdio_fds,
    .parent = getpid (),
  };
  SpawnReport report = { 0, 0 };
  int report_pipe[2];
  sigset_t all, saved;
  void *stack;
  pid_t pid;
  int clone_errno;
  gboolean failed;

  g_return_val_if_fail (program != NULL && g_path_is_absolute (program), -1);
  /* dup2 onto 0..2 must not clobber another of the three. */
  g_return_val_if_fail (stdio_fds[0] > 2 && stdio_fds[1] > 2 && stdio_fds[2] > 2, -1);

  if (!cas_spawn_open_pipe (report_pipe, error))
    return -1;
  plan.report_fd = report_pipe[1];

  stack = mmap (NULL, CHILD_STACK_BYTES, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CLI_FAILED,
                   "cannot start %s: %s", program, g_strerror (errno));
      close (report_pipe[0]);
      close (report_pipe[1]);
      return -1;
    }

  /* No handler of ours may run in the child while it shares our memory. */
  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &saved);
  pid = clone (exec_in_child, (char *) stack + CHILD_STACK_BYTES,
               CLONE_VM | CLONE_VFORK | SIGCHLD, &plan);
  clone_errno = errno;
  pthread_sigmask (SIG_SETMASK, &saved, NULL);
  munmap (stack, CHILD_STACK_BYTES);
  close (report_pipe[1]);

  if (pid < 0)
    {
      close (report_pipe[0]);
      g_set_error (error, CAS_ERROR, CAS_ERROR_CLI_FAILED,
                   "cannot start %s: %s", program, g_strerror (clone_errno));
      return -1;
    }

  /* By now the child has exec'd or given up (CLONE_VFORK), so this read
   * does not wait. A pipe, not shared memory, because valgrind runs a
   * vfork-style clone as a plain fork. */
  failed = read_report (report_pipe[0], &report);
  close (report_pipe[0]);
  if (!failed)
    return pid;
  while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
    ;
  if (report.step == FAILED_AT_CHDIR)
    g_set_error (error, CAS_ERROR, CAS_ERROR_CLI_FAILED, "cannot enter %s: %s",
                 cwd, g_strerror (report.errno_value));
  else
    g_set_error (error, CAS_ERROR, CAS_ERROR_CLI_FAILED, "cannot start %s: %s",
                 program, g_strerror (report.errno_value));
  return -1;
}
