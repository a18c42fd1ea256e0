/* cas-spawn.h: start the CLI in its own process group, tied to our life.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* A close-on-exec pipe whose ends are both above 2. */
gboolean cas_spawn_open_pipe (int      fds[2],
                              GError **error);

/* Starts @program (an absolute path) with @argv and @envp, in @cwd
 * (NULL: ours), with @stdio_fds as its descriptors 0, 1 and 2 and no
 * other descriptor. The child leads a new process group, gets SIGKILL
 * when the calling thread dies, and starts with every signal unblocked
 * and at its default action (SIGPIPE too).
 *
 * Returns the child's pid, or -1 with @error set when @cwd cannot be
 * entered or @program cannot be run. Call from the main thread: the
 * parent-death signal follows the thread that spawned. */
pid_t cas_spawn_in_new_group (const char        *program,
                              char * const      *argv,
                              char * const      *envp,
                              const char        *cwd,
                              const int          stdio_fds[3],
                              GError           **error);

G_END_DECLS
