/* job records: requests, ids, JSON round trips, the end of a job, expiry
 * and the restart rewrite. */
#include <math.h>

#include "cas-error.h"
#include "cas-job-record.h"
#include "cas-json.h"

#define T0 G_GINT64_CONSTANT (1767322800123456) /* 2026-01-02T03:00:00.123456Z */

static CasJobRequest *
parse_ok (const char *body)
{
  g_autoptr (GError) error = NULL;
  CasJobRequest *request = cas_job_request_parse (body, strlen (body), &error);

  g_assert_no_error (error);
  g_assert_nonnull (request);
  return request;
}

static void
assert_invalid (const char *body,
                const char *words)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CasJobRequest) request = cas_job_request_parse (body, strlen (body), &error);

  g_assert_null (request);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  if (words != NULL && strstr (error->message, words) == NULL)
    g_error ("“%s” gave “%s”, expected it to mention “%s”", body, error->message, words);
}

static JsonObject *
parse_json (const char *json)
{
  g_autoptr (GError) error = NULL;
  JsonObject *object = cas_json_parse_object (json, strlen (json), &error);

  g_assert_no_error (error);
  return object;
}

static CasJobRecord *
new_record (const char *body)
{
  g_autoptr (CasJobRequest) request = parse_ok (body);

  return cas_job_record_new ("0123456789ab", request, T0);
}

static CasJobRecord *
round_trip (const CasJobRecord *record)
{
  g_autofree char *json = cas_job_record_to_json (record, CAS_JOB_RECORD_FORMAT_STATE);
  g_autoptr (GError) error = NULL;
  CasJobRecord *back = cas_job_record_from_json (json, strlen (json), &error);

  g_assert_no_error (error);
  g_assert_nonnull (back);
  /* What we write reads back to the same bytes. */
  {
    g_autofree char *again = cas_job_record_to_json (back, CAS_JOB_RECORD_FORMAT_STATE);

    g_assert_cmpstr (again, ==, json);
  }
  return back;
}

static void
test_request_defaults (void)
{
  g_autoptr (CasJobRequest) request = parse_ok ("{\"prompt\":\"hi\",\"agent\":\"workspace\"}");

  g_assert_cmpstr (request->prompt, ==, "hi");
  g_assert_cmpstr (request->agent, ==, "workspace");
  g_assert_cmpfloat (request->max_budget_usd, ==, 5.0);
  g_assert_cmpuint (request->timeout_seconds, ==, 2700);
  g_assert_null (request->metadata);
}

static void
test_request_values (void)
{
  g_autoptr (CasJobRequest) request =
    parse_ok ("{\"prompt\":\"Здравей\",\"agent\":\"My_agent-2\",\"max_budget_usd\":0.25,"
              "\"timeout_seconds\":60.0,\"metadata\":{\"flow\":\"n8n\",\"n\":[1,2]},"
              "\"unknown\":true}");
  g_autoptr (CasJobRequest) nulls =
    parse_ok ("{\"prompt\":\"x\",\"agent\":\"a\",\"max_budget_usd\":null,"
              "\"timeout_seconds\":null,\"metadata\":null}");
  g_autoptr (CasJobRequest) integer_budget =
    parse_ok ("{\"prompt\":\"x\",\"agent\":\"a\",\"max_budget_usd\":2,\"timeout_seconds\":86400}");

  g_assert_cmpstr (request->prompt, ==, "Здравей");
  g_assert_cmpstr (request->agent, ==, "My_agent-2");
  g_assert_cmpfloat (request->max_budget_usd, ==, 0.25);
  g_assert_cmpuint (request->timeout_seconds, ==, 60);
  g_assert_nonnull (request->metadata);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (request->metadata));
  g_assert_cmpfloat (nulls->max_budget_usd, ==, 5.0);
  g_assert_cmpuint (nulls->timeout_seconds, ==, 2700);
  g_assert_null (nulls->metadata);
  g_assert_cmpfloat (integer_budget->max_budget_usd, ==, 2.0);
  g_assert_cmpuint (integer_budget->timeout_seconds, ==, 86400);
}

static void
test_request_invalid (void)
{
  assert_invalid ("", "empty");
  assert_invalid ("not json", "not valid JSON");
  assert_invalid ("[1,2]", "object");
  assert_invalid ("{\"agent\":\"a\"}", "prompt is required");
  assert_invalid ("{\"prompt\":null,\"agent\":\"a\"}", "prompt is required");
  assert_invalid ("{\"prompt\":\"\",\"agent\":\"a\"}", "prompt must not be empty");
  assert_invalid ("{\"prompt\":\" \\n\\t\",\"agent\":\"a\"}", "prompt must not be empty");
  assert_invalid ("{\"prompt\":5,\"agent\":\"a\"}", "prompt must be a string");
  assert_invalid ("{\"prompt\":[\"x\"],\"agent\":\"a\"}", "prompt must be a string");
  assert_invalid ("{\"prompt\":\"x\"}", "agent is required");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":{}}", "agent must be a string");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"\"}", "agent must be a name");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"../x\"}", "agent must be a name");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"a/b\"}", "agent must be a name");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"-rf\"}", "agent must be a name");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"_a\"}", "agent must be a name");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"a b\"}", "agent must be a name");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"a.md\"}", "agent must be a name");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"агент\"}", "agent must be a name");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"a\",\"max_budget_usd\":0}", "max_budget_usd");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"a\",\"max_budget_usd\":-1}", "max_budget_usd");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"a\",\"max_budget_usd\":\"5\"}", "max_budget_usd");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"a\",\"max_budget_usd\":true}", "max_budget_usd");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"a\",\"max_budget_usd\":1e999}", NULL);
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"a\",\"max_budget_usd\":1e9}", "max_budget_usd");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"a\",\"timeout_seconds\":0}", "timeout_seconds");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"a\",\"timeout_seconds\":-5}", "timeout_seconds");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"a\",\"timeout_seconds\":1.5}", "timeout_seconds");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"a\",\"timeout_seconds\":86401}", "timeout_seconds");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"a\",\"timeout_seconds\":\"60\"}", "timeout_seconds");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"a\",\"timeout_seconds\":9223372036854775807}",
                  "timeout_seconds");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"a\",\"metadata\":[]}", "metadata");
  assert_invalid ("{\"prompt\":\"x\",\"agent\":\"a\",\"metadata\":\"m\"}", "metadata");
}

static void
test_agent_names (void)
{
  g_autofree char *long_name = g_strnfill (CAS_JOB_MAX_AGENT_NAME, 'a');
  g_autofree char *too_long = g_strnfill (CAS_JOB_MAX_AGENT_NAME + 1, 'a');

  g_assert_true (cas_job_agent_name_is_valid ("a"));
  g_assert_true (cas_job_agent_name_is_valid ("Recruiter-triage_2"));
  g_assert_true (cas_job_agent_name_is_valid ("9lives"));
  g_assert_true (cas_job_agent_name_is_valid (long_name));
  g_assert_false (cas_job_agent_name_is_valid (too_long));
  g_assert_false (cas_job_agent_name_is_valid (NULL));
  g_assert_false (cas_job_agent_name_is_valid (""));
  g_assert_false (cas_job_agent_name_is_valid (".."));
  g_assert_false (cas_job_agent_name_is_valid ("a/.."));
  g_assert_false (cas_job_agent_name_is_valid ("a\\b"));
  g_assert_false (cas_job_agent_name_is_valid ("a\n"));
  g_assert_false (cas_job_agent_name_is_valid ("--agents"));
}

static void
test_ids (void)
{
  const guint8 bytes[CAS_JOB_ID_RANDOM_BYTES] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab };
  const guint8 high[CAS_JOB_ID_RANDOM_BYTES] = { 0xff, 0xfe, 0x00, 0x10, 0xa0, 0x0f };
  g_autofree char *id = cas_job_id_from_bytes (bytes);
  g_autofree char *id2 = cas_job_id_from_bytes (high);

  g_assert_cmpstr (id, ==, "0123456789ab");
  g_assert_cmpstr (id2, ==, "fffe0010a00f");
  g_assert_true (cas_job_id_is_valid (id));
  g_assert_true (cas_job_id_is_valid (id2));
  g_assert_false (cas_job_id_is_valid (NULL));
  g_assert_false (cas_job_id_is_valid (""));
  g_assert_false (cas_job_id_is_valid ("0123456789a"));
  g_assert_false (cas_job_id_is_valid ("0123456789abc"));
  g_assert_false (cas_job_id_is_valid ("0123456789AB"));
  g_assert_false (cas_job_id_is_valid ("0123456789ag"));
  g_assert_false (cas_job_id_is_valid ("../../etc/pa"));
  g_assert_false (cas_job_id_is_valid ("0123456789a/"));
  g_assert_false (cas_job_id_is_valid ("0123456789ab/"));
  g_assert_false (cas_job_id_is_valid ("0123456789ab.json"));
  g_assert_false (cas_job_id_is_valid ("%30123456789a"));
}

static void
test_frontmatter (void)
{
  struct {
    const char *text;
    const char *name;
  } cases[] = {
    { "---\nname: reviewer\ndescription: d\n---\nbody", "reviewer" },
    { "---\r\ndescription: d\r\nname: \"Quoted_one\"\r\n---\r\n", "Quoted_one" },
    { "\xef\xbb\xbf---\nname: 'single'\n---\n", "single" },
    { "---\nname:   spaced   \n---\n", "spaced" },
    { "---\ndescription: d\n---\nname: after\n", NULL },
    { "name: no-frontmatter\n", NULL },
    { "", NULL },
    { "---", NULL },
    { "---\nname:\n---\n", NULL },
    { "---\n  name: indented\n---\n", NULL },
    { "----\nname: x\n---\n", NULL },
    { "---\nname: \xff\xfe\n", "\xff\xfe" }, /* checked against the request name later */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = cas_job_frontmatter_name (cases[i].text, strlen (cases[i].text));

      g_assert_cmpstr (name, ==, cases[i].name);
    }
  g_assert_null (cas_job_frontmatter_name (NULL, 0));
  /* Not NUL-terminated: the length is the bound. */
  {
    const char buf[] = { '-', '-', '-', '\n', 'n', 'a', 'm', 'e', ':', ' ', 'x', 'y', 'z' };
    g_autofree char *name = cas_job_frontmatter_name (buf, 11);

    g_assert_cmpstr (name, ==, "x");
  }
}

static void
test_times (void)
{
  g_autofree char *text = cas_job_format_time (T0);
  g_autofree char *epoch = cas_job_format_time (1);
  g_autofree char *before = cas_job_format_time (-1);
  gint64 back = 0;

  g_assert_cmpstr (text, ==, "2026-01-02T03:00:00.123456+00:00");
  g_assert_cmpstr (epoch, ==, "1970-01-01T00:00:00.000001+00:00");
  g_assert_cmpstr (before, ==, "1969-12-31T23:59:59.999999+00:00");
  g_assert_true (cas_job_parse_time (text, &back));
  g_assert_cmpint (back, ==, T0);
  g_assert_true (cas_job_parse_time ("2026-01-02T05:00:00.123456+02:00", &back));
  g_assert_cmpint (back, ==, T0);
  g_assert_true (cas_job_parse_time ("2026-01-02T03:00:00Z", &back));
  g_assert_cmpint (back, ==, T0 - 123456);
  g_assert_false (cas_job_parse_time ("2026-01-02T03:00:00", &back));
  g_assert_false (cas_job_parse_time ("yesterday", &back));
  g_assert_false (cas_job_parse_time (NULL, &back));
}

static void
test_status_names (void)
{
  const char *names[] = { "queued", "running", "completed", "failed", "timeout", "error" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      CasJobStatus status;

      g_assert_true (cas_job_status_from_string (names[i], &status));
      g_assert_cmpint (status, ==, i);
      g_assert_cmpstr (cas_job_status_to_string (status), ==, names[i]);
      g_assert_true (cas_job_status_is_finished (status) == (i >= CAS_JOB_STATUS_COMPLETED));
    }
  {
    CasJobStatus status;

    g_assert_false (cas_job_status_from_string ("Completed", &status));
    g_assert_false (cas_job_status_from_string (NULL, &status));
  }
}

static void
test_new_record_json (void)
{
  g_autoptr (CasJobRecord) record =
    new_record ("{\"prompt\":\"hi\",\"agent\":\"workspace\",\"metadata\":{\"k\":\"v\"}}");
  g_autofree char *json = cas_job_record_to_json (record, CAS_JOB_RECORD_FORMAT_API);
  g_autoptr (JsonObject) object = parse_json (json);

  g_assert_cmpstr (cas_json_get_string (object, "job_id", NULL), ==, "0123456789ab");
  g_assert_cmpstr (cas_json_get_string (object, "status", NULL), ==, "queued");
  g_assert_cmpstr (cas_json_get_string (object, "prompt", NULL), ==, "hi");
  g_assert_cmpstr (cas_json_get_string (object, "agent", NULL), ==, "workspace");
  g_assert_cmpstr (cas_json_get_string (object, "created_at", NULL), ==,
                   "2026-01-02T03:00:00.123456+00:00");
  g_assert_true (json_object_has_member (object, "started_at"));
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (object, "started_at")));
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (object, "finished_at")));
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (object, "exit_code")));
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (object, "result")));
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (object, "usage")));
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (object, "total_cost_usd")));
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (object, "error")));
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (object, "stderr")));
  g_assert_cmpuint (json_array_get_length (cas_json_get_array (object, "output")), ==, 0);
  g_assert_cmpstr (cas_json_get_string (cas_json_get_object (object, "metadata"), "k", NULL),
                   ==, "v");
  g_assert_cmpfloat (cas_json_get_double (object, "max_budget_usd", 0), ==, 5);
  g_assert_cmpint (cas_json_get_int (object, "timeout_seconds", 0), ==, 2700);
  /* The workspace is the daemon's business, not the caller's. */
  g_assert_false (json_object_has_member (object, "workspace"));
}

static const char *result_line =
  "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"Готово: 2+2=4\","
  "\"total_cost_usd\":0.000080,\"usage\":{\"input_tokens\":1,\"output_tokens\":3}}";

/* A copy serializes as the original does, and outlives it. */
static void
test_copy (void)
{
  g_autoptr (CasJobRecord) record = new_record ("{\"prompt\":\"hi\",\"agent\":\"a\","
                                                "\"metadata\":{\"k\":\"Здравей\"}}");
  g_autoptr (CasJobRecord) copy = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *got = NULL;

  cas_job_record_set_running (record, T0 + 1000);
  record->workspace = g_strdup ("/tmp/cas-workspace-abcdef");
  g_assert_true (cas_job_record_append_output (record, result_line, strlen (result_line)));
  cas_job_record_finish (record, CAS_JOB_END_EXITED, 0, NULL, "stderr", T0 + 2000);
  expected = cas_job_record_to_json (record, CAS_JOB_RECORD_FORMAT_STATE);

  copy = cas_job_record_copy (record);
  g_clear_pointer (&record, cas_job_record_free);
  got = cas_job_record_to_json (copy, CAS_JOB_RECORD_FORMAT_STATE);
  g_assert_cmpstr (got, ==, expected);
}

static void
test_completed (void)
{
  g_autoptr (CasJobRecord) record = new_record ("{\"prompt\":\"hi\",\"agent\":\"a\"}");
  g_autoptr (CasJobRecord) back = NULL;

  cas_job_record_set_running (record, T0 + 1000);
  g_assert_true (cas_job_record_append_output (record, result_line, strlen (result_line)));
  cas_job_record_finish (record, CAS_JOB_END_EXITED, 0, NULL, "", T0 + 2000);

  g_assert_cmpint (record->status, ==, CAS_JOB_STATUS_COMPLETED);
  g_assert_true (record->has_exit_code);
  g_assert_cmpint (record->exit_code, ==, 0);
  g_assert_null (record->error);
  g_assert_cmpstr (record->result, ==, "Готово: 2+2=4");
  g_assert_true (record->has_total_cost);
  g_assert_cmpfloat (record->total_cost_usd, ==, 0.00008);
  g_assert_nonnull (record->usage);
  g_assert_cmpstr (record->stderr_text, ==, "");

  back = round_trip (record);
  g_assert_cmpint (back->status, ==, CAS_JOB_STATUS_COMPLETED);
  g_assert_cmpint (back->created_us, ==, T0);
  g_assert_cmpint (back->started_us, ==, T0 + 1000);
  g_assert_cmpint (back->finished_us, ==, T0 + 2000);
  g_assert_cmpstr (back->result, ==, "Готово: 2+2=4");
  g_assert_cmpuint (back->output->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (back->output, 0), ==, result_line);

  /* Callers parse output[0] and get the CLI's own object. */
  {
    g_autofree char *json = cas_job_record_to_json (record, CAS_JOB_RECORD_FORMAT_API);
    g_autoptr (JsonObject) object = parse_json (json);
    JsonArray *output = cas_json_get_array (object, "output");
    const char *first = json_array_get_string_element (output, 0);
    g_autoptr (JsonObject) inner = parse_json (first);

    g_assert_cmpstr (cas_json_get_string (inner, "result", NULL), ==, "Готово: 2+2=4");
    g_assert_cmpstr (cas_json_get_string (object, "result", NULL), ==, "Готово: 2+2=4");
    g_assert_cmpint (cas_json_get_int (cas_json_get_object (object, "usage"), "output_tokens", 0),
                     ==, 3);
    g_assert_cmpfloat (cas_json_get_double (object, "total_cost_usd", 0), ==, 0.00008);
    g_assert_cmpint (cas_json_get_int (object, "exit_code", -1), ==, 0);
  }
}

static void
test_failed (void)
{
  g_autoptr (CasJobRecord) record = new_record ("{\"prompt\":\"hi\",\"agent\":\"a\"}");
  const char *error_line = "{\"type\":\"result\",\"is_error\":true,\"result\":\"API Error: x\"}";

  cas_job_record_set_running (record, T0);
  cas_job_record_append_output (record, error_line, strlen (error_line));
  cas_job_record_finish (record, CAS_JOB_END_EXITED, 2, NULL, "\n  boom: it broke  \nmore\n", T0);
  g_assert_cmpint (record->status, ==, CAS_JOB_STATUS_FAILED);
  g_assert_cmpint (record->exit_code, ==, 2);
  g_assert_cmpstr (record->error, ==, "exit 2: boom: it broke");
  g_assert_cmpstr (record->stderr_text, ==, "\n  boom: it broke  \nmore\n");
  g_assert_cmpstr (record->result, ==, "API Error: x");

  /* Empty stderr: the result says why (e.g. not logged in). */
  cas_job_record_finish (record, CAS_JOB_END_EXITED, 1, NULL, "", T0);
  g_assert_cmpstr (record->error, ==, "exit 1: API Error: x");

  /* Exit 0 with is_error is a failed turn (SPEC 4). */
  cas_job_record_finish (record, CAS_JOB_END_EXITED, 0, NULL, "", T0);
  g_assert_cmpint (record->status, ==, CAS_JOB_STATUS_FAILED);
  g_assert_cmpstr (record->error, ==, "the CLI reported an error: API Error: x");

  /* Nothing at all. */
  g_ptr_array_set_size (record->output, 0);
  cas_job_record_finish (record, CAS_JOB_END_EXITED, 3, NULL, NULL, T0);
  g_assert_cmpstr (record->error, ==, "exit 3");
  g_assert_null (record->stderr_text);
  g_assert_null (record->result);

  /* Root without IS_SANDBOX gets the clear words. */
  cas_job_record_finish (record, CAS_JOB_END_EXITED, 1, NULL,
                         "--dangerously-skip-permissions cannot be used with root/sudo "
                         "privileges for security reasons\n", T0);
  g_assert_nonnull (strstr (record->error, "IS_SANDBOX=1"));
}

static void
test_limit_result (void)
{
  g_autoptr (CasJobRecord) record = new_record ("{\"prompt\":\"hi\",\"agent\":\"a\"}");
  const char *line = "{\"type\":\"result\",\"subtype\":\"error_max_turns\",\"is_error\":false,"
                     "\"errors\":[\"Reached maximum number of turns (1)\",7,\"again\"]}";

  cas_job_record_append_output (record, "not json {", 10);
  cas_job_record_append_output (record, line, strlen (line));
  cas_job_record_finish (record, CAS_JOB_END_EXITED, 0, NULL, "", T0);
  g_assert_cmpint (record->status, ==, CAS_JOB_STATUS_FAILED);
  g_assert_cmpstr (record->result, ==, "Reached maximum number of turns (1); again");
  g_assert_false (record->has_total_cost);
}

static void
test_timeout_and_error (void)
{
  g_autoptr (CasJobRecord) record = new_record ("{\"prompt\":\"hi\",\"agent\":\"a\",\"timeout_seconds\":1}");

  cas_job_record_set_running (record, T0);
  cas_job_record_finish (record, CAS_JOB_END_TIMED_OUT, 143, "agent timed out after 1 s", "", T0 + 1);
  g_assert_cmpint (record->status, ==, CAS_JOB_STATUS_TIMEOUT);
  g_assert_cmpstr (record->error, ==, "agent timed out after 1 s");
  g_assert_false (record->has_exit_code);
  cas_job_record_finish (record, CAS_JOB_END_TIMED_OUT, 143, NULL, "", T0 + 1);
  g_assert_cmpstr (record->error, ==, "agent timed out after 1 s");

  cas_job_record_finish (record, CAS_JOB_END_ERROR, -1,
                         "claude CLI not found (install @anthropic-ai/claude-code and log in)",
                         NULL, T0 + 2);
  g_assert_cmpint (record->status, ==, CAS_JOB_STATUS_ERROR);
  g_assert_cmpstr (record->error, ==,
                   "claude CLI not found (install @anthropic-ai/claude-code and log in)");
  g_assert_cmpint (record->finished_us, ==, T0 + 2);
  g_assert_false (record->has_exit_code);
}

static void
test_hostile_values (void)
{
  const char *body = "{\"prompt\":\"a\\u001fb\\u0000c\\u2028\\\"\\\\</script>\","
                     "\"agent\":\"a\",\"metadata\":{\"\\u001f\":[1e-8,0.7,{\"x\":null}],"
                     "\"big\":1e300}}";
  g_autoptr (CasJobRecord) record = new_record (body);
  g_autoptr (CasJobRecord) back = NULL;
  g_autofree char *json = NULL;
  g_autoptr (JsonObject) object = NULL;
  const char control[] = "\x01\x02\x1f\x7f tab\t nl\n";
  const char invalid_utf8[] = "bad \xff\xfe bytes";

  cas_job_record_append_output (record, control, sizeof control - 1);
  cas_job_record_append_output (record, invalid_utf8, sizeof invalid_utf8 - 1);
  cas_job_record_finish (record, CAS_JOB_END_EXITED, 1, NULL, "\x1b[31mred\xff\n", T0);

  json = cas_job_record_to_json (record, CAS_JOB_RECORD_FORMAT_API);
  g_assert_true (g_utf8_validate (json, -1, NULL));
  for (const char *p = json; *p != '\0'; p++)
    g_assert_cmpint ((guchar) *p, >=, 0x20);
  object = parse_json (json);
  g_assert_cmpstr (json_array_get_string_element (cas_json_get_array (object, "output"), 0), ==,
                   control);
  g_assert_cmpstr (json_array_get_string_element (cas_json_get_array (object, "output"), 1), ==,
                   "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
  g_assert_nonnull (strstr (json, "1e-08"));
  g_assert_nonnull (strstr (json, "0.7"));

  back = round_trip (record);
  g_assert_cmpstr (back->prompt, ==, record->prompt);
  g_assert_cmpstr (back->stderr_text, ==, record->stderr_text);
}

static void
test_output_bounds (void)
{
  g_autoptr (CasJobRecord) record = new_record ("{\"prompt\":\"hi\",\"agent\":\"a\"}");
  gsize big = CAS_JOB_MAX_OUTPUT_BYTES - 10;
  g_autofree char *huge = g_malloc (big + 1);
  g_autofree char *stderr_text = g_strnfill (CAS_JOB_MAX_STDERR_BYTES + 100, 'e');

  memset (huge, 'x', big);
  huge[big] = '\0';
  g_assert_true (cas_job_record_append_output (record, huge, big));
  g_assert_true (cas_job_record_append_output (record, "0123456789", 10));
  g_assert_false (cas_job_record_append_output (record, "x", 1));
  g_assert_true (record->output_truncated);
  g_assert_cmpuint (record->output->len, ==, 2);

  cas_job_record_finish (record, CAS_JOB_END_EXITED, 1, NULL, stderr_text, T0);
  g_assert_cmpuint (strlen (record->stderr_text), ==, CAS_JOB_MAX_STDERR_BYTES);

  {
    g_autoptr (CasJobRecord) lines = new_record ("{\"prompt\":\"hi\",\"agent\":\"a\"}");

    for (guint i = 0; i < CAS_JOB_MAX_OUTPUT_LINES; i++)
      g_assert_true (cas_job_record_append_output (lines, "", 0));
    g_assert_false (cas_job_record_append_output (lines, "", 0));
    g_assert_true (lines->output_truncated);
  }

  /* A cut never splits a character. */
  {
    g_autoptr (GString) cyrillic = g_string_new ("e");

    while (cyrillic->len < CAS_JOB_MAX_STDERR_BYTES + 10)
      g_string_append (cyrillic, "ж");
    cas_job_record_finish (record, CAS_JOB_END_EXITED, 1, NULL, cyrillic->str, T0);
    g_assert_true (g_utf8_validate (record->stderr_text, -1, NULL));
    g_assert_cmpuint (strlen (record->stderr_text), ==, CAS_JOB_MAX_STDERR_BYTES - 1);
  }
}

static void
test_ttl (void)
{
  g_autoptr (CasJobRecord) record = new_record ("{\"prompt\":\"hi\",\"agent\":\"a\"}");
  gint64 hour = G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC;

  g_assert_false (cas_job_record_is_expired (record, T0 + 10 * hour, 3600));
  cas_job_record_set_running (record, T0);
  g_assert_false (cas_job_record_is_expired (record, T0 + 10 * hour, 3600));
  cas_job_record_finish (record, CAS_JOB_END_EXITED, 0, NULL, "", T0);
  g_assert_false (cas_job_record_is_expired (record, T0, 3600));
  g_assert_false (cas_job_record_is_expired (record, T0 + hour - 1, 3600));
  g_assert_true (cas_job_record_is_expired (record, T0 + hour, 3600));
  g_assert_true (cas_job_record_is_expired (record, T0 + G_USEC_PER_SEC, 1));
  /* The clock went back: keep it. */
  g_assert_false (cas_job_record_is_expired (record, T0 - hour, 1));
  g_assert_false (cas_job_finished_is_expired (0, T0, 1));
  g_assert_true (cas_job_finished_is_expired (1, G_MAXINT64, G_MAXUINT));
}

static void
test_restart_rewrite (void)
{
  g_autoptr (CasJobRecord) queued = new_record ("{\"prompt\":\"hi\",\"agent\":\"a\"}");
  g_autoptr (CasJobRecord) running = new_record ("{\"prompt\":\"hi\",\"agent\":\"a\"}");
  g_autoptr (CasJobRecord) done = new_record ("{\"prompt\":\"hi\",\"agent\":\"a\"}");
  g_autoptr (CasJobRecord) back = NULL;

  cas_job_record_set_running (running, T0 + 5);
  running->workspace = g_strdup ("/tmp/cas-workspace-abcdef");
  cas_job_record_append_output (running, "partial", 7);
  back = round_trip (running);
  g_assert_cmpstr (back->workspace, ==, "/tmp/cas-workspace-abcdef");
  g_assert_cmpint (back->status, ==, CAS_JOB_STATUS_RUNNING);

  g_assert_true (cas_job_record_mark_interrupted (back, T0 + 100));
  g_assert_cmpint (back->status, ==, CAS_JOB_STATUS_ERROR);
  g_assert_cmpstr (back->error, ==, CAS_JOB_RESTART_REASON);
  g_assert_cmpstr (back->error, ==, "service restarted during job");
  g_assert_cmpint (back->finished_us, ==, T0 + 100);
  g_assert_cmpint (back->started_us, ==, T0 + 5);
  g_assert_cmpuint (back->output->len, ==, 1);

  g_assert_true (cas_job_record_mark_interrupted (queued, T0 + 100));
  g_assert_cmpint (queued->status, ==, CAS_JOB_STATUS_ERROR);
  g_assert_cmpint (queued->started_us, ==, 0);

  cas_job_record_finish (done, CAS_JOB_END_EXITED, 0, NULL, "", T0 + 1);
  g_assert_false (cas_job_record_mark_interrupted (done, T0 + 100));
  g_assert_cmpint (done->status, ==, CAS_JOB_STATUS_COMPLETED);
  g_assert_cmpint (done->finished_us, ==, T0 + 1);
}

static void
assert_bad_state (const char *json,
                  const char *words)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CasJobRecord) record = cas_job_record_from_json (json, strlen (json), &error);

  g_assert_null (record);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  if (words != NULL && strstr (error->message, words) == NULL)
    g_error ("“%s” gave “%s”, expected it to mention “%s”", json, error->message, words);
}

#define GOOD_HEAD "\"job_id\":\"0123456789ab\",\"prompt\":\"p\",\"agent\":\"a\"," \
                  "\"created_at\":\"2026-01-02T03:00:00.123456+00:00\""

static void
test_state_from_json (void)
{
  g_autoptr (GError) error = NULL;
  const char *minimal = "{" GOOD_HEAD ",\"status\":\"completed\"}";
  g_autoptr (CasJobRecord) record = cas_job_record_from_json (minimal, strlen (minimal), &error);

  g_assert_no_error (error);
  g_assert_cmpint (record->status, ==, CAS_JOB_STATUS_COMPLETED);
  /* A finished record without an end counts from its start. */
  g_assert_cmpint (record->finished_us, ==, T0);
  g_assert_cmpfloat (record->max_budget_usd, ==, 5.0);
  g_assert_cmpuint (record->timeout_seconds, ==, 2700);

  assert_bad_state ("", NULL);
  assert_bad_state ("[]", NULL);
  assert_bad_state ("{\"job_id\":\"../../etc/pa\",\"status\":\"queued\"}", "job_id");
  assert_bad_state ("{\"job_id\":5}", "job_id");
  assert_bad_state ("{" GOOD_HEAD ",\"status\":\"weird\"}", "status");
  assert_bad_state ("{" GOOD_HEAD ",\"status\":\"queued\",\"output\":[1]}", "output");
  assert_bad_state ("{" GOOD_HEAD ",\"status\":\"queued\",\"output\":\"x\"}", "output");
  assert_bad_state ("{" GOOD_HEAD ",\"status\":\"queued\",\"exit_code\":\"1\"}", "exit_code");
  assert_bad_state ("{" GOOD_HEAD ",\"status\":\"queued\",\"exit_code\":9999999999}", "exit_code");
  assert_bad_state ("{" GOOD_HEAD ",\"status\":\"queued\",\"started_at\":\"noon\"}", "started_at");
  assert_bad_state ("{" GOOD_HEAD ",\"status\":\"queued\",\"metadata\":[]}", "metadata");
  assert_bad_state ("{" GOOD_HEAD ",\"status\":\"queued\",\"usage\":3}", "usage");
  assert_bad_state ("{" GOOD_HEAD ",\"status\":\"queued\",\"error\":{}}", "error");
  assert_bad_state ("{" GOOD_HEAD ",\"status\":\"queued\",\"workspace\":1}", "workspace");
  assert_bad_state ("{\"job_id\":\"0123456789ab\",\"status\":\"queued\",\"prompt\":\"p\","
                    "\"agent\":\"a\"}", "created_at");
  assert_bad_state ("{\"job_id\":\"0123456789ab\",\"status\":\"queued\",\"agent\":\"a\","
                    "\"created_at\":\"2026-01-02T03:00:00Z\"}", "prompt");
}

/* max-record-output-bytes: the head of the prompt and of the output,
 * marked, and a result line too big still gives a result. */
static void
test_max_bytes (void)
{
  g_autoptr (GString) prompt = g_string_new ("{\"prompt\":\"p");
  g_autoptr (CasJobRecord) record = NULL;
  g_autoptr (CasJobRecord) small = new_record ("{\"prompt\":\"hi\",\"agent\":\"a\"}");
  g_autoptr (CasJobRecord) back = NULL;
  g_autoptr (GString) reply = g_string_new (NULL);
  g_autofree char *line = NULL;
  g_autofree char *json = NULL;
  g_autoptr (JsonObject) object = NULL;

  /* A cut never splits a character: "ж" is two bytes. */
  for (guint i = 0; i < 3000; i++)
    g_string_append (prompt, "ж");
  g_string_append (prompt, "\",\"agent\":\"a\"}");
  record = new_record (prompt->str);
  cas_job_record_set_max_bytes (record, 4096);
  g_assert_true (record->prompt_truncated);
  g_assert_cmpuint (strlen (record->prompt), ==, 4095);
  g_assert_true (g_utf8_validate (record->prompt, -1, NULL));
  cas_job_record_set_max_bytes (small, 4096);
  g_assert_false (small->prompt_truncated);
  g_assert_cmpstr (small->prompt, ==, "hi");

  /* Lines that fit are kept whole, then the rest goes. */
  g_assert_true (cas_job_record_append_output (small, "0123456789", 10));
  for (guint i = 0; i < 3000; i++)
    g_string_append (reply, "ж\\n");
  line = g_strdup_printf ("{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,"
                          "\"result\":\"%s\",\"total_cost_usd\":0.5}", reply->str);
  g_string_free (g_steal_pointer (&reply), TRUE);
  g_assert_false (cas_job_record_append_output (record, line, strlen (line)));
  g_assert_true (record->output_truncated);
  g_assert_cmpuint (record->output->len, ==, 1);
  g_assert_cmpuint (record->output_bytes, <=, 4096);
  g_assert_cmpuint (record->output_bytes, >, 4000);
  /* Nothing more fits. */
  g_assert_false (cas_job_record_append_output (record, "{}", 2));
  g_assert_cmpuint (record->output->len, ==, 1);

  cas_job_record_finish (record, CAS_JOB_END_EXITED, 0, NULL, NULL, T0 + 1);
  g_assert_cmpint (record->status, ==, CAS_JOB_STATUS_COMPLETED);
  g_assert_true (g_str_has_prefix (record->result, "ж\nж\n"));
  g_assert_cmpuint (strlen (record->result), <, 4096);
  g_assert_true (record->has_total_cost);

  json = cas_job_record_to_json (record, CAS_JOB_RECORD_FORMAT_API);
  object = cas_json_parse_object (json, strlen (json), NULL);
  g_assert_true (cas_json_get_bool (object, "prompt_truncated", FALSE));
  g_assert_true (cas_json_get_bool (object, "output_truncated", FALSE));
  back = round_trip (record);
  g_assert_true (back->prompt_truncated);
  g_assert_cmpstr (back->prompt, ==, record->prompt);
  g_assert_cmpstr (g_ptr_array_index (back->output, 0), ==, g_ptr_array_index (record->output, 0));

  /* Any other line too big is dropped. */
  {
    g_autoptr (CasJobRecord) other = new_record ("{\"prompt\":\"hi\",\"agent\":\"a\"}");
    g_autofree char *pad = g_strnfill (5000, 'x');

    cas_job_record_set_max_bytes (other, 4096);
    g_assert_false (cas_job_record_append_output (other, pad, 5000));
    g_assert_cmpuint (other->output->len, ==, 0);
    g_assert_true (other->output_truncated);
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/job-record/request/defaults", test_request_defaults);
  g_test_add_func ("/job-record/request/values", test_request_values);
  g_test_add_func ("/job-record/request/invalid", test_request_invalid);
  g_test_add_func ("/job-record/agent-names", test_agent_names);
  g_test_add_func ("/job-record/ids", test_ids);
  g_test_add_func ("/job-record/frontmatter", test_frontmatter);
  g_test_add_func ("/job-record/times", test_times);
  g_test_add_func ("/job-record/status-names", test_status_names);
  g_test_add_func ("/job-record/json/new", test_new_record_json);
  g_test_add_func ("/job-record/end/completed", test_completed);
  g_test_add_func ("/job-record/copy", test_copy);
  g_test_add_func ("/job-record/end/failed", test_failed);
  g_test_add_func ("/job-record/end/limit-result", test_limit_result);
  g_test_add_func ("/job-record/end/timeout-and-error", test_timeout_and_error);
  g_test_add_func ("/job-record/json/hostile", test_hostile_values);
  g_test_add_func ("/job-record/output-bounds", test_output_bounds);
  g_test_add_func ("/job-record/ttl", test_ttl);
  g_test_add_func ("/job-record/max-bytes", test_max_bytes);
  g_test_add_func ("/job-record/restart-rewrite", test_restart_rewrite);
  g_test_add_func ("/job-record/state/from-json", test_state_from_json);

  return g_test_run ();
}
