/* cas-client-input-stream.c: a client's request stream, as libsoup reads it.
 *
 * libsoup 3.2.3 keeps a kept-alive connection forever when its client
 * hangs up between requests (fixed upstream in 3.3 by d20c6601, "Don't
 * leak idle connections closed by the client"). Its pending read for the
 * next request gets end-of-file before a single byte, so that request
 * never started and nobody is told it ended: the connection stays in the
 * server's client list with its socket, buffers and objects, about 2 KiB
 * each, until shutdown. A request that ends after its first byte takes
 * libsoup's ordinary bad-request path, which drops the connection.
 *
 * So when a read between requests hits end-of-file or an error, this
 * stream hands libsoup one byte first, and shuts down our sending side.
 * libsoup takes the byte for a malformed request, and the connection
 * goes at once; its answer to that request fails to send, so a client
 * that only shut down its own sending side reads its last response to
 * the end, then the end of the stream. Harmless on libsoup 3.3, which
 * needs no help.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "cas-client-input-stream.h"


struct _CasClientInputStream
{
  GFilterInputStream parent_instance;

  GSocketConnection *connection; /* (owned) */
  CasClientPhase phase;          /* IDLE: nothing read since the last answer */
  gint64 phase_since_us;
  gint64 last_read_us;
  gboolean served;
  gboolean shut_down;
};

static void cas_client_input_stream_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CasClientInputStream, cas_client_input_stream,
                               G_TYPE_FILTER_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      cas_client_input_stream_pollable_init))

static GInputStream *
base_stream (CasClientInputStream *self)
{
  return g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (self));
}

static gssize
read_or_report_hang_up (CasClientInputStream *self,
                        void                 *buffer,
                        gsize                 count,
                        gboolean              blocking,
                        GCancellable         *cancellable,
                        GError              **error)
{
  g_autoptr (GError) local_error = NULL;
  gssize n;

  if (blocking)
    n = g_input_stream_read (base_stream (self), buffer, count, cancellable, &local_error);
  else
    n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (base_stream (self)),
                                                  buffer, count, cancellable, &local_error);
  if (n > 0)
    {
      self->last_read_us = g_get_monotonic_time ();
      if (self->phase == CAS_CLIENT_PHASE_IDLE)
        {
          self->phase = CAS_CLIENT_PHASE_HEADERS;
          /* A first request's headers are timed from the connection. */
          if (self->served)
            self->phase_since_us = self->last_read_us;
        }
    }
  else if (self->phase == CAS_CLIENT_PHASE_IDLE && count > 0 &&
           !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) &&
           !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* See the top of the file. */
      self->phase = CAS_CLIENT_PHASE_CLOSING;
      g_socket_shutdown (cas_client_input_stream_get_socket (self), FALSE, TRUE, NULL);
      ((char *) buffer)[0] = 'X';
      return 1;
    }
  if (local_error != NULL)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return n;
}

static gssize
cas_client_input_stream_read (GInputStream  *stream,
                              void          *buffer,
                              gsize          count,
                              GCancellable  *cancellable,
                              GError       **error)
{
  return read_or_report_hang_up (CAS_CLIENT_INPUT_STREAM (stream), buffer, count,
                                 TRUE, cancellable, error);
}

static gssize
cas_client_input_stream_read_nonblocking (GPollableInputStream *stream,
                                          void                 *buffer,
                                          gsize                 count,
                                          GError              **error)
{
  return read_or_report_hang_up (CAS_CLIENT_INPUT_STREAM (stream), buffer, count,
                                 FALSE, NULL, error);
}

static gboolean
cas_client_input_stream_can_poll (GPollableInputStream *stream)
{
  return TRUE;
}

static gboolean
cas_client_input_stream_is_readable (GPollableInputStream *stream)
{
  return g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (base_stream (CAS_CLIENT_INPUT_STREAM (stream))));
}

/* The socket's own source, dispatching for this stream. */
static GSource *
cas_client_input_stream_create_source (GPollableInputStream *stream,
                                       GCancellable         *cancellable)
{
  CasClientInputStream *self = CAS_CLIENT_INPUT_STREAM (stream);
  g_autoptr (GSource) base_source =
    g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (base_stream (self)), NULL);

  return g_pollable_source_new_full (stream, base_source, cancellable);
}

/* Closing a socket's input stream leaves the socket open; libsoup closes
 * the stream it was given, and means the connection. */
static gboolean
cas_client_input_stream_close (GInputStream  *stream,
                               GCancellable  *cancellable,
                               GError       **error)
{
  return g_io_stream_close (G_IO_STREAM (CAS_CLIENT_INPUT_STREAM (stream)->connection),
                            cancellable, error);
}

static void
cas_client_input_stream_finalize (GObject *object)
{
  CasClientInputStream *self = CAS_CLIENT_INPUT_STREAM (object);

  g_clear_object (&self->connection);
  G_OBJECT_CLASS (cas_client_input_stream_parent_class)->finalize (object);
}

static void
cas_client_input_stream_class_init (CasClientInputStreamClass *klass)
{
  GInputStreamClass *input_class = G_INPUT_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = cas_client_input_stream_finalize;
  input_class->read_fn = cas_client_input_stream_read;
  input_class->close_fn = cas_client_input_stream_close;
}

static void
cas_client_input_stream_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = cas_client_input_stream_can_poll;
  iface->is_readable = cas_client_input_stream_is_readable;
  iface->create_source = cas_client_input_stream_create_source;
  iface->read_nonblocking = cas_client_input_stream_read_nonblocking;
}

static void
cas_client_input_stream_init (CasClientInputStream *self)
{
  /* The first request has a start of its own in libsoup: still, a hang-up
   * before it is one more connection nobody needs. */
  self->phase = CAS_CLIENT_PHASE_IDLE;
  self->phase_since_us = g_get_monotonic_time ();
  self->last_read_us = self->phase_since_us;
}

GInputStream *
cas_client_input_stream_new (GSocketConnection *connection)
{
  CasClientInputStream *self;

  g_return_val_if_fail (G_IS_SOCKET_CONNECTION (connection), NULL);

  self = g_object_new (CAS_TYPE_CLIENT_INPUT_STREAM,
                       "base-stream", g_io_stream_get_input_stream (G_IO_STREAM (connection)),
                       "close-base-stream", FALSE,
                       NULL);
  self->connection = g_object_ref (connection);
  return G_INPUT_STREAM (self);
}

GSocket *
cas_client_input_stream_get_socket (CasClientInputStream *self)
{
  g_return_val_if_fail (CAS_IS_CLIENT_INPUT_STREAM (self), NULL);

  return g_socket_connection_get_socket (self->connection);
}

void
cas_client_input_stream_request_done (CasClientInputStream *self)
{
  g_return_if_fail (CAS_IS_CLIENT_INPUT_STREAM (self));

  if (self->phase == CAS_CLIENT_PHASE_CLOSING)
    return;
  self->phase = CAS_CLIENT_PHASE_IDLE;
  self->phase_since_us = g_get_monotonic_time ();
  self->served = TRUE;
}

CasClientPhase
cas_client_input_stream_get_phase (CasClientInputStream *self)
{
  g_return_val_if_fail (CAS_IS_CLIENT_INPUT_STREAM (self), CAS_CLIENT_PHASE_CLOSING);

  return self->phase;
}

void
cas_client_input_stream_set_phase (CasClientInputStream *self,
                                   CasClientPhase        phase)
{
  g_return_if_fail (CAS_IS_CLIENT_INPUT_STREAM (self));

  /* Closing is for good. */
  if (self->phase == CAS_CLIENT_PHASE_CLOSING || self->phase == phase)
    return;
  self->phase = phase;
  self->phase_since_us = g_get_monotonic_time ();
}

gint64
cas_client_input_stream_get_phase_since (CasClientInputStream *self)
{
  g_return_val_if_fail (CAS_IS_CLIENT_INPUT_STREAM (self), 0);

  return self->phase_since_us;
}

gint64
cas_client_input_stream_get_last_read (CasClientInputStream *self)
{
  g_return_val_if_fail (CAS_IS_CLIENT_INPUT_STREAM (self), 0);

  return self->last_read_us;
}

gboolean
cas_client_input_stream_has_served (CasClientInputStream *self)
{
  g_return_val_if_fail (CAS_IS_CLIENT_INPUT_STREAM (self), FALSE);

  return self->served;
}

void
cas_client_input_stream_shut_down (CasClientInputStream *self)
{
  GSocket *socket;

  g_return_if_fail (CAS_IS_CLIENT_INPUT_STREAM (self));

  if (self->shut_down)
    return;
  self->shut_down = TRUE;
  socket = cas_client_input_stream_get_socket (self);
  if (!g_socket_is_closed (socket))
    g_socket_shutdown (socket, TRUE, TRUE, NULL);
}

gboolean
cas_client_input_stream_is_shut_down (CasClientInputStream *self)
{
  g_return_val_if_fail (CAS_IS_CLIENT_INPUT_STREAM (self), TRUE);

  return self->shut_down;
}
