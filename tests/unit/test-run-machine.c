/* The AFK run machine: every row of the decision table (cas-run-machine.h)
 * as a table of (run, observation) -> (phase, reason, actions), then the
 * edges: limits exactly reached, the fix-forward clock across a restart
 * and a clock going backwards, a second push, turn tracking by id, and
 * the one doorbell per run. */
#include <string.h>

#include "cas-run-machine.h"

#define T0 G_GINT64_CONSTANT (1767322800000000)
#define S(n) ((gint64) (n) * G_USEC_PER_SEC)
#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static const CasRunLimits limits = { 3, 3600, 1800 };

/* A labelled run with a checklist, as after its first tick. */
static CasRun *
watched_run (void)
{
  CasRun *run = cas_run_new ("owner/repo", 12, "Title", "proj", "thread", "turn-0", T0);

  run->labelled = TRUE;
  run->checklist_comment_id = 77;
  return run;
}

/* What T3 shows while our turn runs. */
static CasRunObservation
busy_observation (gint64 now_us)
{
  CasRunObservation obs = {
    .thread = CAS_AFK_THREAD_PRESENT,
    .latest_turn_id = "turn-1",
    .latest_turn_state = CAS_AFK_TURN_RUNNING,
    .session_status = CAS_AFK_SESSION_RUNNING,
    .session_active_turn_id = "turn-1",
    .now_us = now_us,
  };

  return obs;
}

typedef enum { RUN_FRESH, RUN_SEEN, RUN_PUSHED, RUN_RED } RunKind;

typedef struct {
  const char *name;
  /* The run. */
  RunKind kind;            /* fresh: turn not seen; seen: turn-1 is ours;
                              pushed: SHA_A; red: SHA_A red since T0+100s */
  guint attempts;
  /* The observation. */
  CasAfkThreadPresence thread;
  const char *latest;      /* latestTurn.turnId */
  CasAfkTurnState state;
  CasAfkSessionStatus session;
  const char *active;
  gboolean input;
  gboolean approval;
  const char *sha;
  CasCiVerdict ci;
  gint64 now_s;            /* seconds after T0 */
  /* What happens. */
  CasRunPhase phase;
  CasRunReason reason;
  const char *actions;
} Row;

#define PRESENT CAS_AFK_THREAD_PRESENT
#define MISSING CAS_AFK_THREAD_MISSING
#define T3DOWN CAS_AFK_THREAD_UNKNOWN
#define RUNNING CAS_AFK_TURN_RUNNING
#define COMPLETED CAS_AFK_TURN_COMPLETED
#define INTERRUPTED CAS_AFK_TURN_INTERRUPTED
#define ERROR CAS_AFK_TURN_ERROR
#define UNKNOWN CAS_AFK_TURN_UNKNOWN
#define S_RUN CAS_AFK_SESSION_RUNNING
#define S_START CAS_AFK_SESSION_STARTING
#define S_READY CAS_AFK_SESSION_READY
#define S_IDLE CAS_AFK_SESSION_IDLE
#define S_ERR CAS_AFK_SESSION_ERROR
#define S_STOP CAS_AFK_SESSION_STOPPED
#define S_INT CAS_AFK_SESSION_INTERRUPTED
#define S_NONE CAS_AFK_SESSION_UNKNOWN

#define DONE_ACTIONS "edit-checklist,close-issue,remove-in-progress-label,drop-lock,ring-doorbell"
#define HUMAN_ACTIONS "edit-checklist,relabel-ready-for-human,drop-lock,ring-doorbell"
#define FIX_ACTIONS "edit-checklist,start-fix-forward-turn"

static const Row rows[] = {
  /* pushed and green: done, whatever else T3 says */
  { "green", RUN_PUSHED, 0, PRESENT, "turn-1", COMPLETED, S_READY, NULL, FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_GREEN, 200, CAS_RUN_PHASE_DONE, 0, DONE_ACTIONS },
  { "green-while-asking", RUN_PUSHED, 0, PRESENT, "turn-1", RUNNING, S_RUN, "turn-1", TRUE, TRUE,
    SHA_A, CAS_CI_VERDICT_GREEN, 200, CAS_RUN_PHASE_DONE, 0, DONE_ACTIONS },
  { "green-first-seen", RUN_SEEN, 0, PRESENT, "turn-1", RUNNING, S_RUN, "turn-1", FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_GREEN, 200, CAS_RUN_PHASE_DONE, 0, DONE_ACTIONS },
  { "green-after-red", RUN_RED, 2, PRESENT, "turn-3", RUNNING, S_RUN, "turn-3", FALSE, FALSE,
    SHA_B, CAS_CI_VERDICT_GREEN, 900, CAS_RUN_PHASE_DONE, 0, DONE_ACTIONS },
  { "green-thread-gone", RUN_PUSHED, 0, MISSING, NULL, UNKNOWN, S_NONE, NULL, FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_GREEN, 200, CAS_RUN_PHASE_DONE, 0, DONE_ACTIONS },

  /* thread gone before a push */
  { "thread-missing", RUN_SEEN, 0, MISSING, NULL, UNKNOWN, S_NONE, NULL, FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_THREAD_MISSING, HUMAN_ACTIONS },
  { "thread-missing-fresh", RUN_FRESH, 0, MISSING, NULL, UNKNOWN, S_NONE, NULL, FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_THREAD_MISSING, HUMAN_ACTIONS },

  /* the agent is stuck on a person */
  { "user-input", RUN_SEEN, 0, PRESENT, "turn-1", RUNNING, S_RUN, "turn-1", TRUE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_PENDING_USER_INPUT, HUMAN_ACTIONS },
  { "approval", RUN_SEEN, 0, PRESENT, "turn-1", RUNNING, S_RUN, "turn-1", FALSE, TRUE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_PENDING_APPROVAL, HUMAN_ACTIONS },
  { "input-and-approval", RUN_SEEN, 0, PRESENT, "turn-1", RUNNING, S_RUN, "turn-1", TRUE, TRUE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_PENDING_USER_INPUT, HUMAN_ACTIONS },
  { "input-after-push", RUN_PUSHED, 0, PRESENT, "turn-1", RUNNING, S_RUN, "turn-1", TRUE, FALSE,
    SHA_A, CAS_CI_VERDICT_PENDING, 50, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_PENDING_USER_INPUT, HUMAN_ACTIONS },
  { "input-during-fix", RUN_RED, 1, PRESENT, "turn-2", RUNNING, S_RUN, "turn-2", TRUE, FALSE,
    SHA_A, CAS_CI_VERDICT_RED, 300, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_PENDING_USER_INPUT, HUMAN_ACTIONS },
  { "input-but-t3-down", RUN_SEEN, 0, T3DOWN, NULL, UNKNOWN, S_NONE, NULL, TRUE, TRUE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_DISPATCHED, 0, "" },

  /* red CI */
  { "first-red-turn-busy", RUN_PUSHED, 0, PRESENT, "turn-1", RUNNING, S_RUN, "turn-1", FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_RED, 100, CAS_RUN_PHASE_FIXING, 0, "edit-checklist" },
  { "first-red-turn-ended", RUN_PUSHED, 0, PRESENT, "turn-1", COMPLETED, S_READY, NULL, FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_RED, 100, CAS_RUN_PHASE_FIXING, 0, FIX_ACTIONS },
  { "first-red-turn-failed", RUN_PUSHED, 0, PRESENT, "turn-1", ERROR, S_ERR, NULL, FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_RED, 100, CAS_RUN_PHASE_FIXING, 0, FIX_ACTIONS },
  { "red-turn-unknown", RUN_RED, 0, PRESENT, "turn-1", UNKNOWN, S_READY, NULL, FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_RED, 200, CAS_RUN_PHASE_FIXING, 0, "" },
  { "red-t3-down", RUN_RED, 1, T3DOWN, NULL, UNKNOWN, S_NONE, NULL, FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_RED, 200, CAS_RUN_PHASE_FIXING, 0, "" },
  { "red-retry", RUN_RED, 2, PRESENT, "turn-1", COMPLETED, S_READY, NULL, FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_RED, 200, CAS_RUN_PHASE_FIXING, 0, FIX_ACTIONS },
  { "red-attempts-exactly-max", RUN_RED, 3, PRESENT, "turn-1", COMPLETED, S_READY, NULL, FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_RED, 200, CAS_RUN_PHASE_FROZEN, CAS_RUN_REASON_FIX_FORWARD_ATTEMPTS, HUMAN_ACTIONS },
  { "red-attempts-over-max", RUN_RED, 7, PRESENT, "turn-1", COMPLETED, S_READY, NULL, FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_RED, 200, CAS_RUN_PHASE_FROZEN, CAS_RUN_REASON_FIX_FORWARD_ATTEMPTS, HUMAN_ACTIONS },
  { "red-last-attempt-still-running", RUN_RED, 3, PRESENT, "turn-1", RUNNING, S_RUN, "turn-1", FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_RED, 200, CAS_RUN_PHASE_FIXING, 0, "" },
  /* first red at 100 s: max 3600 s ends at 3700 s exactly */
  { "red-time-one-second-left", RUN_RED, 1, PRESENT, "turn-1", COMPLETED, S_READY, NULL, FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_RED, 3699, CAS_RUN_PHASE_FIXING, 0, FIX_ACTIONS },
  { "red-time-exactly-up", RUN_RED, 1, PRESENT, "turn-1", COMPLETED, S_READY, NULL, FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_RED, 3700, CAS_RUN_PHASE_FROZEN, CAS_RUN_REASON_FIX_FORWARD_TIME, HUMAN_ACTIONS },
  { "red-time-up-while-busy", RUN_RED, 1, PRESENT, "turn-1", RUNNING, S_RUN, "turn-1", FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_RED, 5000, CAS_RUN_PHASE_FROZEN, CAS_RUN_REASON_FIX_FORWARD_TIME, HUMAN_ACTIONS },
  { "red-time-up-t3-down", RUN_RED, 1, T3DOWN, NULL, UNKNOWN, S_NONE, NULL, FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_RED, 5000, CAS_RUN_PHASE_FROZEN, CAS_RUN_REASON_FIX_FORWARD_TIME, HUMAN_ACTIONS },
  { "red-thread-missing", RUN_RED, 1, MISSING, NULL, UNKNOWN, S_NONE, NULL, FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_RED, 200, CAS_RUN_PHASE_FROZEN, CAS_RUN_REASON_THREAD_MISSING, HUMAN_ACTIONS },
  /* the clock starts at the first red, not at dispatch: dispatched 10 h ago */
  { "first-red-late", RUN_PUSHED, 0, PRESENT, "turn-1", COMPLETED, S_READY, NULL, FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_RED, 36000, CAS_RUN_PHASE_FIXING, 0, FIX_ACTIONS },

  /* pushed, CI not decided */
  { "pushed-pending", RUN_PUSHED, 0, PRESENT, "turn-1", COMPLETED, S_READY, NULL, FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_PENDING, 100, CAS_RUN_PHASE_PUSHED, 0, "" },
  { "pushed-ci-unknown", RUN_PUSHED, 0, PRESENT, "turn-1", COMPLETED, S_READY, NULL, FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_NONE, 100, CAS_RUN_PHASE_PUSHED, 0, "" },
  { "pushed-ci-skipped", RUN_PUSHED, 0, PRESENT, "turn-1", COMPLETED, S_READY, NULL, FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_SKIPPED, 100, CAS_RUN_PHASE_PUSHED, 0, "edit-checklist" },
  { "pushed-ci-out-of-range", RUN_PUSHED, 0, PRESENT, "turn-1", COMPLETED, S_READY, NULL, FALSE, FALSE,
    SHA_A, (CasCiVerdict) 77, 100, CAS_RUN_PHASE_PUSHED, 0, "" },
  { "pushed-sha-not-seen", RUN_PUSHED, 0, PRESENT, "turn-1", COMPLETED, S_READY, NULL, FALSE, FALSE,
    NULL, CAS_CI_VERDICT_GREEN, 100, CAS_RUN_PHASE_PUSHED, 0, "" },
  { "first-push-pending", RUN_SEEN, 0, PRESENT, "turn-1", RUNNING, S_RUN, "turn-1", FALSE, FALSE,
    SHA_A, CAS_CI_VERDICT_PENDING, 100, CAS_RUN_PHASE_PUSHED, 0, "edit-checklist" },
  { "second-push-pending", RUN_RED, 1, PRESENT, "turn-2", RUNNING, S_RUN, "turn-2", FALSE, FALSE,
    SHA_B, CAS_CI_VERDICT_PENDING, 300, CAS_RUN_PHASE_FIXING, 0, "edit-checklist" },
  { "bad-sha-ignored", RUN_SEEN, 0, PRESENT, "turn-1", RUNNING, S_RUN, "turn-1", FALSE, FALSE,
    "not-a-sha", CAS_CI_VERDICT_GREEN, 100, CAS_RUN_PHASE_DISPATCHED, 0, "" },

  /* not pushed: the turn decides */
  { "stalled", RUN_SEEN, 0, PRESENT, "turn-1", COMPLETED, S_READY, NULL, FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_STALLED, HUMAN_ACTIONS },
  { "stalled-idle-session", RUN_SEEN, 0, PRESENT, "turn-1", COMPLETED, S_IDLE, "turn-1", FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_STALLED, HUMAN_ACTIONS },
  { "completed-session-still-on-it", RUN_SEEN, 0, PRESENT, "turn-1", COMPLETED, S_RUN, "turn-1", FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_DISPATCHED, 0, "" },
  { "completed-session-on-other-turn", RUN_SEEN, 0, PRESENT, "turn-1", COMPLETED, S_RUN, "turn-9", FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_STALLED, HUMAN_ACTIONS },
  { "completed-session-starting", RUN_SEEN, 0, PRESENT, "turn-1", COMPLETED, S_START, NULL, FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_DISPATCHED, 0, "" },
  { "turn-error", RUN_SEEN, 0, PRESENT, "turn-1", ERROR, S_ERR, NULL, FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_TURN_FAILED, HUMAN_ACTIONS },
  { "turn-interrupted", RUN_SEEN, 0, PRESENT, "turn-1", INTERRUPTED, S_INT, NULL, FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_TURN_FAILED, HUMAN_ACTIONS },
  { "running-session-died", RUN_SEEN, 0, PRESENT, "turn-1", RUNNING, S_STOP, NULL, FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_TURN_FAILED, HUMAN_ACTIONS },
  /* a session in error before our turn shows: believed after the grace */
  { "session-error-in-grace", RUN_FRESH, 0, PRESENT, "turn-0", COMPLETED, S_ERR, NULL, FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, CAS_RUN_STALE_SESSION_GRACE_SECONDS - 1, CAS_RUN_PHASE_DISPATCHED, 0, "" },
  { "never-started", RUN_FRESH, 0, PRESENT, "turn-0", COMPLETED, S_ERR, NULL, FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, CAS_RUN_STALE_SESSION_GRACE_SECONDS, CAS_RUN_PHASE_NEEDS_HUMAN,
    CAS_RUN_REASON_TURN_FAILED, HUMAN_ACTIONS },
  /* a turn that never shows: turn_start_timeout_seconds (1800 here) */
  { "start-timeout-one-second-left", RUN_FRESH, 0, PRESENT, "turn-0", COMPLETED, S_READY, NULL, FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 1799, CAS_RUN_PHASE_DISPATCHED, 0, "" },
  { "start-timeout-exactly", RUN_FRESH, 0, PRESENT, "turn-0", COMPLETED, S_READY, NULL, FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 1800, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_TURN_FAILED, HUMAN_ACTIONS },
  { "start-timeout-no-turn-at-all", RUN_FRESH, 0, PRESENT, NULL, UNKNOWN, S_NONE, NULL, FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 5000, CAS_RUN_PHASE_NEEDS_HUMAN, CAS_RUN_REASON_TURN_FAILED, HUMAN_ACTIONS },
  { "start-timeout-t3-down", RUN_FRESH, 0, T3DOWN, NULL, UNKNOWN, S_NONE, NULL, FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 5000, CAS_RUN_PHASE_DISPATCHED, 0, "" },
  { "not-started-yet", RUN_FRESH, 0, PRESENT, "turn-0", COMPLETED, S_READY, NULL, FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_DISPATCHED, 0, "" },
  { "not-started-yet-no-turn", RUN_FRESH, 0, PRESENT, NULL, UNKNOWN, S_NONE, NULL, FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_DISPATCHED, 0, "" },
  { "working", RUN_SEEN, 0, PRESENT, "turn-1", RUNNING, S_RUN, "turn-1", FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_DISPATCHED, 0, "" },
  { "unknown-state-waits", RUN_SEEN, 0, PRESENT, "turn-1", UNKNOWN, S_READY, NULL, FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_DISPATCHED, 0, "" },
  { "t3-down-waits", RUN_SEEN, 0, T3DOWN, NULL, UNKNOWN, S_NONE, NULL, FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_DISPATCHED, 0, "" },
  /* a person started a newer turn: the thread is busy with it */
  { "newer-turn-running", RUN_SEEN, 0, PRESENT, "turn-5", RUNNING, S_RUN, "turn-5", FALSE, FALSE,
    NULL, CAS_CI_VERDICT_NONE, 50, CAS_RUN_PHASE_DISPATCHED, 0, "" },
};

static CasRun *
make_run (const Row *row)
{
  CasRun *run = watched_run ();

  if (row->kind != RUN_FRESH)
    run->turn_id = g_strdup ("turn-1");
  if (row->kind == RUN_PUSHED || row->kind == RUN_RED)
    {
      run->phase = CAS_RUN_PHASE_PUSHED;
      run->pushed_sha = g_strdup (SHA_A);
      run->pushed_us = T0 + S (90);
      run->ci = CAS_CI_VERDICT_PENDING;
    }
  if (row->kind == RUN_RED)
    {
      run->phase = CAS_RUN_PHASE_FIXING;
      run->ci = CAS_CI_VERDICT_RED;
      run->first_red_us = T0 + S (100);
      if (row->attempts > 0)
        run->fix_sha = g_strdup (SHA_A);
    }
  run->fix_attempts = row->attempts;
  return run;
}

static void
check_row (const Row *row)
{
  g_autoptr (CasRun) run = make_run (row);
  g_autoptr (CasRun) before = cas_run_copy (run);
  CasRunObservation obs = {
    .thread = row->thread,
    .latest_turn_id = row->latest,
    .latest_turn_state = row->state,
    .session_status = row->session,
    .session_active_turn_id = row->active,
    .pending_user_input = row->input,
    .pending_approval = row->approval,
    .pushed_sha = row->sha,
    .ci = row->ci,
    .now_us = T0 + S (row->now_s),
  };
  g_autoptr (CasRunDecision) decision = cas_run_machine_step (run, &obs, &limits);
  g_autofree char *actions = cas_run_decision_describe (decision);
  CasRun *next = decision->next;

  if (g_strcmp0 (actions, row->actions) != 0 || next->phase != row->phase ||
      next->reason != row->reason)
    g_error ("%s: got %s/%s [%s], expected %s/%s [%s]", row->name,
             cas_run_phase_to_string (next->phase), cas_run_reason_to_string (next->reason),
             actions, cas_run_phase_to_string (row->phase),
             cas_run_reason_to_string (row->reason), row->actions);

  /* The input run is never changed. */
  g_assert_true (cas_run_equal (run, before));

  /* What every terminal step owes. */
  if (cas_run_is_terminal (next))
    {
      g_assert_true (next->doorbell_rung);
      g_assert_cmpint (next->finished_us, ==, obs.now_us);
      g_assert_false (next->labelled);
    }
  else
    {
      g_assert_false (next->doorbell_rung);
      g_assert_cmpint (next->finished_us, ==, 0);
    }
  /* A step that changes nothing says nothing; one that does, edits. */
  g_assert_true (cas_run_equal (run, next) == (decision->actions->len == 0));

  /* The next state is one a state file can hold. */
  {
    g_autofree char *json = cas_run_to_json (next);
    g_autoptr (GError) error = NULL;
    g_autoptr (CasRun) back = cas_run_from_json (json, strlen (json), &error);

    g_assert_no_error (error);
    g_assert_true (cas_run_equal (next, back));
  }

  /* And a terminal run never rings again. */
  if (cas_run_is_terminal (next))
    {
      g_autoptr (CasRunDecision) again = cas_run_machine_step (next, &obs, &limits);

      g_assert_cmpuint (again->actions->len, ==, 0);
      g_assert_true (cas_run_equal (next, again->next));
    }
}

static void
test_table (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_test_message ("row %s", rows[i].name);
      check_row (&rows[i]);
    }
}

static void
test_first_tick (void)
{
  g_autoptr (CasRun) run = cas_run_new ("o/r", 3, NULL, "p", "t", NULL, T0);
  CasRunObservation obs = busy_observation (T0 + S (5));
  g_autoptr (CasRunDecision) decision = NULL;
  g_autofree char *actions = NULL;

  /* Not labelled yet and no checklist: both, and the turn adopted. */
  obs.latest_turn_id = NULL;
  obs.latest_turn_state = CAS_AFK_TURN_UNKNOWN;
  decision = cas_run_machine_step (run, &obs, &limits);
  actions = cas_run_decision_describe (decision);
  g_assert_cmpstr (actions, ==, "label-in-progress,edit-checklist");
  g_assert_true (decision->next->labelled);
  g_assert_null (decision->next->turn_id);
  g_assert_cmpint (decision->next->updated_us, ==, T0 + S (5));

  /* A first tick that ends the run does not label it. */
  obs.session_status = CAS_AFK_SESSION_ERROR;
  obs.now_us = T0 + S (CAS_RUN_STALE_SESSION_GRACE_SECONDS);
  g_clear_pointer (&decision, cas_run_decision_free);
  decision = cas_run_machine_step (run, &obs, &limits);
  g_clear_pointer (&actions, g_free);
  actions = cas_run_decision_describe (decision);
  g_assert_cmpstr (actions, ==, HUMAN_ACTIONS);
  g_assert_cmpint (decision->next->reason, ==, CAS_RUN_REASON_TURN_FAILED);
}

static void
test_turn_adoption (void)
{
  g_autoptr (CasRun) run = watched_run ();
  CasRunObservation obs = busy_observation (T0 + S (1));
  g_autoptr (CasRunDecision) first = NULL;
  g_autoptr (CasRunDecision) second = NULL;
  g_autoptr (CasRunDecision) third = NULL;

  /* Still the previous turn: nothing is ours yet. */
  obs.latest_turn_id = "turn-0";
  obs.latest_turn_state = CAS_AFK_TURN_COMPLETED;
  obs.session_status = CAS_AFK_SESSION_READY;
  first = cas_run_machine_step (run, &obs, &limits);
  g_assert_null (first->next->turn_id);
  g_assert_cmpuint (first->actions->len, ==, 0);

  /* The first new id is ours, and it stays ours. */
  obs = busy_observation (T0 + S (2));
  second = cas_run_machine_step (first->next, &obs, &limits);
  g_assert_cmpstr (second->next->turn_id, ==, "turn-1");
  g_assert_cmpstr (second->actions->len > 0 ? "changed" : "", ==, "changed");
  obs.latest_turn_id = "turn-2";
  third = cas_run_machine_step (second->next, &obs, &limits);
  g_assert_cmpstr (third->next->turn_id, ==, "turn-1");

  /* Hostile ids are not adopted. */
  {
    g_autofree char *huge = g_strnfill (10000, 'x');
    g_autoptr (CasRunDecision) d1 = NULL;
    g_autoptr (CasRunDecision) d2 = NULL;

    obs.latest_turn_id = huge;
    d1 = cas_run_machine_step (run, &obs, &limits);
    g_assert_null (d1->next->turn_id);
    obs.latest_turn_id = "bad\xff";
    d2 = cas_run_machine_step (run, &obs, &limits);
    g_assert_null (d2->next->turn_id);
  }
  {
    g_autoptr (CasRunDecision) d = NULL;

    obs.latest_turn_id = "line\nbreak";
    d = cas_run_machine_step (run, &obs, &limits);
    g_assert_null (d->next->turn_id);
  }

  /* A fix-forward started while T3 shows a hostile latest id waits past
   * our own turn instead, and the state still reads back. */
  {
    g_autoptr (CasRun) red = watched_run ();
    g_autoptr (CasRunDecision) d = NULL;
    g_autofree char *json = NULL;
    g_autoptr (CasRun) back = NULL;

    red->turn_id = g_strdup ("turn-1");
    red->phase = CAS_RUN_PHASE_FIXING;
    red->pushed_sha = g_strdup (SHA_A);
    red->ci = CAS_CI_VERDICT_RED;
    red->first_red_us = T0;
    obs = busy_observation (T0 + S (10));
    obs.latest_turn_id = "evil\x01id";
    obs.latest_turn_state = CAS_AFK_TURN_COMPLETED;
    obs.session_status = CAS_AFK_SESSION_READY;
    obs.pushed_sha = SHA_A;
    obs.ci = CAS_CI_VERDICT_RED;
    d = cas_run_machine_step (red, &obs, &limits);
    g_assert_true (cas_run_decision_has (d, CAS_RUN_ACTION_START_FIX_FORWARD_TURN));
    g_assert_cmpstr (d->next->prev_turn_id, ==, "turn-1");
    json = cas_run_to_json (d->next);
    back = cas_run_from_json (json, strlen (json), NULL);
    g_assert_nonnull (back);
  }
}

/* Through JSON, as a daemon restart would. */
static CasRun *
restart (const CasRun *run)
{
  g_autofree char *json = cas_run_to_json (run);
  CasRun *back = cas_run_from_json (json, strlen (json), NULL);

  g_assert_nonnull (back);
  return back;
}

static void
test_fix_forward_story (void)
{
  g_autoptr (CasRun) run = watched_run ();
  CasRunObservation obs;
  CasRunDecision *d;

  run->turn_id = g_strdup ("turn-1");

  /* Pushed at 100 s, red at 200 s while the agent still works. */
  obs = busy_observation (T0 + S (100));
  obs.pushed_sha = SHA_A;
  obs.ci = CAS_CI_VERDICT_PENDING;
  d = cas_run_machine_step (run, &obs, &limits);
  g_assert_cmpint (d->next->phase, ==, CAS_RUN_PHASE_PUSHED);
  g_assert_cmpint (d->next->pushed_us, ==, T0 + S (100));
  cas_run_free (run);
  run = g_steal_pointer (&d->next);
  cas_run_decision_free (d);

  obs = busy_observation (T0 + S (200));
  obs.pushed_sha = SHA_A;
  obs.ci = CAS_CI_VERDICT_RED;
  d = cas_run_machine_step (run, &obs, &limits);
  g_assert_cmpint (d->next->phase, ==, CAS_RUN_PHASE_FIXING);
  g_assert_cmpint (d->next->first_red_us, ==, T0 + S (200));
  g_assert_false (cas_run_decision_has (d, CAS_RUN_ACTION_START_FIX_FORWARD_TURN));
  cas_run_free (run);
  run = g_steal_pointer (&d->next);
  cas_run_decision_free (d);

  /* The turn ends: attempt 1 on the same thread, waiting past turn-1. */
  obs.latest_turn_state = CAS_AFK_TURN_COMPLETED;
  obs.session_status = CAS_AFK_SESSION_READY;
  obs.now_us = T0 + S (300);
  d = cas_run_machine_step (run, &obs, &limits);
  g_assert_true (cas_run_decision_has (d, CAS_RUN_ACTION_START_FIX_FORWARD_TURN));
  g_assert_cmpuint (d->next->fix_attempts, ==, 1);
  g_assert_cmpstr (d->next->fix_sha, ==, SHA_A);
  g_assert_cmpstr (d->next->prev_turn_id, ==, "turn-1");
  g_assert_null (d->next->turn_id);
  g_assert_cmpint (d->next->turn_started_us, ==, T0 + S (300));
  g_assert_cmpint (d->next->first_red_us, ==, T0 + S (200));
  cas_run_free (run);
  run = g_steal_pointer (&d->next);
  cas_run_decision_free (d);

  /* Next tick T3 still shows turn-1 completed: the new turn is pending,
   * not a second attempt; even with the session still in error from a
   * turn before. */
  obs.now_us = T0 + S (310);
  d = cas_run_machine_step (run, &obs, &limits);
  g_assert_cmpuint (d->actions->len, ==, 0);
  cas_run_decision_free (d);
  obs.session_status = CAS_AFK_SESSION_ERROR;
  d = cas_run_machine_step (run, &obs, &limits);
  g_assert_cmpuint (d->actions->len, ==, 0);
  cas_run_decision_free (d);
  obs.session_status = CAS_AFK_SESSION_READY;

  /* The daemon restarts; the clock does not. At 3799 s the fix turn has
   * ended with CI still red: attempt 2. At 3800 s (first red + 3600 s):
   * frozen, whatever the attempts. */
  {
    g_autoptr (CasRun) again = restart (run);

    obs = busy_observation (T0 + S (3799));
    obs.latest_turn_id = "turn-2";
    obs.latest_turn_state = CAS_AFK_TURN_COMPLETED;
    obs.session_status = CAS_AFK_SESSION_READY;
    obs.pushed_sha = SHA_A;
    obs.ci = CAS_CI_VERDICT_RED;
    d = cas_run_machine_step (again, &obs, &limits);
    g_assert_cmpuint (d->next->fix_attempts, ==, 2);
    g_assert_cmpstr (d->next->prev_turn_id, ==, "turn-2");
    cas_run_free (run);
    run = restart (d->next);
    cas_run_decision_free (d);
  }
  obs.now_us = T0 + S (3800);
  d = cas_run_machine_step (run, &obs, &limits);
  g_assert_cmpint (d->next->phase, ==, CAS_RUN_PHASE_FROZEN);
  g_assert_cmpint (d->next->reason, ==, CAS_RUN_REASON_FIX_FORWARD_TIME);
  g_assert_true (cas_run_decision_has (d, CAS_RUN_ACTION_RING_DOORBELL));
  cas_run_free (run);
  run = restart (d->next);
  cas_run_decision_free (d);

  /* Rung once, even after a restart. */
  obs.now_us = T0 + S (9000);
  d = cas_run_machine_step (run, &obs, &limits);
  g_assert_cmpuint (d->actions->len, ==, 0);
  cas_run_decision_free (d);
}

static void
test_clock_backwards (void)
{
  g_autoptr (CasRun) run = watched_run ();
  CasRunObservation obs = busy_observation (T0 - S (100000));
  g_autoptr (CasRunDecision) d = NULL;

  run->turn_id = g_strdup ("turn-1");
  run->phase = CAS_RUN_PHASE_FIXING;
  run->pushed_sha = g_strdup (SHA_A);
  run->ci = CAS_CI_VERDICT_RED;
  run->first_red_us = T0;
  obs.latest_turn_state = CAS_AFK_TURN_COMPLETED;
  obs.session_status = CAS_AFK_SESSION_READY;
  obs.pushed_sha = SHA_A;
  obs.ci = CAS_CI_VERDICT_RED;
  /* Now is long before the first red: no time has passed. */
  d = cas_run_machine_step (run, &obs, &limits);
  g_assert_cmpint (d->next->phase, ==, CAS_RUN_PHASE_FIXING);
  g_assert_true (cas_run_decision_has (d, CAS_RUN_ACTION_START_FIX_FORWARD_TURN));
  g_assert_cmpint (d->next->first_red_us, ==, T0);
}

static void
test_zero_limits (void)
{
  static const CasRunLimits none = { 0, 0, 0 };
  static const CasRunLimits no_attempts = { 0, 3600, 0 };
  g_autoptr (CasRun) run = watched_run ();
  CasRunObservation obs = busy_observation (T0 + S (100));
  g_autoptr (CasRunDecision) d1 = NULL;
  g_autoptr (CasRunDecision) d2 = NULL;
  g_autoptr (CasRunDecision) d3 = NULL;

  run->turn_id = g_strdup ("turn-1");
  run->phase = CAS_RUN_PHASE_PUSHED;
  run->pushed_sha = g_strdup (SHA_A);
  obs.pushed_sha = SHA_A;
  obs.ci = CAS_CI_VERDICT_RED;

  /* No time at all: frozen at the first red. */
  d1 = cas_run_machine_step (run, &obs, &none);
  g_assert_cmpint (d1->next->reason, ==, CAS_RUN_REASON_FIX_FORWARD_TIME);
  /* No attempts: the running turn may still fix it; then frozen. */
  d2 = cas_run_machine_step (run, &obs, &no_attempts);
  g_assert_cmpint (d2->next->phase, ==, CAS_RUN_PHASE_FIXING);
  obs.latest_turn_state = CAS_AFK_TURN_COMPLETED;
  obs.session_status = CAS_AFK_SESSION_READY;
  d3 = cas_run_machine_step (d2->next, &obs, &no_attempts);
  g_assert_cmpint (d3->next->reason, ==, CAS_RUN_REASON_FIX_FORWARD_ATTEMPTS);
}

static void
test_terminal_owes_doorbell (void)
{
  CasRunObservation obs = busy_observation (T0 + S (10));

  for (guint phase = CAS_RUN_PHASE_DONE; phase <= CAS_RUN_PHASE_FROZEN; phase++)
    {
      g_autoptr (CasRun) run = watched_run ();
      g_autoptr (CasRunDecision) d1 = NULL;
      g_autoptr (CasRunDecision) d2 = NULL;
      g_autofree char *actions = NULL;

      run->phase = phase;
      run->finished_us = T0;
      /* A terminal run saved before its doorbell was queued rings now,
       * and only that. */
      d1 = cas_run_machine_step (run, &obs, &limits);
      actions = cas_run_decision_describe (d1);
      g_assert_cmpstr (actions, ==, "ring-doorbell");
      g_assert_true (d1->next->doorbell_rung);
      d2 = cas_run_machine_step (d1->next, &obs, &limits);
      g_assert_cmpuint (d2->actions->len, ==, 0);
    }
}

static void
test_names (void)
{
  g_assert_cmpstr (cas_run_action_to_string (CAS_RUN_ACTION_RING_DOORBELL), ==, "ring-doorbell");
  g_assert_cmpstr (cas_run_action_to_string ((CasRunAction) 99), ==, "unknown");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/run-machine/table", test_table);
  g_test_add_func ("/run-machine/first-tick", test_first_tick);
  g_test_add_func ("/run-machine/turn-adoption", test_turn_adoption);
  g_test_add_func ("/run-machine/fix-forward-story", test_fix_forward_story);
  g_test_add_func ("/run-machine/clock-backwards", test_clock_backwards);
  g_test_add_func ("/run-machine/zero-limits", test_zero_limits);
  g_test_add_func ("/run-machine/terminal-owes-doorbell", test_terminal_owes_doorbell);
  g_test_add_func ("/run-machine/names", test_names);

  return g_test_run ();
}
