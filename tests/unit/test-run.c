/* AFK runs: construction, names, copies and the strict JSON a state file
 * and a checklist comment carry (round trips, and every way a hostile
 * file can be wrong). */
#include <string.h>

#include "cas-error.h"
#include "cas-json.h"
#include "cas-run.h"

#define T0 G_GINT64_CONSTANT (1767322800123456) /* 2026-01-02T03:00:00.123456Z */
#define SHA "0123456789abcdef0123456789abcdef01234567"

static CasRun *
new_run (void)
{
  CasRun *run = cas_run_new ("owner/repo", 12, "Fix the parser", "proj-1", "thread-1",
                             "turn-0", T0);

  g_assert_nonnull (run);
  return run;
}

/* A run with every field set. */
static CasRun *
full_run (void)
{
  CasRun *run = new_run ();

  run->phase = CAS_RUN_PHASE_FROZEN;
  run->reason = CAS_RUN_REASON_FIX_FORWARD_ATTEMPTS;
  run->turn_id = g_strdup ("turn-1 ü");
  run->turn_started_us = T0 + 5;
  run->labelled = TRUE;
  run->pushed_sha = g_strdup (SHA);
  run->pushed_us = T0 + 10;
  run->ci = CAS_CI_VERDICT_RED;
  run->first_red_us = T0 + 20;
  run->fix_attempts = 5;
  run->fix_sha = g_strdup (SHA);
  run->checklist_comment_id = G_GINT64_CONSTANT (9007199254740993);
  run->doorbell_rung = TRUE;
  cas_run_set_detail (run, "said \"no\"\n");
  cas_run_set_last_error (run, "GitHub said 502");
  run->updated_us = T0 + 30;
  run->finished_us = T0 + 30;
  return run;
}

static CasRun *
round_trip (const CasRun *run)
{
  g_autofree char *json = cas_run_to_json (run);
  g_autoptr (GError) error = NULL;
  CasRun *back = cas_run_from_json (json, strlen (json), &error);
  g_autofree char *again = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (back);
  again = cas_run_to_json (back);
  g_assert_cmpstr (again, ==, json);
  g_assert_true (cas_run_equal (run, back));
  return back;
}

static void
test_new (void)
{
  g_autoptr (CasRun) run = new_run ();
  g_autofree char *key = cas_run_dup_key (run);
  g_autofree char *long_title = g_strnfill (5000, 'x');
  g_autoptr (CasRun) titled = NULL;

  g_assert_cmpstr (key, ==, "owner/repo#12");
  g_assert_cmpint (run->phase, ==, CAS_RUN_PHASE_DISPATCHED);
  g_assert_cmpint (run->reason, ==, CAS_RUN_REASON_NONE);
  g_assert_cmpstr (run->prev_turn_id, ==, "turn-0");
  g_assert_null (run->turn_id);
  g_assert_cmpint (run->dispatched_us, ==, T0);
  g_assert_cmpint (run->created_us, ==, T0);
  g_assert_cmpint (run->finished_us, ==, 0);
  g_assert_false (run->labelled);
  g_assert_false (run->doorbell_rung);
  g_assert_false (cas_run_is_terminal (run));

  /* Refused at birth. */
  g_assert_null (cas_run_new ("nope", 1, NULL, "p", "t", NULL, T0));
  g_assert_null (cas_run_new (NULL, 1, NULL, "p", "t", NULL, T0));
  g_assert_null (cas_run_new ("o/r", 0, NULL, "p", "t", NULL, T0));
  g_assert_null (cas_run_new ("o/r", (guint) G_MAXINT32 + 1, NULL, "p", "t", NULL, T0));
  g_assert_null (cas_run_new ("o/r", 1, NULL, "p/../x", "t", NULL, T0));
  g_assert_null (cas_run_new ("o/r", 1, NULL, "p", "t?x=1", NULL, T0));
  g_assert_null (cas_run_new ("o/r", 1, NULL, "p", "", NULL, T0));
  g_assert_null (cas_run_new ("o/r", 1, NULL, NULL, "t", NULL, T0));
  g_assert_null (cas_run_new ("o/r", 1, NULL, "p", "t", "", T0));
  g_assert_null (cas_run_new ("o/r", 1, NULL, "p", "t", "a\nb", T0));

  /* Titles are kept valid and bounded. */
  titled = cas_run_new ("o/r", 1, long_title, "p", "t", NULL, T0);
  g_assert_cmpuint (strlen (titled->title), ==, CAS_RUN_MAX_TITLE_LENGTH);
  g_clear_pointer (&titled, cas_run_free);
  titled = cas_run_new ("o/r", 1, "bad \xff\xfe title", "p", "t", NULL, T0);
  g_assert_true (g_utf8_validate (titled->title, -1, NULL));
}

static void
test_names (void)
{
  CasRunPhase phase;
  CasRunReason reason;
  CasCiVerdict ci;

  for (guint i = CAS_RUN_PHASE_DISPATCHED; i <= CAS_RUN_PHASE_FROZEN; i++)
    {
      g_assert_true (cas_run_phase_from_string (cas_run_phase_to_string (i), &phase));
      g_assert_cmpint (phase, ==, i);
      g_assert_true (cas_run_phase_is_terminal (i) == (i >= CAS_RUN_PHASE_DONE));
    }
  for (guint i = CAS_RUN_REASON_NONE; i <= CAS_RUN_REASON_FIX_FORWARD_TIME; i++)
    {
      g_assert_true (cas_run_reason_from_string (cas_run_reason_to_string (i), &reason));
      g_assert_cmpint (reason, ==, i);
      g_assert_nonnull (cas_run_reason_describe (i));
      g_assert_true ((*cas_run_reason_describe (i) == '\0') == (i == CAS_RUN_REASON_NONE));
    }
  for (guint i = CAS_CI_VERDICT_NONE; i <= CAS_CI_VERDICT_LAST; i++)
    {
      g_assert_true (cas_ci_verdict_from_string (cas_ci_verdict_to_string (i), &ci));
      g_assert_cmpint (ci, ==, i);
    }
  g_assert_cmpstr (cas_run_phase_to_string (CAS_RUN_PHASE_NEEDS_HUMAN), ==, "needs-human");
  g_assert_cmpstr (cas_run_reason_to_string (CAS_RUN_REASON_STALLED), ==, "stalled");
  g_assert_cmpstr (cas_run_phase_to_string ((CasRunPhase) 42), ==, "unknown");
  g_assert_cmpstr (cas_run_reason_to_string ((CasRunReason) 42), ==, "");
  g_assert_cmpstr (cas_ci_verdict_to_string ((CasCiVerdict) 42), ==, "unknown");
  g_assert_false (cas_run_phase_from_string ("Done", &phase));
  g_assert_false (cas_run_phase_from_string (NULL, &phase));
  g_assert_false (cas_run_reason_from_string ("nope", &reason));
  g_assert_false (cas_ci_verdict_from_string ("", &ci));
}

static void
test_ids (void)
{
  g_assert_true (cas_run_id_is_valid ("0e9d8c7b-6a59-4837-a261-5f4e3d2c1b0a"));
  g_assert_true (cas_run_id_is_valid ("a:b_c.d"));
  g_assert_false (cas_run_id_is_valid (""));
  g_assert_false (cas_run_id_is_valid (NULL));
  g_assert_false (cas_run_id_is_valid ("a/b"));
  g_assert_false (cas_run_id_is_valid ("a b"));
  g_assert_false (cas_run_id_is_valid ("a%2f"));
  g_assert_false (cas_run_id_is_valid ("ü"));
  {
    g_autofree char *id = g_strnfill (CAS_RUN_MAX_ID_LENGTH, 'a');
    g_autofree char *too_long = g_strnfill (CAS_RUN_MAX_ID_LENGTH + 1, 'a');

    g_assert_true (cas_run_id_is_valid (id));
    g_assert_false (cas_run_id_is_valid (too_long));
  }

  g_assert_true (cas_run_turn_id_is_valid ("turn-1 ü/any:thing"));
  g_assert_false (cas_run_turn_id_is_valid (""));
  g_assert_false (cas_run_turn_id_is_valid (NULL));
  g_assert_false (cas_run_turn_id_is_valid ("a\tb"));
  g_assert_false (cas_run_turn_id_is_valid ("a\x7f"));
  g_assert_false (cas_run_turn_id_is_valid ("\xc3"));

  g_assert_true (cas_run_sha_is_valid (SHA));
  g_assert_true (cas_run_sha_is_valid (SHA "012345678901234567890123"));
  g_assert_false (cas_run_sha_is_valid ("0123456789ABCDEF0123456789abcdef01234567"));
  g_assert_false (cas_run_sha_is_valid ("0123456"));
  g_assert_false (cas_run_sha_is_valid (SHA "0"));
  g_assert_false (cas_run_sha_is_valid ("g123456789abcdef0123456789abcdef01234567"));
  g_assert_false (cas_run_sha_is_valid (NULL));
}

static void
test_copy_and_setters (void)
{
  g_autoptr (CasRun) run = full_run ();
  g_autoptr (CasRun) copy = cas_run_copy (run);
  g_autofree char *huge = g_strnfill (100000, 'e');

  g_assert_true (cas_run_equal (run, copy));
  g_assert_true (copy->turn_id != run->turn_id);
  copy->fix_attempts++;
  g_assert_false (cas_run_equal (run, copy));

  cas_run_set_last_error (copy, huge);
  g_assert_cmpuint (strlen (copy->last_error), ==, CAS_RUN_MAX_TEXT_LENGTH);
  cas_run_set_last_error (copy, "\xff");
  g_assert_true (g_utf8_validate (copy->last_error, -1, NULL));
  cas_run_set_last_error (copy, NULL);
  g_assert_null (copy->last_error);
  /* Text set by hand past the bounds is bounded when written, so the
   * state still reads back. */
  {
    g_autoptr (CasRun) bare = new_run ();
    g_autofree char *json = NULL;
    g_autoptr (CasRun) back = NULL;

    g_free (bare->title);
    bare->title = g_strdup (huge);
    bare->detail = g_strdup (huge);
    bare->last_error = g_strdup ("\xff\xfe");
    json = cas_run_to_json (bare);
    back = cas_run_from_json (json, strlen (json), NULL);
    g_assert_nonnull (back);
    g_assert_cmpuint (strlen (back->title), ==, CAS_RUN_MAX_TITLE_LENGTH);
    g_assert_cmpuint (strlen (back->detail), ==, CAS_RUN_MAX_TEXT_LENGTH);
    g_assert_true (g_utf8_validate (back->last_error, -1, NULL));
  }
  /* A cut never splits a character. */
  {
    g_autoptr (GString) text = g_string_new ("x");

    while (text->len < CAS_RUN_MAX_TEXT_LENGTH + 10)
      g_string_append (text, "ж");
    cas_run_set_detail (copy, text->str);
    g_assert_true (g_utf8_validate (copy->detail, -1, NULL));
    g_assert_cmpuint (strlen (copy->detail), <=, CAS_RUN_MAX_TEXT_LENGTH);
  }
}

static void
test_round_trip (void)
{
  g_autoptr (CasRun) fresh = new_run ();
  g_autoptr (CasRun) full = full_run ();
  g_autoptr (CasRun) back1 = round_trip (fresh);
  g_autoptr (CasRun) back2 = round_trip (full);
  g_autoptr (CasRun) bare = cas_run_new ("o/r", 1, NULL, "p", "t", NULL, T0);
  g_autoptr (CasRun) back3 = round_trip (bare);
  g_autofree char *json = cas_run_to_json (fresh);

  g_assert_cmpstr (back2->turn_id, ==, "turn-1 ü");
  g_assert_cmpint (back2->checklist_comment_id, ==, G_GINT64_CONSTANT (9007199254740993));
  g_assert_cmpint (back2->first_red_us, ==, T0 + 20);
  g_assert_cmpstr (back2->detail, ==, "said \"no\"\n");
  g_assert_null (back3->title);
  g_assert_null (back3->prev_turn_id);
  g_assert_true (g_str_has_prefix (json, "{\"version\":1,"));
  g_assert_nonnull (strstr (json, "\"dispatched_at\":\"2026-01-02T03:00:00.123456+00:00\""));

  /* A CI verdict set out of range by hand is written as none. */
  {
    g_autoptr (CasRun) odd = new_run ();
    g_autofree char *text = NULL;

    odd->ci = (CasCiVerdict) 99;
    text = cas_run_to_json (odd);
    g_assert_nonnull (strstr (text, "\"ci\":\"none\""));
  }

  /* Every phase with what it needs round trips. */
  for (guint i = CAS_RUN_PHASE_DISPATCHED; i <= CAS_RUN_PHASE_FROZEN; i++)
    {
      g_autoptr (CasRun) run = new_run ();
      g_autoptr (CasRun) back = NULL;

      run->phase = i;
      if (i != CAS_RUN_PHASE_DISPATCHED)
        run->pushed_sha = g_strdup (SHA);
      if (i == CAS_RUN_PHASE_NEEDS_HUMAN || i == CAS_RUN_PHASE_FROZEN)
        run->reason = CAS_RUN_REASON_STALLED;
      if (cas_run_phase_is_terminal (i))
        run->finished_us = T0 + 1;
      back = round_trip (run);
      g_assert_cmpint (back->phase, ==, i);
    }
}

/* The JSON of a full run with one member replaced (or removed when
 * @value is NULL). */
static char *
json_with (const char *member,
           const char *value)
{
  g_autoptr (CasRun) run = full_run ();
  g_autofree char *json = cas_run_to_json (run);
  g_autoptr (JsonObject) object = cas_json_parse_object (json, strlen (json), NULL);

  g_assert_nonnull (object);
  if (value == NULL)
    json_object_remove_member (object, member);
  else
    {
      g_autoptr (JsonParser) parser = json_parser_new ();

      g_assert_true (json_parser_load_from_data (parser, value, -1, NULL));
      json_object_set_member (object, member, json_node_copy (json_parser_get_root (parser)));
    }
  return cas_json_object_to_string (object);
}

static void
assert_refused (const char *json,
                gssize      length,
                const char *words)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CasRun) run = cas_run_from_json (json, length < 0 ? strlen (json) : (gsize) length,
                                              &error);

  if (run != NULL)
    g_error ("accepted: %s", json);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  if (words != NULL && strstr (error->message, words) == NULL)
    g_error ("%s: “%s” does not mention “%s”", json, error->message, words);
}

static void
test_from_json_fields (void)
{
  static const struct {
    const char *member;
    const char *value;  /* NULL: removed */
    const char *words;
  } cases[] = {
    { "version", NULL, "version" },
    { "version", "2", "version 2" },
    { "version", "0", "version" },
    { "version", "\"1\"", "version" },
    { "version", "1.5", "version" },
    { "repo", NULL, "repo" },
    { "repo", "\"nope\"", "repo" },
    { "repo", "\"../../etc\"", "repo" },
    { "repo", "42", "repo" },
    { "repo", "null", "repo" },
    { "number", "0", "number" },
    { "number", "-1", "number" },
    { "number", "2147483648", "number" },
    { "number", "12.5", "number" },
    { "number", "\"12\"", "number" },
    { "number", "true", "number" },
    { "title", "[]", "title" },
    { "phase", "\"exploded\"", "phase" },
    { "phase", "\"DONE\"", "phase" },
    { "phase", "null", "phase" },
    { "phase", "{}", "phase" },
    { "reason", "\"bored\"", "reason" },
    { "reason", "\"\"", "reason" },
    { "reason", "null", "reason" },       /* frozen needs one */
    { "project_id", "\"a/b\"", "project_id" },
    { "project_id", "\"\"", "project_id" },
    { "thread_id", "\"x y\"", "thread_id" },
    { "thread_id", NULL, "thread_id" },
    { "turn_id", "\"\"", "turn_id" },
    { "turn_id", "\"a\\nb\"", "turn_id" },
    { "prev_turn_id", "7", "prev_turn_id" },
    { "dispatched_at", "null", "dispatched_at" },
    { "dispatched_at", "\"yesterday\"", "dispatched_at" },
    { "dispatched_at", "\"2026-01-02T03:00:00\"", "dispatched_at" },
    { "dispatched_at", "\"1960-01-02T03:00:00Z\"", "dispatched_at" },
    { "dispatched_at", "1767322800", "dispatched_at" },
    { "labelled", "1", "labelled" },
    { "labelled", "\"true\"", "labelled" },
    { "pushed_sha", "\"abc\"", "pushed_sha" },
    { "pushed_sha", "null", "pushed_sha" },  /* frozen has pushed */
    { "ci", "\"purple\"", "ci" },
    { "ci", "null", "ci" },
    { "fix_attempts", "-1", "fix_attempts" },
    { "fix_attempts", "100001", "fix_attempts" },
    { "fix_sha", "\"ZZ\"", "fix_sha" },
    { "checklist_comment_id", "-5", "checklist_comment_id" },
    { "checklist_comment_id", "\"1000\"", "checklist_comment_id" },
    { "doorbell_rung", "null", "doorbell_rung" },
    { "detail", "{}", "detail" },
    { "last_error", "false", "last_error" },
    { "finished_at", "null", "finished_at" },  /* frozen has ended */
    { "created_at", NULL, "created_at" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *json = json_with (cases[i].member, cases[i].value);

      g_test_message ("%s = %s", cases[i].member, cases[i].value);
      assert_refused (json, -1, cases[i].words);
    }

  /* Unknown members are ignored. */
  {
    g_autofree char *json = json_with ("later_field", "[1,2]");
    g_autoptr (CasRun) run = cas_run_from_json (json, strlen (json), NULL);

    g_assert_nonnull (run);
  }
}

static void
test_from_json_consistency (void)
{
  g_autoptr (CasRun) run = new_run ();
  g_autofree char *json = NULL;

  /* A live run may not carry a reason, an end or a rung doorbell. */
  run->reason = CAS_RUN_REASON_STALLED;
  json = cas_run_to_json (run);
  assert_refused (json, -1, "reason");
  run->reason = CAS_RUN_REASON_NONE;
  run->finished_us = T0;
  g_free (json);
  json = cas_run_to_json (run);
  assert_refused (json, -1, "finished_at");
  run->finished_us = 0;
  run->doorbell_rung = TRUE;
  g_free (json);
  json = cas_run_to_json (run);
  assert_refused (json, -1, "doorbell_rung");
  run->doorbell_rung = FALSE;
  /* Dispatched with a push, pushed without one. */
  run->pushed_sha = g_strdup (SHA);
  g_free (json);
  json = cas_run_to_json (run);
  assert_refused (json, -1, "pushed_sha");
  run->phase = CAS_RUN_PHASE_PUSHED;
  g_clear_pointer (&run->pushed_sha, g_free);
  g_free (json);
  json = cas_run_to_json (run);
  assert_refused (json, -1, "pushed_sha");
  /* Done with a reason. */
  run->phase = CAS_RUN_PHASE_DONE;
  run->pushed_sha = g_strdup (SHA);
  run->finished_us = T0;
  run->reason = CAS_RUN_REASON_STALLED;
  g_free (json);
  json = cas_run_to_json (run);
  assert_refused (json, -1, "reason");
  /* Needs-human may have pushed or not. */
  run->phase = CAS_RUN_PHASE_NEEDS_HUMAN;
  {
    g_autoptr (CasRun) a = round_trip (run);

    g_clear_pointer (&run->pushed_sha, g_free);
    {
      g_autoptr (CasRun) b = round_trip (run);
    }
  }
}

static void
test_from_json_hostile (void)
{
  static const char *const bodies[] = {
    "", "null", "[]", "42", "\"run\"", "{", "{}", "{\"version\":1}",
    "{\"version\":1,\"repo\":\"o/r\"}", "{'version':1}", "{\"version\":1}//",
    "\xff\xfe{}",
  };
  static const char with_nul[] = "{\"version\":1\0}";
  g_autoptr (GString) deep = g_string_new (NULL);
  g_autoptr (GString) huge = g_string_new ("{\"version\":1,\"title\":\"");
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    assert_refused (bodies[i], -1, "not an AFK run");
  assert_refused (with_nul, sizeof with_nul - 1, "not an AFK run");
  g_assert_null (cas_run_from_json (NULL, 0, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);

  for (guint i = 0; i < 100000; i++)
    g_string_append (deep, "{\"a\":");
  assert_refused (deep->str, -1, "not an AFK run");

  for (guint i = 0; i < 1024 * 1024; i++)
    g_string_append_c (huge, 'x');
  g_string_append (huge, "\"}");
  assert_refused (huge->str, -1, "not an AFK run");

  /* Numbers written as floats are not integers, even when whole (our
   * writer would print them as integers, so edit the text). */
  {
    g_autoptr (CasRun) run = full_run ();
    g_autofree char *json = cas_run_to_json (run);
    g_auto (GStrv) parts = g_strsplit (json, "\"fix_attempts\":5", 2);
    g_autofree char *floated = g_strjoinv ("\"fix_attempts\":5.0", parts);
    g_autofree char *exp = g_strjoinv ("\"fix_attempts\":5e0", parts);

    g_assert_cmpuint (g_strv_length (parts), ==, 2);
    assert_refused (floated, -1, "fix_attempts");
    assert_refused (exp, -1, "fix_attempts");
  }

  /* Strings too long for their field. */
  {
    g_autofree char *title = g_strnfill (CAS_RUN_MAX_TITLE_LENGTH + 1, 'x');
    g_autofree char *quoted = g_strdup_printf ("\"%s\"", title);
    g_autofree char *json = json_with ("title", quoted);

    assert_refused (json, -1, "title");
  }
  {
    g_autofree char *text = g_strnfill (CAS_RUN_MAX_TEXT_LENGTH + 1, 'x');
    g_autofree char *quoted = g_strdup_printf ("\"%s\"", text);
    g_autofree char *json = json_with ("last_error", quoted);

    assert_refused (json, -1, "last_error");
  }
}

static void
test_variant (void)
{
  g_autoptr (CasRun) fresh = new_run ();
  g_autoptr (CasRun) full = full_run ();
  g_autoptr (GVariant) v1 = g_variant_ref_sink (cas_run_to_variant (fresh, NULL));
  g_autoptr (GVariant) v2 = NULL;
  g_autoptr (GVariantDict) d1 = g_variant_dict_new (v1);
  g_autoptr (GVariantDict) d2 = NULL;
  const char *text = NULL;
  guint32 number = 0;
  guint64 when = 0;

  g_assert_true (g_variant_is_of_type (v1, G_VARIANT_TYPE_VARDICT));
  g_assert_true (g_variant_dict_lookup (d1, "repository", "&s", &text));
  g_assert_cmpstr (text, ==, "owner/repo");
  g_assert_true (g_variant_dict_lookup (d1, "issue", "u", &number));
  g_assert_cmpuint (number, ==, 12);
  g_assert_true (g_variant_dict_lookup (d1, "phase", "&s", &text));
  g_assert_cmpstr (text, ==, "dispatched");
  g_assert_true (g_variant_dict_lookup (d1, "thread-url", "&s", &text));
  g_assert_cmpstr (text, ==, "");
  g_assert_true (g_variant_dict_lookup (d1, "attempts", "u", &number));
  g_assert_cmpuint (number, ==, 0);
  g_assert_true (g_variant_dict_lookup (d1, "updated", "t", &when));
  g_assert_cmpuint (when, ==, T0 / G_USEC_PER_SEC);
  g_assert_false (g_variant_dict_contains (d1, "outcome"));
  g_assert_false (g_variant_dict_contains (d1, "reason"));
  g_assert_false (g_variant_dict_contains (d1, "pushed-sha"));
  g_assert_false (g_variant_dict_contains (d1, "finished"));

  g_free (full->title);
  full->title = g_strdup ("not \xff UTF-8");
  v2 = g_variant_ref_sink (cas_run_to_variant (full, "https://t3.example/?thread=thread-1"));
  d2 = g_variant_dict_new (v2);
  g_assert_true (g_variant_dict_lookup (d2, "outcome", "&s", &text));
  g_assert_cmpstr (text, ==, "frozen");
  g_assert_true (g_variant_dict_lookup (d2, "reason-code", "&s", &text));
  g_assert_cmpstr (text, ==, "fix-forward-attempts");
  g_assert_true (g_variant_dict_lookup (d2, "reason", "&s", &text));
  g_assert_cmpstr (text, ==, cas_run_reason_describe (CAS_RUN_REASON_FIX_FORWARD_ATTEMPTS));
  g_assert_true (g_variant_dict_lookup (d2, "thread-url", "&s", &text));
  g_assert_cmpstr (text, ==, "https://t3.example/?thread=thread-1");
  g_assert_true (g_variant_dict_lookup (d2, "attempts", "u", &number));
  g_assert_cmpuint (number, ==, 5);
  g_assert_true (g_variant_dict_lookup (d2, "title", "&s", &text));
  g_assert_true (g_utf8_validate (text, -1, NULL));
  g_assert_true (g_variant_dict_contains (d2, "first-red"));
  g_assert_true (g_variant_dict_contains (d2, "last-error"));
}

/* Byte flips of a full state with a fixed seed: a run that reads back
 * the same way, or an error, never a crash. */
static void
test_fuzz (void)
{
  g_autoptr (CasRun) run = full_run ();
  g_autofree char *json = cas_run_to_json (run);
  g_autoptr (GRand) rand = g_rand_new_with_seed (20261207);
  gsize len = strlen (json);

  for (guint round = 0; round < 3000; round++)
    {
      g_autofree char *copy = g_memdup2 (json, len + 1);
      g_autoptr (GError) error = NULL;
      g_autoptr (CasRun) back = NULL;
      gsize at = g_rand_int_range (rand, 0, len);

      copy[at] = (char) g_rand_int_range (rand, 0, 256);
      back = cas_run_from_json (copy, len, &error);
      g_assert_true ((back == NULL) == (error != NULL));
      if (back != NULL)
        {
          g_autoptr (CasRun) again = round_trip (back);
        }
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/run/new", test_new);
  g_test_add_func ("/run/names", test_names);
  g_test_add_func ("/run/ids", test_ids);
  g_test_add_func ("/run/copy-and-setters", test_copy_and_setters);
  g_test_add_func ("/run/json/round-trip", test_round_trip);
  g_test_add_func ("/run/json/fields", test_from_json_fields);
  g_test_add_func ("/run/json/consistency", test_from_json_consistency);
  g_test_add_func ("/run/json/hostile", test_from_json_hostile);
  g_test_add_func ("/run/variant", test_variant);
  g_test_add_func ("/run/json/fuzz", test_fuzz);

  return g_test_run ();
}
