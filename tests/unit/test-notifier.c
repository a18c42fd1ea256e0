/* The doorbell's pure parts: notification ids and texts, the ntfy
 * request, the Slack payload and the outbox file (hostile ones too). */
#include "config.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <string.h>

#include "cas-error.h"
#include "cas-json.h"
#include "cas-notification.h"
#include "cas-ntfy-sender.h"
#include "cas-outbox.h"
#include "cas-slack-sender.h"

#define NOW G_GINT64_CONSTANT (1796000000)
#define DAY (24 * 3600)

static CasNotification *
make (CasNotificationKind kind,
      const char         *repo,
      guint64             issue,
      const char         *run_id)
{
  g_autoptr (GError) error = NULL;
  CasNotification *n = cas_notification_new (kind, repo, issue, "Fix the <parser> & tests",
                                              NULL, "https://t3.example/thread/abc", run_id,
                                              &error);

  g_assert_no_error (error);
  g_assert_nonnull (n);
  return n;
}

static void
test_ids (void)
{
  g_autoptr (CasNotification) done = make (CAS_NOTIFICATION_DONE, "octo/cat", 12, "run-1");
  g_autoptr (CasNotification) human = make (CAS_NOTIFICATION_NEEDS_HUMAN, "octo/cat", 12, "run-1");
  g_autoptr (CasNotification) frozen = make (CAS_NOTIFICATION_FROZEN, "Octo.Org/cat_2-x", 7, "thr:2.a_b-c");
  g_autoptr (CasNotification) again = make (CAS_NOTIFICATION_NEEDS_HUMAN, "octo/cat", 12, "run-1");
  CasNotificationKind kind;

  g_assert_cmpstr (done->id, ==, "octo/cat#12:done:run-1");
  g_assert_cmpstr (human->id, ==, "octo/cat#12:needs-human:run-1");
  g_assert_cmpstr (frozen->id, ==, "Octo.Org/cat_2-x#7:frozen:thr:2.a_b-c");
  /* The same terminal state of the same run is the same doorbell. */
  g_assert_cmpstr (again->id, ==, human->id);

  g_assert_false (cas_notification_is_escalation (done));
  g_assert_true (cas_notification_is_escalation (human));
  g_assert_true (cas_notification_is_escalation (frozen));

  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (cas_notification_kind_from_string (cas_notification_kind_to_string (i), &kind));
      g_assert_cmpint (kind, ==, i);
    }
  g_assert_null (cas_notification_kind_to_string (3));
  g_assert_null (cas_notification_kind_to_string (-1));
  g_assert_false (cas_notification_kind_from_string ("Done", &kind));
  g_assert_false (cas_notification_kind_from_string ("", &kind));
  g_assert_false (cas_notification_kind_from_string (NULL, &kind));
}

static void
test_invalid (void)
{
  const char *bad_repos[] = { NULL, "", "a", "a/", "/b", "../x", "./x", "a/..", "a/b/c", "a b/c",
                              "a/b\n", "ä/b", "a/b;rm -rf", "a\\b/c" };
  const char *bad_runs[] = { NULL, "", "a/b", "..", ".", "a b", "r\n", "ü", "a#b" };
  const char *bad_links[] = { "", "javascript:alert(1)", "file:///etc/passwd", "http://", "https://x y",
                              "https://ä.example/", "ftp://host/x", "/relative", "https://host/\n",
                              "data:text/html,hi", "https://host/\x7f" };
  g_autofree char *long_run = g_strnfill (129, 'r');
  g_autofree char *long_repo = g_strconcat ("o/", long_run, long_run, NULL);
  g_autofree char *long_link = g_strconcat ("https://h/", long_repo, long_repo, long_repo, long_repo,
                                            long_repo, long_repo, long_repo, long_repo, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (bad_repos); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CasNotification) n = cas_notification_new (CAS_NOTIFICATION_DONE, bad_repos[i], 1,
                                                            "t", NULL, NULL, "r", &error);

      g_assert_null (n);
      g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_runs); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CasNotification) n = cas_notification_new (CAS_NOTIFICATION_DONE, "o/r", 1,
                                                            "t", NULL, NULL, bad_runs[i], &error);

      g_assert_null (n);
      g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_links); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CasNotification) n = cas_notification_new (CAS_NOTIFICATION_DONE, "o/r", 1,
                                                            "t", NULL, bad_links[i], "r", &error);

      if (n != NULL)
        g_error ("link “%s” was accepted", bad_links[i]);
      g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
    }

  {
    g_autoptr (GError) error = NULL;
    g_autoptr (CasNotification) n = NULL;

    n = cas_notification_new (CAS_NOTIFICATION_DONE, "o/r", 0, "t", NULL, NULL, "r", &error);
    g_assert_null (n);
    g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    n = cas_notification_new (CAS_NOTIFICATION_DONE, "o/r", G_MAXUINT64, "t", NULL, NULL, "r", &error);
    g_assert_null (n);
    g_clear_error (&error);
    n = cas_notification_new (7, "o/r", 1, "t", NULL, NULL, "r", &error);
    g_assert_null (n);
    g_clear_error (&error);
    n = cas_notification_new (CAS_NOTIFICATION_DONE, "o/r", 1, "t", NULL, NULL, long_run, &error);
    g_assert_null (n);
    g_clear_error (&error);
    n = cas_notification_new (CAS_NOTIFICATION_DONE, long_repo, 1, "t", NULL, NULL, "r", &error);
    g_assert_null (n);
    g_clear_error (&error);
    n = cas_notification_new (CAS_NOTIFICATION_DONE, "o/r", 1, "t", NULL, long_link, "r", &error);
    g_assert_null (n);
    g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  }
}

static void
test_cleaning (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) huge = g_string_new (NULL);
  g_autoptr (CasNotification) n = NULL;
  g_autoptr (CasNotification) big = NULL;

  n = cas_notification_new (CAS_NOTIFICATION_FROZEN, "o/r", 3, "a\nb\tc\x1f\xff\xfe d\u2028e",
                            "line one\nline\x01two\n", NULL, "r", &error);
  g_assert_no_error (error);
  g_assert_true (g_utf8_validate (n->issue_title, -1, NULL));
  g_assert_null (strpbrk (n->issue_title, "\n\t\x1f"));
  g_assert_nonnull (strstr (n->issue_title, "\xef\xbf\xbd")); /* U+FFFD */
  g_assert_null (strstr (n->issue_title, "\u2028"));
  g_assert_cmpstr (n->reason, ==, "line one\nline two\n");
  g_assert_null (n->link);

  /* Cut at a character boundary, never refused. */
  for (guint i = 0; i < 1000; i++)
    g_string_append (huge, "я");
  big = cas_notification_new (CAS_NOTIFICATION_DONE, "o/r", 3, huge->str, huge->str, NULL, "r", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (big->issue_title), <=, CAS_NOTIFICATION_MAX_TITLE);
  g_assert_cmpuint (strlen (big->issue_title), >, CAS_NOTIFICATION_MAX_TITLE - 4);
  g_assert_true (g_utf8_validate (big->issue_title, -1, NULL));
  g_assert_cmpuint (strlen (big->reason), <=, CAS_NOTIFICATION_MAX_REASON);
  g_assert_true (g_utf8_validate (big->reason, -1, NULL));
}

static void
test_texts (void)
{
  g_autoptr (CasNotification) done = make (CAS_NOTIFICATION_DONE, "octo/cat", 12, "run-1");
  g_autoptr (CasNotification) human = NULL;
  g_autoptr (CasNotification) frozen = make (CAS_NOTIFICATION_FROZEN, "octo/cat", 12, "run-1");
  g_autoptr (CasNotification) untitled = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *t1 = cas_notification_dup_title (done);
  g_autofree char *b1 = cas_notification_dup_body (done);
  g_autofree char *t3 = cas_notification_dup_title (frozen);
  g_autofree char *b3 = cas_notification_dup_body (frozen);
  g_autofree char *t2 = NULL;
  g_autofree char *b2 = NULL;
  g_autofree char *b4 = NULL;

  human = cas_notification_new (CAS_NOTIFICATION_NEEDS_HUMAN, "octo/cat", 12, "Fix it",
                                "The agent asked: which branch?", NULL, "run-1", &error);
  g_assert_no_error (error);
  t2 = cas_notification_dup_title (human);
  b2 = cas_notification_dup_body (human);
  untitled = cas_notification_new (CAS_NOTIFICATION_NEEDS_HUMAN, "octo/cat", 12, NULL, "",
                                   NULL, "run-1", &error);
  g_assert_no_error (error);
  b4 = cas_notification_dup_body (untitled);

  g_assert_cmpstr (t1, ==, "Done: octo/cat#12");
  g_assert_cmpstr (b1, ==, "Fix the <parser> & tests\nPushed, CI is green and the issue is closed.");
  g_assert_cmpstr (t2, ==, "Needs you: octo/cat#12");
  g_assert_cmpstr (b2, ==, "Fix it\nThe agent asked: which branch?");
  g_assert_cmpstr (t3, ==, "Frozen: octo/cat#12");
  g_assert_cmpstr (b3, ==, "Fix the <parser> & tests\nFix-forward gave up; the broken commit is left in place.");
  g_assert_cmpstr (b4, ==, "The run is stuck and needs a person.");
}

static void
test_bulgarian (void)
{
  g_autoptr (CasNotification) human = make (CAS_NOTIFICATION_NEEDS_HUMAN, "octo/cat", 12, "run-1");
  g_autofree char *title = cas_notification_dup_title (human);
  g_autofree char *body = cas_notification_dup_body (human);
  g_autofree char *payload = cas_slack_payload (human);

  g_assert_cmpstr (title, ==, "Нужен си: octo/cat#12");
  g_assert_cmpstr (body, ==, "Fix the <parser> & tests\nИзпълнението е блокирало и има нужда от човек.");
  g_assert_nonnull (strstr (payload, "|Отвори нишката>"));
}

static void
test_notification_json (void)
{
  g_autoptr (CasNotification) n = NULL;
  g_autoptr (CasNotification) back = NULL;
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (JsonObject) object = NULL;
  g_autoptr (GError) error = NULL;
  const char *hostile[] = {
    "{}",
    "{\"kind\":\"done\",\"repo\":\"o/r\",\"issue\":\"1\",\"run_id\":\"r\",\"id\":\"o/r#1:done:r\"}",
    "{\"kind\":\"done\",\"repo\":\"o/r\",\"issue\":1.5,\"run_id\":\"r\",\"id\":\"o/r#1:done:r\"}",
    "{\"kind\":\"done\",\"repo\":\"o/r\",\"issue\":-1,\"run_id\":\"r\",\"id\":\"o/r#-1:done:r\"}",
    "{\"kind\":\"done\",\"repo\":\"o/r\",\"issue\":1,\"run_id\":\"r\",\"id\":\"o/r#2:done:r\"}",
    "{\"kind\":\"gone\",\"repo\":\"o/r\",\"issue\":1,\"run_id\":\"r\",\"id\":\"o/r#1:gone:r\"}",
    "{\"kind\":\"done\",\"repo\":\"../r\",\"issue\":1,\"run_id\":\"r\",\"id\":\"../r#1:done:r\"}",
    "{\"kind\":\"done\",\"repo\":\"o/r\",\"issue\":1,\"run_id\":\"r\",\"id\":\"o/r#1:done:r\",\"title\":{}}",
    "{\"kind\":\"done\",\"repo\":\"o/r\",\"issue\":1,\"run_id\":\"r\",\"id\":\"o/r#1:done:r\",\"reason\":[1]}",
    "{\"kind\":\"done\",\"repo\":\"o/r\",\"issue\":1,\"run_id\":\"r\",\"id\":\"o/r#1:done:r\",\"link\":\"file:///x\"}",
    "{\"kind\":[],\"repo\":{},\"issue\":true,\"run_id\":null,\"id\":7}",
  };

  n = cas_notification_new (CAS_NOTIFICATION_FROZEN, "o/r", 9, "T \"q\" \\ é", "why\nnot",
                            "https://t3/x?a=1&b=2", "run", &error);
  g_assert_no_error (error);
  cas_notification_append_json (n, out);
  object = cas_json_parse_object (out->str, out->len, &error);
  g_assert_no_error (error);
  back = cas_notification_from_json (object, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->id, ==, n->id);
  g_assert_cmpint (back->kind, ==, n->kind);
  g_assert_cmpstr (back->issue_title, ==, n->issue_title);
  g_assert_cmpstr (back->reason, ==, n->reason);
  g_assert_cmpstr (back->link, ==, n->link);

  g_assert_null (cas_notification_from_json (NULL, &error));
  g_clear_error (&error);
  for (guint i = 0; i < G_N_ELEMENTS (hostile); i++)
    {
      g_autoptr (JsonObject) bad = cas_json_parse_object (hostile[i], strlen (hostile[i]), NULL);
      g_autoptr (CasNotification) none = NULL;

      g_assert_nonnull (bad);
      none = cas_notification_from_json (bad, &error);
      if (none != NULL)
        g_error ("accepted %s", hostile[i]);
      g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
    }
}

static const char *
header (SoupMessage *msg,
        const char  *name)
{
  return soup_message_headers_get_one (soup_message_get_request_headers (msg), name);
}

static void
test_ntfy (void)
{
  g_autoptr (CasNotification) human = make (CAS_NOTIFICATION_NEEDS_HUMAN, "octo/cat", 12, "run-1");
  g_autoptr (CasNotification) frozen = make (CAS_NOTIFICATION_FROZEN, "octo/cat", 12, "run-1");
  g_autoptr (CasNotification) done = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (SoupMessage) plain = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;

  msg = cas_ntfy_build_message ("https://ntfy.example/base/", "afk-bell", "tok\r\nX-Evil: 1",
                                human, &error);
  g_assert_no_error (error);
  url = g_uri_to_string (soup_message_get_uri (msg));
  g_assert_cmpstr (url, ==, "https://ntfy.example/base/afk-bell");
  g_assert_cmpstr (soup_message_get_method (msg), ==, "POST");
  g_assert_cmpstr (header (msg, "Title"), ==, "Needs you: octo/cat#12");
  g_assert_cmpstr (header (msg, "Priority"), ==, "urgent");
  g_assert_cmpstr (header (msg, "Tags"), ==, "raising_hand,afk,needs-human");
  g_assert_cmpstr (header (msg, "Click"), ==, "https://t3.example/thread/abc");
  /* A token cannot add a header. */
  g_assert_cmpstr (header (msg, "Authorization"), ==, "Bearer tok  X-Evil: 1");
  g_assert_null (header (msg, "X-Evil"));
  g_assert_cmpstr (header (msg, "Content-Type"), ==, "text/plain; charset=utf-8");
  g_assert_cmpstr (cas_ntfy_priority (CAS_NOTIFICATION_FROZEN), ==, "high");
  g_assert_cmpstr (cas_ntfy_priority (CAS_NOTIFICATION_DONE), ==, "default");
  g_assert_cmpstr (cas_ntfy_tags (frozen->kind), ==, "ice_cube,afk,frozen");

  done = cas_notification_new (CAS_NOTIFICATION_DONE, "o/r", 1, "t", NULL, NULL, "r", &error);
  g_assert_no_error (error);
  plain = cas_ntfy_build_message ("http://127.0.0.1:8/", "t", NULL, done, &error);
  g_assert_no_error (error);
  g_assert_null (header (plain, "Authorization"));
  g_assert_null (header (plain, "Click"));
  g_assert_cmpstr (header (plain, "Priority"), ==, "default");
  g_clear_object (&plain);
  plain = cas_ntfy_build_message ("http://127.0.0.1:8/", "t", "", done, &error);
  g_assert_null (header (plain, "Authorization"));

  {
    const char *bad_topics[] = { NULL, "", "a/b", "../x", "a b", "ä", "a?b", "a#b" };
    const char *bad_urls[] = { NULL, "", "ntfy.sh", "ftp://ntfy.sh", "file:///tmp", "http://", "https:///x" };
    g_autofree char *long_topic = g_strnfill (65, 'a');

    for (guint i = 0; i < G_N_ELEMENTS (bad_topics); i++)
      {
        g_autoptr (SoupMessage) none = cas_ntfy_build_message ("https://ntfy.sh", bad_topics[i], NULL,
                                                               done, &error);

        g_assert_null (none);
        g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
        g_assert_nonnull (strstr (error->message, "ntfy-topic"));
        g_clear_error (&error);
      }
    g_assert_false (cas_ntfy_topic_is_valid (long_topic));
    for (guint i = 0; i < G_N_ELEMENTS (bad_urls); i++)
      {
        g_autoptr (SoupMessage) none = cas_ntfy_build_message (bad_urls[i], "t", NULL, done, &error);

        g_assert_null (none);
        g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
        g_assert_nonnull (strstr (error->message, "ntfy-url"));
        g_clear_error (&error);
      }
  }
}

static void
test_ntfy_header_values (void)
{
  g_autofree char *ascii = cas_ntfy_header_value ("Done: o/r#1");
  g_autofree char *controls = cas_ntfy_header_value ("a\r\nb\x01");
  g_autofree char *cyrillic = cas_ntfy_header_value ("Нужен си");
  g_autofree char *lookalike = cas_ntfy_header_value ("=?UTF-8?B?eA==?=");
  g_autofree char *broken = cas_ntfy_header_value ("a\xff");
  g_autofree char *decoded = NULL;
  gsize length;

  g_assert_cmpstr (ascii, ==, "Done: o/r#1");
  g_assert_cmpstr (controls, ==, "a  b ");
  g_assert_true (g_str_has_prefix (cyrillic, "=?UTF-8?B?"));
  g_assert_true (g_str_has_suffix (cyrillic, "?="));
  decoded = (char *) g_base64_decode (cyrillic + strlen ("=?UTF-8?B?"), &length);
  /* g_base64_decode stops at '?': what is before it is the text. */
  g_assert_cmpmem (decoded, strlen ("Нужен си"), "Нужен си", strlen ("Нужен си"));
  /* Text that looks encoded is encoded, so it reads back as itself. */
  g_assert_true (g_str_has_prefix (lookalike, "=?UTF-8?B?"));
  g_assert_true (g_str_is_ascii (broken));
}

static void
test_slack (void)
{
  g_autoptr (CasNotification) human = NULL;
  g_autoptr (CasNotification) done = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *payload = NULL;
  g_autofree char *done_payload = NULL;
  g_autoptr (JsonObject) object = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  const char *text;

  human = cas_notification_new (CAS_NOTIFICATION_NEEDS_HUMAN, "octo/cat", 12, "<!channel> & <b>",
                                "Asked \"why\"", "https://t3.example/t?a=1|2>3", "run-1", &error);
  g_assert_no_error (error);
  payload = cas_slack_payload (human);
  object = cas_json_parse_object (payload, strlen (payload), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_object_get_size (object), ==, 1);
  text = cas_json_get_string (object, "text", NULL);
  g_assert_cmpstr (text, ==,
                   ":rotating_light: *Needs you: octo/cat#12*\n"
                   "&lt;!channel&gt; &amp; &lt;b&gt;\nAsked \"why\"\n"
                   "<https://t3.example/t?a=1%7C2%3E3|Open thread>");

  done = cas_notification_new (CAS_NOTIFICATION_DONE, "o/r", 1, "t", NULL, NULL, "r", &error);
  g_assert_no_error (error);
  done_payload = cas_slack_payload (done);
  g_assert_cmpstr (done_payload, ==,
                   "{\"text\":\":white_check_mark: *Done: o/r#1*\\nt\\nPushed, CI is green and the issue is closed.\"}");

  msg = cas_slack_build_message ("https://hooks.slack.example/services/T/B/sekrit", done, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (header (msg, "Content-Type"), ==, "application/json");

  /* The webhook is a secret: a bad one is refused without repeating it. */
  {
    const char *bad[] = { "sekrit", "ftp://sekrit/x", "http://", "hooks/sekrit", "" };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr (SoupMessage) none = cas_slack_build_message (bad[i], done, &error);

        g_assert_null (none);
        g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
        g_assert_null (strstr (error->message, "sekrit"));
        g_clear_error (&error);
      }
  }
}

static void
test_slack_configured (void)
{
  g_autofree char *dir = g_dir_make_tmp ("cas-notify-XXXXXX", NULL);
  g_autofree char *credentials = g_strconcat ("CREDENTIALS_DIRECTORY=", dir, NULL);
  g_autofree char *path = g_build_filename (dir, "slack-webhook", NULL);
  const char *envp[] = { credentials, NULL };

  g_assert_false (cas_slack_sender_is_configured (NULL, NULL));
  g_assert_false (cas_slack_sender_is_configured ("", NULL));
  g_assert_true (cas_slack_sender_is_configured ("/some/file", NULL));
  g_assert_false (cas_slack_sender_is_configured (NULL, envp));
  g_assert_true (g_file_set_contents (path, "https://x/y\n", -1, NULL));
  g_assert_true (cas_slack_sender_is_configured (NULL, envp));
  g_remove (path);
  g_rmdir (dir);
}

static const char *const all_senders[] = { "desktop", "ntfy", "slack", NULL };

static void
test_outbox_basics (void)
{
  g_autoptr (CasOutbox) outbox = cas_outbox_new ();
  g_autoptr (CasOutbox) back = NULL;
  g_autoptr (CasNotification) a = make (CAS_NOTIFICATION_DONE, "o/r", 1, "r1");
  g_autoptr (CasNotification) b = make (CAS_NOTIFICATION_FROZEN, "o/r", 2, "r2");
  g_autoptr (CasNotification) a_again = make (CAS_NOTIFICATION_DONE, "o/r", 1, "r1");
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL;
  g_autofree char *json_back = NULL;
  CasOutboxEntry *entry;
  guint skipped = 99;

  g_assert_true (cas_outbox_add (outbox, a, all_senders, NOW));
  g_assert_false (cas_outbox_add (outbox, a_again, all_senders, NOW + 5));
  g_assert_true (cas_outbox_add (outbox, b, (const char *const[]) { "ntfy", "ntfy", NULL }, NOW + 1));
  g_assert_cmpuint (cas_outbox_count_pending (outbox), ==, 4);

  g_assert_true (cas_outbox_mark_delivered (outbox, a->id, "slack"));
  g_assert_false (cas_outbox_mark_delivered (outbox, a->id, "slack"));
  g_assert_false (cas_outbox_mark_delivered (outbox, "nope", "slack"));
  g_assert_true (cas_outbox_mark_delivered (outbox, b->id, "ntfy"));
  g_assert_cmpuint (cas_outbox_count_pending (outbox), ==, 2);
  /* Delivered everywhere, still remembered. */
  g_assert_nonnull (cas_outbox_lookup (outbox, b->id));
  g_assert_false (cas_outbox_add (outbox, b, all_senders, NOW + 2));

  json = cas_outbox_to_json (outbox);
  back = cas_outbox_from_json (json, strlen (json), &skipped, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (skipped, ==, 0);
  json_back = cas_outbox_to_json (back);
  g_assert_cmpstr (json_back, ==, json);
  entry = cas_outbox_lookup (back, a->id);
  g_assert_nonnull (entry);
  g_assert_cmpint (entry->rung_at, ==, NOW);
  g_assert_cmpuint (entry->pending->len, ==, 2);
  g_assert_cmpstr (entry->pending->pdata[0], ==, "desktop");
  g_assert_cmpstr (entry->pending->pdata[1], ==, "ntfy");
  g_assert_cmpstr (entry->notification->issue_title, ==, a->issue_title);
}

static void
test_outbox_prune (void)
{
  g_autoptr (CasOutbox) outbox = cas_outbox_new ();
  g_autoptr (CasNotification) old = make (CAS_NOTIFICATION_DONE, "o/r", 1, "r1");
  g_autoptr (CasNotification) fresh = make (CAS_NOTIFICATION_DONE, "o/r", 2, "r2");
  gboolean changed = TRUE;
  guint given_up;

  g_assert_true (cas_outbox_add (outbox, old, all_senders, NOW - 8 * DAY));
  g_assert_true (cas_outbox_add (outbox, fresh, all_senders, NOW - DAY));

  /* Nothing to do. */
  g_assert_cmpuint (cas_outbox_prune (outbox, all_senders, NOW - 7 * DAY - 1, &changed), ==, 0);
  g_assert_false (changed);

  /* Pending too long: given up, but the id is still remembered. Slack is
   * no longer configured: its pairs go. */
  given_up = cas_outbox_prune (outbox, (const char *const[]) { "desktop", "ntfy", NULL }, NOW, &changed);
  g_assert_true (changed);
  g_assert_cmpuint (given_up, ==, 4);
  g_assert_cmpuint (cas_outbox_lookup (outbox, old->id)->pending->len, ==, 0);
  g_assert_cmpuint (cas_outbox_lookup (outbox, fresh->id)->pending->len, ==, 2);

  /* Past the memory: forgotten, so it could ring again. */
  cas_outbox_prune (outbox, all_senders, NOW + 23 * DAY, &changed);
  g_assert_true (changed);
  g_assert_null (cas_outbox_lookup (outbox, old->id));
  g_assert_nonnull (cas_outbox_lookup (outbox, fresh->id));

  /* No senders at all: every pair goes. */
  cas_outbox_prune (outbox, NULL, NOW, &changed);
  g_assert_cmpuint (cas_outbox_count_pending (outbox), ==, 0);
}

static void
test_outbox_cap (void)
{
  g_autoptr (CasOutbox) outbox = cas_outbox_new ();
  gboolean changed = FALSE;

  for (guint i = 1; i <= CAS_OUTBOX_MAX_ENTRIES + 10; i++)
    {
      g_autoptr (CasNotification) n = make (CAS_NOTIFICATION_DONE, "o/r", i, "r");

      /* The first five are delivered, the rest pending. */
      g_assert_true (cas_outbox_add (outbox, n, i <= 5 ? NULL : all_senders, NOW + i));
    }
  cas_outbox_prune (outbox, all_senders, NOW + 2 * CAS_OUTBOX_MAX_ENTRIES, &changed);
  g_assert_true (changed);
  g_assert_cmpuint (cas_outbox_get_entries (outbox)->len, ==, CAS_OUTBOX_MAX_ENTRIES);
  /* Delivered ones go first, then the oldest pending. */
  g_assert_null (cas_outbox_lookup (outbox, "o/r#1:done:r"));
  g_assert_null (cas_outbox_lookup (outbox, "o/r#5:done:r"));
  g_assert_null (cas_outbox_lookup (outbox, "o/r#10:done:r"));
  g_assert_nonnull (cas_outbox_lookup (outbox, "o/r#11:done:r"));
}

#define ENTRY(n, extra) "{\"notification\":{\"id\":\"o/r#" #n ":done:r\",\"kind\":\"done\",\"repo\":\"o/r\",\"issue\":" #n ",\"run_id\":\"r\"}," extra "}"

static void
test_outbox_hostile (void)
{
  const char *refused[] = {
    "", " ", "x", "null", "[]", "\"outbox\"", "{}", "{\"version\":2,\"entries\":[]}",
    "{\"version\":\"1\",\"entries\":[]}", "{\"version\":1}", "{\"version\":1,\"entries\":{}}",
    "{\"version\":1,\"entries\":[]", "{\"version\":1,\"entries\":[]} trailing",
    "{\"version\":1,\"entries\":[],\"x\":'single'}", "{\"version\":1,\"entries\":[\xff]}",
  };
  struct {
    const char *json;
    guint kept;
    guint skipped;
  } partial[] = {
    { "{\"version\":1,\"entries\":[]}", 0, 0 },
    { "{\"version\":1,\"entries\":[1,\"a\",null,true,[],{}]}", 0, 6 },
    { "{\"version\":1,\"entries\":[" ENTRY (1, "\"rung_at\":5,\"pending\":[\"ntfy\"]") "]}", 1, 0 },
    { "{\"version\":1,\"entries\":[" ENTRY (1, "\"rung_at\":5,\"pending\":[\"ntfy\"]") ","
      ENTRY (1, "\"rung_at\":6,\"pending\":[]") "]}", 1, 1 },
    { "{\"version\":1,\"entries\":[" ENTRY (1, "\"rung_at\":-5,\"pending\":[]") "]}", 0, 1 },
    { "{\"version\":1,\"entries\":[" ENTRY (1, "\"rung_at\":5.5,\"pending\":[]") "]}", 0, 1 },
    { "{\"version\":1,\"entries\":[" ENTRY (1, "\"rung_at\":\"5\",\"pending\":[]") "]}", 0, 1 },
    { "{\"version\":1,\"entries\":[" ENTRY (1, "\"pending\":[]") "]}", 0, 1 },
    { "{\"version\":1,\"entries\":[" ENTRY (1, "\"rung_at\":5,\"pending\":\"ntfy\"") "]}", 0, 1 },
    { "{\"version\":1,\"entries\":[" ENTRY (1, "\"rung_at\":5,\"pending\":[\"../../x\"]") "]}", 0, 1 },
    { "{\"version\":1,\"entries\":[" ENTRY (1, "\"rung_at\":5,\"pending\":[\"NTFY\"]") "]}", 0, 1 },
    { "{\"version\":1,\"entries\":[" ENTRY (1, "\"rung_at\":5,\"pending\":[7]") "]}", 0, 1 },
    { "{\"version\":1,\"entries\":[" ENTRY (1, "\"rung_at\":5,\"pending\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]") "]}", 0, 1 },
    { "{\"version\":1,\"entries\":[{\"notification\":\"x\",\"rung_at\":5,\"pending\":[]}]}", 0, 1 },
    { "{\"version\":1,\"entries\":[{\"notification\":{\"id\":\"../../etc#1:done:r\",\"kind\":\"done\",\"repo\":\"../../etc\",\"issue\":1,\"run_id\":\"r\"},\"rung_at\":5,\"pending\":[]}]}", 0, 1 },
  };
  g_autoptr (GString) deep = g_string_new ("{\"version\":1,\"entries\":[");
  g_autoptr (GString) many = g_string_new ("{\"version\":1,\"entries\":[");
  g_autofree char *huge = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CasOutbox) outbox = cas_outbox_from_json (refused[i], strlen (refused[i]), NULL, &error);

      if (outbox != NULL)
        g_error ("accepted %s", refused[i]);
      g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
    }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (CasOutbox) outbox = cas_outbox_from_json ("{\"version\":1,\0\"entries\":[]}", 27, NULL, &error);

    g_assert_null (outbox);
    g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  }
  for (guint i = 0; i < G_N_ELEMENTS (partial); i++)
    {
      g_autoptr (GError) error = NULL;
      guint skipped = 0;
      g_autoptr (CasOutbox) outbox = cas_outbox_from_json (partial[i].json, strlen (partial[i].json),
                                                           &skipped, &error);

      g_assert_no_error (error);
      if (cas_outbox_get_entries (outbox)->len != partial[i].kept || skipped != partial[i].skipped)
        g_error ("%s: kept %u, skipped %u", partial[i].json, cas_outbox_get_entries (outbox)->len, skipped);
    }

  /* Deep nesting is refused by the parser's depth limit, not the stack. */
  for (guint i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (CasOutbox) outbox = cas_outbox_from_json (deep->str, deep->len, NULL, &error);

    g_assert_null (outbox);
    g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  }

  /* Past the cap: the rest is skipped and counted. */
  for (guint i = 1; i <= CAS_OUTBOX_MAX_ENTRIES + 3; i++)
    g_string_append_printf (many, "%s{\"notification\":{\"id\":\"o/r#%u:done:r\",\"kind\":\"done\","
                                  "\"repo\":\"o/r\",\"issue\":%u,\"run_id\":\"r\"},\"rung_at\":5,\"pending\":[]}",
                            i > 1 ? "," : "", i, i);
  g_string_append (many, "]}");
  {
    g_autoptr (GError) error = NULL;
    guint skipped = 0;
    g_autoptr (CasOutbox) outbox = cas_outbox_from_json (many->str, many->len, &skipped, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (cas_outbox_get_entries (outbox)->len, ==, CAS_OUTBOX_MAX_ENTRIES);
    g_assert_cmpuint (skipped, ==, 3);
  }

  huge = g_strnfill (CAS_OUTBOX_MAX_FILE_BYTES + 1, ' ');
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (CasOutbox) outbox = cas_outbox_from_json (huge, strlen (huge), NULL, &error);

    g_assert_null (outbox);
    g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  }
}

int
main (int   argc,
      char *argv[])
{
  const char *localedir = g_getenv ("CAS_LOCALEDIR");
  const char *language = g_getenv ("LANGUAGE");

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_test_init (&argc, &argv, NULL);

  /* Registered twice in meson: in Bulgarian only the translation test. */
  if (g_strcmp0 (language, "bg") == 0)
    {
      g_test_add_func ("/notifier/notification/bulgarian", test_bulgarian);
      return g_test_run ();
    }
  g_test_add_func ("/notifier/notification/ids", test_ids);
  g_test_add_func ("/notifier/notification/invalid", test_invalid);
  g_test_add_func ("/notifier/notification/cleaning", test_cleaning);
  g_test_add_func ("/notifier/notification/texts", test_texts);
  g_test_add_func ("/notifier/notification/json", test_notification_json);
  g_test_add_func ("/notifier/ntfy/request", test_ntfy);
  g_test_add_func ("/notifier/ntfy/header-values", test_ntfy_header_values);
  g_test_add_func ("/notifier/slack/payload", test_slack);
  g_test_add_func ("/notifier/slack/configured", test_slack_configured);
  g_test_add_func ("/notifier/outbox/basics", test_outbox_basics);
  g_test_add_func ("/notifier/outbox/prune", test_outbox_prune);
  g_test_add_func ("/notifier/outbox/cap", test_outbox_cap);
  g_test_add_func ("/notifier/outbox/hostile", test_outbox_hostile);
  return g_test_run ();
}
