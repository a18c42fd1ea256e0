/* test-json-scan.c: the string picker, and the stream-json fast path
 * checked against json-glib on good, odd and broken lines.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "cas-json-scan.h"
#include "cas-stream-json.h"

static const char *const delta_paths[] = { "type", "event.delta.text", NULL };

static void
assert_scan (const char *text,
             gboolean    expect_ok,
             const char *expect_type,
             const char *expect_text)
{
  char *values[2];
  gboolean ok = cas_json_scan_strings (text, strlen (text), delta_paths, values);

  g_assert_cmpint (ok, ==, expect_ok);
  g_assert_cmpstr (values[0], ==, expect_type);
  g_assert_cmpstr (values[1], ==, expect_text);
  g_free (values[0]);
  g_free (values[1]);
}

static void
test_scan_picks_strings (void)
{
  assert_scan ("{\"type\":\"stream_event\",\"event\":{\"delta\":{\"text\":\"Здравей\"}}}",
               TRUE, "stream_event", "Здравей");
  /* Escapes, a surrogate pair, whitespace everywhere. */
  assert_scan (" { \"type\" : \"a\\\"b\\\\c\\/\\n\\t\\u00e9\\ud83d\\ude00\" } ",
               TRUE, "a\"b\\c/\n\té😀", NULL);
  /* The last duplicate wins, also when it is not a string. */
  assert_scan ("{\"type\":\"x\",\"type\":\"y\"}", TRUE, "y", NULL);
  assert_scan ("{\"type\":\"x\",\"type\":5}", TRUE, NULL, NULL);
  assert_scan ("{\"event\":{\"delta\":{\"text\":\"t\"}},\"event\":null}", TRUE, NULL, NULL);
  /* Members inside arrays, or named with a dot, are other paths. */
  assert_scan ("{\"x\":[{\"type\":\"no\"}],\"event.delta.text\":\"no\"}", TRUE, NULL, NULL);
  /* An escaped member name is the same name. */
  assert_scan ("{\"ty\\u0070e\":\"yes\"}", TRUE, "yes", NULL);
  assert_scan ("{}", TRUE, NULL, NULL);
  assert_scan ("{\"n\":[-0.5,0,12,true,false,null,{}]}", TRUE, NULL, NULL);
}

static void
test_scan_refuses (void)
{
  const char *const refused[] = {
    "", " ", "[]", "\"s\"", "5", "{", "}", "{\"type\":\"x\"", "{\"type\":\"x\"} x",
    "{\"type\":\"x\",}", "{,}", "{\"type\" \"x\"}", "{type:\"x\"}", "{'type':'x'}",
    "{\"a\":01}", "{\"a\":-}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":+1}", "{\"a\":1e5}",
    "{\"a\":12345678901234567}", "{\"a\":tru}", "{\"a\":nul}", "{\"a\":[1,]}",
    "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\u0000\"}", "{\"a\":\"\\ud800\"}",
    "{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"tab\there\"}",
    "{\"a\":\"\xff\"}", "{\"a\":\"unterminated}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      char *values[2];

      if (!cas_json_scan_strings (refused[i], strlen (refused[i]), delta_paths, values))
        {
          g_assert_null (values[0]);
          g_assert_null (values[1]);
          continue;
        }
      g_error ("accepted: %s", refused[i]);
    }
}

static void
test_scan_depth (void)
{
  g_autoptr (GString) deep = g_string_new ("{\"a\":");
  char *values[2];

  for (guint i = 0; i < 200; i++)
    g_string_append_c (deep, '[');
  for (guint i = 0; i < 200; i++)
    g_string_append_c (deep, ']');
  g_string_append_c (deep, '}');
  g_assert_false (cas_json_scan_strings (deep->str, deep->len, delta_paths, values));
}

/* --- the fast path against json-glib ------------------------------------- */

static void
assert_same_event (const char *line,
                   gsize       len)
{
  g_autoptr (GError) fast_error = NULL;
  g_autoptr (GError) tree_error = NULL;
  g_autoptr (CasStreamEvent) fast = cas_stream_event_parse (line, len, &fast_error);
  g_autoptr (CasStreamEvent) tree = cas_stream_event_parse_tree (line, len, &tree_error);

  if (tree == NULL)
    {
      if (fast != NULL)
        g_error ("json-glib refused, the fast path took: %.*s", (int) len, line);
      g_assert_nonnull (fast_error);
      return;
    }
  if (fast == NULL)
    g_error ("json-glib took, the fast path refused: %.*s", (int) len, line);
  g_assert_cmpint (fast->kind, ==, tree->kind);
  g_assert_cmpstr (fast->type, ==, tree->type);
  g_assert_cmpstr (fast->subtype, ==, tree->subtype);
  g_assert_cmpstr (fast->session_id, ==, tree->session_id);
  g_assert_cmpstr (fast->parent_tool_use_id, ==, tree->parent_tool_use_id);
  g_assert_cmpstr (fast->text, ==, tree->text);
  g_assert_cmpstr (fast->model, ==, tree->model);
  g_assert_cmpint (fast->is_error, ==, tree->is_error);
}

static const char *const stream_lines[] = {
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":0,"
  "\"delta\":{\"type\":\"text_delta\",\"text\":\"Здравей, свят! \\\"q\\\" \\u2603\"}},"
  "\"session_id\":\"3f0c5b1e-8f25-4a47-9d8e-0a7c6c1c2b11\",\"parent_tool_use_id\":null,"
  "\"uuid\":\"a5a3d1a0-0000-4000-8000-000000000001\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":0,"
  "\"delta\":{\"type\":\"text_delta\",\"text\":\"inner\"}},\"session_id\":\"s\","
  "\"parent_tool_use_id\":\"toolu_01\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":1,"
  "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}}}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_delta\",\"delta\":"
  "{\"stop_reason\":\"end_turn\"},\"usage\":{\"input_tokens\":3,\"output_tokens\":12}}}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"delta\":"
  "{\"type\":\"text_delta\"}}}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"delta\":"
  "{\"type\":\"text_delta\",\"text\":7}}}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"delta\":"
  "{\"type\":\"text_delta\",\"text\":\"a\"},\"delta\":{\"type\":\"text_delta\",\"text\":\"b\"}}}",
  "{\"type\":\"stream_event\",\"event\":[1,2]}",
  "{\"type\":\"stream_event\",\"subtype\":\"odd\",\"event\":{\"type\":\"message_stop\"}}",
  "{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s\",\"model\":\"m\"}",
  "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"ok\"}",
};

static void
test_fast_path_matches_json_glib (void)
{
  const char *path = g_getenv ("CAS_TEST_SAMPLE_JSONL");
  g_autofree char *contents = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (stream_lines); i++)
    assert_same_event (stream_lines[i], strlen (stream_lines[i]));

  if (path != NULL && g_file_get_contents (path, &contents, NULL, NULL))
    {
      g_auto (GStrv) lines = g_strsplit (contents, "\n", -1);

      for (guint i = 0; lines[i] != NULL; i++)
        assert_same_event (lines[i], strlen (lines[i]));
    }
}

/* Broken copies of real lines: bytes changed, dropped, doubled and
 * swapped for JSON's own punctuation. Seeded, so a failure repeats. */
static void
test_fast_path_matches_json_glib_on_mutants (void)
{
  static const char punctuation[] = "{}[]:,\"\\ 0-.eEtfnu\x01\xd0";
  g_autoptr (GRand) rand = g_rand_new_with_seed (20261126);
  guint mutants = g_test_slow () ? 200000 : 20000;

  for (guint n = 0; n < mutants; n++)
    {
      const char *original = stream_lines[g_rand_int_range (rand, 0, G_N_ELEMENTS (stream_lines))];
      g_autoptr (GString) line = g_string_new (original);
      guint edits = g_rand_int_range (rand, 1, 4);

      for (guint e = 0; e < edits && line->len > 0; e++)
        {
          guint at = g_rand_int_range (rand, 0, line->len);
          char c = punctuation[g_rand_int_range (rand, 0, sizeof punctuation - 1)];

          switch (g_rand_int_range (rand, 0, 4))
            {
            case 0:
              line->str[at] = c;
              break;
            case 1:
              g_string_erase (line, at, 1);
              break;
            case 2:
              g_string_insert_c (line, at, c);
              break;
            default:
              g_string_insert_c (line, at, line->str[at]);
              break;
            }
        }
      assert_same_event (line->str, line->len);
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/json-scan/picks-strings", test_scan_picks_strings);
  g_test_add_func ("/json-scan/refuses", test_scan_refuses);
  g_test_add_func ("/json-scan/depth", test_scan_depth);
  g_test_add_func ("/json-scan/fast-path-matches-json-glib", test_fast_path_matches_json_glib);
  g_test_add_func ("/json-scan/fast-path-matches-json-glib-on-mutants",
                   test_fast_path_matches_json_glib_on_mutants);
  return g_test_run ();
}
