/* cas-turn-relay.h: one CLI turn answering one HTTP request.
 *
 * The relay spawns a prepared CasCliProcess (stream-json output), reads its
 * lines and answers the request in one of two modes:
 *
 *  STREAM: OpenAI chunks over SSE. The response starts (headers and the
 *    role chunk) when the CLI's first stdout line arrives; each text delta
 *    is written and flushed the moment its line is read; then the finish
 *    chunk, the usage chunk when asked, and [DONE]. A failure after the
 *    start is an error chunk and [DONE]. A failure before it (spawn
 *    error, exit before any line) is a 503 JSON "execution failed: ...",
 *    unless @defer_early_failure is set.
 *  COLLECT: nothing is written; the text, usage and error are kept for
 *    the caller, who replies from its "done" handler (see
 *    cas_turn_relay_reply_json()).
 *
 * A client that goes away stops the CLI at once: in STREAM mode libsoup
 * notices on the next write (a ": ping" heartbeat while the CLI is
 * silent); before the first write, and in COLLECT mode, only when libsoup
 * exposes the connection's socket to peek at. The admission slot is
 * released when the run has finished. The relay keeps itself alive from
 * start until "done".
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libsoup/soup.h>

#include "cas-admission.h"
#include "cas-cli-process.h"

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
  /* STREAM: when the CLI cannot be spawned or exits before its first
   * line, write nothing and let the "done" handler decide (retry with
   * cas_turn_relay_start() again, or reply with
   * cas_turn_relay_reply_error()). For session recovery. */
  gboolean defer_early_failure;
  guint heartbeat_ms;    /* STREAM: ": ping" after this much silence; 0: 1000 */
} CasTurnRelayOptions;

/* Signals:
 *  "done" (void): the run finished (or could not start) and, unless the
 *    early failure was deferred or the mode is COLLECT, the response is
 *    complete. Getters below say how it went.
 *  "client-gone" (void): the client hung up or its message ended before
 *    the response did; emitted once, also while no run is started (a turn
 *    waiting in a queue), so its owner can drop it. */

/* Pauses @msg (the handler may return) and watches it: a client that
 * goes away before the response ends stops the run. Strings in @options
 * are copied. */
CasTurnRelay *cas_turn_relay_new (SoupServerMessage         *msg,
                                  const CasTurnRelayOptions *options);

/* Takes @slot (nullable; released when the run has finished, or at once
 * if the run cannot start) and relays @run, which must not be started
 * yet: the relay connects to it and starts it (main thread). Spawn
 * errors are reported through "done" like any other failure. May be
 * called again after a deferred early failure, with a new run. */
void cas_turn_relay_start (CasTurnRelay     *self,
                           CasCliProcess        *run,
                           CasAdmissionSlot *slot);

/* How long a warm process may take to write its turn's first line before
 * it counts as failed. The real CLI takes 0.1-0.2 s, or its start-up
 * (under a second) when it was only just started. */
#define CAS_TURN_RELAY_WARM_DEADLINE_SECONDS 10

/* Relays one turn on @warm, a started long-lived process (stream-json
 * input) that is the caller's alone: writes @message as the user's turn
 * and ends the turn at its result line, leaving the process to the
 * caller. Until the process's first line, a fault (it ended, wrote
 * garbage or said nothing within CAS_TURN_RELAY_WARM_DEADLINE_SECONDS)
 * starts @cold (nullable; not started, with the same prompt) in its place
 * instead, which the client cannot tell apart. A client that goes away
 * stops @warm. */
void cas_turn_relay_start_warm (CasTurnRelay     *self,
                                CasCliProcess    *warm,
                                const char       *message,
                                CasCliProcess    *cold,
                                CasAdmissionSlot *slot);
/* For a warm turn on a process that outlives it (a conversation's): a
 * client that goes away interrupts the turn (the interrupt control
 * request) instead of stopping the process, which is stopped only when
 * it does not end the turn within CAS_TURN_RELAY_INTERRUPT_SECONDS. */
#define CAS_TURN_RELAY_INTERRUPT_SECONDS 5
void cas_turn_relay_set_keep_process (CasTurnRelay *self,
                                      gboolean      keep);
/* TRUE when a warm start ran its cold fallback. */
gboolean cas_turn_relay_fell_back (CasTurnRelay *self);

/* NULL on success. Otherwise CAS_ERROR_CLI_NOT_FOUND, CAS_ERROR_CLI_FAILED
 * ("exit N: ..." or the result's error text), CAS_ERROR_NOT_LOGGED_IN,
 * CAS_ERROR_TIMED_OUT or CAS_ERROR_CANCELLED (client gone). */
const GError *cas_turn_relay_get_error (CasTurnRelay *self);
/* TRUE once the CLI's turn got under way: it wrote a stdout line other
 * than an error result opening its output, which is how it refuses its
 * arguments. In STREAM mode: the SSE response has started, and errors
 * went out as an error chunk. */
gboolean cas_turn_relay_got_output (CasTurnRelay *self);
/* TRUE when the client went away (or the message finished) first. */
gboolean cas_turn_relay_client_gone (CasTurnRelay *self);
/* The reply text: the text deltas joined (or the result text when the
 * CLI wrote no delta). Never NULL. */
const char *cas_turn_relay_get_text (CasTurnRelay *self);
/* From the result event; 0 when there was none. */
gint64 cas_turn_relay_get_input_tokens (CasTurnRelay *self);
gint64 cas_turn_relay_get_output_tokens (CasTurnRelay *self);
double cas_turn_relay_get_total_cost_usd (CasTurnRelay *self);
/* (nullable) The session id the CLI reported (init or result). */
const char *cas_turn_relay_get_session_id (CasTurnRelay *self);
/* (nullable) The run being (or last) relayed. */
CasCliProcess *cas_turn_relay_get_run (CasTurnRelay *self);
const char *cas_turn_relay_get_completion_id (CasTurnRelay *self);
gint64 cas_turn_relay_get_created (CasTurnRelay *self);

/* For COLLECT mode and deferred early failures: reply on the message
 * (status, JSON taken) and unpause it; a no-op (freeing @json) when the
 * client is gone. */
void cas_turn_relay_reply_json (CasTurnRelay *self,
                                guint         status,
                                char         *json);
/* Replies the error in the message's path shape: 503 "execution failed:
 * <words>" for CLI failures, the error's own status otherwise. */
void cas_turn_relay_reply_error (CasTurnRelay *self,
                                 const GError *error);

/* Pure: the words an HTTP client gets for a failed run
 * ("execution failed: exit 1: ..."). */
char *cas_turn_relay_describe_error (const GError *error);

G_END_DECLS
