/* cas-conversation-routes.c: POST /v1/conversational: parse the body,
 * run the turn through CasConversations, answer as SSE chunks or one
 * JSON reply.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-http"

#include "config.h"

#include "cas-conversation-routes.h"
#include "cas-error.h"
#include "cas-json.h"
#include "cas-turn-relay.h"

struct _CasConversationRoutes
{
  GObject parent_instance;

  CasConfig *config;                /* (owned) */
  CasConversations *conversations;  /* (owned) */
};

G_DEFINE_FINAL_TYPE (CasConversationRoutes, cas_conversation_routes, G_TYPE_OBJECT)

/* One request until the service is done with it. */
typedef struct {
  CasTurnRelay *relay;        /* (owned) */
  char *session_id;           /* (owned) */
} Exchange;

static void
exchange_free (Exchange *exchange)
{
  g_clear_object (&exchange->relay);
  g_free (exchange->session_id);
  g_free (exchange);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Exchange, exchange_free)

static void
on_turn_finished (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr (Exchange) exchange = user_data;
  g_autoptr (GError) error = NULL;
  GString *out;

  if (!cas_conversations_run_turn_finish (CAS_CONVERSATIONS (source), result, &error))
    {
      /* A stream that started carries its error chunk already; this
       * answers plain requests and streams that failed before their
       * first line (or a client that left, so libsoup lets go). */
      cas_turn_relay_reply_error (exchange->relay, error);
      return;
    }
  if (cas_turn_relay_is_streaming (exchange->relay))
    return;
  out = g_string_sized_new (128);
  g_string_append (out, "{\"session_id\":");
  cas_json_append_string (out, exchange->session_id);
  g_string_append (out, ",\"reply\":");
  cas_json_append_string (out, cas_turn_get_text (cas_turn_relay_get_turn (exchange->relay)));
  g_string_append_c (out, '}');
  cas_turn_relay_reply_json (exchange->relay, 200, g_string_free (out, FALSE));
}

static void
handle_turn (CasHttpServer     *server,
             SoupServerMessage *msg,
             const char        *path,
             GHashTable        *query,
             gpointer           user_data)
{
  CasConversationRoutes *self = user_data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (JsonObject) object = NULL;
  g_autoptr (CasConversationRequest) request = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (CasTurn) turn = NULL;
  Exchange *exchange;

  object = cas_json_parse_object (body->data, body->length, &error);
  if (object != NULL)
    request = cas_conversation_request_parse (object, self->config->claude_default_model,
                                              (const char * const *) self->config->claude_models,
                                              &error);
  if (request == NULL)
    {
      cas_http_reply_error (msg, error);
      return;
    }

  turn = cas_turn_new ();
  exchange = g_new0 (Exchange, 1);
  exchange->session_id = g_strdup (request->session_id);
  exchange->relay = cas_turn_relay_new (msg, turn, &(CasTurnRelayOptions) {
    .mode = request->stream ? CAS_TURN_RELAY_STREAM : CAS_TURN_RELAY_COLLECT,
    .model = request->model,
  });
  /* A client that leaves gives up its place in the queue, or interrupts
   * its turn (the conversation keeps its process). */
  cas_conversations_run_turn_async (self->conversations, request, turn,
                                    cas_turn_relay_get_cancellable (exchange->relay),
                                    on_turn_finished, exchange);
}

static void
cas_conversation_routes_finalize (GObject *object)
{
  CasConversationRoutes *self = CAS_CONVERSATION_ROUTES (object);

  g_clear_pointer (&self->config, cas_config_unref);
  g_clear_object (&self->conversations);
  G_OBJECT_CLASS (cas_conversation_routes_parent_class)->finalize (object);
}

static void
cas_conversation_routes_class_init (CasConversationRoutesClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_conversation_routes_finalize;
}

static void
cas_conversation_routes_init (CasConversationRoutes *self)
{
}

CasConversationRoutes *
cas_conversation_routes_new (CasConfig        *config,
                             CasConversations *conversations)
{
  CasConversationRoutes *self = g_object_new (CAS_TYPE_CONVERSATION_ROUTES, NULL);

  self->config = cas_config_ref (config);
  self->conversations = g_object_ref (conversations);
  return self;
}

void
cas_conversation_routes_register (CasConversationRoutes *self,
                                  CasHttpServer         *http)
{
  cas_http_server_add_route (http, "POST", "/v1/conversational", CAS_ROUTE_NONE,
                             handle_turn, self);
}
