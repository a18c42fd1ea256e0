/* Conversations: the session-id rule, --session-id vs --resume, the one
 * retry, transcript paths, and the persisted record. */
#include <glib/gstdio.h>
#include <string.h>

#include "cas-conversation-plan.h"
#include "cas-conversation-store.h"
#include "cas-error.h"
#include "cas-json.h"

static void
test_id_rule (void)
{
  const char *valid[] = {
    "8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a",
    "8C3F5A1E-2B7D-4E9A-A6C4-91D0E7F3B25A", /* the CLI takes upper case */
    "11111111-2222-3333-4444-555555555555", /* no version or variant check */
    "00000000-0000-0000-0000-000000000000",
  };
  const char *invalid[] = {
    "",
    "not-a-uuid",
    "8c3f5a1e2b7d4e9aa6c491d0e7f3b25a",      /* no dashes */
    "{8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a}",
    " 8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a",
    "8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a ",
    "8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25",   /* short */
    "8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25aa", /* long */
    "8c3f5a1g-2b7d-4e9a-a6c4-91d0e7f3b25a",  /* not hex */
    "8c3f5a1e_2b7d-4e9a-a6c4-91d0e7f3b25a",
    "8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b2/a",
    "../../x",
    "../../../../../../../../../../etc/passwd",
    "8c3f5a1e-2b7d-4e9a-a6c4-\n1d0e7f3b25a",
  };

  for (guint i = 0; i < G_N_ELEMENTS (valid); i++)
    g_assert_true (cas_conversation_id_is_valid (valid[i]));
  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    g_assert_false (cas_conversation_id_is_valid (invalid[i]));
  g_assert_false (cas_conversation_id_is_valid (NULL));

  {
    g_autofree char *huge = g_strnfill (10240, 'a');

    g_assert_false (cas_conversation_id_is_valid (huge));
  }
}

static const char *const models[] = { "haiku", "sonnet", "opus", NULL };

static CasConversationRequest *
parse (const char *json,
       GError    **error)
{
  g_autoptr (JsonObject) body = cas_json_parse_object (json, strlen (json), NULL);

  g_assert_nonnull (body);
  return cas_conversation_request_parse (body, "sonnet", models, error);
}

static void
test_request_parse (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CasConversationRequest) request = NULL;

  request = parse ("{\"session_id\":\"8C3F5A1E-2b7d-4e9a-a6c4-91d0e7f3b25a\","
                   "\"message\":\"Здравей\",\"extra\":[1]}", &error);
  g_assert_no_error (error);
  /* One spelling for one conversation. */
  g_assert_cmpstr (request->session_id, ==, "8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a");
  g_assert_cmpstr (request->message, ==, "Здравей");
  g_assert_cmpstr (request->model, ==, "sonnet");
  g_assert_false (request->stream);
  g_clear_pointer (&request, cas_conversation_request_free);

  request = parse ("{\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\","
                   "\"message\":\"hi\",\"model\":\"haiku\",\"stream\":true}", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (request->model, ==, "haiku");
  g_assert_true (request->stream);
  g_clear_pointer (&request, cas_conversation_request_free);

  request = parse ("{\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\","
                   "\"message\":\"hi\",\"model\":null,\"stream\":null}", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (request->model, ==, "sonnet");
  g_assert_false (request->stream);
}

static void
test_request_rejects (void)
{
  struct {
    const char *json;
    const char *words;
  } cases[] = {
    { "{\"message\":\"hi\"}", "session_id is required" },
    { "{\"session_id\":null,\"message\":\"hi\"}", "session_id must be a string, not null" },
    { "{\"session_id\":7,\"message\":\"hi\"}", "session_id must be a string, not a number" },
    { "{\"session_id\":[],\"message\":\"hi\"}", "session_id must be a string, not an array" },
    { "{\"session_id\":\"../../x\",\"message\":\"hi\"}", "session_id must be a UUID" },
    { "{\"session_id\":\"\",\"message\":\"hi\"}", "session_id must be a UUID" },
    { "{\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\"}", "message is required" },
    { "{\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"message\":\"\"}",
      "message must not be empty" },
    { "{\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"message\":\" \\n\\t \"}",
      "message must not be empty or blank" },
    { "{\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"message\":{}}",
      "message must be a string, not an object" },
    { "{\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"message\":\"hi\",\"model\":\"gpt-4o\"}",
      "unsupported model \"gpt-4o\"; supported models: haiku, sonnet, opus" },
    { "{\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"message\":\"hi\",\"model\":\"\"}",
      "unsupported model" },
    { "{\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"message\":\"hi\",\"model\":1}",
      "model must be a string, not a number" },
    { "{\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"message\":\"hi\",\"stream\":\"yes\"}",
      "stream must be a boolean, not a string" },
    { "{\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"message\":\"hi\",\"stream\":1}",
      "stream must be a boolean, not a number" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CasConversationRequest) request = parse (cases[i].json, &error);

      g_assert_null (request);
      g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
      if (strstr (error->message, cases[i].words) == NULL)
        g_error ("case %u: \"%s\" does not say \"%s\"", i, error->message, cases[i].words);
    }
}

static void
test_start_table (void)
{
  /* transcript exists, record started -> start */
  g_assert_cmpint (cas_conversation_plan_start (FALSE, FALSE), ==, CAS_CONVERSATION_OPEN);
  g_assert_cmpint (cas_conversation_plan_start (TRUE, FALSE), ==, CAS_CONVERSATION_RESUME);
  g_assert_cmpint (cas_conversation_plan_start (FALSE, TRUE), ==, CAS_CONVERSATION_RESUME);
  g_assert_cmpint (cas_conversation_plan_start (TRUE, TRUE), ==, CAS_CONVERSATION_RESUME);
}

static void
test_retry_plan (void)
{
  const char *in_use = "Error: Session ID 8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a is already in use.\n";
  const char *not_found = "No conversation found with session ID: 8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\n";

  /* The two refusals, each after the flag that causes it. */
  g_assert_cmpint (cas_conversation_plan_retry (CAS_CONVERSATION_OPEN, 0, 1, FALSE, in_use),
                   ==, CAS_CONVERSATION_RETRY_RESUME);
  g_assert_cmpint (cas_conversation_plan_retry (CAS_CONVERSATION_RESUME, 0, 1, FALSE, not_found),
                   ==, CAS_CONVERSATION_RETRY_OPEN);

  /* Once only. */
  g_assert_cmpint (cas_conversation_plan_retry (CAS_CONVERSATION_OPEN, 1, 1, FALSE, in_use),
                   ==, CAS_CONVERSATION_RETRY_NONE);
  g_assert_cmpint (cas_conversation_plan_retry (CAS_CONVERSATION_RESUME, 1, 1, FALSE, not_found),
                   ==, CAS_CONVERSATION_RETRY_NONE);

  /* The words after the other flag are not this refusal. */
  g_assert_cmpint (cas_conversation_plan_retry (CAS_CONVERSATION_RESUME, 0, 1, FALSE, in_use),
                   ==, CAS_CONVERSATION_RETRY_NONE);
  g_assert_cmpint (cas_conversation_plan_retry (CAS_CONVERSATION_OPEN, 0, 1, FALSE, not_found),
                   ==, CAS_CONVERSATION_RETRY_NONE);

  /* A turn that produced output, succeeded, or said something else is
   * not retried. */
  g_assert_cmpint (cas_conversation_plan_retry (CAS_CONVERSATION_OPEN, 0, 1, TRUE, in_use),
                   ==, CAS_CONVERSATION_RETRY_NONE);
  g_assert_cmpint (cas_conversation_plan_retry (CAS_CONVERSATION_RESUME, 0, 0, FALSE, not_found),
                   ==, CAS_CONVERSATION_RETRY_NONE);
  g_assert_cmpint (cas_conversation_plan_retry (CAS_CONVERSATION_OPEN, 0, 1, FALSE,
                                                "Error: Invalid session ID. Must be a valid UUID."),
                   ==, CAS_CONVERSATION_RETRY_NONE);
  g_assert_cmpint (cas_conversation_plan_retry (CAS_CONVERSATION_OPEN, 0, 1, FALSE,
                                                "Error: address already in use"),
                   ==, CAS_CONVERSATION_RETRY_NONE);
  g_assert_cmpint (cas_conversation_plan_retry (CAS_CONVERSATION_OPEN, 0, 1, FALSE, ""),
                   ==, CAS_CONVERSATION_RETRY_NONE);
  g_assert_cmpint (cas_conversation_plan_retry (CAS_CONVERSATION_OPEN, 0, 1, FALSE, NULL),
                   ==, CAS_CONVERSATION_RETRY_NONE);
  g_assert_cmpint (cas_conversation_plan_retry (CAS_CONVERSATION_OPEN, 0, 143, FALSE, ""),
                   ==, CAS_CONVERSATION_RETRY_NONE);
}

static void
test_project_name (void)
{
  struct {
    const char *cwd;
    const char *name;
  } cases[] = {
    { "/tmp/claude-work", "-tmp-claude-work" },           /* claude-cli.md 7 */
    { "/home/dev/project", "-home-dev-project" },
    { "/var/lib/x_y.z/A9", "-var-lib-x-y-z-A9" },
    { "/home/дев", "-home----" },                         /* one '-' per UTF-16 unit */
    { "/a/\xF0\x9F\x98\x80", "-a---" },                    /* U+1F600: a surrogate pair */
    { "", "" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gboolean hashed = TRUE;
      g_autofree char *name = cas_conversation_project_name (cases[i].cwd, &hashed);

      g_assert_cmpstr (name, ==, cases[i].name);
      g_assert_false (hashed);
    }
}

static void
test_project_name_long (void)
{
  g_autoptr (GString) cwd = g_string_new (NULL);
  g_autofree char *name = NULL;
  g_autofree char *at_limit = NULL;
  gboolean hashed = FALSE;

  /* Exactly 200 characters: kept whole. */
  g_string_append_c (cwd, '/');
  while (cwd->len < CAS_CONVERSATION_MAX_PROJECT_NAME)
    g_string_append_c (cwd, 'a');
  at_limit = cas_conversation_project_name (cwd->str, &hashed);
  g_assert_cmpuint (strlen (at_limit), ==, 200);
  g_assert_false (hashed);

  /* Longer: cut to 200, the CLI appends "-<hash>". */
  g_string_append (cwd, "/more/and/more");
  name = cas_conversation_project_name (cwd->str, &hashed);
  g_assert_true (hashed);
  g_assert_cmpuint (strlen (name), ==, 200);
  g_assert_cmpint (name[0], ==, '-');
  g_assert_true (g_str_has_prefix (name, "-aaaa"));

  {
    g_autofree char *entry = g_strconcat (name, "-1k3xz9", NULL);
    g_autofree char *bare = g_strdup (name);
    g_autofree char *other = g_strconcat (name, "x-1k3xz9", NULL);
    g_autofree char *slash = g_strconcat (name, "-1k/3", NULL);
    g_autofree char *empty_hash = g_strconcat (name, "-", NULL);

    g_assert_true (cas_conversation_project_dir_matches (entry, name, TRUE));
    g_assert_false (cas_conversation_project_dir_matches (bare, name, TRUE));
    g_assert_false (cas_conversation_project_dir_matches (other, name, TRUE));
    g_assert_false (cas_conversation_project_dir_matches (slash, name, TRUE));
    g_assert_false (cas_conversation_project_dir_matches (empty_hash, name, TRUE));
    g_assert_false (cas_conversation_project_dir_matches (entry, name, FALSE));
  }

  /* No transcript path can be built for a hashed name. */
  g_assert_null (cas_conversation_transcript_path ("/p", cwd->str,
                                                   "8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a"));
}

static void
test_transcript_path (void)
{
  g_autofree char *projects = cas_conversation_projects_dir (NULL, "/home/dev");
  g_autofree char *projects_env = cas_conversation_projects_dir ("/etc/claude-conf", "/home/dev");
  g_autofree char *projects_empty = cas_conversation_projects_dir ("", "/home/dev");
  g_autofree char *path = NULL;

  g_assert_cmpstr (projects, ==, "/home/dev/.claude/projects");
  g_assert_cmpstr (projects_env, ==, "/etc/claude-conf/projects");
  g_assert_cmpstr (projects_empty, ==, "/home/dev/.claude/projects");

  path = cas_conversation_transcript_path (projects, "/var/lib/cas/conversational",
                                           "8C3F5A1E-2b7d-4e9a-a6c4-91d0e7f3b25a");
  g_assert_cmpstr (path, ==,
                   "/home/dev/.claude/projects/-var-lib-cas-conversational/"
                   "8C3F5A1E-2b7d-4e9a-a6c4-91d0e7f3b25a.jsonl");

  /* An id that is not one never becomes a path. */
  g_assert_null (cas_conversation_transcript_path (projects, "/x", "../../etc/passwd"));
  g_assert_true (cas_conversation_project_dir_matches ("-x", "-x", FALSE));
  g_assert_false (cas_conversation_project_dir_matches ("-x-abc", "-x", FALSE));
}

static void
test_record_json (void)
{
  CasConversationRecord record = {
    .session_id = (char *) "8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a",
    .started = TRUE,
    .turns = 3,
    .created_at = 1764165600, /* 2025-11-26T14:00:00Z */
    .last_used = 1764165661,
    .model = (char *) "haiku\x1f\"",
  };
  g_autofree char *json = cas_conversation_record_to_json (&record);
  g_autoptr (CasConversationRecord) back = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (strstr (json, "\"created_at\":\"2025-11-26T14:00:00Z\""));
  g_assert_nonnull (strstr (json, "\"last_used\":\"2025-11-26T14:01:01Z\""));
  g_assert_nonnull (strstr (json, "\\u001f"));

  back = cas_conversation_record_from_json (json, strlen (json), record.session_id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->session_id, ==, record.session_id);
  g_assert_true (back->started);
  g_assert_cmpuint (back->turns, ==, 3);
  g_assert_cmpint (back->created_at, ==, record.created_at);
  g_assert_cmpint (back->last_used, ==, record.last_used);
  g_assert_cmpstr (back->model, ==, record.model);
  g_assert_null (back->cli_session_id);
  g_assert_null (strstr (json, "cli_session_id"));
  g_clear_pointer (&back, cas_conversation_record_free);

  /* The CLI's own id, when the conversation started on a spare process. */
  record.cli_session_id = (char *) "0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9";
  g_free (json);
  json = cas_conversation_record_to_json (&record);
  back = cas_conversation_record_from_json (json, strlen (json), record.session_id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->cli_session_id, ==, record.cli_session_id);
}

static void
test_record_json_rejects (void)
{
  const char *id = "8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a";
  const char *bad[] = {
    "",
    "{",
    "[]",
    "{\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\"}",                   /* no started */
    "{\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"started\":\"yes\"}",
    "{\"session_id\":\"../../x\",\"started\":true}",
    "{\"session_id\":7,\"started\":true}",
    "{\"session_id\":\"11111111-2222-3333-4444-555555555555\",\"started\":true}", /* another id */
    /* The CLI's id goes into argv and a path: only an id. */
    "{\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"started\":true,\"cli_session_id\":\"../x\"}",
    "{\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"started\":true,\"cli_session_id\":\"--help\"}",
    "{\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"started\":true,\"cli_session_id\":5}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CasConversationRecord) record =
        cas_conversation_record_from_json (bad[i], strlen (bad[i]), id, &error);

      g_assert_null (record);
      g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
    }

  /* Wrong-typed optional fields fall back instead of failing. */
  {
    const char *odd = "{\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"started\":false,"
                      "\"turns\":\"x\",\"created_at\":5,\"last_used\":\"yesterday\",\"model\":[1]}";
    g_autoptr (GError) error = NULL;
    g_autoptr (CasConversationRecord) record =
      cas_conversation_record_from_json (odd, strlen (odd), id, &error);

    g_assert_no_error (error);
    g_assert_false (record->started);
    g_assert_cmpuint (record->turns, ==, 0);
    g_assert_cmpint (record->created_at, ==, 0);
    g_assert_cmpint (record->last_used, ==, 0);
    g_assert_null (record->model);
  }
}

static void
on_saved (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  gboolean *done = user_data;
  g_autoptr (GError) error = NULL;

  g_assert_true (cas_conversation_store_record_turn_finish (CAS_CONVERSATION_STORE (source),
                                                            result, &error));
  g_assert_no_error (error);
  *done = TRUE;
}

/* The write runs in a worker; the record is on disk by the callback. */
static void
test_store_async (void)
{
  const char *id = "8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a";
  const char *cli_id = "0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9";
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("cas-conversation-XXXXXX", &error);
  g_autofree char *dir = g_build_filename (tmp, "conversations", NULL);
  g_autoptr (CasConversationStore) store = cas_conversation_store_new (dir, &error);
  g_autoptr (CasConversationRecord) record = NULL;
  gboolean done = FALSE;

  g_assert_no_error (error);
  cas_conversation_store_record_turn_async (store, id, "haiku", cli_id, 1000, on_saved, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  record = cas_conversation_store_load (store, id, &error);
  g_assert_nonnull (record);
  g_assert_cmpuint (record->turns, ==, 1);
  g_assert_cmpstr (record->cli_session_id, ==, cli_id);
  g_clear_pointer (&record, cas_conversation_record_free);

  /* A later turn without one keeps it. */
  g_assert_true (cas_conversation_store_record_turn (store, id, "haiku", NULL, 2000, &error));
  record = cas_conversation_store_load (store, id, &error);
  g_assert_cmpstr (record->cli_session_id, ==, cli_id);
  g_assert_cmpuint (record->turns, ==, 2);

  {
    g_autofree char *path = g_strdup_printf ("%s/%s.json", dir, id);

    g_assert_cmpint (g_unlink (path), ==, 0);
    g_assert_cmpint (g_rmdir (dir), ==, 0);
    g_assert_cmpint (g_rmdir (tmp), ==, 0);
  }
}

static void
test_store (void)
{
  const char *id = "8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a";
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("cas-conversation-XXXXXX", &error);
  g_autofree char *dir = g_build_filename (tmp, "conversations", NULL);
  g_autofree char *path = g_build_filename (dir, "8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a.json", NULL);
  g_autoptr (CasConversationStore) store = NULL;
  g_autoptr (CasConversationRecord) record = NULL;
  GStatBuf st;

  g_assert_no_error (error);
  store = cas_conversation_store_new (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  /* Nothing yet. */
  record = cas_conversation_store_load (store, id, &error);
  g_assert_no_error (error);
  g_assert_null (record);

  g_assert_true (cas_conversation_store_record_turn (store, id, "haiku", NULL, 1000, &error));
  g_assert_no_error (error);
  g_assert_true (cas_conversation_store_record_turn (store, id, "sonnet", NULL, 2000, &error));
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  record = cas_conversation_store_load (store, id, &error);
  g_assert_no_error (error);
  g_assert_nonnull (record);
  g_assert_true (record->started);
  g_assert_cmpuint (record->turns, ==, 2);
  g_assert_cmpint (record->created_at, ==, 1000);
  g_assert_cmpint (record->last_used, ==, 2000);
  g_assert_cmpstr (record->model, ==, "sonnet");
  g_clear_pointer (&record, cas_conversation_record_free);

  /* Ids that are not session ids never reach the file system. */
  record = cas_conversation_store_load (store, "../../x", &error);
  g_assert_null (record);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (cas_conversation_store_record_turn (store, "../x", NULL, NULL, 1, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* A corrupt file is absent, and the next turn replaces it. */
  g_assert_true (g_file_set_contents (path, "{\"session_id\": tru", -1, NULL));
  record = cas_conversation_store_load (store, id, &error);
  g_assert_no_error (error);
  g_assert_null (record);
  g_assert_true (g_file_set_contents (path, "\xff\xfe\x00garbage", 10, NULL));
  record = cas_conversation_store_load (store, id, &error);
  g_assert_no_error (error);
  g_assert_null (record);
  g_assert_true (cas_conversation_store_record_turn (store, id, NULL, NULL, 3000, &error));
  record = cas_conversation_store_load (store, id, &error);
  g_assert_nonnull (record);
  g_assert_cmpuint (record->turns, ==, 1);
  g_assert_null (record->model);
  g_clear_pointer (&record, cas_conversation_record_free);

  /* A directory or a symlink in its place is not read. */
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (symlink ("/etc/passwd", path), ==, 0);
  record = cas_conversation_store_load (store, id, &error);
  g_assert_no_error (error);
  g_assert_null (record);
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  record = cas_conversation_store_load (store, id, &error);
  g_assert_no_error (error);
  g_assert_null (record);
  g_assert_cmpint (g_rmdir (path), ==, 0);

  g_assert_cmpint (g_rmdir (dir), ==, 0);
  g_assert_cmpint (g_rmdir (tmp), ==, 0);
}

/* Old records go, young ones, kept ones and anything not a record stay;
 * a link to an old record elsewhere is neither followed nor removed. */
static void
test_store_sweep (void)
{
  const char *old_id = "8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a";
  const char *young_id = "3b0c9d2a-7e41-4f8b-9c55-0a1d2e3f4b6c";
  const char *kept_id = "0F0E0D0C-7E41-4F8B-9C55-0A1D2E3F4B6C";
  const char *link_id = "11111111-2222-4333-8444-555555555555";
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("cas-conversation-XXXXXX", &error);
  g_autofree char *dir = g_build_filename (tmp, "conversations", NULL);
  g_autofree char *outside = g_build_filename (tmp, "outside", NULL);
  g_autofree char *outside_record = g_build_filename (outside, "x.json", NULL);
  g_autofree char *link_name = g_strconcat (link_id, ".json", NULL);
  g_autofree char *link_path = g_build_filename (dir, link_name, NULL);
  g_autofree char *stray = g_build_filename (dir, "notes.json", NULL);
  g_autoptr (CasConversationStore) store = cas_conversation_store_new (dir, &error);
  g_autoptr (GHashTable) keep = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (CasConversationRecord) record = NULL;

  g_assert_no_error (error);
  g_assert_true (cas_conversation_store_record_turn (store, old_id, NULL, NULL, 1000, &error));
  g_assert_true (cas_conversation_store_record_turn (store, young_id, NULL, NULL, 5000, &error));
  g_assert_true (cas_conversation_store_record_turn (store, kept_id, NULL, NULL, 1000, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_mkdir (outside, 0700), ==, 0);
  g_assert_true (cas_conversation_store_record_turn (store, link_id, NULL, NULL, 1000, &error));
  g_assert_cmpint (g_rename (link_path, outside_record), ==, 0);
  g_assert_cmpint (symlink (outside_record, link_path), ==, 0);
  g_assert_true (g_file_set_contents (stray, "{}", -1, NULL));

  /* Kept ids come lowercase; the file keeps the client's spelling. */
  g_hash_table_add (keep, (gpointer) "0f0e0d0c-7e41-4f8b-9c55-0a1d2e3f4b6c");
  g_assert_cmpuint (cas_conversation_store_sweep (store, 2000, keep), ==, 1);

  record = cas_conversation_store_load (store, old_id, NULL);
  g_assert_null (record);
  record = cas_conversation_store_load (store, young_id, NULL);
  g_assert_nonnull (record);
  g_clear_pointer (&record, cas_conversation_record_free);
  record = cas_conversation_store_load (store, kept_id, NULL);
  g_assert_nonnull (record);
  g_clear_pointer (&record, cas_conversation_record_free);
  g_assert_true (g_file_test (link_path, G_FILE_TEST_IS_SYMLINK));
  g_assert_true (g_file_test (outside_record, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (stray, G_FILE_TEST_IS_REGULAR));

  /* Without the keep list, the kept one goes too. */
  g_assert_cmpuint (cas_conversation_store_sweep (store, 2000, NULL), ==, 1);
  record = cas_conversation_store_load (store, kept_id, NULL);
  g_assert_null (record);

  g_assert_cmpint (g_unlink (link_path), ==, 0);
  g_assert_cmpint (g_unlink (outside_record), ==, 0);
  g_assert_cmpint (g_unlink (stray), ==, 0);
  {
    g_autofree char *young = g_strconcat (young_id, ".json", NULL);
    g_autofree char *young_path = g_build_filename (dir, young, NULL);

    g_assert_cmpint (g_unlink (young_path), ==, 0);
  }
  g_assert_cmpint (g_rmdir (outside), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  g_assert_cmpint (g_rmdir (tmp), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/conversation/id-rule", test_id_rule);
  g_test_add_func ("/conversation/request-parse", test_request_parse);
  g_test_add_func ("/conversation/request-rejects", test_request_rejects);
  g_test_add_func ("/conversation/start-table", test_start_table);
  g_test_add_func ("/conversation/retry-plan", test_retry_plan);
  g_test_add_func ("/conversation/project-name", test_project_name);
  g_test_add_func ("/conversation/project-name-long", test_project_name_long);
  g_test_add_func ("/conversation/transcript-path", test_transcript_path);
  g_test_add_func ("/conversation/record-json", test_record_json);
  g_test_add_func ("/conversation/record-json-rejects", test_record_json_rejects);
  g_test_add_func ("/conversation/store", test_store);
  g_test_add_func ("/conversation/store-async", test_store_async);
  g_test_add_func ("/conversation/store-sweep", test_store_sweep);

  return g_test_run ();
}
