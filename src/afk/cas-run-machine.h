/* cas-run-machine.h: what a watched AFK run does next, as a pure function.
 *
 * The loop gathers what T3 and GitHub say about a run (a
 * CasRunObservation), calls cas_run_machine_step () and gets the run's
 * next state and the actions that lead there. The table is
 * mission-anchors.md 4.6's, with SPEC 6 winning:
 *
 *   terminal run                    ring its doorbell if it has not, else nothing
 *   pushed, CI green                done: checklist, close issue, unlabel, drop lock, ring
 *   not pushed, thread gone         needs-human (thread-missing)
 *   pending user input / approval   needs-human (the agent is stuck)
 *   pushed, CI red                  the fix-forward clock starts (first red only);
 *     time from first red >= max      frozen (fix-forward-time)
 *     thread gone                     frozen (thread-missing)
 *     our turn busy or unknown        wait (never steer a running turn)
 *     attempts >= max                 frozen (fix-forward-attempts)
 *     else                            start a fix-forward turn, attempts + 1
 *   pushed, CI pending or unknown   wait
 *   not pushed, turn completed      needs-human (stalled)
 *   not pushed, turn error/interr.  needs-human (turn-failed)
 *     or never started
 *   otherwise                       wait
 *
 * Every terminal state drops the repo lock (the in-progress label and the
 * run store's); done closes the issue, needs-human and frozen hand it to
 * a person with the ready-for-human label (a frozen run leaves its broken
 * commit). A run not yet labelled in-progress gets the label first.
 *
 * "Our turn" follows t3-contract.md 5.2: T3 mints turn ids, so ours is
 * the first latestTurn.turnId different from the one seen when we started
 * it; it is over when its state is completed, interrupted or error and the
 * session no longer works on it; a session in error before any new turn
 * appears (for longer than CAS_RUN_STALE_SESSION_GRACE_SECONDS), or no new
 * turn within turn_start_timeout_seconds, is a turn that failed to start;
 * an unknown state means wait.
 *
 * How the loop uses a decision: it does the actions in order and stops at
 * the first that fails, keeping the old run (the next tick decides again);
 * when all succeed it saves decision->next. Every action can be repeated
 * safely except START_FIX_FORWARD_TURN and RING_DOORBELL, which come last:
 * save the run as soon as one of them succeeded. A run rings once: the
 * machine never asks for a doorbell on a run whose doorbell_rung is set.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-afk-parse.h"
#include "cas-run.h"

G_BEGIN_DECLS

typedef enum {
  CAS_AFK_THREAD_UNKNOWN,   /* T3 could not be asked this tick: wait */
  CAS_AFK_THREAD_MISSING,   /* T3 answered, and the thread is not there */
  CAS_AFK_THREAD_PRESENT,
} CasAfkThreadPresence;

typedef struct {
  /* T3, from /shell (or /snapshot and the thread's activities). */
  CasAfkThreadPresence thread;
  const char *latest_turn_id;          /* (nullable) latestTurn.turnId */
  CasAfkTurnState latest_turn_state;
  CasAfkSessionStatus session_status;
  const char *session_active_turn_id;  /* (nullable) */
  gboolean pending_user_input;
  gboolean pending_approval;

  /* GitHub: the newest commit on the default branch since dispatch whose
   * message has our AFK-Issue trailer (NULL: none, or not known this
   * tick), and the CI verdict folded for that very commit
   * (cas_ci_verdict_fold: PENDING, GREEN or RED; NONE when CI could not
   * be asked this tick). Only GREEN and RED move the run. */
  const char *pushed_sha;
  CasCiVerdict ci;

  gint64 now_us;
} CasRunObservation;

typedef struct {
  guint fix_forward_max_attempts;
  guint fix_forward_max_seconds;   /* from the first red CI */
  /* A turn we started that T3 still does not show after this long has
   * failed (needs-human before a push); 0: wait for it forever. Neither
   * the seed nor SPEC has such a limit; a T3 restart can drop a pending
   * turn start, and without one the run would hold its repo for good. */
  guint turn_start_timeout_seconds;
} CasRunLimits;

/* A session in error before our new turn appears is only believed after
 * this long: just after thread.turn.start T3 may still show the error
 * of the turn before (the session moves to "starting" asynchronously). */
#define CAS_RUN_STALE_SESSION_GRACE_SECONDS 120

typedef enum {
  /* Add the in-progress label (a run not yet labelled). */
  CAS_RUN_ACTION_LABEL_IN_PROGRESS,
  /* Write the checklist comment (create it when checklist_comment_id is
   * 0, then store the id in next) from decision->next. */
  CAS_RUN_ACTION_EDIT_CHECKLIST,
  /* Close the issue (done). */
  CAS_RUN_ACTION_CLOSE_ISSUE,
  /* Remove the in-progress label (done). */
  CAS_RUN_ACTION_REMOVE_IN_PROGRESS_LABEL,
  /* Remove the in-progress and ready labels, add ready-for-human: the
   * issue is not dispatched again until a person puts the ready label
   * back (needs-human, frozen). */
  CAS_RUN_ACTION_RELABEL_READY_FOR_HUMAN,
  /* Release the run store's lock on the repo. */
  CAS_RUN_ACTION_DROP_LOCK,
  /* thread.turn.start on the run's own thread, telling the agent CI is
   * red on next->fix_sha; next->prev_turn_id is the turn to wait past. */
  CAS_RUN_ACTION_START_FIX_FORWARD_TURN,
  /* Ring (queue in the outbox) the doorbell of kind next->phase: done,
   * needs-human or frozen, with next->reason. */
  CAS_RUN_ACTION_RING_DOORBELL,
} CasRunAction;

/* "label-in-progress", "edit-checklist", "close-issue",
 * "remove-in-progress-label", "relabel-ready-for-human", "drop-lock",
 * "start-fix-forward-turn", "ring-doorbell". */
const char *cas_run_action_to_string (CasRunAction action);

typedef struct {
  CasRun *next;        /* (owned) the run after the actions */
  GArray *actions;     /* (element-type CasRunAction) in order */
} CasRunDecision;

void cas_run_decision_free (CasRunDecision *decision);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasRunDecision, cas_run_decision_free)

gboolean cas_run_decision_has (const CasRunDecision *decision,
                               CasRunAction          action);
/* "edit-checklist,close-issue,...": for logs and tests. */
char *cas_run_decision_describe (const CasRunDecision *decision);

/* Never NULL. @run is not changed. */
CasRunDecision *cas_run_machine_step (const CasRun              *run,
                                      const CasRunObservation   *observation,
                                      const CasRunLimits        *limits);

G_END_DECLS
