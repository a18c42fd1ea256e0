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
  g_autoptr (CasTurnRelay) relay = user_data;
  g_autoptr (GError) error = NULL;
  CasTurn *turn = cas_turn_relay_get_turn (relay);

  if (!cas_completions_run_finish (CAS_COMPLETIONS (source), result, &error))
    {
      /* A stream that started carries its error chunk already. */
      cas_turn_relay_reply_error (relay, error);
      return;
    }
  if (cas_turn_relay_is_streaming (relay))
    return; /* the relay answered on the stream */
  cas_turn_relay_reply_json (relay, SOUP_STATUS_OK,
                             cas_openai_format_completion (cas_turn_relay_get_completion_id (relay),
                                                           cas_turn_relay_get_model (relay),
                                                           cas_turn_relay_get_created (relay),
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
  g_autoptr (CasTurn) turn = NULL;
  g_autofree char *prompt = NULL;
  CasTurnRelay *relay;

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

  /* stream: true always answers SSE, whatever Accept says: clients send
   * Accept: application/json even when streaming. */
  turn = cas_turn_new ();
  relay = cas_turn_relay_new (msg, turn, &(CasTurnRelayOptions) {
    .mode = request->stream ? CAS_TURN_RELAY_STREAM : CAS_TURN_RELAY_COLLECT,
    .model = request->model,
    .include_usage = request->include_usage,
  });
  cas_completions_run_async (self->completions,
                             &(CasCompletionRequest) {
                               .model = request->model,
                               .prompt = prompt,
                               .streaming = request->stream,
                             },
                             turn, cas_turn_relay_get_cancellable (relay),
                             on_completion_finished, relay);
}

void
cas_chat_routes_register (CasChatRoutes *self,
                          CasHttpServer *http)
{
  cas_http_server_add_route (http, "GET", "/v1/models", CAS_ROUTE_NONE, handle_models, self);
  cas_http_server_add_route (http, "POST", "/v1/chat/completions", CAS_ROUTE_NONE,
                             handle_chat, self);
}
