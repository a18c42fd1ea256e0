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

/* Reads @connection's input; closing it closes the whole connection. */
GInputStream *cas_client_input_stream_new (GSocketConnection *connection);

/* The connection's socket. */
GSocket *cas_client_input_stream_get_socket (CasClientInputStream *self);

/* The request being read has been answered: what comes next belongs to
 * a new one. */
void cas_client_input_stream_request_done (CasClientInputStream *self);

G_END_DECLS
