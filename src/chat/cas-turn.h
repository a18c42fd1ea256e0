/* cas-turn.h: one CLI turn, as the services see it.
 *
 * A turn runs a prepared CasCliProcess (stream-json output) and turns its
 * lines into what any front end needs: the moment the turn got under way,
 * each piece of reply text as it is read, the end of the reply (the result
 * line) and the end of the turn. It knows nothing of HTTP: the routes
 * relay it as OpenAI chunks (CasTurnRelay), and D-Bus or breakglass can
 * collect it.
 *
 * A turn runs either cold (a one-shot process, the prompt on stdin; it
 * ends when the process has exited) or warm (a long-lived process that
 * gets the message as a stream-json line; it ends at the result line and
 * leaves the process running). Until a warm process's first line, a fault
 * (it ended, wrote garbage or said nothing in time) starts a cold
 * fallback in its place, which nobody downstream can tell apart.
 *
 * A service may start a turn again after an attempt that never got under
 * way (the CLI refusing its arguments), with a new process: the output
 * signals are only emitted once an attempt gets under way, so the retry
 * is unseen.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-admission.h"
#include "cas-cli-process.h"

G_BEGIN_DECLS

#define CAS_TYPE_TURN (cas_turn_get_type ())
G_DECLARE_FINAL_TYPE (CasTurn, cas_turn, CAS, TURN, GObject)

/* Signals:
 *  "began" (void): the attempt got under way: the CLI wrote a line other
 *    than an error result opening its output (how it refuses its
 *    arguments). Emitted at most once per turn.
 *  "text" (const char *text): a piece of the reply, the moment its line is
 *    read: each text delta, or the result's text when the CLI wrote no
 *    delta.
 *  "reply-ended" (gpointer error): the result line came: the reply is
 *    complete (error NULL) or failed (a const GError *). The process may
 *    still be exiting.
 *  "done" (void): the attempt is over (the process reaped, or a warm
 *    turn's result read), or could not start. Getters say how it went. */

CasTurn *cas_turn_new (void);

/* Takes @slot (nullable; released when the attempt is over) and runs
 * @run, which must not be started yet (main thread). Spawn errors are
 * reported through "done". */
void cas_turn_start (CasTurn          *self,
                     CasCliProcess    *run,
                     CasAdmissionSlot *slot);

/* How long a warm process may take to write its turn's first line before
 * it counts as failed. The real CLI takes 0.1-0.2 s, or its start-up
 * (under a second) when it was only just started. */
#define CAS_TURN_WARM_DEADLINE_SECONDS 10

/* Runs the turn on @warm, a started long-lived process that is the
 * caller's alone: writes @message as the user's turn and ends the turn at
 * its result line, leaving the process to the caller. @cold (nullable;
 * not started, with the same prompt) takes over after a fault before the
 * first line. */
void cas_turn_start_warm (CasTurn          *self,
                          CasCliProcess    *warm,
                          const char       *message,
                          CasCliProcess    *cold,
                          CasAdmissionSlot *slot);

/* For a warm turn on a process that outlives it (a conversation's):
 * cancelling interrupts the turn (the interrupt control request) instead
 * of stopping the process, which is stopped only when it does not end the
 * turn within CAS_TURN_INTERRUPT_SECONDS. */
#define CAS_TURN_INTERRUPT_SECONDS 5
void cas_turn_set_keep_process (CasTurn  *self,
                                gboolean  keep);
/* For such a turn: past @seconds it is interrupted the same way and
 * ends with CAS_ERROR_TIMED_OUT; the process stays. (Other turns time
 * out with their process: cas_cli_process_set_timeout().) */
void cas_turn_set_timeout (CasTurn *self,
                           guint    seconds);

/* The one who asked is gone: interrupt or stop a running attempt ("done"
 * follows); an attempt started later ends at once. Idempotent. */
void cas_turn_cancel (CasTurn *self);
gboolean cas_turn_is_cancelled (CasTurn *self);

/* Between start and "done". */
gboolean cas_turn_is_running (CasTurn *self);
/* TRUE when a warm start ran its cold fallback. */
gboolean cas_turn_fell_back (CasTurn *self);
/* TRUE once the turn got under way ("began" was emitted). */
gboolean cas_turn_began (CasTurn *self);

/* NULL on success. Otherwise CAS_ERROR_CLI_NOT_FOUND, CAS_ERROR_CLI_FAILED
 * ("exit N: ..." or the result's error text), CAS_ERROR_NOT_LOGGED_IN,
 * CAS_ERROR_TIMED_OUT or CAS_ERROR_CANCELLED. */
const GError *cas_turn_get_error (CasTurn *self);
/* The reply text so far; never NULL. */
const char *cas_turn_get_text (CasTurn *self);
/* From the result event; 0 when there was none. */
gint64 cas_turn_get_input_tokens (CasTurn *self);
gint64 cas_turn_get_output_tokens (CasTurn *self);
double cas_turn_get_total_cost_usd (CasTurn *self);
/* (nullable) The session id the CLI reported (init or result). */
const char *cas_turn_get_session_id (CasTurn *self);
/* (nullable) The process of the current (or last) attempt. */
CasCliProcess *cas_turn_get_run (CasTurn *self);

/* Pure: the words a client gets for a failed turn
 * ("execution failed: exit 1: ..."). */
char *cas_turn_describe_error (const GError *error);

G_END_DECLS
