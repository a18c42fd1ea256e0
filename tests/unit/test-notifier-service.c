/* The whole notifier against real fakes: fake_ntfy.py and fake_slack.py
 * on 127.0.0.1, and a dbusmock notification daemon (with the "actions"
 * capability) on a private session bus (GTestDBus). An "https" handler
 * under this test's own XDG_DATA_HOME catches "Open thread". */
#include "config.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <libnotify/notify.h>
#include <locale.h>
#include <string.h>
#include <unistd.h>

#include "cas-config.h"
#include "cas-error.h"
#include "cas-json.h"
#include "cas-notifier.h"
#include "cas-outbox.h"
#include "cas-ntfy-sender.h"
#include "cas-slack-sender.h"

#define PYTHON "/usr/bin/python3"
#define WAIT_SECONDS 30
#define NTFY_TOKEN "sekret-token"
#define WEBHOOK_PATH "/services/T1/B1/hook-sekrit"
#define LINK "https://t3.example/thread/xyz?turn=1"

static char *scratch;     /* (owned) this run's temporary directory */
static char *opened_file; /* (owned) where the https handler writes the URL */
static guint ntfy_port;
static guint slack_port;
static SoupSession *http; /* (owned) the test's own client for /_fake/ */
static guint fixture_count;

/* Waiting, never sleeping */

static gboolean
keep_waking (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static void
wait_until (gboolean   (*done) (gpointer data),
            gpointer     data,
            const char  *what)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC;
  guint waker = g_timeout_add (20, keep_waking, NULL);

  while (!done (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out waiting for %s", what);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (waker);
}

static gboolean
file_exists (gpointer data)
{
  return g_file_test (data, G_FILE_TEST_EXISTS);
}

static gboolean
flag_set (gpointer data)
{
  return *(gboolean *) data;
}

static gboolean
pointer_cleared (gpointer data)
{
  return *(gpointer *) data == NULL;
}

/* The fakes */

static GSubprocess *
start_fake (const char *script,
            const char *option,
            const char *value,
            guint      *port)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (g_getenv ("CAS_SRCDIR"), "tests", "fakes", script, NULL);
  g_autofree char *port_file = g_build_filename (scratch, script, NULL);
  g_autofree char *text = NULL;
  GSubprocess *process;

  /* It ends with our end of its stdin, should this test die. */
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE, &error, PYTHON, path,
                              "--port-file", port_file, "--exit-with-stdin",
                              option, value, NULL);
  g_assert_no_error (error);
  wait_until (file_exists, port_file, script);
  g_assert_true (g_file_get_contents (port_file, &text, NULL, NULL));
  *port = (guint) g_ascii_strtoull (text, NULL, 10);
  g_assert_cmpuint (*port, >, 0);
  return process;
}

static void
stop_process (GSubprocess *process)
{
  g_subprocess_force_exit (process);
  g_assert_true (g_subprocess_wait (process, NULL, NULL));
  g_object_unref (process);
}

static GBytes *
fake_request (guint       port,
              const char *method,
              const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u%s", port, path);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  GBytes *body = soup_session_send_and_read (http, msg, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  return body;
}

static void
fake_post (guint       port,
           const char *path)
{
  g_autoptr (GBytes) body = fake_request (port, "POST", path);
}

/* {"messages": [...], "requests": N} of a fake. */
static JsonObject *
fake_messages (guint port)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = fake_request (port, "GET", "/_fake/messages");
  gsize length;
  const char *data = g_bytes_get_data (body, &length);
  JsonObject *object = cas_json_parse_object (data, length, &error);

  g_assert_no_error (error);
  return object;
}

static guint
count_messages (guint port)
{
  g_autoptr (JsonObject) object = fake_messages (port);

  return json_array_get_length (cas_json_get_array (object, "messages"));
}

static gint64
count_requests (guint port)
{
  g_autoptr (JsonObject) object = fake_messages (port);

  return cas_json_get_int (object, "requests", -1);
}

/* The mock notification daemon */

static void
name_appeared (GDBusConnection *connection,
               const char      *name,
               const char      *owner,
               gpointer         user_data)
{
  *(gboolean *) user_data = TRUE;
}

static void
name_vanished (GDBusConnection *connection,
               const char      *name,
               gpointer         user_data)
{
  *(gboolean *) user_data = TRUE;
}

static GSubprocess *
start_notification_daemon (void)
{
  g_autoptr (GError) error = NULL;
  GSubprocess *process;
  gboolean appeared = FALSE;
  guint watch;

  /* dbusmock logs every call on stdout, which is our TAP stream. */
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error, PYTHON, "-m", "dbusmock",
                              "--template", "notification_daemon",
                              "-p", "{\"capabilities\": \"actions body\"}", NULL);
  g_assert_no_error (error);
  watch = g_bus_watch_name (G_BUS_TYPE_SESSION, "org.freedesktop.Notifications",
                            G_BUS_NAME_WATCHER_FLAGS_NONE, name_appeared, NULL, &appeared, NULL);
  wait_until (flag_set, &appeared, "the mock notification daemon");
  g_bus_unwatch_name (watch);
  return process;
}

static void
stop_notification_daemon (GSubprocess *process)
{
  gboolean vanished = FALSE;
  guint watch;

  stop_process (process);
  watch = g_bus_watch_name (G_BUS_TYPE_SESSION, "org.freedesktop.Notifications",
                            G_BUS_NAME_WATCHER_FLAGS_NONE, NULL, name_vanished, &vanished, NULL);
  wait_until (flag_set, &vanished, "the mock notification daemon to go");
  g_bus_unwatch_name (watch);
}

static GVariant *
mock_call (const char *method,
           GVariant   *parameters)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  GVariant *reply;

  g_assert_no_error (error);
  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.Notifications",
                                       "/org/freedesktop/Notifications", "org.freedesktop.DBus.Mock",
                                       method, parameters, NULL, G_DBUS_CALL_FLAGS_NONE, -1,
                                       NULL, &error);
  g_assert_no_error (error);
  return reply;
}

/* The arguments of each Notify call so far, as a list of "av" values. */
static GPtrArray *
notify_calls (void)
{
  g_autoptr (GVariant) reply = mock_call ("GetCalls", NULL);
  g_autoptr (GVariant) calls = g_variant_get_child_value (reply, 0);
  GPtrArray *found = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);

  for (gsize i = 0; i < g_variant_n_children (calls); i++)
    {
      g_autoptr (GVariant) call = g_variant_get_child_value (calls, i);
      g_autoptr (GVariant) method = g_variant_get_child_value (call, 1);

      if (g_strcmp0 (g_variant_get_string (method, NULL), "Notify") == 0)
        g_ptr_array_add (found, g_variant_get_child_value (call, 2));
    }
  return found;
}

/* Argument @index of a Notify call, unwrapped from its variants. */
static GVariant *
notify_arg (GVariant *args,
            gsize     index)
{
  g_autoptr (GVariant) boxed = g_variant_get_child_value (args, index);
  GVariant *value = g_variant_get_variant (boxed);

  while (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    {
      GVariant *inner = g_variant_get_variant (value);

      g_variant_unref (value);
      value = inner;
    }
  return value;
}

static void
emit_action (guint32     id,
             const char *action)
{
  GVariantBuilder args;
  g_autoptr (GVariant) reply = NULL;

  g_variant_builder_init (&args, G_VARIANT_TYPE ("av"));
  g_variant_builder_add (&args, "v", g_variant_new_uint32 (id));
  g_variant_builder_add (&args, "v", g_variant_new_string (action));
  reply = mock_call ("EmitSignal", g_variant_new ("(sssav)", "org.freedesktop.Notifications",
                                                  "ActionInvoked", "us", &args));
}

/* Fixture: a state dir, secrets and a config naming the fakes */

typedef struct {
  char *state_dir;
  CasConfig *config;
  GSubprocess *daemon; /* (nullable) the mock notification daemon */
} Fixture;

static CasConfig *
make_config (Fixture    *fx,
             const char *extra)
{
  static const char *const envp[] = { NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *token_file = g_build_filename (fx->state_dir, "..", "ntfy-token", NULL);
  g_autofree char *webhook_file = g_build_filename (fx->state_dir, "..", "slack-webhook", NULL);
  g_autofree char *ini = NULL;
  CasConfig *config;

  ini = g_strdup_printf ("[notify]\n"
                         "desktop=true\n"
                         "ntfy-url=http://127.0.0.1:%u/\n"
                         "ntfy-topic=afk-bell\n"
                         "ntfy-token-file=%s\n"
                         "slack-webhook-file=%s\n"
                         "%s",
                         ntfy_port, token_file, webhook_file, extra != NULL ? extra : "");
  config = cas_config_parse (ini, strlen (ini), "test.ini", envp, &error);
  g_assert_no_error (error);
  return config;
}

static void
fixture_set_up (Fixture       *fx,
                gconstpointer  data)
{
  g_autofree char *dir = g_strdup_printf ("%s/case-%u", scratch, ++fixture_count);
  g_autofree char *token_file = g_build_filename (dir, "ntfy-token", NULL);
  g_autofree char *webhook_file = g_build_filename (dir, "slack-webhook", NULL);
  g_autofree char *webhook = g_strdup_printf ("http://127.0.0.1:%u" WEBHOOK_PATH "\n", slack_port);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (token_file, NTFY_TOKEN "\n", -1, NULL));
  g_assert_true (g_file_set_contents (webhook_file, webhook, -1, NULL));
  fx->state_dir = g_build_filename (dir, "state", NULL);
  fx->config = make_config (fx, NULL);
  fake_post (ntfy_port, "/_fake/reset");
  fake_post (slack_port, "/_fake/reset");
  g_remove (opened_file);
  if (data != NULL)
    fx->daemon = start_notification_daemon ();
}

static void
fixture_tear_down (Fixture       *fx,
                   gconstpointer  data)
{
  if (fx->daemon != NULL)
    stop_notification_daemon (fx->daemon);
  cas_config_unref (fx->config);
  g_free (fx->state_dir);
}

static CasNotifier *
make_notifier (Fixture *fx)
{
  static const char *const envp[] = { NULL };
  g_autoptr (GError) error = NULL;
  CasNotifier *notifier = cas_notifier_new (fx->config, fx->state_dir, envp, &error);

  g_assert_no_error (error);
  g_assert_nonnull (notifier);
  return notifier;
}

static CasNotification *
make_notification (CasNotificationKind kind)
{
  g_autoptr (GError) error = NULL;
  CasNotification *n = cas_notification_new (kind, "octo/cat", 12, "Parser <crash> & fix", NULL,
                                              LINK, "run-1", &error);

  g_assert_no_error (error);
  return n;
}

typedef struct {
  gboolean done;
  gboolean ok;
  GError *error;
} Outcome;

static void
flushed (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Outcome *outcome = user_data;

  outcome->ok = cas_notifier_flush_finish (CAS_NOTIFIER (source), result, &outcome->error);
  outcome->done = TRUE;
}

static void
synced (GObject      *source,
        GAsyncResult *result,
        gpointer      user_data)
{
  Outcome *outcome = user_data;

  outcome->ok = cas_notifier_sync_finish (CAS_NOTIFIER (source), result, &outcome->error);
  outcome->done = TRUE;
}

/* Runs a flush to its end: TRUE when every pair was delivered. */
static gboolean
flush (CasNotifier *notifier)
{
  Outcome outcome = { FALSE, FALSE, NULL };

  cas_notifier_flush_async (notifier, NULL, flushed, &outcome);
  wait_until (flag_set, &outcome.done, "a flush");
  if (!outcome.ok)
    g_assert_error (outcome.error, CAS_ERROR, CAS_ERROR_FAILED);
  g_clear_error (&outcome.error);
  return outcome.ok;
}

static void
finish (CasNotifier *notifier)
{
  Outcome outcome = { FALSE, FALSE, NULL };

  cas_notifier_sync_async (notifier, NULL, synced, &outcome);
  wait_until (flag_set, &outcome.done, "the outbox on disk");
  g_assert_no_error (outcome.error);
  g_assert_true (outcome.ok);
  /* A worker thread drops its ref on the write task just after the
   * write's callback has run here: wait for it, then the notifier goes. */
  g_object_add_weak_pointer (G_OBJECT (notifier), (gpointer *) &notifier);
  g_object_unref (notifier);
  wait_until (pointer_cleared, &notifier, "the notifier to be finalized");
}

/* Tests */

static void
check_ntfy_message (JsonObject *message,
                    const char *title)
{
  JsonArray *tags = cas_json_get_array (message, "tags");

  g_assert_cmpstr (cas_json_get_string (message, "topic", NULL), ==, "afk-bell");
  g_assert_cmpstr (cas_json_get_string (message, "title", NULL), ==, title);
  g_assert_cmpint (cas_json_get_int (message, "priority", 0), ==, 5);
  g_assert_cmpstr (cas_json_get_string (message, "click", NULL), ==, LINK);
  g_assert_true (cas_json_get_bool (message, "authorized", FALSE));
  g_assert_nonnull (tags);
  g_assert_cmpstr (json_array_get_string_element (tags, 0), ==, "raising_hand");
}

static void
test_ring_once (Fixture       *fx,
                gconstpointer  data)
{
  CasNotifier *notifier = make_notifier (fx);
  g_autoptr (CasNotification) n = make_notification (CAS_NOTIFICATION_NEEDS_HUMAN);
  g_autoptr (CasNotification) same = make_notification (CAS_NOTIFICATION_NEEDS_HUMAN);
  g_autoptr (JsonObject) ntfy = NULL;
  g_autoptr (JsonObject) slack = NULL;
  g_autoptr (GPtrArray) calls = NULL;
  g_autoptr (GVariant) summary = NULL;
  g_autoptr (GVariant) body = NULL;
  g_autoptr (GVariant) actions = NULL;
  g_autoptr (GVariant) hints = NULL;
  g_autoptr (GVariant) urgency = NULL;
  g_auto (GStrv) names = cas_notifier_dup_sender_names (notifier);
  g_autofree char *joined_names = g_strjoinv (",", names);
  JsonObject *payload;
  const char *text;

  g_assert_cmpstr (joined_names, ==, "desktop,ntfy,slack");
  g_assert_true (cas_notifier_ring (notifier, n));
  g_assert_false (cas_notifier_ring (notifier, same));
  /* Waits for the sends the ring started. */
  g_assert_true (flush (notifier));
  g_assert_cmpuint (cas_notifier_count_pending (notifier), ==, 0);

  ntfy = fake_messages (ntfy_port);
  g_assert_cmpuint (json_array_get_length (cas_json_get_array (ntfy, "messages")), ==, 1);
  g_assert_cmpint (cas_json_get_int (ntfy, "requests", 0), ==, 1);
  check_ntfy_message (json_array_get_object_element (cas_json_get_array (ntfy, "messages"), 0),
                      "Needs you: octo/cat#12");
  g_assert_cmpstr (cas_json_get_string (json_array_get_object_element (cas_json_get_array (ntfy, "messages"), 0),
                                        "message", NULL),
                   ==, "Parser <crash> & fix\nThe run is stuck and needs a person.");

  slack = fake_messages (slack_port);
  g_assert_cmpuint (json_array_get_length (cas_json_get_array (slack, "messages")), ==, 1);
  payload = cas_json_get_object (json_array_get_object_element (cas_json_get_array (slack, "messages"), 0),
                                 "payload");
  text = cas_json_get_string (payload, "text", NULL);
  g_assert_nonnull (strstr (text, "*Needs you: octo/cat#12*"));
  g_assert_nonnull (strstr (text, "Parser &lt;crash&gt; &amp; fix"));
  g_assert_nonnull (strstr (text, "<" LINK "|Open thread>"));

  calls = notify_calls ();
  g_assert_cmpuint (calls->len, ==, 1);
  summary = notify_arg (calls->pdata[0], 3);
  body = notify_arg (calls->pdata[0], 4);
  actions = notify_arg (calls->pdata[0], 5);
  hints = notify_arg (calls->pdata[0], 6);
  g_assert_cmpstr (g_variant_get_string (summary, NULL), ==, "Needs you: octo/cat#12");
  g_assert_cmpstr (g_variant_get_string (body, NULL), ==,
                   "Parser <crash> & fix\nThe run is stuck and needs a person.");
  {
    g_autofree const char **strv = g_variant_get_strv (actions, NULL);
    g_autofree char *joined = g_strjoinv (",", (char **) strv);

    g_assert_nonnull (strstr (joined, "open,Open thread"));
    g_assert_nonnull (strstr (joined, "disarm,Disarm AFK"));
  }
  urgency = g_variant_lookup_value (hints, "urgency", NULL);
  g_assert_nonnull (urgency);
  while (g_variant_is_of_type (urgency, G_VARIANT_TYPE_VARIANT))
    {
      GVariant *inner = g_variant_get_variant (urgency);

      g_variant_unref (urgency);
      urgency = inner;
    }
  g_assert_cmpuint (g_variant_get_byte (urgency), ==, NOTIFY_URGENCY_CRITICAL);

  /* A later tick sends nothing again. */
  g_assert_true (flush (notifier));
  g_assert_cmpint (count_requests (ntfy_port), ==, 1);
  g_assert_cmpint (count_requests (slack_port), ==, 1);
  g_clear_pointer (&calls, g_ptr_array_unref);
  calls = notify_calls ();
  g_assert_cmpuint (calls->len, ==, 1);
  finish (notifier);
}

static void
rung (GObject      *source,
      GAsyncResult *result,
      gpointer      user_data)
{
  Outcome *outcome = user_data;
  gboolean is_new = -1;

  g_assert_true (cas_notifier_ring_finish (CAS_NOTIFIER (source), result, &is_new, &outcome->error));
  outcome->ok = is_new;
  outcome->done = TRUE;
}

/* Rings and waits until the outbox on disk has it: whether it was new. */
static gboolean
ring_and_store (CasNotifier     *notifier,
                CasNotification *n)
{
  Outcome outcome = { FALSE, FALSE, NULL };

  cas_notifier_ring_async (notifier, n, NULL, rung, &outcome);
  wait_until (flag_set, &outcome.done, "a ring");
  g_assert_no_error (outcome.error);
  return outcome.ok;
}

static void
test_ring_stored (Fixture       *fx,
                  gconstpointer  data)
{
  CasNotifier *notifier = make_notifier (fx);
  g_autoptr (CasNotification) n = make_notification (CAS_NOTIFICATION_NEEDS_HUMAN);
  g_autofree char *path = g_build_filename (fx->state_dir, CAS_NOTIFIER_OUTBOX_FILE, NULL);
  g_autofree char *written = NULL;
  g_autoptr (CasOutbox) outbox = NULL;
  g_autoptr (GError) error = NULL;

  /* Once the ring completes, the doorbell is on disk, before any send. */
  g_assert_true (ring_and_store (notifier, n));
  g_assert_true (g_file_get_contents (path, &written, NULL, &error));
  outbox = cas_outbox_from_json (written, strlen (written), NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (cas_outbox_lookup (outbox, n->id));
  g_assert_false (ring_and_store (notifier, n));
  g_assert_true (flush (notifier));
  finish (notifier);
}

static void
test_retry_and_restart (Fixture       *fx,
                        gconstpointer  data)
{
  CasNotifier *notifier = make_notifier (fx);
  g_autoptr (CasNotification) n = make_notification (CAS_NOTIFICATION_NEEDS_HUMAN);
  g_autoptr (GPtrArray) calls = NULL;

  /* ntfy refuses the first publish. */
  fake_post (ntfy_port, "/_fake/fail?count=1&status=403");
  g_test_expect_message ("cas-notify", G_LOG_LEVEL_MESSAGE,
                         "Could not ring octo/cat#12:needs-human:run-1 through ntfy, will retry: ntfy answered 403*");
  g_assert_true (cas_notifier_ring (notifier, n));
  g_assert_false (flush (notifier));
  g_test_assert_expected_messages ();
  g_assert_cmpuint (cas_notifier_count_pending (notifier), ==, 1);
  g_assert_cmpuint (count_messages (ntfy_port), ==, 0);
  g_assert_cmpuint (count_messages (slack_port), ==, 1);
  finish (notifier);

  /* A restart: what was delivered is not sent again, what was not is. */
  notifier = make_notifier (fx);
  g_assert_cmpuint (cas_notifier_count_pending (notifier), ==, 1);
  g_assert_false (ring_and_store (notifier, n));
  g_assert_true (flush (notifier));
  g_assert_cmpuint (cas_notifier_count_pending (notifier), ==, 0);
  g_assert_cmpuint (count_messages (ntfy_port), ==, 1);
  g_assert_cmpint (count_requests (ntfy_port), ==, 2);
  g_assert_cmpint (count_requests (slack_port), ==, 1);
  calls = notify_calls ();
  g_assert_cmpuint (calls->len, ==, 1);
  finish (notifier);

  /* And once more: nothing left, nothing repeated. */
  notifier = make_notifier (fx);
  g_assert_false (cas_notifier_ring (notifier, n));
  g_assert_true (flush (notifier));
  g_assert_cmpint (count_requests (ntfy_port), ==, 2);
  g_assert_cmpint (count_requests (slack_port), ==, 1);
  finish (notifier);
}

static void
test_slack_not_ok (Fixture       *fx,
                   gconstpointer  data)
{
  CasNotifier *notifier = make_notifier (fx);
  g_autoptr (CasNotification) n = make_notification (CAS_NOTIFICATION_FROZEN);

  /* A 200 whose body is not "ok" is no delivery. */
  fake_post (slack_port, "/_fake/fail?count=1&status=200&body=nope");
  g_test_expect_message ("cas-notify", G_LOG_LEVEL_MESSAGE, "*through slack, will retry: Slack answered 200: nope");
  g_assert_true (cas_notifier_ring (notifier, n));
  g_assert_false (flush (notifier));
  g_test_assert_expected_messages ();
  g_assert_cmpuint (count_messages (ntfy_port), ==, 1);
  g_assert_true (flush (notifier));
  g_assert_cmpuint (count_messages (slack_port), ==, 1);
  g_assert_cmpint (count_requests (slack_port), ==, 2);
  finish (notifier);
}

static void
count_message (const char     *domain,
               GLogLevelFlags  level,
               const char     *message,
               gpointer        user_data)
{
  (*(guint *) user_data)++;
}

static void
test_no_server (Fixture       *fx,
                gconstpointer  data)
{
  CasNotifier *notifier = make_notifier (fx);
  g_autoptr (CasNotification) a = make_notification (CAS_NOTIFICATION_NEEDS_HUMAN);
  g_autoptr (CasNotification) b = make_notification (CAS_NOTIFICATION_DONE);
  g_autoptr (GPtrArray) calls = NULL;
  guint logged = 0;
  guint handler;

  /* One message, however many notifications wait and however many ticks. */
  g_test_expect_message ("cas-notify", G_LOG_LEVEL_MESSAGE, "No desktop notification server*");
  g_assert_true (cas_notifier_ring (notifier, a));
  g_assert_true (cas_notifier_ring (notifier, b));
  g_assert_false (flush (notifier));
  g_test_assert_expected_messages ();
  handler = g_log_set_handler ("cas-notify", G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_WARNING,
                               count_message, &logged);
  g_assert_false (flush (notifier));
  g_log_remove_handler ("cas-notify", handler);
  g_assert_cmpuint (logged, ==, 0);
  g_assert_cmpuint (count_messages (ntfy_port), ==, 2);
  g_assert_cmpuint (count_messages (slack_port), ==, 2);
  g_assert_cmpuint (cas_notifier_count_pending (notifier), ==, 2);

  /* A notification server comes: what waited is shown. */
  fx->daemon = start_notification_daemon ();
  g_assert_true (flush (notifier));
  g_assert_cmpuint (cas_notifier_count_pending (notifier), ==, 0);
  calls = notify_calls ();
  g_assert_cmpuint (calls->len, ==, 2);
  g_assert_cmpint (count_requests (ntfy_port), ==, 2);
  finish (notifier);
}

typedef struct {
  gint64 last_us;
  gint64 longest_gap_us;
} Beat;

static gboolean
beat (gpointer user_data)
{
  Beat *b = user_data;
  gint64 now = g_get_monotonic_time ();

  b->longest_gap_us = MAX (b->longest_gap_us, now - b->last_us);
  b->last_us = now;
  return G_SOURCE_CONTINUE;
}

static void
test_hung_server (Fixture       *fx,
                  gconstpointer  data)
{
  CasNotifier *notifier = make_notifier (fx);
  g_autoptr (CasNotification) n = make_notification (CAS_NOTIFICATION_NEEDS_HUMAN);
  g_autoptr (GVariant) added = NULL;
  Beat b = { g_get_monotonic_time (), 0 };
  guint beat_id;

  /* The server owns its name, and hangs at the first call. */
  fx->daemon = start_notification_daemon ();
  added = mock_call ("AddMethod", g_variant_new ("(sssss)", "org.freedesktop.Notifications",
                                                 "GetCapabilities", "", "as",
                                                 "import time; time.sleep(60); ret = []"));
  beat_id = g_timeout_add (50, beat, &b);
  g_test_expect_message ("cas-notify", G_LOG_LEVEL_MESSAGE, "No desktop notification server*");
  g_assert_true (cas_notifier_ring (notifier, n));
  /* The others deliver; the desktop waits for a server that answers. */
  g_assert_false (flush (notifier));
  g_test_assert_expected_messages ();
  g_source_remove (beat_id);
  g_assert_cmpuint (count_messages (ntfy_port), ==, 1);
  g_assert_cmpuint (count_messages (slack_port), ==, 1);
  g_assert_cmpuint (cas_notifier_count_pending (notifier), ==, 1);
  /* The main loop kept turning: no call blocked on the silent server
   * (libnotify's own would have for 25 s). */
  g_assert_cmpint (b.longest_gap_us, <, 10 * G_USEC_PER_SEC);
  finish (notifier);
}

static void
test_open_thread (Fixture       *fx,
                  gconstpointer  data)
{
  CasNotifier *notifier = make_notifier (fx);
  g_autoptr (CasNotification) n = make_notification (CAS_NOTIFICATION_FROZEN);
  g_autofree char *opened = NULL;

  g_assert_true (cas_notifier_ring (notifier, n));
  g_assert_true (flush (notifier));
  /* The mock numbers notifications from 1. */
  emit_action (1, "open");
  wait_until (file_exists, opened_file, "the https handler");
  g_assert_true (g_file_get_contents (opened_file, &opened, NULL, NULL));
  g_assert_cmpstr (opened, ==, LINK);
  finish (notifier);
}

static void
disarm_requested (CasNotifier *notifier,
                  const char  *id,
                  gpointer     user_data)
{
  char **seen = user_data;

  g_free (*seen);
  *seen = g_strdup (id);
}

static gboolean
string_set (gpointer data)
{
  return *(char **) data != NULL;
}

static void
test_disarm (Fixture       *fx,
             gconstpointer  data)
{
  CasNotifier *notifier = make_notifier (fx);
  g_autoptr (CasNotification) n = make_notification (CAS_NOTIFICATION_NEEDS_HUMAN);
  g_autofree char *seen = NULL;

  g_signal_connect (notifier, "disarm-requested", G_CALLBACK (disarm_requested), &seen);
  g_assert_true (cas_notifier_ring (notifier, n));
  g_assert_true (flush (notifier));
  emit_action (1, "disarm");
  wait_until (string_set, &seen, "disarm-requested");
  g_assert_cmpstr (seen, ==, "octo/cat#12:needs-human:run-1");
  g_assert_false (g_file_test (opened_file, G_FILE_TEST_EXISTS));
  finish (notifier);
}

static void
test_corrupt_outbox (Fixture       *fx,
                     gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fx->state_dir, CAS_NOTIFIER_OUTBOX_FILE, NULL);
  g_autofree char *aside = g_strconcat (path, ".corrupt", NULL);
  g_autofree char *kept = NULL;
  g_autofree char *written = NULL;
  g_autoptr (CasNotification) n = make_notification (CAS_NOTIFICATION_DONE);
  g_autoptr (GError) error = NULL;
  CasNotifier *notifier;
  const char garbage[] = "{\"version\":1,\"entries\":[\xff\x00 garbage";

  g_assert_cmpint (g_mkdir_with_parents (fx->state_dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, garbage, sizeof garbage, NULL));
  g_test_expect_message ("cas-notify", G_LOG_LEVEL_MESSAGE, "The notification outbox * is corrupt*");
  g_test_expect_message ("cas-notify", G_LOG_LEVEL_MESSAGE, "Kept a copy of the unreadable outbox as *");
  notifier = make_notifier (fx);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (cas_notifier_count_pending (notifier), ==, 0);
  g_assert_true (g_file_get_contents (aside, &kept, NULL, NULL));
  g_assert_cmpmem (kept, 10, garbage, 10);

  /* It works on, and writes a good outbox. */
  g_assert_true (cas_notifier_ring (notifier, n));
  g_assert_true (flush (notifier));
  finish (notifier);
  g_assert_true (g_file_get_contents (path, &written, NULL, &error));
  g_assert_no_error (error);
  {
    g_autoptr (JsonObject) object = cas_json_parse_object (written, strlen (written), &error);

    g_assert_no_error (error);
    g_assert_cmpint (cas_json_get_int (object, "version", 0), ==, 1);
  }

  /* A symlink where the outbox should be is moved aside, not followed. */
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (symlink ("/etc/passwd", path), ==, 0);
  g_test_expect_message ("cas-notify", G_LOG_LEVEL_MESSAGE, "The notification outbox * is not a file*");
  g_test_expect_message ("cas-notify", G_LOG_LEVEL_MESSAGE, "Kept a copy of the unreadable outbox as *");
  notifier = make_notifier (fx);
  g_test_assert_expected_messages ();
  g_assert_true (g_file_test (aside, G_FILE_TEST_IS_SYMLINK));
  finish (notifier);
}

static void
test_write_failure (Fixture       *fx,
                    gconstpointer  data)
{
  CasNotifier *notifier = make_notifier (fx);
  g_autoptr (CasNotification) n = make_notification (CAS_NOTIFICATION_DONE);
  g_autofree char *path = g_build_filename (fx->state_dir, CAS_NOTIFIER_OUTBOX_FILE, NULL);
  g_autofree char *written = NULL;
  g_autoptr (CasOutbox) outbox = NULL;
  g_autoptr (GError) error = NULL;
  Outcome outcome = { FALSE, FALSE, NULL };

  /* A directory in the way: the outbox cannot be replaced (root ignores
   * permissions, so nothing else would do). */
  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  g_test_expect_message ("cas-notify", G_LOG_LEVEL_MESSAGE, "Cannot store the notification outbox: *");
  g_assert_true (cas_notifier_ring (notifier, n));
  cas_notifier_flush_async (notifier, NULL, flushed, &outcome);
  wait_until (flag_set, &outcome.done, "a flush");
  g_test_assert_expected_messages ();
  /* Delivered, but not stored: the flush says so. */
  g_assert_false (outcome.ok);
  g_assert_nonnull (outcome.error);
  g_clear_error (&outcome.error);
  g_assert_cmpuint (cas_notifier_count_pending (notifier), ==, 0);
  g_assert_cmpuint (count_messages (ntfy_port), ==, 1);

  /* The next tick writes again. */
  g_assert_cmpint (g_rmdir (path), ==, 0);
  g_assert_true (flush (notifier));
  finish (notifier);
  g_assert_true (g_file_get_contents (path, &written, NULL, &error));
  outbox = cas_outbox_from_json (written, strlen (written), NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (cas_outbox_lookup (outbox, n->id));
  g_assert_cmpuint (cas_outbox_count_pending (outbox), ==, 0);
}

static void
test_config_errors (Fixture       *fx,
                    gconstpointer  data)
{
  static const char *const envp[] = { NULL };
  const char *bad[] = {
    "[notify]\nntfy-url=http://127.0.0.1:1/\n",
    "[notify]\nntfy-topic=t\n",
    "[notify]\nntfy-url=ftp://host/\nntfy-topic=t\n",
    "[notify]\nntfy-url=http://host/\nntfy-topic=../etc\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CasConfig) config = cas_config_parse (bad[i], strlen (bad[i]), "t.ini", envp, &error);
      g_autoptr (CasNotifier) notifier = NULL;

      g_assert_no_error (error);
      notifier = cas_notifier_new (config, fx->state_dir, envp, &error);
      g_assert_null (notifier);
      g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
      g_assert_nonnull (strstr (error->message, "[notify] ntfy-"));
    }

  /* Nothing configured at all: rings are remembered, nothing is sent. */
  {
    const char *none = "[notify]\ndesktop=false\n";
    g_autoptr (GError) error = NULL;
    g_autoptr (CasConfig) config = cas_config_parse (none, strlen (none), "t.ini", envp, &error);
    g_autoptr (CasNotification) n = make_notification (CAS_NOTIFICATION_DONE);
    CasNotifier *notifier = cas_notifier_new (config, fx->state_dir, envp, &error);
    g_auto (GStrv) names = cas_notifier_dup_sender_names (notifier);

    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length (names), ==, 0);
    g_assert_true (cas_notifier_ring (notifier, n));
    g_assert_false (cas_notifier_ring (notifier, n));
    g_assert_true (flush (notifier));
    finish (notifier);
    g_assert_cmpint (count_requests (ntfy_port), ==, 0);
  }
}

static void
sent (GObject      *source,
      GAsyncResult *result,
      gpointer      user_data)
{
  Outcome *outcome = user_data;

  outcome->ok = cas_notify_sender_send_finish (CAS_NOTIFY_SENDER (source), result, &outcome->error);
  outcome->done = TRUE;
}

/* A failed send's error, which the notifier logs. */
static GError *
send_error (CasNotifySender *sender)
{
  g_autoptr (CasNotification) n = make_notification (CAS_NOTIFICATION_DONE);
  Outcome outcome = { FALSE, FALSE, NULL };

  cas_notify_sender_send_async (sender, n, NULL, sent, &outcome);
  wait_until (flag_set, &outcome.done, "a send");
  g_assert_false (outcome.ok);
  g_assert_nonnull (outcome.error);
  return outcome.error;
}

static void
test_secrets (Fixture       *fx,
              gconstpointer  data)
{
  static const char *const envp[] = { NULL };
  g_autofree char *dir = g_path_get_dirname (fx->state_dir);
  g_autofree char *webhook_file = g_build_filename (dir, "other-webhook", NULL);
  g_autofree char *token_file = g_build_filename (dir, "wrong-token", NULL);
  g_autofree char *closed = g_strdup ("http://127.0.0.1:1/services/T1/B1/hook-sekrit\n");
  g_autofree char *unknown = g_strdup_printf ("http://127.0.0.1:%u/services/T9/B9/other-sekrit\n",
                                              slack_port);
  g_autoptr (GError) error = NULL;
  g_autoptr (CasSlackSender) slack = cas_slack_sender_new (webhook_file, envp);
  g_autoptr (CasNtfySender) ntfy = NULL;
  g_autofree char *ntfy_url = g_strdup_printf ("http://127.0.0.1:%u", ntfy_port);

  /* The webhook URL names no secret in any error: nobody listening... */
  g_assert_true (g_file_set_contents (webhook_file, closed, -1, NULL));
  error = send_error (CAS_NOTIFY_SENDER (slack));
  g_assert_null (strstr (error->message, "sekrit"));
  g_clear_error (&error);
  /* ...a webhook Slack does not know... */
  g_assert_true (g_file_set_contents (webhook_file, unknown, -1, NULL));
  error = send_error (CAS_NOTIFY_SENDER (slack));
  g_assert_cmpstr (error->message, ==, "Slack answered 404: no_service");
  g_clear_error (&error);
  /* ...or a file that is not a URL at all. */
  g_assert_true (g_file_set_contents (webhook_file, "sekrit and more sekrit\n", -1, NULL));
  error = send_error (CAS_NOTIFY_SENDER (slack));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
  g_assert_null (strstr (error->message, "sekrit"));
  g_clear_error (&error);
  g_assert_cmpint (count_messages (slack_port), ==, 0);

  /* A wrong ntfy token is refused, and not repeated. */
  g_assert_true (g_file_set_contents (token_file, "wrong-sekrit\n", -1, NULL));
  ntfy = cas_ntfy_sender_new (ntfy_url, "afk-bell", token_file, envp, &error);
  g_assert_no_error (error);
  error = send_error (CAS_NOTIFY_SENDER (ntfy));
  g_assert_true (g_str_has_prefix (error->message, "ntfy answered 403: "));
  g_assert_null (strstr (error->message, "sekrit"));
  g_clear_error (&error);
  /* A token file that is gone fails the send (and is retried later). */
  g_assert_cmpint (g_unlink (token_file), ==, 0);
  error = send_error (CAS_NOTIFY_SENDER (ntfy));
  g_assert_null (strstr (error->message, "sekrit"));
  g_assert_cmpint (count_messages (ntfy_port), ==, 0);
}

static void
test_translated (Fixture       *fx,
                 gconstpointer  data)
{
  CasNotifier *notifier = make_notifier (fx);
  g_autoptr (CasNotification) n = make_notification (CAS_NOTIFICATION_NEEDS_HUMAN);
  g_autoptr (GPtrArray) calls = NULL;
  g_autoptr (GVariant) summary = NULL;
  g_autoptr (GVariant) actions = NULL;
  g_autoptr (JsonObject) ntfy = NULL;
  g_autofree const char **strv = NULL;
  g_autofree char *joined = NULL;

  g_assert_true (cas_notifier_ring (notifier, n));
  g_assert_true (flush (notifier));
  calls = notify_calls ();
  g_assert_cmpuint (calls->len, ==, 1);
  summary = notify_arg (calls->pdata[0], 3);
  actions = notify_arg (calls->pdata[0], 5);
  g_assert_cmpstr (g_variant_get_string (summary, NULL), ==, "Нужен си: octo/cat#12");
  strv = g_variant_get_strv (actions, NULL);
  joined = g_strjoinv (",", (char **) strv);
  g_assert_nonnull (strstr (joined, "open,Отвори нишката"));
  g_assert_nonnull (strstr (joined, "disarm,Изключи AFK"));
  /* ntfy gets the title as an RFC 2047 word, and reads it back. */
  ntfy = fake_messages (ntfy_port);
  check_ntfy_message (json_array_get_object_element (cas_json_get_array (ntfy, "messages"), 0),
                      "Нужен си: octo/cat#12");
  finish (notifier);
}

/* Set-up of the whole run */

static void
write_https_handler (void)
{
  g_autofree char *data_home = g_build_filename (scratch, "data", NULL);
  g_autofree char *config_home = g_build_filename (scratch, "config", NULL);
  g_autofree char *apps = g_build_filename (data_home, "applications", NULL);
  g_autofree char *script = g_build_filename (scratch, "open-url.sh", NULL);
  g_autofree char *script_text = NULL;
  g_autofree char *desktop = NULL;
  g_autofree char *desktop_path = g_build_filename (apps, "cas-test-browser.desktop", NULL);
  g_autofree char *mimeapps = g_build_filename (config_home, "mimeapps.list", NULL);

  opened_file = g_build_filename (scratch, "opened-url", NULL);
  g_assert_cmpint (g_mkdir_with_parents (apps, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (config_home, 0700), ==, 0);
  /* Written then renamed: the test waits for the file to exist. */
  script_text = g_strdup_printf ("#!/bin/sh\nprintf '%%s' \"$1\" > '%s.tmp' && mv '%s.tmp' '%s'\n",
                                 opened_file, opened_file, opened_file);
  g_assert_true (g_file_set_contents (script, script_text, -1, NULL));
  desktop = g_strdup_printf ("[Desktop Entry]\nType=Application\nName=Test browser\n"
                             "Exec=/bin/sh %s %%u\nMimeType=x-scheme-handler/https;x-scheme-handler/http;\n"
                             "NoDisplay=true\n",
                             script);
  g_assert_true (g_file_set_contents (desktop_path, desktop, -1, NULL));
  g_assert_true (g_file_set_contents (mimeapps,
                                      "[Default Applications]\n"
                                      "x-scheme-handler/https=cas-test-browser.desktop\n"
                                      "x-scheme-handler/http=cas-test-browser.desktop\n",
                                      -1, NULL));
  g_setenv ("XDG_DATA_HOME", data_home, TRUE);
  g_setenv ("XDG_CONFIG_HOME", config_home, TRUE);
}

static void
remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    while ((name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *child = g_build_filename (path, name, NULL);

        if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
          remove_tree (child);
        else
          g_unlink (child);
      }
  g_rmdir (path);
}

int
main (int   argc,
      char *argv[])
{
  const char *localedir = g_getenv ("CAS_LOCALEDIR");
  gboolean bulgarian = g_strcmp0 (g_getenv ("LANGUAGE"), "bg") == 0;
  g_autoptr (GTestDBus) bus = NULL;
  GSubprocess *ntfy;
  GSubprocess *slack;
  int status;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_test_init (&argc, &argv, NULL);

  /* Before any thread exists: GTestDBus and g_setenv are not thread-safe. */
  scratch = g_dir_make_tmp ("cas-notifier-XXXXXX", NULL);
  g_assert_nonnull (scratch);
  write_https_handler ();
  bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (bus);

  http = soup_session_new ();
  ntfy = start_fake ("fake_ntfy.py", "--token", NTFY_TOKEN, &ntfy_port);
  slack = start_fake ("fake_slack.py", "--webhook-path", WEBHOOK_PATH, &slack_port);

#define ADD(path, func, with_daemon) \
  g_test_add ("/notifier-service/" path, Fixture, (with_daemon) ? "daemon" : NULL, \
              fixture_set_up, func, fixture_tear_down)
  /* Registered twice in meson: in Bulgarian only the translation test. */
  if (bulgarian)
    ADD ("translated", test_translated, TRUE);
  else
    {
      ADD ("ring-once", test_ring_once, TRUE);
      ADD ("ring-stored", test_ring_stored, TRUE);
      ADD ("retry-and-restart", test_retry_and_restart, TRUE);
      ADD ("slack-not-ok", test_slack_not_ok, TRUE);
      ADD ("no-server", test_no_server, FALSE);
      ADD ("hung-server", test_hung_server, FALSE);
      ADD ("open-thread", test_open_thread, TRUE);
      ADD ("disarm", test_disarm, TRUE);
      ADD ("corrupt-outbox", test_corrupt_outbox, TRUE);
      ADD ("write-failure", test_write_failure, TRUE);
      ADD ("config-errors", test_config_errors, FALSE);
      ADD ("secrets", test_secrets, FALSE);
    }
#undef ADD

  status = g_test_run ();

  stop_process (ntfy);
  stop_process (slack);
  g_clear_object (&http);
  if (notify_is_initted ())
    notify_uninit ();
  g_test_dbus_down (bus);
  remove_tree (scratch);
  g_free (scratch);
  g_free (opened_file);
  return status;
}
