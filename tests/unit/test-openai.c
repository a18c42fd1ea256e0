/* test-openai.c: the OpenAI wire format: every accepted and rejected
 * request shape, prompt flattening, and chunk/body formats that are valid
 * JSON for every input (control characters, Bulgarian).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <json-glib/json-glib.h>

#include "cas-error.h"
#include "cas-json.h"
#include "cas-openai.h"

static const char * const models[] = { "haiku", "sonnet", "opus", NULL };

static CasChatRequest *
parse (const char *json,
       GError    **error)
{
  g_autoptr (JsonObject) body = cas_json_parse_object (json, strlen (json), error);

  if (body == NULL)
    return NULL;
  return cas_chat_request_parse (body, "sonnet", models, error);
}

static void
assert_rejected (const char *json,
                 const char *words)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CasChatRequest) request = parse (json, &error);

  if (request != NULL)
    g_error ("accepted: %s", json);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  if (strstr (error->message, words) == NULL)
    g_error ("%s: message \"%s\" lacks \"%s\"", json, error->message, words);
}

/* Parses a frame "data: <json>\n\n" and returns the object. */
static JsonObject *
frame_object (const char *frame)
{
  g_autoptr (GError) error = NULL;
  gsize len = strlen (frame);
  JsonObject *object;

  g_assert_true (g_str_has_prefix (frame, "data: "));
  g_assert_true (g_str_has_suffix (frame, "\n\n"));
  /* One line: a newline inside would end the SSE event early. */
  g_assert_null (memchr (frame, '\n', len - 2));
  object = cas_json_parse_object (frame + 6, len - 8, &error);
  g_assert_no_error (error);
  return object;
}

/* ---- parsing ---- */

static void
test_parse_minimal (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CasChatRequest) request =
    parse ("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &error);
  const CasChatMessage *message;

  g_assert_no_error (error);
  g_assert_cmpstr (request->model, ==, "sonnet");
  g_assert_false (request->stream);
  g_assert_false (request->include_usage);
  g_assert_cmpuint (request->messages->len, ==, 1);
  message = g_ptr_array_index (request->messages, 0);
  g_assert_cmpint (message->role, ==, CAS_CHAT_ROLE_USER);
  g_assert_cmpstr (message->content, ==, "hi");
  g_assert_cmpuint (message->tool_calls->len, ==, 0);
}

/* What Pipecat's OpenAILLMService and the openai SDKs send. */
static void
test_parse_everything_accepted (void)
{
  const char *json =
    "{\"model\":\"haiku\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
    "\"max_tokens\":100,\"max_completion_tokens\":200,\"temperature\":0.7,\"top_p\":1,"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{}}}],"
    "\"tool_choice\":\"auto\",\"parallel_tool_calls\":false,"
    "\"response_format\":{\"type\":\"text\"},\"user\":\"u1\",\"seed\":7,\"n\":1,"
    "\"some_future_field\":{\"x\":[1,2]},"
    "\"messages\":["
    "{\"role\":\"system\",\"content\":\"Be brief.\"},"
    "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Speak Bulgarian.\"}]},"
    "{\"role\":\"user\",\"name\":\"ivan\",\"content\":[{\"type\":\"text\",\"text\":\"Здравей\"},"
    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:x\"}},{\"type\":\"text\",\"text\":\"again\"}]},"
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
    "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Sofia\\\"}\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"22 C\"},"
    "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Warm.\"},{\"type\":\"refusal\",\"refusal\":\"no\"}]},"
    "{\"role\":\"function\",\"name\":\"f\",\"content\":\"old style\"}"
    "]}";
  g_autoptr (GError) error = NULL;
  g_autoptr (CasChatRequest) request = parse (json, &error);
  const CasChatMessage *m;
  const CasChatToolCall *call;

  g_assert_no_error (error);
  g_assert_cmpstr (request->model, ==, "haiku");
  g_assert_true (request->stream);
  g_assert_true (request->include_usage);
  g_assert_cmpuint (request->messages->len, ==, 7);

  m = g_ptr_array_index (request->messages, 1);
  g_assert_cmpint (m->role, ==, CAS_CHAT_ROLE_DEVELOPER);
  g_assert_cmpstr (m->content, ==, "Speak Bulgarian.");

  m = g_ptr_array_index (request->messages, 2);
  g_assert_cmpstr (m->content, ==, "Здравей\nagain");
  g_assert_cmpstr (m->name, ==, "ivan");

  m = g_ptr_array_index (request->messages, 3);
  g_assert_cmpint (m->role, ==, CAS_CHAT_ROLE_ASSISTANT);
  g_assert_null (m->content);
  g_assert_cmpuint (m->tool_calls->len, ==, 1);
  call = g_ptr_array_index (m->tool_calls, 0);
  g_assert_cmpstr (call->id, ==, "call_1");
  g_assert_cmpstr (call->name, ==, "get_weather");
  g_assert_cmpstr (call->arguments, ==, "{\"city\":\"Sofia\"}");

  m = g_ptr_array_index (request->messages, 4);
  g_assert_cmpint (m->role, ==, CAS_CHAT_ROLE_TOOL);
  g_assert_cmpstr (m->tool_call_id, ==, "call_1");
  g_assert_cmpstr (m->content, ==, "22 C");

  m = g_ptr_array_index (request->messages, 5);
  g_assert_cmpstr (m->content, ==, "Warm.");

  m = g_ptr_array_index (request->messages, 6);
  g_assert_cmpint (m->role, ==, CAS_CHAT_ROLE_TOOL);
}

static void
test_parse_nulls_mean_absent (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CasChatRequest) request =
    parse ("{\"model\":null,\"stream\":null,\"stream_options\":null,\"max_tokens\":null,"
           "\"temperature\":null,\"tools\":null,\"user\":null,"
           "\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"name\":null,"
           "\"tool_calls\":null,\"tool_call_id\":null},"
           "{\"role\":\"assistant\"},{\"role\":\"user\",\"content\":[]}]}", &error);
  const CasChatMessage *m;

  g_assert_no_error (error);
  g_assert_cmpstr (request->model, ==, "sonnet");
  g_assert_false (request->stream);
  m = g_ptr_array_index (request->messages, 1);
  g_assert_null (m->content);
  m = g_ptr_array_index (request->messages, 2);
  g_assert_null (m->content);
}

static void
test_parse_stream_options (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CasChatRequest) a =
    parse ("{\"stream\":true,\"stream_options\":{},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &error);
  g_autoptr (CasChatRequest) b =
    parse ("{\"stream\":false,\"stream_options\":{\"include_usage\":false},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &error);

  g_assert_no_error (error);
  g_assert_true (a->stream);
  g_assert_false (a->include_usage);
  g_assert_false (b->stream);
  g_assert_false (b->include_usage);
}

static void
test_parse_rejected (void)
{
  assert_rejected ("{", "not valid JSON");
  assert_rejected ("[1,2]", "must be a JSON object");
  assert_rejected ("\"text\"", "must be a JSON object");
  assert_rejected ("{}", "messages is required");
  assert_rejected ("{\"messages\":null}", "messages is required");
  assert_rejected ("{\"messages\":[]}", "must not be empty");
  assert_rejected ("{\"messages\":{}}", "messages must be an array, not an object");
  assert_rejected ("{\"messages\":\"hi\"}", "messages must be an array, not a string");
  assert_rejected ("{\"messages\":[\"hi\"]}", "messages[0] must be an object, not a string");
  assert_rejected ("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},null]}",
                   "messages[1] must be an object, not null");
  assert_rejected ("{\"messages\":[{\"content\":\"hi\"}]}", "messages[0].role is required");
  assert_rejected ("{\"messages\":[{\"role\":7,\"content\":\"hi\"}]}", "messages[0].role is required and must be a string");
  assert_rejected ("{\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}",
                   "messages[0].role \"wizard\" is not one of system, developer, user, assistant, tool");
  assert_rejected ("{\"messages\":[{\"role\":\"user\",\"content\":42}]}",
                   "messages[0].content must be a string, an array of content parts or null, not a number");
  assert_rejected ("{\"messages\":[{\"role\":\"user\",\"content\":true}]}", "not a boolean");
  assert_rejected ("{\"messages\":[{\"role\":\"user\",\"content\":{\"text\":\"x\"}}]}", "not an object");
  assert_rejected ("{\"messages\":[{\"role\":\"user\",\"content\":[\"x\"]}]}",
                   "messages[0].content[0] must be an object, not a string");
  assert_rejected ("{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}]}",
                   "messages[0].content[0].type must be a string");
  assert_rejected ("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":5}]}]}",
                   "messages[0].content[0].text must be a string, not a number");
  assert_rejected ("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}",
                   "text is required");
  assert_rejected ("{\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"name\":1}]}",
                   "messages[0].name must be a string");
  assert_rejected ("{\"messages\":[{\"role\":\"tool\",\"content\":\"x\",\"tool_call_id\":[]}]}",
                   "messages[0].tool_call_id must be a string, not an array");
  assert_rejected ("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":{}}]}",
                   "messages[0].tool_calls must be an array");
  assert_rejected ("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[1]}]}",
                   "messages[0].tool_calls[0] must be an object");
  assert_rejected ("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":\"f\"}]}]}",
                   "messages[0].tool_calls[0].function must be an object");
  assert_rejected ("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"name\":1}}]}]}",
                   "messages[0].tool_calls[0].function.name must be a string");
  assert_rejected ("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"arguments\":1}}]}]}",
                   "function.arguments must be a string or an object");
  assert_rejected ("{\"stream\":\"yes\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   "stream must be a boolean, not a string");
  assert_rejected ("{\"stream\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   "stream must be a boolean, not a number");
  assert_rejected ("{\"stream_options\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   "stream_options must be an object");
  assert_rejected ("{\"stream_options\":{\"include_usage\":\"1\"},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   "stream_options.include_usage must be a boolean");
  assert_rejected ("{\"max_tokens\":\"100\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   "max_tokens must be an integer");
  assert_rejected ("{\"max_tokens\":1.5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   "max_tokens must be an integer");
  assert_rejected ("{\"temperature\":\"hot\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   "temperature must be a number");
  assert_rejected ("{\"tools\":{},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   "tools must be an array");
  assert_rejected ("{\"tool_choice\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   "tool_choice must be a string or an object");
  assert_rejected ("{\"model\":7,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   "model must be a string, not a number");
}

static void
test_parse_unsupported_model (void)
{
  assert_rejected ("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   "unsupported model \"gpt-4o\"; supported models: haiku, sonnet, opus");
  assert_rejected ("{\"model\":\"\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   "unsupported model");
  /* Quoted with our writer: a hostile name cannot break the message. */
  assert_rejected ("{\"model\":\"a\\u0001\\n\\\"b\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   "unsupported model \"a\\u0001\\n\\\"b\"");
  assert_rejected ("{\"messages\":[{\"role\":\"\\u001fроля\",\"content\":\"x\"}]}",
                   "role \"\\u001fроля\" is not one of");
}

static void
test_parse_model_checked_before_messages (void)
{
  /* Both wrong: either message is fine, but it must be a 400 with words. */
  assert_rejected ("{\"model\":\"nope\"}", "unsupported model");
}

/* ---- flattening ---- */

static char *
flatten (const char *json)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CasChatRequest) request = parse (json, &error);

  g_assert_no_error (error);
  return cas_chat_request_flatten_prompt (request);
}

static void
test_flatten_dialogue (void)
{
  g_autofree char *prompt = flatten (
    "{\"messages\":["
    "{\"role\":\"system\",\"content\":\"Be brief.\"},"
    "{\"role\":\"user\",\"content\":\"Hi\"},"
    "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Use Bulgarian.\"}]},"
    "{\"role\":\"assistant\",\"content\":\"Hello\"},"
    "{\"role\":\"user\",\"content\":\"Weather in Sofia?\"},"
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
    "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Sofia\\\"}\"}},"
    "{\"id\":\"c2\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"22 C\"},"
    "{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":[{\"type\":\"text\",\"text\":\"noon\"}]}"
    "]}");

  g_assert_cmpstr (prompt, ==,
                   "Be brief.\n\nUse Bulgarian.\n\n"
                   "User: Hi\n"
                   "Assistant: Hello\n"
                   "User: Weather in Sofia?\n"
                   "Assistant called tool get_weather with arguments: {\"city\":\"Sofia\"}\n"
                   "Assistant called tool get_time with arguments: {}\n"
                   "Tool: 22 C\n"
                   "Tool: noon");
}

static void
test_flatten_edges (void)
{
  g_autofree char *only_user = flatten ("{\"messages\":[{\"role\":\"user\",\"content\":\"Здравей\"}]}");
  g_autofree char *only_system = flatten ("{\"messages\":[{\"role\":\"system\",\"content\":\"S\"}]}");
  g_autofree char *skips_empty = flatten ("{\"messages\":[{\"role\":\"system\",\"content\":\"\"},"
                                          "{\"role\":\"user\",\"content\":null},"
                                          "{\"role\":\"user\",\"content\":\"x\"},"
                                          "{\"role\":\"assistant\",\"content\":\"\"},"
                                          "{\"role\":\"tool\",\"content\":null}]}");
  g_autofree char *multiline = flatten ("{\"messages\":[{\"role\":\"user\",\"content\":\"a\\nb\\u0001\"}]}");
  g_autofree char *unnamed = flatten ("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{}}]}]}");

  g_assert_cmpstr (only_user, ==, "User: Здравей");
  g_assert_cmpstr (only_system, ==, "S");
  g_assert_cmpstr (skips_empty, ==, "User: x\nTool: ");
  g_assert_cmpstr (multiline, ==, "User: a\nb\001");
  g_assert_cmpstr (unnamed, ==, "Assistant called tool (unnamed) with arguments: {}");
}

static void
test_flatten_large (void)
{
  g_autoptr (GString) json = g_string_new ("{\"messages\":[");
  g_autoptr (GString) expected = g_string_new (NULL);
  g_autofree char *prompt = NULL;

  for (guint i = 0; i < 2100; i++)
    {
      g_autofree char *text = g_strnfill (500, 'a' + (i % 26));

      g_string_append_printf (json, "%s{\"role\":\"%s\",\"content\":\"%s\"}",
                              i > 0 ? "," : "", i % 2 ? "assistant" : "user", text);
      g_string_append_printf (expected, "%s%s%s", i > 0 ? "\n" : "",
                              i % 2 ? "Assistant: " : "User: ", text);
    }
  g_string_append (json, "]}");
  prompt = flatten (json->str);
  g_assert_cmpuint (strlen (prompt), >, 1024 * 1024);
  g_assert_cmpstr (prompt, ==, expected->str);
}

/* ---- formatting ---- */

static void
test_completion_id (void)
{
  g_autofree char *a = cas_openai_new_completion_id ();
  g_autofree char *b = cas_openai_new_completion_id ();

  g_assert_true (g_str_has_prefix (a, "chatcmpl-"));
  g_assert_cmpuint (strlen (a), ==, 9 + 24);
  for (const char *p = a + 9; *p != '\0'; p++)
    g_assert_true (g_ascii_isxdigit (*p) && !g_ascii_isupper (*p));
  g_assert_cmpstr (a, !=, b);
}

static void
assert_chunk_header (JsonObject *chunk)
{
  g_assert_cmpstr (json_object_get_string_member (chunk, "id"), ==, "chatcmpl-abc");
  g_assert_cmpstr (json_object_get_string_member (chunk, "object"), ==, "chat.completion.chunk");
  g_assert_cmpint (json_object_get_int_member (chunk, "created"), ==, 1700000000);
  g_assert_cmpstr (json_object_get_string_member (chunk, "model"), ==, "son\"net");
}

static void
test_chunks (void)
{
  g_autoptr (CasChunkFormat) format = cas_chunk_format_new ("chatcmpl-abc", "son\"net", 1700000000);
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (JsonObject) chunk = NULL;
  JsonObject *choice, *delta, *usage;

  g_assert_cmpstr (cas_chunk_format_get_id (format), ==, "chatcmpl-abc");
  g_assert_cmpstr (cas_chunk_format_get_model (format), ==, "son\"net");
  g_assert_cmpint (cas_chunk_format_get_created (format), ==, 1700000000);

  cas_chunk_format_append_role (format, out);
  chunk = frame_object (out->str);
  assert_chunk_header (chunk);
  choice = json_array_get_object_element (json_object_get_array_member (chunk, "choices"), 0);
  g_assert_cmpint (json_object_get_int_member (choice, "index"), ==, 0);
  g_assert_true (json_object_get_null_member (choice, "finish_reason"));
  delta = json_object_get_object_member (choice, "delta");
  g_assert_cmpstr (json_object_get_string_member (delta, "role"), ==, "assistant");
  g_assert_cmpuint (json_object_get_size (delta), ==, 1);
  g_clear_pointer (&chunk, json_object_unref);

  g_string_truncate (out, 0);
  cas_chunk_format_append_content (format, out, "Здравей, \"свят\"\n\t\x1f\x01 😀 \u2028", -1);
  /* Cyrillic travels raw, control characters escaped. */
  g_assert_nonnull (strstr (out->str, "Здравей, \\\"свят\\\"\\n\\t\\u001f\\u0001 😀 \\u2028"));
  chunk = frame_object (out->str);
  assert_chunk_header (chunk);
  choice = json_array_get_object_element (json_object_get_array_member (chunk, "choices"), 0);
  delta = json_object_get_object_member (choice, "delta");
  g_assert_cmpstr (json_object_get_string_member (delta, "content"), ==,
                   "Здравей, \"свят\"\n\t\x1f\x01 😀 \u2028");
  g_clear_pointer (&chunk, json_object_unref);

  /* A length, and invalid UTF-8 repaired. */
  g_string_truncate (out, 0);
  cas_chunk_format_append_content (format, out, "ab\xff" "cdef", 4);
  chunk = frame_object (out->str);
  choice = json_array_get_object_element (json_object_get_array_member (chunk, "choices"), 0);
  delta = json_object_get_object_member (choice, "delta");
  g_assert_cmpstr (json_object_get_string_member (delta, "content"), ==, "ab\xef\xbf\xbd" "c");
  g_clear_pointer (&chunk, json_object_unref);

  g_string_truncate (out, 0);
  cas_chunk_format_append_finish (format, out, "stop");
  chunk = frame_object (out->str);
  assert_chunk_header (chunk);
  choice = json_array_get_object_element (json_object_get_array_member (chunk, "choices"), 0);
  g_assert_cmpstr (json_object_get_string_member (choice, "finish_reason"), ==, "stop");
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (choice, "delta")), ==, 0);
  g_clear_pointer (&chunk, json_object_unref);

  g_string_truncate (out, 0);
  cas_chunk_format_append_usage (format, out, 1234, 56);
  chunk = frame_object (out->str);
  assert_chunk_header (chunk);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (chunk, "choices")), ==, 0);
  usage = json_object_get_object_member (chunk, "usage");
  g_assert_cmpint (json_object_get_int_member (usage, "prompt_tokens"), ==, 1234);
  g_assert_cmpint (json_object_get_int_member (usage, "completion_tokens"), ==, 56);
  g_assert_cmpint (json_object_get_int_member (usage, "total_tokens"), ==, 1290);
}

static void
test_error_and_done_frames (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (JsonObject) frame = NULL;
  JsonObject *error;

  cas_openai_append_error_frame (out, "execution failed: Not logged in · Please run /login\n\x1f",
                                 "server_error", "not_logged_in");
  frame = frame_object (out->str);
  error = json_object_get_object_member (frame, "error");
  g_assert_cmpstr (json_object_get_string_member (error, "message"), ==,
                   "execution failed: Not logged in · Please run /login\n\x1f");
  g_assert_cmpstr (json_object_get_string_member (error, "type"), ==, "server_error");
  g_assert_true (json_object_get_null_member (error, "param"));
  g_assert_cmpstr (json_object_get_string_member (error, "code"), ==, "not_logged_in");

  g_string_truncate (out, 0);
  cas_openai_append_done_frame (out);
  g_assert_cmpstr (out->str, ==, "data: [DONE]\n\n");
}

static void
test_completion_body (void)
{
  g_autofree char *body = cas_openai_format_completion ("chatcmpl-x", "opus", 42,
                                                        "Здравей\x1f", 10, 5);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) object = cas_json_parse_object (body, strlen (body), &error);
  JsonObject *choice, *message, *usage;

  g_assert_no_error (error);
  g_assert_nonnull (strstr (body, "Здравей"));
  g_assert_cmpstr (json_object_get_string_member (object, "id"), ==, "chatcmpl-x");
  g_assert_cmpstr (json_object_get_string_member (object, "object"), ==, "chat.completion");
  g_assert_cmpint (json_object_get_int_member (object, "created"), ==, 42);
  g_assert_cmpstr (json_object_get_string_member (object, "model"), ==, "opus");
  choice = json_array_get_object_element (json_object_get_array_member (object, "choices"), 0);
  g_assert_cmpint (json_object_get_int_member (choice, "index"), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (choice, "finish_reason"), ==, "stop");
  message = json_object_get_object_member (choice, "message");
  g_assert_cmpstr (json_object_get_string_member (message, "role"), ==, "assistant");
  g_assert_cmpstr (json_object_get_string_member (message, "content"), ==, "Здравей\x1f");
  usage = json_object_get_object_member (object, "usage");
  g_assert_cmpint (json_object_get_int_member (usage, "total_tokens"), ==, 15);
}

static void
test_models (void)
{
  const char * const none[] = { NULL };
  g_autofree char *body = cas_openai_format_models (models, 1735689600);
  g_autofree char *empty = cas_openai_format_models (none, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) object = cas_json_parse_object (body, strlen (body), &error);
  JsonArray *data;

  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (object, "object"), ==, "list");
  data = json_object_get_array_member (object, "data");
  g_assert_cmpuint (json_array_get_length (data), ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      JsonObject *model = json_array_get_object_element (data, i);

      g_assert_cmpstr (json_object_get_string_member (model, "id"), ==, models[i]);
      g_assert_cmpstr (json_object_get_string_member (model, "object"), ==, "model");
      g_assert_cmpint (json_object_get_int_member (model, "created"), ==, 1735689600);
      g_assert_cmpstr (json_object_get_string_member (model, "owned_by"), ==, "anthropic");
    }
  g_assert_cmpstr (empty, ==, "{\"object\":\"list\",\"data\":[]}");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/openai/parse/minimal", test_parse_minimal);
  g_test_add_func ("/openai/parse/everything-accepted", test_parse_everything_accepted);
  g_test_add_func ("/openai/parse/nulls-mean-absent", test_parse_nulls_mean_absent);
  g_test_add_func ("/openai/parse/stream-options", test_parse_stream_options);
  g_test_add_func ("/openai/parse/rejected", test_parse_rejected);
  g_test_add_func ("/openai/parse/unsupported-model", test_parse_unsupported_model);
  g_test_add_func ("/openai/parse/model-first", test_parse_model_checked_before_messages);
  g_test_add_func ("/openai/flatten/dialogue", test_flatten_dialogue);
  g_test_add_func ("/openai/flatten/edges", test_flatten_edges);
  g_test_add_func ("/openai/flatten/large", test_flatten_large);
  g_test_add_func ("/openai/format/completion-id", test_completion_id);
  g_test_add_func ("/openai/format/chunks", test_chunks);
  g_test_add_func ("/openai/format/error-and-done", test_error_and_done_frames);
  g_test_add_func ("/openai/format/completion", test_completion_body);
  g_test_add_func ("/openai/format/models", test_models);

  return g_test_run ();
}
