/* claude-agent-service-spawn: the few steps between fork and exec that
 * claude needs, done in the child so the daemon can spawn through
 * posix_spawn.
 *
 * With a child-setup function or a working directory GLib forks, closes
 * every descriptor and waits for the exec: about 2.1 ms per spawn on our
 * machines, with the main loop (and every other stream) standing still.
 * Without them it takes its posix_spawn path (about 0.3 ms). So the daemon
 * starts this helper that way, and the helper puts itself in its own
 * process group, ties its life to the daemon, enters the directory,
 * closes inherited descriptors and becomes the CLI.
 *
 * Usage: claude-agent-service-spawn PARENT-PID DIRECTORY|- PROGRAM [ARG...]
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define EXIT_SPAWN_FAILED 127

int
main (int   argc,
      char *argv[])
{
  sigset_t none;
  char *end = NULL;
  long parent;

  if (argc < 4)
    {
      fprintf (stderr, "usage: %s PARENT-PID DIRECTORY|- PROGRAM [ARG...]\n", argv[0]);
      return EXIT_SPAWN_FAILED;
    }
  parent = strtol (argv[1], &end, 10);
  if (*argv[1] == '\0' || *end != '\0' || parent <= 1)
    {
      fprintf (stderr, "%s: bad parent pid %s\n", argv[0], argv[1]);
      return EXIT_SPAWN_FAILED;
    }

  /* One group: the daemon's kill (-pgid) reaches the CLI and its helpers. */
  setpgid (0, 0);
  /* Die with the daemon, even when it crashes; survives the exec below. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () != (pid_t) parent)
    return EXIT_SPAWN_FAILED;

  /* Undo what the daemon set for itself. */
  signal (SIGPIPE, SIG_DFL);
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  /* The daemon's own descriptors are close-on-exec; this catches any that
   * a library opened without it. */
  close_range (3, ~0U, 0);

  if (strcmp (argv[2], "-") != 0 && chdir (argv[2]) != 0)
    {
      fprintf (stderr, "cannot enter %s: %s\n", argv[2], strerror (errno));
      return EXIT_SPAWN_FAILED;
    }

  execv (argv[3], argv + 3);
  fprintf (stderr, "cannot run %s: %s\n", argv[3], strerror (errno));
  return EXIT_SPAWN_FAILED;
}
