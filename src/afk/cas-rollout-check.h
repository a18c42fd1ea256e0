/* cas-rollout-check.h: the optional last CI stage, `[ci] rollout-command`,
 * run for one pushed commit.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "cas-ci-verdict.h"

G_BEGIN_DECLS

#define CAS_ROLLOUT_CHECK_DEFAULT_TIMEOUT_SECONDS 300
/* How many of the last lines of stdout, and of stderr, a result keeps. */
#define CAS_ROLLOUT_CHECK_TAIL_LINES 10

/* What one run of the command said. */
typedef struct {
  CasCiVerdict verdict;   /* GREEN, PENDING or RED; SKIPPED when not configured */
  int exit_status;        /* or 128 + signal; -1 when timed out or not run */
  gboolean timed_out;     /* killed at the timeout: RED */
  char *summary;          /* (owned) one line for the checklist: "exit 1", ... */
  char *stdout_tail;      /* (owned) the last lines of stdout, "" when none */
  char *stderr_tail;      /* (owned) the last lines of stderr, "" when none */
} CasRolloutOutcome;

void cas_rollout_outcome_free (CasRolloutOutcome *outcome);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasRolloutOutcome, cas_rollout_outcome_free)

#define CAS_TYPE_ROLLOUT_CHECK (cas_rollout_check_get_type ())
G_DECLARE_FINAL_TYPE (CasRolloutCheck, cas_rollout_check, CAS, ROLLOUT_CHECK, GObject)

/* @command is `[ci] rollout-command`, split with g_shell_parse_argv
 * (quotes, no shell: no pipes, variables or globs); NULL or blank means no
 * rollout stage. CAS_ERROR_CONFIG when it does not parse. A @timeout_seconds
 * of 0 takes the default. */
CasRolloutCheck *cas_rollout_check_new (const char *command,
                                        guint       timeout_seconds,
                                        GError    **error);

/* Whether a command is set; without one every run gives SKIPPED. */
gboolean cas_rollout_check_is_configured (CasRolloutCheck *self);

/* Runs the command once for @commit of @repository (owner/name), which it
 * gets as AFK_COMMIT and AFK_REPOSITORY in its environment, never in its
 * argv; in its own process group, through the exec helper, killed (the
 * whole group) at the timeout. Exit 0 is GREEN, 75 (EX_TEMPFAIL) PENDING,
 * anything else and a timeout RED. Call from the main thread. */
void cas_rollout_check_run_async (CasRolloutCheck     *self,
                                  const char          *repository,
                                  const char          *commit,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
/* The outcome, or NULL with CAS_ERROR_INVALID_ARGUMENT (a bad repository
 * or commit), CAS_ERROR_CONFIG (the program is not there or cannot
 * start) or CAS_ERROR_CANCELLED (the command is then stopped). */
CasRolloutOutcome *cas_rollout_check_run_finish (CasRolloutCheck *self,
                                                 GAsyncResult    *result,
                                                 GError         **error);

/* Pure: the last @max_lines non-empty lines of @text (at most @max_bytes,
 * cut at a character boundary from the front), joined by '\n'. */
char *cas_rollout_check_tail_lines (const char *text,
                                    guint       max_lines,
                                    gsize       max_bytes);

G_END_DECLS
