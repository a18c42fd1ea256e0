/* The web UI routes' pure parts: file types and If-None-Match. */
#include <gio/gio.h>

#include "cas-ui-routes.h"

#define TAG "\"0123456789abcdef0123456789abcdef\""

static void
test_content_types (void)
{
  g_assert_cmpstr (cas_ui_content_type ("index.html"), ==, "text/html; charset=utf-8");
  g_assert_cmpstr (cas_ui_content_type ("app.css"), ==, "text/css; charset=utf-8");
  g_assert_cmpstr (cas_ui_content_type ("app.js"), ==, "text/javascript; charset=utf-8");
  g_assert_cmpstr (cas_ui_content_type ("manifest.webmanifest"), ==, "application/manifest+json");
  g_assert_cmpstr (cas_ui_content_type ("icon.svg"), ==, "image/svg+xml");
  g_assert_cmpstr (cas_ui_content_type ("icon-192.png"), ==, "image/png");
}

static void
test_unknown_types_not_served (void)
{
  /* What is not listed is not served, whatever it looks like. */
  g_assert_null (cas_ui_content_type (NULL));
  g_assert_null (cas_ui_content_type (""));
  g_assert_null (cas_ui_content_type (".js"));
  g_assert_null (cas_ui_content_type ("ui.gresource.xml"));
  g_assert_null (cas_ui_content_type ("meson.build"));
  g_assert_null (cas_ui_content_type ("app.js.map"));
  g_assert_null (cas_ui_content_type ("app.JS"));
  g_assert_null (cas_ui_content_type ("app.js "));
  g_assert_null (cas_ui_content_type ("noextension"));
}

static void
test_etag_matches (void)
{
  g_assert_true (cas_ui_etag_matches (TAG, TAG));
  g_assert_true (cas_ui_etag_matches ("  " TAG "  ", TAG));
  g_assert_true (cas_ui_etag_matches ("W/" TAG, TAG));
  g_assert_true (cas_ui_etag_matches ("\"other\", " TAG, TAG));
  g_assert_true (cas_ui_etag_matches ("\"other\"," TAG ",\"more\"", TAG));
  g_assert_true (cas_ui_etag_matches ("*", TAG));
}

static void
test_etag_mismatches (void)
{
  g_autofree char *huge = g_strnfill (100000, ',');
  g_autofree char *quotes = g_strnfill (10000, '"');

  g_assert_false (cas_ui_etag_matches (NULL, TAG));
  g_assert_false (cas_ui_etag_matches (TAG, NULL));
  g_assert_false (cas_ui_etag_matches ("", TAG));
  g_assert_false (cas_ui_etag_matches (",", TAG));
  g_assert_false (cas_ui_etag_matches ("W/", TAG));
  g_assert_false (cas_ui_etag_matches ("\"0123456789abcdef0123456789abcdef", TAG));
  g_assert_false (cas_ui_etag_matches ("0123456789abcdef0123456789abcdef", TAG));
  g_assert_false (cas_ui_etag_matches ("w/" TAG, TAG));
  g_assert_false (cas_ui_etag_matches ("W/W/" TAG, TAG));
  g_assert_false (cas_ui_etag_matches ("\"*\"", TAG));
  g_assert_false (cas_ui_etag_matches ("**", TAG));
  g_assert_false (cas_ui_etag_matches (TAG "x", TAG));
  g_assert_false (cas_ui_etag_matches ("\xff\xfe", TAG));
  g_assert_false (cas_ui_etag_matches (huge, TAG));
  g_assert_false (cas_ui_etag_matches (quotes, TAG));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ui-routes/content-types", test_content_types);
  g_test_add_func ("/ui-routes/unknown-types-not-served", test_unknown_types_not_served);
  g_test_add_func ("/ui-routes/etag-matches", test_etag_matches);
  g_test_add_func ("/ui-routes/etag-mismatches", test_etag_mismatches);
  return g_test_run ();
}
