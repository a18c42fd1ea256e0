/* The AFK checklist comment: what people see for each phase, the hidden
 * state round trip, escaping of outside text, and parsing hostile or
 * imitated markers. */
#include <string.h>

#include "cas-checklist.h"
#include "cas-error.h"

#define T0 G_GINT64_CONSTANT (1767322800000000) /* 2026-01-02 03:00 UTC */
#define SHA "0123456789abcdef0123456789abcdef01234567"
#define LINK "https://t3.example/?thread=thread-1"

static CasRun *
new_run (void)
{
  CasRun *run = cas_run_new ("owner/repo", 12, "Fix the parser", "proj", "thread-1", NULL, T0);

  g_assert_nonnull (run);
  return run;
}

static CasRun *
parse_ok (const char *body,
          const char *repo,
          guint       number)
{
  g_autoptr (GError) error = NULL;
  CasRun *run = cas_checklist_parse (body, -1, repo, number, &error);

  g_assert_no_error (error);
  g_assert_nonnull (run);
  return run;
}

static void
assert_parse_fails (const char *body,
                    gssize      length,
                    const char *words)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CasRun) run = cas_checklist_parse (body, length, NULL, 0, &error);

  if (run != NULL)
    g_error ("parsed: %s", body);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  if (words != NULL && strstr (error->message, words) == NULL)
    g_error ("“%s” does not mention “%s”", error->message, words);
}

static void
assert_contains (const char *text,
                 const char *part)
{
  if (strstr (text, part) == NULL)
    g_error ("“%s” not in:\n%s", part, text);
}

static void
assert_lacks (const char *text,
              const char *part)
{
  if (strstr (text, part) != NULL)
    g_error ("“%s” in:\n%s", part, text);
}

static void
test_render_phases (void)
{
  g_autoptr (CasRun) run = new_run ();
  g_autofree char *dispatched = NULL;
  g_autofree char *pushed = NULL;
  g_autofree char *fixing = NULL;
  g_autofree char *done = NULL;
  g_autofree char *human = NULL;
  g_autofree char *frozen = NULL;

  dispatched = cas_checklist_render (run, LINK);
  assert_contains (dispatched, "### AFK run: owner/repo#12\n");
  assert_contains (dispatched, "**Fix the parser**");
  assert_contains (dispatched, "- [x] Dispatched to T3 (2026-01-02 03:00 UTC, [thread](" LINK "))\n");
  assert_contains (dispatched, "- [~] Pushed to the default branch\n");
  assert_contains (dispatched, "- [ ] CI green\n");
  assert_contains (dispatched, "- [ ] Issue closed\n");
  assert_lacks (dispatched, "Fix-forward");
  g_assert_true (g_str_has_suffix (dispatched, " -->\n"));

  run->phase = CAS_RUN_PHASE_PUSHED;
  run->pushed_sha = g_strdup (SHA);
  run->ci = CAS_CI_VERDICT_PENDING;
  pushed = cas_checklist_render (run, NULL);
  assert_contains (pushed, "- [x] Pushed to the default branch: `0123456789ab`\n");
  assert_contains (pushed, "- [~] CI green (waiting)\n");
  assert_lacks (pushed, "[thread]");

  run->phase = CAS_RUN_PHASE_FIXING;
  run->ci = CAS_CI_VERDICT_RED;
  run->first_red_us = T0 + 60 * G_USEC_PER_SEC;
  run->fix_attempts = 1;
  fixing = cas_checklist_render (run, NULL);
  assert_contains (fixing, "- [~] CI green (red now)\n");
  assert_contains (fixing, "_Fix-forward: 1 attempt since CI first went red at 2026-01-02 03:01 UTC._");

  run->phase = CAS_RUN_PHASE_DONE;
  run->ci = CAS_CI_VERDICT_GREEN;
  run->fix_attempts = 2;
  run->finished_us = T0 + 1;
  done = cas_checklist_render (run, NULL);
  assert_contains (done, "- [x] CI green\n");
  assert_contains (done, "- [x] Issue closed\n");
  assert_contains (done, "**Done.**");
  assert_contains (done, "2 attempts");

  run->phase = CAS_RUN_PHASE_NEEDS_HUMAN;
  run->reason = CAS_RUN_REASON_PENDING_USER_INPUT;
  run->ci = CAS_CI_VERDICT_PENDING;
  human = cas_checklist_render (run, NULL);
  assert_contains (human, "**Needs a human.** The agent asked a question");
  assert_contains (human, "- [ ] CI green\n");
  assert_contains (human, "- [ ] Issue closed\n");

  run->phase = CAS_RUN_PHASE_FROZEN;
  run->reason = CAS_RUN_REASON_FIX_FORWARD_ATTEMPTS;
  run->ci = CAS_CI_VERDICT_RED;
  cas_run_set_detail (run, "The last CI log said: tests/foo failed");
  cas_run_set_last_error (run, "GitHub answered 502");
  frozen = cas_checklist_render (run, NULL);
  assert_contains (frozen, "**Frozen.** CI is still red after the last fix-forward attempt.");
  assert_contains (frozen, "- [ ] CI green (red now)\n");
  assert_contains (frozen, "\n> The last CI log said: tests/foo failed\n");
  assert_contains (frozen, "_Last error: GitHub answered 502_");

  /* Each needs-human and frozen reason has its words. */
  for (guint r = CAS_RUN_REASON_PENDING_USER_INPUT; r <= CAS_RUN_REASON_FIX_FORWARD_TIME; r++)
    {
      g_autofree char *text = NULL;

      run->reason = r;
      text = cas_checklist_render (run, NULL);
      assert_lacks (text, "**Frozen.**  ");
    }
}

static void
test_round_trip (void)
{
  g_autoptr (CasRun) run = new_run ();
  g_autofree char *body = NULL;
  g_autoptr (CasRun) back = NULL;

  run->phase = CAS_RUN_PHASE_FROZEN;
  run->reason = CAS_RUN_REASON_FIX_FORWARD_TIME;
  run->pushed_sha = g_strdup (SHA);
  run->ci = CAS_CI_VERDICT_RED;
  run->first_red_us = T0 + 5;
  run->fix_attempts = 3;
  run->fix_sha = g_strdup (SHA);
  run->checklist_comment_id = 123456789;
  run->doorbell_rung = TRUE;
  run->finished_us = T0 + 9;
  cas_run_set_detail (run, "-->\n<!-- claude-agent-service:afk-run v1 AAAA -->");
  body = cas_checklist_render (run, LINK);
  g_assert_true (cas_checklist_has_marker (body, -1));
  back = parse_ok (body, "Owner/Repo", 12);
  g_assert_true (cas_run_equal (run, back));

  /* As GitHub may hand it back: CR LF line ends, text around it. */
  {
    g_auto (GStrv) lines = g_strsplit (body, "\n", -1);
    g_autofree char *crlf = g_strjoinv ("\r\n", lines);
    g_autofree char *wrapped = g_strconcat ("Edited by hand above\n\n", crlf, "\nand below", NULL);
    g_autoptr (CasRun) again = parse_ok (wrapped, NULL, 0);

    g_assert_true (cas_run_equal (run, again));
  }
}

static void
test_escaping (void)
{
  g_autoptr (CasRun) run = new_run ();
  g_autofree char *body = NULL;
  g_autofree char *huge = g_strnfill (100000, 'y');
  g_autoptr (CasRun) back = NULL;
  const char *marker;

  g_free (run->title);
  run->title = g_strdup ("<!-- claude-agent-service:afk-run v1 AAAA --> @admin *bold* [x](y) `c` \\ &amp;\nnext \xe2\x80\xa8");
  cas_run_set_detail (run, "<script>alert(1)</script> ping @team\r\n# heading");
  cas_run_set_last_error (run, huge);
  body = cas_checklist_render (run, "javascript:alert(1)");

  /* One marker, ours, at the end. */
  marker = strstr (body, CAS_CHECKLIST_MARKER);
  g_assert_nonnull (marker);
  g_assert_null (strstr (marker + 1, CAS_CHECKLIST_MARKER));
  g_assert_null (strstr (body, "<!-- claude-agent-service:afk-run v1 AAAA"));
  /* Nothing opens a tag or mentions anyone; markup is escaped. */
  assert_lacks (body, "<script>");
  assert_lacks (body, "@admin");
  assert_lacks (body, "@team");
  assert_contains (body, "&lt;script&gt;");
  assert_contains (body, "&#64;admin");
  assert_contains (body, "\\*bold\\*");
  assert_contains (body, "\\[x\\](y)");
  assert_contains (body, "\\`c\\`");
  assert_contains (body, "&amp;amp;");
  /* The title and detail stay on their lines. */
  assert_contains (body, " next ");
  assert_lacks (body, "\n# heading");
  assert_lacks (body, "javascript:");
  /* Outside text is bounded. */
  g_assert_cmpuint (strlen (body), <, 40000);
  assert_contains (body, "…_");
  /* The state still holds all of it. */
  back = parse_ok (body, "owner/repo", 12);
  g_assert_cmpstr (back->title, ==, run->title);
  g_assert_cmpstr (back->last_error, ==, run->last_error);
}

static void
test_links (void)
{
  static const char *const refused[] = {
    "javascript:alert(1)", "ftp://x", "https://x/a b", "https://x/(a)", "https://x/\"",
    "https://x/<a>", "https://x/\xc3\xa9", "http://x/`", "", "https://x/]",
  };
  g_autoptr (CasRun) run = new_run ();

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autofree char *body = cas_checklist_render (run, refused[i]);

      assert_lacks (body, "[thread]");
    }
  {
    g_autofree char *body = cas_checklist_render (run, "http://127.0.0.1:3773/?thread=t-1");

    assert_contains (body, "[thread](http://127.0.0.1:3773/?thread=t-1)");
  }
}

/* A body with the marker around @state. */
static char *
with_state (const char *state)
{
  return g_strconcat ("text\n" CAS_CHECKLIST_MARKER, state, CAS_CHECKLIST_MARKER_END "\n", NULL);
}

static void
test_parse_hostile (void)
{
  g_autoptr (CasRun) run = new_run ();
  g_autofree char *good = cas_checklist_render (run, NULL);
  g_autofree char *json = cas_run_to_json (run);
  static const char *const bad_states[] = {
    "", "A", "AAA", "AAAA=", "AA=A", "A===", "====", "!!!!", "AAAA AAAA",
  };

  assert_parse_fails (NULL, -1, "no AFK run marker");
  assert_parse_fails ("", -1, "no AFK run marker");
  assert_parse_fails ("just a comment", -1, "no AFK run marker");
  assert_parse_fails ("<!-- claude-agent-service:afk-run v2 AAAA -->", -1, "no AFK run marker");
  assert_parse_fails (CAS_CHECKLIST_MARKER, -1, "base64");
  g_assert_false (cas_checklist_has_marker (NULL, -1));
  g_assert_false (cas_checklist_has_marker ("x", -1));

  for (guint i = 0; i < G_N_ELEMENTS (bad_states); i++)
    {
      g_autofree char *body = with_state (bad_states[i]);

      assert_parse_fails (body, -1, NULL);
    }

  /* Not closed, or closed differently. */
  {
    g_autofree char *state = g_base64_encode ((const guchar *) json, strlen (json));
    g_autofree char *open = g_strconcat (CAS_CHECKLIST_MARKER, state, NULL);
    g_autofree char *other = g_strconcat (CAS_CHECKLIST_MARKER, state, "-->", NULL);

    assert_parse_fails (open, -1, "base64");
    assert_parse_fails (other, -1, "base64");
    /* The length bounds the body: cut before the end. */
    assert_parse_fails (good, strlen (good) - 3, "base64");
  }

  /* Valid base64 of things that are not runs. */
  {
    static const char *const payloads[] = {
      "null", "[]", "{}", "{\"version\":1}", "\xff\xfe", "{\"version\":1}\0x",
    };

    for (guint i = 0; i < G_N_ELEMENTS (payloads); i++)
      {
        g_autofree char *state = g_base64_encode ((const guchar *) payloads[i], strlen (payloads[i]) + (i == 5 ? 2 : 0));
        g_autofree char *body = with_state (state);

        assert_parse_fails (body, -1, "not an AFK run");
      }
  }

  /* A state too big to read. */
  {
    g_autofree char *big = g_strnfill (CAS_CHECKLIST_MAX_STATE_BYTES + 4, 'Q');
    g_autofree char *body = with_state (big);

    assert_parse_fails (body, -1, "base64");
  }

  /* Many markers: the last one counts. A fake one before ours changes
   * nothing; a fake one after ours is what the loop's own-login check is
   * for, but it still parses as whatever run it holds, never a crash. */
  {
    g_autofree char *fake = with_state ("AAAA");
    g_autofree char *before = g_strconcat (fake, good, NULL);
    g_autofree char *after = g_strconcat (good, fake, NULL);
    g_autoptr (CasRun) back = parse_ok (before, "owner/repo", 12);

    assert_parse_fails (after, -1, NULL);
  }

  /* A marker of another issue. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (CasRun) other = cas_checklist_parse (good, -1, "owner/repo", 13, &error);

    g_assert_null (other);
    g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    other = cas_checklist_parse (good, -1, "owner/other", 12, &error);
    g_assert_null (other);
    g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  }

  /* Binary junk with a NUL and a marker after it, in a counted buffer. */
  {
    g_autoptr (GByteArray) bytes = g_byte_array_new ();

    g_byte_array_append (bytes, (const guint8 *) "\xff\0\xfe", 3);
    g_byte_array_append (bytes, (const guint8 *) good, strlen (good));
    {
      g_autoptr (CasRun) back = cas_checklist_parse ((const char *) bytes->data, bytes->len,
                                                     "owner/repo", 12, NULL);

      g_assert_nonnull (back);
    }
  }

  /* A megabyte of near-markers. */
  {
    g_autoptr (GString) big = g_string_new (NULL);

    while (big->len < 1024 * 1024)
      g_string_append (big, "<!-- claude-agent-service:afk-run v");
    assert_parse_fails (big->str, big->len, "no AFK run marker");
  }
}

/* Byte flips, cuts and splices of a real comment, with a fixed seed:
 * every one parses to a run or to an error, never a crash. */
static void
test_fuzz (void)
{
  g_autoptr (CasRun) run = new_run ();
  g_autofree char *body = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (20261207);
  gsize len;

  run->phase = CAS_RUN_PHASE_PUSHED;
  run->pushed_sha = g_strdup (SHA);
  body = cas_checklist_render (run, LINK);
  len = strlen (body);

  for (guint round = 0; round < 3000; round++)
    {
      g_autofree char *copy = g_memdup2 (body, len + 1);
      g_autoptr (GError) error = NULL;
      g_autoptr (CasRun) back = NULL;
      guint flips = g_rand_int_range (rand, 1, 4);
      gsize cut = len;

      for (guint i = 0; i < flips; i++)
        {
          /* Mostly inside the base64 state, where it matters. */
          gsize at = g_rand_boolean (rand) ? len - g_rand_int_range (rand, 5, 200)
                                           : (gsize) g_rand_int_range (rand, 0, len);

          copy[at] = (char) g_rand_int_range (rand, 0, 256);
        }
      if (g_rand_int_range (rand, 0, 4) == 0)
        cut = g_rand_int_range (rand, 0, len);
      back = cas_checklist_parse (copy, cut, NULL, 0, &error);
      g_assert_true ((back == NULL) == (error != NULL));
      if (back != NULL)
        {
          g_autofree char *again = cas_checklist_render (back, NULL);

          g_assert_nonnull (again);
        }
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/checklist/render-phases", test_render_phases);
  g_test_add_func ("/checklist/round-trip", test_round_trip);
  g_test_add_func ("/checklist/escaping", test_escaping);
  g_test_add_func ("/checklist/links", test_links);
  g_test_add_func ("/checklist/parse-hostile", test_parse_hostile);
  g_test_add_func ("/checklist/fuzz", test_fuzz);

  return g_test_run ();
}
