/* cas-turn-relay.h: one CasTurn answering one HTTP request.
 *
 * The relay is the HTTP side of a turn, in one of two modes:
 *
 *  STREAM: OpenAI chunks over SSE. The response starts (headers and the
 *    role chunk) when the turn begins (the CLI's first real line); each
 *    piece of text is written and flushed the moment it is read; then the
 *    finish chunk, the usage chunk when asked, and [DONE]. A failure after
 *    the start is an error chunk and [DONE].
 *  COLLECT: nothing is written while the turn runs.
 *
 * Whatever the turn did not answer itself (a failure before the stream
 * started, or any COLLECT reply) the route answers once its service is
 * done, with cas_turn_relay_reply_json() or cas_turn_relay_reply_error().
 *
 * A client that goes away cancels the relay's GCancellable, which the
 * route hands its service (the service cancels the turn). In STREAM mode
 * libsoup notices on the next write (a ": ping" heartbeat while the CLI
 * is silent); before the first write, and in COLLECT mode, the relay
 * peeks at the connection's socket.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libsoup/soup.h>

#include "cas-turn.h"

G_BEGIN_DECLS

#define CAS_TYPE_TURN_RELAY (cas_turn_relay_get_type ())
G_DECLARE_FINAL_TYPE (CasTurnRelay, cas_turn_relay, CAS, TURN_RELAY, GObject)

typedef enum {
  CAS_TURN_RELAY_STREAM,
  CAS_TURN_RELAY_COLLECT,
} CasTurnRelayMode;

typedef struct {
  CasTurnRelayMode mode;
  const char *model;     /* echoed as "model" in every chunk */
  const char *id;        /* (nullable) chunk id; NULL: a new "chatcmpl-..." */
  gint64 created;        /* unix seconds; 0: now */
  gboolean include_usage; /* STREAM: send the usage chunk before [DONE] */
  guint heartbeat_ms;    /* STREAM: ": ping" after this much silence; 0: 1000 */
} CasTurnRelayOptions;

/* Pauses @msg (the handler may return) and watches it and @turn. Strings
 * in @options are copied. */
CasTurnRelay *cas_turn_relay_new (SoupServerMessage         *msg,
                                  CasTurn                   *turn,
                                  const CasTurnRelayOptions *options);

CasTurn *cas_turn_relay_get_turn (CasTurnRelay *self);
/* Cancelled once the client hung up or its message ended before the
 * response did, also while the turn waits in a queue. */
GCancellable *cas_turn_relay_get_cancellable (CasTurnRelay *self);
gboolean cas_turn_relay_is_streaming (CasTurnRelay *self);
const char *cas_turn_relay_get_model (CasTurnRelay *self);
const char *cas_turn_relay_get_completion_id (CasTurnRelay *self);
gint64 cas_turn_relay_get_created (CasTurnRelay *self);

/* Reply on the message (status, JSON taken) and unpause it; a no-op
 * (freeing @json) when the client is gone or the stream started. */
void cas_turn_relay_reply_json (CasTurnRelay *self,
                                guint         status,
                                char         *json);
/* Replies the error in the message's path shape: 503 "execution failed:
 * <words>" for CLI failures, the error's own status otherwise. */
void cas_turn_relay_reply_error (CasTurnRelay *self,
                                 const GError *error);

G_END_DECLS
