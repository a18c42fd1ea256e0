/* cas-sse-writer.h: one text/event-stream response.
 *
 * The writer owns the response side of a SoupServerMessage from the
 * moment it is created: status 200, text/event-stream, no-cache, chunked
 * encoding, body accumulation off. Each send appends one frame and
 * unpauses the message at once (no buffering, no timer). While nothing
 * has been written for @heartbeat_ms it writes a ": ping" comment, since
 * libsoup only notices a gone client when it writes.
 *
 * The message's "finished" signal is the single cleanup point: after it
 * the writer is closed, every send is a no-op returning FALSE, and the
 * writer emits "closed" once. Send from the main context only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

#define CAS_TYPE_SSE_WRITER (cas_sse_writer_get_type ())
G_DECLARE_FINAL_TYPE (CasSseWriter, cas_sse_writer, CAS, SSE_WRITER, GObject)

/* Signals:
 *  "closed" (gboolean completed): the message finished; @completed is
 *    TRUE when cas_sse_writer_complete() ended it, FALSE when the client
 *    went away (or the server dropped the connection) first. */

/* Sets the status and headers on @msg (nothing is sent until the first
 * frame) and holds a ref on @msg until it finishes. @heartbeat_ms: 0 for
 * no heartbeat. */
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

/* Ends the body (the last chunk); "closed" follows once libsoup has
 * written it. Idempotent; a no-op when already closed. */
void cas_sse_writer_complete (CasSseWriter *self);

/* TRUE once the message finished (client gone or completed). */
gboolean cas_sse_writer_is_closed (CasSseWriter *self);
/* TRUE once cas_sse_writer_complete() was called. */
gboolean cas_sse_writer_is_completed (CasSseWriter *self);
/* NULL once closed. */
SoupServerMessage *cas_sse_writer_get_message (CasSseWriter *self);

G_END_DECLS
