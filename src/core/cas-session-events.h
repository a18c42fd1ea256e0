/* cas-session-events.h: the breakglass event vocabulary, as pure
 * functions: CLI lines to events, events to log lines and SSE frames, and
 * a log file read back.
 *
 * An event is one JSON object on one line of the session's log,
 * {"id":N,"kind":...,...}, with ids 0-based and gap-free. Builders here
 * return the members after the id ("\"kind\":\"text\",\"text\":\"hi\""),
 * and cas_session_event_line() puts the id in front.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#include "cas-stream-json.h"

G_BEGIN_DECLS

/* Session ids are lower-case UUIDs (the CLI's --session-id takes the same
 * one): 36 characters of [0-9a-f-], so they are safe in paths and URLs.
 * Anything else, NULL included, is invalid. */
gboolean cas_session_id_is_valid (const char *id);

/* How far the current turn's CLI output has gone: reset it at each turn.
 * The CLI writes a reply's words twice (text deltas, then the whole
 * assistant block): once deltas came, the blocks are not repeated. */
typedef struct {
  gboolean got_delta;
} CasSessionTranslator;

void cas_session_translator_reset (CasSessionTranslator *state);

/* Appends to @out (element type: char *, owned) the members of the
 * events @event stands for: none, or one of session, text, tool, result.
 * Subagents' text deltas are not the reply and are dropped. */
void cas_session_translate (CasSessionTranslator *state,
                            const CasStreamEvent *event,
                            GPtrArray            *out);

/* Members of the events the daemon itself writes. */
char *cas_session_event_user (const char *text);
char *cas_session_event_error (const char *message);
char *cas_session_event_cancelled (void);
char *cas_session_event_turn_end (void);

/* {"id":@id,@members} without a newline. */
char *cas_session_event_line (guint64     id,
                              const char *members);
/* The SSE frame of a log line: "id: N\ndata: <line>\n\n". */
void cas_session_append_frame (GString    *out,
                               guint64     id,
                               const char *line,
                               gsize       line_len);

/* The error texts the CLI's stderr gives at most (the seed's 500). */
#define CAS_SESSION_MAX_ERROR_CHARS 500

/* What a log file holds. */
typedef struct {
  GArray *offsets;     /* (element-type guint64) each event's line start */
  guint64 valid_bytes; /* up to the end of the last good line */
  gboolean torn;       /* a last line without its newline was left out */
  gboolean turn_open;  /* events after the last turn_end: a turn never closed */
} CasSessionLog;

void cas_session_log_clear (CasSessionLog *log);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CasSessionLog, cas_session_log_clear)

/* Reads @data (a whole events.jsonl). A last line without a newline (the
 * daemon killed mid-write) is left out and *torn set. Any complete line
 * that is not an event with the next id and a known kind fails with
 * CAS_ERROR_INVALID_ARGUMENT naming the line: a log is never guessed at. */
gboolean cas_session_log_scan (const char     *data,
                               gsize           len,
                               CasSessionLog  *log,
                               GError        **error);

G_END_DECLS
