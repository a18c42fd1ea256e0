/* cas-sse-writer.h: one text/event-stream response.
 *
 * The writer owns the response side of a SoupServerMessage from the
 * moment it is created: status 200, text/event-stream, no-cache,
 * close-delimited. libsoup sends the headers; then the writer takes the
 * connection over and writes each frame the moment it is sent (no
 * buffering, no timer). A client more than 1 MiB behind is dropped.
 * While nothing has been written for @heartbeat_ms it writes a ": ping"
 * comment, so a client that went away is noticed on the write.
 *
 * The writer emits "closed" once, when the stream ends; after it every
 * send is a no-op returning FALSE. Send from the main context only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

#define CAS_TYPE_SSE_WRITER (cas_sse_writer_get_type ())
G_DECLARE_FINAL_TYPE (CasSseWriter, cas_sse_writer, CAS, SSE_WRITER, GObject)

/* Signals:
 *  "closed" (gboolean completed): the stream ended; @completed is TRUE
 *    when cas_sse_writer_complete() ended it and all was written, FALSE
 *    when the client went away (or the server dropped the connection)
 *    first. Not emitted when the owner drops the writer before
 *    completing it: that ends the stream quietly.
 *  "drained" (void): everything sent so far was handed to the socket
 *    after some of it had to wait (for a sender that paces itself). */

/* Sets the status and headers on @msg and has libsoup send them (unpauses
 * it). @heartbeat_ms: 0 for no heartbeat. */
CasSseWriter *cas_sse_writer_new (SoupServerMessage *msg,
                                  guint              heartbeat_ms);

/* Appends @frame (one or more whole SSE frames, e.g. "data: {...}\n\n")
 * and flushes it. Takes @frame and frees it. FALSE when closed. */
gboolean cas_sse_writer_send (CasSseWriter *self,
                              GString      *frame);
/* The same for borrowed bytes (copied). */
gboolean cas_sse_writer_send_data (CasSseWriter *self,
                                   const char   *data,
                                   gsize         len);

/* Ends the stream once all is written, then "closed"; the writer keeps
 * itself alive until then. Idempotent; a no-op when already closed. */
void cas_sse_writer_complete (CasSseWriter *self);

/* TRUE once the stream ended (client gone or completed). */
gboolean cas_sse_writer_is_closed (CasSseWriter *self);
/* TRUE once cas_sse_writer_complete() was called. */
gboolean cas_sse_writer_is_completed (CasSseWriter *self);
/* Bytes sent but not yet handed to the socket. */
gsize cas_sse_writer_get_backlog (CasSseWriter *self);
/* NULL once closed. */
SoupServerMessage *cas_sse_writer_get_message (CasSseWriter *self);

G_END_DECLS
