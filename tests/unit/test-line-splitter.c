/* test-line-splitter.c: CasLineSplitter framing, limits and repair.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib.h>

#include "cas-line-splitter.h"

#define OVERSIZED "<oversized>"

/* Each line as delivered; oversized lines as OVERSIZED. */
static void
collect_line (const char *line,
              gsize       len,
              gboolean    oversized,
              gpointer    user_data)
{
  GPtrArray *lines = user_data;

  if (oversized)
    {
      g_assert_null (line);
      g_ptr_array_add (lines, g_strdup (OVERSIZED));
      return;
    }

  g_assert_nonnull (line);
  /* A proper C string: no NUL inside, valid UTF-8. */
  g_assert_cmpuint (strlen (line), ==, len);
  g_assert_true (g_utf8_validate (line, len, NULL));
  g_ptr_array_add (lines, g_strdup (line));
}

static void
assert_lines (GPtrArray         *lines,
              const char *const *expected)
{
  g_assert_cmpuint (lines->len, ==, g_strv_length ((char **) expected));
  for (guint i = 0; i < lines->len; i++)
    g_assert_cmpstr (g_ptr_array_index (lines, i), ==, expected[i]);
}

/* Feed @input in pieces cut at @cuts (ascending offsets), then finish. */
static GPtrArray *
split_with_cuts (const char  *input,
                 gsize        len,
                 gsize        max,
                 const gsize *cuts,
                 guint        n_cuts)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(CasLineSplitter) splitter = cas_line_splitter_new (max, collect_line, lines);
  gsize start = 0;

  for (guint i = 0; i <= n_cuts; i++)
    {
      gsize end = i < n_cuts ? cuts[i] : len;

      cas_line_splitter_feed (splitter, (const guint8 *) input + start, end - start);
      start = end;
    }
  cas_line_splitter_finish (splitter);

  return lines;
}

static GPtrArray *
split_all (const char *input,
           gsize       max)
{
  return split_with_cuts (input, strlen (input), max, NULL, 0);
}

static void
test_basic (void)
{
  const char *expected[] = { "one", "", "two", "three", NULL };
  g_autoptr(GPtrArray) lines = split_all ("one\n\ntwo\nthree\n", 64);

  assert_lines (lines, expected);
}

static void
test_crlf (void)
{
  /* Only a '\r' right before '\n' goes; others stay. */
  const char *expected[] = { "a", "b\rc", "", "d\r", NULL };
  g_autoptr(GPtrArray) lines = split_all ("a\r\nb\rc\r\n\r\nd\r\r\n", 64);

  assert_lines (lines, expected);
}

static void
test_finish (void)
{
  const char *expected[] = { "first", "last", NULL };
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(CasLineSplitter) splitter = cas_line_splitter_new (64, collect_line, lines);

  cas_line_splitter_feed (splitter, (const guint8 *) "first\nlast", 10);
  g_assert_cmpuint (lines->len, ==, 1);
  cas_line_splitter_finish (splitter);
  assert_lines (lines, expected);

  /* Nothing pending: nothing delivered, and finish twice is harmless. */
  cas_line_splitter_finish (splitter);
  cas_line_splitter_feed (splitter, NULL, 0);
  cas_line_splitter_finish (splitter);
  assert_lines (lines, expected);
}

static void
test_every_chunk_boundary (void)
{
  static const char input[] = "{\"a\":1}\r\n\nb\xc3\xa9\n\xff\nlast";
  const char *expected[] = { "{\"a\":1}", "", "b\xc3\xa9", "\xef\xbf\xbd", "last", NULL };
  gsize len = strlen (input);

  /* Every split into two and three pieces, including empty pieces. */
  for (gsize i = 0; i <= len; i++)
    {
      for (gsize j = i; j <= len; j++)
        {
          gsize cuts[] = { i, j };
          g_autoptr(GPtrArray) lines = split_with_cuts (input, len, 64, cuts, 2);

          assert_lines (lines, expected);
        }
    }

  /* One byte at a time. */
  {
    g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
    g_autoptr(CasLineSplitter) splitter = cas_line_splitter_new (64, collect_line, lines);

    for (gsize i = 0; i < len; i++)
      cas_line_splitter_feed (splitter, (const guint8 *) input + i, 1);
    cas_line_splitter_finish (splitter);
    assert_lines (lines, expected);
  }
}

static void
test_invalid_utf8 (void)
{
  static const char input[] =
    "ok\n"
    "ab\xff" "cd\n"          /* stray byte */
    "\xc3\n"                 /* truncated sequence */
    "\xed\xa0\x80\n"         /* surrogate */
    "caf\xc3\xa9 \xe2\x82\xac\n"; /* valid: not counted */
  const char *expected[] = {
    "ok",
    "ab\xef\xbf\xbd" "cd",
    "\xef\xbf\xbd",
    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
    "caf\xc3\xa9 \xe2\x82\xac",
    NULL
  };
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(CasLineSplitter) splitter = cas_line_splitter_new (64, collect_line, lines);

  cas_line_splitter_feed (splitter, (const guint8 *) input, strlen (input));
  cas_line_splitter_finish (splitter);

  assert_lines (lines, expected);
  g_assert_cmpuint (cas_line_splitter_get_repaired_count (splitter), ==, 3);
  g_assert_cmpuint (cas_line_splitter_get_oversized_count (splitter), ==, 0);
}

static void
test_nul_bytes (void)
{
  static const guint8 input[] = { 'a', 0, 'b', '\n', 0, '\n', 'c', 0 };
  const char *expected[] = {
    "a\xef\xbf\xbd" "b",
    "\xef\xbf\xbd",
    "c\xef\xbf\xbd",
    NULL
  };
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(CasLineSplitter) splitter = cas_line_splitter_new (64, collect_line, lines);

  cas_line_splitter_feed (splitter, input, sizeof input);
  cas_line_splitter_finish (splitter);

  assert_lines (lines, expected);
  g_assert_cmpuint (cas_line_splitter_get_repaired_count (splitter), ==, 3);
}

static void
test_oversized (void)
{
  /* 8 bytes fit; 9 do not, wherever the chunks fall. The last line has
   * no '\n' and is reported before finish. */
  static const char input[] = "12345678\n123456789\nok\n1234567890123\nafter\n123456789";
  const char *expected[] = { "12345678", OVERSIZED, "ok", OVERSIZED, "after", OVERSIZED, NULL };
  gsize len = strlen (input);

  for (gsize i = 0; i <= len; i++)
    {
      gsize cuts[] = { i };
      g_autoptr(GPtrArray) lines = split_with_cuts (input, len, 8, cuts, 1);

      assert_lines (lines, expected);
    }
}

static void
test_oversized_counts (void)
{
  const char *expected[] = { OVERSIZED, "x", NULL };
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(CasLineSplitter) splitter = cas_line_splitter_new (4, collect_line, lines);

  /* A long line fed a byte at a time is reported once, as soon as it
   * goes over the limit. */
  for (guint i = 0; i < 100; i++)
    {
      cas_line_splitter_feed (splitter, (const guint8 *) "y", 1);
      g_assert_cmpuint (cas_line_splitter_get_buffer_size (splitter), <=, 5);
      g_assert_cmpuint (lines->len, ==, i < 4 ? 0 : 1);
    }
  cas_line_splitter_feed (splitter, (const guint8 *) "\nx\n", 3);
  cas_line_splitter_finish (splitter);

  assert_lines (lines, expected);
  g_assert_cmpuint (cas_line_splitter_get_oversized_count (splitter), ==, 1);
  g_assert_cmpuint (cas_line_splitter_get_repaired_count (splitter), ==, 0);
}

static void
test_zero_limit (void)
{
  const char *expected[] = { "", OVERSIZED, "", NULL };
  g_autoptr(GPtrArray) lines = split_all ("\nx\n\n", 0);

  assert_lines (lines, expected);
}

static void
test_big_line_within_limit (void)
{
  gsize big = 3 * 1024 * 1024;
  g_autofree char *input = g_malloc (big + 4);
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(CasLineSplitter) splitter = cas_line_splitter_new (big, collect_line, lines);

  memset (input, 'z', big);
  memcpy (input + big, "\nok\n", 4);
  for (gsize off = 0; off < big + 4; off += 4096)
    {
      cas_line_splitter_feed (splitter, (const guint8 *) input + off, MIN (4096, big + 4 - off));
      g_assert_cmpuint (cas_line_splitter_get_buffer_size (splitter), <=, big + 1);
    }
  cas_line_splitter_finish (splitter);

  g_assert_cmpuint (lines->len, ==, 2);
  g_assert_cmpuint (strlen (g_ptr_array_index (lines, 0)), ==, big);
  g_assert_cmpstr (g_ptr_array_index (lines, 1), ==, "ok");
  /* The big buffer is given back after the line. */
  g_assert_cmpuint (cas_line_splitter_get_buffer_size (splitter), <, big);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/line-splitter/basic", test_basic);
  g_test_add_func ("/line-splitter/crlf", test_crlf);
  g_test_add_func ("/line-splitter/finish", test_finish);
  g_test_add_func ("/line-splitter/every-chunk-boundary", test_every_chunk_boundary);
  g_test_add_func ("/line-splitter/invalid-utf8", test_invalid_utf8);
  g_test_add_func ("/line-splitter/nul-bytes", test_nul_bytes);
  g_test_add_func ("/line-splitter/oversized", test_oversized);
  g_test_add_func ("/line-splitter/oversized-counts", test_oversized_counts);
  g_test_add_func ("/line-splitter/zero-limit", test_zero_limit);
  g_test_add_func ("/line-splitter/big-line-within-limit", test_big_line_within_limit);

  return g_test_run ();
}
