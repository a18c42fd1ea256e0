/* cas-client-input-stream.h: a client's request stream, as libsoup reads it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CAS_TYPE_CLIENT_INPUT_STREAM (cas_client_input_stream_get_type ())
G_DECLARE_FINAL_TYPE (CasClientInputStream, cas_client_input_stream, CAS, CLIENT_INPUT_STREAM,
                      GFilterInputStream)

/* Where a connection is, for its timeouts (cas-http-server.c). */
typedef enum {
  /* Before its first request, or between two: nothing of one read. */
  CAS_CLIENT_PHASE_IDLE,
  /* A request has begun; its headers are not all in. */
  CAS_CLIENT_PHASE_HEADERS,
  /* Its headers are in; its body is being read. */
  CAS_CLIENT_PHASE_BODY,
  /* Its body is in; it is being answered (for as long as that takes). */
  CAS_CLIENT_PHASE_ANSWERING,
  /* The client hung up between requests; libsoup is dropping it. */
  CAS_CLIENT_PHASE_CLOSING,
} CasClientPhase;

/* Reads @connection's input; closing it closes the whole connection. */
GInputStream *cas_client_input_stream_new (GSocketConnection *connection);

/* The connection's socket. */
GSocket *cas_client_input_stream_get_socket (CasClientInputStream *self);

/* The request being read has been answered: what comes next belongs to
 * a new one. */
void cas_client_input_stream_request_done (CasClientInputStream *self);

CasClientPhase cas_client_input_stream_get_phase (CasClientInputStream *self);
void cas_client_input_stream_set_phase (CasClientInputStream *self,
                                        CasClientPhase        phase);
/* Monotonic times (µs): when the phase began (for a first request's
 * headers, when the connection was accepted), and of the last read that
 * brought bytes. */
gint64 cas_client_input_stream_get_phase_since (CasClientInputStream *self);
gint64 cas_client_input_stream_get_last_read (CasClientInputStream *self);
/* Whether a request has been answered on it yet. */
gboolean cas_client_input_stream_has_served (CasClientInputStream *self);

/* Ends the connection from under whoever reads it: both directions of
 * the socket are shut down, so a pending read wakes with an end of file
 * and libsoup (or a stream writer) drops the connection its usual way. */
void cas_client_input_stream_shut_down (CasClientInputStream *self);
gboolean cas_client_input_stream_is_shut_down (CasClientInputStream *self);

G_END_DECLS
