/* cas-ci-watcher.c: one commit's CI, one stage after the other, each
 * asked only when the ones before it passed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-afk"

#include "config.h"

#include "cas-ci-watcher.h"

#define N_STAGES 3

struct _CasCiWatcher {
  GObject parent_instance;

  CasTracker *tracker;          /* (owned) */
  CasWoodpecker *woodpecker;    /* (owned) */
  CasRolloutCheck *rollout;     /* (owned) */
};

G_DEFINE_FINAL_TYPE (CasCiWatcher, cas_ci_watcher, G_TYPE_OBJECT)

typedef struct {
  char *repo;
  char *sha;
  CasCiVerdict stages[N_STAGES];
  guint n_stages;
} Watch;

static void
watch_free (Watch *watch)
{
  g_free (watch->repo);
  g_free (watch->sha);
  g_free (watch);
}

static void on_stage (GObject      *source,
                      GAsyncResult *res,
                      gpointer      user_data);

static void
next_stage (GTask *task)
{
  CasCiWatcher *self = g_task_get_source_object (task);
  Watch *watch = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  gboolean decided = watch->n_stages > 0 &&
                     cas_ci_verdict_is_decisive (watch->stages[watch->n_stages - 1]);

  if (!decided)
    switch (watch->n_stages)
      {
      case 0:
        cas_tracker_check_runs_async (self->tracker, watch->repo, watch->sha, cancellable,
                                      on_stage, task);
        return;
      case 1:
        cas_woodpecker_get_pipeline_async (self->woodpecker, watch->repo, watch->sha, "push",
                                           cancellable, on_stage, task);
        return;
      case 2:
        if (cas_rollout_check_is_configured (self->rollout))
          {
            cas_rollout_check_run_async (self->rollout, watch->repo, watch->sha, cancellable,
                                         on_stage, task);
            return;
          }
        watch->stages[watch->n_stages++] = CAS_CI_VERDICT_SKIPPED;
        break;
      default:
        break;
      }
  g_task_return_int (task, cas_ci_verdict_fold (watch->stages, watch->n_stages, NULL));
  g_object_unref (task);
}

static CasCiVerdict
check_runs_verdict (CasCiWatcher *self,
                    GPtrArray    *runs)
{
  g_autofree CasCiCheckRun *checks = g_new0 (CasCiCheckRun, runs->len + 1);

  for (guint i = 0; i < runs->len; i++)
    {
      CasTrackerCheckRun *run = g_ptr_array_index (runs, i);

      checks[i] = (CasCiCheckRun) { run->name, run->status, run->conclusion };
    }
  /* A repository without GitHub CI is judged by the later stages. */
  return cas_ci_verdict_from_check_runs (checks, runs->len,
                                         cas_woodpecker_is_configured (self->woodpecker) ||
                                           cas_rollout_check_is_configured (self->rollout),
                                         NULL);
}

static void
on_stage (GObject      *source,
          GAsyncResult *res,
          gpointer      user_data)
{
  GTask *task = user_data;
  CasCiWatcher *self = g_task_get_source_object (task);
  Watch *watch = g_task_get_task_data (task);
  GError *error = NULL;
  CasCiVerdict verdict = CAS_CI_VERDICT_NONE;

  if (watch->n_stages == 0)
    {
      g_autoptr (GPtrArray) runs = cas_tracker_check_runs_finish (CAS_TRACKER (source), res,
                                                                   &error);

      if (runs != NULL)
        verdict = check_runs_verdict (self, runs);
    }
  else if (watch->n_stages == 1)
    cas_woodpecker_get_pipeline_finish (CAS_WOODPECKER (source), res, &verdict, NULL, &error);
  else
    {
      g_autoptr (CasRolloutOutcome) outcome =
        cas_rollout_check_run_finish (CAS_ROLLOUT_CHECK (source), res, &error);

      if (outcome != NULL)
        verdict = outcome->verdict;
    }
  if (error != NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  watch->stages[watch->n_stages++] = verdict;
  next_stage (task);
}

void
cas_ci_watcher_verdict_async (CasCiWatcher       *self,
                              const char         *repo,
                              const char         *sha,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  Watch *watch = g_new0 (Watch, 1);

  g_task_set_source_tag (task, cas_ci_watcher_verdict_async);
  watch->repo = g_strdup (repo);
  watch->sha = g_strdup (sha);
  g_task_set_task_data (task, watch, (GDestroyNotify) watch_free);
  next_stage (task);
}

gboolean
cas_ci_watcher_verdict_finish (CasCiWatcher  *self,
                               GAsyncResult  *result,
                               CasCiVerdict  *verdict,
                               GError       **error)
{
  gssize value;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  value = g_task_propagate_int (G_TASK (result), error);
  if (value < 0)
    return FALSE;
  *verdict = (CasCiVerdict) value;
  return TRUE;
}

CasCiWatcher *
cas_ci_watcher_new (CasTracker      *tracker,
                    CasWoodpecker   *woodpecker,
                    CasRolloutCheck *rollout)
{
  CasCiWatcher *self = g_object_new (CAS_TYPE_CI_WATCHER, NULL);

  self->tracker = g_object_ref (tracker);
  self->woodpecker = g_object_ref (woodpecker);
  self->rollout = g_object_ref (rollout);
  return self;
}

static void
cas_ci_watcher_finalize (GObject *object)
{
  CasCiWatcher *self = CAS_CI_WATCHER (object);

  g_clear_object (&self->tracker);
  g_clear_object (&self->woodpecker);
  g_clear_object (&self->rollout);

  G_OBJECT_CLASS (cas_ci_watcher_parent_class)->finalize (object);
}

static void
cas_ci_watcher_class_init (CasCiWatcherClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_ci_watcher_finalize;
}

static void
cas_ci_watcher_init (CasCiWatcher *self)
{
}
