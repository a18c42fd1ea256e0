/* test-fake-json.c: the fake CLI's JSON reader. */

#include <string.h>

#include "fake-json.h"

static void
test_documents (void)
{
  g_autoptr(FjNode) root =
    fj_parse (" {\"b\": [1, -2.5e3, true, false, null, \"s\"], \"a\": {}, \"c\": [ ] }\r\n");
  FjNode *list;

  g_assert_nonnull (root);
  g_assert_cmpint (root->type, ==, FJ_OBJECT);
  g_assert_cmpuint (root->items->len, ==, 3);
  /* members stay in source order */
  g_assert_cmpstr (((FjNode *) root->items->pdata[0])->name, ==, "b");
  g_assert_cmpstr (((FjNode *) root->items->pdata[1])->name, ==, "a");
  g_assert_cmpstr (((FjNode *) root->items->pdata[2])->name, ==, "c");
  list = fj_member (root, "b");
  g_assert_cmpint (list->type, ==, FJ_ARRAY);
  g_assert_cmpuint (list->items->len, ==, 6);
  g_assert_cmpfloat (((FjNode *) list->items->pdata[0])->number, ==, 1);
  g_assert_cmpfloat (((FjNode *) list->items->pdata[1])->number, ==, -2500);
  g_assert_cmpstr (((FjNode *) list->items->pdata[1])->text, ==, "-2.5e3");
  g_assert_true (((FjNode *) list->items->pdata[2])->boolean);
  g_assert_cmpint (((FjNode *) list->items->pdata[3])->type, ==, FJ_BOOL);
  g_assert_false (((FjNode *) list->items->pdata[3])->boolean);
  g_assert_cmpint (((FjNode *) list->items->pdata[4])->type, ==, FJ_NULL);
  g_assert_cmpstr (fj_string (list->items->pdata[5]), ==, "s");
  g_assert_cmpuint (fj_member (root, "c")->items->len, ==, 0);
  g_assert_null (fj_member (root, "missing"));
  g_assert_null (fj_string_member (root, "b"));
  g_assert_null (fj_member (list, "b"));
  g_assert_null (fj_member (NULL, "b"));

}

static void
test_scalars (void)
{
  static const char *const good[] = { "0", "-0", "0.5", "1E+2", "\"\"", "[]", "null", "[[[]]]" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(FjNode) node = fj_parse (good[i]);

      g_assert_nonnull (node);
    }
}

/* The last value wins, in the first one's place (JSON.parse does the same). */
static void
test_duplicate_names (void)
{
  g_autoptr(FjNode) root = fj_parse ("{\"a\":1,\"b\":2,\"a\":\"x\"}");

  g_assert_cmpuint (root->items->len, ==, 2);
  g_assert_cmpstr (((FjNode *) root->items->pdata[0])->name, ==, "a");
  g_assert_cmpstr (fj_string_member (root, "a"), ==, "x");
}

static void
test_escapes (void)
{
  static const struct { const char *json, *text; } cases[] = {
    { "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"", "\" \\ / \b \f \n \r \t" },
    { "\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac" },
    { "\"\\ud83d\\ude00!\"", "\xf0\x9f\x98\x80!" },
    { "\"Здравей 😀\"", "Здравей 😀" },
    { "\"a\\u0000b\"", "a" },   /* a C string ends at the NUL */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(FjNode) node = fj_parse (cases[i].json);

      g_assert_nonnull (node);
      g_assert_cmpstr (fj_string (node), ==, cases[i].text);
    }
}

static void
test_rejects (void)
{
  static const char *const bad[] = {
    "", "  ", "{} x", "{}{}", "[1] 2", "[1,]", "{\"a\":1,}", "[1 2]", "{\"a\" 1}", "{a:1}",
    "{'a':1}", "{\"a\":}", "[", "{\"a\":1", "\"\\q\"", "\"\\x41\"", "\"\\u12\"", "\"\\uzzzz\"",
    "\"abc", "\"abc\\", "\"a\tb\"", "\"a\nb\"", "\"\x01\"", "\"\\ud83d\"", "\"\\ude00\"",
    "\"\\ud83d\\u0041\"", "[01]", "[1.]", "[.5]", "[-]", "[+1]", "[1e]", "[1e+]", "[0x10]",
    "[NaN]", "tru", "nul", "True", "/*c*/{}", "{} // c", "var x = {};", "\f{}", "\xff",
    "\"\xc3\"",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(FjNode) node = fj_parse (bad[i]);

      if (node != NULL)
        g_error ("accepted: %s", bad[i]);
    }
  g_assert_null (fj_parse (NULL));
}

static void
test_depth (void)
{
  g_autoptr(GString) ok = g_string_new (NULL);
  g_autoptr(GString) deep = NULL;
  g_autoptr(FjNode) node = NULL;

  for (int i = 0; i < FJ_MAX_DEPTH; i++)
    g_string_prepend_c (g_string_append_c (ok, ']'), '[');
  node = fj_parse (ok->str);
  g_assert_nonnull (node);
  deep = g_string_new_len (ok->str, (gssize) ok->len);
  g_string_prepend_c (g_string_append_c (deep, '}'), '{');
  g_string_insert (deep, 1, "\"a\":");
  g_assert_null (fj_parse (deep->str));
}

static void
test_to_string (void)
{
  g_autoptr(FjNode) root =
    fj_parse ("{ \"id\" : [1.50, true, null, \"x\\ny\\u0001\\\"\\u00e9\\/\"], \"o\" : { } }");
  g_autofree char *out = fj_to_string (root);
  g_autofree char *id = fj_to_string (fj_member (root, "id"));

  g_assert_cmpstr (out, ==, "{\"id\":[1.50,true,null,\"x\\ny\\u0001\\\"\xc3\xa9/\"],\"o\":{}}");
  g_assert_cmpstr (id, ==, "[1.50,true,null,\"x\\ny\\u0001\\\"\xc3\xa9/\"]");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fake-json/documents", test_documents);
  g_test_add_func ("/fake-json/scalars", test_scalars);
  g_test_add_func ("/fake-json/duplicate-names", test_duplicate_names);
  g_test_add_func ("/fake-json/escapes", test_escapes);
  g_test_add_func ("/fake-json/rejects", test_rejects);
  g_test_add_func ("/fake-json/depth", test_depth);
  g_test_add_func ("/fake-json/to-string", test_to_string);
  return g_test_run ();
}
