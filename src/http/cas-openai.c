/* cas-openai.c: parse, flatten and format the OpenAI chat-completions
 * wire format. Pure: no I/O, no clock.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-http"

#include "config.h"

#include <string.h>

#include "cas-error.h"
#include "cas-json.h"
#include "cas-openai.h"

/* Messages here reach HTTP clients: English, untranslated (cas-error.h). */

static void
tool_call_free (CasChatToolCall *call)
{
  g_free (call->id);
  g_free (call->name);
  g_free (call->arguments);
  g_free (call);
}

static void
chat_message_free (CasChatMessage *message)
{
  g_free (message->content);
  g_free (message->name);
  g_free (message->tool_call_id);
  g_clear_pointer (&message->tool_calls, g_ptr_array_unref);
  g_free (message);
}

void
cas_chat_request_free (CasChatRequest *request)
{
  if (request == NULL)
    return;
  g_free (request->model);
  g_clear_pointer (&request->messages, g_ptr_array_unref);
  g_free (request);
}

/* --- parsing ------------------------------------------------------------- */

typedef enum {
  KIND_STRING = 1 << 0,
  KIND_BOOL = 1 << 1,
  KIND_INT = 1 << 2,
  KIND_NUMBER = 1 << 3, /* int or double */
  KIND_OBJECT = 1 << 4,
  KIND_ARRAY = 1 << 5,
} ValueKind;

static gboolean
node_has_kind (JsonNode  *node,
               ValueKind  kinds)
{
  GType type;

  if (JSON_NODE_HOLDS_OBJECT (node))
    return (kinds & KIND_OBJECT) != 0;
  if (JSON_NODE_HOLDS_ARRAY (node))
    return (kinds & KIND_ARRAY) != 0;
  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  type = json_node_get_value_type (node);
  if (type == G_TYPE_STRING)
    return (kinds & KIND_STRING) != 0;
  if (type == G_TYPE_BOOLEAN)
    return (kinds & KIND_BOOL) != 0;
  if (type == G_TYPE_INT64)
    return (kinds & (KIND_INT | KIND_NUMBER)) != 0;
  if (type == G_TYPE_DOUBLE)
    return (kinds & KIND_NUMBER) != 0;
  return FALSE;
}

static const char *
kinds_words (ValueKind kinds)
{
  switch ((int) kinds)
    {
    case KIND_STRING:
      return "a string";
    case KIND_BOOL:
      return "a boolean";
    case KIND_INT:
      return "an integer";
    case KIND_NUMBER:
      return "a number";
    case KIND_OBJECT:
      return "an object";
    case KIND_ARRAY:
      return "an array";
    case KIND_STRING | KIND_OBJECT:
      return "a string or an object";
    default:
      return "of another type";
    }
}

/* The member of @object, or NULL when it is absent or null (both mean
 * "not given" in OpenAI requests). Fails when it has another kind. */
static gboolean
get_optional (JsonObject  *object,
              const char  *member,
              ValueKind    kinds,
              const char  *where,
              JsonNode   **out,
              GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!node_has_kind (node, kinds))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "%s%s must be %s, not %s", where, member,
                   kinds_words (kinds), cas_json_describe_node (node));
      return FALSE;
    }
  *out = node;
  return TRUE;
}

static gboolean
get_optional_string (JsonObject  *object,
                     const char  *member,
                     const char  *where,
                     char       **out,
                     GError     **error)
{
  JsonNode *node;

  if (!get_optional (object, member, KIND_STRING, where, &node, error))
    return FALSE;
  *out = node != NULL ? g_strdup (json_node_get_string (node)) : NULL;
  return TRUE;
}

static gboolean
parse_role (const char  *name,
            CasChatRole *role)
{
  static const struct {
    const char *name;
    CasChatRole role;
  } roles[] = {
    { "system", CAS_CHAT_ROLE_SYSTEM },
    { "developer", CAS_CHAT_ROLE_DEVELOPER },
    { "user", CAS_CHAT_ROLE_USER },
    { "assistant", CAS_CHAT_ROLE_ASSISTANT },
    { "tool", CAS_CHAT_ROLE_TOOL },
    /* The deprecated form of "tool" that older clients still send. */
    { "function", CAS_CHAT_ROLE_TOOL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (roles); i++)
    if (g_str_equal (name, roles[i].name))
      {
        *role = roles[i].role;
        return TRUE;
      }
  return FALSE;
}

/* content: a string, an array of parts (text parts kept, others such as
 * images ignored), or null. */
static gboolean
parse_content (JsonObject  *message,
               const char  *where,
               char       **out,
               GError     **error)
{
  JsonNode *node;
  JsonArray *parts;
  g_autoptr (GString) text = NULL;
  gboolean any = FALSE;

  *out = NULL;
  node = json_object_get_member (message, "content");
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (node_has_kind (node, KIND_STRING))
    {
      *out = g_strdup (json_node_get_string (node));
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "%scontent must be a string, an array of content parts or null, not %s",
                   where, cas_json_describe_node (node));
      return FALSE;
    }

  parts = json_node_get_array (node);
  text = g_string_new (NULL);
  for (guint i = 0; i < json_array_get_length (parts); i++)
    {
      JsonNode *part_node = json_array_get_element (parts, i);
      JsonObject *part;
      const char *type;
      JsonNode *part_text;
      g_autofree char *part_where = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (part_node))
        {
          g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                       "%scontent[%u] must be an object, not %s",
                       where, i, cas_json_describe_node (part_node));
          return FALSE;
        }
      part = json_node_get_object (part_node);
      type = cas_json_get_string (part, "type", NULL);
      if (type == NULL)
        {
          g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                       "%scontent[%u].type must be a string", where, i);
          return FALSE;
        }
      if (!g_str_equal (type, "text"))
        continue;
      part_where = g_strdup_printf ("%scontent[%u].", where, i);
      if (!get_optional (part, "text", KIND_STRING, part_where, &part_text, error))
        return FALSE;
      if (part_text == NULL)
        {
          g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                       "%stext is required for a text part", part_where);
          return FALSE;
        }
      if (any)
        g_string_append_c (text, '\n');
      g_string_append (text, json_node_get_string (part_text));
      any = TRUE;
    }
  if (any)
    *out = g_string_free (g_steal_pointer (&text), FALSE);
  return TRUE;
}

static gboolean
parse_tool_calls (JsonObject  *message,
                  const char  *where,
                  GPtrArray   *calls,
                  GError     **error)
{
  JsonNode *node;
  JsonArray *array;

  if (!get_optional (message, "tool_calls", KIND_ARRAY, where, &node, error))
    return FALSE;
  if (node == NULL)
    return TRUE;

  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *call_node = json_array_get_element (array, i);
      g_autofree char *call_where = g_strdup_printf ("%stool_calls[%u].", where, i);
      g_autofree char *function_where = NULL;
      JsonNode *function_node;
      JsonNode *arguments;
      JsonObject *call;
      JsonObject *function;
      CasChatToolCall *parsed;

      if (!JSON_NODE_HOLDS_OBJECT (call_node))
        {
          g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                       "%stool_calls[%u] must be an object, not %s",
                       where, i, cas_json_describe_node (call_node));
          return FALSE;
        }
      call = json_node_get_object (call_node);
      parsed = g_new0 (CasChatToolCall, 1);
      g_ptr_array_add (calls, parsed);
      if (!get_optional_string (call, "id", call_where, &parsed->id, error) ||
          !get_optional (call, "function", KIND_OBJECT, call_where, &function_node, error))
        return FALSE;
      if (function_node == NULL)
        continue;
      function = json_node_get_object (function_node);
      function_where = g_strconcat (call_where, "function.", NULL);
      if (!get_optional_string (function, "name", function_where, &parsed->name, error))
        return FALSE;
      /* A JSON text by the spec; some clients send the object itself. */
      if (!get_optional (function, "arguments", KIND_STRING | KIND_OBJECT,
                         function_where, &arguments, error))
        return FALSE;
      if (arguments != NULL && JSON_NODE_HOLDS_OBJECT (arguments))
        parsed->arguments = cas_json_node_to_string (arguments);
      else if (arguments != NULL)
        parsed->arguments = g_strdup (json_node_get_string (arguments));
    }
  return TRUE;
}

static CasChatMessage *
parse_message (JsonNode  *node,
               guint      index,
               GError   **error)
{
  g_autoptr (GPtrArray) calls = g_ptr_array_new_with_free_func ((GDestroyNotify) tool_call_free);
  g_autofree char *where = g_strdup_printf ("messages[%u].", index);
  g_autofree char *content = NULL;
  g_autofree char *name = NULL;
  g_autofree char *tool_call_id = NULL;
  CasChatMessage *message;
  JsonObject *object;
  JsonNode *role_node;
  CasChatRole role;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "messages[%u] must be an object, not %s", index, cas_json_describe_node (node));
      return NULL;
    }
  object = json_node_get_object (node);

  role_node = json_object_get_member (object, "role");
  if (role_node == NULL || !node_has_kind (role_node, KIND_STRING))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "%srole is required and must be a string", where);
      return NULL;
    }
  if (!parse_role (json_node_get_string (role_node), &role))
    {
      g_autoptr (GString) shown = g_string_new (NULL);

      cas_json_append_string (shown, json_node_get_string (role_node));
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "%srole %s is not one of system, developer, user, assistant, tool",
                   where, shown->str);
      return NULL;
    }

  if (!parse_content (object, where, &content, error) ||
      !get_optional_string (object, "name", where, &name, error) ||
      !get_optional_string (object, "tool_call_id", where, &tool_call_id, error) ||
      !parse_tool_calls (object, where, calls, error))
    return NULL;

  message = g_new0 (CasChatMessage, 1);
  message->role = role;
  message->content = g_steal_pointer (&content);
  message->name = g_steal_pointer (&name);
  message->tool_call_id = g_steal_pointer (&tool_call_id);
  message->tool_calls = g_steal_pointer (&calls);
  return message;
}

/* Fields that mean nothing to the CLI are still type-checked, as OpenAI
 * does, so a client bug shows up as a clear 400 rather than silence. */
static const struct {
  const char *member;
  ValueKind kinds;
} ignored_fields[] = {
  { "max_tokens", KIND_INT },
  { "max_completion_tokens", KIND_INT },
  { "temperature", KIND_NUMBER },
  { "top_p", KIND_NUMBER },
  { "tools", KIND_ARRAY },
  { "tool_choice", KIND_STRING | KIND_OBJECT },
  { "parallel_tool_calls", KIND_BOOL },
  { "response_format", KIND_OBJECT },
  { "user", KIND_STRING },
};

CasChatRequest *
cas_chat_request_parse (JsonObject         *body,
                        const char         *default_model,
                        const char * const *models,
                        GError            **error)
{
  g_autoptr (CasChatRequest) request = g_new0 (CasChatRequest, 1);
  JsonNode *node;
  JsonArray *messages;

  g_return_val_if_fail (body != NULL, NULL);

  if (!get_optional (body, "model", KIND_STRING, "", &node, error))
    return NULL;
  request->model = g_strdup (node != NULL ? json_node_get_string (node) : default_model);
  if (request->model == NULL || *request->model == '\0' ||
      models == NULL || !g_strv_contains (models, request->model))
    {
      g_autofree char *supported = models != NULL ? g_strjoinv (", ", (char **) models) : g_strdup ("");
      g_autoptr (GString) shown = g_string_new (NULL);

      cas_json_append_string (shown, request->model != NULL ? request->model : "");
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "unsupported model %s; supported models: %s", shown->str, supported);
      return NULL;
    }

  node = json_object_get_member (body, "messages");
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "messages is required");
      return NULL;
    }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "messages must be an array, not %s", cas_json_describe_node (node));
      return NULL;
    }
  messages = json_node_get_array (node);
  if (json_array_get_length (messages) == 0)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "messages must not be empty");
      return NULL;
    }

  request->messages = g_ptr_array_new_full (json_array_get_length (messages),
                                            (GDestroyNotify) chat_message_free);
  for (guint i = 0; i < json_array_get_length (messages); i++)
    {
      CasChatMessage *message = parse_message (json_array_get_element (messages, i), i, error);

      if (message == NULL)
        return NULL;
      g_ptr_array_add (request->messages, message);
    }

  if (!get_optional (body, "stream", KIND_BOOL, "", &node, error))
    return NULL;
  request->stream = node != NULL && json_node_get_boolean (node);

  if (!get_optional (body, "stream_options", KIND_OBJECT, "", &node, error))
    return NULL;
  if (node != NULL)
    {
      JsonNode *usage;

      if (!get_optional (json_node_get_object (node), "include_usage", KIND_BOOL,
                         "stream_options.", &usage, error))
        return NULL;
      request->include_usage = usage != NULL && json_node_get_boolean (usage);
    }

  for (gsize i = 0; i < G_N_ELEMENTS (ignored_fields); i++)
    if (!get_optional (body, ignored_fields[i].member, ignored_fields[i].kinds, "", &node, error))
      return NULL;

  return g_steal_pointer (&request);
}

/* --- flattening ---------------------------------------------------------- */

static void
append_turn (GString    *turns,
             const char *speaker,
             const char *text)
{
  if (turns->len > 0)
    g_string_append_c (turns, '\n');
  g_string_append (turns, speaker);
  g_string_append (turns, text != NULL ? text : "");
}

char *
cas_chat_request_flatten_prompt (const CasChatRequest *request)
{
  g_autoptr (GString) preamble = g_string_new (NULL);
  g_autoptr (GString) turns = g_string_new (NULL);
  GString *prompt;

  for (guint i = 0; i < request->messages->len; i++)
    {
      const CasChatMessage *message = g_ptr_array_index (request->messages, i);

      switch (message->role)
        {
        case CAS_CHAT_ROLE_SYSTEM:
        case CAS_CHAT_ROLE_DEVELOPER:
          if (message->content == NULL || *message->content == '\0')
            break;
          if (preamble->len > 0)
            g_string_append (preamble, "\n\n");
          g_string_append (preamble, message->content);
          break;
        case CAS_CHAT_ROLE_USER:
          if (message->content != NULL && *message->content != '\0')
            append_turn (turns, "User: ", message->content);
          break;
        case CAS_CHAT_ROLE_ASSISTANT:
          if (message->content != NULL && *message->content != '\0')
            append_turn (turns, "Assistant: ", message->content);
          for (guint j = 0; j < message->tool_calls->len; j++)
            {
              const CasChatToolCall *call = g_ptr_array_index (message->tool_calls, j);

              if (turns->len > 0)
                g_string_append_c (turns, '\n');
              g_string_append_printf (turns, "Assistant called tool %s with arguments: %s",
                                      call->name != NULL ? call->name : "(unnamed)",
                                      call->arguments != NULL ? call->arguments : "{}");
            }
          break;
        case CAS_CHAT_ROLE_TOOL:
          /* An empty result is still a result the dialogue refers to. */
          append_turn (turns, "Tool: ", message->content);
          break;
        default:
          break;
        }
    }

  prompt = g_string_sized_new (preamble->len + turns->len + 2);
  g_string_append_len (prompt, preamble->str, preamble->len);
  if (preamble->len > 0 && turns->len > 0)
    g_string_append (prompt, "\n\n");
  g_string_append_len (prompt, turns->str, turns->len);
  return g_string_free (prompt, FALSE);
}

/* --- formatting ---------------------------------------------------------- */

/* Written with cas-json, never JsonGenerator: json-glib 1.6.6 leaves U+001F
 * raw and mangles doubles, and formatting by hand keeps the hot path lean. */

char *
cas_openai_new_completion_id (void)
{
  return g_strdup_printf ("chatcmpl-%08x%08x%08x", g_random_int (), g_random_int (),
                          g_random_int ());
}

struct _CasChunkFormat
{
  char *id;         /* (owned) */
  char *model;      /* (owned) */
  gint64 created;
  /* (owned) data: {"id":..,"object":"chat.completion.chunk","created":..,
   * "model":..,"choices":[   -- the part every chunk shares */
  GString *prefix;
};

CasChunkFormat *
cas_chunk_format_new (const char *id,
                      const char *model,
                      gint64      created)
{
  CasChunkFormat *format = g_new0 (CasChunkFormat, 1);

  format->id = g_strdup (id);
  format->model = g_strdup (model);
  format->created = created;
  format->prefix = g_string_new ("data: {\"id\":");
  cas_json_append_string (format->prefix, id);
  g_string_append_printf (format->prefix,
                          ",\"object\":\"chat.completion.chunk\",\"created\":%" G_GINT64_FORMAT
                          ",\"model\":", created);
  cas_json_append_string (format->prefix, model);
  g_string_append (format->prefix, ",\"choices\":[");
  return format;
}

void
cas_chunk_format_free (CasChunkFormat *format)
{
  if (format == NULL)
    return;
  g_free (format->id);
  g_free (format->model);
  g_string_free (format->prefix, TRUE);
  g_free (format);
}

const char *
cas_chunk_format_get_id (const CasChunkFormat *format)
{
  return format->id;
}

const char *
cas_chunk_format_get_model (const CasChunkFormat *format)
{
  return format->model;
}

gint64
cas_chunk_format_get_created (const CasChunkFormat *format)
{
  return format->created;
}

void
cas_chunk_format_append_role (const CasChunkFormat *format,
                              GString              *out)
{
  g_string_append_len (out, format->prefix->str, format->prefix->len);
  g_string_append (out, "{\"index\":0,\"delta\":{\"role\":\"assistant\"},"
                        "\"finish_reason\":null}]}\n\n");
}

void
cas_chunk_format_append_content (const CasChunkFormat *format,
                                 GString              *out,
                                 const char           *text,
                                 gssize                len)
{
  g_string_append_len (out, format->prefix->str, format->prefix->len);
  g_string_append (out, "{\"index\":0,\"delta\":{\"content\":");
  cas_json_append_string_len (out, text, len);
  g_string_append (out, "},\"finish_reason\":null}]}\n\n");
}

void
cas_chunk_format_append_finish (const CasChunkFormat *format,
                                GString              *out,
                                const char           *finish_reason)
{
  g_string_append_len (out, format->prefix->str, format->prefix->len);
  g_string_append (out, "{\"index\":0,\"delta\":{},\"finish_reason\":");
  cas_json_append_string (out, finish_reason);
  g_string_append (out, "}]}\n\n");
}

static void
append_usage_object (GString *out,
                     gint64   prompt_tokens,
                     gint64   completion_tokens)
{
  g_string_append_printf (out,
                          "{\"prompt_tokens\":%" G_GINT64_FORMAT
                          ",\"completion_tokens\":%" G_GINT64_FORMAT
                          ",\"total_tokens\":%" G_GINT64_FORMAT "}",
                          prompt_tokens, completion_tokens,
                          prompt_tokens + completion_tokens);
}

void
cas_chunk_format_append_usage (const CasChunkFormat *format,
                               GString              *out,
                               gint64                prompt_tokens,
                               gint64                completion_tokens)
{
  g_string_append_len (out, format->prefix->str, format->prefix->len);
  g_string_append (out, "],\"usage\":");
  append_usage_object (out, prompt_tokens, completion_tokens);
  g_string_append (out, "}\n\n");
}

void
cas_openai_append_error_frame (GString    *out,
                               const char *message,
                               const char *type,
                               const char *code)
{
  g_string_append (out, "data: {\"error\":{\"message\":");
  cas_json_append_string (out, message);
  g_string_append (out, ",\"type\":");
  cas_json_append_string (out, type);
  g_string_append (out, ",\"param\":null,\"code\":");
  cas_json_append_string (out, code);
  g_string_append (out, "}}\n\n");
}

void
cas_openai_append_done_frame (GString *out)
{
  g_string_append (out, "data: [DONE]\n\n");
}

char *
cas_openai_format_completion (const char *id,
                              const char *model,
                              gint64      created,
                              const char *text,
                              gint64      prompt_tokens,
                              gint64      completion_tokens)
{
  GString *out = g_string_sized_new (256 + (text != NULL ? strlen (text) : 0));

  g_string_append (out, "{\"id\":");
  cas_json_append_string (out, id);
  g_string_append_printf (out, ",\"object\":\"chat.completion\",\"created\":%" G_GINT64_FORMAT
                          ",\"model\":", created);
  cas_json_append_string (out, model);
  g_string_append (out, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
  cas_json_append_string (out, text != NULL ? text : "");
  g_string_append (out, "},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":");
  append_usage_object (out, prompt_tokens, completion_tokens);
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

char *
cas_openai_format_models (const char * const *models,
                          gint64              created)
{
  GString *out = g_string_new ("{\"object\":\"list\",\"data\":[");

  for (guint i = 0; models != NULL && models[i] != NULL; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      g_string_append (out, "{\"id\":");
      cas_json_append_string (out, models[i]);
      g_string_append_printf (out, ",\"object\":\"model\",\"created\":%" G_GINT64_FORMAT
                              ",\"owned_by\":\"anthropic\"}", created);
    }
  g_string_append (out, "]}");
  return g_string_free (out, FALSE);
}
