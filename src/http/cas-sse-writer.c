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
/* What a client may fall behind by before it is dropped (it can
 * reconnect): a stalled reader must not grow the daemon. */
#define MAX_BACKLOG (1024 * 1024)

/* libsoup writes a paused message's body from an idle callback after
 * each unpause: one more main-loop pass per event, and when twenty CLIs
 * tick together every event waits for all twenty reads first. So once
 * libsoup has sent the headers, the writer takes the connection over
 * (soup_server_message_steal_connection, from "wrote-headers" as its
 * documentation allows) and writes each event itself, at once. */
struct _CasSseWriter
{
  GObject parent_instance;

  SoupServerMessage *msg;  /* (owned) */
  gulong finished_id;
  gulong disconnected_id;
  gulong wrote_headers_id;
  GIOStream *stream;       /* (owned) (nullable) once taken over */
  GString *pending;        /* (owned) not yet written */
  GSource *flush_source;   /* (owned) (nullable) waiting for room */
  guint heartbeat_id;
  guint idle_ticks;        /* ticks since the last write */
  gboolean completed;      /* holds a reference on itself until closed */
  gboolean closed;
};

enum {
  SIGNAL_CLOSED,
  SIGNAL_DRAINED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CasSseWriter, cas_sse_writer, G_TYPE_OBJECT)

static void
forget_message_signals (CasSseWriter *self)
{
  g_clear_signal_handler (&self->finished_id, self->msg);
  g_clear_signal_handler (&self->disconnected_id, self->msg);
  g_clear_signal_handler (&self->wrote_headers_id, self->msg);
}

static void
remove_flush_source (CasSseWriter *self)
{
  if (self->flush_source != NULL)
    g_source_destroy (self->flush_source);
  g_clear_pointer (&self->flush_source, g_source_unref);
}

/* The end, once: @completed says whether the whole stream went out.
 * "closed" is not emitted from dispose, where the owner is gone. */
static void
close_stream_full (CasSseWriter *self,
                   gboolean      completed,
                   gboolean      notify)
{
  if (self->closed)
    return;
  self->closed = TRUE;
  g_clear_handle_id (&self->heartbeat_id, g_source_remove);
  remove_flush_source (self);
  forget_message_signals (self);
  if (self->stream != NULL)
    {
      g_io_stream_close (self->stream, NULL, NULL);
      g_clear_object (&self->stream);
      /* libsoup logs only the requests it finished itself. */
      cas_http_server_log_taken_over (self->msg, completed ? "" : " (client gone)");
    }
  g_string_truncate (self->pending, 0);
  if (notify)
    g_signal_emit (self, signals[SIGNAL_CLOSED], 0, completed);
  if (self->completed)
    g_object_unref (self);
}

static void
close_stream (CasSseWriter *self,
              gboolean      completed)
{
  g_autoptr (CasSseWriter) keep = g_object_ref (self);

  close_stream_full (self, completed, TRUE);
}

static gboolean on_writable (GObject *stream, gpointer user_data);

/* Writes as much of @data as the socket takes now. Returns the count, or
 * -1 when the client is gone (the stream is closed then). */
static gssize
write_now (CasSseWriter *self,
           const char   *data,
           gsize         len)
{
  GPollableOutputStream *out =
    G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (self->stream));
  gsize written = 0;

  while (written < len)
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_pollable_output_stream_write_nonblocking (out, data + written, len - written,
                                                             NULL, &error);

      if (n > 0)
        written += (gsize) n;
      else if (n == 0 || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        break;
      else
        {
          g_debug ("SSE client gone: %s", error->message);
          close_stream (self, FALSE);
          return -1;
        }
    }
  return (gssize) written;
}

/* Writes what is pending, as far as the socket takes it; closes the
 * stream once it is completed and all out. */
static void
flush (CasSseWriter *self)
{
  gssize written;

  if (self->stream == NULL || self->closed || self->flush_source != NULL)
    return;
  written = write_now (self, self->pending->str, self->pending->len);
  if (written < 0)
    return;
  g_string_erase (self->pending, 0, written);
  /* A burst's buffer is not kept for an idle stream (hundreds may be
   * attached to one breakglass session). */
  if (self->pending->len == 0 && self->pending->allocated_len > 64 * 1024)
    {
      g_string_free (self->pending, TRUE);
      self->pending = g_string_new (NULL);
    }
  if (self->pending->len > 0)
    {
      GOutputStream *out = g_io_stream_get_output_stream (self->stream);

      self->flush_source = g_pollable_output_stream_create_source (G_POLLABLE_OUTPUT_STREAM (out),
                                                                   NULL);
      g_source_set_callback (self->flush_source, G_SOURCE_FUNC (on_writable), self, NULL);
      g_source_attach (self->flush_source, NULL);
    }
  else if (self->completed)
    close_stream (self, TRUE);
  else if (written > 0)
    g_signal_emit (self, signals[SIGNAL_DRAINED], 0);
}

static gboolean
on_writable (GObject  *stream,
             gpointer  user_data)
{
  CasSseWriter *self = user_data;

  g_clear_pointer (&self->flush_source, g_source_unref);
  flush (self);
  return G_SOURCE_REMOVE;
}

static void
cas_sse_writer_dispose (GObject *object)
{
  CasSseWriter *self = CAS_SSE_WRITER (object);

  /* An owner that lets go before complete () still leaves a valid
   * response: what is pending, then the end of the body. */
  if (!self->closed && self->stream == NULL)
    {
      /* The headers are not out yet: libsoup writes it all after all. */
      SoupMessageBody *body = soup_server_message_get_response_body (self->msg);

      forget_message_signals (self);
      soup_message_body_append (body, SOUP_MEMORY_COPY, self->pending->str, self->pending->len);
      soup_message_body_complete (body);
      soup_server_message_unpause (self->msg);
    }
  else
    flush (self);   /* what the socket takes now; the rest is lost */
  close_stream_full (self, TRUE, FALSE);
  g_clear_object (&self->msg);
  G_OBJECT_CLASS (cas_sse_writer_parent_class)->dispose (object);
}

static void
cas_sse_writer_finalize (GObject *object)
{
  CasSseWriter *self = CAS_SSE_WRITER (object);

  g_string_free (self->pending, TRUE);
  G_OBJECT_CLASS (cas_sse_writer_parent_class)->finalize (object);
}

static void
cas_sse_writer_class_init (CasSseWriterClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cas_sse_writer_dispose;
  G_OBJECT_CLASS (klass)->finalize = cas_sse_writer_finalize;

  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
  signals[SIGNAL_DRAINED] =
    g_signal_new ("drained", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
cas_sse_writer_init (CasSseWriter *self)
{
  self->pending = g_string_new (NULL);
}

/* Before the take-over: libsoup could not send the headers (the client
 * went away), or the server is dropping its connections. */
static void
on_finished (SoupServerMessage *msg,
             gpointer           user_data)
{
  close_stream (user_data, FALSE);
}

static void
on_wrote_headers (SoupServerMessage *msg,
                  gpointer           user_data)
{
  CasSseWriter *self = user_data;

  /* Taking the connection makes libsoup say "disconnected": not ours. */
  forget_message_signals (self);
  self->stream = soup_server_message_steal_connection (msg);
  if (self->stream == NULL)
    {
      close_stream (self, FALSE);
      return;
    }
  flush (self);
}

static void
write_frame (CasSseWriter *self,
             const char   *data,
             gsize         len)
{
  self->idle_ticks = 0;
  /* Behind already, not "this frame is big": one large event (a tool's
   * input, a long result) must not drop a client that keeps up. */
  if (self->pending->len > MAX_BACKLOG)
    {
      g_debug ("SSE client too slow: over %d bytes behind, dropped", MAX_BACKLOG);
      close_stream (self, FALSE);
      return;
    }
  /* The usual case: nothing waits, so the frame goes out uncopied. */
  if (self->stream != NULL && self->pending->len == 0)
    {
      gssize written = write_now (self, data, len);

      if (written < 0)
        return;
      data += written;
      len -= (gsize) written;
    }
  if (len == 0)
    return;
  g_string_append_len (self->pending, data, len);
  flush (self);
}

/* Idle streams carry a comment, so a client that went away is noticed
 * on the write; without it a hung CLI would outlive its client. */
static gboolean
on_heartbeat (gpointer user_data)
{
  CasSseWriter *self = user_data;

  if (++self->idle_ticks >= TICKS_PER_HEARTBEAT)
    write_frame (self, PING_FRAME, strlen (PING_FRAME));
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
  /* Close-delimited: the end of the connection is the end of the body,
   * so each event is one plain send. */
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_EOF);
  soup_message_headers_replace (headers, "Connection", "close");
  self->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (on_finished), self);
  self->disconnected_id = g_signal_connect (msg, "disconnected", G_CALLBACK (on_finished), self);
  self->wrote_headers_id = g_signal_connect (msg, "wrote-headers",
                                             G_CALLBACK (on_wrote_headers), self);
  /* Send the headers now; events wait in pending until they are out. */
  soup_server_message_unpause (msg);
  if (heartbeat_ms > 0)
    self->heartbeat_id = g_timeout_add (MAX (heartbeat_ms / TICKS_PER_HEARTBEAT, 1),
                                        on_heartbeat, self);
  return self;
}

gboolean
cas_sse_writer_send (CasSseWriter *self,
                     GString      *frame)
{
  g_return_val_if_fail (CAS_IS_SSE_WRITER (self), FALSE);

  if (!self->closed && !self->completed)
    write_frame (self, frame->str, frame->len);
  g_string_free (frame, TRUE);
  return !self->closed && !self->completed;
}

gboolean
cas_sse_writer_send_data (CasSseWriter *self,
                          const char   *data,
                          gsize         len)
{
  g_return_val_if_fail (CAS_IS_SSE_WRITER (self), FALSE);

  if (self->closed || self->completed)
    return FALSE;
  write_frame (self, data, len);
  return !self->closed;
}

void
cas_sse_writer_complete (CasSseWriter *self)
{
  g_return_if_fail (CAS_IS_SSE_WRITER (self));

  if (self->closed || self->completed)
    return;
  self->completed = TRUE;
  g_clear_handle_id (&self->heartbeat_id, g_source_remove);
  /* Lives on until all is written, even if its owner lets go now. */
  g_object_ref (self);
  flush (self);
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

gsize
cas_sse_writer_get_backlog (CasSseWriter *self)
{
  return self->pending->len;
}

SoupServerMessage *
cas_sse_writer_get_message (CasSseWriter *self)
{
  return self->closed ? NULL : self->msg;
}
