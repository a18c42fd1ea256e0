/* cas-turn-relay.c: relay one CasTurn to one HTTP request, as OpenAI
 * chunks over SSE or as one reply its route makes.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-http"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "cas-error.h"
#include "cas-http-server.h"
#include "cas-openai.h"
#include "cas-sse-writer.h"
#include "cas-turn-relay.h"

#define DEFAULT_HEARTBEAT_MS 1000

struct _CasTurnRelay
{
  GObject parent_instance;

  /* options */
  CasTurnRelayMode mode;
  gboolean include_usage;
  guint heartbeat_ms;
  gint64 created;
  CasChunkFormat *format;    /* (owned) */

  CasTurn *turn;             /* (owned) */
  GCancellable *cancellable; /* (owned) cancelled when the client goes */
  SoupServerMessage *msg;    /* (owned) */
  gulong msg_finished_id;
  gulong msg_disconnected_id;
  gboolean msg_finished;     /* its IO is gone: never touch it again */
  GSource *peer_watch;       /* (owned) (nullable) */

  CasSseWriter *writer;      /* (owned) (nullable) once the SSE response started */
  gulong writer_closed_id;
  gboolean responded;        /* a JSON reply was set, or the stream completed */
  gboolean client_gone;
};

G_DEFINE_FINAL_TYPE (CasTurnRelay, cas_turn_relay, G_TYPE_OBJECT)

static void
remove_peer_watch (CasTurnRelay *self)
{
  if (self->peer_watch != NULL)
    g_source_destroy (self->peer_watch);
  g_clear_pointer (&self->peer_watch, g_source_unref);
}

static void
cas_turn_relay_dispose (GObject *object)
{
  CasTurnRelay *self = CAS_TURN_RELAY (object);

  remove_peer_watch (self);
  if (self->turn != NULL)
    g_signal_handlers_disconnect_by_data (self->turn, self);
  g_clear_object (&self->turn);
  g_clear_object (&self->cancellable);
  if (self->msg != NULL)
    {
      g_clear_signal_handler (&self->msg_finished_id, self->msg);
      g_clear_signal_handler (&self->msg_disconnected_id, self->msg);
      /* Never leave a paused message without a reply (a stream's end is
       * the writer's). */
      if (!self->msg_finished && !self->responded && self->writer == NULL)
        {
          self->responded = TRUE;
          cas_http_reply_error_status (self->msg, 500, "internal_error",
                                       "the request was dropped");
          soup_server_message_unpause (self->msg);
        }
      g_clear_object (&self->msg);
    }
  if (self->writer != NULL)
    g_clear_signal_handler (&self->writer_closed_id, self->writer);
  g_clear_object (&self->writer);
  G_OBJECT_CLASS (cas_turn_relay_parent_class)->dispose (object);
}

static void
cas_turn_relay_finalize (GObject *object)
{
  CasTurnRelay *self = CAS_TURN_RELAY (object);

  g_clear_pointer (&self->format, cas_chunk_format_free);
  G_OBJECT_CLASS (cas_turn_relay_parent_class)->finalize (object);
}

static void
cas_turn_relay_class_init (CasTurnRelayClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cas_turn_relay_dispose;
  object_class->finalize = cas_turn_relay_finalize;
}

static void
cas_turn_relay_init (CasTurnRelay *self)
{
}

void
cas_turn_relay_reply_json (CasTurnRelay *self,
                           guint         status,
                           char         *json)
{
  g_return_if_fail (CAS_IS_TURN_RELAY (self));

  if (self->msg == NULL || self->msg_finished || self->responded || self->writer != NULL)
    {
      g_free (json);
      return;
    }
  self->responded = TRUE;
  remove_peer_watch (self);
  cas_http_reply_json (self->msg, status, json);
  soup_server_message_unpause (self->msg);
}

void
cas_turn_relay_reply_error (CasTurnRelay *self,
                            const GError *error)
{
  g_autofree char *message = NULL;
  g_autoptr (GError) fallback = NULL;
  guint status;
  GUri *uri;

  g_return_if_fail (CAS_IS_TURN_RELAY (self));

  if (self->msg == NULL || self->msg_finished || self->responded || self->writer != NULL)
    return;
  if (error == NULL)
    error = fallback = g_error_new_literal (CAS_ERROR, CAS_ERROR_CLI_FAILED,
                                            "claude wrote no output");
  message = cas_turn_describe_error (error);
  status = cas_error_to_http_status (error);
  uri = soup_server_message_get_uri (self->msg);
  cas_turn_relay_reply_json (self, status,
                             cas_http_format_error (g_uri_get_path (uri), status,
                                                    cas_error_to_code_name (error),
                                                    message));
}

/* --- the client going away ------------------------------------------------- */

static void
client_went_away (CasTurnRelay *self)
{
  /* A cancel handler may drop the last outside reference. */
  g_autoptr (CasTurnRelay) keep = g_object_ref (self);

  if (self->client_gone)
    return;
  self->client_gone = TRUE;
  remove_peer_watch (self);
  /* The service the route handed it to cancels the turn. */
  g_cancellable_cancel (self->cancellable);
}

/* "finished" is the cleanup point: the message's IO is gone after it,
 * and unpausing it would be a critical. A server dropping its connections
 * (shutdown) emits only "disconnected", which means the same here. */
static void
on_msg_finished (SoupServerMessage *msg,
                 gpointer           user_data)
{
  /* A cancel handler may drop the last reference to us. */
  g_autoptr (CasTurnRelay) self = g_object_ref (user_data);

  self->msg_finished = TRUE;
  g_clear_signal_handler (&self->msg_finished_id, msg);
  g_clear_signal_handler (&self->msg_disconnected_id, msg);
  if (!self->responded)
    client_went_away (self);
  remove_peer_watch (self);
}

/* Until the first byte goes out there is nothing to write, so libsoup
 * would never notice a client that closed; peeking at the socket does,
 * without taking any byte away from libsoup. */
static gboolean
on_peer_event (GSocket      *socket,
               GIOCondition  condition,
               gpointer      user_data)
{
  CasTurnRelay *self = user_data;
  char byte;
  gssize n = recv (g_socket_get_fd (socket), &byte, 1, MSG_PEEK | MSG_DONTWAIT);

  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&self->peer_watch, g_source_unref);
  /* n > 0: a pipelined request, not a hang-up; stop watching. 0 is an
   * orderly hang-up, and an error such as ECONNRESET just as final. */
  if (n <= 0)
    client_went_away (self);
  return G_SOURCE_REMOVE;
}

static void
watch_peer (CasTurnRelay *self)
{
  GSocket *socket = cas_http_server_get_client_socket (self->msg);

  if (socket == NULL || self->peer_watch != NULL)
    return;
  self->peer_watch = g_socket_create_source (socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (self->peer_watch, G_SOURCE_FUNC (on_peer_event), self, NULL);
  g_source_attach (self->peer_watch, NULL);
}

/* --- the SSE side ---------------------------------------------------------- */

/* The writer's end of the stream: written whole, or the client gone. */
static void
on_writer_closed (CasSseWriter *writer,
                  gboolean      completed,
                  gpointer      user_data)
{
  /* A cancel handler may drop the last reference to us. */
  g_autoptr (CasTurnRelay) self = g_object_ref (user_data);

  self->msg_finished = TRUE;
  if (!completed && !self->responded)
    client_went_away (self);
  remove_peer_watch (self);
}

static void
on_turn_began (CasTurn  *turn,
               gpointer  user_data)
{
  CasTurnRelay *self = user_data;
  GString *frame;

  if (self->mode != CAS_TURN_RELAY_STREAM || self->msg_finished || self->responded)
    return;
  /* From here on the writer sees the message to its end. */
  g_clear_signal_handler (&self->msg_finished_id, self->msg);
  g_clear_signal_handler (&self->msg_disconnected_id, self->msg);
  self->writer = cas_sse_writer_new (self->msg, self->heartbeat_ms);
  self->writer_closed_id = g_signal_connect (self->writer, "closed",
                                             G_CALLBACK (on_writer_closed), self);
  frame = g_string_sized_new (256);
  cas_chunk_format_append_role (self->format, frame);
  cas_sse_writer_send (self->writer, frame);
}

static void
on_turn_text (CasTurn    *turn,
              const char *text,
              gpointer    user_data)
{
  CasTurnRelay *self = user_data;
  GString *frame;

  if (self->writer == NULL || self->responded)
    return;
  /* One chunk per delta, written the moment its line is read. */
  frame = g_string_sized_new (192 + strlen (text));
  cas_chunk_format_append_content (self->format, frame, text, -1);
  cas_sse_writer_send (self->writer, frame);
}

/* Ends the stream: finish (and usage) chunks on success, an error chunk
 * otherwise, then [DONE], in one write. */
static void
end_stream (CasTurnRelay *self,
            const GError *error)
{
  GString *frame;

  if (self->writer == NULL || self->responded)
    return;
  self->responded = TRUE;
  frame = g_string_sized_new (512);
  if (error == NULL)
    {
      cas_chunk_format_append_finish (self->format, frame, "stop");
      if (self->include_usage)
        cas_chunk_format_append_usage (self->format, frame,
                                       cas_turn_get_input_tokens (self->turn),
                                       cas_turn_get_output_tokens (self->turn));
    }
  else
    {
      g_autofree char *message = cas_turn_describe_error (error);

      cas_openai_append_error_frame (frame, message, "server_error",
                                     cas_error_to_code_name (error));
    }
  cas_openai_append_done_frame (frame);
  cas_sse_writer_send (self->writer, frame);
  cas_sse_writer_complete (self->writer);
  remove_peer_watch (self);
}

static void
on_turn_reply_ended (CasTurn  *turn,
                     gpointer  error,
                     gpointer  user_data)
{
  end_stream (user_data, error);
}

static void
on_turn_done (CasTurn  *turn,
              gpointer  user_data)
{
  CasTurnRelay *self = user_data;

  /* Not started: the route answers. Started: a turn without a result
   * line failed, and says how. */
  end_stream (self, cas_turn_get_error (turn));
}

/* --- public ---------------------------------------------------------------- */

CasTurnRelay *
cas_turn_relay_new (SoupServerMessage         *msg,
                    CasTurn                   *turn,
                    const CasTurnRelayOptions *options)
{
  CasTurnRelay *self = g_object_new (CAS_TYPE_TURN_RELAY, NULL);
  g_autofree char *id = NULL;

  self->mode = options->mode;
  self->created = options->created != 0 ? options->created
                                        : g_get_real_time () / G_USEC_PER_SEC;
  self->include_usage = options->include_usage;
  self->heartbeat_ms = options->heartbeat_ms != 0 ? options->heartbeat_ms : DEFAULT_HEARTBEAT_MS;
  id = options->id != NULL ? g_strdup (options->id) : cas_openai_new_completion_id ();
  self->format = cas_chunk_format_new (id, options->model != NULL ? options->model : "",
                                       self->created);

  self->turn = g_object_ref (turn);
  self->cancellable = g_cancellable_new ();
  g_signal_connect (turn, "began", G_CALLBACK (on_turn_began), self);
  g_signal_connect (turn, "text", G_CALLBACK (on_turn_text), self);
  g_signal_connect (turn, "reply-ended", G_CALLBACK (on_turn_reply_ended), self);
  g_signal_connect (turn, "done", G_CALLBACK (on_turn_done), self);

  self->msg = g_object_ref (msg);
  /* The reply comes later, from the CLI's output. */
  soup_server_message_pause (msg);
  self->msg_finished_id = g_signal_connect (msg, "finished", G_CALLBACK (on_msg_finished), self);
  self->msg_disconnected_id = g_signal_connect (msg, "disconnected", G_CALLBACK (on_msg_finished), self);
  watch_peer (self);
  return self;
}

CasTurn *
cas_turn_relay_get_turn (CasTurnRelay *self)
{
  return self->turn;
}

GCancellable *
cas_turn_relay_get_cancellable (CasTurnRelay *self)
{
  return self->cancellable;
}

gboolean
cas_turn_relay_is_streaming (CasTurnRelay *self)
{
  return self->mode == CAS_TURN_RELAY_STREAM;
}

const char *
cas_turn_relay_get_model (CasTurnRelay *self)
{
  return cas_chunk_format_get_model (self->format);
}

const char *
cas_turn_relay_get_completion_id (CasTurnRelay *self)
{
  return cas_chunk_format_get_id (self->format);
}

gint64
cas_turn_relay_get_created (CasTurnRelay *self)
{
  return self->created;
}
