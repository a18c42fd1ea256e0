/* CasLogin: session cookies and the wait of wrong tokens, with the clock
 * passed in. */
#include "cas-error.h"
#include "cas-login.h"

#define S ((gint64) G_USEC_PER_SEC)

static char *
cookie_for (const char *value)
{
  return g_strdup_printf (CAS_LOGIN_COOKIE_NAME "=%s", value);
}

static void
test_sessions (void)
{
  g_autoptr (CasLogin) login = cas_login_new ();
  g_autofree char *value = cas_login_open_session (login, 1000 * S);
  g_autofree char *other = cas_login_open_session (login, 1000 * S);
  g_autofree char *cookie = cookie_for (value);
  g_autofree char *other_cookie = cookie_for (other);
  g_autofree char *among = g_strdup_printf ("theme=dark; %s ;lang=bg", cookie);

  g_assert_cmpuint (strlen (value), ==, 64);
  g_assert_cmpstr (value, !=, other);
  g_assert_true (cas_login_check_cookie_header (login, cookie, 1001 * S));
  g_assert_true (cas_login_check_cookie_header (login, among, 1001 * S));
  /* Expired at its end, and then forgotten. */
  g_assert_true (cas_login_check_cookie_header (login, cookie,
                                                (1000 + CAS_LOGIN_SESSION_SECONDS) * S - 1));
  g_assert_false (cas_login_check_cookie_header (login, cookie,
                                                 (1000 + CAS_LOGIN_SESSION_SECONDS) * S));
  g_assert_cmpuint (cas_login_get_session_count (login), ==, 1);
  g_assert_false (cas_login_check_cookie_header (login, cookie, 1001 * S));

  /* Closing ends that session only. */
  g_assert_cmpuint (cas_login_close_cookie_header (login, "nothing=here"), ==, 0);
  g_assert_cmpuint (cas_login_close_cookie_header (login, other_cookie), ==, 1);
  g_assert_false (cas_login_check_cookie_header (login, other_cookie, 1001 * S));
  g_assert_cmpuint (cas_login_close_cookie_header (login, other_cookie), ==, 0);
}

static void
test_forged_cookies (void)
{
  g_autoptr (CasLogin) login = cas_login_new ();
  g_autofree char *value = cas_login_open_session (login, 0);
  g_autofree char *upper = g_ascii_strup (value, -1);
  g_autofree char *huge = g_strnfill (9000, 'a');
  g_autoptr (GString) padded = g_string_new (NULL);
  g_autofree char *cookie = cookie_for (value);
  const char *forged[] = {
    NULL, "", ";", "=", CAS_LOGIN_COOKIE_NAME, CAS_LOGIN_COOKIE_NAME "=",
    CAS_LOGIN_COOKIE_NAME "=0000000000000000000000000000000000000000000000000000000000000000",
  };

  for (guint i = 0; i < G_N_ELEMENTS (forged); i++)
    g_assert_false (cas_login_check_cookie_header (login, forged[i], 1));
  {
    g_autofree char *up = cookie_for (upper);
    g_autofree char *longer = g_strdup_printf ("%s0", cookie);
    g_autofree char *quoted = g_strdup_printf (CAS_LOGIN_COOKIE_NAME "=\"%s\"", value);
    g_autofree char *other_name = g_strdup_printf ("x%s", cookie);
    g_autofree char *big = cookie_for (huge);

    g_assert_false (cas_login_check_cookie_header (login, up, 1));
    g_assert_false (cas_login_check_cookie_header (login, longer, 1));
    g_assert_false (cas_login_check_cookie_header (login, quoted, 1));
    g_assert_false (cas_login_check_cookie_header (login, other_name, 1));
    g_assert_false (cas_login_check_cookie_header (login, big, 1));
  }
  /* A header too long to be honest is not read at all. */
  while (padded->len < 9000)
    g_string_append (padded, "a=b; ");
  g_string_append (padded, cookie);
  g_assert_false (cas_login_check_cookie_header (login, padded->str, 1));
  g_assert_true (cas_login_check_cookie_header (login, cookie, 1));
}

static void
test_sessions_saved_and_restored (void)
{
  g_autoptr (CasLogin) login = cas_login_new ();
  g_autoptr (CasLogin) again = cas_login_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *ended = cas_login_open_session (login, 0);
  g_autofree char *value = cas_login_open_session (login, 40000 * S);
  g_autofree char *cookie = cookie_for (value);
  g_autofree char *ended_cookie = cookie_for (ended);
  g_autofree char *json = NULL;

  g_assert_true (cas_login_check_cookie_header (login, ended_cookie, 40001 * S));
  json = cas_login_sessions_to_json (login, 43300 * S);
  /* Hashes only: the cookie's value is nowhere in what is saved. */
  g_assert_null (strstr (json, value));
  g_assert_cmpuint (cas_login_restore_sessions (again, json, strlen (json), 43300 * S, &error),
                    ==, 1);
  g_assert_no_error (error);
  g_assert_true (cas_login_check_cookie_header (again, cookie, 43300 * S));
  g_assert_false (cas_login_check_cookie_header (again, ended_cookie, 43300 * S));
  /* It ends when it would have. */
  g_assert_false (cas_login_check_cookie_header (again, cookie,
                                                 (40000 + CAS_LOGIN_SESSION_SECONDS) * S));
  /* Restored twice, it is still one session. */
  g_assert_cmpuint (cas_login_restore_sessions (login, json, strlen (json), 43300 * S, &error),
                    ==, 0);
  g_assert_cmpuint (cas_login_get_session_count (login), ==, 1);
}

static void
test_hostile_saved_sessions (void)
{
  const char *hash = "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"";
  const char *not_lists[] = {
    "", "{", "null", "[]", "{}", "{\"sessions\":{}}", "{\"sessions\":\"x\"}", "\xff\xfe",
  };

  for (guint i = 0; i < G_N_ELEMENTS (not_lists); i++)
    {
      g_autoptr (CasLogin) login = cas_login_new ();
      g_autoptr (GError) error = NULL;

      g_assert_cmpuint (cas_login_restore_sessions (login, not_lists[i], strlen (not_lists[i]),
                                                    S, &error), ==, 0);
      g_assert_nonnull (error);
    }

  {
    /* Entries that are not ours are left out one by one. */
    g_autoptr (CasLogin) login = cas_login_new ();
    g_autoptr (GError) error = NULL;
    g_autofree char *json = g_strdup_printf (
      "{\"sessions\":[1,null,[],{},{\"hash\":1,\"expires_us\":5000000},"
      "{\"hash\":%s,\"expires_us\":\"5000000\"},{\"hash\":%s,\"expires_us\":5.5e6},"
      "{\"hash\":\"../../etc\",\"expires_us\":5000000},"
      "{\"hash\":\"0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\","
      "\"expires_us\":5000000},{\"hash\":%s,\"expires_us\":1},"
      "{\"hash\":%s,\"expires_us\":9223372036854775807}]}", hash, hash, hash, hash);

    /* Only the last, and never past a new session's end. */
    g_assert_cmpuint (cas_login_restore_sessions (login, json, strlen (json), 2 * S, &error),
                      ==, 1);
    g_assert_no_error (error);
    g_assert_cmpuint (cas_login_get_session_count (login), ==, 1);
    g_clear_pointer (&json, g_free);
    json = cas_login_sessions_to_json (login, 2 * S);
    g_assert_nonnull (strstr (json, "\"expires_us\":43202000000}"));
  }

  {
    /* Too many: the cap holds; too large: not read. */
    g_autoptr (CasLogin) login = cas_login_new ();
    g_autoptr (GError) error = NULL;
    g_autoptr (GString) many = g_string_new ("{\"sessions\":[");
    g_autofree char *huge = g_strnfill (300 * 1024, ' ');

    for (guint i = 0; i < CAS_LOGIN_MAX_SESSIONS + 10; i++)
      g_string_append_printf (many, "%s{\"hash\":\"%064x\",\"expires_us\":5000000}",
                              i > 0 ? "," : "", i);
    g_string_append (many, "]}");
    g_assert_cmpuint (cas_login_restore_sessions (login, many->str, many->len, S, &error),
                      ==, CAS_LOGIN_MAX_SESSIONS);
    g_assert_no_error (error);
    g_assert_cmpuint (cas_login_restore_sessions (login, huge, strlen (huge), S, &error), ==, 0);
    g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  }
}

static void
test_cookie_values (void)
{
  g_auto (GStrv) none = cas_login_cookie_values ("a=b; c=d");
  g_auto (GStrv) two = cas_login_cookie_values (
    CAS_LOGIN_COOKIE_NAME "=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef; "
    CAS_LOGIN_COOKIE_NAME "=bad; "
    CAS_LOGIN_COOKIE_NAME "=fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210");
  g_autoptr (GString) many = g_string_new (NULL);
  g_auto (GStrv) capped = NULL;

  g_assert_cmpuint (g_strv_length (none), ==, 0);
  g_assert_cmpuint (g_strv_length (two), ==, 2);
  for (guint i = 0; i < 10; i++)
    g_string_append (many, CAS_LOGIN_COOKIE_NAME
                     "=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef;");
  capped = cas_login_cookie_values (many->str);
  g_assert_cmpuint (g_strv_length (capped), ==, 4);
}

static void
test_session_cap (void)
{
  g_autoptr (CasLogin) login = cas_login_new ();
  g_autofree char *first = cas_login_open_session (login, 0);
  g_autofree char *first_cookie = cookie_for (first);

  for (guint i = 1; i < CAS_LOGIN_MAX_SESSIONS + 10; i++)
    g_free (cas_login_open_session (login, i));
  g_assert_cmpuint (cas_login_get_session_count (login), ==, CAS_LOGIN_MAX_SESSIONS);
  /* The oldest went first. */
  g_assert_false (cas_login_check_cookie_header (login, first_cookie, CAS_LOGIN_MAX_SESSIONS + 20));
}

static void
test_set_cookie (void)
{
  g_autofree char *set = cas_login_format_set_cookie ("abc", FALSE);
  g_autofree char *secure = cas_login_format_set_cookie ("abc", TRUE);
  g_autofree char *clear = cas_login_format_set_cookie (NULL, FALSE);

  g_assert_cmpstr (set, ==, "cas_session=abc; Path=/api; Max-Age=43200; HttpOnly; SameSite=Strict");
  g_assert_cmpstr (secure, ==,
                   "cas_session=abc; Path=/api; Max-Age=43200; HttpOnly; SameSite=Strict; Secure");
  g_assert_cmpstr (clear, ==, "cas_session=; Path=/api; Max-Age=0; HttpOnly; SameSite=Strict");
}

static void
test_wrong_tokens_wait_longer (void)
{
  g_autoptr (CasLogin) login = cas_login_new ();
  gint64 now = 1000 * S;
  gint64 previous = 0;
  guint failures = 0;

  /* A right token from a quiet address: at once. */
  g_assert_cmpint (cas_login_plan_answer (login, "192.0.2.1", TRUE, now, &failures), ==, 0);
  g_assert_cmpuint (failures, ==, 0);

  /* Each answered before the next is sent: the wait doubles, capped. */
  for (guint i = 1; i <= 10; i++)
    {
      gint64 delay = cas_login_plan_answer (login, "192.0.2.1", FALSE, now, &failures);

      g_assert_cmpuint (failures, ==, i);
      g_assert_cmpint (delay, ==, MIN ((gint64) CAS_LOGIN_BASE_DELAY_MS << (i - 1),
                                       CAS_LOGIN_MAX_DELAY_MS));
      g_assert_cmpint (delay, >=, previous);
      previous = delay;
      now += delay * 1000;
    }
  /* Another address is not slowed by this one. */
  g_assert_cmpint (cas_login_plan_answer (login, "192.0.2.2", FALSE, now, &failures), ==,
                   CAS_LOGIN_BASE_DELAY_MS);
  g_assert_cmpuint (failures, ==, 1);

  /* The right token resets the count. */
  g_assert_cmpint (cas_login_plan_answer (login, "192.0.2.1", TRUE, now, NULL), ==, 0);
  g_assert_cmpint (cas_login_plan_answer (login, "192.0.2.1", FALSE, now, &failures), ==,
                   CAS_LOGIN_BASE_DELAY_MS);
  g_assert_cmpuint (failures, ==, 1);
}

static void
test_answers_wait_in_line (void)
{
  g_autoptr (CasLogin) login = cas_login_new ();
  gint64 now = 5 * S;
  gint64 first = cas_login_plan_answer (login, "::1", FALSE, now, NULL);
  gint64 second = cas_login_plan_answer (login, "::1", FALSE, now, NULL);
  gint64 right = cas_login_plan_answer (login, "::1", TRUE, now, NULL);
  gint64 refused;

  /* Sent at once: each waits for those before it, and the right one
   * is not told apart any sooner than the wrong ones. */
  g_assert_cmpint (first, ==, CAS_LOGIN_BASE_DELAY_MS);
  g_assert_cmpint (second, ==, first + 2 * CAS_LOGIN_BASE_DELAY_MS);
  g_assert_cmpint (right, ==, second);

  /* A crowd of guesses fills the line, then is refused at once. */
  do
    refused = cas_login_plan_answer (login, "::1", FALSE, now, NULL);
  while (refused >= 0);
  g_assert_cmpint (cas_login_plan_answer (login, "::1", TRUE, now, NULL), ==, -1);
  /* Once the line has gone by, an address is heard again. */
  g_assert_cmpint (cas_login_plan_answer (login, "::1", TRUE,
                                          now + (gint64) (CAS_LOGIN_MAX_QUEUED_MS + 2 * CAS_LOGIN_MAX_DELAY_MS) * 1000,
                                          NULL), ==, 0);
}

static void
test_failures_are_forgotten (void)
{
  g_autoptr (CasLogin) login = cas_login_new ();
  guint failures = 0;
  gint64 later = (gint64) (CAS_LOGIN_FAILURE_MEMORY_SECONDS + 60) * S;

  cas_login_plan_answer (login, "192.0.2.9", FALSE, 0, NULL);
  cas_login_plan_answer (login, "192.0.2.9", FALSE, S, NULL);
  g_assert_cmpint (cas_login_plan_answer (login, "192.0.2.9", FALSE, later, &failures), ==,
                   CAS_LOGIN_BASE_DELAY_MS);
  g_assert_cmpuint (failures, ==, 1);
  /* Many addresses cannot grow the table without end. */
  for (guint i = 0; i < 10000; i++)
    {
      g_autofree char *peer = g_strdup_printf ("10.0.%u.%u", i / 256, i % 256);

      g_assert_cmpint (cas_login_plan_answer (login, peer, FALSE, later, NULL), ==,
                       CAS_LOGIN_BASE_DELAY_MS);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/login/sessions", test_sessions);
  g_test_add_func ("/login/forged-cookies", test_forged_cookies);
  g_test_add_func ("/login/saved-and-restored", test_sessions_saved_and_restored);
  g_test_add_func ("/login/hostile-saved-sessions", test_hostile_saved_sessions);
  g_test_add_func ("/login/cookie-values", test_cookie_values);
  g_test_add_func ("/login/session-cap", test_session_cap);
  g_test_add_func ("/login/set-cookie", test_set_cookie);
  g_test_add_func ("/login/wrong-tokens-wait-longer", test_wrong_tokens_wait_longer);
  g_test_add_func ("/login/answers-wait-in-line", test_answers_wait_in_line);
  g_test_add_func ("/login/failures-forgotten", test_failures_are_forgotten);

  return g_test_run ();
}
