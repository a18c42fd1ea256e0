/* cas-chat-routes.c: GET /v1/models and POST /v1/chat/completions.
 *
 * Streaming requests (the voice path) and, by default, non-streaming ones
 * run the no-tools conversational agent statelessly on the flattened
 * dialogue. A non-streaming request runs the tool-enabled workspace agent
 * instead when [chat] agent names another agent.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-http"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "cas-chat-routes.h"
#include "cas-cli-argv.h"
#include "cas-cli-pool.h"
#include "cas-cli-process.h"
#include "cas-error.h"
#include "cas-json.h"
#include "cas-openai.h"
#include "cas-turn-relay.h"
#include "cas-workspace.h"

/* /v1/models needs a "created"; the models have no meaningful date, so a
 * fixed one keeps the list stable (2025-01-01). */
#define MODELS_CREATED 1735689600

struct _CasChatRoutes
{
  GObject parent_instance;

  CasConfig *config;          /* (owned) */
  CasAdmission *admission;    /* (owned) */
  CasAgentSet *agents;        /* (owned) (nullable) */
  CasCliPool *pool;           /* (owned) */
  char *models_json;          /* (owned) the /v1/models body, made once */
  /* (owned) (nullable) --agents JSON of the conversational and the chat
   * agent when they are ours; NULL: the user's own, passed by name. */
  char *conversational_agents_json;
  char *chat_agents_json;
  gboolean workspace_mode;    /* non-streaming requests use [chat] agent */
};

G_DEFINE_FINAL_TYPE (CasChatRoutes, cas_chat_routes, G_TYPE_OBJECT)

/* One request from parse to reply. */
typedef struct {
  CasChatRoutes *routes;      /* (owned) */
  CasTurnRelay *relay;        /* (owned) */
  GCancellable *cancellable;  /* (owned) the wait for a slot and the workspace */
  CasChatRequest *request;    /* (owned) */
  char *prompt;               /* (owned) the flattened dialogue */
  CasCliProcess *warm;        /* (owned) (nullable) taken from the pool */
  gboolean workspace;         /* the workspace agent in a throwaway dir */
  CasAdmissionSlot *slot;     /* (owned) (nullable) while the workspace is made */
  char *workspace_dir;        /* (owned) (nullable) removed when done */
} ChatTurn;

static void
chat_turn_free (ChatTurn *turn)
{
  if (turn->workspace_dir != NULL)
    cas_workspace_remove (turn->workspace_dir);
  g_free (turn->workspace_dir);
  g_clear_pointer (&turn->slot, cas_admission_slot_release);
  if (turn->warm != NULL)
    cas_cli_pool_retire (turn->routes->pool, turn->warm);
  g_clear_object (&turn->warm);
  g_free (turn->prompt);
  g_clear_pointer (&turn->request, cas_chat_request_free);
  if (turn->relay != NULL)
    g_signal_handlers_disconnect_by_data (turn->relay, turn->cancellable);
  g_clear_object (&turn->relay);
  g_clear_object (&turn->cancellable);
  g_clear_object (&turn->routes);
  g_free (turn);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatTurn, chat_turn_free)

static void
cas_chat_routes_finalize (GObject *object)
{
  CasChatRoutes *self = CAS_CHAT_ROUTES (object);

  g_clear_pointer (&self->config, cas_config_unref);
  g_clear_object (&self->admission);
  g_clear_pointer (&self->agents, cas_agent_set_unref);
  g_clear_object (&self->pool);
  g_free (self->models_json);
  g_free (self->conversational_agents_json);
  g_free (self->chat_agents_json);
  G_OBJECT_CLASS (cas_chat_routes_parent_class)->finalize (object);
}

static void
cas_chat_routes_class_init (CasChatRoutesClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_chat_routes_finalize;
}

static void
cas_chat_routes_init (CasChatRoutes *self)
{
}

/* The --agents JSON for @name when it is one of ours, else NULL (the
 * user's own agent in ~/.claude/agents, which the CLI finds by name). */
static char *
agents_json_for (CasChatRoutes *self,
                 const char    *name)
{
  g_autoptr (GError) error = NULL;
  char *json;

  if (self->agents == NULL || name == NULL ||
      cas_agent_set_lookup (self->agents, name) == NULL)
    return NULL;
  json = cas_agent_set_to_cli_json_for (self->agents, name, &error);
  if (json == NULL)
    g_message (_("Agent “%s” cannot be handed to the CLI: %s"), name, error->message);
  return json;
}

CasChatRoutes *
cas_chat_routes_new (CasConfig    *config,
                     CasAdmission *admission,
                     CasAgentSet  *agents,
                     CasCliPool   *pool)
{
  CasChatRoutes *self = g_object_new (CAS_TYPE_CHAT_ROUTES, NULL);

  self->config = cas_config_ref (config);
  self->admission = g_object_ref (admission);
  self->pool = g_object_ref (pool);
  self->agents = agents != NULL ? cas_agent_set_ref (agents) : NULL;
  self->models_json = cas_openai_format_models ((const char * const *) config->claude_models,
                                                MODELS_CREATED);
  /* Made once: the agent set never changes while the daemon runs. */
  self->conversational_agents_json = agents_json_for (self, config->conversational_agent);
  self->workspace_mode = config->chat_agent != NULL && *config->chat_agent != '\0' &&
                         g_strcmp0 (config->chat_agent, config->conversational_agent) != 0;
  if (self->workspace_mode)
    self->chat_agents_json = agents_json_for (self, config->chat_agent);
  return self;
}

static void
handle_models (CasHttpServer     *server,
               SoupServerMessage *msg,
               const char        *path,
               GHashTable        *query,
               gpointer           user_data)
{
  CasChatRoutes *self = user_data;

  cas_http_reply_json (msg, SOUP_STATUS_OK, g_strdup (self->models_json));
}

/* The conversational agent's argv for @model: stateless (the client
 * re-sends the whole dialogue each turn, so a transcript in ~/.claude
 * would only pile up), long-lived when @stream_input. */
static GStrv
conversational_argv (CasChatRoutes *self,
                     const char    *model,
                     gboolean       stream_input)
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
cas_chat_routes_prewarm (CasChatRoutes *self)
{
  g_auto (GStrv) argv = conversational_argv (self, self->config->claude_default_model, TRUE);

  cas_cli_pool_prewarm (self->pool, (const char * const *) argv, NULL);
}

/* --- one turn ------------------------------------------------------------ */

static void
on_relay_done (CasTurnRelay *relay,
               gpointer      user_data)
{
  g_autoptr (ChatTurn) turn = user_data;
  const GError *error = cas_turn_relay_get_error (relay);

  g_signal_handlers_disconnect_by_data (relay, turn);
  if (cas_turn_relay_fell_back (relay))
    cas_cli_pool_note_fallback (turn->routes->pool);
  /* A client that hung up is not a failure worth a log line. */
  if (error != NULL && !g_error_matches (error, CAS_ERROR, CAS_ERROR_CANCELLED))
    g_message (_("Chat completion failed: %s"), error->message);
  if (turn->request->stream)
    return; /* the relay answered on the stream */

  if (error != NULL)
    {
      cas_turn_relay_reply_error (relay, error);
      return;
    }
  cas_turn_relay_reply_json (relay, SOUP_STATUS_OK,
                             cas_openai_format_completion (cas_turn_relay_get_completion_id (relay),
                                                           turn->request->model,
                                                           cas_turn_relay_get_created (relay),
                                                           cas_turn_relay_get_text (relay),
                                                           cas_turn_relay_get_input_tokens (relay),
                                                           cas_turn_relay_get_output_tokens (relay)));
}

static CasCliProcess *
new_cold_run (ChatTurn   *turn,
              GStrv       argv,
              const char *cwd)
{
  CasConfig *config = turn->routes->config;
  /* The prompt goes on stdin: one argv string is capped at 128 KiB. */
  g_autoptr (GBytes) prompt = g_bytes_new (turn->prompt, strlen (turn->prompt));
  CasCliProcess *run = cas_cli_process_new ((const char * const *) argv, cwd, prompt);

  cas_cli_process_set_timeout (run, turn->workspace ? config->chat_timeout_seconds
                                                    : config->conversational_timeout_seconds);
  cas_cli_process_set_kill_grace (run, config->claude_kill_grace_seconds);
  cas_cli_process_set_max_line_bytes (run, config->claude_max_line_bytes);
  return run;
}

static void
start_run (ChatTurn         *turn,
           CasAdmissionSlot *slot,
           const char       *cwd)
{
  CasChatRoutes *self = turn->routes;
  CasConfig *config = self->config;
  g_auto (GStrv) argv = NULL;
  g_autoptr (CasCliProcess) run = NULL;
  CasTurnRelay *relay = turn->relay;

  g_signal_connect (relay, "done", G_CALLBACK (on_relay_done), turn);
  if (turn->workspace)
    {
      CasCliInvocation invocation = {
        .kind = CAS_CLI_KIND_JOB,
        .command = config->claude_command,
        .agent = config->chat_agent,
        .agents_json = self->chat_agents_json,
        .model = turn->request->model,
        .max_budget_usd = config->chat_budget_usd,
        .no_session_persistence = TRUE,
      };

      argv = cas_cli_argv_build (&invocation);
      run = new_cold_run (turn, argv, cwd);
      cas_turn_relay_start (relay, run, slot);
      return;
    }

  argv = conversational_argv (self, turn->request->model, FALSE);
  run = new_cold_run (turn, argv, cwd);
  {
    g_auto (GStrv) warm_argv = conversational_argv (self, turn->request->model, TRUE);

    turn->warm = cas_cli_pool_take (self->pool, (const char * const *) warm_argv, cwd);
  }
  if (turn->warm == NULL)
    {
      cas_turn_relay_start (relay, run, slot);
      return;
    }
  /* The turn's clock starts now, not when the process did. */
  cas_cli_process_set_timeout (turn->warm, config->conversational_timeout_seconds);
  cas_turn_relay_start_warm (relay, turn->warm, turn->prompt, run, slot);
}

static void
on_workspace_ready (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  ChatTurn *turn = user_data;
  g_autoptr (GError) error = NULL;

  turn->workspace_dir = cas_workspace_prepare_finish (result, &error);
  if (turn->workspace_dir == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* The client went away while its workspace was being made. */
      cas_turn_relay_reply_error (turn->relay, error);
      chat_turn_free (turn);
      return;
    }
  if (turn->workspace_dir == NULL)
    {
      g_autoptr (GError) failed = g_error_new (CAS_ERROR, CAS_ERROR_CLI_FAILED,
                                               "workspace setup failed: %s", error->message);

      g_message (_("Chat completion failed: %s"), failed->message);
      cas_turn_relay_reply_error (turn->relay, failed);
      chat_turn_free (turn);
      return;
    }
  start_run (turn, g_steal_pointer (&turn->slot), turn->workspace_dir);
}

static void
on_admitted (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  ChatTurn *turn = user_data;
  CasConfig *config = turn->routes->config;
  g_autoptr (GError) error = NULL;
  CasAdmissionSlot *slot = cas_admission_acquire_finish (CAS_ADMISSION (source), result, &error);

  if (slot == NULL)
    {
      /* CAS_ERROR_QUEUE_FULL: 503 "queue full" in OpenAI's shape. */
      cas_turn_relay_reply_error (turn->relay, error);
      chat_turn_free (turn);
      return;
    }
  if (!turn->workspace)
    {
      start_run (turn, slot, NULL);
      return;
    }
  turn->slot = slot;
  cas_workspace_prepare_async (config->chat_workspace_repo, config->jobs_jobs_dir,
                               config->jobs_git_crypt_key_file,
                               config->jobs_fetch_debounce_seconds, turn->cancellable,
                               on_workspace_ready, turn);
}

static void
handle_chat (CasHttpServer     *server,
             SoupServerMessage *msg,
             const char        *path,
             GHashTable        *query,
             gpointer           user_data)
{
  CasChatRoutes *self = user_data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) object = NULL;
  g_autoptr (CasChatRequest) request = NULL;
  CasTurnRelayOptions options = { 0 };
  ChatTurn *turn;

  object = cas_json_parse_object (body->data, body->length, &error);
  if (object != NULL)
    request = cas_chat_request_parse (object, self->config->claude_default_model,
                                      (const char * const *) self->config->claude_models,
                                      &error);
  if (request == NULL)
    {
      cas_http_reply_error (msg, error);
      return;
    }

  turn = g_new0 (ChatTurn, 1);
  turn->routes = g_object_ref (self);
  turn->workspace = !request->stream && self->workspace_mode;
  turn->prompt = cas_chat_request_flatten_prompt (request);

  /* stream: true always answers SSE, whatever Accept says: clients send
   * Accept: application/json even when streaming. */
  options.mode = request->stream ? CAS_TURN_RELAY_STREAM : CAS_TURN_RELAY_COLLECT;
  options.model = request->model;
  options.include_usage = request->include_usage;
  turn->request = g_steal_pointer (&request);
  turn->relay = cas_turn_relay_new (msg, &options);
  /* A client that leaves while it waits gives up its place in the queue
   * (and the clone a workspace run would make). */
  turn->cancellable = g_cancellable_new ();
  g_signal_connect_swapped (turn->relay, "client-gone", G_CALLBACK (g_cancellable_cancel),
                            turn->cancellable);

  cas_admission_acquire_async (self->admission, turn->cancellable, on_admitted, turn);
}

void
cas_chat_routes_register (CasChatRoutes *self,
                          CasHttpServer *http)
{
  cas_http_server_add_route (http, "GET", "/v1/models", CAS_ROUTE_NONE, handle_models, self);
  cas_http_server_add_route (http, "POST", "/v1/chat/completions", CAS_ROUTE_NONE,
                             handle_chat, self);
}
