/* CasWoodpecker against tests/fakes/fake_woodpecker.py on a free port:
 * the pipeline of a commit (newest, by event, across pages), every status,
 * the token and what Woodpecker refuses, answers that are garbage, too
 * big, redirected or of the wrong shape, bad input that never reaches the
 * network, configuration errors, and cancelling. */
#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "cas-config.h"
#include "cas-error.h"
#include "cas-woodpecker.h"

#define TOKEN "test-token-c0ffee"
#define SHA "0123456789abcdef0123456789abcdef01234567"
#define OTHER_SHA "fedcba9876543210fedcba9876543210fedcba98"

typedef struct {
  GSubprocess *fake;
  char *dir;
  char *url;
  SoupSession *control;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *port_file = NULL;
  g_autofree char *line = NULL;
  g_autofree char *contents = NULL;
  g_autoptr (GDataInputStream) out = NULL;
  const char *python = g_getenv ("CAS_PYTHON");
  const char *script = g_getenv ("CAS_FAKE_WOODPECKER");
  guint64 port;

  g_assert_nonnull (script);
  fixture->dir = g_dir_make_tmp ("cas-woodpecker-XXXXXX", &error);
  g_assert_no_error (error);
  port_file = g_build_filename (fixture->dir, "port", NULL);
  fixture->fake = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                                    python != NULL ? python : "/usr/bin/python3", script,
                                    "--port-file", port_file, "--token", TOKEN, NULL);
  g_assert_no_error (error);
  /* The fake writes its port once it listens: wait for that line. */
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (fixture->fake));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (g_file_get_contents (port_file, &contents, NULL, NULL));
  g_assert_cmpstr (g_strstrip (contents), ==, line);
  g_assert_true (g_ascii_string_to_unsigned (line, 10, 1, 65535, &port, NULL));
  fixture->url = g_strdup_printf ("http://127.0.0.1:%" G_GUINT64_FORMAT, port);
  fixture->control = soup_session_new ();
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *port_file = g_build_filename (fixture->dir, "port", NULL);

  g_subprocess_send_signal (fixture->fake, SIGTERM);
  g_subprocess_wait (fixture->fake, NULL, NULL);
  g_clear_object (&fixture->fake);
  g_clear_object (&fixture->control);
  g_unlink (port_file);
  g_rmdir (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->url);
}

/* The control API: POST @json to @path, or GET when @json is NULL. */
static JsonNode *
control (Fixture    *fixture,
         const char *path,
         const char *json)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *uri = g_strconcat (fixture->url, path, NULL);
  g_autoptr (SoupMessage) message = soup_message_new (json != NULL ? "POST" : "GET", uri);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();

  if (json != NULL)
    {
      g_autoptr (GBytes) request = g_bytes_new (json, strlen (json));

      soup_message_set_request_body_from_bytes (message, "application/json", request);
    }
  body = soup_session_send_and_read (fixture->control, message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (message), ==, 200);
  json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                              &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

static void
control_post (Fixture    *fixture,
              const char *path,
              const char *json)
{
  g_autoptr (JsonNode) answer = control (fixture, path, json);
}

static void
add_pipeline (Fixture    *fixture,
              const char *repo,
              const char *commit,
              const char *status,
              const char *event,
              int         number)
{
  g_autofree char *json = NULL;
  g_autoptr (JsonNode) answer = NULL;

  if (number > 0)
    json = g_strdup_printf ("{\"repo\": \"%s\", \"commit\": \"%s\", \"status\": \"%s\", "
                            "\"event\": \"%s\", \"number\": %d}",
                            repo, commit, status, event, number);
  else
    json = g_strdup_printf ("{\"repo\": \"%s\", \"commit\": \"%s\", \"status\": \"%s\", "
                            "\"event\": \"%s\"}",
                            repo, commit, status, event);
  answer = control (fixture, "/_fake/pipelines", json);
}

static void
set_mode (Fixture    *fixture,
          const char *mode,
          const char *paths_json)
{
  g_autofree char *json = g_strdup_printf ("{\"mode\": \"%s\", \"paths\": %s}", mode,
                                           paths_json != NULL ? paths_json : "null");
  g_autoptr (JsonNode) answer = control (fixture, "/_fake/mode", json);
}

/* The API requests the fake has seen, as "path?query" strings. */
static GPtrArray *
requests (Fixture *fixture)
{
  g_autoptr (JsonNode) root = control (fixture, "/_fake/requests", NULL);
  JsonArray *array = json_node_get_array (root);
  GPtrArray *seen = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *request = json_array_get_object_element (array, i);
      JsonObject *query = json_object_get_object_member (request, "query");
      g_autoptr (GString) text = g_string_new (json_object_get_string_member (request, "path"));

      /* Every request carries the token and asks for JSON. */
      g_assert_cmpstr (json_object_get_string_member (request, "authorization"), ==,
                       "Bearer " TOKEN);
      g_assert_cmpstr (json_object_get_string_member (request, "accept"), ==, "application/json");
      if (json_object_has_member (query, "page"))
        g_string_append_printf (text, "?page=%s&perPage=%s",
                                json_object_get_string_member (query, "page"),
                                json_object_get_string_member (query, "perPage"));
      g_ptr_array_add (seen, g_string_free (g_steal_pointer (&text), FALSE));
    }
  return seen;
}

static void
clear_requests (Fixture *fixture)
{
  /* A reset also forgets repositories and pipelines: only for a fresh start. */
  g_autoptr (JsonNode) answer = control (fixture, "/_fake/reset", "{}");
}

typedef struct {
  gboolean done;
  gboolean ok;
  CasCiVerdict verdict;
  CasWoodpeckerPipeline *pipeline;
  GError *error;
} Wait;

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Wait *wait = user_data;

  wait->ok = cas_woodpecker_get_pipeline_finish (CAS_WOODPECKER (source), result, &wait->verdict,
                                                 &wait->pipeline, &wait->error);
  wait->done = TRUE;
}

static gboolean
get_pipeline (CasWoodpecker          *woodpecker,
              const char             *repository,
              const char             *commit,
              const char             *event,
              GCancellable           *cancellable,
              CasCiVerdict           *verdict,
              CasWoodpeckerPipeline **pipeline,
              GError                **error)
{
  Wait wait = { 0 };

  wait.verdict = (CasCiVerdict) 99;
  cas_woodpecker_get_pipeline_async (woodpecker, repository, commit, event, cancellable,
                                     on_done, &wait);
  while (!wait.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (wait.ok == (wait.error == NULL));
  if (!wait.ok)
    {
      g_assert_null (wait.pipeline);
      g_assert_cmpint (wait.verdict, ==, 99);
      g_propagate_error (error, wait.error);
      return FALSE;
    }
  *verdict = wait.verdict;
  *pipeline = wait.pipeline;
  return TRUE;
}

static CasWoodpecker *
woodpecker_for (Fixture    *fixture,
                const char *token)
{
  g_autoptr (GError) error = NULL;
  CasWoodpecker *woodpecker = cas_woodpecker_new_for_url (fixture->url, token, &error);

  g_assert_no_error (error);
  g_assert_true (cas_woodpecker_is_configured (woodpecker));
  return woodpecker;
}

static void
test_pipeline_for_commit (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr (CasWoodpecker) woodpecker = woodpecker_for (fixture, TOKEN);
  g_autoptr (GError) error = NULL;
  g_autoptr (CasWoodpeckerPipeline) pipeline = NULL;
  g_autoptr (GPtrArray) seen = NULL;
  g_autofree char *link = NULL;
  CasCiVerdict verdict;

  /* Oldest first: a pull request build of ours, our push, a restart of
   * it, then someone else's failed push on top. */
  control_post (fixture, "/_fake/repos", "{\"full_name\": \"owner/repo\", \"id\": 7}");
  add_pipeline (fixture, "owner/repo", SHA, "failure", "pull_request", 0);
  add_pipeline (fixture, "owner/repo", SHA, "failure", "push", 0);
  add_pipeline (fixture, "owner/repo", SHA, "success", "push", 0);
  add_pipeline (fixture, "owner/repo", OTHER_SHA, "failure", "push", 0);
  add_pipeline (fixture, "other/repo", SHA, "killed", "push", 0);

  g_assert_true (get_pipeline (woodpecker, "owner/repo", SHA, "push", NULL, &verdict, &pipeline,
                               &error));
  g_assert_no_error (error);
  g_assert_cmpint (verdict, ==, CAS_CI_VERDICT_GREEN);
  g_assert_nonnull (pipeline);
  g_assert_cmpint (pipeline->number, ==, 3);
  g_assert_cmpstr (pipeline->status, ==, "success");
  g_assert_cmpstr (pipeline->event, ==, "push");
  g_assert_cmpstr (pipeline->commit, ==, SHA);
  g_assert_cmpstr (pipeline->branch, ==, "main");
  link = g_strdup_printf ("%s/repos/7/pipeline/3", fixture->url);
  g_assert_cmpstr (pipeline->link, ==, link);
  g_clear_pointer (&pipeline, cas_woodpecker_pipeline_free);

  /* Any event: the newest of the commit, whatever started it. */
  add_pipeline (fixture, "owner/repo", SHA, "running", "manual", 0);
  g_assert_true (get_pipeline (woodpecker, "owner/repo", SHA, NULL, NULL, &verdict, &pipeline,
                               &error));
  g_assert_cmpint (verdict, ==, CAS_CI_VERDICT_PENDING);
  g_assert_cmpint (pipeline->number, ==, 5);
  g_clear_pointer (&pipeline, cas_woodpecker_pipeline_free);

  /* A sha in capitals is the same commit. */
  {
    g_autofree char *upper = g_ascii_strup (SHA, -1);

    g_assert_true (get_pipeline (woodpecker, "owner/repo", upper, "push", NULL, &verdict,
                                 &pipeline, &error));
    g_assert_cmpint (verdict, ==, CAS_CI_VERDICT_GREEN);
    g_clear_pointer (&pipeline, cas_woodpecker_pipeline_free);
  }

  /* The repository was looked up once. */
  seen = requests (fixture);
  g_assert_cmpuint (seen->len, ==, 4);
  g_assert_cmpstr (seen->pdata[0], ==, "/api/repos/lookup/owner/repo");
  for (guint i = 1; i < seen->len; i++)
    g_assert_cmpstr (seen->pdata[i], ==, "/api/repos/7/pipelines?page=1&perPage=50");
}

static void
test_statuses (Fixture       *fixture,
               gconstpointer  data)
{
  static const struct {
    const char *status;
    CasCiVerdict verdict;
  } cases[] = {
    { "pending", CAS_CI_VERDICT_PENDING },
    { "running", CAS_CI_VERDICT_PENDING },
    { "blocked", CAS_CI_VERDICT_PENDING },
    { "success", CAS_CI_VERDICT_GREEN },
    { "skipped", CAS_CI_VERDICT_GREEN },
    { "failure", CAS_CI_VERDICT_RED },
    { "error", CAS_CI_VERDICT_RED },
    { "killed", CAS_CI_VERDICT_RED },
    { "declined", CAS_CI_VERDICT_RED },
    { "something-new", CAS_CI_VERDICT_PENDING },
  };
  g_autoptr (CasWoodpecker) woodpecker = woodpecker_for (fixture, TOKEN);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CasWoodpeckerPipeline) pipeline = NULL;
      CasCiVerdict verdict;

      /* The same pipeline, its status moving on. */
      add_pipeline (fixture, "owner/repo", SHA, cases[i].status, "push", 1);
      g_assert_true (get_pipeline (woodpecker, "owner/repo", SHA, "push", NULL, &verdict,
                                   &pipeline, &error));
      g_assert_cmpint (verdict, ==, cases[i].verdict);
      g_assert_cmpstr (pipeline->status, ==, cases[i].status);
    }
}

static void
test_no_pipeline (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr (CasWoodpecker) woodpecker = woodpecker_for (fixture, TOKEN);
  g_autoptr (GError) error = NULL;
  g_autoptr (CasWoodpeckerPipeline) pipeline = NULL;
  CasCiVerdict verdict;

  /* A repository with no pipelines at all. */
  control_post (fixture, "/_fake/repos", "{\"full_name\": \"owner/repo\"}");
  g_assert_true (get_pipeline (woodpecker, "owner/repo", SHA, "push", NULL, &verdict, &pipeline,
                               &error));
  g_assert_cmpint (verdict, ==, CAS_CI_VERDICT_NONE);
  g_assert_null (pipeline);

  /* Only other commits, and our commit only for another event. */
  add_pipeline (fixture, "owner/repo", OTHER_SHA, "success", "push", 0);
  add_pipeline (fixture, "owner/repo", SHA, "success", "pull_request", 0);
  g_assert_true (get_pipeline (woodpecker, "owner/repo", SHA, "push", NULL, &verdict, &pipeline,
                               &error));
  g_assert_cmpint (verdict, ==, CAS_CI_VERDICT_NONE);
  g_assert_null (pipeline);
  /* A prefix of the sha is not the commit. */
  g_assert_true (get_pipeline (woodpecker, "owner/repo", "0123456789abcdef", NULL, NULL, &verdict,
                               &pipeline, &error));
  g_assert_cmpint (verdict, ==, CAS_CI_VERDICT_NONE);
}

static void
test_pagination (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr (CasWoodpecker) woodpecker = woodpecker_for (fixture, TOKEN);
  g_autoptr (GError) error = NULL;
  g_autoptr (CasWoodpeckerPipeline) pipeline = NULL;
  g_autoptr (GPtrArray) seen = NULL;
  g_autoptr (GString) many = g_string_new (NULL);
  CasCiVerdict verdict;

  /* Ours first, then 120 newer ones: it is on the third page. */
  add_pipeline (fixture, "owner/repo", SHA, "failure", "push", 0);
  for (guint i = 0; i < 120; i++)
    add_pipeline (fixture, "owner/repo", OTHER_SHA, "success", "push", 0);
  g_assert_true (get_pipeline (woodpecker, "owner/repo", SHA, "push", NULL, &verdict, &pipeline,
                               &error));
  g_assert_cmpint (verdict, ==, CAS_CI_VERDICT_RED);
  g_assert_cmpint (pipeline->number, ==, 1);
  seen = requests (fixture);
  g_assert_cmpuint (seen->len, ==, 4);
  g_assert_cmpstr (seen->pdata[1], ==, "/api/repos/1/pipelines?page=1&perPage=50");
  g_assert_cmpstr (seen->pdata[2], ==, "/api/repos/1/pipelines?page=2&perPage=50");
  g_assert_cmpstr (seen->pdata[3], ==, "/api/repos/1/pipelines?page=3&perPage=50");
  g_clear_pointer (&pipeline, cas_woodpecker_pipeline_free);
  g_clear_pointer (&seen, g_ptr_array_unref);

  /* 250 newer than ours (131 more): beyond the pages it reads, so none. */
  for (guint i = 0; i < 130; i++)
    add_pipeline (fixture, "owner/repo", OTHER_SHA, "success", "push", 0);
  g_assert_true (get_pipeline (woodpecker, "owner/repo", SHA, "push", NULL, &verdict, &pipeline,
                               &error));
  g_assert_cmpint (verdict, ==, CAS_CI_VERDICT_NONE);
  g_assert_null (pipeline);
  seen = requests (fixture);
  g_assert_cmpuint (seen->len, ==, 4 + CAS_WOODPECKER_MAX_PAGES);
  g_assert_cmpstr (seen->pdata[seen->len - 1], ==, "/api/repos/1/pipelines?page=5&perPage=50");
}

static void
test_refused (Fixture       *fixture,
              gconstpointer  data)
{
  g_autoptr (CasWoodpecker) wrong_token = woodpecker_for (fixture, "not-the-token");
  g_autoptr (CasWoodpecker) woodpecker = woodpecker_for (fixture, TOKEN);
  g_autoptr (CasWoodpeckerPipeline) pipeline = NULL;
  CasCiVerdict verdict;

  add_pipeline (fixture, "owner/repo", SHA, "success", "push", 0);
  {
    g_autoptr (GError) error = NULL;

    g_assert_false (get_pipeline (wrong_token, "owner/repo", SHA, "push", NULL, &verdict,
                                  &pipeline, &error));
    g_assert_error (error, CAS_ERROR, CAS_ERROR_UNAUTHORIZED);
    /* Neither token is ever in a message. */
    g_assert_null (strstr (error->message, "not-the-token"));
    g_assert_null (strstr (error->message, TOKEN));
  }
  {
    g_autoptr (GError) error = NULL;

    g_assert_false (get_pipeline (woodpecker, "owner/unknown", SHA, "push", NULL, &verdict,
                                  &pipeline, &error));
    g_assert_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND);
    g_assert_nonnull (strstr (error->message, "owner/unknown"));
    g_assert_null (strstr (error->message, TOKEN));
  }
  /* The repository goes away after its id was looked up. */
  {
    g_autoptr (GError) error = NULL;

    g_assert_true (get_pipeline (woodpecker, "owner/repo", SHA, "push", NULL, &verdict, &pipeline,
                                 &error));
    g_clear_pointer (&pipeline, cas_woodpecker_pipeline_free);
    clear_requests (fixture);
    g_assert_false (get_pipeline (woodpecker, "owner/repo", SHA, "push", NULL, &verdict,
                                  &pipeline, &error));
    g_assert_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND);
    g_clear_error (&error);
    /* Back under a new id: looked up afresh. */
    control_post (fixture, "/_fake/repos", "{\"full_name\": \"owner/repo\", \"id\": 40}");
    add_pipeline (fixture, "owner/repo", SHA, "failure", "push", 0);
    g_assert_true (get_pipeline (woodpecker, "owner/repo", SHA, "push", NULL, &verdict, &pipeline,
                                 &error));
    g_assert_cmpint (verdict, ==, CAS_CI_VERDICT_RED);
    g_assert_nonnull (strstr (pipeline->link, "/repos/40/pipeline/1"));
  }
}

static void
test_garbage (Fixture       *fixture,
              gconstpointer  data)
{
  static const struct {
    const char *mode;
    const char *paths;   /* JSON; NULL: every API path */
  } cases[] = {
    { "garbage", NULL },
    { "not-utf8", NULL },
    { "wrong-shape", NULL },
    { "wrong-item", NULL },
    { "wrong-types", NULL },
    { "huge", NULL },
    { "huge-declared", NULL },
    { "status-500", NULL },
    { "redirect", NULL },
    /* The lookup works, the list misbehaves. */
    { "garbage", "[\"/api/repos/1/\"]" },
    { "not-utf8", "[\"/api/repos/1/\"]" },
    { "wrong-shape", "[\"/api/repos/1/\"]" },
    { "wrong-item", "[\"/api/repos/1/\"]" },
    { "wrong-types", "[\"/api/repos/1/\"]" },
    { "huge", "[\"/api/repos/1/\"]" },
    { "huge-declared", "[\"/api/repos/1/\"]" },
    { "status-500", "[\"/api/repos/1/\"]" },
    { "redirect", "[\"/api/repos/1/\"]" },
  };

  add_pipeline (fixture, "owner/repo", SHA, "success", "push", 0);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      /* A new client each time: no id kept from before. */
      g_autoptr (CasWoodpecker) woodpecker = woodpecker_for (fixture, TOKEN);
      g_autoptr (GError) error = NULL;
      g_autoptr (CasWoodpeckerPipeline) pipeline = NULL;
      CasCiVerdict verdict;

      g_test_message ("mode %s on %s", cases[i].mode,
                      cases[i].paths != NULL ? cases[i].paths : "every path");
      set_mode (fixture, cases[i].mode, cases[i].paths);
      g_assert_false (get_pipeline (woodpecker, "owner/repo", SHA, "push", NULL, &verdict,
                                    &pipeline, &error));
      g_assert_error (error, CAS_ERROR, CAS_ERROR_FAILED);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_test_message ("%s", error->message);
      g_assert_null (strstr (error->message, TOKEN));
    }

  /* And back to normal, the same server answers. */
  {
    g_autoptr (CasWoodpecker) woodpecker = woodpecker_for (fixture, TOKEN);
    g_autoptr (GError) error = NULL;
    g_autoptr (CasWoodpeckerPipeline) pipeline = NULL;
    CasCiVerdict verdict;

    set_mode (fixture, "normal", NULL);
    g_assert_true (get_pipeline (woodpecker, "owner/repo", SHA, "push", NULL, &verdict, &pipeline,
                                 &error));
    g_assert_cmpint (verdict, ==, CAS_CI_VERDICT_GREEN);
  }
  /* The redirect was not followed: only the fake saw the token. */
  {
    g_autoptr (GPtrArray) seen = requests (fixture);

    for (guint i = 0; i < seen->len; i++)
      g_assert_false (g_str_has_prefix (seen->pdata[i], "/steal"));
  }
}

static void
test_bad_input (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr (CasWoodpecker) woodpecker = woodpecker_for (fixture, TOKEN);
  g_autofree char *long_sha = g_strnfill (65, 'a');
  const struct {
    const char *repository;
    const char *commit;
    const char *event;
  } bad[] = {
    { NULL, SHA, "push" },
    { "", SHA, "push" },
    { "owner", SHA, "push" },
    { "owner/repo/pipelines", SHA, "push" },
    { "../../api/user", SHA, "push" },
    { "owner/..", SHA, "push" },
    { "owner/repo?x=1", SHA, "push" },
    { "owner/re po", SHA, "push" },
    { "owner/repo%2F", SHA, "push" },
    { "\xff\xfe/repo", SHA, "push" },
    { "owner/repo", NULL, "push" },
    { "owner/repo", "", "push" },
    { "owner/repo", "abc", "push" },
    { "owner/repo", long_sha, "push" },
    { "owner/repo", "0123456789abcdeg", "push" },
    { "owner/repo", "$(touch x)", "push" },
    { "owner/repo", "0123?page=2", "push" },
    { "owner/repo", SHA, "" },
    { "owner/repo", SHA, "Push" },
    { "owner/repo", SHA, "push&x=1" },
    { "owner/repo", SHA, "a_very_long_event_name_beyond_the_limit" },
  };

  add_pipeline (fixture, "owner/repo", SHA, "success", "push", 0);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CasWoodpeckerPipeline) pipeline = NULL;
      CasCiVerdict verdict;

      g_assert_false (get_pipeline (woodpecker, bad[i].repository, bad[i].commit, bad[i].event,
                                    NULL, &verdict, &pipeline, &error));
      g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
    }
  /* None of it reached the network. */
  {
    g_autoptr (GPtrArray) seen = requests (fixture);

    g_assert_cmpuint (seen->len, ==, 0);
  }
}

static void
test_cancel (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr (CasWoodpecker) woodpecker = woodpecker_for (fixture, TOKEN);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (CasWoodpeckerPipeline) pipeline = NULL;
  CasCiVerdict verdict;

  add_pipeline (fixture, "owner/repo", SHA, "success", "push", 0);
  /* While the request is in flight. */
  {
    g_autoptr (GError) error = NULL;
    Wait wait = { 0 };

    cas_woodpecker_get_pipeline_async (woodpecker, "owner/repo", SHA, "push", cancellable,
                                       on_done, &wait);
    g_cancellable_cancel (cancellable);
    while (!wait.done)
      g_main_context_iteration (NULL, TRUE);
    g_assert_false (wait.ok);
    g_assert_error (wait.error, CAS_ERROR, CAS_ERROR_CANCELLED);
    g_clear_error (&wait.error);
  }
  /* Already cancelled. */
  {
    g_autoptr (GError) error = NULL;

    g_assert_false (get_pipeline (woodpecker, "owner/repo", SHA, "push", cancellable, &verdict,
                                  &pipeline, &error));
    g_assert_error (error, CAS_ERROR, CAS_ERROR_CANCELLED);
  }
}

static void
test_unreachable (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GInetSocketAddress) address = NULL;
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (CasWoodpecker) woodpecker = NULL;
  g_autoptr (CasWoodpeckerPipeline) pipeline = NULL;
  g_autofree char *url = NULL;
  CasCiVerdict verdict;
  Wait wait = { 0 };

  /* A port that was free a moment ago, bound and closed: nothing listens. */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  address = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new_from_string ("127.0.0.1", 0));
  g_socket_bind (socket, G_SOCKET_ADDRESS (address), FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  url = g_strdup_printf ("http://127.0.0.1:%u",
                         g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_socket_close (socket, NULL);

  woodpecker = cas_woodpecker_new_for_url (url, TOKEN, &error);
  g_assert_no_error (error);
  cas_woodpecker_get_pipeline_async (woodpecker, "owner/repo", SHA, "push", NULL, on_done, &wait);
  while (!wait.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (wait.ok);
  g_assert_error (wait.error, CAS_ERROR, CAS_ERROR_FAILED);
  g_assert_nonnull (strstr (wait.error->message, url));
  g_clear_error (&wait.error);
  (void) verdict;
  (void) pipeline;
}

static void
test_not_configured (void)
{
  const char *urls[] = { NULL, "" };

  for (guint i = 0; i < G_N_ELEMENTS (urls); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CasWoodpecker) woodpecker = cas_woodpecker_new_for_url (urls[i], NULL, &error);
      g_autoptr (CasWoodpeckerPipeline) pipeline = NULL;
      CasCiVerdict verdict;

      g_assert_no_error (error);
      g_assert_false (cas_woodpecker_is_configured (woodpecker));
      g_assert_true (get_pipeline (woodpecker, "owner/repo", SHA, "push", NULL, &verdict,
                                   &pipeline, &error));
      g_assert_cmpint (verdict, ==, CAS_CI_VERDICT_SKIPPED);
      g_assert_null (pipeline);
    }
}

static void
test_config (void)
{
  const char *bad_urls[] = {
    "ftp://ci.example.org", "ci.example.org", "not a url", "http://", "http:///path",
    "http://user:secret@ci.example.org", "https://ci.example.org/?x=1",
    "https://ci.example.org/#top", "\xff\xfe", "file:///etc/passwd", "javascript:alert(1)",
  };
  const char *bad_tokens[] = { NULL, "", "two\nlines", "a\rb", "\xff" };

  for (guint i = 0; i < G_N_ELEMENTS (bad_urls); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CasWoodpecker) woodpecker = cas_woodpecker_new_for_url (bad_urls[i], TOKEN, &error);

      g_test_message ("bad URL #%u", i);
      g_assert_null (woodpecker);
      g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
      g_assert_null (strstr (error->message, TOKEN));
      g_assert_null (strstr (error->message, "secret"));
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_tokens); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CasWoodpecker) woodpecker = cas_woodpecker_new_for_url ("https://ci.example.org",
                                                                         bad_tokens[i], &error);

      g_assert_null (woodpecker);
      g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
    }
  /* Trailing slashes and a path prefix are fine. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (CasWoodpecker) woodpecker = cas_woodpecker_new_for_url ("https://example.org/ci//",
                                                                       TOKEN, &error);

    g_assert_no_error (error);
    g_assert_true (cas_woodpecker_is_configured (woodpecker));
  }
}

static void
test_from_config (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("cas-woodpecker-XXXXXX", &error);
  g_autofree char *token_file = g_build_filename (dir, "token", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing", NULL);
  const char *const envp[] = { NULL };

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (token_file, TOKEN "\n", -1, NULL));
  {
    g_autofree char *ini = g_strdup_printf ("[ci]\nwoodpecker-url=https://ci.example.org\n"
                                            "woodpecker-token-file=%s\n", token_file);
    g_autoptr (CasConfig) config = cas_config_parse (ini, strlen (ini), "test", envp, &error);
    g_autoptr (CasWoodpecker) woodpecker = NULL;

    g_assert_no_error (error);
    woodpecker = cas_woodpecker_new (config, envp, &error);
    g_assert_no_error (error);
    g_assert_true (cas_woodpecker_is_configured (woodpecker));
  }
  {
    g_autofree char *ini = g_strdup_printf ("[ci]\nwoodpecker-url=https://ci.example.org\n"
                                            "woodpecker-token-file=%s\n", missing);
    g_autoptr (CasConfig) config = cas_config_parse (ini, strlen (ini), "test", envp, &error);
    g_autoptr (CasWoodpecker) woodpecker = NULL;

    g_assert_no_error (error);
    woodpecker = cas_woodpecker_new (config, envp, &error);
    g_assert_null (woodpecker);
    g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
    g_clear_error (&error);
  }
  {
    /* A URL and no token anywhere. */
    const char *ini = "[ci]\nwoodpecker-url=https://ci.example.org\n";
    g_autoptr (CasConfig) config = cas_config_parse (ini, strlen (ini), "test", envp, &error);
    g_autoptr (CasWoodpecker) woodpecker = NULL;

    g_assert_no_error (error);
    woodpecker = cas_woodpecker_new (config, envp, &error);
    g_assert_null (woodpecker);
    g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
    g_clear_error (&error);
  }
  {
    /* No URL: no stage, and the token file is not even read. */
    g_autofree char *ini = g_strdup_printf ("[ci]\nwoodpecker-token-file=%s\n", missing);
    g_autoptr (CasConfig) config = cas_config_parse (ini, strlen (ini), "test", envp, &error);
    g_autoptr (CasWoodpecker) woodpecker = NULL;

    g_assert_no_error (error);
    woodpecker = cas_woodpecker_new (config, envp, &error);
    g_assert_no_error (error);
    g_assert_false (cas_woodpecker_is_configured (woodpecker));
  }
  g_unlink (token_file);
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/woodpecker/pipeline-for-commit", Fixture, NULL,
              fixture_set_up, test_pipeline_for_commit, fixture_tear_down);
  g_test_add ("/woodpecker/statuses", Fixture, NULL,
              fixture_set_up, test_statuses, fixture_tear_down);
  g_test_add ("/woodpecker/no-pipeline", Fixture, NULL,
              fixture_set_up, test_no_pipeline, fixture_tear_down);
  g_test_add ("/woodpecker/pagination", Fixture, NULL,
              fixture_set_up, test_pagination, fixture_tear_down);
  g_test_add ("/woodpecker/refused", Fixture, NULL,
              fixture_set_up, test_refused, fixture_tear_down);
  g_test_add ("/woodpecker/garbage", Fixture, NULL,
              fixture_set_up, test_garbage, fixture_tear_down);
  g_test_add ("/woodpecker/bad-input", Fixture, NULL,
              fixture_set_up, test_bad_input, fixture_tear_down);
  g_test_add ("/woodpecker/cancel", Fixture, NULL,
              fixture_set_up, test_cancel, fixture_tear_down);
  g_test_add_func ("/woodpecker/unreachable", test_unreachable);
  g_test_add_func ("/woodpecker/not-configured", test_not_configured);
  g_test_add_func ("/woodpecker/config", test_config);
  g_test_add_func ("/woodpecker/from-config", test_from_config);
  return g_test_run ();
}
