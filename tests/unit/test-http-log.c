/* The access log's escaping of what clients send. */
#include <gio/gio.h>

#include "cas-http-server.h"

static void
check (const char *input,
       gsize       max_bytes,
       const char *expected)
{
  g_autofree char *escaped = cas_http_log_escape (input, max_bytes);

  g_assert_cmpstr (escaped, ==, expected);
}

static void
test_plain_text_unchanged (void)
{
  check ("/v1/chat/completions", 256, "/v1/chat/completions");
  check ("/здравей", 256, "/здравей");
  check ("", 256, "");
  check (NULL, 256, "-");
}

static void
test_controls_escaped (void)
{
  /* A forged second line, a terminal escape, DEL, a tab. */
  check ("/health\r\nSet-Cookie: x", 256, "/health\\x0d\\x0aSet-Cookie: x");
  check ("\x1b[2J\x7f\t", 256, "\\x1b[2J\\x7f\\x09");
  /* C1 controls (U+009B is a one-character CSI) and the backslash. */
  check ("a\xc2\x9b" "b", 256, "a\\xc2\\x9bb");
  check ("a\\x0a", 256, "a\\x5cx0a");
}

static void
test_invalid_utf8_escaped (void)
{
  check ("a\xff" "b", 256, "a\\xffb");
  check ("\xe2\x82", 256, "\\xe2\\x82");
  check ("\xc0\xaf", 256, "\\xc0\\xaf");
}

static void
test_length_capped (void)
{
  g_autofree char *long_text = g_strnfill (5000, 'a');
  g_autofree char *escaped = cas_http_log_escape (long_text, 256);
  g_autofree char *controls = g_strnfill (5000, '\n');
  g_autofree char *escaped_controls = cas_http_log_escape (controls, 256);

  g_assert_cmpuint (strlen (escaped), ==, 256 + strlen ("…"));
  g_assert_true (g_str_has_suffix (escaped, "…"));
  /* Escapes are never cut in half. */
  g_assert_cmpuint (strlen (escaped_controls), ==, 64 * 4 + strlen ("…"));
  g_assert_true (g_str_has_suffix (escaped_controls, "\\x0a…"));
  /* Nor are characters. */
  check ("яя", 3, "я…");
  check ("abc", 3, "abc");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/http-log/plain", test_plain_text_unchanged);
  g_test_add_func ("/http-log/controls", test_controls_escaped);
  g_test_add_func ("/http-log/invalid-utf8", test_invalid_utf8_escaped);
  g_test_add_func ("/http-log/length", test_length_capped);

  return g_test_run ();
}
