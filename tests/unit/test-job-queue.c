/* CasJobQueue without HTTP, against the real fake claude: submit, lookup
 * from memory and from disk, unknown ids, and a stop that leaves every
 * record on disk. */
#include <glib/gstdio.h>
#include <string.h>

#include "cas-cli-process.h"
#include "cas-error.h"
#include "cas-job-queue.h"

typedef struct {
  char *dir;
  char *state_dir;
  char *scenario;
  char *log;
  CasConfig *config;
  CasAdmission *admission;
  CasAgentSet *agents;
  CasJobQueue *queue;
  /* Filled by callbacks. */
  GAsyncResult *result;
  GHashTable *statuses;       /* id -> last CasJobStatus seen on job-changed */
} Fixture;

static gint64
wait_budget_us (void)
{
  const char *multiplier = g_getenv ("CAS_TEST_TIMEOUT_MULTIPLIER");
  gint64 factor = multiplier != NULL ? MAX (g_ascii_strtoll (multiplier, NULL, 10), 1) : 1;

  return 20 * G_USEC_PER_SEC * factor;
}

static gboolean
on_tick (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates the main context until @done says so; a tick wakes it to
 * look at files, which send no event. */
static void
wait_until (gboolean (*done) (Fixture *fx, gconstpointer data),
            Fixture      *fx,
            gconstpointer data)
{
  gint64 deadline = g_get_monotonic_time () + wait_budget_us ();
  guint tick = g_timeout_add (10, on_tick, NULL);

  while (!done (fx, data) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  g_assert_true (done (fx, data));
}

static void
on_job_changed (CasJobQueue *queue,
                const char  *id,
                int          status,
                gpointer     user_data)
{
  Fixture *fx = user_data;

  g_hash_table_replace (fx->statuses, g_strdup (id), GINT_TO_POINTER (status + 1));
}

static void
open_queue (Fixture *fx)
{
  g_autoptr (GError) error = NULL;

  fx->queue = cas_job_queue_new (fx->config, fx->admission, fx->agents, fx->state_dir, &error);
  g_assert_no_error (error);
  g_signal_connect (fx->queue, "job-changed", G_CALLBACK (on_job_changed), fx);
}

static void
fixture_setup (Fixture      *fx,
               gconstpointer data)
{
  const char *fakes = g_getenv ("CAS_FAKES_DIR");
  const char *max_concurrency = data != NULL ? data : "10";
  const char * const envp[] = { NULL };
  g_autofree char *claude = NULL;
  g_autofree char *keyfile = NULL;
  g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (fakes);
  fx->dir = g_dir_make_tmp ("cas-job-queue-XXXXXX", NULL);
  fx->state_dir = g_build_filename (fx->dir, "state", NULL);
  fx->scenario = g_build_filename (fx->dir, "scenario", NULL);
  fx->log = g_build_filename (fx->dir, "fake.log", NULL);
  claude = g_build_filename (fakes, "claude", NULL);
  /* Set before any child exists; every run re-reads the scenario file. */
  g_setenv ("FAKE_CLAUDE_SCENARIO", fx->scenario, TRUE);
  g_setenv ("FAKE_CLAUDE_LOG", fx->log, TRUE);
  g_setenv ("HOME", fx->dir, TRUE);
  g_unsetenv ("CLAUDE_CONFIG_DIR");
  g_file_set_contents (fx->scenario, "", 0, NULL);

  keyfile = g_strdup_printf ("[claude]\ncommand=%s\nmax-concurrency=%s\n", claude,
                             max_concurrency);
  fx->config = cas_config_parse (keyfile, strlen (keyfile), "test", envp, &error);
  g_assert_no_error (error);
  fx->admission = cas_admission_new (fx->config->claude_max_concurrency,
                                     fx->config->claude_max_queue_depth);
  fx->agents = cas_agent_set_load_builtin (NULL, problems);
  fx->statuses = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  open_queue (fx);
}

static gboolean
no_process_left (Fixture      *fx,
                 gconstpointer data)
{
  return cas_cli_process_get_live_count () == 0;
}

static void
fixture_teardown (Fixture      *fx,
                  gconstpointer data)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", fx->dir);

  if (fx->queue != NULL)
    cas_job_queue_stop (fx->queue);
  wait_until (no_process_left, fx, NULL);
  g_clear_object (&fx->queue);
  g_clear_object (&fx->admission);
  g_clear_pointer (&fx->agents, cas_agent_set_unref);
  g_clear_pointer (&fx->config, cas_config_unref);
  g_clear_pointer (&fx->statuses, g_hash_table_unref);
  g_assert_null (fx->result);
  g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL));
  g_free (fx->dir);
  g_free (fx->state_dir);
  g_free (fx->scenario);
  g_free (fx->log);
}

static void
set_scenario (Fixture    *fx,
              const char *text)
{
  g_autoptr (GError) error = NULL;

  g_file_set_contents (fx->scenario, text, -1, &error);
  g_assert_no_error (error);
}

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Fixture *fx = user_data;

  fx->result = g_object_ref (result);
}

static gboolean
has_result (Fixture      *fx,
            gconstpointer data)
{
  return fx->result != NULL;
}

static char *
submit (Fixture    *fx,
        const char *agent,
        GError    **error)
{
  CasJobRequest request = {
    .prompt = (char *) "Здравей",
    .agent = (char *) agent,
    .max_budget_usd = 1,
    .timeout_seconds = 60,
  };
  g_autoptr (GAsyncResult) result = NULL;

  cas_job_queue_submit_async (fx->queue, &request, NULL, on_done, fx);
  wait_until (has_result, fx, NULL);
  result = g_steal_pointer (&fx->result);
  return cas_job_queue_submit_finish (fx->queue, result, error);
}

static CasJobRecord *
lookup (Fixture    *fx,
        const char *id,
        GError    **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  cas_job_queue_lookup_async (fx->queue, id, NULL, on_done, fx);
  wait_until (has_result, fx, NULL);
  result = g_steal_pointer (&fx->result);
  return cas_job_queue_lookup_finish (fx->queue, result, error);
}

static gboolean
reached_status (Fixture      *fx,
                gconstpointer data)
{
  const char *id = data;
  int seen = GPOINTER_TO_INT (g_hash_table_lookup (fx->statuses, id)) - 1;

  return seen >= 0 && cas_job_status_is_finished (seen);
}

static CasJobRecord *
read_record_file (Fixture    *fx,
                  const char *id)
{
  g_autofree char *name = g_strconcat (id, ".json", NULL);
  g_autofree char *path = g_build_filename (fx->state_dir, "jobs", name, NULL);
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  CasJobRecord *record;
  gsize length;

  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  record = cas_job_record_from_json (contents, length, &error);
  g_assert_no_error (error);
  return record;
}

static void
write_record_file (Fixture            *fx,
                   const CasJobRecord *record)
{
  g_autofree char *name = g_strconcat (record->id, ".json", NULL);
  g_autofree char *path = g_build_filename (fx->state_dir, "jobs", name, NULL);
  g_autofree char *json = cas_job_record_to_json (record, CAS_JOB_RECORD_FORMAT_STATE);
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, json, -1, &error);
  g_assert_no_error (error);
}

static void
test_lifecycle (Fixture      *fx,
                gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  g_autoptr (CasJobRecord) early = NULL;
  g_autoptr (CasJobRecord) done = NULL;
  g_autoptr (CasJobRecord) stored = NULL;

  set_scenario (fx, "FAKE_CLAUDE_REPLY=Готово\n");
  id = submit (fx, "workspace", &error);
  g_assert_no_error (error);
  g_assert_true (cas_job_id_is_valid (id));

  /* Submit answers once the first record is on disk. */
  stored = read_record_file (fx, id);
  g_assert_cmpint (stored->status, ==, CAS_JOB_STATUS_QUEUED);

  early = lookup (fx, id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (early->id, ==, id);
  g_assert_true (early->status == CAS_JOB_STATUS_QUEUED ||
                 early->status == CAS_JOB_STATUS_RUNNING);
  g_assert_cmpstr (early->prompt, ==, "Здравей");

  wait_until (reached_status, fx, id);
  done = lookup (fx, id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (done->status, ==, CAS_JOB_STATUS_COMPLETED);
  g_assert_cmpstr (done->result, ==, "Готово");
  g_assert_nonnull (done->workspace);

  /* The final status is announced once it is on disk. */
  g_clear_pointer (&stored, cas_job_record_free);
  stored = read_record_file (fx, id);
  g_assert_cmpint (stored->status, ==, CAS_JOB_STATUS_COMPLETED);
}

static void
test_finished_from_disk (Fixture      *fx,
                         gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  g_autoptr (CasJobRecord) stored = NULL;
  g_autoptr (CasJobRecord) record = NULL;
  g_autoptr (CasJobRecord) after_restart = NULL;
  g_autofree char *name = NULL;
  g_autofree char *path = NULL;

  id = submit (fx, "workspace", &error);
  g_assert_no_error (error);
  wait_until (reached_status, fx, id);

  /* What the file says is what a lookup says. */
  stored = read_record_file (fx, id);
  g_free (stored->result);
  stored->result = g_strdup ("edited on disk");
  write_record_file (fx, stored);
  record = lookup (fx, id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (record->result, ==, "edited on disk");

  /* A new queue over the same directory finds it. */
  cas_job_queue_stop (fx->queue);
  g_clear_object (&fx->queue);
  open_queue (fx);
  after_restart = lookup (fx, id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (after_restart->status, ==, CAS_JOB_STATUS_COMPLETED);

  /* Gone from disk: gone. */
  name = g_strconcat (id, ".json", NULL);
  path = g_build_filename (fx->state_dir, "jobs", name, NULL);
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_null (lookup (fx, id, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND);
}

static void
test_unknown (Fixture      *fx,
              gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;

  g_assert_null (lookup (fx, "0123456789ab", &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_null (lookup (fx, "../../etc/pa", &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  id = submit (fx, "no-such-agent", &error);
  g_assert_null (id);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  id = submit (fx, "../workspace", &error);
  g_assert_null (id);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
}

/* Cancelled before its record is stored: no job, no file. */
static void
test_cancelled_submit (Fixture      *fx,
                       gconstpointer data)
{
  CasJobRequest request = {
    .prompt = (char *) "x",
    .agent = (char *) "workspace",
    .max_budget_usd = 1,
    .timeout_seconds = 60,
  };
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *records = g_build_filename (fx->state_dir, "jobs", NULL);
  g_autoptr (GDir) dir = NULL;

  cas_job_queue_submit_async (fx->queue, &request, cancellable, on_done, fx);
  g_cancellable_cancel (cancellable);
  wait_until (has_result, fx, NULL);
  result = g_steal_pointer (&fx->result);
  id = cas_job_queue_submit_finish (fx->queue, result, &error);
  g_assert_null (id);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  /* The stop waits for the removal too. */
  cas_job_queue_stop (fx->queue);
  dir = g_dir_open (records, 0, NULL);
  g_assert_nonnull (dir);
  g_assert_null (g_dir_read_name (dir));
}

static gboolean
fake_started (Fixture      *fx,
              gconstpointer data)
{
  g_autofree char *contents = NULL;

  return g_file_get_contents (fx->log, &contents, NULL, NULL) && strchr (contents, '\n') != NULL;
}

static void
test_stop_flushes (Fixture      *fx,
                   gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *running = NULL;
  g_autofree char *queued = NULL;
  g_autoptr (CasJobRecord) first = NULL;
  g_autoptr (CasJobRecord) second = NULL;
  g_autoptr (CasJobRecord) record = NULL;

  set_scenario (fx, "FAKE_CLAUDE_HANG=1\n");
  running = submit (fx, "workspace", &error);
  g_assert_no_error (error);
  wait_until (fake_started, fx, NULL);
  /* One slot (see main): this one waits. */
  queued = submit (fx, "workspace", &error);
  g_assert_no_error (error);
  record = lookup (fx, queued, &error);
  g_assert_no_error (error);
  g_assert_cmpint (record->status, ==, CAS_JOB_STATUS_QUEUED);

  /* No iteration between the stop and the reads: the stop itself waits
   * for the writes. */
  cas_job_queue_stop (fx->queue);
  first = read_record_file (fx, running);
  second = read_record_file (fx, queued);
  g_assert_cmpint (first->status, ==, CAS_JOB_STATUS_ERROR);
  g_assert_cmpstr (first->error, ==, "service stopped during job");
  g_assert_cmpint (second->status, ==, CAS_JOB_STATUS_ERROR);
  g_assert_cmpstr (second->error, ==, "service stopped during job");

  /* A stopped queue takes nothing new. */
  g_clear_pointer (&running, g_free);
  running = submit (fx, "workspace", &error);
  g_assert_null (running);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CANCELLED);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/job-queue/lifecycle", Fixture, NULL, fixture_setup, test_lifecycle,
              fixture_teardown);
  g_test_add ("/job-queue/finished-from-disk", Fixture, NULL, fixture_setup,
              test_finished_from_disk, fixture_teardown);
  g_test_add ("/job-queue/unknown", Fixture, NULL, fixture_setup, test_unknown,
              fixture_teardown);
  g_test_add ("/job-queue/cancelled-submit", Fixture, NULL, fixture_setup,
              test_cancelled_submit, fixture_teardown);
  g_test_add ("/job-queue/stop-flushes", Fixture, "1", fixture_setup, test_stop_flushes,
              fixture_teardown);
  return g_test_run ();
}
