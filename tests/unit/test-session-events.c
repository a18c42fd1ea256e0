/* test-session-events.c: the breakglass event vocabulary: CLI lines to
 * events, log lines and frames, and logs read back (torn, hostile).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "cas-error.h"
#include "cas-json.h"
#include "cas-session-events.h"

/* Every event the translator makes for @lines, as complete log lines
 * (ids from 0), joined with '\n'. */
static char *
translate_lines (const char * const *lines)
{
  CasSessionTranslator state;
  g_autoptr (GString) out = g_string_new (NULL);
  guint64 id = 0;

  cas_session_translator_reset (&state);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CasStreamEvent) event = cas_stream_event_parse (lines[i], strlen (lines[i]),
                                                                 &error);
      g_autoptr (GPtrArray) members = g_ptr_array_new_with_free_func (g_free);

      if (event == NULL)
        continue;
      cas_session_translate (&state, event, members);
      for (guint j = 0; j < members->len; j++)
        {
          g_autofree char *line = cas_session_event_line (id++, g_ptr_array_index (members, j));
          g_autoptr (JsonObject) check = cas_json_parse_object (line, strlen (line), NULL);

          /* Each one is valid JSON on one line. */
          g_assert_nonnull (check);
          g_assert_null (strchr (line, '\n'));
          if (out->len > 0)
            g_string_append_c (out, '\n');
          g_string_append (out, line);
        }
    }
  return g_strdup (out->str);
}

#define SID "\"session_id\":\"11111111-2222-3333-4444-555555555555\""

static void
test_text_turn_with_deltas (void)
{
  const char *lines[] = {
    "{\"type\":\"system\",\"subtype\":\"init\"," SID ",\"model\":\"m\"}",
    "{\"type\":\"system\",\"subtype\":\"status\",\"status\":\"requesting\"," SID "}",
    "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\"Здра\"}},\"parent_tool_use_id\":null," SID "}",
    "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\"вей\\n\"}},\"parent_tool_use_id\":null," SID "}",
    /* the same words again, whole: not repeated */
    "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"Здравей\\n\"}]},"
      "\"parent_tool_use_id\":null," SID "}",
    "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"duration_ms\":12,"
      "\"result\":\"Здравей\\n\"," SID "}",
    NULL
  };
  g_autofree char *got = translate_lines (lines);

  g_assert_cmpstr (got, ==,
                   "{\"id\":0,\"kind\":\"session\"," SID "}\n"
                   "{\"id\":1,\"kind\":\"text\",\"text\":\"Здра\"}\n"
                   "{\"id\":2,\"kind\":\"text\",\"text\":\"вей\\n\"}\n"
                   "{\"id\":3,\"kind\":\"result\",\"is_error\":false,\"result\":\"Здравей\\n\","
                   "\"duration_ms\":12}");
}

static void
test_blocks_without_deltas_and_tools (void)
{
  const char *lines[] = {
    "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"Checking.\"}]},"
      "\"parent_tool_use_id\":null}",
    "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\","
      "\"name\":\"Bash\",\"input\":{\"command\":\"uptime\",\"n\":1e-08}}]},\"parent_tool_use_id\":null}",
    "{\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\","
      "\"content\":\"up 3 days\"}]}}",
    /* a subagent's deltas are not the reply; its tools are shown */
    "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\"inner\"}},\"parent_tool_use_id\":\"t1\"}",
    "{\"type\":\"system\",\"subtype\":\"api_retry\",\"attempt\":1}",
    "{\"type\":\"system\",\"subtype\":\"hook_started\"}",
    "not json at all {",
    "{\"type\":\"result\",\"subtype\":\"error_during_execution\",\"is_error\":true,"
      "\"errors\":[\"a\",\"b\"],\"duration_ms\":-5}",
    NULL
  };
  g_autofree char *got = translate_lines (lines);

  g_assert_cmpstr (got, ==,
                   "{\"id\":0,\"kind\":\"text\",\"text\":\"Checking.\"}\n"
                   "{\"id\":1,\"kind\":\"tool\",\"name\":\"Bash\",\"input\":"
                   "{\"command\":\"uptime\",\"n\":1e-08}}\n"
                   "{\"id\":2,\"kind\":\"result\",\"is_error\":true,\"result\":\"a; b\","
                   "\"duration_ms\":0}");
}

static void
test_own_events (void)
{
  g_autofree char *user = cas_session_event_user ("line\none \"quoted\" \x01 \xff");
  g_autofree char *line = cas_session_event_line (7, user);
  g_autoptr (JsonObject) object = cas_json_parse_object (line, strlen (line), NULL);
  g_autofree char *cancelled = cas_session_event_cancelled ();
  g_autofree char *end = cas_session_event_turn_end ();
  g_autoptr (GString) long_text = g_string_new (NULL);
  g_autofree char *error = NULL;
  g_autoptr (JsonObject) error_object = NULL;
  g_autoptr (GString) frame = g_string_new (NULL);

  /* Control characters and invalid UTF-8 never break the one line. */
  g_assert_nonnull (object);
  g_assert_null (strchr (line, '\n'));
  g_assert_cmpint (cas_json_get_int (object, "id", -1), ==, 7);
  g_assert_cmpstr (cas_json_get_string (object, "kind", NULL), ==, "user");
  g_assert_cmpstr (cancelled, ==, "\"kind\":\"cancelled\"");
  g_assert_cmpstr (end, ==, "\"kind\":\"turn_end\"");

  /* Errors are cut at 500 characters, never inside one. */
  for (guint i = 0; i < 600; i++)
    g_string_append (long_text, "я");
  error = cas_session_event_error (long_text->str);
  g_free (line);
  line = cas_session_event_line (0, error);
  error_object = cas_json_parse_object (line, strlen (line), NULL);
  g_assert_nonnull (error_object);
  g_assert_cmpint (g_utf8_strlen (cas_json_get_string (error_object, "error", ""), -1), ==,
                   CAS_SESSION_MAX_ERROR_CHARS);

  cas_session_append_frame (frame, 3, "{\"id\":3}", 8);
  g_assert_cmpstr (frame->str, ==, "id: 3\ndata: {\"id\":3}\n\n");
}

static void
test_ids (void)
{
  g_autofree char *random = g_uuid_string_random ();
  g_autoptr (GString) huge = g_string_new (NULL);
  const char *bad[] = {
    "", "../x", "..", "11111111-2222-3333-4444-55555555555", /* 35 */
    "11111111-2222-3333-4444-5555555555555",                 /* 37 */
    "11111111-2222-3333-4444-55555555555G",
    "11111111-2222-3333-4444-55555555555A",                  /* upper case */
    "11111111_2222-3333-4444-555555555555",
    "../../../../../../../../../../../etc",
    "11111111-2222-3333-4444-5555555555/x",
    "%2e%2e%2f1111-2222-3333-4444-55555555",
  };

  g_assert_true (cas_session_id_is_valid (random));
  g_assert_true (cas_session_id_is_valid ("11111111-2222-3333-4444-555555555555"));
  g_assert_false (cas_session_id_is_valid (NULL));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    g_assert_false (cas_session_id_is_valid (bad[i]));
  for (guint i = 0; i < 10240; i++)
    g_string_append_c (huge, 'a');
  g_assert_false (cas_session_id_is_valid (huge->str));
}

static void
test_log_scan_good_and_torn (void)
{
  const char *good =
    "{\"id\":0,\"kind\":\"user\",\"text\":\"hi\"}\n"
    "{\"id\":1,\"kind\":\"text\",\"text\":\"a\"}\n"
    "{\"id\":2,\"kind\":\"turn_end\"}\n";
  g_autofree char *torn = g_strconcat (good, "{\"id\":3,\"kind\":\"user\",\"te", NULL);
  g_autofree char *open = g_strconcat (good, "{\"id\":3,\"kind\":\"user\",\"text\":\"x\"}\n", NULL);
  g_auto (CasSessionLog) log = { NULL };
  g_autoptr (GError) error = NULL;

  g_assert_true (cas_session_log_scan (good, strlen (good), &log, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (log.offsets->len, ==, 3);
  g_assert_cmpuint (g_array_index (log.offsets, guint64, 1), ==, strchr (good, '\n') - good + 1);
  g_assert_cmpuint (log.valid_bytes, ==, strlen (good));
  g_assert_false (log.torn);
  g_assert_false (log.turn_open);

  /* Killed mid-write: the torn line is left out, the turn is open. */
  g_assert_true (cas_session_log_scan (torn, strlen (torn), &log, &error));
  g_assert_cmpuint (log.offsets->len, ==, 3);
  g_assert_cmpuint (log.valid_bytes, ==, strlen (good));
  g_assert_true (log.torn);
  g_assert_false (log.turn_open);

  g_assert_true (cas_session_log_scan (open, strlen (open), &log, &error));
  g_assert_cmpuint (log.offsets->len, ==, 4);
  g_assert_true (log.turn_open);

  g_assert_true (cas_session_log_scan ("", 0, &log, &error));
  g_assert_cmpuint (log.offsets->len, ==, 0);
  g_assert_false (log.turn_open);

  /* Only a torn line: nothing. */
  g_assert_true (cas_session_log_scan ("{\"id\":0,", 8, &log, &error));
  g_assert_cmpuint (log.offsets->len, ==, 0);
  g_assert_true (log.torn);
  g_assert_cmpuint (log.valid_bytes, ==, 0);
}

static void
test_log_scan_hostile (void)
{
  const char *bad[] = {
    "{\"id\":1,\"kind\":\"user\",\"text\":\"skips id 0\"}\n",
    "{\"id\":0,\"kind\":\"user\"}\n{\"id\":0,\"kind\":\"user\"}\n",   /* repeated id */
    "{\"id\":0,\"kind\":\"mystery\"}\n",
    "{\"id\":0,\"kind\":7}\n",
    "{\"id\":0}\n",
    "{\"kind\":\"user\",\"id\":0}\n",
    "{\"id\":0,\"kind\":\"user\",\"text\":\"\xff\xfe\"}\n",
    "{\"id\":0,\"kind\":\"user\",\"text\":\"unterminated}\n",
    "{\"id\":0,\"kind\":\"user\"} trailing\n",
    "[1,2]\n",
    "\n",
    "{\"id\":00,\"kind\":\"user\"}\n",
    "{\"id\":-1,\"kind\":\"user\"}\n",
    "{\"id\":0,\"kind\":\"user\",\"x\":" "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
      "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
      "}\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_auto (CasSessionLog) log = { NULL };
      g_autoptr (GError) error = NULL;

      g_test_message ("case %u", i);
      g_assert_false (cas_session_log_scan (bad[i], strlen (bad[i]), &log, &error));
      g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
      g_assert_null (log.offsets);
    }
}

/* A NUL byte inside a line is not JSON. */
static void
test_log_scan_nul (void)
{
  const char data[] = "{\"id\":0,\"kind\":\"user\",\"text\":\"a\0b\"}\n";
  g_auto (CasSessionLog) log = { NULL };
  g_autoptr (GError) error = NULL;

  g_assert_false (cas_session_log_scan (data, sizeof data - 1, &log, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/session-events/text-turn-with-deltas", test_text_turn_with_deltas);
  g_test_add_func ("/session-events/blocks-and-tools", test_blocks_without_deltas_and_tools);
  g_test_add_func ("/session-events/own-events", test_own_events);
  g_test_add_func ("/session-events/ids", test_ids);
  g_test_add_func ("/session-events/log-scan", test_log_scan_good_and_torn);
  g_test_add_func ("/session-events/log-scan-hostile", test_log_scan_hostile);
  g_test_add_func ("/session-events/log-scan-nul", test_log_scan_nul);

  return g_test_run ();
}
