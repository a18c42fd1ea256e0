/* cas-sse-writer.c: one text/event-stream response on a SoupServerMessage.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-http"

#include "config.h"

#include <string.h>

#include "cas-http-server.h"
#include "cas-sse-writer.h"

#define PING_FRAME ": ping\n\n"
/* The heartbeat period is checked in quarters, so a ping follows the last
 * write by 1 to 1.25 periods, not up to 2. */
#define TICKS_PER_HEARTBEAT 4

struct _CasSseWriter
{
  GObject parent_instance;

  SoupServerMessage *msg;  /* (owned) (nullable) NULL once closed */
  gulong finished_id;
  gulong disconnected_id;
  guint heartbeat_id;
  guint idle_ticks;        /* ticks since the last write */
  gboolean completed;
  gboolean closed;
};

enum {
  SIGNAL_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CasSseWriter, cas_sse_writer, G_TYPE_OBJECT)

static void
drop_message (CasSseWriter *self)
{
  g_clear_handle_id (&self->heartbeat_id, g_source_remove);
  if (self->msg != NULL)
    {
      g_clear_signal_handler (&self->finished_id, self->msg);
      g_clear_signal_handler (&self->disconnected_id, self->msg);
      g_clear_object (&self->msg);
    }
}

static void
cas_sse_writer_dispose (GObject *object)
{
  CasSseWriter *self = CAS_SSE_WRITER (object);

  /* An owner that lets go before the end still leaves a valid response. */
  if (self->msg != NULL && !self->completed)
    {
      self->completed = TRUE;
      soup_message_body_complete (soup_server_message_get_response_body (self->msg));
      soup_server_message_unpause (self->msg);
    }
  drop_message (self);
  G_OBJECT_CLASS (cas_sse_writer_parent_class)->dispose (object);
}

static void
cas_sse_writer_class_init (CasSseWriterClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cas_sse_writer_dispose;

  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
}

static void
cas_sse_writer_init (CasSseWriter *self)
{
}

/* "finished" is the single cleanup point: after it the message has no IO
 * and unpausing it is a critical, so the writer forgets it here. A server
 * that drops its connections (shutdown) emits only "disconnected". */
static void
on_finished (SoupServerMessage *msg,
             gpointer           user_data)
{
  CasSseWriter *self = user_data;
  g_autoptr (CasSseWriter) keep = g_object_ref (self);

  self->closed = TRUE;
  drop_message (self);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, self->completed);
}

static gboolean
write_frame (CasSseWriter *self,
             gpointer      data,
             gsize         len)
{
  self->idle_ticks = 0;
  soup_message_body_append_take (soup_server_message_get_response_body (self->msg),
                                 data, len);
  /* Flush now: libsoup pauses a chunked message whenever it runs out of
   * chunks, and writes nothing more until unpaused. */
  soup_server_message_unpause (self->msg);
  return TRUE;
}

/* libsoup only notices a client that went away when it writes, so idle
 * streams carry a comment; without it a hung CLI would outlive its client. */
static gboolean
on_heartbeat (gpointer user_data)
{
  CasSseWriter *self = user_data;

  if (self->closed || self->completed)
    {
      self->heartbeat_id = 0;
      return G_SOURCE_REMOVE;
    }
  if (++self->idle_ticks >= TICKS_PER_HEARTBEAT)
    write_frame (self, g_strdup (PING_FRAME), strlen (PING_FRAME));
  return G_SOURCE_CONTINUE;
}

CasSseWriter *
cas_sse_writer_new (SoupServerMessage *msg,
                    guint              heartbeat_ms)
{
  CasSseWriter *self = g_object_new (CAS_TYPE_SSE_WRITER, NULL);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  self->msg = g_object_ref (msg);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_set_content_type (headers, "text/event-stream", NULL);
  soup_message_headers_replace (headers, "Cache-Control", "no-cache");
  /* Tell proxies such as nginx not to buffer the stream. */
  soup_message_headers_replace (headers, "X-Accel-Buffering", "no");
  /* Close-delimited: libsoup writes each chunk of a chunked body in three
   * sends (size line, data, CRLF); with the end of the connection as the
   * end of the body, an event is one send. A stream lasts a whole turn,
   * so reusing its connection would save the client little. */
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_EOF);
  soup_message_headers_replace (headers, "Connection", "close");
  /* Accumulation on would keep every chunk written for the life of the
   * stream (soup_message_body_wrote_chunk returns early). */
  soup_message_body_set_accumulate (soup_server_message_get_response_body (msg), FALSE);
  self->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (on_finished), self);
  self->disconnected_id = g_signal_connect (msg, "disconnected", G_CALLBACK (on_finished), self);
  if (heartbeat_ms > 0)
    self->heartbeat_id = g_timeout_add (MAX (heartbeat_ms / TICKS_PER_HEARTBEAT, 1),
                                        on_heartbeat, self);
  return self;
}

gboolean
cas_sse_writer_send (CasSseWriter *self,
                     GString      *frame)
{
  gsize len;

  g_return_val_if_fail (CAS_IS_SSE_WRITER (self), FALSE);

  if (self->closed || self->completed || frame->len == 0)
    {
      g_string_free (frame, TRUE);
      return !self->closed && !self->completed;
    }
  len = frame->len;
  return write_frame (self, g_string_free (frame, FALSE), len);
}

gboolean
cas_sse_writer_send_data (CasSseWriter *self,
                          const char   *data,
                          gsize         len)
{
  g_return_val_if_fail (CAS_IS_SSE_WRITER (self), FALSE);

  if (self->closed || self->completed)
    return FALSE;
  if (len == 0)
    return TRUE;
  return write_frame (self, g_memdup2 (data, len), len);
}

void
cas_sse_writer_complete (CasSseWriter *self)
{
  g_return_if_fail (CAS_IS_SSE_WRITER (self));

  if (self->closed || self->completed)
    return;
  self->completed = TRUE;
  g_clear_handle_id (&self->heartbeat_id, g_source_remove);
  soup_message_body_complete (soup_server_message_get_response_body (self->msg));
  soup_server_message_unpause (self->msg);
}

gboolean
cas_sse_writer_is_closed (CasSseWriter *self)
{
  return self->closed;
}

gboolean
cas_sse_writer_is_completed (CasSseWriter *self)
{
  return self->completed;
}

SoupServerMessage *
cas_sse_writer_get_message (CasSseWriter *self)
{
  return self->msg;
}
