/* cas-jobs.c: the job runner behind POST /execute and GET /jobs/{id}.
 *
 * A job waits for admission, gets a workspace, runs the CLI there and
 * ends; its record is written at every status change. Only queued and
 * running jobs are kept in memory: finished records are read back from
 * their file when asked for, so memory does not grow with the history.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-jobs"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cas-cli-argv.h"
#include "cas-cli-process.h"
#include "cas-error.h"
#include "cas-job-record.h"
#include "cas-jobs.h"
#include "cas-json.h"
#include "cas-workspace.h"

/* A state file larger than this is not one of ours. */
#define MAX_RECORD_FILE_BYTES (64 * 1024 * 1024)
/* ~/.claude/agents is the user's; look at a sane number of files, and
 * only at their heads, where the frontmatter is. */
#define MAX_USER_AGENT_FILES 1000
#define USER_AGENT_HEAD_BYTES (64 * 1024)
#define EVICT_INTERVAL_MAX_SECONDS 60

/* The words of a job ended by the daemon stopping. */
#define STOPPED_REASON "service stopped during job"

typedef struct {
  CasJobs *jobs;              /* (unowned) (nullable) NULL once the jobs object is gone */
  CasJobRecord *record;       /* (owned) */
  char *agents_json;          /* (owned) (nullable) --agents for one of ours */
  GCancellable *cancellable;  /* (owned) */
  CasAdmissionSlot *slot;     /* (owned) (nullable) */
  CasCliProcess *run;             /* (owned) (nullable) */
  gulong line_handler;
  gulong finished_handler;
} Job;

struct _CasJobs
{
  GObject parent_instance;

  CasConfig *config;          /* (owned) */
  CasAdmission *admission;    /* (owned) */
  CasAgentSet *agents;        /* (owned) (nullable) */
  char *records_dir;          /* (owned) */
  char *workspace_parent;     /* (owned) */
  GHashTable *live;           /* (owned) id -> Job (a reference): queued and running */
  GHashTable *finished;       /* (owned) id -> gint64 finished µs: records on disk */
  guint evict_id;
  /* Set once a run was stopped from outside: the daemon is shutting down,
   * so no new run starts. */
  gboolean stopping;
};

G_DEFINE_FINAL_TYPE (CasJobs, cas_jobs, G_TYPE_OBJECT)

static void
job_clear (gpointer data)
{
  Job *job = data;

  if (job->run != NULL)
    {
      g_clear_signal_handler (&job->line_handler, job->run);
      g_clear_signal_handler (&job->finished_handler, job->run);
    }
  g_clear_object (&job->run);
  g_clear_pointer (&job->slot, cas_admission_slot_release);
  g_clear_object (&job->cancellable);
  g_clear_pointer (&job->record, cas_job_record_free);
  g_free (job->agents_json);
}

static Job *
job_ref (Job *job)
{
  return g_rc_box_acquire (job);
}

static void
job_unref (Job *job)
{
  g_rc_box_release_full (job, job_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Job, job_unref)

static char *
record_path (CasJobs    *self,
             const char *id)
{
  g_autofree char *name = g_strconcat (id, ".json", NULL);

  return g_build_filename (self->records_dir, name, NULL);
}

static gboolean
save_record (CasJobs            *self,
             const CasJobRecord *record,
             GError            **error)
{
  g_autofree char *path = record_path (self, record->id);
  g_autofree char *json = cas_job_record_to_json (record, CAS_JOB_RECORD_FORMAT_STATE);

  /* Written beside and renamed over: a crash leaves the old or the new
   * record, never half of one. */
  return g_file_set_contents_full (path, json, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                   0600, error);
}

static void
save_record_or_log (CasJobs            *self,
                    const CasJobRecord *record)
{
  g_autoptr (GError) error = NULL;

  if (!save_record (self, record, &error))
    g_message (_("Could not save the record of job %s: %s"), record->id, error->message);
}

static void
delete_record (CasJobs    *self,
               const char *id)
{
  g_autofree char *path = record_path (self, id);

  if (g_unlink (path) != 0 && errno != ENOENT)
    g_message (_("Could not remove the record of job %s: %s"), id, g_strerror (errno));
}

/* Workspaces named in records are removed only if they look like ours:
 * a state file is not a licence to delete an arbitrary directory. */
static void
remove_leftover_workspace (const char *path)
{
  g_autofree char *name = NULL;

  if (path == NULL || !g_path_is_absolute (path))
    return;
  name = g_path_get_basename (path);
  if (!g_str_has_prefix (name, CAS_WORKSPACE_NAME_PREFIX) ||
      !g_file_test (path, G_FILE_TEST_IS_DIR) || g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    return;
  cas_workspace_remove (path);
}

static void
evict_expired (CasJobs *self)
{
  gint64 now = g_get_real_time ();
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, self->finished);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const gint64 *finished_us = value;

      if (!cas_job_finished_is_expired (*finished_us, now, self->config->jobs_job_ttl_seconds))
        continue;
      g_debug ("job %s expired", (const char *) key);
      delete_record (self, key);
      g_hash_table_iter_remove (&iter);
    }
}

static gboolean
on_evict_timeout (gpointer user_data)
{
  evict_expired (user_data);
  return G_SOURCE_CONTINUE;
}

static void
remember_finished (CasJobs    *self,
                   const char *id,
                   gint64      finished_us)
{
  gint64 *value = g_new (gint64, 1);

  *value = finished_us;
  g_hash_table_insert (self->finished, g_strdup (id), value);
}

/* Ends @job: final record, workspace gone, slot freed, out of memory. */
static void
finish_job (Job        *job,
            CasJobEnd   end,
            int         exit_status,
            const char *message,
            const char *stderr_text)
{
  CasJobs *self = job->jobs;
  CasJobRecord *record = job->record;
  g_autoptr (Job) held = job_ref (job);

  if (job->run != NULL)
    {
      g_clear_signal_handler (&job->line_handler, job->run);
      g_clear_signal_handler (&job->finished_handler, job->run);
    }
  cas_job_record_finish (record, end, exit_status, message, stderr_text, g_get_real_time ());
  g_debug ("job %s: %s", record->id, cas_job_status_to_string (record->status));
  if (self == NULL)
    {
      g_clear_pointer (&job->slot, cas_admission_slot_release);
      return;
    }

  save_record_or_log (self, record);
  /* The path stays in the record: should the removal not finish (the
   * daemon stopping), the next start sweeps it. */
  if (record->workspace != NULL)
    cas_workspace_remove (record->workspace);

  remember_finished (self, record->id, record->finished_us);
  g_hash_table_remove (self->live, record->id);
  evict_expired (self);
  /* Last: freeing the slot may start the next job at once. */
  g_clear_pointer (&job->slot, cas_admission_slot_release);
}

static void
on_run_line (CasCliProcess  *run,
             const char *line,
             guint64     length,
             gpointer    user_data)
{
  Job *job = user_data;

  if (!cas_job_record_append_output (job->record, line, (gsize) length) &&
      job->record->output->len == CAS_JOB_MAX_OUTPUT_LINES)
    g_debug ("job %s: output over its bounds; dropping lines", job->record->id);
}

static void
on_run_finished (CasCliProcess *run,
                 gpointer   user_data)
{
  Job *job = user_data;
  const GError *error = cas_cli_process_get_error (run);
  const char *stderr_text = cas_cli_process_get_stderr (run);

  if (g_error_matches (error, CAS_ERROR, CAS_ERROR_TIMED_OUT))
    finish_job (job, CAS_JOB_END_TIMED_OUT, cas_cli_process_get_exit_status (run),
                error->message, stderr_text);
  else if (g_error_matches (error, CAS_ERROR, CAS_ERROR_CANCELLED))
    {
      /* Jobs never stop their own runs: the daemon is stopping them. */
      if (job->jobs != NULL)
        job->jobs->stopping = TRUE;
      finish_job (job, CAS_JOB_END_ERROR, -1, STOPPED_REASON, stderr_text);
    }
  else
    finish_job (job, CAS_JOB_END_EXITED, cas_cli_process_get_exit_status (run), NULL, stderr_text);
}

static void
start_run (Job *job)
{
  CasJobs *self = job->jobs;
  CasJobRecord *record = job->record;
  CasCliInvocation invocation = {
    .kind = CAS_CLI_KIND_JOB,
    .command = self->config->claude_command,
    .agent = record->agent,
    .agents_json = job->agents_json,
    .max_budget_usd = record->max_budget_usd,
    /* The record keeps what a job said; a transcript would be a copy. */
    .no_session_persistence = TRUE,
  };
  g_auto (GStrv) argv = cas_cli_argv_build (&invocation);
  g_autoptr (GBytes) prompt = g_bytes_new (record->prompt, strlen (record->prompt));
  g_autoptr (GError) error = NULL;

  job->run = cas_cli_process_new ((const char * const *) argv, record->workspace, prompt);
  /* The timeout counts execution only, not the time spent queued. */
  cas_cli_process_set_timeout (job->run, record->timeout_seconds);
  cas_cli_process_set_kill_grace (job->run, self->config->claude_kill_grace_seconds);
  cas_cli_process_set_max_line_bytes (job->run, self->config->claude_max_line_bytes);
  job->line_handler = g_signal_connect (job->run, "line", G_CALLBACK (on_run_line), job);
  job->finished_handler = g_signal_connect (job->run, "finished",
                                            G_CALLBACK (on_run_finished), job);
  if (!cas_cli_process_start (job->run, &error))
    {
      finish_job (job, CAS_JOB_END_ERROR, -1, error->message, NULL);
      return;
    }
  g_debug ("job %s: running pid %d in %s", record->id, cas_cli_process_get_pid (job->run),
           record->workspace);
}

static void
on_workspace_ready (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr (Job) job = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = cas_workspace_prepare_finish (result, &error);

  /* The jobs object went away while the workspace was made. */
  if (job->jobs == NULL)
    {
      if (dir != NULL)
        cas_workspace_remove (dir);
      return;
    }
  if (dir == NULL)
    {
      finish_job (job, CAS_JOB_END_ERROR, -1, error->message, NULL);
      return;
    }
  job->record->workspace = g_steal_pointer (&dir);
  if (job->jobs->stopping)
    {
      finish_job (job, CAS_JOB_END_ERROR, -1, STOPPED_REASON, NULL);
      return;
    }
  /* Saved with the path, so a crash from here on leaves it findable. */
  save_record_or_log (job->jobs, job->record);
  start_run (job);
}

static void
on_admitted (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (Job) job = user_data;
  g_autoptr (GError) error = NULL;
  CasAdmissionSlot *slot = cas_admission_acquire_finish (CAS_ADMISSION (source), result, &error);
  CasJobs *self = job->jobs;

  if (self == NULL)
    {
      g_clear_pointer (&slot, cas_admission_slot_release);
      return;
    }
  if (slot == NULL)
    {
      finish_job (job, CAS_JOB_END_ERROR, -1, error->message, NULL);
      return;
    }
  job->slot = slot;
  if (self->stopping)
    {
      finish_job (job, CAS_JOB_END_ERROR, -1, STOPPED_REASON, NULL);
      return;
    }

  cas_job_record_set_running (job->record, g_get_real_time ());
  save_record_or_log (self, job->record);
  cas_workspace_prepare_async (self->config->jobs_workspace_repo, self->workspace_parent,
                               self->config->jobs_git_crypt_key_file,
                               self->config->jobs_fetch_debounce_seconds,
                               job->cancellable, on_workspace_ready, job_ref (job));
}

/* The first bytes of a regular file; NULL for anything else (a FIFO
 * must not block the main loop). */
static char *
read_file_head (const char *path,
                gsize       max,
                gsize      *length)
{
  g_autofree char *buffer = NULL;
  struct stat st;
  gssize n;
  int fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0);

  if (fd < 0)
    return NULL;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      return NULL;
    }
  buffer = g_malloc (max + 1);
  do
    n = read (fd, buffer, max);
  while (n < 0 && errno == EINTR);
  close (fd);
  if (n < 0)
    return NULL;
  buffer[n] = '\0';
  *length = (gsize) n;
  return g_steal_pointer (&buffer);
}

/* Whether the user keeps an agent of this name in ~/.claude/agents (or
 * $CLAUDE_CONFIG_DIR/agents), as the CLI reads them. Bad files are
 * skipped. @name has been validated, so it is never a path. */
static gboolean
user_agent_exists (const char *name)
{
  const char *config_dir = g_getenv ("CLAUDE_CONFIG_DIR");
  g_autofree char *dir = NULL;
  g_autoptr (GDir) listing = NULL;
  const char *entry;
  guint seen = 0;

  if (config_dir != NULL && *config_dir != '\0')
    dir = g_build_filename (config_dir, "agents", NULL);
  else
    dir = g_build_filename (g_get_home_dir (), ".claude", "agents", NULL);

  listing = g_dir_open (dir, 0, NULL);
  if (listing == NULL)
    return FALSE;
  while ((entry = g_dir_read_name (listing)) != NULL && seen < MAX_USER_AGENT_FILES)
    {
      g_autofree char *path = NULL;
      g_autofree char *contents = NULL;
      g_autofree char *found = NULL;
      gsize length = 0;

      if (!g_str_has_suffix (entry, ".md"))
        continue;
      seen++;
      path = g_build_filename (dir, entry, NULL);
      /* Symlinks are followed (dotfile managers use them), but only to
       * regular files. */
      contents = read_file_head (path, USER_AGENT_HEAD_BYTES, &length);
      if (contents == NULL)
        continue;
      found = cas_job_frontmatter_name (contents, length);
      if (found != NULL && g_str_equal (found, name))
        return TRUE;
    }
  return FALSE;
}

static char *
new_job_id (CasJobs *self)
{
  for (;;)
    {
      guint8 bytes[CAS_JOB_ID_RANDOM_BYTES];
      guint32 a = g_random_int (), b = g_random_int ();
      g_autofree char *id = NULL;
      g_autofree char *path = NULL;

      memcpy (bytes, &a, 4);
      memcpy (bytes + 4, &b, 2);
      id = cas_job_id_from_bytes (bytes);
      path = record_path (self, id);
      if (!g_hash_table_contains (self->live, id) &&
          !g_hash_table_contains (self->finished, id) &&
          !g_file_test (path, G_FILE_TEST_EXISTS))
        return g_steal_pointer (&id);
    }
}

/* The status comes from the one error table (cas-error.c). */
static void
reply_error (SoupServerMessage *msg,
             CasError           code,
             const char        *message)
{
  g_autoptr (GError) error = g_error_new_literal (CAS_ERROR, code, message);

  cas_http_reply_error (msg, error);
}

static void
reply_invalid (SoupServerMessage *msg,
               const char        *message)
{
  reply_error (msg, CAS_ERROR_INVALID_ARGUMENT, message);
}

static void
handle_execute (CasHttpServer     *server,
                SoupServerMessage *msg,
                const char        *path,
                GHashTable        *query,
                gpointer           user_data)
{
  CasJobs *self = user_data;
  g_autoptr (GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autoptr (CasJobRequest) request = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *agents_json = NULL;
  g_autofree char *id = NULL;
  g_autoptr (CasJobRecord) record = NULL;
  Job *job;
  GString *out;
  guint depth = MAX (self->config->claude_max_queue_depth, 1);
  gsize length;
  const char *data = g_bytes_get_data (body, &length);

  request = cas_job_request_parse (data, length, &error);
  if (request == NULL)
    {
      reply_invalid (msg, error->message);
      return;
    }

  if (self->agents != NULL && cas_agent_set_lookup (self->agents, request->agent) != NULL)
    {
      agents_json = cas_agent_set_to_cli_json_for (self->agents, request->agent, &error);
      if (agents_json == NULL)
        {
          cas_http_reply_error (msg, error);
          return;
        }
    }
  else if (!user_agent_exists (request->agent))
    {
      g_autofree char *message = g_strdup_printf ("unknown agent: %s", request->agent);

      reply_invalid (msg, message);
      return;
    }

  if (g_hash_table_size (self->live) + g_hash_table_size (self->finished) >= CAS_JOBS_MAX_RECORDS)
    {
      g_autofree char *message =
        g_strdup_printf ("too many job records (%d); wait for finished ones to expire",
                         CAS_JOBS_MAX_RECORDS);

      reply_error (msg, CAS_ERROR_TOO_MANY_REQUESTS, message);
      return;
    }
  /* The admission's own test, asked first: refusing needs an answer now,
   * and the acquire below answers a full queue only from the main loop.
   * Jobs are refused with 429 (the Python service's answer, which callers
   * retry on), where chat routes say 503 "queue full". */
  if (cas_admission_get_active (self->admission) +
      cas_admission_get_queued (self->admission) >= depth)
    {
      g_autofree char *message =
        g_strdup_printf ("Queue full: %u jobs and requests running or waiting", depth);

      reply_error (msg, CAS_ERROR_TOO_MANY_REQUESTS, message);
      return;
    }

  id = new_job_id (self);
  record = cas_job_record_new (id, request, g_get_real_time ());
  if (!save_record (self, record, &error))
    {
      g_message (_("Could not save the record of job %s: %s"), id, error->message);
      reply_error (msg, CAS_ERROR_FAILED, "cannot store the job record");
      return;
    }

  job = g_rc_box_new0 (Job);
  job->jobs = self;
  job->record = g_steal_pointer (&record);
  job->agents_json = g_steal_pointer (&agents_json);
  job->cancellable = g_cancellable_new ();
  g_hash_table_insert (self->live, g_strdup (id), job);
  g_debug ("job %s queued: agent %s", id, job->record->agent);
  cas_admission_acquire_async (self->admission, job->cancellable, on_admitted, job_ref (job));

  out = g_string_new ("{\"job_id\":");
  cas_json_append_string (out, id);
  g_string_append (out, ",\"status\":\"queued\"}");
  cas_http_reply_json (msg, SOUP_STATUS_ACCEPTED, g_string_free (out, FALSE));
}

/* A finished record from its file; NULL (and forgotten) if it is gone,
 * unreadable or expired. */
static CasJobRecord *
load_finished (CasJobs    *self,
               const char *id)
{
  g_autofree char *path = record_path (self, id);
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (CasJobRecord) record = NULL;
  gsize length;

  if (!g_file_get_contents (path, &contents, &length, &error))
    g_message (_("Could not read the record of job %s: %s"), id, error->message);
  else if ((record = cas_job_record_from_json (contents, length, &error)) == NULL)
    g_message (_("Could not read the record of job %s: %s"), id, error->message);
  else if (!g_str_equal (record->id, id))
    g_clear_pointer (&record, cas_job_record_free);
  else if (cas_job_record_is_expired (record, g_get_real_time (),
                                      self->config->jobs_job_ttl_seconds))
    {
      delete_record (self, id);
      g_clear_pointer (&record, cas_job_record_free);
    }

  if (record == NULL)
    g_hash_table_remove (self->finished, id);
  return g_steal_pointer (&record);
}

static void
handle_get_job (CasHttpServer     *server,
                SoupServerMessage *msg,
                const char        *path,
                GHashTable        *query,
                gpointer           user_data)
{
  CasJobs *self = user_data;
  const char *id = path + strlen ("/jobs/");
  g_autoptr (CasJobRecord) loaded = NULL;
  Job *job;

  if (!cas_job_id_is_valid (id))
    {
      reply_invalid (msg, "a job id is 12 lowercase hexadecimal digits");
      return;
    }

  job = g_hash_table_lookup (self->live, id);
  if (job != NULL)
    {
      cas_http_reply_json (msg, SOUP_STATUS_OK,
                           cas_job_record_to_json (job->record, CAS_JOB_RECORD_FORMAT_API));
      return;
    }
  if (g_hash_table_contains (self->finished, id))
    loaded = load_finished (self, id);
  if (loaded == NULL)
    {
      reply_error (msg, CAS_ERROR_NOT_FOUND, "Job not found");
      return;
    }
  cas_http_reply_json (msg, SOUP_STATUS_OK,
                       cas_job_record_to_json (loaded, CAS_JOB_RECORD_FORMAT_API));
}

static gboolean
is_record_file_name (const char *name)
{
  g_autofree char *id = NULL;

  if (strlen (name) != CAS_JOB_ID_LENGTH + strlen (".json") || !g_str_has_suffix (name, ".json"))
    return FALSE;
  id = g_strndup (name, CAS_JOB_ID_LENGTH);
  return cas_job_id_is_valid (id);
}

/* g_file_set_contents' temporary files: "<id>.json.XXXXXX". */
static gboolean
is_temporary_file_name (const char *name)
{
  g_autofree char *head = NULL;

  if (strlen (name) != CAS_JOB_ID_LENGTH + strlen (".json.XXXXXX"))
    return FALSE;
  head = g_strndup (name, CAS_JOB_ID_LENGTH + strlen (".json"));
  return is_record_file_name (head) && name[CAS_JOB_ID_LENGTH + strlen (".json")] == '.';
}

static void
load_one (CasJobs    *self,
          const char *name,
          gint64      now)
{
  g_autofree char *path = g_build_filename (self->records_dir, name, NULL);
  g_autofree char *contents = NULL;
  g_autoptr (CasJobRecord) record = NULL;
  g_autoptr (GError) error = NULL;
  GStatBuf st;
  gsize length;

  if (g_lstat (path, &st) != 0 || !S_ISREG (st.st_mode) || st.st_size > MAX_RECORD_FILE_BYTES)
    {
      g_message (_("Ignoring %s: not a job record"), path);
      return;
    }
  if (!g_file_get_contents (path, &contents, &length, &error) ||
      (record = cas_job_record_from_json (contents, length, &error)) == NULL)
    {
      g_message (_("Ignoring %s: %s"), path, error->message);
      return;
    }
  if (strncmp (record->id, name, CAS_JOB_ID_LENGTH) != 0)
    {
      g_message (_("Ignoring %s: it holds job %s"), path, record->id);
      return;
    }

  if (cas_job_record_mark_interrupted (record, now))
    {
      g_message (_("Job %s was queued or running when the service went away; "
                   "marked as an error"), record->id);
      save_record_or_log (self, record);
    }
  remove_leftover_workspace (record->workspace);

  if (cas_job_record_is_expired (record, now, self->config->jobs_job_ttl_seconds))
    delete_record (self, record->id);
  else
    remember_finished (self, record->id, record->finished_us);
}

static gboolean
load_records (CasJobs *self,
              GError **error)
{
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  gint64 now = g_get_real_time ();

  if (g_mkdir_with_parents (self->records_dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG, _("Cannot create %s: %s"),
                   self->records_dir, g_strerror (saved_errno));
      return FALSE;
    }
  dir = g_dir_open (self->records_dir, 0, error);
  if (dir == NULL)
    return FALSE;
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));

  for (guint i = 0; i < names->len; i++)
    {
      const char *entry = g_ptr_array_index (names, i);

      if (is_record_file_name (entry))
        load_one (self, entry, now);
      else if (is_temporary_file_name (entry))
        {
          g_autofree char *path = g_build_filename (self->records_dir, entry, NULL);

          g_unlink (path);
        }
    }
  if (g_hash_table_size (self->finished) > 0)
    g_debug ("%u job records kept", g_hash_table_size (self->finished));
  return TRUE;
}

static void
cas_jobs_dispose (GObject *object)
{
  CasJobs *self = CAS_JOBS (object);
  GHashTableIter iter;
  gpointer value;

  g_clear_handle_id (&self->evict_id, g_source_remove);

  /* Jobs still in memory lose their owner: detach them so callbacks
   * that arrive later (admission, workspace, a run the daemon could not
   * reap in time) find nothing to touch. */
  if (self->live != NULL)
    {
      g_hash_table_iter_init (&iter, self->live);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          Job *job = value;

          job->jobs = NULL;
          if (job->run != NULL)
            {
              g_clear_signal_handler (&job->line_handler, job->run);
              g_clear_signal_handler (&job->finished_handler, job->run);
              cas_cli_process_stop (job->run);
            }
          if (!cas_job_status_is_finished (job->record->status))
            {
              cas_job_record_finish (job->record, CAS_JOB_END_ERROR, -1, STOPPED_REASON,
                                     NULL, g_get_real_time ());
              save_record_or_log (self, job->record);
            }
          g_clear_pointer (&job->slot, cas_admission_slot_release);
          g_cancellable_cancel (job->cancellable);
        }
      g_hash_table_remove_all (self->live);
    }

  G_OBJECT_CLASS (cas_jobs_parent_class)->dispose (object);
}

static void
cas_jobs_finalize (GObject *object)
{
  CasJobs *self = CAS_JOBS (object);

  g_clear_pointer (&self->live, g_hash_table_unref);
  g_clear_pointer (&self->finished, g_hash_table_unref);
  g_clear_object (&self->admission);
  g_clear_pointer (&self->agents, cas_agent_set_unref);
  g_clear_pointer (&self->config, cas_config_unref);
  g_free (self->records_dir);
  g_free (self->workspace_parent);

  G_OBJECT_CLASS (cas_jobs_parent_class)->finalize (object);
}

static void
cas_jobs_class_init (CasJobsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cas_jobs_dispose;
  object_class->finalize = cas_jobs_finalize;
}

static void
cas_jobs_init (CasJobs *self)
{
  self->live = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify) job_unref);
  self->finished = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

CasJobs *
cas_jobs_new (CasConfig    *config,
              CasAdmission *admission,
              CasAgentSet  *agents,
              const char   *state_dir,
              GError      **error)
{
  g_autoptr (CasJobs) self = g_object_new (CAS_TYPE_JOBS, NULL);
  guint interval;

  self->config = cas_config_ref (config);
  self->admission = g_object_ref (admission);
  self->agents = agents != NULL ? cas_agent_set_ref (agents) : NULL;
  self->records_dir = g_build_filename (state_dir, "jobs", NULL);
  if (config->jobs_jobs_dir != NULL && *config->jobs_jobs_dir != '\0')
    self->workspace_parent = g_strdup (config->jobs_jobs_dir);
  else
    self->workspace_parent = g_build_filename (state_dir, "job-workspaces", NULL);

  if (!load_records (self, error))
    return NULL;

  /* Expiry also runs as jobs finish and when a record is asked for; the
   * timer catches a quiet service. */
  interval = CLAMP (config->jobs_job_ttl_seconds, 1, EVICT_INTERVAL_MAX_SECONDS);
  self->evict_id = g_timeout_add_seconds (interval, on_evict_timeout, self);
  return g_steal_pointer (&self);
}

void
cas_jobs_register (CasJobs       *self,
                   CasHttpServer *http)
{
  cas_http_server_add_route (http, "POST", "/execute", CAS_ROUTE_NONE, handle_execute, self);
  cas_http_server_add_route (http, "GET", "/jobs/", CAS_ROUTE_PREFIX, handle_get_job, self);
}
