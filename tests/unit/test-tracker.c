/* CasTracker against tests/fakes/fake_github.py, a real HTTP server that
 * refuses what GitHub refuses: every call, pagination, pull requests left
 * out, the permission 404, the headers sent, the rate limit, and hostile
 * answers (not JSON, wrong types, too big, links elsewhere). */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "cas-error.h"
#include "cas-tracker.h"

#define TOKEN "test-github-token"
#define REPO "octo/widgets"

typedef struct {
  char *dir;
  char *token_file;
  char *base;
  SoupSession *control;
  CasTracker *tracker;
  GAsyncResult *result;
  JsonParser *log;            /* the last request log read */
} Fixture;

/* Seeds are written with ' for ", to keep them readable in C. */
static char *
quotes (const char *text)
{
  char *out = g_strdup (text);

  g_strdelimit (out, "'", '"');
  return out;
}

static const char *default_seed =
  "{'per_page': 2, 'max_per_page': 2,"
  " 'tokens': {'" TOKEN "': 'afk-bot', 'other-token': 'mallory'},"
  " 'repos': {'" REPO "': {"
  "   'default_branch': 'trunk',"
  "   'collaborators': {'alice': 'admin', 'maud': 'maintain', 'bob': 'read', 'afk-bot': 'write'},"
  "   'issues': ["
  "     {'number': 1, 'title': 'one', 'body': 'Blocked by #4', 'labels': ['ready', 'priority:2']},"
  "     {'number': 2, 'title': 'a PR', 'labels': ['ready'], 'pull_request': true},"
  "     {'number': 3, 'title': 'three', 'body': null, 'labels': ['ready']},"
  "     {'number': 4, 'title': 'closed', 'labels': ['ready'], 'state': 'closed'},"
  "     {'number': 5, 'title': 'not ready', 'labels': ['bug']},"
  "     {'number': 6, 'title': 'six', 'labels': ['ready', 'paused']},"
  "     {'number': 7, 'title': 'seven', 'labels': ['ready']}],"
  "   'events': {'1': ["
  "     {'event': 'labeled', 'actor': 'bob', 'label': 'ready'},"
  "     {'event': 'labeled', 'actor': 'alice', 'label': 'priority:2'},"
  "     {'event': 'unlabeled', 'actor': 'bob', 'label': 'ready'},"
  "     {'event': 'labeled', 'actor': 'maud', 'label': 'ready'},"
  "     {'event': 'labeled', 'actor': 'bob', 'label': 'bug'}]},"
  "   'comments': ["
  "     {'id': 11, 'issue': 3, 'body': 'fake <!-- afk-run --> by someone', 'user': 'mallory',"
  "      'created_at': '2026-01-01T00:00:00Z', 'updated_at': '2026-01-01T00:00:00Z'},"
  "     {'id': 12, 'issue': 3, 'body': 'unrelated', 'user': 'afk-bot',"
  "      'created_at': '2026-01-01T00:00:00Z', 'updated_at': '2026-01-01T00:00:00Z'}],"
  "   'commits': {'trunk': ["
  "     {'sha': 'aaaa111', 'message': 'old', 'date': '2026-11-01T00:00:00Z'},"
  "     {'sha': 'bbbb222', 'message': 'fix\\n\\nAFK-Issue: #1', 'date': '2026-12-01T10:00:00Z'},"
  "     {'sha': 'cccc333', 'message': 'later', 'date': '2026-12-02T10:00:00+02:00'}]},"
  "   'check_runs': {'bbbb222': ["
  "     {'name': 'build', 'status': 'completed', 'conclusion': 'success'},"
  "     {'name': 'lint', 'status': 'in_progress', 'conclusion': null},"
  "     {'name': 'test', 'status': 'completed', 'conclusion': 'failure'}]}"
  " }}}";

/* ---- the fake ------------------------------------------------------------ */

static GBytes *
control (Fixture    *fx,
         const char *method,
         const char *path,
         const char *json)
{
  g_autofree char *url = g_strdup_printf ("%s%s", fx->base, path);
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(GError) error = NULL;
  GBytes *body;

  if (json != NULL)
    {
      g_autofree char *data = quotes (json);
      gsize length = strlen (data);
      /* soup_message_set_request_body_from_bytes () takes a reference. */
      g_autoptr(GBytes) request = g_bytes_new_take (g_steal_pointer (&data), length);

      soup_message_set_request_body_from_bytes (msg, "application/json", request);
    }
  body = soup_session_send_and_read (fx->control, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  return body;
}

static void
add_fault (Fixture    *fx,
           const char *json)
{
  g_autoptr(GBytes) answer = control (fx, "POST", "/_fake/faults", json);
}

static void
set_rate_limit (Fixture    *fx,
                const char *json)
{
  g_autoptr(GBytes) answer = control (fx, "PUT", "/_fake/rate-limit", json);
}

/* The requests the fake has seen, as a JSON array. */
static JsonArray *
requests (Fixture *fx)
{
  g_autoptr(GBytes) body = control (fx, "GET", "/_fake/requests", NULL);
  g_autoptr(GError) error = NULL;

  g_clear_object (&fx->log);
  fx->log = json_parser_new ();
  json_parser_load_from_data (fx->log, g_bytes_get_data (body, NULL), g_bytes_get_size (body), &error);
  g_assert_no_error (error);
  return json_node_get_array (json_parser_get_root (fx->log));
}

static guint
request_count (Fixture *fx)
{
  return json_array_get_length (requests (fx));
}

static JsonObject *
last_request (Fixture *fx)
{
  JsonArray *all = requests (fx);

  g_assert_cmpuint (json_array_get_length (all), >, 0);
  return json_array_get_object_element (all, json_array_get_length (all) - 1);
}

/* The fake's state of one issue, read back. */
static JsonObject *
fake_issue (Fixture *fx,
            gint64   number)
{
  g_autoptr(GBytes) body = control (fx, "GET", "/_fake/state", NULL);
  g_autoptr(GError) error = NULL;
  JsonArray *issues;

  g_clear_object (&fx->log);
  fx->log = json_parser_new ();
  json_parser_load_from_data (fx->log, g_bytes_get_data (body, NULL), g_bytes_get_size (body), &error);
  g_assert_no_error (error);
  issues = json_object_get_array_member (
    json_object_get_object_member (
      json_object_get_object_member (json_node_get_object (json_parser_get_root (fx->log)), "repos"),
      REPO),
    "issues");
  for (guint i = 0; i < json_array_get_length (issues); i++)
    {
      JsonObject *issue = json_array_get_object_element (issues, i);

      if (json_object_get_int_member (issue, "number") == number)
        return issue;
    }
  g_assert_not_reached ();
}

static CasTracker *
make_tracker (Fixture    *fx,
              const char *extra)
{
  g_autofree char *keyfile = NULL;
  g_autoptr(CasConfig) config = NULL;
  g_autoptr(GError) error = NULL;
  const char * const envp[] = { NULL };
  CasTracker *tracker;

  keyfile = g_strdup_printf ("[github]\napi-url=%s/\ntoken-file=%s\n%s\n", fx->base, fx->token_file,
                             extra != NULL ? extra : "self-login=afk-bot");
  config = cas_config_parse (keyfile, strlen (keyfile), "test", envp, &error);
  g_assert_no_error (error);
  tracker = cas_tracker_new (config, envp, &error);
  g_assert_no_error (error);
  return tracker;
}

/* One fake for the whole run (a Python start costs more than a test);
 * each test gives it a fresh state. */
static GSubprocess *fake_process;
static char *fake_dir;
static char *fake_base;

static void
start_fake (void)
{
  const char *fakes = g_getenv ("CAS_FAKES_SRCDIR");
  const char *python = g_getenv ("CAS_PYTHON");
  g_autofree char *script = NULL;
  g_autofree char *port_file = NULL;
  g_autofree char *line = NULL;
  g_autofree char *port_text = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  guint64 port;

  g_assert_nonnull (fakes);
  fake_dir = g_dir_make_tmp ("cas-fake-github-XXXXXX", &error);
  g_assert_no_error (error);
  script = g_build_filename (fakes, "fake_github.py", NULL);
  port_file = g_build_filename (fake_dir, "port", NULL);

  /* Its stdin is a pipe from us: if this test dies, so does the fake. */
  fake_process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDIN_PIPE, &error,
                                   python != NULL ? python : "/usr/bin/python3", script, "--port-file", port_file,
                                   "--exit-with-stdin", NULL);
  g_assert_no_error (error);
  /* It says "ready" once the port file is written and it listens. */
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (fake_process));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (line != NULL && g_str_has_prefix (line, "ready "));
  g_file_get_contents (port_file, &port_text, NULL, &error);
  g_assert_no_error (error);
  port = g_ascii_strtoull (port_text, NULL, 10);
  g_assert_true (port > 0 && port < 65536);
  fake_base = g_strdup_printf ("http://127.0.0.1:%u", (guint) port);
  g_unlink (port_file);
}

static void
stop_fake (void)
{
  g_autoptr(GError) error = NULL;

  g_subprocess_send_signal (fake_process, SIGTERM);
  g_subprocess_wait (fake_process, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&fake_process);
  g_rmdir (fake_dir);
  g_clear_pointer (&fake_dir, g_free);
  g_clear_pointer (&fake_base, g_free);
}

static void
fixture_setup (Fixture      *fx,
               gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) state = NULL;
  g_autoptr(GBytes) cleared = NULL;

  fx->dir = g_dir_make_tmp ("cas-tracker-XXXXXX", &error);
  g_assert_no_error (error);
  fx->token_file = g_build_filename (fx->dir, "token", NULL);
  g_file_set_contents (fx->token_file, TOKEN "\n", -1, &error);
  g_assert_no_error (error);

  fx->base = g_strdup (fake_base);
  /* No User-Agent: only the /_fake/ paths answer it. */
  fx->control = soup_session_new_with_options ("user-agent", NULL, NULL);
  state = control (fx, "PUT", "/_fake/state", data != NULL ? data : default_seed);
  cleared = control (fx, "DELETE", "/_fake/requests", NULL);
  fx->tracker = make_tracker (fx, NULL);
}

static void
fixture_teardown (Fixture      *fx,
                  gconstpointer data)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  g_clear_object (&fx->tracker);
  g_clear_object (&fx->control);
  g_clear_object (&fx->result);
  g_clear_object (&fx->log);

  dir = g_dir_open (fx->dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (fx->dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (fx->dir);
  g_free (fx->dir);
  g_free (fx->token_file);
  g_free (fx->base);
}

/* ---- waiting for a call ---------------------------------------------------- */

static void
on_result (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Fixture *fx = user_data;

  g_assert_null (fx->result);
  fx->result = g_object_ref (result);
}

static void
start_fresh (Fixture *fx)
{
  g_clear_object (&fx->result);
}

static GPtrArray *
list_ready (Fixture    *fx,
            CasTracker *tracker,
            GError    **error)
{
  start_fresh (fx);
  cas_tracker_list_ready_async (tracker, REPO, "ready", NULL, on_result, fx);
  while (fx->result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return cas_tracker_list_ready_finish (tracker, fx->result, error);
}

/* Starts a call and iterates until it completes. */
#define CALL(fx, start) \
  G_STMT_START { start_fresh (fx); start; while ((fx)->result == NULL) g_main_context_iteration (NULL, TRUE); } G_STMT_END

/* ---- tests ----------------------------------------------------------------- */

static void
test_list_ready (Fixture      *fx,
                 gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) issues = list_ready (fx, fx->tracker, &error);
  JsonArray *log;
  CasTrackerIssue *issue;

  g_assert_no_error (error);
  /* 7, 6, 3, 1: the PR (#2), the closed (#4) and the unlabelled (#5)
   * are left out; 5 items at 2 a page are 3 pages. */
  g_assert_cmpuint (issues->len, ==, 4);
  g_assert_cmpint (((CasTrackerIssue *) issues->pdata[0])->number, ==, 7);
  g_assert_cmpint (((CasTrackerIssue *) issues->pdata[1])->number, ==, 6);
  g_assert_cmpint (((CasTrackerIssue *) issues->pdata[2])->number, ==, 3);
  issue = issues->pdata[3];
  g_assert_cmpint (issue->number, ==, 1);
  g_assert_cmpstr (issue->title, ==, "one");
  g_assert_cmpstr (issue->body, ==, "Blocked by #4");
  g_assert_cmpstr (issue->state, ==, "open");
  g_assert_false (issue->is_pull_request);
  g_assert_cmpuint (g_strv_length (issue->labels), ==, 2);
  g_assert_cmpstr (issue->labels[1], ==, "priority:2");
  g_assert_cmpstr (((CasTrackerIssue *) issues->pdata[2])->body, ==, "");

  log = requests (fx);
  g_assert_cmpuint (json_array_get_length (log), ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      JsonObject *request = json_array_get_object_element (log, i);
      JsonObject *query = json_object_get_object_member (request, "query");

      g_assert_cmpstr (json_object_get_string_member (request, "method"), ==, "GET");
      g_assert_cmpstr (json_object_get_string_member (request, "path"), ==, "/repos/" REPO "/issues");
      g_assert_cmpstr (json_object_get_string_member (request, "authorization"), ==, "Bearer " TOKEN);
      g_assert_true (g_str_has_prefix (json_object_get_string_member (request, "user_agent"),
                                       "claude-agent-service/"));
      g_assert_cmpstr (json_object_get_string_member (request, "accept"), ==, "application/vnd.github+json");
      g_assert_cmpstr (json_object_get_string_member (request, "api_version"), ==, "2022-11-28");
      g_assert_cmpstr (json_object_get_string_member (query, "labels"), ==, "ready");
      g_assert_cmpstr (json_object_get_string_member (query, "state"), ==, "open");
      if (i > 0)
        g_assert_cmpint (g_ascii_strtoll (json_object_get_string_member (query, "page"), NULL, 10), ==, i + 1);
    }
}

static void
test_get_issue (Fixture      *fx,
                gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CasTrackerIssue) issue = NULL;
  g_autoptr(CasTrackerIssue) pr = NULL;
  CasTrackerIssue *missing;

  CALL (fx, cas_tracker_get_issue_async (fx->tracker, REPO, 4, NULL, on_result, fx));
  issue = cas_tracker_get_issue_finish (fx->tracker, fx->result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (issue->state, ==, "closed");

  CALL (fx, cas_tracker_get_issue_async (fx->tracker, REPO, 2, NULL, on_result, fx));
  pr = cas_tracker_get_issue_finish (fx->tracker, fx->result, &error);
  g_assert_no_error (error);
  g_assert_true (pr->is_pull_request);

  CALL (fx, cas_tracker_get_issue_async (fx->tracker, REPO, 99, NULL, on_result, fx));
  missing = cas_tracker_get_issue_finish (fx->tracker, fx->result, &error);
  g_assert_null (missing);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "get issue"));
  g_assert_nonnull (strstr (error->message, "/repos/" REPO "/issues/99"));
  g_assert_nonnull (strstr (error->message, "404"));
  g_clear_error (&error);

  CALL (fx, cas_tracker_get_issue_async (fx->tracker, "octo/nothing", 1, NULL, on_result, fx));
  g_assert_null (cas_tracker_get_issue_finish (fx->tracker, fx->result, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND);
}

static void
test_label_actor (Fixture      *fx,
                  gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *actor = NULL;
  g_autofree char *none = NULL;

  /* bob, then maud after an unlabel, across 3 pages: maud. */
  CALL (fx, cas_tracker_label_actor_async (fx->tracker, REPO, 1, "ready", NULL, on_result, fx));
  actor = cas_tracker_label_actor_finish (fx->tracker, fx->result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (actor, ==, "maud");
  g_assert_cmpuint (request_count (fx), ==, 3);

  CALL (fx, cas_tracker_label_actor_async (fx->tracker, REPO, 3, "ready", NULL, on_result, fx));
  none = cas_tracker_label_actor_finish (fx->tracker, fx->result, &error);
  g_assert_no_error (error);
  g_assert_null (none);
}

static char *
permission (Fixture    *fx,
            const char *login,
            GError    **error)
{
  CALL (fx, cas_tracker_permission_async (fx->tracker, REPO, login, NULL, on_result, fx));
  return cas_tracker_permission_finish (fx->tracker, fx->result, error);
}

static void
test_permission (Fixture      *fx,
                 gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *admin = permission (fx, "alice", &error);
  g_autofree char *maintain = NULL;
  g_autofree char *read = NULL;
  g_autofree char *none = NULL;
  g_autofree char *failed = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (admin, ==, "admin");
  /* The legacy field says "write"; role_name has the real role. */
  maintain = permission (fx, "maud", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (maintain, ==, "maintain");
  read = permission (fx, "bob", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (read, ==, "read");
  /* Not a collaborator: GitHub's 404 is "none", not an error. */
  none = permission (fx, "carol", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (none, ==, "none");
  g_assert_cmpstr (json_object_get_string_member (last_request (fx), "path"), ==,
                   "/repos/" REPO "/collaborators/carol/permission");

  /* Anything else fails, so the policy fails closed. */
  add_fault (fx, "{'path': '/repos/" REPO "/collaborators/alice/permission', 'status': 502,"
                 " 'body': {'message': 'Server Error'}}");
  failed = permission (fx, "alice", &error);
  g_assert_null (failed);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "HTTP 502: Server Error"));
  g_clear_error (&error);

  add_fault (fx, "{'path': '/repos/" REPO "/collaborators/bob/permission', 'status': 200,"
                 " 'body': {'permission': 'superuser'}}");
  g_assert_null (permission (fx, "bob", &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_FAILED);
}

static void
test_commits (Fixture      *fx,
              gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *branch = NULL;
  g_autoptr(GPtrArray) commits = NULL;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GDateTime) since = g_date_time_new_utc (2026, 11, 15, 0, 0, 0);
  /* 10:00 at +02:00 */
  g_autoptr(GDateTime) later = g_date_time_new_utc (2026, 12, 2, 8, 0, 0);
  CasTrackerCommit *commit;
  JsonObject *query;

  CALL (fx, cas_tracker_default_branch_async (fx->tracker, REPO, NULL, on_result, fx));
  branch = cas_tracker_default_branch_finish (fx->tracker, fx->result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (branch, ==, "trunk");

  CALL (fx, cas_tracker_commits_since_async (fx->tracker, REPO, branch, g_date_time_to_unix (since),
                                             NULL, on_result, fx));
  commits = cas_tracker_commits_since_finish (fx->tracker, fx->result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (commits->len, ==, 2);
  commit = commits->pdata[0];
  g_assert_cmpstr (commit->sha, ==, "cccc333");
  g_assert_cmpint (commit->date, ==, g_date_time_to_unix (later));
  commit = commits->pdata[1];
  g_assert_cmpstr (commit->sha, ==, "bbbb222");
  g_assert_cmpstr (commit->message, ==, "fix\n\nAFK-Issue: #1");
  query = json_object_get_object_member (last_request (fx), "query");
  g_assert_cmpstr (json_object_get_string_member (query, "since"), ==, "2026-11-15T00:00:00Z");
  g_assert_cmpstr (json_object_get_string_member (query, "sha"), ==, "trunk");

  /* Three commits, two pages. */
  CALL (fx, cas_tracker_commits_since_async (fx->tracker, REPO, "trunk", 0, NULL, on_result, fx));
  all = cas_tracker_commits_since_finish (fx->tracker, fx->result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 3);
  g_assert_cmpstr (((CasTrackerCommit *) all->pdata[2])->sha, ==, "aaaa111");

  CALL (fx, cas_tracker_commits_since_async (fx->tracker, REPO, "no-such-branch", 0, NULL, on_result, fx));
  g_assert_null (cas_tracker_commits_since_finish (fx->tracker, fx->result, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND);
}

static gboolean
bool_call_finish (Fixture  *fx,
                  gboolean (*finish) (CasTracker *, GAsyncResult *, GError **),
                  GError  **error)
{
  return finish (fx->tracker, fx->result, error);
}

static gboolean
issue_has_label (JsonObject *issue,
                 const char *label)
{
  JsonArray *labels = json_object_get_array_member (issue, "labels");

  for (guint i = 0; i < json_array_get_length (labels); i++)
    if (g_strcmp0 (json_array_get_string_element (labels, i), label) == 0)
      return TRUE;
  return FALSE;
}

static void
test_labels (Fixture      *fx,
             gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  const char * const labels[] = { "in-progress", "needs a \"human\"", NULL };
  JsonObject *request;

  CALL (fx, cas_tracker_add_labels_async (fx->tracker, REPO, 3, labels, NULL, on_result, fx));
  g_assert_true (bool_call_finish (fx, cas_tracker_add_labels_finish, &error));
  g_assert_no_error (error);
  request = last_request (fx);
  g_assert_cmpstr (json_object_get_string_member (request, "method"), ==, "POST");
  g_assert_cmpstr (json_object_get_string_member (request, "body"), ==,
                   "{\"labels\":[\"in-progress\",\"needs a \\\"human\\\"\"]}");
  g_assert_cmpstr (json_object_get_string_member (request, "content_type"), ==, "application/json");
  g_assert_true (issue_has_label (fake_issue (fx, 3), "in-progress"));
  g_assert_true (issue_has_label (fake_issue (fx, 3), "needs a \"human\""));

  CALL (fx, cas_tracker_remove_label_async (fx->tracker, REPO, 3, "needs a \"human\"", NULL, on_result, fx));
  g_assert_true (bool_call_finish (fx, cas_tracker_remove_label_finish, &error));
  g_assert_no_error (error);
  g_assert_false (issue_has_label (fake_issue (fx, 3), "needs a \"human\""));
  g_assert_true (issue_has_label (fake_issue (fx, 3), "in-progress"));

  /* Absent: GitHub says 404, which is success here. */
  CALL (fx, cas_tracker_remove_label_async (fx->tracker, REPO, 3, "never-there", NULL, on_result, fx));
  g_assert_true (bool_call_finish (fx, cas_tracker_remove_label_finish, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (last_request (fx), "path"), ==,
                   "/repos/" REPO "/issues/3/labels/never-there");

  CALL (fx, cas_tracker_add_labels_async (fx->tracker, REPO, 99, labels, NULL, on_result, fx));
  g_assert_false (bool_call_finish (fx, cas_tracker_add_labels_finish, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND);
}

static CasTrackerComment *
find_comment (Fixture    *fx,
              CasTracker *tracker,
              gint64      number,
              GError    **error)
{
  CALL (fx, cas_tracker_find_comment_async (tracker, REPO, number, "<!-- afk-run -->", NULL, on_result, fx));
  return cas_tracker_find_comment_finish (tracker, fx->result, error);
}

static void
test_comments (Fixture      *fx,
               gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CasTrackerComment) found = NULL;
  g_autoptr(CasTrackerComment) edited = NULL;
  g_autoptr(CasTrackerComment) learnt = NULL;
  g_autoptr(CasTracker) unnamed = NULL;
  g_autofree char *login = NULL;
  gint64 id;

  /* #3 has the marker only in mallory's comment: not ours. */
  g_assert_null (find_comment (fx, fx->tracker, 3, &error));
  g_assert_no_error (error);

  CALL (fx, cas_tracker_create_comment_async (fx->tracker, REPO, 3, "### run\n<!-- afk-run -->\n- [ ] ünïcode",
                                              NULL, on_result, fx));
  id = cas_tracker_create_comment_finish (fx->tracker, fx->result, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);

  found = find_comment (fx, fx->tracker, 3, &error);
  g_assert_no_error (error);
  g_assert_nonnull (found);
  g_assert_cmpint (found->id, ==, id);
  g_assert_cmpstr (found->body, ==, "### run\n<!-- afk-run -->\n- [ ] ünïcode");

  CALL (fx, cas_tracker_edit_comment_async (fx->tracker, REPO, id, "<!-- afk-run -->\n- [x] done",
                                            NULL, on_result, fx));
  g_assert_true (bool_call_finish (fx, cas_tracker_edit_comment_finish, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (last_request (fx), "method"), ==, "PATCH");
  edited = find_comment (fx, fx->tracker, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (edited->body, ==, "<!-- afk-run -->\n- [x] done");

  CALL (fx, cas_tracker_edit_comment_async (fx->tracker, REPO, 424242, "x", NULL, on_result, fx));
  g_assert_false (bool_call_finish (fx, cas_tracker_edit_comment_finish, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Without self-login the tracker asks GET /user, once. */
  unnamed = make_tracker (fx, "");
  learnt = find_comment (fx, unnamed, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpint (learnt->id, ==, id);
  CALL (fx, cas_tracker_self_login_async (unnamed, NULL, on_result, fx));
  login = cas_tracker_self_login_finish (unnamed, fx->result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (login, ==, "afk-bot");
  {
    JsonArray *log = requests (fx);
    guint users = 0;

    for (guint i = 0; i < json_array_get_length (log); i++)
      if (g_strcmp0 (json_object_get_string_member (json_array_get_object_element (log, i), "path"), "/user") == 0)
        users++;
    g_assert_cmpuint (users, ==, 1);
  }
}

static void
test_close (Fixture      *fx,
            gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  CALL (fx, cas_tracker_close_issue_async (fx->tracker, REPO, 7, NULL, on_result, fx));
  g_assert_true (bool_call_finish (fx, cas_tracker_close_issue_finish, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (fake_issue (fx, 7), "state"), ==, "closed");
}

static void
test_check_runs (Fixture      *fx,
                 gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) runs = NULL;
  g_autoptr(GPtrArray) none = NULL;
  CasTrackerCheckRun *run;

  CALL (fx, cas_tracker_check_runs_async (fx->tracker, REPO, "bbbb222", NULL, on_result, fx));
  runs = cas_tracker_check_runs_finish (fx->tracker, fx->result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (runs->len, ==, 3);
  run = runs->pdata[0];
  g_assert_cmpstr (run->name, ==, "build");
  g_assert_cmpstr (run->conclusion, ==, "success");
  run = runs->pdata[1];
  g_assert_cmpstr (run->status, ==, "in_progress");
  g_assert_null (run->conclusion);
  g_assert_cmpstr (((CasTrackerCheckRun *) runs->pdata[2])->conclusion, ==, "failure");
  g_assert_cmpuint (request_count (fx), ==, 2);

  CALL (fx, cas_tracker_check_runs_async (fx->tracker, REPO, "aaaa111", NULL, on_result, fx));
  none = cas_tracker_check_runs_finish (fx->tracker, fx->result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (none->len, ==, 0);
}

static void
test_auth (Fixture      *fx,
           gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) issues = NULL;
  g_autoptr(GBytes) refused = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autofree char *url = NULL;
  g_autofree char *keyfile = NULL;
  g_autoptr(CasConfig) config = NULL;
  g_autoptr(CasTracker) tokenless = NULL;
  const char * const envp[] = { NULL };

  /* The fake refuses a request without a User-Agent, or without a token. */
  url = g_strdup_printf ("%s/repos/" REPO, fx->base);
  msg = soup_message_new ("GET", url);
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", "Bearer " TOKEN);
  refused = soup_session_send_and_read (fx->control, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 403);

  /* A wrong token: 401. */
  g_file_set_contents (fx->token_file, "wrong-token", -1, &error);
  g_assert_no_error (error);
  g_assert_null (list_ready (fx, fx->tracker, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_UNAUTHORIZED);
  g_assert_nonnull (strstr (error->message, "HTTP 401: Bad credentials"));
  g_assert_null (strstr (error->message, "wrong-token"));
  g_clear_error (&error);

  /* The file is read again at each call: a rotated token just works. */
  g_file_set_contents (fx->token_file, "other-token\n", -1, &error);
  g_assert_no_error (error);
  issues = list_ready (fx, fx->tracker, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (last_request (fx), "authorization"), ==, "Bearer other-token");

  /* A token no header can carry is refused before anything is sent. */
  g_file_set_contents (fx->token_file, "two words", -1, &error);
  g_assert_no_error (error);
  {
    guint before = request_count (fx);

    g_assert_null (list_ready (fx, fx->tracker, &error));
    g_assert_error (error, CAS_ERROR, CAS_ERROR_UNAUTHORIZED);
    g_clear_error (&error);
    g_unlink (fx->token_file);
    g_assert_null (list_ready (fx, fx->tracker, &error));
    g_assert_error (error, CAS_ERROR, CAS_ERROR_UNAUTHORIZED);
    g_clear_error (&error);
    g_assert_cmpuint (request_count (fx), ==, before);
  }

  /* No token configured at all. */
  keyfile = g_strdup_printf ("[github]\napi-url=%s\n", fx->base);
  config = cas_config_parse (keyfile, strlen (keyfile), "test", envp, &error);
  g_assert_no_error (error);
  tokenless = cas_tracker_new (config, envp, &error);
  g_assert_no_error (error);
  g_assert_null (list_ready (fx, tokenless, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_UNAUTHORIZED);
  g_assert_nonnull (strstr (error->message, "token"));
}

static void
test_credential (Fixture      *fx,
                 gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *keyfile = g_strdup_printf ("[github]\napi-url=%s\n", fx->base);
  g_autofree char *credential = g_build_filename (fx->dir, "github-token", NULL);
  g_autofree char *env = g_strdup_printf ("CREDENTIALS_DIRECTORY=%s", fx->dir);
  const char * const envp[] = { env, NULL };
  g_autoptr(CasConfig) config = NULL;
  g_autoptr(CasTracker) tracker = NULL;
  g_autoptr(GPtrArray) issues = NULL;

  g_file_set_contents (credential, TOKEN, -1, &error);
  g_assert_no_error (error);
  config = cas_config_parse (keyfile, strlen (keyfile), "test", envp, &error);
  g_assert_no_error (error);
  tracker = cas_tracker_new (config, envp, &error);
  g_assert_no_error (error);
  issues = list_ready (fx, tracker, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (issues->len, ==, 4);
}

static void
test_rate_limit (Fixture      *fx,
                 gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) ok = NULL;
  g_autoptr(CasTracker) second = NULL;
  g_autoptr(CasTracker) third = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  guint before;

  /* 403 with Retry-After: the call fails and no call goes out after. */
  g_assert_cmpint (cas_tracker_get_blocked_until (fx->tracker), ==, 0);
  set_rate_limit (fx, "{'status': 403, 'retry_after': 120}");
  g_assert_null (list_ready (fx, fx->tracker, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_TOO_MANY_REQUESTS);
  g_assert_nonnull (strstr (error->message, "HTTP 403"));
  g_clear_error (&error);
  g_assert_cmpint (cas_tracker_get_blocked_until (fx->tracker), >=, now + 119);
  g_assert_cmpint (cas_tracker_get_blocked_until (fx->tracker), <=, now + 3600 + 5);

  set_rate_limit (fx, "null");
  before = request_count (fx);
  g_assert_null (list_ready (fx, fx->tracker, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_TOO_MANY_REQUESTS);
  g_clear_error (&error);
  g_assert_cmpuint (request_count (fx), ==, before);

  /* A 200 that spends the last request: its answer counts, the next
   * call waits for the reset (a year away is capped at an hour). */
  second = make_tracker (fx, NULL);
  add_fault (fx, "{'path': '/repos/" REPO "/issues', 'times': 1, 'status': 200, 'body': [],"
                 " 'rate_headers': false,"
                 " 'headers': {'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': '99999999999'}}");
  ok = list_ready (fx, second, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ok->len, ==, 0);
  g_assert_cmpint (cas_tracker_get_blocked_until (second), >, now);
  g_assert_cmpint (cas_tracker_get_blocked_until (second), <=, now + 3600 + 5);
  before = request_count (fx);
  g_assert_null (list_ready (fx, second, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_TOO_MANY_REQUESTS);
  g_clear_error (&error);
  g_assert_cmpuint (request_count (fx), ==, before);

  /* 429 with no headers at all still backs off. */
  third = make_tracker (fx, NULL);
  add_fault (fx, "{'path': '/repos/" REPO "', 'status': 429, 'rate_headers': false,"
                 " 'body': {'message': 'slow down'}}");
  CALL (fx, cas_tracker_default_branch_async (third, REPO, NULL, on_result, fx));
  g_assert_null (cas_tracker_default_branch_finish (third, fx->result, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_TOO_MANY_REQUESTS);
  g_assert_cmpint (cas_tracker_get_blocked_until (third), >, now);
}

/* One hostile answer for the issue list, and the error it must give. */
typedef struct {
  const char *fault;
  int code;
  const char *words;
} Hostile;

static void
test_hostile (Fixture      *fx,
              gconstpointer data)
{
  const Hostile cases[] = {
    { "{'body': 'not json {'}", CAS_ERROR_FAILED, "not JSON" },
    { "{'body': '{\\'a\\': 1 /* c */}'}", CAS_ERROR_FAILED, "not JSON" },
    { "{'body': ''}", CAS_ERROR_FAILED, "expected a JSON array" },
    { "{'body': {'number': 1}}", CAS_ERROR_FAILED, "expected a JSON array" },
    { "{'body': [1, 2]}", CAS_ERROR_FAILED, "not an object" },
    { "{'body': [{'number': '1', 'title': 't', 'state': 'open', 'labels': []}]}", CAS_ERROR_FAILED, "“number”" },
    { "{'body': [{'number': 1, 'title': 't', 'state': 'open', 'labels': 'ready'}]}", CAS_ERROR_FAILED, "“labels”" },
    { "{'body': [{'number': 1, 'title': 't', 'state': 'open', 'labels': [{'name': 5}]}]}", CAS_ERROR_FAILED, "“labels”" },
    { "{'body': [{'number': 1, 'title': {}, 'state': 'open', 'labels': []}]}", CAS_ERROR_FAILED, "“title”" },
    { "{'body': [{'number': 1.5, 'title': 't', 'state': 'open', 'labels': []}]}", CAS_ERROR_FAILED, "“number”" },
    { "{'body': '[\\udcff]'}", CAS_ERROR_FAILED, "UTF-8" },
    { "{'declare_length': 9000000}", CAS_ERROR_PAYLOAD_TOO_LARGE, "larger than" },
    { "{'stream_bytes': 9000000}", CAS_ERROR_PAYLOAD_TOO_LARGE, "larger than" },
    { "{'status': 302, 'headers': {'Location': 'http://127.0.0.2/steal'}}", CAS_ERROR_FAILED, "HTTP 302" },
    { "{'status': 500, 'body': {'message': 'bad\\u0007\\nthing'}}", CAS_ERROR_FAILED, "HTTP 500: bad  thing" },
    { "{'status': 422, 'body': {'message': 'Validation Failed'}}", CAS_ERROR_INVALID_ARGUMENT, "HTTP 422" },
    { "{'body': [], 'headers': {'Link': '<http://127.0.0.2:1/repos/x>; rel=\\'next\\''}}", CAS_ERROR_FAILED, "outside" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GString) fault = g_string_new (cases[i].fault);
      g_autoptr(GPtrArray) issues = NULL;

      g_test_message ("case %u: %s", i, cases[i].fault);
      g_string_insert (fault, 1, "'path': '/repos/" REPO "/issues', 'times': 1, ");
      add_fault (fx, fault->str);
      issues = list_ready (fx, fx->tracker, &error);
      g_assert_null (issues);
      g_assert_error (error, CAS_ERROR, cases[i].code);
      g_test_message ("error: %s", error->message);
      g_assert_nonnull (strstr (error->message, cases[i].words));
      g_assert_nonnull (strstr (error->message, "list ready issues"));
    }
}

typedef enum {
  CALL_ACTOR,
  CALL_COMMITS,
  CALL_CHECK_RUNS,
  CALL_FIND_COMMENT,
  CALL_CREATE_COMMENT,
  CALL_DEFAULT_BRANCH,
  CALL_SELF_LOGIN,
  CALL_GET_ISSUE,
} CallKind;

/* Runs one call of @kind; returns its error (NULL when it succeeded). */
static GError *
run_call (Fixture   *fx,
          CasTracker *tracker,
          CallKind   kind)
{
  GError *error = NULL;
  gpointer out = NULL;

  start_fresh (fx);
  switch (kind)
    {
    case CALL_ACTOR:
      cas_tracker_label_actor_async (tracker, REPO, 1, "ready", NULL, on_result, fx);
      break;
    case CALL_COMMITS:
      cas_tracker_commits_since_async (tracker, REPO, "trunk", 0, NULL, on_result, fx);
      break;
    case CALL_CHECK_RUNS:
      cas_tracker_check_runs_async (tracker, REPO, "bbbb222", NULL, on_result, fx);
      break;
    case CALL_FIND_COMMENT:
      cas_tracker_find_comment_async (tracker, REPO, 3, "afk", NULL, on_result, fx);
      break;
    case CALL_CREATE_COMMENT:
      cas_tracker_create_comment_async (tracker, REPO, 3, "hello", NULL, on_result, fx);
      break;
    case CALL_DEFAULT_BRANCH:
      cas_tracker_default_branch_async (tracker, REPO, NULL, on_result, fx);
      break;
    case CALL_SELF_LOGIN:
      cas_tracker_self_login_async (tracker, NULL, on_result, fx);
      break;
    case CALL_GET_ISSUE:
      cas_tracker_get_issue_async (tracker, REPO, 1, NULL, on_result, fx);
      break;
    }
  while (fx->result == NULL)
    g_main_context_iteration (NULL, TRUE);

  switch (kind)
    {
    case CALL_ACTOR:
      g_free (cas_tracker_label_actor_finish (tracker, fx->result, &error));
      break;
    case CALL_COMMITS:
      out = cas_tracker_commits_since_finish (tracker, fx->result, &error);
      g_clear_pointer (&out, g_ptr_array_unref);
      break;
    case CALL_CHECK_RUNS:
      out = cas_tracker_check_runs_finish (tracker, fx->result, &error);
      g_clear_pointer (&out, g_ptr_array_unref);
      break;
    case CALL_FIND_COMMENT:
      cas_tracker_comment_free (cas_tracker_find_comment_finish (tracker, fx->result, &error));
      break;
    case CALL_CREATE_COMMENT:
      cas_tracker_create_comment_finish (tracker, fx->result, &error);
      break;
    case CALL_DEFAULT_BRANCH:
      g_free (cas_tracker_default_branch_finish (tracker, fx->result, &error));
      break;
    case CALL_SELF_LOGIN:
      g_free (cas_tracker_self_login_finish (tracker, fx->result, &error));
      break;
    case CALL_GET_ISSUE:
      cas_tracker_issue_free (cas_tracker_get_issue_finish (tracker, fx->result, &error));
      break;
    }
  return error;
}

/* Answers of the wrong shape for every kind of call: an error that names
 * what is wrong, never a crash or a critical. */
static void
test_hostile_shapes (Fixture      *fx,
                     gconstpointer data)
{
  const struct {
    CallKind kind;
    const char *path;
    const char *body;
    const char *words;
  } cases[] = {
    { CALL_ACTOR, "/issues/1/events", "[{'event': 'labeled', 'label': {'name': 'ready'}, 'actor': {'login': 5}}]", "actor.login" },
    { CALL_ACTOR, "/issues/1/events", "[{'event': 'labeled', 'label': {'name': 'ready'}}]", "actor.login" },
    { CALL_ACTOR, "/issues/1/events", "{'events': []}", "array" },
    { CALL_COMMITS, "/commits", "[{'sha': 1, 'commit': {}}]", "“sha”" },
    { CALL_COMMITS, "/commits", "[{'sha': 'a', 'commit': 'x'}]", "“commit”" },
    { CALL_COMMITS, "/commits", "[{'sha': 'a', 'commit': {'message': 'm', 'committer': {'date': 'yesterday'}}}]", "date" },
    { CALL_COMMITS, "/commits", "[{'sha': 'a', 'commit': {'message': ['m'], 'committer': {'date': '2026-01-01T00:00:00Z'}}}]", "“message”" },
    { CALL_CHECK_RUNS, "/commits/bbbb222/check-runs", "{'total_count': 1, 'check_runs': 'x'}", "check_runs" },
    { CALL_CHECK_RUNS, "/commits/bbbb222/check-runs", "[]", "object" },
    { CALL_CHECK_RUNS, "/commits/bbbb222/check-runs", "{'check_runs': [{'name': 'a', 'status': 'completed', 'conclusion': 5}]}", "“conclusion”" },
    { CALL_CHECK_RUNS, "/commits/bbbb222/check-runs", "{'check_runs': [{'name': null, 'status': 'completed'}]}", "“name”" },
    { CALL_FIND_COMMENT, "/issues/3/comments", "[{'id': '12', 'body': 'afk', 'user': {'login': 'afk-bot'}}]", "“id”" },
    { CALL_FIND_COMMENT, "/issues/3/comments", "[{'id': 12, 'body': 7, 'user': {'login': 'afk-bot'}}]", "“body”" },
    { CALL_CREATE_COMMENT, "/issues/3/comments", "{}", "“id”" },
    { CALL_CREATE_COMMENT, "/issues/3/comments", "{'id': -4}", "“id”" },
    { CALL_DEFAULT_BRANCH, "", "{'default_branch': 5}", "default_branch" },
    { CALL_DEFAULT_BRANCH, "", "{'default_branch': 'a\\nb'}", "default_branch" },
    { CALL_GET_ISSUE, "/issues/1", "{'number': 1, 'title': 't', 'state': 5, 'labels': []}", "“state”" },
    { CALL_GET_ISSUE, "/issues/1", "{'number': 1, 'title': 't', 'state': 'open'}", "labels" },
    { CALL_GET_ISSUE, "/issues/1", "null", "object" },
    { CALL_GET_ISSUE, "/issues/1", "[1, 2]", "object" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *fault = g_strdup_printf ("{'path': '/repos/" REPO "%s', 'times': 1, 'body': %s}",
                                                cases[i].path, cases[i].body);

      g_test_message ("case %u: %s", i, fault);
      add_fault (fx, fault);
      error = run_call (fx, fx->tracker, cases[i].kind);
      g_assert_error (error, CAS_ERROR, CAS_ERROR_FAILED);
      g_test_message ("error: %s", error->message);
      g_assert_nonnull (strstr (error->message, cases[i].words));
    }

  /* A bad login from GET /user. */
  {
    g_autoptr(CasTracker) unnamed = make_tracker (fx, "");
    g_autoptr(GError) error = NULL;

    add_fault (fx, "{'path': '/user', 'times': 1, 'body': {'login': '../admin'}}");
    error = run_call (fx, unnamed, CALL_SELF_LOGIN);
    g_assert_error (error, CAS_ERROR, CAS_ERROR_FAILED);
  }

  /* A deleted account's event has a null actor: GitHub's "ghost". */
  {
    g_autofree char *actor = NULL;
    g_autoptr(GError) error = NULL;

    add_fault (fx, "{'path': '/repos/" REPO "/issues/1/events', 'times': 1,"
                   " 'body': [{'event': 'labeled', 'label': {'name': 'ready'}, 'actor': null}]}");
    CALL (fx, cas_tracker_label_actor_async (fx->tracker, REPO, 1, "ready", NULL, on_result, fx));
    actor = cas_tracker_label_actor_finish (fx->tracker, fx->result, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (actor, ==, "ghost");
  }
}

/* A server that stops talking after an oversized start must not hold
 * the caller: the refusal comes at once, not after the server hangs up. */
static void
test_oversized_then_silent (Fixture      *fx,
                            gconstpointer data)
{
  const char *faults[] = {
    "{'path': '/repos/" REPO "/issues', 'times': 1, 'declare_length': 9000000, 'hang_seconds': 30}",
    "{'path': '/repos/" REPO "/issues', 'times': 1, 'stream_bytes': 8500000, 'hang_seconds': 30}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (faults); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) issues = NULL;
      gint64 start = g_get_monotonic_time ();

      add_fault (fx, faults[i]);
      g_assert_null (list_ready (fx, fx->tracker, &error));
      g_assert_error (error, CAS_ERROR, CAS_ERROR_PAYLOAD_TOO_LARGE);
      g_test_message ("took %" G_GINT64_FORMAT " ms", (g_get_monotonic_time () - start) / 1000);
      g_clear_error (&error);

      /* The abandoned connection is not reused for the next call. */
      issues = list_ready (fx, fx->tracker, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (issues->len, ==, 4);
      g_clear_pointer (&issues, g_ptr_array_unref);
    }
}

static void
test_hostile_deep (Fixture      *fx,
                   gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) fault = g_string_new ("{'path': '/repos/" REPO "/issues', 'times': 1, 'body': '");

  for (guint i = 0; i < 5000; i++)
    g_string_append_c (fault, '[');
  g_string_append (fault, "'}");
  add_fault (fx, fault->str);
  g_assert_null (list_ready (fx, fx->tracker, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "deep"));
}

static void
test_endless_pages (Fixture      *fx,
                    gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *fault = g_strdup_printf (
    "{'path': '/repos/" REPO "/issues', 'body': [],"
    " 'headers': {'Link': '<%s/repos/" REPO "/issues?page=2>; rel=\\'next\\''}}", fx->base);

  add_fault (fx, fault);
  g_assert_null (list_ready (fx, fx->tracker, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "pages"));
  g_assert_cmpuint (request_count (fx), ==, CAS_TRACKER_MAX_PAGES);
}

static void
test_bad_arguments (Fixture      *fx,
                    gconstpointer data)
{
  const char *bad_repos[] = { "", "noslash", "a/b/c", "../x", "a/..", "a/.", "a b/c", "a/b?x=1", "a/b%2F", NULL };
  const char * const no_labels[] = { NULL };
  const char * const bad_labels[] = { "ok", "bad\nlabel", NULL };
  g_autoptr(GError) error = NULL;

  for (guint i = 0; bad_repos[i] != NULL; i++)
    {
      CALL (fx, cas_tracker_get_issue_async (fx->tracker, bad_repos[i], 1, NULL, on_result, fx));
      g_assert_null (cas_tracker_get_issue_finish (fx->tracker, fx->result, &error));
      g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
    }

  CALL (fx, cas_tracker_get_issue_async (fx->tracker, REPO, 0, NULL, on_result, fx));
  g_assert_null (cas_tracker_get_issue_finish (fx->tracker, fx->result, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  CALL (fx, cas_tracker_permission_async (fx->tracker, REPO, "../admin", NULL, on_result, fx));
  g_assert_null (cas_tracker_permission_finish (fx->tracker, fx->result, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  CALL (fx, cas_tracker_add_labels_async (fx->tracker, REPO, 1, no_labels, NULL, on_result, fx));
  g_assert_false (cas_tracker_add_labels_finish (fx->tracker, fx->result, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  CALL (fx, cas_tracker_add_labels_async (fx->tracker, REPO, 1, bad_labels, NULL, on_result, fx));
  g_assert_false (cas_tracker_add_labels_finish (fx->tracker, fx->result, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  CALL (fx, cas_tracker_check_runs_async (fx->tracker, REPO, "../../user", NULL, on_result, fx));
  g_assert_null (cas_tracker_check_runs_finish (fx->tracker, fx->result, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  CALL (fx, cas_tracker_commits_since_async (fx->tracker, REPO, "main", -5, NULL, on_result, fx));
  g_assert_null (cas_tracker_commits_since_finish (fx->tracker, fx->result, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  CALL (fx, cas_tracker_create_comment_async (fx->tracker, REPO, 1, "", NULL, on_result, fx));
  g_assert_cmpint (cas_tracker_create_comment_finish (fx->tracker, fx->result, &error), ==, 0);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_cmpuint (request_count (fx), ==, 0);
}

static void
test_cancelled (Fixture      *fx,
                gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  g_cancellable_cancel (cancellable);
  CALL (fx, cas_tracker_list_ready_async (fx->tracker, REPO, "ready", cancellable, on_result, fx));
  g_assert_null (cas_tracker_list_ready_finish (fx->tracker, fx->result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_cancelled_in_flight (Fixture      *fx,
                          gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  CALL (fx, cas_tracker_list_ready_async (fx->tracker, REPO, "ready", cancellable, on_result, fx);
        g_cancellable_cancel (cancellable));
  g_assert_null (cas_tracker_list_ready_finish (fx->tracker, fx->result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_unreachable (Fixture      *fx,
                  gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *keyfile = g_strdup_printf ("[github]\napi-url=http://127.0.0.1:1\ntoken-file=%s\n",
                                              fx->token_file);
  const char * const envp[] = { NULL };
  g_autoptr(CasConfig) config = cas_config_parse (keyfile, strlen (keyfile), "test", envp, &error);
  g_autoptr(CasTracker) tracker = NULL;

  g_assert_no_error (error);
  tracker = cas_tracker_new (config, envp, &error);
  g_assert_no_error (error);
  g_assert_null (list_ready (fx, tracker, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "list ready issues"));
}

static void
test_bad_api_url (void)
{
  const char *urls[] = { "ftp://example.com", "not a url", "/relative", "http://", "https://x/?q=1", NULL };
  const char * const envp[] = { NULL };

  for (guint i = 0; urls[i] != NULL; i++)
    {
      g_autofree char *keyfile = g_strdup_printf ("[github]\napi-url=%s\n", urls[i]);
      g_autoptr(CasConfig) config = NULL;
      g_autoptr(CasTracker) tracker = NULL;
      g_autoptr(GError) error = NULL;

      config = cas_config_parse (keyfile, strlen (keyfile), "test", envp, &error);
      g_assert_no_error (error);
      tracker = cas_tracker_new (config, envp, &error);
      g_assert_null (tracker);
      g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
    }
}

int
main (int   argc,
      char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add ("/tracker/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("list-ready", test_list_ready);
  ADD ("get-issue", test_get_issue);
  ADD ("label-actor", test_label_actor);
  ADD ("permission", test_permission);
  ADD ("commits", test_commits);
  ADD ("labels", test_labels);
  ADD ("comments", test_comments);
  ADD ("close", test_close);
  ADD ("check-runs", test_check_runs);
  ADD ("auth", test_auth);
  ADD ("credential", test_credential);
  ADD ("rate-limit", test_rate_limit);
  ADD ("hostile", test_hostile);
  ADD ("hostile-shapes", test_hostile_shapes);
  ADD ("hostile-deep", test_hostile_deep);
  ADD ("oversized-then-silent", test_oversized_then_silent);
  ADD ("endless-pages", test_endless_pages);
  ADD ("bad-arguments", test_bad_arguments);
  ADD ("cancelled", test_cancelled);
  ADD ("cancelled-in-flight", test_cancelled_in_flight);
  ADD ("unreachable", test_unreachable);
#undef ADD
  g_test_add_func ("/tracker/bad-api-url", test_bad_api_url);

  start_fake ();
  status = g_test_run ();
  stop_fake ();
  return status;
}
