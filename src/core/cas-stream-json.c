/* cas-stream-json.c: one line of `claude --output-format stream-json`
 * as a typed event.
 *
 * Lines are read by field, never by position or key order, and anything
 * unknown is ignored (claude-cli.md 2.3). Every member is type-checked
 * before it is read: a wrong-typed field counts as absent.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-cli"

#include <string.h>

#include "cas-error.h"
#include "cas-json.h"
#include "cas-json-scan.h"
#include "cas-stream-json.h"

/* JSON numbers come as integers or doubles ("total_cost_usd":0 vs 0.5). */
static double
get_number (JsonObject *object,
            const char *member,
            double      fallback)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return fallback;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    return (double) json_node_get_int (node);
  if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
    return json_node_get_double (node);
  return fallback;
}

/* Small counters and HTTP statuses; null or out of range gives 0. */
static int
get_small_int (JsonObject *object,
               const char *member)
{
  gint64 value = cas_json_get_int (object, member, 0);

  return value >= 0 && value <= G_MAXINT ? (int) value : 0;
}

static JsonObject *
array_get_object (JsonArray *array,
                  guint      index)
{
  JsonNode *node = json_array_get_element (array, index);

  return JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* The strings of @array joined with @separator; other elements skipped.
 * Text parts ({"type":"text","text":…}) count as strings when @parts. */
static char *
join_strings (JsonArray  *array,
              gboolean    parts,
              const char *separator)
{
  g_autoptr(GString) out = g_string_new (NULL);
  gboolean first = TRUE;

  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      const char *str = NULL;

      if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
        {
          str = json_node_get_string (node);
        }
      else if (parts && JSON_NODE_HOLDS_OBJECT (node))
        {
          JsonObject *part = json_node_get_object (node);

          if (g_strcmp0 (cas_json_get_string (part, "type", NULL), "text") == 0)
            str = cas_json_get_string (part, "text", NULL);
        }

      if (str == NULL)
        continue;
      if (!first)
        g_string_append (out, separator);
      g_string_append (out, str);
      first = FALSE;
    }

  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
parse_system (CasStreamEvent *event,
              JsonObject     *root)
{
  if (g_strcmp0 (event->subtype, "init") == 0)
    {
      event->kind = CAS_STREAM_EVENT_INIT;
      event->model = g_strdup (cas_json_get_string (root, "model", NULL));
    }
  else if (g_strcmp0 (event->subtype, "api_retry") == 0)
    {
      event->kind = CAS_STREAM_EVENT_API_RETRY;
      event->attempt = get_small_int (root, "attempt");
      event->max_retries = get_small_int (root, "max_retries");
      event->retry_delay_ms = get_number (root, "retry_delay_ms", 0);
      event->api_error_status = get_small_int (root, "error_status");
      event->error_code = g_strdup (cas_json_get_string (root, "error", NULL));
    }
}

static void
parse_stream_event (CasStreamEvent *event,
                    JsonObject     *root)
{
  JsonObject *stream_event = cas_json_get_object (root, "event");
  JsonObject *delta;

  if (stream_event == NULL ||
      g_strcmp0 (cas_json_get_string (stream_event, "type", NULL), "content_block_delta") != 0)
    return;

  delta = cas_json_get_object (stream_event, "delta");
  if (delta == NULL ||
      g_strcmp0 (cas_json_get_string (delta, "type", NULL), "text_delta") != 0)
    return;

  event->kind = CAS_STREAM_EVENT_TEXT_DELTA;
  event->text = g_strdup (cas_json_get_string (delta, "text", ""));
}

/* The content blocks of the wrapper's "message", or NULL. */
static JsonArray *
get_content (JsonObject *root)
{
  JsonObject *message = cas_json_get_object (root, "message");

  return message != NULL ? cas_json_get_array (message, "content") : NULL;
}

/* The CLI writes one content block per assistant line (claude-cli.md 3.4),
 * so the first text or tool_use block is the line's event. */
static void
parse_assistant (CasStreamEvent *event,
                 JsonObject     *root)
{
  JsonArray *content = get_content (root);

  event->error_code = g_strdup (cas_json_get_string (root, "error", NULL));
  if (content == NULL)
    return;

  for (guint i = 0; i < json_array_get_length (content); i++)
    {
      JsonObject *block = array_get_object (content, i);
      const char *block_type;

      if (block == NULL)
        continue;

      block_type = cas_json_get_string (block, "type", NULL);
      if (g_strcmp0 (block_type, "text") == 0)
        {
          event->kind = CAS_STREAM_EVENT_ASSISTANT_TEXT;
          event->text = g_strdup (cas_json_get_string (block, "text", ""));
          return;
        }
      if (g_strcmp0 (block_type, "tool_use") == 0)
        {
          JsonNode *input = json_object_get_member (block, "input");

          event->kind = CAS_STREAM_EVENT_TOOL_USE;
          event->tool_name = g_strdup (cas_json_get_string (block, "name", NULL));
          event->tool_id = g_strdup (cas_json_get_string (block, "id", NULL));
          event->tool_input_json = input != NULL ? cas_json_node_to_string (input)
                                                 : g_strdup ("{}");
          return;
        }
      /* thinking and unknown blocks carry nothing for the driver */
    }
}

/* Only tool results matter; interrupt markers and replays are ignored. */
static void
parse_user (CasStreamEvent *event,
            JsonObject     *root)
{
  JsonArray *content = get_content (root);

  if (content == NULL)
    return;

  for (guint i = 0; i < json_array_get_length (content); i++)
    {
      JsonObject *block = array_get_object (content, i);
      JsonArray *parts;

      if (block == NULL ||
          g_strcmp0 (cas_json_get_string (block, "type", NULL), "tool_result") != 0)
        continue;

      event->kind = CAS_STREAM_EVENT_TOOL_RESULT;
      event->tool_id = g_strdup (cas_json_get_string (block, "tool_use_id", NULL));
      event->is_error = cas_json_get_bool (block, "is_error", FALSE);

      /* "content" is a string or an array of {type:text,text} parts. */
      parts = cas_json_get_array (block, "content");
      if (parts != NULL)
        event->text = join_strings (parts, TRUE, "\n");
      else
        event->text = g_strdup (cas_json_get_string (block, "content", ""));
      return;
    }
}

static void
parse_result (CasStreamEvent *event,
              JsonObject     *root)
{
  const char *result = cas_json_get_string (root, "result", NULL);
  JsonArray *errors = cas_json_get_array (root, "errors");
  JsonObject *usage = cas_json_get_object (root, "usage");

  event->kind = CAS_STREAM_EVENT_RESULT;
  /* The error form's subtypes are all error_*: fail closed even if
   * is_error is missing. */
  event->is_error = cas_json_get_bool (root, "is_error", FALSE) ||
                    g_str_has_prefix (event->subtype != NULL ? event->subtype : "", "error_");

  /* The error form has no "result", only "errors". */
  if (result != NULL)
    event->text = g_strdup (result);
  else if (errors != NULL)
    event->text = join_strings (errors, FALSE, "; ");
  else
    event->text = g_strdup ("");

  if (usage != NULL)
    {
      event->input_tokens = cas_json_get_int (usage, "input_tokens", 0);
      event->output_tokens = cas_json_get_int (usage, "output_tokens", 0);
      event->cache_read_input_tokens = cas_json_get_int (usage, "cache_read_input_tokens", 0);
      event->cache_creation_input_tokens = cas_json_get_int (usage, "cache_creation_input_tokens", 0);
    }

  event->total_cost_usd = get_number (root, "total_cost_usd", 0);
  event->num_turns = cas_json_get_int (root, "num_turns", 0);
  event->duration_ms = cas_json_get_int (root, "duration_ms", 0);
  event->api_error_status = get_small_int (root, "api_error_status");
}

/* The reference parser: every line through json-glib. */
CasStreamEvent *
cas_stream_event_parse_tree (const char *line,
                             gsize       len,
                             GError    **error)
{
  g_autoptr(JsonObject) root = NULL;
  g_autoptr(CasStreamEvent) event = NULL;

  g_return_val_if_fail (line != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* cas_json_parse_object bounds the nesting before json-glib recurses. */
  root = cas_json_parse_object (line != NULL ? line : "", len, error);
  if (root == NULL)
    return NULL;

  event = g_new0 (CasStreamEvent, 1);
  event->type = g_strdup (cas_json_get_string (root, "type", NULL));
  event->subtype = g_strdup (cas_json_get_string (root, "subtype", NULL));
  event->session_id = g_strdup (cas_json_get_string (root, "session_id", NULL));
  event->parent_tool_use_id = g_strdup (cas_json_get_string (root, "parent_tool_use_id", NULL));

  if (g_strcmp0 (event->type, "system") == 0)
    parse_system (event, root);
  else if (g_strcmp0 (event->type, "stream_event") == 0)
    parse_stream_event (event, root);
  else if (g_strcmp0 (event->type, "assistant") == 0)
    parse_assistant (event, root);
  else if (g_strcmp0 (event->type, "user") == 0)
    parse_user (event, root);
  else if (g_strcmp0 (event->type, "result") == 0)
    parse_result (event, root);

  return g_steal_pointer (&event);
}

/* Most lines of a streamed reply are stream_event lines, and of those we
 * need only the text of a text_delta: picked out without building a
 * json-glib tree. The result is the same as cas_stream_event_parse_tree ()'s
 * (a test compares the two on many lines, broken ones included). */
static CasStreamEvent *
parse_stream_event_line (const char *line,
                         gsize       len)
{
  enum { TYPE, SUBTYPE, SESSION_ID, PARENT_TOOL_USE_ID, EVENT_TYPE, DELTA_TYPE, DELTA_TEXT };
  static const char *const paths[] = {
    "type", "subtype", "session_id", "parent_tool_use_id",
    "event.type", "event.delta.type", "event.delta.text", NULL
  };
  char *values[G_N_ELEMENTS (paths)] = { NULL };
  CasStreamEvent *event;

  if (!cas_json_scan_strings (line, len, paths, values))
    return NULL;
  if (g_strcmp0 (values[TYPE], "stream_event") != 0)
    {
      for (guint i = 0; i < G_N_ELEMENTS (values); i++)
        g_free (values[i]);
      return NULL;
    }

  event = g_new0 (CasStreamEvent, 1);
  event->type = values[TYPE];
  event->subtype = values[SUBTYPE];
  event->session_id = values[SESSION_ID];
  event->parent_tool_use_id = values[PARENT_TOOL_USE_ID];
  if (g_strcmp0 (values[EVENT_TYPE], "content_block_delta") == 0 &&
      g_strcmp0 (values[DELTA_TYPE], "text_delta") == 0)
    {
      event->kind = CAS_STREAM_EVENT_TEXT_DELTA;
      event->text = values[DELTA_TEXT] != NULL ? values[DELTA_TEXT] : g_strdup ("");
    }
  else
    g_free (values[DELTA_TEXT]);
  g_free (values[EVENT_TYPE]);
  g_free (values[DELTA_TYPE]);
  return event;
}

/**
 * cas_stream_event_parse:
 * @line: (array length=len): one stdout line, without its '\n'
 * @len: length of @line
 * @error: return location for a #GError
 *
 * Valid JSON objects always give an event, of kind
 * %CAS_STREAM_EVENT_NONE for lines the driver does not need.
 *
 * Returns: (transfer full) (nullable): the event, or %NULL with
 *   %CAS_ERROR_INVALID_ARGUMENT if @line is not a JSON object
 */
CasStreamEvent *
cas_stream_event_parse (const char *line,
                        gsize       len,
                        GError    **error)
{
  CasStreamEvent *event;

  g_return_val_if_fail (line != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  event = parse_stream_event_line (line != NULL ? line : "", len);
  if (event != NULL)
    return event;
  return cas_stream_event_parse_tree (line, len, error);
}

void
cas_stream_event_free (CasStreamEvent *event)
{
  if (event == NULL)
    return;

  g_free (event->type);
  g_free (event->subtype);
  g_free (event->session_id);
  g_free (event->parent_tool_use_id);
  g_free (event->model);
  g_free (event->text);
  g_free (event->tool_name);
  g_free (event->tool_id);
  g_free (event->tool_input_json);
  g_free (event->error_code);
  g_free (event);
}

/**
 * cas_stream_event_is_not_logged_in:
 * @event: (nullable): any event of a turn
 *
 * The CLI reports a missing or rejected login as a synthetic assistant
 * line with "error":"authentication_failed", then a result with
 * is_error and text "Not logged in · Please run /login" (or, for a bad
 * key, api_error_status 401). Either line is enough (claude-cli.md 5.1,
 * 5.2); api_retry lines are not, since the CLI may still recover.
 *
 * Returns: %TRUE if @event shows the CLI is not logged in
 */
gboolean
cas_stream_event_is_not_logged_in (const CasStreamEvent *event)
{
  if (event == NULL)
    return FALSE;

  switch (event->kind)
    {
    case CAS_STREAM_EVENT_ASSISTANT_TEXT:
    case CAS_STREAM_EVENT_TOOL_USE:
      return g_strcmp0 (event->error_code, "authentication_failed") == 0;
    case CAS_STREAM_EVENT_RESULT:
      return event->is_error &&
             ((event->text != NULL && strstr (event->text, "Not logged in") != NULL) ||
              event->api_error_status == 401);
    case CAS_STREAM_EVENT_NONE:
    case CAS_STREAM_EVENT_INIT:
    case CAS_STREAM_EVENT_TEXT_DELTA:
    case CAS_STREAM_EVENT_TOOL_RESULT:
    case CAS_STREAM_EVENT_API_RETRY:
    default:
      return FALSE;
    }
}

char *
cas_stream_json_format_user_message (const char *text)
{
  GString *line = g_string_sized_new (96 + strlen (text));

  g_string_append (line, "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":"
                         "[{\"type\":\"text\",\"text\":");
  cas_json_append_string (line, text);
  g_string_append (line, "}]}}\n");
  return g_string_free (line, FALSE);
}

char *
cas_stream_json_format_interrupt (const char *request_id)
{
  GString *line = g_string_new ("{\"type\":\"control_request\",\"request_id\":");

  cas_json_append_string (line, request_id);
  g_string_append (line, ",\"request\":{\"subtype\":\"interrupt\"}}\n");
  return g_string_free (line, FALSE);
}
