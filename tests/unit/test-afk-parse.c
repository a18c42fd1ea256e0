/* AFK parsers: "Blocked by" references, priority labels, T3 states,
 * AFK-Issue trailers and allowlist entries, each with the hostile inputs
 * (NULL, empty, huge, not UTF-8, NUL bytes) they must survive. */
#include <string.h>

#include "cas-afk-parse.h"
#include "cas-error.h"

/* The references as one string: "#3 o/r#4". */
static char *
refs_string (GPtrArray *refs)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < refs->len; i++)
    {
      g_autofree char *one = cas_issue_ref_to_string (g_ptr_array_index (refs, i));

      if (i > 0)
        g_string_append_c (out, ' ');
      g_string_append (out, one);
    }
  return g_string_free (out, FALSE);
}

static void
test_blocked_by_table (void)
{
  static const struct {
    const char *body;
    const char *refs;
  } cases[] = {
    { "Blocked by #3", "#3" },
    { "blocked by #3, #4 and #10", "#3 #4 #10" },
    { "BLOCKED   BY #3", "#3" },
    { "Blocked\tby #3", "#3" },
    { "**Blocked by** #7", "#7" },
    { "- blocked by: #7", "#7" },
    { "Blocked by other/repo#12", "other/repo#12" },
    { "Blocked by #3 and owner-1/re.po_x-y#9", "#3 owner-1/re.po_x-y#9" },
    /* Order kept, duplicates dropped (repository without case). */
    { "Blocked by #4, #3, #4\nblocked by #3 and O/R#1 and o/r#1", "#4 #3 O/R#1" },
    /* Only after the words, only on that line. */
    { "#1 is blocked by #2", "#2" },
    { "Blocked by\n#3", "" },
    { "Mentions #5\nBlocked by #6\nSee #7", "#6" },
    { "blocked by #3\r\nblocked by #4\r\n", "#3 #4" },
    /* Not the words. */
    { "unblocked by #3", "" },
    { "Blockedby #3", "" },
    { "blocked_by #3", "" },
    { "blocked bye #3", "" },
    { "blocked, by #3", "" },
    { "nothing here #3", "" },
    /* Not references. */
    { "blocked by #0", "" },
    { "blocked by #", "" },
    { "blocked by #12abc", "" },
    { "blocked by a#12", "" },
    { "blocked by #x", "" },
    { "blocked by #2147483647", "#2147483647" },
    { "blocked by #2147483648", "" },
    { "blocked by #99999999999999999999999999", "" },
    { "blocked by #007", "#7" },
    { "blocked by /repo#3", "" },
    { "blocked by owner/#3", "" },
    { "blocked by -owner/repo#3", "" },
    { "blocked by owner-/repo#3", "" },
    { "blocked by a/b/c#3", "" },
    { "blocked by https://x/o/r#3", "" },
    { "blocked by o/..#3", "" },
    { "blocked by o/a..b#3", "" },
    { "blocked by o/.#3", "" },
    { "blocked by o/.x#3", "o/.x#3" },
    { "blocked by a_b/r#3", "" },
    { "blocked by (#3) [#4] #5.", "#3 #4 #5" },
    { "blocked by ##3", "#3" },
    { "", "" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gboolean truncated = TRUE;
      g_autoptr (GPtrArray) refs = cas_afk_parse_blocked_by (cases[i].body, -1, &truncated);
      g_autofree char *got = refs_string (refs);

      if (g_strcmp0 (got, cases[i].refs) != 0)
        g_error ("“%s”: got “%s”, expected “%s”", cases[i].body, got, cases[i].refs);
      g_assert_false (truncated);
    }
}

static void
test_blocked_by_hostile (void)
{
  g_autoptr (GPtrArray) none = cas_afk_parse_blocked_by (NULL, -1, NULL);
  g_autoptr (GPtrArray) counted = NULL;
  g_autoptr (GPtrArray) bytes = NULL;
  g_autoptr (GPtrArray) many = NULL;
  g_autoptr (GString) big = g_string_new (NULL);
  g_autofree char *got = NULL;
  gboolean truncated = FALSE;
  static const char with_nul[] = "blocked by #3\0blocked by #4";
  static const char latin1[] = "Blocked by #3 \xe9\xff\xfe o/r#4 \xc3";

  g_assert_cmpuint (none->len, ==, 0);

  /* A counted buffer is read to its length, NUL bytes and all; a length
   * shorter than the text stops there. */
  counted = cas_afk_parse_blocked_by (with_nul, sizeof with_nul - 1, NULL);
  got = refs_string (counted);
  g_assert_cmpstr (got, ==, "#3 #4");
  g_clear_pointer (&counted, g_ptr_array_unref);
  counted = cas_afk_parse_blocked_by ("blocked by #345", strlen ("blocked by #3"), NULL);
  g_clear_pointer (&got, g_free);
  got = refs_string (counted);
  g_assert_cmpstr (got, ==, "#3");

  bytes = cas_afk_parse_blocked_by (latin1, -1, NULL);
  g_clear_pointer (&got, g_free);
  got = refs_string (bytes);
  g_assert_cmpstr (got, ==, "#3 o/r#4");

  /* A megabyte of references: the first CAS_AFK_MAX_BLOCKERS, and a flag. */
  g_string_append (big, "Blocked by");
  for (guint i = 1; big->len < 1024 * 1024; i++)
    g_string_append_printf (big, " #%u", i);
  many = cas_afk_parse_blocked_by (big->str, big->len, &truncated);
  g_assert_cmpuint (many->len, ==, CAS_AFK_MAX_BLOCKERS);
  g_assert_true (truncated);
  g_assert_cmpuint (((CasIssueRef *) g_ptr_array_index (many, 0))->number, ==, 1);

  /* Many duplicates of one are still one, not truncated. */
  g_string_truncate (big, 0);
  g_string_append (big, "blocked by");
  for (guint i = 0; i < 10000; i++)
    g_string_append (big, " #9");
  g_clear_pointer (&many, g_ptr_array_unref);
  many = cas_afk_parse_blocked_by (big->str, -1, &truncated);
  g_assert_cmpuint (many->len, ==, 1);
  g_assert_false (truncated);

  /* A long line of "blocked" words without "by". */
  g_string_truncate (big, 0);
  for (guint i = 0; i < 100000; i++)
    g_string_append (big, "blocked ");
  g_clear_pointer (&many, g_ptr_array_unref);
  many = cas_afk_parse_blocked_by (big->str, -1, NULL);
  g_assert_cmpuint (many->len, ==, 0);
}

static void
test_issue_ref (void)
{
  g_autoptr (CasIssueRef) local = cas_issue_ref_new (NULL, 3);
  g_autoptr (CasIssueRef) other = cas_issue_ref_new ("Other/Repo", 4);
  g_autoptr (CasIssueRef) copy = cas_issue_ref_copy (other);
  g_autofree char *text = cas_issue_ref_to_string (other);

  g_assert_cmpstr (text, ==, "Other/Repo#4");
  g_assert_cmpstr (copy->repo, ==, "Other/Repo");
  g_assert_true (cas_issue_ref_matches (local, "me/x", "ME/X", 3));
  g_assert_false (cas_issue_ref_matches (local, "me/x", "me/y", 3));
  g_assert_false (cas_issue_ref_matches (local, "me/x", "me/x", 4));
  g_assert_true (cas_issue_ref_matches (other, "me/x", "other/repo", 4));
  g_assert_false (cas_issue_ref_matches (other, "me/x", "me/x", 4));
  g_assert_false (cas_issue_ref_matches (NULL, "me/x", "me/x", 4));
  g_assert_false (cas_issue_ref_matches (local, NULL, NULL, 3));
  g_assert_true (cas_afk_repo_equal ("a/B", "A/b"));
  g_assert_false (cas_afk_repo_equal ("a/b", NULL));
  g_assert_false (cas_afk_repo_equal (NULL, NULL));
}

static void
test_priority (void)
{
  static const struct {
    const char *labels;  /* comma separated */
    gboolean found;
    guint priority;
  } cases[] = {
    { "", FALSE, 0 },
    { "bug,ready-for-agent", FALSE, 0 },
    { "priority:2", TRUE, 2 },
    { "priority:0", TRUE, 0 },
    { "PRIORITY:3", TRUE, 3 },
    { "priority:5,priority:1,priority:3", TRUE, 1 },
    { "priority:high,priority:4", TRUE, 4 },
    { "priority:high", FALSE, 0 },
    { "priority: 1", FALSE, 0 },
    { "priority:1 ", FALSE, 0 },
    { "priority:-1", FALSE, 0 },
    { "priority:+1", FALSE, 0 },
    { "priority:", FALSE, 0 },
    { "priority:1x", FALSE, 0 },
    { "xpriority:1", FALSE, 0 },
    { "priority:2147483647", TRUE, 2147483647 },
    { "priority:2147483648", FALSE, 0 },
    { "priority:99999999999999999999999,priority:7", TRUE, 7 },
    { "priority:007", TRUE, 7 },
    { "p\xff:1,priority:\xff", FALSE, 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto (GStrv) labels = *cases[i].labels != '\0' ? g_strsplit (cases[i].labels, ",", -1) : NULL;
      guint priority = 12345;
      gboolean found = cas_afk_parse_priority ((const char *const *) labels, &priority);

      if (found != cases[i].found || (found && priority != cases[i].priority) ||
          (!found && priority != 12345))
        g_error ("“%s”: got %d/%u", cases[i].labels, found, priority);
    }
}

static void
test_turn_state (void)
{
  g_assert_cmpint (cas_afk_parse_turn_state ("running"), ==, CAS_AFK_TURN_RUNNING);
  g_assert_cmpint (cas_afk_parse_turn_state ("interrupted"), ==, CAS_AFK_TURN_INTERRUPTED);
  g_assert_cmpint (cas_afk_parse_turn_state ("completed"), ==, CAS_AFK_TURN_COMPLETED);
  g_assert_cmpint (cas_afk_parse_turn_state ("error"), ==, CAS_AFK_TURN_ERROR);
  /* The seed's guesses and anything else: wait. */
  for (guint i = 0; i < 10; i++)
    {
      static const char *const others[] = {
        "errored", "in_progress", "pending", "queued", "pendingInit",
        "Running", "COMPLETED", "", " running", "unknown",
      };

      g_assert_cmpint (cas_afk_parse_turn_state (others[i]), ==, CAS_AFK_TURN_UNKNOWN);
    }
  g_assert_cmpint (cas_afk_parse_turn_state (NULL), ==, CAS_AFK_TURN_UNKNOWN);
  g_assert_cmpint (cas_afk_parse_turn_state ("\xff\xfe"), ==, CAS_AFK_TURN_UNKNOWN);
  g_assert_cmpstr (cas_afk_turn_state_to_string (CAS_AFK_TURN_ERROR), ==, "error");
  g_assert_cmpstr (cas_afk_turn_state_to_string (CAS_AFK_TURN_UNKNOWN), ==, "unknown");
  g_assert_cmpstr (cas_afk_turn_state_to_string ((CasAfkTurnState) 99), ==, "unknown");

  g_assert_cmpint (cas_afk_parse_session_status ("idle"), ==, CAS_AFK_SESSION_IDLE);
  g_assert_cmpint (cas_afk_parse_session_status ("starting"), ==, CAS_AFK_SESSION_STARTING);
  g_assert_cmpint (cas_afk_parse_session_status ("running"), ==, CAS_AFK_SESSION_RUNNING);
  g_assert_cmpint (cas_afk_parse_session_status ("ready"), ==, CAS_AFK_SESSION_READY);
  g_assert_cmpint (cas_afk_parse_session_status ("interrupted"), ==, CAS_AFK_SESSION_INTERRUPTED);
  g_assert_cmpint (cas_afk_parse_session_status ("stopped"), ==, CAS_AFK_SESSION_STOPPED);
  g_assert_cmpint (cas_afk_parse_session_status ("error"), ==, CAS_AFK_SESSION_ERROR);
  g_assert_cmpint (cas_afk_parse_session_status ("busy"), ==, CAS_AFK_SESSION_UNKNOWN);
  g_assert_cmpint (cas_afk_parse_session_status (NULL), ==, CAS_AFK_SESSION_UNKNOWN);
}

static void
test_trailers_table (void)
{
  static const struct {
    const char *message;
    const char *refs;
  } cases[] = {
    { "Fix the parser\n\nAFK-Issue: #12", "#12" },
    { "Fix the parser\n\nAFK-Issue: #12\n", "#12" },
    { "Fix the parser\n\nBody text.\n\nAFK-Issue: #12\n\n\n", "#12" },
    { "Fix\n\nSigned-off-by: A <a@b>\nAFK-Issue: o/r#12\nCo-Authored-By: C <c@d>", "o/r#12" },
    { "Fix\r\n\r\nAFK-Issue: #12\r\n", "#12" },
    { "Fix\n\nafk-issue:   #12  ", "#12" },
    { "Fix\n\nAFK-Issue:#12", "#12" },
    { "Fix\n\nAFK-Issue: #12\nAFK-Issue: #13\nAFK-Issue: #12", "#12 #13" },
    { "Fix\n\nAFK-Issue: #12\n  more text", "" },
    { "Fix\n\nOther: a\n  continued\nAFK-Issue: #12", "#12" },
    /* Not trailers. */
    { "Fix\n\nCloses #12", "" },
    { "Fix\n\nFixes: #12", "" },
    { "AFK-Issue: #12", "" },
    { "Fix\nAFK-Issue: #12", "" },
    { "Fix\n\nAFK-Issue: #12\n\nMore prose after it.", "" },
    { "Fix\n\nAFK-Issue: #12\nThis line is prose.", "" },
    { "Fix\n\n AFK-Issue: #12", "" },
    { "Fix\n\nAFK-Issue : #12", "" },
    { "Fix\n\nAFK-Issue: 12", "" },
    { "Fix\n\nAFK-Issue: #12 #13", "" },
    { "Fix\n\nAFK-Issue: #12, see notes", "" },
    { "Fix\n\nAFK-Issue: issue #12", "" },
    { "Fix\n\nAFK-Issue: x o/r#12", "" },
    { "Fix\n\nAFK-Issue: #0", "" },
    { "Fix\n\nAFK-Issue: #4294967296", "" },
    { "Fix\n\nAFK-Issue: a/b/c#1", "" },
    { "Fix\n\nAFK-Issue: o/..#1", "" },
    { "Fix\n\nAFK-Issues: #12", "" },
    { "Fix\n\nX-AFK-Issue: #12", "" },
    { "", "" },
    { "\n\n\n", "" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GPtrArray) refs = cas_afk_parse_trailers (cases[i].message, -1);
      g_autofree char *got = refs_string (refs);

      if (g_strcmp0 (got, cases[i].refs) != 0)
        g_error ("“%s”: got “%s”, expected “%s”", cases[i].message, got, cases[i].refs);
    }
}

static void
test_trailer_match (void)
{
  static const char message[] = "Fix it\n\nAFK-Issue: #12";
  static const char cross[] = "Fix it\n\nAFK-Issue: Owner/Repo#5";
  static const char with_nul[] = "Fix\n\nAFK-Issue: #1\0 2";
  static const char binary[] = "F\xff\n\n\xfe\nAFK-Issue: #3";
  g_autoptr (GString) huge = g_string_new ("Subject\n\n");
  g_autoptr (GPtrArray) refs = NULL;

  g_assert_true (cas_afk_message_has_trailer (message, -1, "me/x", 12));
  g_assert_false (cas_afk_message_has_trailer (message, -1, "me/x", 13));
  g_assert_true (cas_afk_message_has_trailer (cross, -1, "me/x", 0) == FALSE);
  g_assert_true (cas_afk_message_has_trailer (cross, -1, "owner/repo", 5));
  g_assert_false (cas_afk_message_has_trailer (cross, -1, "me/x", 5));
  g_assert_false (cas_afk_message_has_trailer (NULL, -1, "me/x", 12));
  g_assert_false (cas_afk_message_has_trailer (message, -1, NULL, 12));
  /* The length bounds the message. */
  g_assert_false (cas_afk_message_has_trailer (message, strlen ("Fix it\n\nAFK-Issue: #"), "me/x", 12));
  g_assert_false (cas_afk_message_has_trailer (with_nul, sizeof with_nul - 1, "me/x", 1));
  g_assert_false (cas_afk_message_has_trailer (binary, -1, "me/x", 3));

  /* A huge message whose last paragraph is a huge trailer block. */
  for (guint i = 0; i < 50000; i++)
    g_string_append_printf (huge, "AFK-Issue: #%u\n", i + 1);
  refs = cas_afk_parse_trailers (huge->str, huge->len);
  g_assert_cmpuint (refs->len, ==, CAS_AFK_MAX_BLOCKERS);
}

static void
assert_repo_invalid (const char *entry)
{
  g_autoptr (GError) error = NULL;

  if (cas_afk_validate_repo (entry, &error))
    g_error ("“%s” was accepted", entry);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_assert_cmpuint (strlen (error->message), <, 400);
}

static void
test_validate_repo (void)
{
  static const char *const good[] = {
    "owner/name", "a/b", "Owner-1/re.po_x-y", "o/.x", "o/x.", "o/-x", "o/_",
    "a-b-c/name", "o/a.b.c",
  };
  static const char *const bad[] = {
    "", "owner", "/name", "owner/", "a/b/c", "-o/n", "o-/n", "o_x/n", "o.x/n",
    "o/..", "o/.", "o/a..b", "o/n ", " o/n", "o/n\n", "o\t/n", "o/n%2F", "ö/n",
    "o/n\xff", "o/n?", "o/n#1", "../etc", "o/..%2f", "o//n",
  };
  g_autofree char *long_owner = g_strnfill (40, 'a');
  g_autofree char *ok_owner = g_strnfill (39, 'a');
  g_autofree char *long_name = g_strnfill (101, 'b');
  g_autofree char *ok_name = g_strnfill (100, 'b');
  g_autofree char *entry = NULL;
  g_autofree char *huge = g_strnfill (1024 * 1024, 'x');
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_assert_true (cas_afk_validate_repo (good[i], &error));
      g_assert_no_error (error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    assert_repo_invalid (bad[i]);
  assert_repo_invalid (NULL);

  entry = g_strdup_printf ("%s/%s", ok_owner, ok_name);
  g_assert_true (cas_afk_validate_repo (entry, NULL));
  g_free (entry);
  entry = g_strdup_printf ("%s/x", long_owner);
  assert_repo_invalid (entry);
  g_free (entry);
  entry = g_strdup_printf ("x/%s", long_name);
  assert_repo_invalid (entry);
  assert_repo_invalid (huge);
  huge[500] = '/';
  assert_repo_invalid (huge);

  /* The message quotes the entry, bounded and escaped. */
  g_assert_false (cas_afk_validate_repo ("bad\x01\xff", &error));
  g_assert_nonnull (strstr (error->message, "bad\\x01\\xff"));
}

static void
test_validate_allowlist (void)
{
  const char *const good[] = { "a/b", "c/d", NULL };
  const char *const twice[] = { "a/b", "A/B", NULL };
  const char *const one_bad[] = { "a/b", "nope", NULL };
  const char *const empty[] = { NULL };
  g_autoptr (GPtrArray) many = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;

  g_assert_true (cas_afk_validate_allowlist (good, &error));
  g_assert_true (cas_afk_validate_allowlist (empty, &error));
  g_assert_true (cas_afk_validate_allowlist (NULL, &error));
  g_assert_no_error (error);

  g_assert_false (cas_afk_validate_allowlist (twice, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "A/B"));
  g_clear_error (&error);
  g_assert_false (cas_afk_validate_allowlist (one_bad, &error));
  g_assert_nonnull (strstr (error->message, "nope"));
  g_clear_error (&error);

  for (guint i = 0; i <= CAS_AFK_MAX_ALLOWLIST; i++)
    g_ptr_array_add (many, g_strdup_printf ("o/r%u", i));
  g_ptr_array_add (many, NULL);
  g_assert_false (cas_afk_validate_allowlist ((const char *const *) many->pdata, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* Exactly the limit is fine. */
  g_ptr_array_remove_index (many, many->len - 2);
  g_assert_true (cas_afk_validate_allowlist ((const char *const *) many->pdata, &error));
  g_assert_no_error (error);

  g_assert_true (cas_afk_allowlist_contains (good, "C/D"));
  g_assert_false (cas_afk_allowlist_contains (good, "c/e"));
  g_assert_false (cas_afk_allowlist_contains (good, NULL));
  g_assert_false (cas_afk_allowlist_contains (NULL, "a/b"));
}

/* Random text from the parsers' own alphabet, with a fixed seed: no
 * crash, and every answer within its contract. */
static void
test_fuzz (void)
{
  static const char *const pieces[] = {
    "blocked", "by", " ", "\t", "\n", "\r\n", "#", "0", "1", "9", "12", "o/r", "/", "a",
    "-", ".", "..", "_", "AFK-Issue", ":", "Closes", "\xff", "\xc3", "priority:", "\n\n",
  };
  g_autoptr (GRand) rand = g_rand_new_with_seed (20261207);

  for (guint round = 0; round < 5000; round++)
    {
      g_autoptr (GString) text = g_string_new (NULL);
      guint n = g_rand_int_range (rand, 0, 60);
      g_autoptr (GPtrArray) blockers = NULL;
      g_autoptr (GPtrArray) trailers = NULL;
      gboolean truncated;
      const char *labels[2] = { NULL, NULL };
      guint priority;

      for (guint i = 0; i < n; i++)
        g_string_append (text, pieces[g_rand_int_range (rand, 0, G_N_ELEMENTS (pieces))]);

      blockers = cas_afk_parse_blocked_by (text->str, text->len, &truncated);
      trailers = cas_afk_parse_trailers (text->str, text->len);
      g_assert_cmpuint (blockers->len, <=, CAS_AFK_MAX_BLOCKERS);
      for (guint i = 0; i < blockers->len; i++)
        {
          CasIssueRef *ref = g_ptr_array_index (blockers, i);

          g_assert_cmpuint (ref->number, >, 0);
          g_assert_true (ref->repo == NULL || cas_afk_validate_repo (ref->repo, NULL));
        }
      for (guint i = 0; i < trailers->len; i++)
        {
          CasIssueRef *ref = g_ptr_array_index (trailers, i);

          g_assert_cmpuint (ref->number, >, 0);
          g_assert_true (ref->repo == NULL || cas_afk_validate_repo (ref->repo, NULL));
        }
      labels[0] = text->str;
      if (cas_afk_parse_priority (labels, &priority))
        g_assert_cmpuint (priority, <=, G_MAXINT32);
      {
        g_autoptr (GError) error = NULL;

        if (!cas_afk_validate_repo (text->str, &error))
          g_assert_true (g_utf8_validate (error->message, -1, NULL));
      }
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/afk-parse/blocked-by/table", test_blocked_by_table);
  g_test_add_func ("/afk-parse/blocked-by/hostile", test_blocked_by_hostile);
  g_test_add_func ("/afk-parse/issue-ref", test_issue_ref);
  g_test_add_func ("/afk-parse/priority", test_priority);
  g_test_add_func ("/afk-parse/turn-state", test_turn_state);
  g_test_add_func ("/afk-parse/trailers/table", test_trailers_table);
  g_test_add_func ("/afk-parse/trailers/match", test_trailer_match);
  g_test_add_func ("/afk-parse/validate-repo", test_validate_repo);
  g_test_add_func ("/afk-parse/validate-allowlist", test_validate_allowlist);
  g_test_add_func ("/afk-parse/fuzz", test_fuzz);

  return g_test_run ();
}
