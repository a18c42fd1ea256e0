/* cas-run-machine.c: the AFK run state machine (the table is in the
 * header).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-afk"

#include "config.h"

#include <string.h>

#include "cas-run-machine.h"

static const char *const action_names[] = {
  [CAS_RUN_ACTION_LABEL_IN_PROGRESS] = "label-in-progress",
  [CAS_RUN_ACTION_EDIT_CHECKLIST] = "edit-checklist",
  [CAS_RUN_ACTION_CLOSE_ISSUE] = "close-issue",
  [CAS_RUN_ACTION_REMOVE_IN_PROGRESS_LABEL] = "remove-in-progress-label",
  [CAS_RUN_ACTION_RELABEL_READY_FOR_HUMAN] = "relabel-ready-for-human",
  [CAS_RUN_ACTION_DROP_LOCK] = "drop-lock",
  [CAS_RUN_ACTION_START_FIX_FORWARD_TURN] = "start-fix-forward-turn",
  [CAS_RUN_ACTION_RING_DOORBELL] = "ring-doorbell",
};

const char *
cas_run_action_to_string (CasRunAction action)
{
  if ((guint) action >= G_N_ELEMENTS (action_names))
    return "unknown";
  return action_names[action];
}

void
cas_run_decision_free (CasRunDecision *decision)
{
  if (decision == NULL)
    return;
  cas_run_free (decision->next);
  g_array_unref (decision->actions);
  g_free (decision);
}

gboolean
cas_run_decision_has (const CasRunDecision *decision,
                      CasRunAction          action)
{
  for (guint i = 0; i < decision->actions->len; i++)
    if (g_array_index (decision->actions, CasRunAction, i) == action)
      return TRUE;
  return FALSE;
}

char *
cas_run_decision_describe (const CasRunDecision *decision)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < decision->actions->len; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      g_string_append (out, cas_run_action_to_string (g_array_index (decision->actions,
                                                                     CasRunAction, i)));
    }
  return g_string_free (out, FALSE);
}

/* Where our current turn is, from what T3 shows. */
typedef enum {
  TURN_UNKNOWN,   /* nothing to go by: wait */
  TURN_BUSY,      /* not started yet, or working */
  TURN_ENDED,     /* completed */
  TURN_FAILED,    /* error, interrupted, or never started */
} TurnStatus;

static gboolean
session_is_busy_with (const CasRunObservation *obs,
                      const char              *turn_id)
{
  if (obs->session_status != CAS_AFK_SESSION_STARTING &&
      obs->session_status != CAS_AFK_SESSION_RUNNING)
    return FALSE;
  return obs->session_active_turn_id == NULL ||
         g_strcmp0 (obs->session_active_turn_id, turn_id) == 0;
}

static gboolean
session_is_dead (const CasRunObservation *obs)
{
  return obs->session_status == CAS_AFK_SESSION_ERROR ||
         obs->session_status == CAS_AFK_SESSION_STOPPED ||
         obs->session_status == CAS_AFK_SESSION_INTERRUPTED;
}

/* @run has already adopted a new turn id if T3 shows one. */
static TurnStatus
turn_status (const CasRun            *run,
             const CasRunObservation *obs,
             const CasRunLimits      *limits)
{
  if (obs->thread != CAS_AFK_THREAD_PRESENT)
    return TURN_UNKNOWN;
  if (run->turn_id == NULL)
    {
      /* Not visible yet. A session in error (once it cannot be the turn
       * before's) means the provider could not start it, and it never
       * will; so does a turn that takes too long to appear. */
      gint64 waited_us = obs->now_us - run->turn_started_us;

      if (obs->session_status == CAS_AFK_SESSION_ERROR &&
          waited_us >= CAS_RUN_STALE_SESSION_GRACE_SECONDS * G_USEC_PER_SEC)
        return TURN_FAILED;
      if (limits->turn_start_timeout_seconds > 0 &&
          waited_us >= (gint64) limits->turn_start_timeout_seconds * G_USEC_PER_SEC)
        return TURN_FAILED;
      return TURN_BUSY;
    }

  /* The latest turn (ours, or a newer one a person started) is what the
   * thread is doing. */
  switch (obs->latest_turn_state)
    {
    case CAS_AFK_TURN_RUNNING:
      /* T3 0.0.27 leaves a turn "running" when its session dies. */
      return session_is_dead (obs) ? TURN_FAILED : TURN_BUSY;
    case CAS_AFK_TURN_COMPLETED:
      return session_is_busy_with (obs, obs->latest_turn_id) ? TURN_BUSY : TURN_ENDED;
    case CAS_AFK_TURN_INTERRUPTED:
    case CAS_AFK_TURN_ERROR:
      return session_is_busy_with (obs, obs->latest_turn_id) ? TURN_BUSY : TURN_FAILED;
    case CAS_AFK_TURN_UNKNOWN:
    default:
      return TURN_UNKNOWN;
    }
}

static void
add (CasRunDecision *decision,
     CasRunAction    action)
{
  g_array_append_val (decision->actions, action);
}

static void
ring (CasRunDecision *decision)
{
  add (decision, CAS_RUN_ACTION_RING_DOORBELL);
  decision->next->doorbell_rung = TRUE;
}

/* The run ends: the actions of its terminal state, in order. */
static void
finish (CasRunDecision *decision,
        CasRunPhase     phase,
        CasRunReason    reason,
        gint64          now_us)
{
  CasRun *next = decision->next;

  next->phase = phase;
  next->reason = phase == CAS_RUN_PHASE_DONE ? CAS_RUN_REASON_NONE : reason;
  next->finished_us = now_us;
  next->updated_us = now_us;
  next->labelled = FALSE;

  /* No point labelling an issue in the step that unlabels it. */
  for (guint i = decision->actions->len; i > 0; i--)
    if (g_array_index (decision->actions, CasRunAction, i - 1) == CAS_RUN_ACTION_LABEL_IN_PROGRESS)
      g_array_remove_index (decision->actions, i - 1);
  add (decision, CAS_RUN_ACTION_EDIT_CHECKLIST);
  if (phase == CAS_RUN_PHASE_DONE)
    {
      add (decision, CAS_RUN_ACTION_CLOSE_ISSUE);
      add (decision, CAS_RUN_ACTION_REMOVE_IN_PROGRESS_LABEL);
    }
  else
    add (decision, CAS_RUN_ACTION_RELABEL_READY_FOR_HUMAN);
  add (decision, CAS_RUN_ACTION_DROP_LOCK);
  ring (decision);
}

static void
start_fix_forward (CasRunDecision          *decision,
                   const CasRunObservation *obs)
{
  CasRun *next = decision->next;
  const char *current = cas_run_turn_id_is_valid (obs->latest_turn_id) ? obs->latest_turn_id
                                                                        : next->turn_id;

  next->fix_attempts++;
  g_free (next->fix_sha);
  next->fix_sha = g_strdup (next->pushed_sha);
  /* The new turn is the first one after the thread's latest. */
  g_free (next->prev_turn_id);
  next->prev_turn_id = g_strdup (current);
  g_clear_pointer (&next->turn_id, g_free);
  next->turn_started_us = obs->now_us;
  add (decision, CAS_RUN_ACTION_EDIT_CHECKLIST);
  add (decision, CAS_RUN_ACTION_START_FIX_FORWARD_TURN);
}

/* The fields T3 and GitHub move by themselves: the turn we wait for, the
 * pushed commit and its CI. Returns the CI verdict of next->pushed_sha
 * this tick (UNKNOWN when GitHub said nothing about it). */
static CasCiVerdict
observe (CasRun                  *next,
         const CasRunObservation *obs)
{
  const char *sha = cas_run_sha_is_valid (obs->pushed_sha) ? obs->pushed_sha : NULL;

  if (obs->thread == CAS_AFK_THREAD_PRESENT && next->turn_id == NULL &&
      cas_run_turn_id_is_valid (obs->latest_turn_id) &&
      g_strcmp0 (obs->latest_turn_id, next->prev_turn_id) != 0)
    next->turn_id = g_strdup (obs->latest_turn_id);

  if (sha == NULL)
    return CAS_CI_VERDICT_NONE;
  if (g_strcmp0 (sha, next->pushed_sha) != 0)
    {
      g_free (next->pushed_sha);
      next->pushed_sha = g_strdup (sha);
      next->pushed_us = obs->now_us;
      next->ci = CAS_CI_VERDICT_NONE;
      if (next->phase == CAS_RUN_PHASE_DISPATCHED)
        next->phase = CAS_RUN_PHASE_PUSHED;
    }
  /* A tick where CI could not be asked keeps the last verdict shown; a
   * value out of range is no news. */
  if (obs->ci != CAS_CI_VERDICT_NONE && (guint) obs->ci <= CAS_CI_VERDICT_LAST)
    next->ci = obs->ci;
  return obs->ci;
}

CasRunDecision *
cas_run_machine_step (const CasRun            *run,
                      const CasRunObservation *obs,
                      const CasRunLimits      *limits)
{
  CasRunDecision *decision = g_new0 (CasRunDecision, 1);
  CasRun *next;
  CasCiVerdict ci;
  TurnStatus turn;
  gboolean present = obs->thread == CAS_AFK_THREAD_PRESENT;

  decision->actions = g_array_new (FALSE, FALSE, sizeof (CasRunAction));
  decision->next = next = cas_run_copy (run);

  /* A run that ended only owes its doorbell, once. */
  if (cas_run_is_terminal (run))
    {
      if (!run->doorbell_rung)
        ring (decision);
      return decision;
    }

  if (!next->labelled)
    {
      add (decision, CAS_RUN_ACTION_LABEL_IN_PROGRESS);
      next->labelled = TRUE;
    }

  ci = observe (next, obs);
  turn = turn_status (next, obs, limits);

  if (next->pushed_sha != NULL && ci == CAS_CI_VERDICT_GREEN)
    finish (decision, CAS_RUN_PHASE_DONE, CAS_RUN_REASON_NONE, obs->now_us);
  else if (next->pushed_sha == NULL && obs->thread == CAS_AFK_THREAD_MISSING)
    finish (decision, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_THREAD_MISSING, obs->now_us);
  else if (present && obs->pending_user_input)
    finish (decision, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_PENDING_USER_INPUT, obs->now_us);
  else if (present && obs->pending_approval)
    finish (decision, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_PENDING_APPROVAL, obs->now_us);
  else if (next->pushed_sha != NULL && ci == CAS_CI_VERDICT_RED)
    {
      gint64 elapsed_us;

      if (next->first_red_us == 0)
        next->first_red_us = obs->now_us;
      next->phase = CAS_RUN_PHASE_FIXING;
      /* A clock that went backwards counts as no time passed. */
      elapsed_us = MAX (obs->now_us - next->first_red_us, 0);

      if (elapsed_us >= (gint64) limits->fix_forward_max_seconds * G_USEC_PER_SEC)
        finish (decision, CAS_RUN_PHASE_FROZEN, CAS_RUN_REASON_FIX_FORWARD_TIME, obs->now_us);
      else if (obs->thread == CAS_AFK_THREAD_MISSING)
        finish (decision, CAS_RUN_PHASE_FROZEN, CAS_RUN_REASON_THREAD_MISSING, obs->now_us);
      else if (turn == TURN_BUSY || turn == TURN_UNKNOWN)
        ; /* the agent may be fixing it now; never steer a running turn */
      else if (next->fix_attempts >= limits->fix_forward_max_attempts)
        finish (decision, CAS_RUN_PHASE_FROZEN, CAS_RUN_REASON_FIX_FORWARD_ATTEMPTS, obs->now_us);
      else
        start_fix_forward (decision, obs);
    }
  else if (next->pushed_sha != NULL)
    ; /* CI pending or unknown: wait */
  else if (turn == TURN_ENDED)
    finish (decision, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_STALLED, obs->now_us);
  else if (turn == TURN_FAILED)
    finish (decision, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_TURN_FAILED, obs->now_us);

  /* Anything that changed shows on the checklist, which is also where a
   * lost state file is rebuilt from. */
  if (!cas_run_decision_has (decision, CAS_RUN_ACTION_EDIT_CHECKLIST) &&
      (next->checklist_comment_id == 0 || !cas_run_equal (run, next)))
    {
      next->updated_us = obs->now_us;
      add (decision, CAS_RUN_ACTION_EDIT_CHECKLIST);
    }
  return decision;
}
