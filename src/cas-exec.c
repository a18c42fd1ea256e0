/* cas-exec.c: the few steps between the daemon and a claude child.
 *
 *   claude-agent-service-exec PARENT_PID CWD PROGRAM [ARG...]
 *
 * The daemon starts this through GSubprocess with no child-setup
 * function and no working directory, so that GLib takes its posix_spawn
 * (vfork) path: a fork would make the daemon take a copy-on-write fault
 * on every page it writes afterwards. Here, in the child's own process:
 * its own process group (so a stop reaches every helper it starts), death
 * with the daemon, default SIGPIPE and an empty signal mask, no descriptor
 * but its pipes (GLib's posix_spawn path leaves the daemon's open ones to
 * the child), the working directory (CWD, or "" for none), then exec.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
  sigset_t none;
  long parent;

  if (argc < 4)
    {
      fprintf (stderr, "usage: %s PARENT_PID CWD PROGRAM [ARG...]\n", argv[0]);
      return 127;
    }
  parent = strtol (argv[1], NULL, 10);
  setpgid (0, 0);
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  /* The daemon may have died before the line above. */
  if (getppid () != (pid_t) parent)
    return 127;
  /* The daemon ignores SIGPIPE; an ignored signal stays ignored across
   * exec, and the CLI's tools expect the default. */
  signal (SIGPIPE, SIG_DFL);
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  if (syscall (SYS_close_range, 3U, ~0U, 0U) != 0)
    for (long fd = 3, max = sysconf (_SC_OPEN_MAX); fd < max; fd++)
      close ((int) fd);
  if (argv[2][0] != '\0' && chdir (argv[2]) != 0)
    {
      fprintf (stderr, "cannot change to %s: %s\n", argv[2], strerror (errno));
      return 127;
    }
  execv (argv[3], argv + 3);
  fprintf (stderr, "cannot run %s: %s\n", argv[3], strerror (errno));
  return 127;
}
