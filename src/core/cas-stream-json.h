/* cas-stream-json.h: one line of `claude --output-format stream-json`
 * as a typed event.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  CAS_STREAM_EVENT_NONE,           /* valid JSON we ignore: unknown or uninteresting */
  CAS_STREAM_EVENT_INIT,           /* system/init */
  CAS_STREAM_EVENT_TEXT_DELTA,     /* stream_event content_block_delta/text_delta */
  CAS_STREAM_EVENT_ASSISTANT_TEXT, /* assistant line with a complete text block */
  CAS_STREAM_EVENT_TOOL_USE,       /* assistant line with a tool_use block */
  CAS_STREAM_EVENT_TOOL_RESULT,    /* user line with a tool_result block */
  CAS_STREAM_EVENT_API_RETRY,      /* system/api_retry */
  CAS_STREAM_EVENT_RESULT,         /* result: the last line of a turn */
} CasStreamEventKind;

/* Fields not listed for a kind stay NULL or 0. TEXT_DELTA and
 * ASSISTANT_TEXT carry the same words twice: a driver uses one or the
 * other, never both. */
typedef struct {
  CasStreamEventKind kind;
  char *type;               /* (nullable) the line's "type", for logs */
  char *subtype;            /* (nullable) the line's "subtype" (system, result) */
  char *session_id;         /* (nullable) any line that has one */
  char *parent_tool_use_id; /* (nullable) set on lines from inside a subagent */

  char *model;              /* INIT */
  char *text;               /* TEXT_DELTA, ASSISTANT_TEXT, TOOL_RESULT (parts joined
                             * with '\n'), RESULT ("result", or "errors" joined
                             * with "; "); never NULL for these kinds */
  char *tool_name;          /* TOOL_USE */
  char *tool_id;            /* TOOL_USE "id", TOOL_RESULT "tool_use_id" */
  char *tool_input_json;    /* TOOL_USE, compact JSON ("{}" if absent) */
  char *error_code;         /* ASSISTANT_TEXT/TOOL_USE wrapper "error" (e.g.
                             * "authentication_failed"), API_RETRY "error" */
  gboolean is_error;        /* TOOL_RESULT, RESULT (also TRUE for error_* subtypes) */
  int api_error_status;     /* RESULT "api_error_status", API_RETRY "error_status";
                             * 0 when null */

  int attempt;              /* API_RETRY */
  int max_retries;          /* API_RETRY */
  double retry_delay_ms;    /* API_RETRY */

  gint64 input_tokens;      /* RESULT, from "usage" */
  gint64 output_tokens;
  gint64 cache_read_input_tokens;
  gint64 cache_creation_input_tokens;
  double total_cost_usd;    /* RESULT; cumulative in a long-lived process */
  gint64 num_turns;         /* RESULT */
  gint64 duration_ms;       /* RESULT */
} CasStreamEvent;

CasStreamEvent *cas_stream_event_parse (const char *line,
                                        gsize       len,
                                        GError    **error);
/* The same through json-glib alone, for tests that check the fast path
 * of cas_stream_event_parse against it. */
CasStreamEvent *cas_stream_event_parse_tree (const char *line,
                                             gsize       len,
                                             GError    **error);
void cas_stream_event_free (CasStreamEvent *event);

gboolean cas_stream_event_is_not_logged_in (const CasStreamEvent *event);

/* Stream-json input (--input-format=stream-json), one line each with its
 * newline: a user turn with @text as its one text block, and the control
 * request that interrupts the running turn. Valid JSON for any text. */
char *cas_stream_json_format_user_message (const char *text);
char *cas_stream_json_format_interrupt (const char *request_id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasStreamEvent, cas_stream_event_free)

G_END_DECLS
