/* test-json.c: the JSON writer must give valid JSON for every input, and
 * the readers must refuse bad input without criticals.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "cas-error.h"
#include "cas-json.h"

/* ---- helpers ---- */

static char *
string_literal_len (const char *str,
                    gssize      len)
{
  GString *out = g_string_new (NULL);

  cas_json_append_string_len (out, str, len);
  return g_string_free (out, FALSE);
}

static char *
double_literal (double value)
{
  GString *out = g_string_new (NULL);

  cas_json_append_double (out, value);
  return g_string_free (out, FALSE);
}

/* Parses {"k": <literal>} with json-glib and returns the member node. */
static JsonNode *
reparse_literal (const char *literal)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *doc = g_strdup_printf ("{\"k\":%s}", literal);
  JsonObject *object;

  g_assert_true (g_utf8_validate (doc, -1, NULL));
  json_parser_load_from_data (parser, doc, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  object = json_node_get_object (json_parser_get_root (parser));
  g_assert_true (json_object_has_member (object, "k"));

  return json_node_copy (json_object_get_member (object, "k"));
}

static void
assert_string_roundtrip (const char *str)
{
  g_autofree char *literal = string_literal_len (str, -1);
  g_autoptr(JsonNode) node = reparse_literal (literal);

  g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_STRING);
  g_assert_cmpstr (json_node_get_string (node), ==, str);
}

/* ---- strings ---- */

static void
test_string_control_chars (void)
{
  for (guint c = 0; c < 0x20; c++)
    {
      char byte = (char) c;
      g_autofree char *literal = string_literal_len (&byte, 1);
      g_autofree char *expected = NULL;

      switch (c)
        {
        case '\n': expected = g_strdup ("\"\\n\""); break;
        case '\r': expected = g_strdup ("\"\\r\""); break;
        case '\t': expected = g_strdup ("\"\\t\""); break;
        case '\b': expected = g_strdup ("\"\\b\""); break;
        case '\f': expected = g_strdup ("\"\\f\""); break;
        default: expected = g_strdup_printf ("\"\\u%04x\"", c); break;
        }
      g_assert_cmpstr (literal, ==, expected);

      /* json-glib cuts strings at \u0000, so only compare the others. */
      if (c != 0)
        {
          char str[2] = { byte, '\0' };

          assert_string_roundtrip (str);
        }
    }

  /* DEL is legal raw in JSON. */
  assert_string_roundtrip ("\x7f");

  /* U+001F is the one json-glib 1.6.6 leaves raw. */
    {
      g_autofree char *literal = string_literal_len ("a\x1f" "b", -1);

      g_assert_cmpstr (literal, ==, "\"a\\u001fb\"");
    }
}

static void
test_string_quotes (void)
{
  g_autofree char *literal = string_literal_len ("say \"hi\" \\ back\\slash /", -1);

  g_assert_cmpstr (literal, ==, "\"say \\\"hi\\\" \\\\ back\\\\slash /\"");
  assert_string_roundtrip ("say \"hi\" \\ back\\slash /");
  assert_string_roundtrip ("\\\"\\\\\"");
}

static void
test_string_non_ascii (void)
{
  const char *bulgarian = "Здравей, свят! Как си днес?";
  const char *emoji = "ok 😀 👍🏽 done";
  g_autofree char *bg = string_literal_len (bulgarian, -1);
  g_autofree char *em = string_literal_len (emoji, -1);
  g_autofree char *seps = string_literal_len ("a\xe2\x80\xa8" "b\xe2\x80\xa9" "c", -1);

  /* Kept raw: Bulgarian must arrive as Cyrillic. */
  g_assert_cmpstr (bg, ==, "\"Здравей, свят! Как си днес?\"");
  g_assert_cmpstr (em, ==, "\"ok 😀 👍🏽 done\"");
  assert_string_roundtrip (bulgarian);
  assert_string_roundtrip (emoji);

  /* Line and paragraph separators are escaped for JavaScript's sake. */
  g_assert_cmpstr (seps, ==, "\"a\\u2028b\\u2029c\"");
  assert_string_roundtrip ("a\xe2\x80\xa8" "b\xe2\x80\xa9" "c");
}

static void
test_string_invalid_utf8 (void)
{
  static const struct {
    const char *in;
    const char *out;
  } cases[] = {
    { "a\xff" "b", "\"a\xef\xbf\xbd" "b\"" },
    { "\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"" },             /* overlong '/' */
    { "\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" }, /* surrogate */
    { "\xf4\x90\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" },
    { "end \xe2\x82", "\"end \xef\xbf\xbd\xef\xbf\xbd\"" },     /* cut short */
    { "\x80 lone", "\"\xef\xbf\xbd lone\"" },
    { "ok \xe2\x82\xac", "\"ok \xe2\x82\xac\"" },               /* euro sign */
    { "\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *literal = string_literal_len (cases[i].in, -1);
      g_autoptr(JsonNode) node = NULL;

      g_assert_cmpstr (literal, ==, cases[i].out);
      g_assert_true (g_utf8_validate (literal, -1, NULL));
      node = reparse_literal (literal);
      g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_STRING);
    }
}

static void
test_string_embedded_nul (void)
{
  g_autofree char *literal = string_literal_len ("a\0b\0", 4);
  g_autofree char *null_literal = string_literal_len (NULL, 3);
  GString *out = g_string_new (NULL);

  g_assert_cmpstr (literal, ==, "\"a\\u0000b\\u0000\"");
  g_assert_cmpstr (null_literal, ==, "null");

  cas_json_append_string (out, NULL);
  cas_json_append_string (out, "");
  g_assert_cmpstr (out->str, ==, "null\"\"");
  g_string_free (out, TRUE);
}

/* Random bytes must always come out as valid UTF-8 that json-glib reads. */
static void
test_string_random_bytes (void)
{
  for (guint round = 0; round < 2000; round++)
    {
      guint len = g_test_rand_int_range (0, 40);
      g_autofree char *buf = g_malloc (len + 1);
      g_autofree char *literal = NULL;
      g_autoptr(JsonNode) node = NULL;

      for (guint i = 0; i < len; i++)
        {
          /* Bias towards interesting bytes. */
          switch (g_test_rand_int_range (0, 4))
            {
            case 0: buf[i] = (char) g_test_rand_int_range (0, 0x20); break;
            case 1: buf[i] = (char) g_test_rand_int_range (0x80, 0x100); break;
            case 2: buf[i] = "\"\\\xe2\x80\xa8"[g_test_rand_int_range (0, 5)]; break;
            default: buf[i] = (char) g_test_rand_int_range (0, 0x100); break;
            }
        }
      buf[len] = '\0';

      literal = string_literal_len (buf, len);
      g_assert_true (g_utf8_validate (literal, -1, NULL));
      node = reparse_literal (literal);
      g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_STRING);

      /* Valid text without NULs must come back unchanged. */
      if (memchr (buf, '\0', len) == NULL && g_utf8_validate (buf, len, NULL))
        g_assert_cmpstr (json_node_get_string (node), ==, buf);
    }
}

/* ---- doubles ---- */

static void
test_double_formats (void)
{
  static const struct {
    double value;
    const char *text;
  } cases[] = {
    { 0.7, "0.7" },
    { 1e-08, "1e-08" },
    { 1e300, "1e+300" },
    { 3.0, "3" },
    { -2.5, "-2.5" },
    { 0.1 + 0.2, "0.30000000000000004" },
    { 123456789012.25, "123456789012.25" },
    { 9007199254740992.0, "9007199254740992" },
    { 5e-324, "4.94065645841247e-324" },
    { 1.7976931348623157e308, "1.7976931348623157e+308" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = double_literal (cases[i].value);
      g_autoptr(JsonNode) node = reparse_literal (text);
      double back;

      g_assert_cmpstr (text, ==, cases[i].text);
      g_assert_cmpfloat (g_ascii_strtod (text, NULL), ==, cases[i].value);

      /* json-glib reads integral forms as integers. */
      if (json_node_get_value_type (node) == G_TYPE_INT64)
        back = (double) json_node_get_int (node);
      else
        back = json_node_get_double (node);
      g_assert_cmpfloat (back, ==, cases[i].value);
    }
}

static void
test_double_special (void)
{
  g_autofree char *neg_zero = double_literal (-0.0);
  g_autofree char *nan_text = double_literal (NAN);
  g_autofree char *inf_text = double_literal (INFINITY);
  g_autofree char *ninf_text = double_literal (-INFINITY);
  g_autoptr(JsonNode) node = reparse_literal (neg_zero);

  g_assert_cmpstr (neg_zero, ==, "-0");
  g_assert_true (signbit (g_ascii_strtod (neg_zero, NULL)));
  g_assert_cmpstr (nan_text, ==, "null");
  g_assert_cmpstr (inf_text, ==, "null");
  g_assert_cmpstr (ninf_text, ==, "null");
}

/* Any finite double reads back exactly, and never in more than 17
 * significant digits. */
static void
test_double_random (void)
{
  for (guint round = 0; round < 20000; round++)
    {
      guint64 bits = ((guint64) g_test_rand_int () << 32) | (guint32) g_test_rand_int ();
      g_autofree char *text = NULL;
      double value;

      memcpy (&value, &bits, sizeof value);
      if (!isfinite (value))
        continue;

      text = double_literal (value);
      g_assert_cmpfloat (g_ascii_strtod (text, NULL), ==, value);
      g_assert_null (strchr (text, ','));
      g_assert_null (strstr (text, ".0e"));
      g_assert_cmpuint (strlen (text), <=, 24);
    }
}

/* ---- nodes ---- */

static void
test_node_order_and_nesting (void)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonNode) back = NULL;
  g_autofree char *text = NULL;
  g_autofree char *again = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "zeta");
  json_builder_add_int_value (builder, G_MAXINT64);
  json_builder_set_member_name (builder, "alpha");
  json_builder_add_double_value (builder, 1e-08);
  json_builder_set_member_name (builder, "mid");
  json_builder_begin_array (builder);
  json_builder_add_string_value (builder, "x\x1fy");
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_add_null_value (builder);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "b");
  json_builder_add_double_value (builder, 0.7);
  json_builder_set_member_name (builder, "a");
  json_builder_add_int_value (builder, -3);
  json_builder_end_object (builder);
  json_builder_begin_array (builder);
  json_builder_end_array (builder);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "текст");
  json_builder_add_string_value (builder, "здрасти");
  json_builder_set_member_name (builder, "empty");
  json_builder_begin_object (builder);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);

  text = cas_json_node_to_string (root);
  g_assert_cmpstr (text, ==,
                   "{\"zeta\":9223372036854775807,\"alpha\":1e-08,"
                   "\"mid\":[\"x\\u001fy\",true,null,{\"b\":0.7,\"a\":-3},[]],"
                   "\"текст\":\"здрасти\",\"empty\":{}}");

  /* json-glib reads it back to the same tree, and we write that tree the
   * same way again. */
  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  back = json_node_copy (json_parser_get_root (parser));
  g_assert_true (json_node_equal (root, back));
  again = cas_json_node_to_string (back);
  g_assert_cmpstr (again, ==, text);
}

static void
test_node_null_and_object (void)
{
  g_autofree char *null_node = cas_json_node_to_string (NULL);
  g_autofree char *null_object = cas_json_object_to_string (NULL);
  g_autoptr(JsonNode) null_value = json_node_new (JSON_NODE_NULL);
  g_autofree char *null_value_text = cas_json_node_to_string (null_value);
  g_autoptr(JsonObject) object = json_object_new ();
  g_autofree char *object_text = NULL;

  g_assert_cmpstr (null_node, ==, "null");
  g_assert_cmpstr (null_object, ==, "null");
  g_assert_cmpstr (null_value_text, ==, "null");

  json_object_set_string_member (object, "b", "1");
  json_object_set_double_member (object, "a", NAN);
  json_object_set_string_member (object, "b", "2");   /* replaces, keeps place */
  object_text = cas_json_object_to_string (object);
  g_assert_cmpstr (object_text, ==, "{\"b\":\"2\",\"a\":null}");
}

/* ---- parsing ---- */

static void
assert_parse_fails (const char *data,
                    gsize       len,
                    const char *message_part)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) object = cas_json_parse_object (data, len, &error);

  g_assert_null (object);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  if (strstr (error->message, message_part) == NULL)
    g_error ("\"%s\" does not contain \"%s\"", error->message, message_part);
}

static char *
nested (guint       depth,
        const char *inner)
{
  GString *s = g_string_new ("{\"a\":");

  for (guint i = 1; i < depth; i++)
    g_string_append_c (s, '[');
  g_string_append (s, inner);
  for (guint i = 1; i < depth; i++)
    g_string_append_c (s, ']');
  g_string_append_c (s, '}');
  return g_string_free (s, FALSE);
}

static void
test_parse_errors (void)
{
  g_autofree char *deep = g_strnfill (100000, '[');
  g_autoptr(GString) deep_obj = g_string_new (NULL);
  g_autofree char *over_limit = nested (129, "1");
  g_autoptr(GString) truncated = g_string_new ("{\"a\":[1,2,");

  for (guint i = 0; i < 20000; i++)
    g_string_append (deep_obj, "{\"a\":");

  assert_parse_fails ("", 0, "request body is not valid JSON");
  assert_parse_fails (NULL, 0, "request body is not valid JSON");
  assert_parse_fails ("   \n\t ", 6, "request body is not valid JSON");
  assert_parse_fails ("{\"a\":\"\xff\"}", 8, "invalid UTF-8");
  assert_parse_fails ("{\"a\":\"b\"}\0x", 11, "invalid UTF-8");   /* NUL */
  assert_parse_fails ("[]", 2, "request body must be a JSON object");
  assert_parse_fails ("\"x\"", 3, "request body must be a JSON object");
  assert_parse_fails ("42", 2, "request body must be a JSON object");
  assert_parse_fails ("null", 4, "request body must be a JSON object");
  assert_parse_fails (truncated->str, truncated->len, "request body is not valid JSON: ");
  assert_parse_fails ("{\"a\":1", 6, "request body is not valid JSON: ");
  assert_parse_fails ("{\"a\":1}}", 8, "request body is not valid JSON: ");
  assert_parse_fails ("{\"a\":tru}", 9, "request body is not valid JSON: ");
  assert_parse_fails (deep, 100000, "nested deeper than 128");
  assert_parse_fails (deep_obj->str, deep_obj->len, "nested deeper than 128");
  assert_parse_fails ("{{{{", 4, "syntax error at byte 1");
  assert_parse_fails (over_limit, strlen (over_limit), "nested deeper than 128");

  /* json-glib 1.6 extensions are refused before json-glib sees them. */
  assert_parse_fails ("{\"a\":'[\"'}", 10, "syntax error at byte 5");
  assert_parse_fails ("{\"a\":1 /* \" */}", 15, "syntax error at byte 7");
  /* Errors json-glib 1.6 leaked memory on (valgrind, test-json-scan). */
  assert_parse_fails ("{\"a\":{{\"b\":1}}", 14, "syntax error at byte 6");
  assert_parse_fails ("{\"a\":n{ull}", 11, "syntax error at byte 5");
}

static void
test_parse_ok (void)
{
  g_autofree char *at_limit = nested (128, "1");
  g_autofree char *brackets_in_string = nested (128, "\"[[[[{{{{ ]] \\\" [[[[\"");
  const char *body = "{\"model\":\"sonnet\",\"messages\":[{\"role\":\"user\","
                     "\"content\":\"Здравей / 'hi'\"}],\"n\":1}";
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(JsonObject) deep = NULL;
  g_autoptr(JsonObject) tricky = NULL;
  JsonArray *messages;

  object = cas_json_parse_object (body, strlen (body), &error);
  g_assert_no_error (error);
  g_assert_nonnull (object);
  g_assert_cmpstr (cas_json_get_string (object, "model", NULL), ==, "sonnet");
  messages = cas_json_get_array (object, "messages");
  g_assert_nonnull (messages);
  g_assert_cmpstr (cas_json_get_string (json_array_get_object_element (messages, 0),
                                        "content", NULL), ==, "Здравей / 'hi'");

  /* The result is mutable. */
  json_object_set_int_member (object, "extra", 1);

  deep = cas_json_parse_object (at_limit, strlen (at_limit), &error);
  g_assert_no_error (error);
  g_assert_nonnull (deep);

  tricky = cas_json_parse_object (brackets_in_string, strlen (brackets_in_string), &error);
  g_assert_no_error (error);
  g_assert_nonnull (tricky);

  /* Request bodies are not NUL-terminated (valgrind watches this). */
    {
      const char *text = "{\"k\":[1,2,3],\"s\":\"v\"}";
      gsize len = strlen (text);
      g_autofree char *exact = g_memdup2 (text, len);
      g_autoptr(JsonObject) unterminated = cas_json_parse_object (exact, len, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (cas_json_get_string (unterminated, "s", NULL), ==, "v");
    }
}

/* ---- getters ---- */

static void
test_getters_wrong_types (void)
{
  const char *body = "{\"s\":\"x\",\"i\":5,\"d\":1.5,\"b\":true,\"o\":{\"k\":1},"
                     "\"a\":[1],\"n\":null}";
  const char *members[] = { "s", "i", "d", "b", "o", "a", "n", "missing" };
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) object = cas_json_parse_object (body, strlen (body), &error);

  g_assert_no_error (error);

  /* g_test_init() makes warnings and criticals fatal, so any critical
   * from json-glib would abort here. */
  for (gsize i = 0; i < G_N_ELEMENTS (members); i++)
    {
      const char *m = members[i];
      gboolean is_s = g_str_equal (m, "s");
      gboolean is_i = g_str_equal (m, "i");
      gboolean is_d = g_str_equal (m, "d");
      gboolean is_b = g_str_equal (m, "b");

      g_assert_cmpstr (cas_json_get_string (object, m, "fb"), ==, is_s ? "x" : "fb");
      g_assert_cmpint (cas_json_get_int (object, m, -7), ==, is_i ? 5 : -7);
      g_assert_cmpfloat (cas_json_get_double (object, m, -7.5), ==,
                         is_d ? 1.5 : is_i ? 5.0 : -7.5);
      g_assert_cmpint (cas_json_get_bool (object, m, FALSE), ==, is_b);
      g_assert_cmpint (cas_json_get_bool (object, m, TRUE), ==, TRUE);
      g_assert_true ((cas_json_get_object (object, m) != NULL) == g_str_equal (m, "o"));
      g_assert_true ((cas_json_get_array (object, m) != NULL) == g_str_equal (m, "a"));
    }

  g_assert_cmpstr (cas_json_get_string (NULL, "s", "fb"), ==, "fb");
  g_assert_cmpint (cas_json_get_int (NULL, "i", 3), ==, 3);
  g_assert_cmpfloat (cas_json_get_double (NULL, "d", 0.5), ==, 0.5);
  g_assert_false (cas_json_get_bool (NULL, "b", FALSE));
  g_assert_null (cas_json_get_object (NULL, "o"));
  g_assert_null (cas_json_get_array (NULL, "a"));
  g_assert_cmpstr (cas_json_get_string (object, NULL, NULL), ==, NULL);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/json/string/control-chars", test_string_control_chars);
  g_test_add_func ("/json/string/quotes", test_string_quotes);
  g_test_add_func ("/json/string/non-ascii", test_string_non_ascii);
  g_test_add_func ("/json/string/invalid-utf8", test_string_invalid_utf8);
  g_test_add_func ("/json/string/embedded-nul", test_string_embedded_nul);
  g_test_add_func ("/json/string/random-bytes", test_string_random_bytes);
  g_test_add_func ("/json/double/formats", test_double_formats);
  g_test_add_func ("/json/double/special", test_double_special);
  g_test_add_func ("/json/double/random", test_double_random);
  g_test_add_func ("/json/node/order-and-nesting", test_node_order_and_nesting);
  g_test_add_func ("/json/node/null-and-object", test_node_null_and_object);
  g_test_add_func ("/json/parse/errors", test_parse_errors);
  g_test_add_func ("/json/parse/ok", test_parse_ok);
  g_test_add_func ("/json/getters/wrong-types", test_getters_wrong_types);

  return g_test_run ();
}
