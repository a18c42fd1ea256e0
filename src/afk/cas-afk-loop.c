/* cas-afk-loop.c: the AFK loop's ticks, dispatches and watches.
 *
 * Every chain of network calls below is sequential: one step's callback
 * starts the next. A failure is logged and the chain goes on with what
 * it knows (the policy and the run machine fail closed on unknowns).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-afk"

#include "config.h"

#include <glib/gi18n.h>

#include "cas-afk-loop.h"
#include "cas-afk-parse.h"
#include "cas-checklist.h"
#include "cas-ci-watcher.h"
#include "cas-error.h"
#include "cas-notifier.h"
#include "cas-run-machine.h"
#include "cas-run-store.h"
#include "cas-t3-client.h"
#include "cas-tracker.h"

struct _CasAfkLoop
{
  GObject parent_instance;

  CasConfig *config;            /* (owned) */
  CasAfkSettings *settings;     /* (owned) */
  CasTracker *tracker;          /* (owned) */
  CasT3Client *t3;              /* (owned) (nullable): [t3] base-url unset */
  CasCiWatcher *ci;             /* (owned) */
  CasRunStore *store;           /* (owned) */
  CasNotifier *notifier;        /* (owned) */
  char *preamble;               /* (owned) the issue-implementer's rules */
  GCancellable *cancellable;    /* (owned) cancelled by stop */
  GHashTable *refused;          /* (owned) keys T3 refused on a business rule */

  guint timer_id;
  gulong armed_id;
  gulong disarm_id;
  guint64 last_tick;
  gboolean ticking;
  GQueue waiting;               /* GTask: ticks asked for while one runs */
};

enum { PROP_0, PROP_LAST_TICK, N_PROPS };
static GParamSpec *properties[N_PROPS];

enum { SIGNAL_RUN_CHANGED, SIGNAL_ESCALATED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CasAfkLoop, cas_afk_loop, G_TYPE_OBJECT)

static void start_tick (CasAfkLoop *self, GTask *task);

/* Logs a failed network call; never a warning, which tests make fatal. */
static void
log_failure (const char   *what,
             const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_message (_("AFK: %s failed: %s; will retry at the next tick"), what, error->message);
}

static gboolean
is_cancelled (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
         g_error_matches (error, CAS_ERROR, CAS_ERROR_CANCELLED);
}

/* ---- gathering the policy's facts (tick and Explain) ---------------- */

typedef struct {
  CasAfkLoop *self;             /* (owned) */
  gboolean rebuild;             /* tick: rebuild lost runs from checklists */
  GStrv repos;
  guint repo_index;
  char *self_login;             /* (nullable) */
  GPtrArray *candidates;        /* CasCandidate */
  GPtrArray *locks;             /* CasIssueRef */
  GPtrArray *issues;            /* CasTrackerIssue of the current repo */
  guint issue_index;
  CasCandidate *current;        /* borrowed from candidates */
  GPtrArray *blockers;          /* CasIssueRef of the current issue */
  guint blocker_index;
  GPtrArray *orphans;           /* CasTrackerIssue in progress without a local run */
  guint orphan_index;
  char *ready_actor;
} Gather;

static void
gather_free (Gather *g)
{
  g_clear_object (&g->self);
  g_strfreev (g->repos);
  g_free (g->self_login);
  g_clear_pointer (&g->candidates, g_ptr_array_unref);
  g_clear_pointer (&g->locks, g_ptr_array_unref);
  g_clear_pointer (&g->issues, g_ptr_array_unref);
  g_clear_pointer (&g->blockers, g_ptr_array_unref);
  g_clear_pointer (&g->orphans, g_ptr_array_unref);
  g_free (g->ready_actor);
  g_free (g);
}

typedef struct {
  CasDispatchPlan *plan;
  GPtrArray *candidates;
} GatherResult;

static void
gather_result_free (GatherResult *r)
{
  g_clear_pointer (&r->plan, cas_dispatch_plan_free);
  g_clear_pointer (&r->candidates, g_ptr_array_unref);
  g_free (r);
}

static void gather_next_repo (GTask *task);
static void gather_next_issue (GTask *task);
static void gather_next_blocker (GTask *task);
static void gather_next_orphan (GTask *task);

static const char *
current_repo (Gather *g)
{
  return g->repos[g->repo_index];
}

static void
gather_finish_all (GTask *task)
{
  Gather *g = g_task_get_task_data (task);
  CasAfkLoop *self = g->self;
  GatherResult *result = g_new0 (GatherResult, 1);
  CasDispatchSettings settings = {
    .allowlist = (const char * const *) g->repos,
    .self_login = g->self_login,
    .ready_label = self->config->afk_ready_label,
    .in_progress_label = self->config->afk_in_progress_label,
    .paused_label = self->config->afk_paused_label,
  };

  cas_run_store_add_locks (self->store, g->locks);
  result->plan = cas_dispatch_policy_decide (g->candidates, &settings, g->locks);
  result->candidates = g_steal_pointer (&g->candidates);
  g_task_return_pointer (task, result, (GDestroyNotify) gather_result_free);
  g_object_unref (task);
}

static void
on_self_login (GObject      *source,
               GAsyncResult *res,
               gpointer      user_data)
{
  GTask *task = user_data;
  Gather *g = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  g->self_login = cas_tracker_self_login_finish (CAS_TRACKER (source), res, &error);
  if (g->self_login == NULL)
    log_failure (_("asking GitHub who we are"), error);
  gather_next_repo (task);
}

static void
gather_async (CasAfkLoop         *self,
              gboolean            rebuild,
              GAsyncReadyCallback callback,
              gpointer            user_data)
{
  GTask *task = g_task_new (self, self->cancellable, callback, user_data);
  Gather *g = g_new0 (Gather, 1);

  g->self = g_object_ref (self);
  g->rebuild = rebuild;
  g->repos = g_strdupv ((GStrv) cas_afk_settings_get_allowlist (self->settings));
  g->candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_candidate_free);
  g->locks = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_issue_ref_free);
  g->repo_index = 0;
  g_task_set_task_data (task, g, (GDestroyNotify) gather_free);
  if (g->repos[0] == NULL)
    {
      gather_finish_all (task);
      return;
    }
  cas_tracker_self_login_async (self->tracker, self->cancellable, on_self_login, task);
}

static GatherResult *
gather_finish (GAsyncResult *res,
               GError      **error)
{
  return g_task_propagate_pointer (G_TASK (res), error);
}

static void
on_list_ready (GObject      *source,
               GAsyncResult *res,
               gpointer      user_data)
{
  GTask *task = user_data;
  Gather *g = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  g->issues = cas_tracker_list_ready_finish (CAS_TRACKER (source), res, &error);
  if (g->issues == NULL)
    {
      g_autofree char *what = g_strdup_printf (_("listing the ready issues of %s"),
                                               current_repo (g));
      log_failure (what, error);
      if (is_cancelled (error))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          g_object_unref (task);
          return;
        }
      g->issues = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_tracker_issue_free);
    }
  g->issue_index = 0;
  gather_next_issue (task);
}

static void
on_list_in_progress (GObject      *source,
                     GAsyncResult *res,
                     gpointer      user_data)
{
  GTask *task = user_data;
  Gather *g = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) issues = cas_tracker_list_ready_finish (CAS_TRACKER (source), res,
                                                                &error);

  g_clear_pointer (&g->orphans, g_ptr_array_unref);
  g->orphans = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_tracker_issue_free);
  if (issues == NULL)
    {
      g_autofree char *what = g_strdup_printf (_("listing the issues in progress of %s"),
                                               current_repo (g));
      log_failure (what, error);
      /* Fail closed: a repo whose locks are not known is locked. */
      g_ptr_array_add (g->locks, cas_issue_ref_new (current_repo (g), 0));
    }
  else
    for (guint i = 0; i < issues->len; i++)
      {
        CasTrackerIssue *issue = g_ptr_array_index (issues, i);

        if (issue->number <= 0 || issue->number > CAS_AFK_MAX_ISSUE_NUMBER)
          continue;
        g_ptr_array_add (g->locks, cas_issue_ref_new (current_repo (g), issue->number));
        if (g->rebuild &&
            cas_run_store_lookup (g->self->store, current_repo (g), issue->number) == NULL)
          g_ptr_array_add (g->orphans, g_steal_pointer (&g_ptr_array_index (issues, i)));
      }
  g->orphan_index = 0;
  gather_next_orphan (task);
}

static void
on_find_comment (GObject      *source,
                 GAsyncResult *res,
                 gpointer      user_data)
{
  GTask *task = user_data;
  Gather *g = g_task_get_task_data (task);
  CasTrackerIssue *issue = g_ptr_array_index (g->orphans, g->orphan_index);
  g_autoptr (GError) error = NULL;
  g_autoptr (CasTrackerComment) comment = cas_tracker_find_comment_finish (CAS_TRACKER (source),
                                                                           res, &error);

  if (comment == NULL && error != NULL)
    log_failure (_("looking for a checklist comment"), error);
  else if (comment != NULL)
    {
      g_autoptr (CasRun) run = cas_checklist_parse (comment->body, -1, current_repo (g),
                                                    (guint) issue->number, &error);

      if (run == NULL)
        g_message (_("AFK: the checklist of %s#%u cannot be read: %s"),
                   current_repo (g), (guint) issue->number, error->message);
      else
        {
          run->checklist_comment_id = comment->id;
          g_message (_("AFK: rebuilt the run of %s#%u from its checklist"),
                     current_repo (g), (guint) issue->number);
          cas_run_store_save_async (g->self->store, run, NULL, NULL);
        }
    }
  g->orphan_index++;
  gather_next_orphan (task);
}

static void
gather_next_orphan (GTask *task)
{
  Gather *g = g_task_get_task_data (task);

  if (g->orphan_index < g->orphans->len)
    {
      CasTrackerIssue *issue = g_ptr_array_index (g->orphans, g->orphan_index);

      cas_tracker_find_comment_async (g->self->tracker, current_repo (g), issue->number,
                                      CAS_CHECKLIST_MARKER, g->self->cancellable,
                                      on_find_comment, task);
      return;
    }
  g->repo_index++;
  gather_next_repo (task);
}

static void
gather_next_repo (GTask *task)
{
  Gather *g = g_task_get_task_data (task);

  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return;
    }
  if (g->repos[g->repo_index] == NULL)
    {
      gather_finish_all (task);
      return;
    }
  g_clear_pointer (&g->issues, g_ptr_array_unref);
  cas_tracker_list_ready_async (g->self->tracker, current_repo (g),
                                g->self->config->afk_ready_label, g->self->cancellable,
                                on_list_ready, task);
}

static void
on_permission (GObject      *source,
               GAsyncResult *res,
               gpointer      user_data)
{
  GTask *task = user_data;
  Gather *g = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autofree char *permission = cas_tracker_permission_finish (CAS_TRACKER (source), res, &error);

  if (permission == NULL)
    log_failure (_("asking a labeller's permission"), error);
  cas_candidate_set_labeller (g->current, g->ready_actor,
                              cas_permission_from_string (permission));
  gather_next_blocker (task);
}

static void
on_label_actor (GObject      *source,
                GAsyncResult *res,
                gpointer      user_data)
{
  GTask *task = user_data;
  Gather *g = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  g_clear_pointer (&g->ready_actor, g_free);
  g->ready_actor = cas_tracker_label_actor_finish (CAS_TRACKER (source), res, &error);
  if (error != NULL)
    log_failure (_("asking who labelled an issue"), error);
  if (g->ready_actor == NULL)
    {
      gather_next_blocker (task);
      return;
    }
  cas_tracker_permission_async (g->self->tracker, current_repo (g), g->ready_actor,
                                g->self->cancellable, on_permission, task);
}

static void
gather_next_issue (GTask *task)
{
  Gather *g = g_task_get_task_data (task);

  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return;
    }
  while (g->issue_index < g->issues->len)
    {
      CasTrackerIssue *issue = g_ptr_array_index (g->issues, g->issue_index);
      CasCandidate *candidate;
      gboolean truncated = FALSE;

      if (issue->number <= 0 || issue->number > CAS_AFK_MAX_ISSUE_NUMBER)
        {
          g->issue_index++;
          continue;
        }
      candidate = cas_candidate_new (current_repo (g), (guint) issue->number, issue->title);
      candidate->open = g_strcmp0 (issue->state, "open") == 0;
      candidate->is_pull_request = issue->is_pull_request;
      cas_candidate_set_labels (candidate, (const char * const *) issue->labels);
      g_ptr_array_add (g->candidates, candidate);
      g->current = candidate;
      g_clear_pointer (&g->blockers, g_ptr_array_unref);
      g->blockers = cas_afk_parse_blocked_by (issue->body, -1, &truncated);
      candidate->blockers_truncated = truncated;
      g->blocker_index = 0;
      cas_tracker_label_actor_async (g->self->tracker, current_repo (g), issue->number,
                                     g->self->config->afk_ready_label, g->self->cancellable,
                                     on_label_actor, task);
      return;
    }
  cas_tracker_list_ready_async (g->self->tracker, current_repo (g),
                                g->self->config->afk_in_progress_label, g->self->cancellable,
                                on_list_in_progress, task);
}

static void
on_blocker (GObject      *source,
            GAsyncResult *res,
            gpointer      user_data)
{
  GTask *task = user_data;
  Gather *g = g_task_get_task_data (task);
  CasIssueRef *ref = g_ptr_array_index (g->blockers, g->blocker_index);
  g_autoptr (GError) error = NULL;
  g_autoptr (CasTrackerIssue) issue = cas_tracker_get_issue_finish (CAS_TRACKER (source), res,
                                                                     &error);
  CasBlockerState state = CAS_BLOCKER_UNKNOWN;

  if (issue == NULL)
    log_failure (_("reading a blocking issue"), error);
  else if (g_strcmp0 (issue->state, "closed") == 0)
    state = CAS_BLOCKER_CLOSED;
  else if (g_strcmp0 (issue->state, "open") == 0)
    state = CAS_BLOCKER_OPEN;
  cas_candidate_add_blocker (g->current, ref->repo, ref->number, state);
  g->blocker_index++;
  gather_next_blocker (task);
}

static void
gather_next_blocker (GTask *task)
{
  Gather *g = g_task_get_task_data (task);

  if (g->blockers != NULL && g->blocker_index < g->blockers->len)
    {
      CasIssueRef *ref = g_ptr_array_index (g->blockers, g->blocker_index);
      const char *repo = ref->repo != NULL ? ref->repo : current_repo (g);

      if (!cas_afk_validate_repo (repo, NULL))
        {
          cas_candidate_add_blocker (g->current, ref->repo, ref->number, CAS_BLOCKER_UNKNOWN);
          g->blocker_index++;
          gather_next_blocker (task);
          return;
        }
      cas_tracker_get_issue_async (g->self->tracker, repo, ref->number, g->self->cancellable,
                                   on_blocker, task);
      return;
    }
  g->issue_index++;
  gather_next_issue (task);
}

/* ---- applying a decision -------------------------------------------- */

typedef struct {
  CasAfkLoop *self;             /* (owned) */
  CasRun *old;                  /* (owned) */
  CasRunDecision *decision;     /* (owned) */
  guint index;
  char *link;                   /* (owned) (nullable) */
  gboolean saved_next;
} Apply;

static void
apply_free (Apply *a)
{
  g_clear_object (&a->self);
  g_clear_pointer (&a->old, cas_run_free);
  g_clear_pointer (&a->decision, cas_run_decision_free);
  g_free (a->link);
  g_free (a);
}

static void apply_next (GTask *task);

static char *
thread_link (CasAfkLoop   *self,
             const CasRun *run)
{
  if (self->t3 == NULL || run->thread_id == NULL)
    return NULL;
  return cas_t3_client_thread_link (self->t3, run->thread_id);
}

static void
emit_changes (CasAfkLoop   *self,
              const CasRun *old,
              const CasRun *next)
{
  g_autofree char *link = thread_link (self, next);
  g_autoptr (GVariant) variant = NULL;

  if (old != NULL && old->phase == next->phase)
    return;
  variant = g_variant_ref_sink (cas_run_to_variant (next, link));
  g_signal_emit (self, signals[SIGNAL_RUN_CHANGED], 0, variant);
  if ((next->phase == CAS_RUN_PHASE_NEEDS_HUMAN || next->phase == CAS_RUN_PHASE_FROZEN) &&
      (old == NULL || !cas_run_phase_is_terminal (old->phase)))
    g_signal_emit (self, signals[SIGNAL_ESCALATED], 0, variant);
}

static void
apply_fail (GTask        *task,
            const char   *what,
            GError       *error)
{
  Apply *a = g_task_get_task_data (task);
  g_autofree char *key = cas_run_dup_key (a->old);
  g_autofree char *message = g_strdup_printf ("%s: %s", what, error->message);

  log_failure (message, error);
  if (!a->saved_next && !is_cancelled (error))
    {
      cas_run_set_last_error (a->old, message);
      cas_run_store_save_async (a->self->store, a->old, NULL, NULL);
    }
  g_task_return_error (task, error);
  g_object_unref (task);
}

static void
on_action_saved (GObject      *source,
                 GAsyncResult *res,
                 gpointer      user_data)
{
  GTask *task = user_data;
  Apply *a = g_task_get_task_data (task);

  /* A failed write is logged by the store; the run is in memory. */
  cas_run_store_save_finish (CAS_RUN_STORE (source), res, NULL);
  a->index++;
  apply_next (task);
}

/* After an action that must not be repeated: the run is saved first. */
static void
save_next_then_continue (GTask *task)
{
  Apply *a = g_task_get_task_data (task);

  a->saved_next = TRUE;
  cas_run_store_save_async (a->self->store, a->decision->next, on_action_saved, task);
}

static void
on_action_bool (GObject      *source,
                GAsyncResult *res,
                gpointer      user_data)
{
  GTask *task = user_data;
  Apply *a = g_task_get_task_data (task);
  CasRunAction action = g_array_index (a->decision->actions, CasRunAction, a->index);
  GError *error = NULL;
  gboolean ok;

  switch (action)
    {
    case CAS_RUN_ACTION_LABEL_IN_PROGRESS:
      ok = cas_tracker_add_labels_finish (CAS_TRACKER (source), res, &error);
      break;
    case CAS_RUN_ACTION_CLOSE_ISSUE:
      ok = cas_tracker_close_issue_finish (CAS_TRACKER (source), res, &error);
      break;
    case CAS_RUN_ACTION_EDIT_CHECKLIST:   /* an edit; a new one is on_checklist_created */
      ok = cas_tracker_edit_comment_finish (CAS_TRACKER (source), res, &error);
      break;
    case CAS_RUN_ACTION_REMOVE_IN_PROGRESS_LABEL:
    case CAS_RUN_ACTION_RELABEL_READY_FOR_HUMAN:
      ok = cas_tracker_remove_label_finish (CAS_TRACKER (source), res, &error);
      break;
    default:
      g_assert_not_reached ();
    }
  if (!ok)
    {
      apply_fail (task, cas_run_action_to_string (action), error);
      return;
    }
  a->index++;
  apply_next (task);
}

/* ready-for-human: remove in-progress, remove ready, add ready-for-human. */
static void
on_relabel_step (GObject      *source,
                 GAsyncResult *res,
                 gpointer      user_data)
{
  GTask *task = user_data;
  Apply *a = g_task_get_task_data (task);
  GError *error = NULL;
  CasAfkLoop *self = a->self;
  CasRun *run = a->decision->next;
  const char *labels[] = { self->config->afk_ready_for_human_label, NULL };
  guint step = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (task), "relabel-step"));
  gboolean ok;

  if (step < 2)
    ok = cas_tracker_remove_label_finish (CAS_TRACKER (source), res, &error);
  else
    ok = cas_tracker_add_labels_finish (CAS_TRACKER (source), res, &error);
  if (!ok)
    {
      apply_fail (task, cas_run_action_to_string (CAS_RUN_ACTION_RELABEL_READY_FOR_HUMAN),
                  error);
      return;
    }
  step++;
  g_object_set_data (G_OBJECT (task), "relabel-step", GUINT_TO_POINTER (step));
  if (step == 1)
    cas_tracker_remove_label_async (self->tracker, run->repo, run->number,
                                    self->config->afk_ready_label, self->cancellable,
                                    on_relabel_step, task);
  else if (step == 2)
    cas_tracker_add_labels_async (self->tracker, run->repo, run->number, labels,
                                  self->cancellable, on_relabel_step, task);
  else
    {
      a->index++;
      apply_next (task);
    }
}

static void
on_checklist_created (GObject      *source,
                      GAsyncResult *res,
                      gpointer      user_data)
{
  GTask *task = user_data;
  Apply *a = g_task_get_task_data (task);
  GError *error = NULL;
  gint64 id = cas_tracker_create_comment_finish (CAS_TRACKER (source), res, &error);

  if (id <= 0)
    {
      if (error == NULL)
        error = g_error_new_literal (CAS_ERROR, CAS_ERROR_FAILED, _("no comment id"));
      apply_fail (task, cas_run_action_to_string (CAS_RUN_ACTION_EDIT_CHECKLIST), error);
      return;
    }
  a->decision->next->checklist_comment_id = id;
  /* The id must survive a crash, or the next tick posts a second one. */
  cas_run_store_save_async (a->self->store, a->decision->next, on_action_saved, task);
}

static void
on_fix_turn (GObject      *source,
             GAsyncResult *res,
             gpointer      user_data)
{
  GTask *task = user_data;
  Apply *a = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr (CasT3TurnStart) start = cas_t3_client_start_turn_finish (CAS_T3_CLIENT (source),
                                                                       res, &error);

  if (start == NULL)
    {
      apply_fail (task, cas_run_action_to_string (CAS_RUN_ACTION_START_FIX_FORWARD_TURN),
                  error);
      return;
    }
  /* T3 read the latest turn just before sending: that is the one to wait past. */
  if (start->previous_turn_id != NULL && cas_run_turn_id_is_valid (start->previous_turn_id))
    {
      g_free (a->decision->next->prev_turn_id);
      a->decision->next->prev_turn_id = g_strdup (start->previous_turn_id);
    }
  save_next_then_continue (task);
}

static void
on_rung (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  gboolean is_new = FALSE;

  if (!cas_notifier_ring_finish (CAS_NOTIFIER (source), res, &is_new, &error))
    {
      apply_fail (task, cas_run_action_to_string (CAS_RUN_ACTION_RING_DOORBELL), error);
      return;
    }
  save_next_then_continue (task);
}

static char *
fix_forward_prompt (const CasRun *run)
{
  /* For the agent, not for people: not translated. */
  return g_strdup_printf ("CI is red on commit %s, which you pushed for %s#%u. Find out why "
                          "from the CI output, fix it forward with a new commit on the default "
                          "branch (never revert or force-push), keep the trailer "
                          "\"AFK-Issue: %s#%u\" on every commit, and run the project's checks "
                          "before you push.",
                          run->fix_sha != NULL ? run->fix_sha : run->pushed_sha,
                          run->repo, run->number, run->repo, run->number);
}

static void
ring_doorbell (GTask *task)
{
  Apply *a = g_task_get_task_data (task);
  CasRun *run = a->decision->next;
  CasNotificationKind kind;
  g_autoptr (GError) error = NULL;
  g_autoptr (CasNotification) notification = NULL;
  const char *link = a->link != NULL && cas_notification_link_is_valid (a->link) ? a->link : NULL;

  switch (run->phase)
    {
    case CAS_RUN_PHASE_DONE:
      kind = CAS_NOTIFICATION_DONE;
      break;
    case CAS_RUN_PHASE_NEEDS_HUMAN:
      kind = CAS_NOTIFICATION_NEEDS_HUMAN;
      break;
    default:
      kind = CAS_NOTIFICATION_FROZEN;
      break;
    }
  notification = cas_notification_new (kind, run->repo, run->number,
                                       run->title != NULL ? run->title : "",
                                       run->reason != CAS_RUN_REASON_NONE
                                         ? cas_run_reason_describe (run->reason) : NULL,
                                       link, run->thread_id, &error);
  if (notification == NULL)
    {
      apply_fail (task, cas_run_action_to_string (CAS_RUN_ACTION_RING_DOORBELL),
                  g_steal_pointer (&error));
      return;
    }
  cas_notifier_ring_async (a->self->notifier, notification, a->self->cancellable, on_rung,
                           task);
}

static void
apply_next (GTask *task)
{
  Apply *a = g_task_get_task_data (task);
  CasAfkLoop *self = a->self;
  CasRun *next = a->decision->next;
  CasRunAction action;

  if (a->index >= a->decision->actions->len)
    {
      if (a->saved_next)
        {
          emit_changes (self, a->old, next);
          g_task_return_boolean (task, TRUE);
          g_object_unref (task);
          return;
        }
      g_clear_pointer (&next->last_error, g_free);
      a->saved_next = TRUE;
      cas_run_store_save_async (self->store, next, on_action_saved, task);
      return;
    }

  action = g_array_index (a->decision->actions, CasRunAction, a->index);
  switch (action)
    {
    case CAS_RUN_ACTION_LABEL_IN_PROGRESS:
      {
        const char *labels[] = { self->config->afk_in_progress_label, NULL };

        cas_tracker_add_labels_async (self->tracker, next->repo, next->number, labels,
                                      self->cancellable, on_action_bool, task);
      }
      return;
    case CAS_RUN_ACTION_EDIT_CHECKLIST:
      {
        g_autofree char *body = cas_checklist_render (next, a->link);

        if (next->checklist_comment_id == 0)
          cas_tracker_create_comment_async (self->tracker, next->repo, next->number, body,
                                            self->cancellable, on_checklist_created, task);
        else
          cas_tracker_edit_comment_async (self->tracker, next->repo,
                                          next->checklist_comment_id, body, self->cancellable,
                                          on_action_bool, task);
      }
      return;
    case CAS_RUN_ACTION_CLOSE_ISSUE:
      cas_tracker_close_issue_async (self->tracker, next->repo, next->number,
                                     self->cancellable, on_action_bool, task);
      return;
    case CAS_RUN_ACTION_REMOVE_IN_PROGRESS_LABEL:
      cas_tracker_remove_label_async (self->tracker, next->repo, next->number,
                                      self->config->afk_in_progress_label, self->cancellable,
                                      on_action_bool, task);
      return;
    case CAS_RUN_ACTION_RELABEL_READY_FOR_HUMAN:
      g_object_set_data (G_OBJECT (task), "relabel-step", GUINT_TO_POINTER (0));
      cas_tracker_remove_label_async (self->tracker, next->repo, next->number,
                                      self->config->afk_in_progress_label, self->cancellable,
                                      on_relabel_step, task);
      return;
    case CAS_RUN_ACTION_DROP_LOCK:
      /* The store's lock is the run not being terminal: saving next drops it. */
      a->index++;
      apply_next (task);
      return;
    case CAS_RUN_ACTION_START_FIX_FORWARD_TURN:
      {
        g_autofree char *prompt = fix_forward_prompt (next);

        if (self->t3 == NULL)
          {
            apply_fail (task, cas_run_action_to_string (action),
                        g_error_new_literal (CAS_ERROR, CAS_ERROR_CONFIG,
                                             _("T3 is not configured")));
            return;
          }
        cas_t3_client_start_turn_async (self->t3, next->thread_id, prompt, self->cancellable,
                                        on_fix_turn, task);
      }
      return;
    case CAS_RUN_ACTION_RING_DOORBELL:
      ring_doorbell (task);
      return;
    default:
      a->index++;
      apply_next (task);
      return;
    }
}

/* Takes @decision. */
static void
apply_async (CasAfkLoop         *self,
             const CasRun       *old,
             CasRunDecision     *decision,
             GAsyncReadyCallback callback,
             gpointer            user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);
  Apply *a = g_new0 (Apply, 1);

  a->self = g_object_ref (self);
  a->old = cas_run_copy (old);
  a->decision = decision;
  a->link = thread_link (self, decision->next);
  g_task_set_task_data (task, a, (GDestroyNotify) apply_free);
  apply_next (task);
}

/* ---- the tick ------------------------------------------------------- */

typedef struct {
  CasAfkLoop *self;             /* (owned) */
  GVariantBuilder dispatched;
  GVariantBuilder runs;
  GString *message;
  GatherResult *gathered;       /* (owned) (nullable) */
  guint winner_index;
  /* The dispatch in progress. */
  char *project_id;
  char *thread_id;
  GError *turn_error;           /* (nullable) its turn's, while the thread is deleted */
  /* The watch in progress. */
  GPtrArray *watch;             /* CasRun copies */
  guint watch_index;
  CasT3ThreadStatus *status;
  CasAfkThreadPresence presence;
  char *branch;
  char *pushed_sha;
  CasCiVerdict ci;              /* of pushed_sha; NONE: not known */
} Tick;

static void
tick_free (Tick *t)
{
  g_clear_object (&t->self);
  g_variant_builder_clear (&t->dispatched);
  g_variant_builder_clear (&t->runs);
  if (t->message != NULL)
    g_string_free (t->message, TRUE);
  g_clear_pointer (&t->gathered, gather_result_free);
  g_free (t->project_id);
  g_free (t->thread_id);
  g_clear_error (&t->turn_error);
  g_clear_pointer (&t->watch, g_ptr_array_unref);
  g_clear_pointer (&t->status, cas_t3_thread_status_free);
  g_free (t->branch);
  g_free (t->pushed_sha);
  g_free (t);
}

static void tick_next_winner (GTask *task);
static void tick_next_watch (GTask *task);
static void tick_flush (GTask *task);

static void
tick_note (Tick       *t,
           const char *sentence)
{
  if (t->message->len > 0)
    g_string_append_c (t->message, ' ');
  g_string_append (t->message, sentence);
}

static void
tick_complete (GTask *task)
{
  Tick *t = g_task_get_task_data (task);
  CasAfkLoop *self = t->self;
  GVariantBuilder report;
  gboolean armed = cas_afk_settings_get_armed (self->settings);

  self->last_tick = (guint64) (g_get_real_time () / G_USEC_PER_SEC);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_TICK]);

  g_variant_builder_init (&report, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&report, "{sv}", "armed", g_variant_new_boolean (armed));
  g_variant_builder_add (&report, "{sv}", "dispatched", g_variant_builder_end (&t->dispatched));
  g_variant_builder_add (&report, "{sv}", "runs", g_variant_builder_end (&t->runs));
  g_variant_builder_init (&t->dispatched, G_VARIANT_TYPE ("aa{sv}"));
  g_variant_builder_init (&t->runs, G_VARIANT_TYPE ("aa{sv}"));
  g_variant_builder_add (&report, "{sv}", "message", g_variant_new_string (t->message->str));
  g_task_return_pointer (task, g_variant_ref_sink (g_variant_builder_end (&report)),
                         (GDestroyNotify) g_variant_unref);
  g_object_unref (task);

  self->ticking = FALSE;
  if (!g_queue_is_empty (&self->waiting))
    start_tick (self, g_queue_pop_head (&self->waiting));
}

static void
on_flushed (GObject      *source,
            GAsyncResult *res,
            gpointer      user_data)
{
  /* Failures are logged by the notifier and retried next tick. */
  cas_notifier_flush_finish (CAS_NOTIFIER (source), res, NULL);
  tick_complete (user_data);
}

static void
tick_flush (GTask *task)
{
  Tick *t = g_task_get_task_data (task);

  /* Disarmed mid-tick: no more network I/O. */
  if (!cas_afk_settings_get_armed (t->self->settings))
    {
      tick_complete (task);
      return;
    }
  cas_notifier_flush_async (t->self->notifier, t->self->cancellable, on_flushed, task);
}

/* Dispatch: workspace root, project, thread, turn; then the run. */

static void
dispatch_done (GTask      *task,
               const char *what,
               GError     *error)
{
  Tick *t = g_task_get_task_data (task);

  if (error != NULL)
    {
      CasDispatchVerdict *winner = g_ptr_array_index (t->gathered->plan->winners,
                                                      t->winner_index);
      g_autofree char *message = g_strdup_printf (_("dispatching %s#%u (%s)"), winner->repo,
                                                  winner->number, what);

      log_failure (message, error);
      if (cas_t3_client_error_is_rejected (error))
        g_hash_table_add (t->self->refused,
                          g_strdup_printf ("%s#%u", winner->repo, winner->number));
      g_error_free (error);
    }
  g_clear_pointer (&t->project_id, g_free);
  g_clear_pointer (&t->thread_id, g_free);
  t->winner_index++;
  tick_next_winner (task);
}

static void
on_dispatch_applied (GObject      *source,
                     GAsyncResult *res,
                     gpointer      user_data)
{
  GTask *task = user_data;
  Tick *t = g_task_get_task_data (task);
  CasDispatchVerdict *winner = g_ptr_array_index (t->gathered->plan->winners, t->winner_index);
  const CasRun *run;

  /* A failure is logged; the run is saved, and the next tick goes on. */
  g_task_propagate_boolean (G_TASK (res), NULL);
  run = cas_run_store_lookup (t->self->store, winner->repo, winner->number);
  if (run != NULL)
    {
      g_autofree char *link = thread_link (t->self, run);

      g_variant_builder_add_value (&t->dispatched, cas_run_to_variant (run, link));
    }
  dispatch_done (task, NULL, NULL);
}

static void
on_dispatch_saved (GObject      *source,
                   GAsyncResult *res,
                   gpointer      user_data)
{
  GTask *task = user_data;
  Tick *t = g_task_get_task_data (task);
  CasDispatchVerdict *winner = g_ptr_array_index (t->gathered->plan->winners, t->winner_index);
  const CasRun *run = cas_run_store_lookup (t->self->store, winner->repo, winner->number);
  g_autoptr (CasRunDecision) decision = g_new0 (CasRunDecision, 1);
  CasRunAction actions[] = { CAS_RUN_ACTION_LABEL_IN_PROGRESS, CAS_RUN_ACTION_EDIT_CHECKLIST };

  cas_run_store_save_finish (CAS_RUN_STORE (source), res, NULL);
  emit_changes (t->self, NULL, run);
  /* T3 accepted the turn: now the label, then the checklist. */
  decision->next = cas_run_copy (run);
  decision->next->labelled = TRUE;
  decision->actions = g_array_new (FALSE, FALSE, sizeof (CasRunAction));
  g_array_append_vals (decision->actions, actions, G_N_ELEMENTS (actions));
  apply_async (t->self, run, g_steal_pointer (&decision), on_dispatch_applied, task);
}

static void
on_unused_thread_deleted (GObject      *source,
                          GAsyncResult *res,
                          gpointer      user_data)
{
  GTask *task = user_data;
  Tick *t = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  if (!cas_t3_client_delete_thread_finish (CAS_T3_CLIENT (source), res, &error) &&
      !is_cancelled (error))
    g_message (_("AFK: T3 thread %s, whose turn did not start, is left behind: %s"),
               t->thread_id, error->message);
  dispatch_done (task, "thread.turn.start", g_steal_pointer (&t->turn_error));
}

static void
on_turn_started (GObject      *source,
                 GAsyncResult *res,
                 gpointer      user_data)
{
  GTask *task = user_data;
  Tick *t = g_task_get_task_data (task);
  CasDispatchVerdict *winner = g_ptr_array_index (t->gathered->plan->winners, t->winner_index);
  GError *error = NULL;
  g_autoptr (CasT3TurnStart) start = cas_t3_client_start_turn_finish (CAS_T3_CLIENT (source),
                                                                       res, &error);
  g_autoptr (CasRun) run = NULL;

  if (start == NULL)
    {
      /* T3 took the thread but not its turn: no empty thread is left. */
      t->turn_error = error;
      cas_t3_client_delete_thread_async (t->self->t3, t->thread_id, t->self->cancellable,
                                         on_unused_thread_deleted, task);
      return;
    }
  run = cas_run_new (winner->repo, winner->number, winner->title, t->project_id, t->thread_id,
                     cas_run_turn_id_is_valid (start->previous_turn_id)
                       ? start->previous_turn_id : NULL,
                     g_get_real_time ());
  if (run == NULL)
    {
      dispatch_done (task, "run",
                     g_error_new_literal (CAS_ERROR, CAS_ERROR_FAILED,
                                          _("T3 answered ids the run cannot keep")));
      return;
    }
  g_message (_("AFK: dispatched %s#%u to T3 thread %s"), winner->repo, winner->number,
             t->thread_id);
  cas_run_store_save_async (t->self->store, run, on_dispatch_saved, task);
}

static char *
issue_prompt (CasAfkLoop               *self,
              const CasDispatchVerdict *winner)
{
  /* For the agent: the rules, then the issue. */
  return g_strdup_printf ("%s\n\n---\n\nIssue: %s#%u\nTitle: %s\n\nRead it with the tracker "
                          "(it is https://github.com/%s/issues/%u), implement it, and end "
                          "every commit with the trailer \"AFK-Issue: %s#%u\".\n",
                          self->preamble, winner->repo, winner->number,
                          winner->title != NULL ? winner->title : "",
                          winner->repo, winner->number, winner->repo, winner->number);
}

static void
on_thread_created (GObject      *source,
                   GAsyncResult *res,
                   gpointer      user_data)
{
  GTask *task = user_data;
  Tick *t = g_task_get_task_data (task);
  CasDispatchVerdict *winner = g_ptr_array_index (t->gathered->plan->winners, t->winner_index);
  GError *error = NULL;
  g_autofree char *prompt = NULL;

  t->thread_id = cas_t3_client_create_thread_finish (CAS_T3_CLIENT (source), res, &error);
  if (t->thread_id == NULL)
    {
      dispatch_done (task, "thread.create", error);
      return;
    }
  if (!cas_run_id_is_valid (t->thread_id))
    {
      dispatch_done (task, "thread.create",
                     g_error_new_literal (CAS_ERROR, CAS_ERROR_FAILED,
                                          _("T3 answered ids the run cannot keep")));
      return;
    }
  prompt = issue_prompt (t->self, winner);
  cas_t3_client_start_turn_async (t->self->t3, t->thread_id, prompt, t->self->cancellable,
                                  on_turn_started, task);
}

static void
on_project (GObject      *source,
            GAsyncResult *res,
            gpointer      user_data)
{
  GTask *task = user_data;
  Tick *t = g_task_get_task_data (task);
  CasDispatchVerdict *winner = g_ptr_array_index (t->gathered->plan->winners, t->winner_index);
  GError *error = NULL;
  g_autofree char *title = NULL;

  t->project_id = cas_t3_client_ensure_project_finish (CAS_T3_CLIENT (source), res, &error);
  if (t->project_id == NULL)
    {
      dispatch_done (task, "project", error);
      return;
    }
  title = g_strdup_printf ("%s#%u %s", winner->repo, winner->number,
                           winner->title != NULL ? winner->title : "");
  cas_t3_client_create_thread_async (t->self->t3, t->project_id, title, t->self->cancellable,
                                     on_thread_created, task);
}

static void
tick_next_winner (GTask *task)
{
  Tick *t = g_task_get_task_data (task);
  CasAfkLoop *self = t->self;
  GPtrArray *winners = t->gathered->plan->winners;

  while (t->winner_index < winners->len)
    {
      CasDispatchVerdict *winner = g_ptr_array_index (winners, t->winner_index);
      g_autofree char *key = g_strdup_printf ("%s#%u", winner->repo, winner->number);
      g_autofree char *root = NULL;
      GError *error = NULL;

      /* Disarmed meanwhile: nothing more goes out. */
      if (!cas_afk_settings_get_armed (self->settings) || g_cancellable_is_cancelled (self->cancellable))
        break;
      if (g_hash_table_contains (self->refused, key))
        {
          t->winner_index++;
          continue;
        }
      root = cas_t3_client_workspace_root (self->t3, winner->repo, &error);
      if (root == NULL)
        {
          dispatch_done (task, "workspace", error);
          return;
        }
      cas_t3_client_ensure_project_async (self->t3, root, winner->repo, self->cancellable,
                                          on_project, task);
      return;
    }
  /* Then every run that is not over, or not rung yet. */
  t->watch = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_run_free);
  {
    g_autoptr (GPtrArray) runs = cas_run_store_list (self->store);

    for (guint i = 0; i < runs->len; i++)
      {
        const CasRun *run = g_ptr_array_index (runs, i);

        if (!cas_run_is_terminal (run) || !run->doorbell_rung)
          g_ptr_array_add (t->watch, cas_run_copy (run));
      }
  }
  t->watch_index = 0;
  tick_next_watch (task);
}

static void
on_gathered (GObject      *source,
             GAsyncResult *res,
             gpointer      user_data)
{
  GTask *task = user_data;
  Tick *t = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  t->gathered = gather_finish (res, &error);
  if (t->gathered == NULL)
    {
      tick_note (t, error->message);
      tick_complete (task);
      return;
    }
  if (t->self->t3 == NULL && t->gathered->plan->winners->len > 0)
    {
      tick_note (t, _("T3 is not configured ([t3] base-url): nothing is dispatched."));
      g_ptr_array_set_size (t->gathered->plan->winners, 0);
    }
  t->winner_index = 0;
  tick_next_winner (task);
}

/* Watching one run: T3, the pushed commit, CI, then the machine. */

static CasAfkTurnState
turn_state (CasT3TurnState state)
{
  switch (state)
    {
    case CAS_T3_TURN_RUNNING: return CAS_AFK_TURN_RUNNING;
    case CAS_T3_TURN_COMPLETED: return CAS_AFK_TURN_COMPLETED;
    case CAS_T3_TURN_INTERRUPTED: return CAS_AFK_TURN_INTERRUPTED;
    case CAS_T3_TURN_ERROR: return CAS_AFK_TURN_ERROR;
    default: return CAS_AFK_TURN_UNKNOWN;
    }
}

static CasAfkSessionStatus
session_status (CasT3SessionStatus status)
{
  switch (status)
    {
    case CAS_T3_SESSION_IDLE: return CAS_AFK_SESSION_IDLE;
    case CAS_T3_SESSION_STARTING: return CAS_AFK_SESSION_STARTING;
    case CAS_T3_SESSION_RUNNING: return CAS_AFK_SESSION_RUNNING;
    case CAS_T3_SESSION_READY: return CAS_AFK_SESSION_READY;
    case CAS_T3_SESSION_INTERRUPTED: return CAS_AFK_SESSION_INTERRUPTED;
    case CAS_T3_SESSION_STOPPED: return CAS_AFK_SESSION_STOPPED;
    case CAS_T3_SESSION_ERROR: return CAS_AFK_SESSION_ERROR;
    default: return CAS_AFK_SESSION_UNKNOWN;
    }
}

static void
watch_done (GTask *task)
{
  Tick *t = g_task_get_task_data (task);

  g_clear_pointer (&t->status, cas_t3_thread_status_free);
  g_clear_pointer (&t->branch, g_free);
  g_clear_pointer (&t->pushed_sha, g_free);
  t->ci = CAS_CI_VERDICT_NONE;
  t->watch_index++;
  tick_next_watch (task);
}

static void
on_watch_applied (GObject      *source,
                  GAsyncResult *res,
                  gpointer      user_data)
{
  GTask *task = user_data;
  Tick *t = g_task_get_task_data (task);
  CasRun *old = g_ptr_array_index (t->watch, t->watch_index);
  const CasRun *now = cas_run_store_lookup (t->self->store, old->repo, old->number);

  g_task_propagate_boolean (G_TASK (res), NULL);
  if (now != NULL)
    {
      g_autofree char *link = thread_link (t->self, now);
      g_autoptr (GVariant) variant = g_variant_ref_sink (cas_run_to_variant (now, link));
      g_autoptr (GVariantDict) dict = g_variant_dict_new (variant);
      const char *actions = g_object_get_data (G_OBJECT (task), "actions");

      g_variant_dict_insert (dict, "actions", "s", actions != NULL ? actions : "");
      g_variant_builder_add_value (&t->runs, g_variant_dict_end (dict));
    }
  watch_done (task);
}

static void
watch_decide (GTask *task)
{
  Tick *t = g_task_get_task_data (task);
  CasAfkLoop *self = t->self;
  CasRun *run = g_ptr_array_index (t->watch, t->watch_index);
  CasRunObservation obs = { 0, };
  CasRunLimits limits = {
    .fix_forward_max_attempts = self->config->afk_fix_forward_max_attempts,
    .fix_forward_max_seconds = self->config->afk_fix_forward_max_seconds,
    .turn_start_timeout_seconds = CAS_AFK_LOOP_TURN_START_TIMEOUT_SECONDS,
  };
  CasRunDecision *decision;

  obs.thread = t->presence;
  if (t->status != NULL)
    {
      obs.latest_turn_id = t->status->latest_turn_id;
      obs.latest_turn_state = turn_state (t->status->turn_state);
      obs.session_status = session_status (t->status->session_status);
      obs.session_active_turn_id = t->status->session_active_turn_id;
      obs.pending_user_input = t->status->has_pending_user_input;
      obs.pending_approval = t->status->has_pending_approvals;
    }
  obs.pushed_sha = t->pushed_sha;
  obs.ci = t->ci;
  obs.now_us = g_get_real_time ();

  decision = cas_run_machine_step (run, &obs, &limits);
  if (decision->actions->len == 0 && cas_run_equal (run, decision->next))
    {
      cas_run_decision_free (decision);
      watch_done (task);
      return;
    }
  g_object_set_data_full (G_OBJECT (task), "actions", cas_run_decision_describe (decision),
                          g_free);
  apply_async (self, run, decision, on_watch_applied, task);
}

static void
on_ci_verdict (GObject      *source,
               GAsyncResult *res,
               gpointer      user_data)
{
  GTask *task = user_data;
  Tick *t = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  /* CI not known this tick: the run waits (ci NONE). */
  if (!cas_ci_watcher_verdict_finish (CAS_CI_WATCHER (source), res, &t->ci, &error))
    {
      log_failure (_("reading the CI verdict"), error);
      t->ci = CAS_CI_VERDICT_NONE;
    }
  watch_decide (task);
}

static void
on_commits (GObject      *source,
            GAsyncResult *res,
            gpointer      user_data)
{
  GTask *task = user_data;
  Tick *t = g_task_get_task_data (task);
  CasRun *run = g_ptr_array_index (t->watch, t->watch_index);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) commits = cas_tracker_commits_since_finish (CAS_TRACKER (source), res,
                                                                     &error);
  gint64 since = run->dispatched_us / G_USEC_PER_SEC;

  if (commits == NULL)
    log_failure (_("listing the commits"), error);
  else
    /* Newest first: the first with our trailer, made since the dispatch. */
    for (guint i = 0; i < commits->len; i++)
      {
        CasTrackerCommit *commit = g_ptr_array_index (commits, i);

        if (commit->date >= since && cas_run_sha_is_valid (commit->sha) &&
            cas_afk_message_has_trailer (commit->message, -1, run->repo, run->number))
          {
            t->pushed_sha = g_strdup (commit->sha);
            break;
          }
      }
  if (t->pushed_sha == NULL)
    {
      watch_decide (task);
      return;
    }
  cas_ci_watcher_verdict_async (t->self->ci, run->repo, t->pushed_sha, t->self->cancellable,
                                on_ci_verdict, task);
}

static void
on_branch (GObject      *source,
           GAsyncResult *res,
           gpointer      user_data)
{
  GTask *task = user_data;
  Tick *t = g_task_get_task_data (task);
  CasRun *run = g_ptr_array_index (t->watch, t->watch_index);
  g_autoptr (GError) error = NULL;

  t->branch = cas_tracker_default_branch_finish (CAS_TRACKER (source), res, &error);
  if (t->branch == NULL)
    {
      log_failure (_("reading the default branch"), error);
      watch_decide (task);
      return;
    }
  cas_tracker_commits_since_async (t->self->tracker, run->repo, t->branch,
                                   run->dispatched_us / G_USEC_PER_SEC, t->self->cancellable,
                                   on_commits, task);
}

static void
on_thread_status (GObject      *source,
                  GAsyncResult *res,
                  gpointer      user_data)
{
  GTask *task = user_data;
  Tick *t = g_task_get_task_data (task);
  CasRun *run = g_ptr_array_index (t->watch, t->watch_index);
  g_autoptr (GError) error = NULL;

  t->status = cas_t3_client_get_thread_status_finish (CAS_T3_CLIENT (source), res, &error);
  if (t->status != NULL)
    t->presence = CAS_AFK_THREAD_PRESENT;
  else if (g_error_matches (error, CAS_ERROR, CAS_ERROR_NOT_FOUND))
    t->presence = CAS_AFK_THREAD_MISSING;
  else
    {
      log_failure (_("asking T3 about a thread"), error);
      t->presence = CAS_AFK_THREAD_UNKNOWN;
    }
  cas_tracker_default_branch_async (t->self->tracker, run->repo, t->self->cancellable,
                                    on_branch, task);
}

static void
tick_next_watch (GTask *task)
{
  Tick *t = g_task_get_task_data (task);
  CasAfkLoop *self = t->self;
  CasRun *run;

  if (g_cancellable_is_cancelled (self->cancellable) ||
      !cas_afk_settings_get_armed (self->settings) || t->watch_index >= t->watch->len)
    {
      tick_flush (task);
      return;
    }
  run = g_ptr_array_index (t->watch, t->watch_index);
  t->presence = CAS_AFK_THREAD_UNKNOWN;
  t->ci = CAS_CI_VERDICT_NONE;
  if (cas_run_is_terminal (run))
    {
      /* Only its doorbell is left to ring: nothing to ask. */
      watch_decide (task);
      return;
    }
  if (self->t3 == NULL)
    {
      cas_tracker_default_branch_async (self->tracker, run->repo, self->cancellable, on_branch,
                                        task);
      return;
    }
  cas_t3_client_get_thread_status_async (self->t3, run->thread_id, self->cancellable,
                                         on_thread_status, task);
}

static void
start_tick (CasAfkLoop *self,
            GTask      *task)
{
  Tick *t = g_task_get_task_data (task);

  self->ticking = TRUE;
  if (!cas_afk_settings_get_armed (self->settings))
    {
      tick_note (t, _("The AFK loop is disarmed (kill switch on or allowlist empty): "
                      "nothing was asked of the network."));
      tick_complete (task);
      return;
    }
  gather_async (self, TRUE, on_gathered, task);
}

void
cas_afk_loop_tick_async (CasAfkLoop         *self,
                         GCancellable       *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer            user_data)
{
  GTask *task;
  Tick *t;

  g_return_if_fail (CAS_IS_AFK_LOOP (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cas_afk_loop_tick_async);
  t = g_new0 (Tick, 1);
  t->self = g_object_ref (self);
  t->message = g_string_new (NULL);
  g_variant_builder_init (&t->dispatched, G_VARIANT_TYPE ("aa{sv}"));
  g_variant_builder_init (&t->runs, G_VARIANT_TYPE ("aa{sv}"));
  g_task_set_task_data (task, t, (GDestroyNotify) tick_free);
  if (self->ticking)
    {
      g_queue_push_tail (&self->waiting, task);
      return;
    }
  start_tick (self, task);
}

GVariant *
cas_afk_loop_tick_finish (CasAfkLoop   *self,
                          GAsyncResult *result,
                          GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- Explain -------------------------------------------------------- */

static void
on_explain_gathered (GObject      *source,
                     GAsyncResult *res,
                     gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;
  GatherResult *result = gather_finish (res, &error);

  if (result == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&result->plan),
                         (GDestroyNotify) cas_dispatch_plan_free);
  gather_result_free (result);
}

void
cas_afk_loop_explain_async (CasAfkLoop         *self,
                            GCancellable       *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer            user_data)
{
  GTask *task;

  g_return_if_fail (CAS_IS_AFK_LOOP (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cas_afk_loop_explain_async);
  gather_async (self, FALSE, on_explain_gathered, task);
}

CasDispatchPlan *
cas_afk_loop_explain_finish (CasAfkLoop   *self,
                             GAsyncResult *result,
                             GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- the object ----------------------------------------------------- */

GVariant *
cas_afk_loop_list_runs (CasAfkLoop *self)
{
  g_autoptr (GPtrArray) runs = cas_run_store_list (self->store);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < runs->len; i++)
    {
      const CasRun *run = g_ptr_array_index (runs, i);
      g_autofree char *link = thread_link (self, run);

      g_variant_builder_add_value (&builder, cas_run_to_variant (run, link));
    }
  return g_variant_builder_end (&builder);
}

static void
on_timer_tick_done (GObject      *source,
                    GAsyncResult *res,
                    gpointer      user_data)
{
  g_autoptr (GVariant) report = cas_afk_loop_tick_finish (CAS_AFK_LOOP (source), res, NULL);
}

static gboolean
on_timer (gpointer user_data)
{
  CasAfkLoop *self = user_data;

  if (!self->ticking)
    cas_afk_loop_tick_async (self, NULL, on_timer_tick_done, NULL);
  return G_SOURCE_CONTINUE;
}

static void
update_timer (CasAfkLoop *self)
{
  gboolean armed = cas_afk_settings_get_armed (self->settings) &&
                   !g_cancellable_is_cancelled (self->cancellable);

  if (armed && self->timer_id == 0)
    self->timer_id = g_timeout_add_seconds (MAX (self->config->afk_poll_interval_seconds, 1),
                                            on_timer, self);
  else if (!armed && self->timer_id != 0)
    g_clear_handle_id (&self->timer_id, g_source_remove);
}

static void
on_armed_changed (GObject    *object,
                  GParamSpec *pspec,
                  gpointer    user_data)
{
  update_timer (user_data);
}

static void
on_disarm_requested (CasNotifier *notifier,
                     const char  *notification_id,
                     gpointer     user_data)
{
  CasAfkLoop *self = user_data;
  g_autoptr (GError) error = NULL;

  g_message (_("AFK: disarmed from a notification"));
  if (!cas_afk_settings_set_kill_switch (self->settings, TRUE, &error))
    g_message (_("Cannot turn the kill switch on: %s"), error->message);
}

static void
cas_afk_loop_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  CasAfkLoop *self = CAS_AFK_LOOP (object);

  switch (prop_id)
    {
    case PROP_LAST_TICK:
      g_value_set_uint64 (value, self->last_tick);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cas_afk_loop_dispose (GObject *object)
{
  CasAfkLoop *self = CAS_AFK_LOOP (object);

  g_clear_handle_id (&self->timer_id, g_source_remove);
  g_clear_signal_handler (&self->armed_id, self->settings);
  g_clear_signal_handler (&self->disarm_id, self->notifier);

  G_OBJECT_CLASS (cas_afk_loop_parent_class)->dispose (object);
}

static void
cas_afk_loop_finalize (GObject *object)
{
  CasAfkLoop *self = CAS_AFK_LOOP (object);

  g_clear_object (&self->tracker);
  g_clear_object (&self->t3);
  g_clear_object (&self->ci);
  g_clear_object (&self->store);
  g_clear_object (&self->notifier);
  g_clear_object (&self->settings);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->refused, g_hash_table_unref);
  g_clear_pointer (&self->config, cas_config_unref);
  g_free (self->preamble);

  G_OBJECT_CLASS (cas_afk_loop_parent_class)->finalize (object);
}

static void
cas_afk_loop_class_init (CasAfkLoopClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = cas_afk_loop_get_property;
  object_class->dispose = cas_afk_loop_dispose;
  object_class->finalize = cas_afk_loop_finalize;

  properties[PROP_LAST_TICK] =
    g_param_spec_uint64 ("last-tick", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_RUN_CHANGED] =
    g_signal_new ("run-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_VARIANT);
  signals[SIGNAL_ESCALATED] =
    g_signal_new ("escalated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_VARIANT);
}

static void
cas_afk_loop_init (CasAfkLoop *self)
{
  self->cancellable = g_cancellable_new ();
  self->refused = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_queue_init (&self->waiting);
}

CasAfkLoop *
cas_afk_loop_new (CasConfig          *config,
                  CasAfkSettings     *settings,
                  CasAgentSet        *agents,
                  const char         *state_dir,
                  const char * const *envp,
                  GError            **error)
{
  g_autoptr (CasAfkLoop) self = g_object_new (CAS_TYPE_AFK_LOOP, NULL);
  g_autoptr (CasWoodpecker) woodpecker = NULL;
  g_autoptr (CasRolloutCheck) rollout = NULL;
  const CasAgent *implementer = agents != NULL
                                  ? cas_agent_set_lookup (agents, "issue-implementer") : NULL;

  self->config = cas_config_ref (config);
  self->settings = g_object_ref (settings);
  self->preamble = g_strdup (implementer != NULL ? implementer->prompt : "");

  self->tracker = cas_tracker_new (config, envp, error);
  if (self->tracker == NULL)
    return NULL;
  if (config->t3_base_url != NULL && config->t3_base_url[0] != '\0')
    {
      self->t3 = cas_t3_client_new (config, error);
      if (self->t3 == NULL)
        return NULL;
    }
  woodpecker = cas_woodpecker_new (config, envp, error);
  if (woodpecker == NULL)
    return NULL;
  rollout = cas_rollout_check_new (config->ci_rollout_command, 0, error);
  if (rollout == NULL)
    return NULL;
  self->ci = cas_ci_watcher_new (self->tracker, woodpecker, rollout);
  self->notifier = cas_notifier_new (config, state_dir, envp, error);
  if (self->notifier == NULL)
    return NULL;
  self->store = cas_run_store_new (state_dir, error);
  if (self->store == NULL)
    return NULL;

  self->armed_id = g_signal_connect (settings, "notify::armed",
                                     G_CALLBACK (on_armed_changed), self);
  self->disarm_id = g_signal_connect (self->notifier, "disarm-requested",
                                      G_CALLBACK (on_disarm_requested), self);
  update_timer (self);
  return g_steal_pointer (&self);
}

CasAfkSettings *
cas_afk_loop_get_settings (CasAfkLoop *self)
{
  return self->settings;
}

guint64
cas_afk_loop_get_last_tick (CasAfkLoop *self)
{
  return self->last_tick;
}

typedef struct {
  gboolean synced;
} StopWait;

static void
on_synced (GObject      *source,
           GAsyncResult *res,
           gpointer      user_data)
{
  StopWait *wait = user_data;

  cas_notifier_sync_finish (CAS_NOTIFIER (source), res, NULL);
  wait->synced = TRUE;
  g_rc_box_release (wait);
}

static gboolean
on_stop_deadline (gpointer user_data)
{
  gboolean *expired = user_data;

  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

void
cas_afk_loop_stop (CasAfkLoop *self)
{
  StopWait *wait = g_rc_box_new0 (StopWait);
  gboolean expired = FALSE;
  guint deadline;

  g_cancellable_cancel (self->cancellable);
  update_timer (self);

  /* The callback may come after we gave up: it holds its own reference. */
  cas_notifier_sync_async (self->notifier, NULL, on_synced, g_rc_box_acquire (wait));
  deadline = g_timeout_add_seconds (CAS_AFK_LOOP_STOP_SECONDS, on_stop_deadline, &expired);
  while (!expired && (!wait->synced || cas_run_store_get_pending (self->store) > 0))
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (deadline);
  g_rc_box_release (wait);
}
