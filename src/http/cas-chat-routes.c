/* cas-chat-routes.c: GET /v1/models and POST /v1/chat/completions: parse
 * an OpenAI request, run it through CasCompletions, answer as SSE chunks
 * or one chat.completion body.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-http"

#include "config.h"

#include "cas-chat-routes.h"
#include "cas-error.h"
#include "cas-json.h"
#include "cas-openai.h"
#include "cas-turn-relay.h"

/* /v1/models needs a "created"; the models have no meaningful date, so a
 * fixed one keeps the list stable (2025-01-01). */
#define MODELS_CREATED 1735689600

struct _CasChatRoutes
{
  GObject parent_instance;

  CasConfig *config;             /* (owned) */
  CasCompletions *completions;   /* (owned) */
  char *models_json;             /* (owned) the /v1/models body, made once */
};

G_DEFINE_FINAL_TYPE (CasChatRoutes, cas_chat_routes, G_TYPE_OBJECT)

/* One request until the service is done with it. */
typedef struct {
  CasTurnRelay *relay;        /* (owned) */
  CasTurn *turn;              /* (owned) */
  GCancellable *cancellable;  /* (owned) cancelled when the client goes */
  char *model;                /* (owned) */
  gboolean stream;
} Exchange;

static void
exchange_free (Exchange *exchange)
{
  g_signal_handlers_disconnect_by_data (exchange->relay, exchange->cancellable);
  g_clear_object (&exchange->relay);
  g_clear_object (&exchange->turn);
  g_clear_object (&exchange->cancellable);
  g_free (exchange->model);
  g_free (exchange);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Exchange, exchange_free)

static void
cas_chat_routes_finalize (GObject *object)
{
  CasChatRoutes *self = CAS_CHAT_ROUTES (object);

  g_clear_pointer (&self->config, cas_config_unref);
  g_clear_object (&self->completions);
  g_free (self->models_json);
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

CasChatRoutes *
cas_chat_routes_new (CasConfig      *config,
                     CasCompletions *completions)
{
  CasChatRoutes *self = g_object_new (CAS_TYPE_CHAT_ROUTES, NULL);

  self->config = cas_config_ref (config);
  self->completions = g_object_ref (completions);
  self->models_json = cas_openai_format_models ((const char * const *) config->claude_models,
                                                MODELS_CREATED);
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

static void
on_completion_finished (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr (Exchange) exchange = user_data;
  g_autoptr (GError) error = NULL;
  CasTurn *turn = exchange->turn;

  if (!cas_completions_run_finish (CAS_COMPLETIONS (source), result, &error))
    {
      /* A stream that started carries its error chunk already. */
      cas_turn_relay_reply_error (exchange->relay, error);
      return;
    }
  if (exchange->stream)
    return; /* the relay answered on the stream */
  cas_turn_relay_reply_json (exchange->relay, SOUP_STATUS_OK,
                             cas_openai_format_completion (cas_turn_relay_get_completion_id (exchange->relay),
                                                           exchange->model,
                                                           cas_turn_relay_get_created (exchange->relay),
                                                           cas_turn_get_text (turn),
                                                           cas_turn_get_input_tokens (turn),
                                                           cas_turn_get_output_tokens (turn)));
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
  g_autofree char *prompt = NULL;
  CasTurnRelayOptions options = { 0 };
  Exchange *exchange;

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
  prompt = cas_chat_request_flatten_prompt (request);

  exchange = g_new0 (Exchange, 1);
  exchange->turn = cas_turn_new ();
  exchange->cancellable = g_cancellable_new ();
  exchange->model = g_strdup (request->model);
  exchange->stream = request->stream;
  /* stream: true always answers SSE, whatever Accept says: clients send
   * Accept: application/json even when streaming. */
  options.mode = request->stream ? CAS_TURN_RELAY_STREAM : CAS_TURN_RELAY_COLLECT;
  options.model = request->model;
  options.include_usage = request->include_usage;
  exchange->relay = cas_turn_relay_new (msg, exchange->turn, &options);
  g_signal_connect_swapped (exchange->relay, "client-gone", G_CALLBACK (g_cancellable_cancel),
                            exchange->cancellable);

  cas_completions_run_async (self->completions,
                             &(CasCompletionRequest) {
                               .model = request->model,
                               .prompt = prompt,
                               .streaming = request->stream,
                             },
                             exchange->turn, exchange->cancellable,
                             on_completion_finished, exchange);
}

void
cas_chat_routes_register (CasChatRoutes *self,
                          CasHttpServer *http)
{
  cas_http_server_add_route (http, "GET", "/v1/models", CAS_ROUTE_NONE, handle_models, self);
  cas_http_server_add_route (http, "POST", "/v1/chat/completions", CAS_ROUTE_NONE,
                             handle_chat, self);
}
