/* cas-session-events.c: the breakglass event vocabulary (mission-anchors
 * 4.4), pure.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-breakglass"

#include <string.h>

#include "cas-error.h"
#include "cas-json.h"
#include "cas-json-scan.h"
#include "cas-session-events.h"

gboolean
cas_session_id_is_valid (const char *id)
{
  if (id == NULL || strlen (id) != 36)
    return FALSE;
  for (guint i = 0; i < 36; i++)
    {
      gboolean dash = i == 8 || i == 13 || i == 18 || i == 23;

      if (dash ? id[i] != '-' : !((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
        return FALSE;
    }
  return TRUE;
}

void
cas_session_translator_reset (CasSessionTranslator *state)
{
  state->got_delta = FALSE;
}

static char *
text_event (const char *text)
{
  GString *out = g_string_new ("\"kind\":\"text\",\"text\":");

  cas_json_append_string (out, text);
  return g_string_free (out, FALSE);
}

void
cas_session_translate (CasSessionTranslator *state,
                       const CasStreamEvent *event,
                       GPtrArray            *out)
{
  GString *members;

  switch (event->kind)
    {
    case CAS_STREAM_EVENT_INIT:
      members = g_string_new ("\"kind\":\"session\",\"session_id\":");
      cas_json_append_string (members, event->session_id);
      g_ptr_array_add (out, g_string_free (members, FALSE));
      break;
    case CAS_STREAM_EVENT_TEXT_DELTA:
      /* A subagent's words are its own, not the reply. */
      if (event->parent_tool_use_id != NULL || event->text == NULL || *event->text == '\0')
        break;
      state->got_delta = TRUE;
      g_ptr_array_add (out, text_event (event->text));
      break;
    case CAS_STREAM_EVENT_ASSISTANT_TEXT:
      /* Without partial messages a block is the only copy of its words. */
      if (state->got_delta || event->parent_tool_use_id != NULL ||
          event->text == NULL || *event->text == '\0')
        break;
      g_ptr_array_add (out, text_event (event->text));
      break;
    case CAS_STREAM_EVENT_TOOL_USE:
      members = g_string_new ("\"kind\":\"tool\",\"name\":");
      cas_json_append_string (members, event->tool_name != NULL ? event->tool_name : "");
      /* The parser wrote it with our writer: valid JSON as it stands. */
      g_string_append (members, ",\"input\":");
      g_string_append (members, event->tool_input_json != NULL ? event->tool_input_json : "{}");
      g_ptr_array_add (out, g_string_free (members, FALSE));
      break;
    case CAS_STREAM_EVENT_RESULT:
      members = g_string_new ("\"kind\":\"result\",\"is_error\":");
      g_string_append (members, event->is_error ? "true" : "false");
      g_string_append (members, ",\"result\":");
      cas_json_append_string (members, event->text != NULL ? event->text : "");
      g_string_append_printf (members, ",\"duration_ms\":%" G_GINT64_FORMAT,
                              MAX (event->duration_ms, 0));
      g_ptr_array_add (out, g_string_free (members, FALSE));
      break;
    case CAS_STREAM_EVENT_NONE:
    case CAS_STREAM_EVENT_TOOL_RESULT:
    case CAS_STREAM_EVENT_API_RETRY:
    default:
      /* Hook, thinking, status and retry lines are not shown (the seed's
       * choice); the result says how a retried turn ended. */
      break;
    }
}

char *
cas_session_event_user (const char *text)
{
  GString *out = g_string_new ("\"kind\":\"user\",\"text\":");

  cas_json_append_string (out, text);
  return g_string_free (out, FALSE);
}

char *
cas_session_event_error (const char *message)
{
  GString *out = g_string_new ("\"kind\":\"error\",\"error\":");
  g_autofree char *cut = NULL;

  /* Characters, not bytes: a cut never splits one. */
  if (message != NULL && g_utf8_validate (message, -1, NULL) &&
      g_utf8_strlen (message, -1) > CAS_SESSION_MAX_ERROR_CHARS)
    {
      cut = g_utf8_substring (message, 0, CAS_SESSION_MAX_ERROR_CHARS);
      message = cut;
    }
  cas_json_append_string (out, message != NULL ? message : "");
  return g_string_free (out, FALSE);
}

char *
cas_session_event_cancelled (void)
{
  return g_strdup ("\"kind\":\"cancelled\"");
}

char *
cas_session_event_turn_end (void)
{
  return g_strdup ("\"kind\":\"turn_end\"");
}

char *
cas_session_event_line (guint64     id,
                        const char *members)
{
  return g_strdup_printf ("{\"id\":%" G_GUINT64_FORMAT ",%s}", id, members);
}

void
cas_session_append_frame (GString    *out,
                          guint64     id,
                          const char *line,
                          gsize       line_len)
{
  /* Our JSON has no raw newline: one data line carries it. */
  g_string_append_printf (out, "id: %" G_GUINT64_FORMAT "\ndata: ", id);
  g_string_append_len (out, line, line_len);
  g_string_append (out, "\n\n");
}

void
cas_session_log_clear (CasSessionLog *log)
{
  g_clear_pointer (&log->offsets, g_array_unref);
  log->valid_bytes = 0;
  log->torn = FALSE;
  log->turn_open = FALSE;
}

static const char * const known_kinds[] = {
  "user", "session", "text", "tool", "result", "error", "cancelled", "turn_end", NULL
};

/* The kind of a line that is event @id, or NULL. */
static char *
line_kind (const char *line,
           gsize       len,
           guint64     id)
{
  static const char * const paths[] = { "kind", NULL };
  char prefix[48];
  char *values[1] = { NULL };
  int n = g_snprintf (prefix, sizeof prefix, "{\"id\":%" G_GUINT64_FORMAT ",", id);

  /* We write every line in this one form: the id leads. */
  if (len < (gsize) n || memcmp (line, prefix, n) != 0)
    return NULL;
  if (!cas_json_scan_strings (line, len, paths, values))
    return NULL;
  if (values[0] == NULL || !g_strv_contains (known_kinds, values[0]))
    {
      g_free (values[0]);
      return NULL;
    }
  return values[0];
}

gboolean
cas_session_log_scan (const char     *data,
                      gsize           len,
                      CasSessionLog  *log,
                      GError        **error)
{
  gsize pos = 0;
  guint64 id = 0;
  gboolean open = FALSE;

  cas_session_log_clear (log);
  log->offsets = g_array_new (FALSE, FALSE, sizeof (guint64));
  while (pos < len)
    {
      const char *end = memchr (data + pos, '\n', len - pos);
      g_autofree char *kind = NULL;
      gsize line_len;

      if (end == NULL)
        {
          /* Killed mid-write: the event never reached anyone. */
          log->torn = TRUE;
          break;
        }
      line_len = (gsize) (end - (data + pos));
      kind = line_kind (data + pos, line_len, id);
      if (kind == NULL)
        {
          g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                       "line %" G_GUINT64_FORMAT " is not event %" G_GUINT64_FORMAT,
                       id + 1, id);
          cas_session_log_clear (log);
          return FALSE;
        }
      g_array_append_val (log->offsets, (guint64) { pos });
      open = !g_str_equal (kind, "turn_end");
      pos += line_len + 1;
      id++;
    }
  log->valid_bytes = pos;
  log->turn_open = open;
  return TRUE;
}
