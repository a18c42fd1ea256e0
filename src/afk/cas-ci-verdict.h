/* cas-ci-verdict.h: the CI verdict of a pushed commit, folded from its
 * stages (GitHub check runs, the Woodpecker pipeline, the rollout check).
 * Pure: no I/O.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What one stage says about a commit, and the folded verdict (which is
 * only ever PENDING, GREEN or RED).
 *
 * NONE: the stage exists but has nothing for the commit yet (no check run,
 *   no pipeline): it counts as pending.
 * SKIPPED: the stage is not there for this repository (Woodpecker or the
 *   rollout command not configured; no GitHub check runs while a later
 *   stage is configured): it neither passes nor holds the verdict back.
 *
 * The values and their strings are stable: run records store them. */
typedef enum {
  CAS_CI_VERDICT_NONE,
  CAS_CI_VERDICT_PENDING,
  CAS_CI_VERDICT_GREEN,
  CAS_CI_VERDICT_RED,
  CAS_CI_VERDICT_SKIPPED,
} CasCiVerdict;

#define CAS_CI_VERDICT_LAST CAS_CI_VERDICT_SKIPPED

/* "none", "pending", "green", "red", "skipped"; "unknown" out of range. */
const char *cas_ci_verdict_to_string (CasCiVerdict verdict);
/* The reverse; FALSE (and *verdict untouched) for anything else. */
gboolean cas_ci_verdict_from_string (const char   *text,
                                     CasCiVerdict *verdict);

/* One GitHub check run as GET /repos/{o}/{r}/commits/{sha}/check-runs
 * gives it: status queued|in_progress|completed|waiting|requested|pending,
 * conclusion (nullable) success|failure|neutral|cancelled|skipped|
 * timed_out|action_required|stale|startup_failure. Strings are borrowed. */
typedef struct {
  const char *name;        /* (nullable) */
  const char *status;      /* (nullable) */
  const char *conclusion;  /* (nullable) */
} CasCiCheckRun;

/* One run: RED when it completed with failure, timed_out, cancelled,
 * action_required, startup_failure or stale (GitHub gave up on it);
 * GREEN when it completed with success, neutral or skipped; PENDING for
 * anything not completed and for a completed run with no or an unknown
 * conclusion (never a false GREEN, never a fix-forward for a word we do
 * not know). */
CasCiVerdict cas_ci_verdict_from_check_run (const CasCiCheckRun *run);

/* The GitHub stage from every check run of the commit (all pages, up to
 * the response's total_count: a run left out could be the failing one;
 * a caller that could not read them all should count the stage PENDING
 * unless a run it has is red): RED if any run is
 * red (a failed run is final, whatever the others still do), else PENDING
 * if any is pending, else GREEN. Zero runs: SKIPPED when
 * @later_stage_configured (a repository without GitHub CI goes green on
 * its Woodpecker pipeline or rollout check alone), else NONE (GitHub is
 * the only stage, and its runs have not appeared yet).
 *
 * The race this accepts: right after a push, before GitHub has created
 * the check runs of a repository that has them, zero runs read as
 * SKIPPED; the verdict then rests on the later stage, which is normally
 * still running at that time.
 *
 * @deciding_run (nullable) is set to the index of the run that decided a
 * RED or PENDING verdict (the first such run), else to @n_runs. */
CasCiVerdict cas_ci_verdict_from_check_runs (const CasCiCheckRun *runs,
                                             gsize                n_runs,
                                             gboolean             later_stage_configured,
                                             gsize               *deciding_run);

/* A Woodpecker pipeline status (server/model StatusValue): success and
 * skipped GREEN; failure, error, killed and declined RED (declined: a
 * person refused to run it, it never will); pending, running and blocked
 * (waiting for approval) PENDING; NULL (no pipeline for the commit) NONE;
 * any other word PENDING. */
CasCiVerdict cas_ci_verdict_from_woodpecker_status (const char *status);

/* The rollout command's exit status: 0 GREEN, this one PENDING (EX_TEMPFAIL:
 * "not rolled out yet, ask again"), anything else RED. */
#define CAS_CI_ROLLOUT_EXIT_PENDING 75
CasCiVerdict cas_ci_verdict_from_rollout_exit (int exit_status);

/* Whether a stage's verdict decides the whole one (RED, PENDING, NONE),
 * so that the later stages need not be asked: the loop queries the
 * stages in order and stops at the first that decides. */
gboolean cas_ci_verdict_is_decisive (CasCiVerdict stage);

/* Folds @stages, in order (GitHub, Woodpecker, rollout): the first RED
 * stage makes it RED and the first NONE or PENDING one PENDING, and that
 * stage decides (later stages are not looked at, as they are not
 * queried: a pending build is not failed by a deploy that ran without
 * it); GREEN only when every stage that is there succeeded and at least
 * one is there (all SKIPPED is PENDING: nothing has vouched for the
 * commit). @deciding_stage (nullable) gets the index of the stage that
 * decided, or @n_stages when none did. Values out of range count as
 * PENDING. */
CasCiVerdict cas_ci_verdict_fold (const CasCiVerdict *stages,
                                  gsize               n_stages,
                                  gsize              *deciding_stage);

G_END_DECLS
