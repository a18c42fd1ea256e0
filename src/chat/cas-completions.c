/* cas-completions.c: one stateless completion: a slot, maybe a
 * workspace, a warm process or a cold one, and the turn on it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-chat"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "cas-cli-argv.h"
#include "cas-completions.h"
#include "cas-error.h"
#include "cas-workspace.h"

struct _CasCompletions
{
  GObject parent_instance;

  CasConfig *config;          /* (owned) */
  CasAdmission *admission;    /* (owned) */
  CasAgentSet *agents;        /* (owned) (nullable) */
  CasCliPool *pool;           /* (owned) */
  /* (owned) (nullable) --agents JSON of the conversational and the chat
   * agent when they are ours; NULL: the user's own, passed by name. */
  char *conversational_agents_json;
  char *chat_agents_json;
  gboolean workspace_mode;    /* non-streaming requests use [chat] agent */
};

G_DEFINE_FINAL_TYPE (CasCompletions, cas_completions, G_TYPE_OBJECT)

/* One completion, from its request to its callback. */
typedef struct {
  CasCompletions *owner;      /* (unowned) the task holds a ref */
  char *model;                /* (owned) */
  char *prompt;               /* (owned) */
  gboolean workspace;         /* the workspace agent in a throwaway dir */
  CasTurn *turn;              /* (owned) */
  gulong done_id;
  GCancellable *cancellable;  /* (owned) (nullable) the caller's */
  gulong cancelled_id;
  CasCliProcess *warm;        /* (owned) (nullable) taken from the pool */
  CasAdmissionSlot *slot;     /* (owned) (nullable) while the workspace is made */
  char *workspace_dir;        /* (owned) (nullable) removed when done */
} Completion;

static void
completion_free (gpointer data)
{
  Completion *run = data;

  if (run->cancellable != NULL)
    g_clear_signal_handler (&run->cancelled_id, run->cancellable);
  g_clear_signal_handler (&run->done_id, run->turn);
  if (run->workspace_dir != NULL)
    cas_workspace_remove (run->workspace_dir);
  g_free (run->workspace_dir);
  cas_cli_pool_retire (run->owner->pool, run->warm);
  g_clear_object (&run->warm);
  g_clear_pointer (&run->slot, cas_admission_slot_release);
  g_clear_object (&run->cancellable);
  g_clear_object (&run->turn);
  g_free (run->model);
  g_free (run->prompt);
  g_free (run);
}

static void
cas_completions_finalize (GObject *object)
{
  CasCompletions *self = CAS_COMPLETIONS (object);

  g_clear_pointer (&self->config, cas_config_unref);
  g_clear_object (&self->admission);
  g_clear_pointer (&self->agents, cas_agent_set_unref);
  g_clear_object (&self->pool);
  g_free (self->conversational_agents_json);
  g_free (self->chat_agents_json);
  G_OBJECT_CLASS (cas_completions_parent_class)->finalize (object);
}

static void
cas_completions_class_init (CasCompletionsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_completions_finalize;
}

static void
cas_completions_init (CasCompletions *self)
{
}

/* The --agents JSON for @name when it is one of ours, else NULL (the
 * user's own agent in ~/.claude/agents, which the CLI finds by name). */
static char *
agents_json_for (CasCompletions *self,
                 const char     *name)
{
  g_autoptr (GError) error = NULL;
  char *json;

  if (!cas_agent_set_cli_json_if_ours (self->agents, name, &json, &error))
    g_message (_("Agent “%s” cannot be handed to the CLI: %s"), name, error->message);
  return json;
}

CasCompletions *
cas_completions_new (CasConfig    *config,
                     CasAdmission *admission,
                     CasAgentSet  *agents,
                     CasCliPool   *pool)
{
  CasCompletions *self = g_object_new (CAS_TYPE_COMPLETIONS, NULL);

  self->config = cas_config_ref (config);
  self->admission = g_object_ref (admission);
  self->pool = g_object_ref (pool);
  self->agents = agents != NULL ? cas_agent_set_ref (agents) : NULL;
  /* Made once: the agent set never changes while the daemon runs. */
  self->conversational_agents_json = agents_json_for (self, config->conversational_agent);
  self->workspace_mode = config->chat_agent != NULL && *config->chat_agent != '\0' &&
                         g_strcmp0 (config->chat_agent, config->conversational_agent) != 0;
  if (self->workspace_mode)
    self->chat_agents_json = agents_json_for (self, config->chat_agent);
  return self;
}

/* The conversational agent's argv for @model: stateless (the client
 * re-sends the whole dialogue each turn, so a transcript in ~/.claude
 * would only pile up), long-lived when @stream_input. */
static GStrv
conversational_argv (CasCompletions *self,
                     const char     *model,
                     gboolean        stream_input)
{
  CasCliInvocation invocation = {
    .kind = CAS_CLI_KIND_CONVERSATIONAL,
    .command = self->config->claude_command,
    .agent = self->config->conversational_agent,
    .agents_json = self->conversational_agents_json,
    .model = model,
    .no_session_persistence = TRUE,
    .stream_input = stream_input,
  };

  return cas_cli_argv_build (&invocation);
}

void
cas_completions_prewarm (CasCompletions *self)
{
  g_auto (GStrv) argv = conversational_argv (self, self->config->claude_default_model, TRUE);

  cas_cli_pool_prewarm (self->pool, (const char * const *) argv, NULL);
}

static void
on_turn_done (CasTurn  *turn,
              gpointer  user_data)
{
  g_autoptr (GTask) task = user_data;
  Completion *run = g_task_get_task_data (task);
  const GError *error = cas_turn_get_error (turn);

  g_clear_signal_handler (&run->done_id, turn);
  /* Its one caller is served: it exits while the answer is sent. */
  cas_cli_pool_retire (run->owner->pool, run->warm);
  g_clear_object (&run->warm);
  if (cas_turn_fell_back (turn))
    cas_cli_pool_note_fallback (run->owner->pool);
  if (error == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  /* A client that hung up is not a failure worth a log line. */
  if (!g_error_matches (error, CAS_ERROR, CAS_ERROR_CANCELLED))
    g_message (_("Chat completion failed: %s"), error->message);
  g_task_return_error (task, g_error_copy (error));
}

static CasCliProcess *
new_cold_run (Completion *run,
              GStrv       argv,
              const char *cwd)
{
  CasConfig *config = run->owner->config;
  /* The prompt goes on stdin: one argv string is capped at 128 KiB. */
  g_autoptr (GBytes) prompt = g_bytes_new (run->prompt, strlen (run->prompt));
  CasCliProcess *process = cas_cli_process_new ((const char * const *) argv, cwd, prompt);

  cas_cli_process_set_timeout (process, run->workspace ? config->chat_timeout_seconds
                                                       : config->conversational_timeout_seconds);
  cas_cli_process_set_kill_grace (process, config->claude_kill_grace_seconds);
  cas_cli_process_set_max_line_bytes (process, config->claude_max_line_bytes);
  return process;
}

static void
start_turn (GTask            *task,
            CasAdmissionSlot *slot,
            const char       *cwd)
{
  Completion *run = g_task_get_task_data (task);
  CasCompletions *self = run->owner;
  CasConfig *config = self->config;
  g_auto (GStrv) argv = NULL;
  g_auto (GStrv) warm_argv = NULL;
  g_autoptr (CasCliProcess) cold = NULL;

  run->done_id = g_signal_connect (run->turn, "done", G_CALLBACK (on_turn_done),
                                   g_object_ref (task));
  if (run->workspace)
    {
      CasCliInvocation invocation = {
        .kind = CAS_CLI_KIND_JOB,
        .command = config->claude_command,
        .agent = config->chat_agent,
        .agents_json = self->chat_agents_json,
        .model = run->model,
        .max_budget_usd = config->chat_budget_usd,
        .no_session_persistence = TRUE,
      };

      argv = cas_cli_argv_build (&invocation);
      cold = new_cold_run (run, argv, cwd);
      cas_turn_start (run->turn, cold, slot);
      return;
    }

  argv = conversational_argv (self, run->model, FALSE);
  cold = new_cold_run (run, argv, cwd);
  warm_argv = conversational_argv (self, run->model, TRUE);
  run->warm = cas_cli_pool_take (self->pool, (const char * const *) warm_argv, cwd);
  if (run->warm == NULL)
    {
      cas_turn_start (run->turn, cold, slot);
      return;
    }
  /* The turn's clock starts now, not when the process did. */
  cas_cli_process_set_timeout (run->warm, config->conversational_timeout_seconds);
  cas_turn_start_warm (run->turn, run->warm, run->prompt, cold, slot);
}

static void
on_workspace_ready (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  Completion *run = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  run->workspace_dir = cas_workspace_prepare_finish (result, &error);
  if (run->workspace_dir == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* The caller went away while its workspace was being made. */
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (run->workspace_dir == NULL)
    {
      g_message (_("Chat completion failed: %s"), error->message);
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_CLI_FAILED,
                               "workspace setup failed: %s", error->message);
      return;
    }
  start_turn (task, g_steal_pointer (&run->slot), run->workspace_dir);
}

static void
on_admitted (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  Completion *run = g_task_get_task_data (task);
  CasConfig *config = run->owner->config;
  g_autoptr (GError) error = NULL;
  CasAdmissionSlot *slot = cas_admission_acquire_finish (CAS_ADMISSION (source), result, &error);

  if (slot == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (!run->workspace)
    {
      start_turn (task, slot, NULL);
      return;
    }
  run->slot = slot;
  cas_workspace_prepare_async (config->chat_workspace_repo, config->jobs_jobs_dir,
                               config->jobs_git_crypt_key_file,
                               config->jobs_fetch_debounce_seconds, run->cancellable,
                               on_workspace_ready, g_steal_pointer (&task));
}

static void
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  cas_turn_cancel (user_data);
}

void
cas_completions_run_async (CasCompletions             *self,
                           const CasCompletionRequest *request,
                           CasTurn                    *turn,
                           GCancellable               *cancellable,
                           GAsyncReadyCallback         callback,
                           gpointer                    user_data)
{
  g_autoptr (GTask) task = NULL;
  CasAdmissionTicket *ticket;
  GError *error = NULL;
  Completion *run;

  g_return_if_fail (CAS_IS_COMPLETIONS (self));
  g_return_if_fail (CAS_IS_TURN (turn));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cas_completions_run_async);
  /* The turn's own outcome is the answer, even for a cancelled caller. */
  g_task_set_check_cancellable (task, FALSE);
  /* The prompt is held while the request waits: it counts. */
  ticket = cas_admission_reserve (self->admission, strlen (request->prompt), &error);
  if (ticket == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  run = g_new0 (Completion, 1);
  run->owner = self;
  run->model = g_strdup (request->model);
  run->prompt = g_strdup (request->prompt);
  run->workspace = !request->streaming && self->workspace_mode;
  run->turn = g_object_ref (turn);
  g_task_set_task_data (task, run, completion_free);
  if (cancellable != NULL)
    {
      run->cancellable = g_object_ref (cancellable);
      /* Also a running turn: the one who asked is gone. */
      run->cancelled_id = g_signal_connect (cancellable, "cancelled",
                                            G_CALLBACK (on_cancelled), turn);
    }

  /* A caller that leaves while it waits gives up its place in the queue
   * (and the clone a workspace run would make). */
  cas_admission_acquire_reserved_async (self->admission, ticket, cancellable, on_admitted,
                                        g_steal_pointer (&task));
}

gboolean
cas_completions_run_finish (CasCompletions *self,
                            GAsyncResult   *result,
                            GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
