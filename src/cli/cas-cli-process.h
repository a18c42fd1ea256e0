/* cas-cli-process.h: one claude child process, from spawn to reaped.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CAS_TYPE_CLI_PROCESS (cas_cli_process_get_type ())
G_DECLARE_FINAL_TYPE (CasCliProcess, cas_cli_process, CAS, CLI_PROCESS, GObject)

/* Signals:
 *  "line" (const char *line, guint64 length): one stdout line, valid UTF-8,
 *    without its newline; emitted the moment it is read.
 *  "finished" (void): stdout is at EOF, the child is reaped and its
 *    process group swept; cas_cli_process_get_error () says how it ended. */

CasCliProcess *cas_cli_process_new (const char * const *argv,
                            const char         *cwd,
                            GBytes             *stdin_bytes);

/* The time the process may run, from its start; on a started one the
 * clock starts again (a long-lived process times each turn). When it
 * runs out the process is stopped and ends with CAS_ERROR_TIMED_OUT. */
void cas_cli_process_set_timeout (CasCliProcess *self,
                                  guint          seconds);
void cas_cli_process_set_kill_grace (CasCliProcess *self,
                                 guint      seconds);
void cas_cli_process_set_max_line_bytes (CasCliProcess *self,
                                     gsize      max_line_bytes);
/* Sets @name to @value in the child's environment (ours, less the
 * scrubbed names and the daemon's secrets); before the start. */
void cas_cli_process_setenv (CasCliProcess *self,
                             const char    *name,
                             const char    *value);

/* Spawns the child: CAS_ERROR_CLI_NOT_FOUND when argv[0] is not found,
 * CAS_ERROR_CLI_FAILED when it cannot start. Call from the main thread:
 * the child's parent-death signal is tied to the spawning thread. */
gboolean cas_cli_process_start (CasCliProcess *self,
                            GError   **error);

/* Long-lived mode: starts a turn with @text as the user's message. Lines
 * are written in order, without blocking; a process that is gone takes
 * nothing. */
void cas_cli_process_send_user_message (CasCliProcess *self,
                                        const char    *text);
/* Long-lived mode: asks the CLI to end the running turn (the interrupt
 * control request); the turn ends with an error_during_execution result
 * and the process stays for the next one. */
void cas_cli_process_interrupt (CasCliProcess *self);
/* No more input: once what is queued is written, stdin is closed and the
 * CLI finishes its turns and exits. */
void cas_cli_process_close_stdin (CasCliProcess *self);

/* A started long-lived process for @argv (with --input-format=stream-json)
 * in @cwd (nullable): stdin stays open, for one stream-json line per turn.
 * NULL with the error of cas_cli_process_start(). */
CasCliProcess *cas_cli_process_start_long_lived (const char * const *argv,
                                                 const char         *cwd,
                                                 guint               kill_grace_seconds,
                                                 gsize               max_line_bytes,
                                                 GError            **error);
/* Ends it gently: stdin closed, so the CLI finishes and exits by itself,
 * and stopped after the grace period if it has not. */
void cas_cli_process_retire (CasCliProcess *self);

/* SIGTERM to the process group, SIGKILL after the grace period. */
void cas_cli_process_stop (CasCliProcess *self);

gboolean cas_cli_process_is_finished (CasCliProcess *self);
/* NULL after a clean exit 0; else timed out, cancelled or "exit N: ...". */
const GError *cas_cli_process_get_error (CasCliProcess *self);
/* Exit status, or 128 + signal number; -1 until finished. */
int cas_cli_process_get_exit_status (CasCliProcess *self);
int cas_cli_process_get_pid (CasCliProcess *self);
/* The first non-empty stderr line, and all of stderr (bounded). */
const char *cas_cli_process_get_stderr_first_line (CasCliProcess *self);
const char *cas_cli_process_get_stderr (CasCliProcess *self);
guint cas_cli_process_get_oversized_lines (CasCliProcess *self);

/* Pure: the words for a failed run, e.g. "exit 1: <stderr line>". */
char *cas_cli_describe_exit (int         exit_status,
                             const char *stderr_first_line);

/* The absolute path @command runs: a path with a '/' if it is an
 * executable file, else the first match on PATH; NULL when none. */
char *cas_cli_resolve_program (const char *command);

/* The CLI's <config>/projects, where it keeps a folder per working
 * directory: our children inherit our environment, so theirs is where we
 * look ($CLAUDE_CONFIG_DIR, else ~/.claude). */
char *cas_cli_projects_dir (void);

/* The environment variables a parent Claude Code session sets, which
 * must not leak into our children (NULL-terminated). */
const char * const *cas_cli_scrubbed_env_names (void);

/* For shutdown: stop every unfinished run, and count them. */
void cas_cli_process_stop_all (void);
guint cas_cli_process_get_live_count (void);

G_END_DECLS
