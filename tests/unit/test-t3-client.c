/* CasT3Client against the fake T3 server (tests/fakes/fake_t3.py), in both
 * API shapes: every call, the project look-up before a create, the token
 * read on every request, our turn among T3's, liveness, business-rule
 * rejections and hostile answers. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "cas-config.h"
#include "cas-error.h"
#include "cas-t3-client.h"

typedef struct {
  const char *shape;     /* "shell" or "snapshot" */
  char *dir;
  char *token_file;
  char *workspace;       /* an existing directory */
  GSubprocess *fake;
  guint port;
  SoupSession *control;
  CasConfig *config;
  CasT3Client *client;
} Fixture;

/* ------------------------------------------------------------------ */
/* The fake                                                            */

static void
write_token (Fixture    *fx,
             const char *token)
{
  g_autoptr (GError) error = NULL;

  g_file_set_contents (fx->token_file, token, -1, &error);
  g_assert_no_error (error);
}

static CasConfig *
make_config (const char *body)
{
  const char *envp[] = { NULL };
  g_autoptr (GError) error = NULL;
  CasConfig *config = cas_config_parse (body, strlen (body), "test.ini", envp, &error);

  g_assert_no_error (error);
  return config;
}

static void
fixture_setup (Fixture      *fx,
               gconstpointer data)
{
  const char *fake = g_getenv ("CAS_FAKE_T3");
  const char *python = g_getenv ("CAS_PYTHON");
  g_autoptr (GError) error = NULL;
  g_autofree char *port_file = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *ini = NULL;
  g_autofree char *base = NULL;
  gint64 deadline;

  g_assert_nonnull (fake);
  fx->shape = data;
  fx->dir = g_dir_make_tmp ("cas-t3-client-XXXXXX", &error);
  g_assert_no_error (error);
  fx->token_file = g_build_filename (fx->dir, "token", NULL);
  fx->workspace = g_build_filename (fx->dir, "owner__repo", NULL);
  g_assert_cmpint (g_mkdir (fx->workspace, 0700), ==, 0);
  port_file = g_build_filename (fx->dir, "port", NULL);
  write_token (fx, "tok-1\n");

  fx->fake = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error,
                               python != NULL ? python : "/usr/bin/python3", fake, "--port-file", port_file,
                               "--shape", fx->shape, "--token", "tok-1", "--token", "tok-2",
                               NULL);
  g_assert_no_error (error);
  /* Wait for the event (the port file), checking the fake is alive. */
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (!g_file_get_contents (port_file, &contents, NULL, NULL))
    {
      g_assert_false (g_subprocess_get_identifier (fx->fake) == NULL);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10000);
    }
  fx->port = (guint) g_ascii_strtoull (contents, NULL, 10);
  g_assert_cmpuint (fx->port, >, 0);
  fx->control = soup_session_new ();

  base = g_build_filename (fx->dir, NULL);
  ini = g_strdup_printf ("[t3]\nbase-url=http://127.0.0.1:%u/\ntoken-file=%s\n"
                         "workspace-base=%s\nlink-base-url=https://t3.example/env-1/\n",
                         fx->port, fx->token_file, base);
  fx->config = make_config (ini);
  fx->client = cas_t3_client_new (fx->config, &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture      *fx,
                  gconstpointer data)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", fx->dir);

  g_clear_object (&fx->client);
  g_clear_pointer (&fx->config, cas_config_unref);
  g_clear_object (&fx->control);
  g_subprocess_force_exit (fx->fake);
  g_subprocess_wait (fx->fake, NULL, NULL);
  g_clear_object (&fx->fake);
  g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL));
  g_free (fx->dir);
  g_free (fx->token_file);
  g_free (fx->workspace);
}

/* One request to the fake, outside the client: the control API, or the
 * T3 API with a good token. */
static JsonNode *
fake_request (Fixture    *fx,
              const char *method,
              const char *path,
              const char *body,
              guint      *status)
{
  g_autofree char *uri = g_strdup_printf ("http://127.0.0.1:%u%s", fx->port, path);
  g_autoptr (SoupMessage) msg = soup_message_new (method, uri);
  g_autoptr (GBytes) answer = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();

  if (body != NULL)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  if (!g_str_has_prefix (path, "/_fake/"))
    soup_message_headers_replace (soup_message_get_request_headers (msg),
                                  "Authorization", "Bearer tok-1");
  answer = soup_session_send_and_read (fx->control, msg, NULL, &error);
  g_assert_no_error (error);
  if (status != NULL)
    *status = soup_message_get_status (msg);
  else
    g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  /* The bytes are not NUL-terminated. */
  json_parser_load_from_data (parser, g_bytes_get_data (answer, NULL), g_bytes_get_size (answer), &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

static void
control (Fixture    *fx,
         const char *method,
         const char *path,
         const char *body)
{
  g_autofree char *full = g_strconcat ("/_fake/", path, NULL);

  json_node_unref (fake_request (fx, method, full, body, NULL));
}

static char *
control_string (Fixture    *fx,
                const char *path,
                const char *body,
                const char *member)
{
  g_autofree char *full = g_strconcat ("/_fake/", path, NULL);
  g_autoptr (JsonNode) node = fake_request (fx, "POST", full, body, NULL);

  return g_strdup (json_object_get_string_member (json_node_get_object (node), member));
}

/* Moves @thread's latest turn; returns the turn id T3 minted. */
static char *
move_turn (Fixture    *fx,
           const char *thread,
           const char *state)
{
  g_autofree char *path = g_strdup_printf ("threads/%s/turn", thread);
  g_autofree char *body = g_strdup_printf ("{\"state\":\"%s\"}", state);

  return control_string (fx, path, body, "turnId");
}

static void
set_fault (Fixture    *fx,
           const char *body)
{
  control (fx, "POST", "faults", body);
}

/* The read path the client ends up on in this shape. */
static const char *
read_path (Fixture *fx)
{
  return strcmp (fx->shape, "shell") == 0 ? "/api/orchestration/shell"
                                          : "/api/orchestration/snapshot";
}

/* Requests the fake got: @method on @path whose body holds @needle. */
static guint
count_requests (Fixture    *fx,
                const char *method,
                const char *path,
                const char *needle)
{
  g_autoptr (JsonNode) node = fake_request (fx, "GET", "/_fake/requests", NULL, NULL);
  JsonArray *requests = json_object_get_array_member (json_node_get_object (node), "requests");
  guint n = 0;

  for (guint i = 0; i < json_array_get_length (requests); i++)
    {
      JsonObject *r = json_array_get_object_element (requests, i);

      if (strcmp (json_object_get_string_member (r, "method"), method) == 0 &&
          strcmp (json_object_get_string_member (r, "path"), path) == 0 &&
          (needle == NULL || strstr (json_object_get_string_member (r, "body"), needle) != NULL))
        n++;
    }
  return n;
}

/* The Authorization header of the last request the fake got. */
static char *
last_authorization (Fixture *fx)
{
  g_autoptr (JsonNode) node = fake_request (fx, "GET", "/_fake/requests", NULL, NULL);
  JsonArray *requests = json_object_get_array_member (json_node_get_object (node), "requests");
  guint n = json_array_get_length (requests);
  JsonObject *headers;

  g_assert_cmpuint (n, >, 0);
  headers = json_object_get_object_member (json_array_get_object_element (requests, n - 1), "headers");
  return g_strdup (json_object_get_string_member_with_default (headers, "Authorization", ""));
}

/* ------------------------------------------------------------------ */
/* The client, waited for                                              */

static void
got_result (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static GAsyncResult *
wait_for_result (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

static char *
ensure_project (Fixture    *fx,
                const char *root,
                GError    **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  cas_t3_client_ensure_project_async (fx->client, root, "owner/repo", NULL, got_result, &result);
  return cas_t3_client_ensure_project_finish (fx->client, wait_for_result (&result), error);
}

static char *
create_thread (Fixture    *fx,
               const char *project,
               GError    **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  cas_t3_client_create_thread_async (fx->client, project, "Fix #1", NULL, got_result, &result);
  return cas_t3_client_create_thread_finish (fx->client, wait_for_result (&result), error);
}

static gboolean
delete_thread (Fixture    *fx,
               const char *thread,
               GError    **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  cas_t3_client_delete_thread_async (fx->client, thread, NULL, got_result, &result);
  return cas_t3_client_delete_thread_finish (fx->client, wait_for_result (&result), error);
}

static CasT3TurnStart *
start_turn (Fixture    *fx,
            const char *thread,
            const char *text,
            GError    **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  cas_t3_client_start_turn_async (fx->client, thread, text, NULL, got_result, &result);
  return cas_t3_client_start_turn_finish (fx->client, wait_for_result (&result), error);
}

static CasT3ThreadStatus *
get_status (Fixture    *fx,
            const char *thread,
            GError    **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  cas_t3_client_get_thread_status_async (fx->client, thread, NULL, got_result, &result);
  return cas_t3_client_get_thread_status_finish (fx->client, wait_for_result (&result), error);
}

/* A project and a thread made through the client. */
static char *
new_thread (Fixture *fx)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *project = ensure_project (fx, fx->workspace, &error);
  char *thread;

  g_assert_no_error (error);
  thread = create_thread (fx, project, &error);
  g_assert_no_error (error);
  return thread;
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static void
test_calls (Fixture      *fx,
            gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *project = NULL;
  g_autofree char *again = NULL;
  g_autofree char *thread = NULL;
  g_autofree char *turn1 = NULL;
  g_autofree char *turn2 = NULL;
  g_autofree char *link = NULL;
  g_autoptr (CasT3TurnStart) start1 = NULL;
  g_autoptr (CasT3TurnStart) start2 = NULL;
  g_autoptr (CasT3TurnStart) refused = NULL;
  g_autoptr (CasT3ThreadStatus) status = NULL;
  gboolean shell = strcmp (fx->shape, "shell") == 0;

  g_assert_cmpint (cas_t3_client_get_api (fx->client), ==, CAS_T3_API_UNKNOWN);
  project = ensure_project (fx, fx->workspace, &error);
  g_assert_no_error (error);
  g_assert_nonnull (project);
  g_assert_cmpint (cas_t3_client_get_api (fx->client), ==,
                   shell ? CAS_T3_API_SHELL : CAS_T3_API_SNAPSHOT);
  g_assert_cmpuint (count_requests (fx, "POST", "/api/orchestration/dispatch", "project.create"), ==, 1);

  /* The second time it is found, not created. */
  again = ensure_project (fx, fx->workspace, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again, ==, project);
  g_assert_cmpuint (count_requests (fx, "POST", "/api/orchestration/dispatch", "project.create"), ==, 1);

  thread = create_thread (fx, project, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (count_requests (fx, "POST", "/api/orchestration/dispatch", "\"thread.create\""), ==, 1);

  status = get_status (fx, thread, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (status->thread_id, ==, thread);
  g_assert_cmpstr (status->project_id, ==, project);
  g_assert_null (status->latest_turn_id);
  g_assert_cmpint (status->turn_state, ==, CAS_T3_TURN_NONE);
  g_assert_cmpint (status->session_status, ==, CAS_T3_SESSION_NONE);
  g_assert_false (status->has_pending_approvals);
  g_assert_false (status->has_pending_user_input);
  g_clear_pointer (&status, cas_t3_thread_status_free);

  start1 = start_turn (fx, thread, "Fix issue #1: \"quotes\", \\ and ünïcode\n", &error);
  g_assert_no_error (error);
  g_assert_null (start1->previous_turn_id);
  g_assert_cmpstr (start1->thread_id, ==, thread);
  g_assert_cmpint (start1->sequence, >, 0);
  g_assert_cmpuint (count_requests (fx, "POST", "/api/orchestration/dispatch", "ünïcode"), ==, 1);

  /* Accepted but not started: no turn of ours yet. */
  status = get_status (fx, thread, &error);
  g_assert_no_error (error);
  g_assert_false (cas_t3_thread_status_has_new_turn (status, start1->previous_turn_id));
  g_assert_cmpint (cas_t3_thread_status_get_outcome (status, start1->previous_turn_id,
                                                     start1->previous_session_updated_at),
                   ==, CAS_T3_OUTCOME_WAITING);
  g_clear_pointer (&status, cas_t3_thread_status_free);

  turn1 = move_turn (fx, thread, "running");
  status = get_status (fx, thread, &error);
  g_assert_no_error (error);
  g_assert_true (cas_t3_thread_status_has_new_turn (status, start1->previous_turn_id));
  g_assert_cmpstr (status->latest_turn_id, ==, turn1);
  g_assert_cmpint (status->turn_state, ==, CAS_T3_TURN_RUNNING);
  g_assert_cmpint (status->session_status, ==, CAS_T3_SESSION_RUNNING);
  g_assert_cmpstr (status->session_active_turn_id, ==, turn1);
  g_assert_true (cas_t3_thread_status_is_busy (status));
  g_assert_cmpint (cas_t3_thread_status_get_outcome (status, start1->previous_turn_id,
                                                     start1->previous_session_updated_at),
                   ==, CAS_T3_OUTCOME_WORKING);
  g_clear_pointer (&status, cas_t3_thread_status_free);

  /* A busy thread is not steered. */
  refused = start_turn (fx, thread, "steer", &error);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_TOO_MANY_REQUESTS);
  g_assert_null (refused);
  g_assert_false (cas_t3_client_error_is_rejected (error));
  g_clear_error (&error);
  g_assert_cmpuint (count_requests (fx, "POST", "/api/orchestration/dispatch", "steer"), ==, 0);

  g_free (move_turn (fx, thread, "completed"));
  status = get_status (fx, thread, &error);
  g_assert_no_error (error);
  g_assert_cmpint (status->turn_state, ==, CAS_T3_TURN_COMPLETED);
  g_assert_cmpstr (status->turn_state_name, ==, "completed");
  g_assert_cmpint (status->session_status, ==, CAS_T3_SESSION_READY);
  g_assert_false (cas_t3_thread_status_is_busy (status));
  g_assert_cmpint (cas_t3_thread_status_get_outcome (status, start1->previous_turn_id,
                                                     start1->previous_session_updated_at),
                   ==, CAS_T3_OUTCOME_COMPLETED);
  g_clear_pointer (&status, cas_t3_thread_status_free);

  /* A corrective turn: the completed one is "before", the next is ours. */
  start2 = start_turn (fx, thread, "CI is red: fix it", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (start2->previous_turn_id, ==, turn1);
  g_assert_cmpint (start2->sequence, >, start1->sequence);
  status = get_status (fx, thread, &error);
  g_assert_no_error (error);
  g_assert_false (cas_t3_thread_status_has_new_turn (status, start2->previous_turn_id));
  g_assert_cmpint (status->turn_state, ==, CAS_T3_TURN_COMPLETED);
  g_clear_pointer (&status, cas_t3_thread_status_free);
  turn2 = move_turn (fx, thread, "running");
  g_assert_cmpstr (turn2, !=, turn1);
  g_free (move_turn (fx, thread, "error"));
  status = get_status (fx, thread, &error);
  g_assert_no_error (error);
  g_assert_true (cas_t3_thread_status_has_new_turn (status, start2->previous_turn_id));
  g_assert_cmpstr (status->latest_turn_id, ==, turn2);
  g_assert_cmpint (status->turn_state, ==, CAS_T3_TURN_ERROR);
  g_assert_cmpint (status->session_status, ==, CAS_T3_SESSION_ERROR);
  g_assert_nonnull (status->session_last_error);
  g_assert_cmpint (cas_t3_thread_status_get_outcome (status, start2->previous_turn_id,
                                                     start2->previous_session_updated_at),
                   ==, CAS_T3_OUTCOME_FAILED);

  /* /shell is asked for once; on the old shape never again after its 404. */
  if (!shell)
    g_assert_cmpuint (count_requests (fx, "GET", "/api/orchestration/shell", NULL), ==, 1);
  else
    g_assert_cmpuint (count_requests (fx, "GET", "/api/orchestration/snapshot", NULL), ==, 0);

  link = cas_t3_client_thread_link (fx->client, thread);
  g_assert_true (g_str_has_prefix (link, "https://t3.example/env-1/"));
  g_assert_true (g_str_has_suffix (link, thread));
}

static void
test_project_lookup (Fixture      *fx,
                     gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *body = NULL;
  g_autofree char *found = NULL;
  g_autofree char *odd_root = NULL;
  g_autofree char *missing = NULL;
  g_autofree char *repo_root = NULL;
  g_autoptr (JsonNode) answer = NULL;
  guint status;

  /* Made by someone else (the web UI) before we look. */
  body = g_strdup_printf ("{\"type\":\"project.create\",\"commandId\":\"c-1\",\"projectId\":\"p-seeded\","
                          "\"title\":\"seeded\",\"workspaceRoot\":\"%s\",\"createdAt\":\"x\"}",
                          fx->workspace);
  answer = fake_request (fx, "POST", "/api/orchestration/dispatch", body, &status);
  g_assert_cmpuint (status, ==, 200);

  /* Spelled differently, the same directory. */
  odd_root = g_strdup_printf ("%s/./", fx->workspace);
  found = ensure_project (fx, odd_root, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (found, ==, "p-seeded");
  g_assert_cmpuint (count_requests (fx, "POST", "/api/orchestration/dispatch", "project.create"), ==, 1);

  /* A root missing on the T3 host is T3's 400: not created for us. */
  missing = g_build_filename (fx->dir, "missing", NULL);
  g_assert_null (ensure_project (fx, missing, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));

  /* Our own checks, before any request. */
  g_assert_null (ensure_project (fx, "relative/path", &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (ensure_project (fx, "/tmp/a\nb", &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_cmpuint (count_requests (fx, "POST", "/api/orchestration/dispatch", "relative"), ==, 0);

  repo_root = cas_t3_client_workspace_root (fx->client, "owner/repo", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (repo_root, ==, fx->workspace);
  for (guint i = 0; i < 6; i++)
    {
      const char *bad[] = { "owner", "owner/../x", "../repo", "own er/repo", "a/b/c", "/repo" };

      g_assert_null (cas_t3_client_workspace_root (fx->client, bad[i], &error));
      g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
    }
}

/* Two clients race: the second create is rejected, and its look-up
 * again finds the first one's project. */
static void
test_project_race (Fixture      *fx,
                   gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CasT3Client) other = cas_t3_client_new (fx->config, &error);
  g_autoptr (GAsyncResult) result1 = NULL;
  g_autoptr (GAsyncResult) result2 = NULL;
  g_autofree char *project1 = NULL;
  g_autofree char *project2 = NULL;

  g_assert_no_error (error);
  cas_t3_client_ensure_project_async (fx->client, fx->workspace, "a", NULL, got_result, &result1);
  cas_t3_client_ensure_project_async (other, fx->workspace, "b", NULL, got_result, &result2);
  project1 = cas_t3_client_ensure_project_finish (fx->client, wait_for_result (&result1), &error);
  g_assert_no_error (error);
  project2 = cas_t3_client_ensure_project_finish (other, wait_for_result (&result2), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (project1, ==, project2);
}

static void
test_token (Fixture      *fx,
            gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *thread = new_thread (fx);
  g_autofree char *auth = NULL;
  g_autoptr (CasT3ThreadStatus) status = NULL;

  status = get_status (fx, thread, &error);
  g_assert_no_error (error);
  auth = last_authorization (fx);
  g_assert_cmpstr (auth, ==, "Bearer tok-1");
  g_clear_pointer (&status, cas_t3_thread_status_free);
  g_clear_pointer (&auth, g_free);

  /* Rotated between two calls: the next request carries the new one. */
  write_token (fx, "tok-2");
  status = get_status (fx, thread, &error);
  g_assert_no_error (error);
  auth = last_authorization (fx);
  g_assert_cmpstr (auth, ==, "Bearer tok-2");
  g_clear_pointer (&status, cas_t3_thread_status_free);

  write_token (fx, "revoked");
  g_assert_null (get_status (fx, thread, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_UNAUTHORIZED);
  g_assert_null (strstr (error->message, "revoked"));
  g_clear_error (&error);

  /* A token that would break the header is never sent. */
  write_token (fx, "tok-1\r\nX-Evil: 1");
  g_assert_null (get_status (fx, thread, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
  g_assert_null (strstr (error->message, "Evil"));
  g_clear_error (&error);

  g_assert_cmpint (g_unlink (fx->token_file), ==, 0);
  g_assert_null (get_status (fx, thread, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
  g_clear_error (&error);

  write_token (fx, "");
  g_assert_null (get_status (fx, thread, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
  g_clear_error (&error);

  /* A token with too few scopes: 403. */
  control (fx, "POST", "tokens", "{\"tokens\":{\"tok-1\":[\"orchestration:read\"]}}");
  write_token (fx, "tok-1");
  status = get_status (fx, thread, &error);
  g_assert_no_error (error);
  g_clear_pointer (&status, cas_t3_thread_status_free);
  g_assert_null (create_thread (fx, "p", &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_UNAUTHORIZED);
  g_assert_nonnull (strstr (error->message, "orchestration:operate"));
}

static void
test_rejected (Fixture      *fx,
               gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *thread = new_thread (fx);
  g_autofree char *created = NULL;
  g_autofree char *body = NULL;
  g_autoptr (JsonNode) answer = NULL;
  guint status;

  /* A thread in a project T3 does not have: the business-rule 500. */
  g_assert_null (create_thread (fx, "no-such-project", &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFLICT);
  g_assert_true (cas_t3_client_error_is_rejected (error));
  g_clear_error (&error);

  /* A turn on a thread T3 does not have is found out before sending. */
  g_assert_null (start_turn (fx, "no-such-thread", "hello", &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND);
  g_assert_false (cas_t3_client_error_is_rejected (error));
  g_clear_error (&error);
  g_assert_cmpuint (count_requests (fx, "POST", "/api/orchestration/dispatch", "no-such-thread"), ==, 0);

  /* Archived: gone from the client's view. */
  body = g_strdup_printf ("{\"type\":\"thread.archive\",\"commandId\":\"arch-1\",\"threadId\":\"%s\"}", thread);
  answer = fake_request (fx, "POST", "/api/orchestration/dispatch", body, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_null (start_turn (fx, thread, "hello", &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* The same dispatch, refused in transport once: sent again with the
   * same commandId, which T3 makes safe. */
  set_fault (fx, "{\"path\":\"/api/orchestration/dispatch\",\"mode\":\"close\",\"times\":1}");
  created = new_thread (fx);
  g_assert_nonnull (created);
  g_assert_cmpuint (count_requests (fx, "POST", "/api/orchestration/dispatch", created), ==, 2);

  /* Refused every time: a transport error, not a rejection. */
  set_fault (fx, "{\"path\":\"/api/orchestration/dispatch\",\"mode\":\"close\"}");
  g_assert_null (create_thread (fx, "p", &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_FAILED);
  g_assert_false (cas_t3_client_error_is_rejected (error));
  g_clear_error (&error);

  /* A 500 that is not T3's business-rule answer (a proxy's page). */
  set_fault (fx, "{\"path\":\"/api/orchestration/dispatch\",\"mode\":\"garbage\",\"status\":500}");
  g_assert_null (create_thread (fx, "p", &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_FAILED);
  g_clear_error (&error);

  /* The pre-0.0.26 shape of a rejection. */
  set_fault (fx, "{\"path\":\"/api/orchestration/dispatch\",\"mode\":\"json\",\"status\":500,"
                 "\"body\":{\"error\":\"Thread already exists\"}}");
  g_assert_null (create_thread (fx, "p", &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFLICT);
  g_clear_error (&error);

  /* Accepted without a sequence, or with a wrong one. */
  set_fault (fx, "{\"path\":\"/api/orchestration/dispatch\",\"mode\":\"json\",\"body\":{\"sequence\":\"7\"}}");
  g_assert_null (create_thread (fx, "p", &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_FAILED);
  g_clear_error (&error);

  /* A proxy on the way answering 502. */
  set_fault (fx, "{\"path\":\"/api/orchestration/dispatch\",\"mode\":\"raw\",\"status\":502,\"body\":\"bad gateway\"}");
  g_assert_null (create_thread (fx, "p", &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_FAILED);
  g_clear_error (&error);
  control (fx, "DELETE", "faults", NULL);
}

static void
test_arguments (Fixture      *fx,
                gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *thread = new_thread (fx);
  g_autofree char *huge = NULL;
  g_autofree char *at_limit = NULL;
  g_autoptr (CasT3TurnStart) start = NULL;
  const char *bad[] = { "", "  \n\t ", "\xff\xfe" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_null (start_turn (fx, thread, bad[i], &error));
      g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
    }
  huge = g_strnfill (CAS_T3_CLIENT_MAX_PROMPT_CHARS + 1, 'x');
  g_assert_null (start_turn (fx, thread, huge, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_cmpuint (count_requests (fx, "POST", "/api/orchestration/dispatch", "thread.turn.start"), ==, 0);

  at_limit = g_strnfill (CAS_T3_CLIENT_MAX_PROMPT_CHARS, 'y');
  start = start_turn (fx, thread, at_limit, &error);
  g_assert_no_error (error);
  g_assert_nonnull (start);

  g_assert_null (create_thread (fx, "  ", &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
}

/* An issue's title, long and hostile, names a thread without harm. */
static void
test_titles (Fixture      *fx,
             gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) title = g_string_new ("Fix\r\nX-Injected: 1 \xff ");
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (JsonNode) state = NULL;
  g_autofree char *project = ensure_project (fx, fx->workspace, &error);
  g_autofree char *thread = NULL;
  JsonArray *threads;
  const char *stored;

  g_assert_no_error (error);
  for (guint i = 0; i < 300; i++)
    g_string_append (title, "ü");
  cas_t3_client_create_thread_async (fx->client, project, title->str, NULL, got_result, &result);
  thread = cas_t3_client_create_thread_finish (fx->client, wait_for_result (&result), &error);
  g_assert_no_error (error);

  state = fake_request (fx, "GET", "/_fake/state", NULL, NULL);
  threads = json_object_get_array_member (json_node_get_object (state), "threads");
  g_assert_cmpuint (json_array_get_length (threads), ==, 1);
  stored = json_object_get_string_member (json_array_get_object_element (threads, 0), "title");
  g_assert_true (g_str_has_prefix (stored, "Fix  X-Injected: 1 \xef\xbf\xbd "));
  g_assert_null (strpbrk (stored, "\r\n"));
  g_assert_cmpint (g_utf8_strlen (stored, -1), ==, 201);

  /* Nothing left once cleaned: refused. */
  g_clear_object (&result);
  cas_t3_client_create_thread_async (fx->client, project, "\x7f\t\n ", NULL, got_result, &result);
  g_assert_null (cas_t3_client_create_thread_finish (fx->client, wait_for_result (&result), &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
}

static void
test_liveness (Fixture      *fx,
               gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *thread = new_thread (fx);
  g_autofree char *path = NULL;
  g_autofree char *approval = NULL;
  g_autofree char *question = NULL;
  g_autofree char *body = NULL;
  g_autoptr (CasT3TurnStart) start = NULL;
  g_autoptr (CasT3ThreadStatus) status = NULL;
  g_autoptr (JsonNode) answer = NULL;
  guint http_status;

  start = start_turn (fx, thread, "go", &error);
  g_assert_no_error (error);
  g_free (move_turn (fx, thread, "running"));

  path = g_strdup_printf ("threads/%s/approval", thread);
  approval = control_string (fx, path, "{}", "requestId");
  status = get_status (fx, thread, &error);
  g_assert_no_error (error);
  g_assert_true (status->has_pending_approvals);
  g_assert_false (status->has_pending_user_input);
  g_assert_cmpint (cas_t3_thread_status_get_outcome (status, start->previous_turn_id,
                                                     start->previous_session_updated_at),
                   ==, CAS_T3_OUTCOME_NEEDS_INPUT);
  g_clear_pointer (&status, cas_t3_thread_status_free);

  g_free (path);
  path = g_strdup_printf ("threads/%s/user-input", thread);
  question = control_string (fx, path, "{}", "requestId");
  status = get_status (fx, thread, &error);
  g_assert_no_error (error);
  g_assert_true (status->has_pending_approvals);
  g_assert_true (status->has_pending_user_input);
  g_clear_pointer (&status, cas_t3_thread_status_free);

  /* Answered (by a person in the web UI): no longer pending. */
  body = g_strdup_printf ("{\"type\":\"thread.approval.respond\",\"commandId\":\"r-1\",\"threadId\":\"%s\","
                          "\"requestId\":\"%s\",\"decision\":\"accept\",\"createdAt\":\"x\"}",
                          thread, approval);
  answer = fake_request (fx, "POST", "/api/orchestration/dispatch", body, &http_status);
  g_assert_cmpuint (http_status, ==, 200);
  status = get_status (fx, thread, &error);
  g_assert_no_error (error);
  g_assert_false (status->has_pending_approvals);
  g_assert_true (status->has_pending_user_input);
  g_clear_pointer (&status, cas_t3_thread_status_free);

  /* The session, set by hand. */
  g_free (path);
  path = g_strdup_printf ("threads/%s/session", thread);
  control (fx, "POST", path, "{\"status\":\"interrupted\"}");
  status = get_status (fx, thread, &error);
  g_assert_no_error (error);
  g_assert_cmpint (status->session_status, ==, CAS_T3_SESSION_INTERRUPTED);
  g_assert_cmpint (status->turn_state, ==, CAS_T3_TURN_RUNNING);
  g_assert_false (cas_t3_thread_status_is_busy (status));
  g_clear_pointer (&status, cas_t3_thread_status_free);
  g_free (move_turn (fx, thread, "interrupted"));
  status = get_status (fx, thread, &error);
  g_assert_no_error (error);
  g_assert_cmpint (status->turn_state, ==, CAS_T3_TURN_INTERRUPTED);
  g_clear_pointer (&status, cas_t3_thread_status_free);

  /* The question answered too. */
  g_free (body);
  body = g_strdup_printf ("{\"type\":\"thread.user-input.respond\",\"commandId\":\"r-2\",\"threadId\":\"%s\","
                          "\"requestId\":\"%s\",\"answers\":{\"q-1\":\"parser\"},\"createdAt\":\"x\"}",
                          thread, question);
  g_clear_pointer (&answer, json_node_unref);
  answer = fake_request (fx, "POST", "/api/orchestration/dispatch", body, &http_status);
  g_assert_cmpuint (http_status, ==, 200);

  /* A provider that cannot start: session error, no new turn. */
  g_clear_pointer (&start, cas_t3_turn_start_free);
  start = start_turn (fx, thread, "again", &error);
  g_assert_no_error (error);
  g_free (path);
  path = g_strdup_printf ("threads/%s/turn-start-failed", thread);
  control (fx, "POST", path, "{\"detail\":\"claude: not logged in\"}");
  status = get_status (fx, thread, &error);
  g_assert_no_error (error);
  g_assert_false (cas_t3_thread_status_has_new_turn (status, start->previous_turn_id));
  g_assert_cmpint (status->session_status, ==, CAS_T3_SESSION_ERROR);
  g_assert_cmpstr (status->session_last_error, ==, "claude: not logged in");
  g_assert_cmpint (cas_t3_thread_status_get_outcome (status, start->previous_turn_id,
                                                     start->previous_session_updated_at),
                   ==, CAS_T3_OUTCOME_NOT_STARTED);
  g_clear_pointer (&status, cas_t3_thread_status_free);

  /* The next dispatch, on a session still in error from that failure:
   * the old error does not make the new turn "not started". */
  g_clear_pointer (&start, cas_t3_turn_start_free);
  control (fx, "DELETE", "faults", NULL);
  start = start_turn (fx, thread, "once more", &error);
  g_assert_no_error (error);
  status = get_status (fx, thread, &error);
  g_assert_no_error (error);
  g_assert_cmpint (cas_t3_thread_status_get_outcome (status, start->previous_turn_id,
                                                     start->previous_session_updated_at),
                   ==, CAS_T3_OUTCOME_WAITING);
}

/* Hostile answers on the read path: errors, never a crash. */
static void
test_hostile (Fixture      *fx,
              gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *thread = new_thread (fx);
  g_autoptr (CasT3ThreadStatus) status = NULL;
  const char *path = read_path (fx);
  gboolean shell = strcmp (fx->shape, "shell") == 0;
  struct {
    const char *body;
    int code;              /* -1: no error */
  } cases[] = {
    { "[1,2]", CAS_ERROR_FAILED },
    { "{}", CAS_ERROR_FAILED },
    { "{\"threads\":5}", CAS_ERROR_FAILED },
    { "{\"threads\":{\"id\":\"%s\"}}", CAS_ERROR_FAILED },
    { "{\"threads\":[1,\"x\",null]}", CAS_ERROR_NOT_FOUND },
    { "{\"threads\":[{\"id\":7}]}", CAS_ERROR_NOT_FOUND },
    { "{\"threads\":[{\"id\":\"%s\",\"latestTurn\":7}]}", CAS_ERROR_FAILED },
    { "{\"threads\":[{\"id\":\"%s\",\"latestTurn\":{\"turnId\":3}}]}", CAS_ERROR_FAILED },
    { "{\"threads\":[{\"id\":\"%s\",\"latestTurn\":{\"turnId\":\"\"}}]}", CAS_ERROR_FAILED },
    { "{\"threads\":[{\"id\":\"%s\",\"session\":\"running\"}]}", CAS_ERROR_FAILED },
    { "{\"threads\":[{\"id\":\"%s\",\"session\":{\"status\":\"running\",\"lastError\":[1]}}]}", CAS_ERROR_FAILED },
    { "{\"threads\":[{\"id\":\"%s\",\"deletedAt\":\"x\"}]}", CAS_ERROR_NOT_FOUND },
    /* States T3 may add later mean "wait", not an error. */
    { "{\"threads\":[{\"id\":\"%s\",\"latestTurn\":{\"turnId\":\"t\",\"state\":\"pending\"},"
      "\"session\":{\"status\":\"warming\"}}]}", -1 },
    { "{\"threads\":[{\"id\":\"%s\",\"latestTurn\":{\"turnId\":\"t\",\"state\":{\"x\":1}}}]}", -1 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto (GStrv) parts = g_strsplit (cases[i].body, "%s", -1);
      g_autofree char *answer = g_strjoinv (thread, parts);
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      g_autoptr (JsonNode) fault = NULL;
      g_autofree char *fault_text = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "path");
      json_builder_add_string_value (builder, path);
      json_builder_set_member_name (builder, "mode");
      json_builder_add_string_value (builder, "raw");
      json_builder_set_member_name (builder, "body");
      json_builder_add_string_value (builder, answer);
      json_builder_end_object (builder);
      fault = json_builder_get_root (builder);
      fault_text = json_to_string (fault, FALSE);
      set_fault (fx, fault_text);

      status = get_status (fx, thread, &error);
      if (cases[i].code < 0)
        {
          g_assert_no_error (error);
          g_assert_cmpint (status->turn_state, ==, CAS_T3_TURN_UNKNOWN);
          g_clear_pointer (&status, cas_t3_thread_status_free);
        }
      else
        {
          g_assert_error (error, CAS_ERROR, cases[i].code);
          g_assert_null (status);
          g_clear_error (&error);
        }
    }

  if (shell)
    {
      g_autofree char *fault = g_strdup_printf (
        "{\"path\":\"%s\",\"mode\":\"json\",\"body\":{\"threads\":[{\"id\":\"%s\",\"hasPendingApprovals\":\"yes\"}]}}",
        path, thread);

      set_fault (fx, fault);
      g_assert_null (get_status (fx, thread, &error));
      g_assert_error (error, CAS_ERROR, CAS_ERROR_FAILED);
      g_clear_error (&error);
    }
  else
    {
      /* Activities of the wrong shape are skipped, not trusted. */
      g_autofree char *fault = g_strdup_printf (
        "{\"path\":\"%s\",\"mode\":\"json\",\"body\":{\"threads\":[{\"id\":\"%s\",\"activities\":"
        "[1,{\"kind\":\"approval.requested\"},{\"kind\":\"approval.requested\",\"payload\":{\"requestId\":5}},"
        "{\"kind\":\"user-input.requested\",\"payload\":{\"requestId\":\"q\"}},"
        "{\"kind\":\"user-input.resolved\",\"payload\":{\"requestId\":\"q\"}}]}]}}",
        path, thread);

      set_fault (fx, fault);
      status = get_status (fx, thread, &error);
      g_assert_no_error (error);
      g_assert_false (status->has_pending_approvals);
      g_assert_false (status->has_pending_user_input);
      g_clear_pointer (&status, cas_t3_thread_status_free);
      g_free (fault);
      fault = g_strdup_printf ("{\"path\":\"%s\",\"mode\":\"json\",\"body\":{\"threads\":[{\"id\":\"%s\","
                               "\"activities\":{}}]}}", path, thread);
      set_fault (fx, fault);
      g_assert_null (get_status (fx, thread, &error));
      g_assert_error (error, CAS_ERROR, CAS_ERROR_FAILED);
      g_clear_error (&error);
    }

  /* Not JSON at all, or not UTF-8. */
  {
    g_autofree char *fault = g_strdup_printf ("{\"path\":\"%s\",\"mode\":\"garbage\"}", path);

    set_fault (fx, fault);
    g_assert_null (get_status (fx, thread, &error));
    g_assert_error (error, CAS_ERROR, CAS_ERROR_FAILED);
    g_clear_error (&error);
  }
  /* An error status with garbage: still the status's meaning. */
  {
    g_autofree char *fault = g_strdup_printf ("{\"path\":\"%s\",\"mode\":\"garbage\",\"status\":401}", path);

    set_fault (fx, fault);
    g_assert_null (get_status (fx, thread, &error));
    g_assert_error (error, CAS_ERROR, CAS_ERROR_UNAUTHORIZED);
    g_clear_error (&error);
  }
  /* Oversized, with a length up front and without one. */
  cas_t3_client_set_max_body_bytes (fx->client, 1024 * 1024);
  for (guint chunked = 0; chunked < 2; chunked++)
    {
      g_autofree char *fault = g_strdup_printf (
        "{\"path\":\"%s\",\"mode\":\"huge\",\"bytes\":%u,\"chunked\":%s}",
        path, 3 * 1024 * 1024, chunked ? "true" : "false");

      set_fault (fx, fault);
      g_assert_null (get_status (fx, thread, &error));
      g_assert_error (error, CAS_ERROR, CAS_ERROR_FAILED);
      g_assert_nonnull (strstr (error->message, "1048576"));
      g_clear_error (&error);
    }
  /* Under the limit it is read. */
  {
    g_autofree char *fault = g_strdup_printf ("{\"path\":\"%s\",\"mode\":\"huge\",\"bytes\":900000,\"chunked\":true}",
                                              path);

    set_fault (fx, fault);
    g_assert_null (get_status (fx, thread, &error));
    g_assert_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND);
    g_clear_error (&error);
  }
  /* The connection closed without an answer. */
  {
    g_autofree char *fault = g_strdup_printf ("{\"path\":\"%s\",\"mode\":\"close\"}", path);

    set_fault (fx, fault);
    g_assert_null (get_status (fx, thread, &error));
    g_assert_error (error, CAS_ERROR, CAS_ERROR_FAILED);
    g_clear_error (&error);
  }

  control (fx, "DELETE", "faults", NULL);
  status = get_status (fx, thread, &error);
  g_assert_no_error (error);
}

typedef struct {
  Fixture *fx;
  GCancellable *cancellable;
  const char *path;
} HangWatch;

static gboolean
cancel_once_received (gpointer user_data)
{
  HangWatch *watch = user_data;

  if (count_requests (watch->fx, "GET", watch->path, NULL) == 0)
    return G_SOURCE_CONTINUE;
  g_cancellable_cancel (watch->cancellable);
  return G_SOURCE_REMOVE;
}

/* A server that never answers: cut by the caller's cancellable once the
 * request is known to be waiting there. */
static void
test_hang (Fixture      *fx,
           gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *thread = new_thread (fx);
  g_autofree char *fault = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (CasT3ThreadStatus) status = NULL;
  HangWatch watch = { fx, cancellable, read_path (fx) };

  control (fx, "DELETE", "requests", NULL);
  fault = g_strdup_printf ("{\"path\":\"%s\",\"mode\":\"hang\"}", watch.path);
  set_fault (fx, fault);
  cas_t3_client_get_thread_status_async (fx->client, thread, cancellable, got_result, &result);
  g_timeout_add (10, cancel_once_received, &watch);
  status = cas_t3_client_get_thread_status_finish (fx->client, wait_for_result (&result), &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (status);
  g_clear_error (&error);

  /* Without a cancellable, the client's own timeout cuts it. */
  cas_t3_client_set_timeout (fx->client, 1);
  g_assert_null (get_status (fx, thread, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_TIMED_OUT);
  g_assert_false (cas_t3_client_error_is_rejected (error));
  g_clear_error (&error);

  /* The client is still usable. */
  control (fx, "DELETE", "faults", NULL);
  status = get_status (fx, thread, &error);
  g_assert_no_error (error);
}

/* A server with neither /shell nor /snapshot is not T3: no "not found"
 * that would read as a vanished thread. */
static void
test_not_t3 (Fixture      *fx,
             gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  set_fault (fx, "{\"path\":\"/api/orchestration/shell\",\"mode\":\"json\",\"status\":404,\"body\":{}}");
  set_fault (fx, "{\"path\":\"/api/orchestration/snapshot\",\"mode\":\"json\",\"status\":404,\"body\":{}}");
  g_assert_null (get_status (fx, "t", &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_null (ensure_project (fx, fx->workspace, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_FAILED);
}

static void
test_config (void)
{
  const char *bad[] = {
    "[t3]\n",
    "[t3]\nbase-url=ftp://example.com\n",
    "[t3]\nbase-url=not a url\n",
    "[t3]\nbase-url=http://\n",
    "[t3]\nbase-url=http://example.com/?q=1\n",
    "[t3]\nbase-url=http://example.com\nlink-base-url=javascript:alert(1)\n",
    "[t3]\nbase-url=http://user:secret@example.com\n",
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (CasConfig) config = NULL;
  g_autoptr (CasT3Client) client = NULL;
  g_autofree char *link = NULL;
  g_autofree char *root = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (CasConfig) c = make_config (bad[i]);

      g_assert_null (cas_t3_client_new (c, &error));
      g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
      g_assert_null (strstr (error->message, "secret"));
      g_clear_error (&error);
    }

  config = make_config ("[t3]\nbase-url=https://t3.example//\n");
  client = cas_t3_client_new (config, &error);
  g_assert_no_error (error);
  link = cas_t3_client_thread_link (client, "a b/c?d");
  g_assert_cmpstr (link, ==, "https://t3.example/a%20b%2Fc%3Fd");
  root = cas_t3_client_workspace_root (client, "o/r", &error);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
  g_assert_null (root);
}

/* The pure core on read models written by hand. */
static void
test_read_model (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) model = NULL;
  g_autoptr (CasT3ThreadStatus) status = NULL;
  g_autofree char *project = NULL;
  const char *text =
    "{\"projects\":[{\"id\":\"p-old\",\"workspaceRoot\":\"/w/a\",\"deletedAt\":\"x\"},"
    "{\"id\":\"p-rel\",\"workspaceRoot\":\"w/a\"},{\"id\":\"p\",\"workspaceRoot\":\"/w//a/\"}],"
    "\"threads\":[{\"id\":\"t1\",\"archivedAt\":\"x\"},"
    "{\"id\":\"t2\",\"latestTurn\":null,\"session\":null,\"activities\":["
    "{\"kind\":\"approval.resolved\",\"payload\":{\"requestId\":\"a\"}},"
    "{\"kind\":\"approval.requested\",\"payload\":{\"requestId\":\"a\"}},"
    "{\"kind\":\"approval.requested\",\"payload\":{\"requestId\":\"b\"}}]}]}";
  JsonNode *node = json_from_string (text, &error);

  g_assert_no_error (error);
  model = json_object_ref (json_node_get_object (node));
  json_node_unref (node);

  g_assert_true (cas_t3_find_project (model, "/w/a", &project, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (project, ==, "p");

  g_assert_null (cas_t3_thread_status_from_read_model (model, CAS_T3_API_SNAPSHOT, "t1", &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND);
  g_clear_error (&error);

  status = cas_t3_thread_status_from_read_model (model, CAS_T3_API_SNAPSHOT, "t2", &error);
  g_assert_no_error (error);
  g_assert_true (status->has_pending_approvals);
  g_assert_false (cas_t3_thread_status_has_new_turn (status, NULL));
  g_clear_pointer (&status, cas_t3_thread_status_free);
  /* On the shell the flags are T3's, and absent means none. */
  status = cas_t3_thread_status_from_read_model (model, CAS_T3_API_SHELL, "t2", &error);
  g_assert_no_error (error);
  g_assert_false (status->has_pending_approvals);
}

/* The outcome of our turn on states only v0.0.27 shows, by hand. */
static void
test_outcome (void)
{
  CasT3ThreadStatus status = { 0 };

  status.latest_turn_id = (char *) "t2";
  status.turn_state = CAS_T3_TURN_COMPLETED;
  status.session_status = CAS_T3_SESSION_RUNNING;
  status.session_active_turn_id = (char *) "t2";
  /* Settled early, while the session still works on it. */
  g_assert_cmpint (cas_t3_thread_status_get_outcome (&status, "t1", NULL), ==, CAS_T3_OUTCOME_WORKING);
  status.session_active_turn_id = NULL;
  g_assert_cmpint (cas_t3_thread_status_get_outcome (&status, "t1", NULL), ==, CAS_T3_OUTCOME_WORKING);
  status.session_status = CAS_T3_SESSION_READY;
  g_assert_cmpint (cas_t3_thread_status_get_outcome (&status, "t1", NULL), ==, CAS_T3_OUTCOME_COMPLETED);
  /* The session ended and left the turn running. */
  status.turn_state = CAS_T3_TURN_RUNNING;
  status.session_status = CAS_T3_SESSION_ERROR;
  g_assert_cmpint (cas_t3_thread_status_get_outcome (&status, "t1", NULL), ==, CAS_T3_OUTCOME_FAILED);
  status.session_status = CAS_T3_SESSION_STOPPED;
  g_assert_cmpint (cas_t3_thread_status_get_outcome (&status, "t1", NULL), ==, CAS_T3_OUTCOME_INTERRUPTED);
  /* A state T3 may add later: wait. */
  status.turn_state = CAS_T3_TURN_UNKNOWN;
  status.session_status = CAS_T3_SESSION_UNKNOWN;
  g_assert_cmpint (cas_t3_thread_status_get_outcome (&status, "t1", NULL), ==, CAS_T3_OUTCOME_WORKING);
  /* Not ours yet. */
  g_assert_cmpint (cas_t3_thread_status_get_outcome (&status, "t2", NULL), ==, CAS_T3_OUTCOME_WAITING);
  status.session_status = CAS_T3_SESSION_ERROR;
  status.session_updated_at = (char *) "2026-01-01T00:00:00.000Z";
  g_assert_cmpint (cas_t3_thread_status_get_outcome (&status, "t2", "2026-01-01T00:00:00.000Z"),
                   ==, CAS_T3_OUTCOME_WAITING);
  g_assert_cmpint (cas_t3_thread_status_get_outcome (&status, "t2", NULL), ==, CAS_T3_OUTCOME_NOT_STARTED);
  status.has_pending_user_input = TRUE;
  g_assert_cmpint (cas_t3_thread_status_get_outcome (&status, "t2", NULL), ==, CAS_T3_OUTCOME_NEEDS_INPUT);

  g_assert_cmpstr (cas_t3_outcome_to_string (CAS_T3_OUTCOME_NOT_STARTED), ==, "not-started");
  g_assert_cmpstr (cas_t3_outcome_to_string ((CasT3Outcome) 99), ==, "unknown");
}

static void
test_delete_thread (Fixture      *fx,
                    gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *thread = new_thread (fx);

  g_assert_true (delete_thread (fx, thread, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_requests (fx, "POST", "/api/orchestration/dispatch", "thread.delete"),
                    ==, 1);
  /* Gone: a second delete is a business-rule rejection. */
  g_assert_false (delete_thread (fx, thread, &error));
  g_assert_true (cas_t3_client_error_is_rejected (error));
  g_clear_error (&error);
  /* Not an id: refused before any request. */
  g_assert_false (delete_thread (fx, "", &error));
  g_assert_nonnull (error);
  g_assert_cmpuint (count_requests (fx, "POST", "/api/orchestration/dispatch", "thread.delete"),
                    ==, 2);
}

static void
add_shaped (const char *name,
            void (*test) (Fixture *, gconstpointer))
{
  const char *shapes[] = { "shell", "snapshot" };

  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      g_autofree char *path = g_strdup_printf ("/t3-client/%s/%s", shapes[i], name);

      g_test_add (path, Fixture, shapes[i], fixture_setup, test, fixture_teardown);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/t3-client/config", test_config);
  g_test_add_func ("/t3-client/read-model", test_read_model);
  g_test_add_func ("/t3-client/outcome", test_outcome);
  add_shaped ("calls", test_calls);
  add_shaped ("delete-thread", test_delete_thread);
  add_shaped ("project-lookup", test_project_lookup);
  add_shaped ("project-race", test_project_race);
  add_shaped ("token", test_token);
  add_shaped ("rejected", test_rejected);
  add_shaped ("arguments", test_arguments);
  add_shaped ("titles", test_titles);
  add_shaped ("liveness", test_liveness);
  add_shaped ("hostile", test_hostile);
  add_shaped ("hang", test_hang);
  add_shaped ("not-t3", test_not_t3);
  return g_test_run ();
}
