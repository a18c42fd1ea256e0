/* cas-session-routes.c: the breakglass routes: parse, call the session
 * manager, format; and the SSE fan-out of each session's events.
 *
 * A stream replays the log from disk after Last-Event-ID, a chunk at a
 * time as the client takes it, then says "caught-up" and follows the
 * live events. Each client has its own bounded backlog (CasSseWriter):
 * one that falls too far behind is dropped and can re-attach with its
 * Last-Event-ID, while the turn and the other clients go on.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-breakglass"

#include "config.h"

#include <string.h>

#include "cas-error.h"
#include "cas-json.h"
#include "cas-session-routes.h"
#include "cas-sse-writer.h"

#define SESSION_PREFIX "/api/session/"
/* Replay reads this much of the log at a time, and the next chunk only
 * once the socket took the last: a client replaying a long log holds one
 * chunk at most in the daemon (the rest waits on disk). */
#define REPLAY_CHUNK_BYTES (32 * 1024)
#define CAUGHT_UP_FRAME "event: caught-up\ndata: {}\n\n"
#define KEEPALIVE_FRAME ": keepalive\n\n"
/* The keepalive period is checked in quarters: a comment follows the
 * last write by 1 to 1.25 periods. */
#define TICKS_PER_KEEPALIVE 4

struct _CasSessionRoutes
{
  GObject parent_instance;

  CasConfig *config;            /* (owned) */
  CasSessionManager *manager;   /* (owned) */
  GList *clients;               /* (owned) of Client */
};

G_DEFINE_FINAL_TYPE (CasSessionRoutes, cas_session_routes, G_TYPE_OBJECT)

/* One attached stream. */
typedef struct {
  CasSessionRoutes *routes;     /* (unowned) */
  CasSession *session;          /* (owned) */
  CasSseWriter *writer;         /* (owned) */
  GList *link;                  /* in routes->clients */
  guint64 next_id;              /* the next event it gets */
  gboolean live;                /* caught up: follows the broadcast */
  gboolean pumping;
  gulong event_id;
  gulong closed_id;
  gulong writer_closed_id;
  gulong drained_id;
  guint keepalive_id;
  guint idle_ticks;
} Client;

static void
client_free (Client *client)
{
  CasSessionRoutes *self = client->routes;

  self->clients = g_list_delete_link (self->clients, client->link);
  g_clear_signal_handler (&client->event_id, client->session);
  g_clear_signal_handler (&client->closed_id, client->session);
  g_clear_signal_handler (&client->writer_closed_id, client->writer);
  g_clear_signal_handler (&client->drained_id, client->writer);
  g_clear_handle_id (&client->keepalive_id, g_source_remove);
  g_clear_object (&client->session);
  g_clear_object (&client->writer);
  g_free (client);
}

static gboolean
client_send (Client     *client,
             const char *data,
             gsize       len)
{
  client->idle_ticks = 0;
  return cas_sse_writer_send_data (client->writer, data, len);
}

/* Replays from the log while the client keeps up; caught up, it goes
 * live. The client may be freed on return. */
static void
client_pump (Client *client)
{
  if (client->pumping)
    return;
  client->pumping = TRUE;
  while (!client->live)
    {
      g_autoptr (GString) frames = NULL;
      g_autoptr (GError) error = NULL;
      guint64 next;

      if (cas_sse_writer_get_backlog (client->writer) > 0)
        break;   /* "drained" brings us back */
      if (client->next_id >= cas_session_get_event_count (client->session))
        {
          client->live = TRUE;
          client->pumping = FALSE;
          client_send (client, CAUGHT_UP_FRAME, strlen (CAUGHT_UP_FRAME));
          return;
        }
      frames = g_string_sized_new (REPLAY_CHUNK_BYTES + 1024);
      if (!cas_session_read_frames (client->session, client->next_id, REPLAY_CHUNK_BYTES,
                                    frames, &next, &error))
        {
          g_message ("%s", error->message);
          /* May free the client: nothing of it is touched after. */
          cas_sse_writer_complete (client->writer);
          return;
        }
      client->next_id = next;
      if (!client_send (client, frames->str, frames->len))
        return;   /* gone, and freed */
    }
  client->pumping = FALSE;
}

static void
on_events (CasSession *session,
           guint64     first,
           guint       count,
           const char *frames,
           guint64     len,
           gpointer    user_data)
{
  Client *client = user_data;
  const char *start = frames;

  /* One still replaying reads these from the log in its turn. */
  if (!client->live || client->next_id < first || client->next_id >= first + count)
    return;
  /* Frames end with a blank line, which our JSON never holds. */
  for (guint64 id = first; id < client->next_id; id++)
    start = strstr (start, "\n\n") + 2;
  client->next_id = first + count;
  client_send (client, start, len - (guint64) (start - frames));
}

static void
on_session_closed (CasSession *session,
                   gpointer    user_data)
{
  Client *client = user_data;

  /* The stream ends cleanly once what is pending is out. */
  cas_sse_writer_complete (client->writer);
}

static void
on_writer_closed (CasSseWriter *writer,
                  gboolean      completed,
                  gpointer      user_data)
{
  Client *client = user_data;

  if (!completed)
    g_debug ("session %s: a stream went away at event %" G_GUINT64_FORMAT,
             cas_session_get_id (client->session), client->next_id);
  client_free (client);
}

static void
on_drained (CasSseWriter *writer,
            gpointer      user_data)
{
  client_pump (user_data);
}

static gboolean
on_keepalive (gpointer user_data)
{
  Client *client = user_data;

  /* libsoup notices a client gone only when it writes. */
  if (++client->idle_ticks >= TICKS_PER_KEEPALIVE)
    client_send (client, KEEPALIVE_FRAME, strlen (KEEPALIVE_FRAME));
  return G_SOURCE_CONTINUE;
}

/* --- parsing --------------------------------------------------------------- */

static gboolean
parse_event_id (const char *text,
                guint64    *out)
{
  return text != NULL && *text != '\0' && strlen (text) <= 20 &&
         g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64 - 1, out, NULL);
}

static void
reply_bad_request (SoupServerMessage *msg,
                   const char        *message)
{
  cas_http_reply_error_status (msg, 400, "invalid_argument", message);
}

static void
reply_not_found (SoupServerMessage *msg)
{
  cas_http_reply_error_status (msg, 404, "not_found", "session not found");
}

static void
reply_method_not_allowed (SoupServerMessage *msg,
                          const char        *allowed)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Allow", allowed);
  cas_http_reply_error_status (msg, 405, "method_not_allowed",
                               "method not allowed on this route");
}

/* --- handlers -------------------------------------------------------------- */

static void
handle_stream (CasSessionRoutes  *self,
               SoupServerMessage *msg,
               CasSession        *session,
               GHashTable        *query)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *header = soup_message_headers_get_one (headers, "Last-Event-ID");
  const char *param = query != NULL ? g_hash_table_lookup (query, "last_event_id") : NULL;
  guint64 last = 0;
  gboolean resume = FALSE;
  guint keepalive_ms;
  Client *client;

  /* The header wins: EventSource sends it on its own reconnects. */
  if (header != NULL || param != NULL)
    {
      if (!parse_event_id (header != NULL ? header : param, &last))
        {
          reply_bad_request (msg, "Last-Event-ID must be an event id (a non-negative integer)");
          return;
        }
      resume = TRUE;
    }

  client = g_new0 (Client, 1);
  client->routes = self;
  client->session = g_object_ref (session);
  client->next_id = resume ? last + 1 : 0;
  soup_server_message_pause (msg);
  client->writer = cas_sse_writer_new (msg, 0);
  self->clients = g_list_prepend (self->clients, client);
  client->link = self->clients;
  client->event_id = g_signal_connect (session, "events", G_CALLBACK (on_events), client);
  client->closed_id = g_signal_connect (session, "closed", G_CALLBACK (on_session_closed), client);
  client->writer_closed_id = g_signal_connect (client->writer, "closed",
                                               G_CALLBACK (on_writer_closed), client);
  client->drained_id = g_signal_connect (client->writer, "drained",
                                         G_CALLBACK (on_drained), client);
  keepalive_ms = self->config->breakglass_sse_keepalive_seconds * 1000 / TICKS_PER_KEEPALIVE;
  client->keepalive_id = g_timeout_add (MAX (keepalive_ms, 1), on_keepalive, client);
  /* The service is stopping: what is on disk, then the end. */
  if (cas_session_is_closed (session))
    {
      client->live = TRUE;
      cas_sse_writer_complete (client->writer);
      return;
    }
  client_pump (client);
}

static void
handle_prompt (CasSessionRoutes  *self,
               SoupServerMessage *msg,
               const char        *id)
{
  g_autoptr (GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autoptr (JsonObject) object = NULL;
  g_autoptr (GError) error = NULL;
  JsonNode *prompt_node, *model_node;
  const char *prompt, *model = NULL;
  gsize length;
  const char *data = g_bytes_get_data (body, &length);

  object = cas_json_parse_object (data, length, &error);
  if (object == NULL)
    {
      cas_http_reply_error (msg, error);
      return;
    }
  prompt_node = json_object_get_member (object, "prompt");
  if (prompt_node == NULL || !JSON_NODE_HOLDS_VALUE (prompt_node) ||
      json_node_get_value_type (prompt_node) != G_TYPE_STRING)
    {
      g_autofree char *message = g_strdup_printf ("prompt must be a non-empty string, not %s",
                                                  prompt_node != NULL
                                                    ? cas_json_describe_node (prompt_node)
                                                    : "missing");

      reply_bad_request (msg, message);
      return;
    }
  prompt = json_node_get_string (prompt_node);
  model_node = json_object_get_member (object, "model");
  if (model_node != NULL && !JSON_NODE_HOLDS_NULL (model_node))
    {
      if (!JSON_NODE_HOLDS_VALUE (model_node) ||
          json_node_get_value_type (model_node) != G_TYPE_STRING)
        {
          g_autofree char *message = g_strdup_printf ("model must be a string, not %s",
                                                      cas_json_describe_node (model_node));

          reply_bad_request (msg, message);
          return;
        }
      model = json_node_get_string (model_node);
    }
  if (!cas_session_manager_prompt (self->manager, id, prompt, model, &error))
    {
      cas_http_reply_error (msg, error);
      return;
    }
  cas_http_reply_json (msg, SOUP_STATUS_OK, g_strdup ("{\"status\":\"started\"}"));
}

static void
handle_session (CasHttpServer     *server,
                SoupServerMessage *msg,
                const char        *path,
                GHashTable        *query,
                gpointer           user_data)
{
  CasSessionRoutes *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  const char *rest = path + strlen (SESSION_PREFIX);
  const char *slash = strchr (rest, '/');
  g_autofree char *id = NULL;
  g_autoptr (GError) error = NULL;
  const char *action;
  CasSession *session;
  gsize id_len;

  /* The id is looked up in memory only: a hostile one never reaches the
   * file system. */
  id_len = slash != NULL ? (gsize) (slash - rest) : strlen (rest);
  if (id_len != 36)
    {
      reply_not_found (msg);
      return;
    }
  id = g_strndup (rest, id_len);
  action = slash != NULL ? slash + 1 : NULL;
  session = cas_session_manager_lookup (self->manager, id);
  if (session == NULL)
    {
      reply_not_found (msg);
      return;
    }

  if (action == NULL)
    {
      gboolean deleted;

      if (!g_str_equal (method, "DELETE"))
        {
          reply_method_not_allowed (msg, "DELETE");
          return;
        }
      deleted = cas_session_manager_delete (self->manager, id, &error);
      if (!deleted)
        cas_http_reply_error (msg, error);
      else
        cas_http_reply_json (msg, SOUP_STATUS_OK, g_strdup ("{\"deleted\":true}"));
      return;
    }
  if (g_str_equal (action, "stream"))
    {
      if (!g_str_equal (method, "GET"))
        reply_method_not_allowed (msg, "GET");
      else
        {
          cas_session_manager_expect_prompt (self->manager, id);
          handle_stream (self, msg, session, query);
        }
      return;
    }
  if (g_str_equal (action, "prompt") || g_str_equal (action, "cancel"))
    {
      gboolean cancelled = FALSE;

      if (!g_str_equal (method, "POST"))
        reply_method_not_allowed (msg, "POST");
      else if (g_str_equal (action, "prompt"))
        handle_prompt (self, msg, id);
      else if (!cas_session_manager_cancel (self->manager, id, &cancelled, &error))
        cas_http_reply_error (msg, error);
      else
        cas_http_reply_json (msg, SOUP_STATUS_OK,
                             g_strdup (cancelled ? "{\"cancelled\":true}" : "{\"cancelled\":false}"));
      return;
    }
  cas_http_reply_error_status (msg, 404, "not_found", "no such route");
}

static GQuark finished_quark;

static void
on_msg_finished (SoupServerMessage *msg,
                 gpointer           user_data)
{
  g_object_set_qdata (G_OBJECT (msg), finished_quark, GINT_TO_POINTER (TRUE));
}

static void
on_created (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr (SoupServerMessage) msg = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *id = cas_session_manager_create_finish (CAS_SESSION_MANAGER (source),
                                                           result, &error);
  GString *out;

  g_signal_handlers_disconnect_by_func (msg, on_msg_finished, NULL);
  /* A client gone already has nothing left to answer (and unpausing a
   * finished message is a critical). */
  if (g_object_get_qdata (G_OBJECT (msg), finished_quark) != NULL)
    return;
  if (id == NULL)
    cas_http_reply_error (msg, error);
  else
    {
      out = g_string_new ("{\"session_id\":");
      cas_json_append_string (out, id);
      g_string_append_c (out, '}');
      cas_http_reply_json (msg, SOUP_STATUS_OK, g_string_free (out, FALSE));
    }
  soup_server_message_unpause (msg);
}

static void
handle_create (CasHttpServer     *server,
               SoupServerMessage *msg,
               const char        *path,
               GHashTable        *query,
               gpointer           user_data)
{
  CasSessionRoutes *self = user_data;

  /* The session is made whether or not the client waits for its id. */
  soup_server_message_pause (msg);
  g_signal_connect (msg, "finished", G_CALLBACK (on_msg_finished), NULL);
  cas_session_manager_create_async (self->manager, NULL, on_created, g_object_ref (msg));
}

static void
handle_list (CasHttpServer     *server,
             SoupServerMessage *msg,
             const char        *path,
             GHashTable        *query,
             gpointer           user_data)
{
  CasSessionRoutes *self = user_data;
  g_autoptr (GPtrArray) sessions = cas_session_manager_list (self->manager);
  GString *out = g_string_new ("{\"sessions\":[");

  for (guint i = 0; i < sessions->len; i++)
    {
      CasSessionInfo *info = g_ptr_array_index (sessions, i);

      if (i > 0)
        g_string_append_c (out, ',');
      g_string_append (out, "{\"id\":");
      cas_json_append_string (out, info->id);
      g_string_append_printf (out, ",\"created\":%" G_GINT64_FORMAT
                              ",\"last_activity\":%" G_GINT64_FORMAT
                              ",\"turn_active\":%s,\"event_count\":%" G_GUINT64_FORMAT "}",
                              info->created, info->last_activity,
                              info->turn_active ? "true" : "false", info->event_count);
    }
  g_string_append (out, "]}");
  cas_http_reply_json (msg, SOUP_STATUS_OK, g_string_free (out, FALSE));
}

static void
cas_session_routes_dispose (GObject *object)
{
  CasSessionRoutes *self = CAS_SESSION_ROUTES (object);

  while (self->clients != NULL)
    client_free (self->clients->data);

  G_OBJECT_CLASS (cas_session_routes_parent_class)->dispose (object);
}

static void
cas_session_routes_finalize (GObject *object)
{
  CasSessionRoutes *self = CAS_SESSION_ROUTES (object);

  g_clear_object (&self->manager);
  g_clear_pointer (&self->config, cas_config_unref);

  G_OBJECT_CLASS (cas_session_routes_parent_class)->finalize (object);
}

static void
cas_session_routes_class_init (CasSessionRoutesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cas_session_routes_dispose;
  object_class->finalize = cas_session_routes_finalize;
  finished_quark = g_quark_from_static_string ("cas-session-routes-finished");
}

static void
cas_session_routes_init (CasSessionRoutes *self)
{
}

CasSessionRoutes *
cas_session_routes_new (CasConfig         *config,
                        CasSessionManager *manager)
{
  CasSessionRoutes *self = g_object_new (CAS_TYPE_SESSION_ROUTES, NULL);

  self->config = cas_config_ref (config);
  self->manager = g_object_ref (manager);
  return self;
}

void
cas_session_routes_register (CasSessionRoutes *self,
                             CasHttpServer    *http)
{
  cas_http_server_add_route (http, "POST", "/api/session", CAS_ROUTE_NONE, handle_create, self);
  cas_http_server_add_route (http, "GET", "/api/sessions", CAS_ROUTE_NONE, handle_list, self);
  /* One handler per method: it says 404 or 405 for the rest of the path. */
  cas_http_server_add_route (http, "GET", SESSION_PREFIX, CAS_ROUTE_PREFIX, handle_session, self);
  cas_http_server_add_route (http, "POST", SESSION_PREFIX, CAS_ROUTE_PREFIX, handle_session, self);
  cas_http_server_add_route (http, "DELETE", SESSION_PREFIX, CAS_ROUTE_PREFIX, handle_session,
                             self);
}

guint
cas_session_routes_get_stream_count (CasSessionRoutes *self)
{
  return g_list_length (self->clients);
}
