/* cas-job-queue.c: the job queue behind POST /execute and GET /jobs/{id}.
 *
 * A job waits for admission, gets a workspace, runs the CLI there and
 * ends; its record is written at every status change. Only jobs whose
 * final record is not on disk yet are kept in memory: finished records
 * are read back from their file when asked for, so memory does not grow
 * with the history.
 *
 * Record files are written and removed by one worker thread, in the
 * order asked: an fsync must not stall every other stream on the main
 * loop, and the writes of one job must land in order.
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
#include "cas-file-writer.h"
#include "cas-job-queue.h"
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
  CasJobQueue *queue;         /* (unowned) (nullable) NULL once the queue is disposed */
  CasJobRecord *record;       /* (owned) what lookups see */
  CasJobRecord *final_record; /* (owned) (nullable) ended, on its way to the disk */
  char *agents_json;          /* (owned) (nullable) --agents for one of ours */
  char *prompt;               /* (owned) the whole prompt: the record may keep only its head */
  guint64 reserved;           /* room held in max-records-bytes while it lives */
  guint64 final_bytes;        /* the size of its final record file */
  GCancellable *cancellable;  /* (owned) */
  CasAdmissionSlot *slot;     /* (owned) (nullable) */
  CasAdmissionTicket *ticket; /* (owned) (nullable) its place in the queue till it asks for a slot */
  CasCliProcess *run;         /* (owned) (nullable) */
  gulong line_handler;
  gulong finished_handler;
  /* The final record is made; its write may still be on its way. */
  gboolean ended;
} Job;

struct _CasJobQueue
{
  GObject parent_instance;

  CasConfig *config;          /* (owned) */
  CasAdmission *admission;    /* (owned) */
  CasAgentSet *agents;        /* (owned) (nullable) */
  char *records_dir;          /* (owned) */
  char *workspace_parent;     /* (owned) */
  GMainContext *context;      /* (owned) where write results arrive */
  /* id -> Job (a reference): queued, running, and ended until the final
   * record is on disk. */
  GHashTable *live;           /* (owned) */
  GHashTable *finished;       /* (owned) id -> Finished: records on disk */
  guint64 finished_bytes;     /* the files of finished, together */
  guint64 reserved_bytes;     /* what live jobs hold, together */
  CasFileWriter *writer;      /* (owned) record writes, in order */
  guint pending_writes;       /* asked of the writer, result not yet seen */
  guint evict_id;
  /* Set once a run was stopped from outside, or by cas_job_queue_stop ():
   * the daemon is shutting down, so no new run starts. */
  gboolean stopping;
};

enum {
  JOB_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CasJobQueue, cas_job_queue, G_TYPE_OBJECT)

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
  g_clear_pointer (&job->ticket, cas_admission_ticket_release);
  g_clear_object (&job->cancellable);
  g_clear_pointer (&job->record, cas_job_record_free);
  g_clear_pointer (&job->final_record, cas_job_record_free);
  g_free (job->agents_json);
  g_free (job->prompt);
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

static void
job_disconnect_run (Job *job)
{
  if (job->run == NULL)
    return;
  g_clear_signal_handler (&job->line_handler, job->run);
  g_clear_signal_handler (&job->finished_handler, job->run);
}

static char *
record_path (CasJobQueue *self,
             const char  *id)
{
  g_autofree char *name = g_strconcat (id, ".json", NULL);

  return g_build_filename (self->records_dir, name, NULL);
}

/* ---- the writer: record files, off the main loop, in order ---------- */

/* Hands @json (taken; NULL removes the record) to the writer; @callback
 * runs on the main context and must call record_write_finish (). */
static void
on_record_written (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;

  if (!cas_file_writer_replace_finish (CAS_FILE_WRITER (source), result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
queue_record_write (CasJobQueue        *self,
                    const char         *id,
                    char               *json,
                    GAsyncReadyCallback callback,
                    gpointer            user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);
  g_autofree char *path = record_path (self, id);

  g_task_set_source_tag (task, queue_record_write);
  self->pending_writes++;
  cas_file_writer_replace_async (self->writer, path, json, on_record_written, task);
}

static gboolean
record_write_finish (CasJobQueue  *self,
                     GAsyncResult *result,
                     GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  self->pending_writes--;
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
save_record_async (CasJobQueue        *self,
                   const CasJobRecord *record,
                   GAsyncReadyCallback callback,
                   gpointer            user_data)
{
  queue_record_write (self, record->id,
                      cas_job_record_to_json (record, CAS_JOB_RECORD_FORMAT_STATE),
                      callback, user_data);
}

static void
on_record_saved (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autofree char *id = user_data;
  g_autoptr (GError) error = NULL;

  if (!record_write_finish (CAS_JOB_QUEUE (source), result, &error))
    g_message (_("Could not save the record of job %s: %s"), id, error->message);
}

static void
save_record (CasJobQueue        *self,
             const CasJobRecord *record)
{
  save_record_async (self, record, on_record_saved, g_strdup (record->id));
}

static void
on_record_removed (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autofree char *id = user_data;
  g_autoptr (GError) error = NULL;

  if (!record_write_finish (CAS_JOB_QUEUE (source), result, &error))
    g_message (_("Could not remove the record of job %s: %s"), id, error->message);
}

static void
remove_record (CasJobQueue *self,
               const char  *id)
{
  queue_record_write (self, id, NULL, on_record_removed, g_strdup (id));
}

/* Only at start and at teardown, when nothing else waits on the loop or
 * no writer is left to ask. */
static void
save_record_now (CasJobQueue        *self,
                 const CasJobRecord *record)
{
  g_autofree char *path = record_path (self, record->id);
  g_autofree char *json = cas_job_record_to_json (record, CAS_JOB_RECORD_FORMAT_STATE);
  g_autoptr (GError) error = NULL;

  if (!g_file_set_contents_full (path, json, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    g_message (_("Could not save the record of job %s: %s"), record->id, error->message);
}

static void
remove_record_now (CasJobQueue *self,
                   const char  *id)
{
  g_autofree char *path = record_path (self, id);

  if (g_unlink (path) != 0 && errno != ENOENT)
    g_message (_("Could not remove the record of job %s: %s"), id, g_strerror (errno));
}

/* ---- the finished index, expiry and the disk budget ----------------- */

typedef struct {
  char *id;                   /* (owned) also the key */
  gint64 finished_us;
  guint64 bytes;              /* the size of its file */
} Finished;

static void
finished_free (gpointer data)
{
  Finished *entry = data;

  g_free (entry->id);
  g_free (entry);
}

static void
forget_finished (CasJobQueue *self,
                 const char  *id)
{
  Finished *entry = g_hash_table_lookup (self->finished, id);

  if (entry == NULL)
    return;
  self->finished_bytes -= MIN (entry->bytes, self->finished_bytes);
  g_hash_table_remove (self->finished, id);
}

/* What a job may write at most, about: its prompt, output and result
 * (each within max-record-output-bytes), stderr and the rest. */
static guint64
job_reserve_bytes (CasJobQueue *self)
{
  return 3 * self->config->jobs_max_record_output_bytes + CAS_JOB_MAX_STDERR_BYTES + 64 * 1024;
}

static int
compare_finished_age (gconstpointer a,
                      gconstpointer b)
{
  const Finished *x = *(const Finished * const *) a;
  const Finished *y = *(const Finished * const *) b;

  if (x->finished_us != y->finished_us)
    return x->finished_us < y->finished_us ? -1 : 1;
  return strcmp (x->id, y->id);
}

/* Finished records and the room live jobs hold stay within
 * max-records-bytes: the oldest finished records go first, live ones
 * never. @now: remove the files at once (at start, before the writer). */
static void
make_room (CasJobQueue *self,
           gboolean     now)
{
  g_autoptr (GPtrArray) entries = NULL;
  guint64 budget = self->config->jobs_max_records_bytes;
  GHashTableIter iter;
  gpointer value;

  if (self->finished_bytes + self->reserved_bytes <= budget)
    return;
  entries = g_ptr_array_sized_new (g_hash_table_size (self->finished));
  g_hash_table_iter_init (&iter, self->finished);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (entries, value);
  g_ptr_array_sort (entries, compare_finished_age);
  for (guint i = 0; i < entries->len && self->finished_bytes + self->reserved_bytes > budget; i++)
    {
      g_autofree char *id = g_strdup (((Finished *) g_ptr_array_index (entries, i))->id);

      g_debug ("job %s removed: job records over max-records-bytes", id);
      if (now)
        remove_record_now (self, id);
      else
        remove_record (self, id);
      forget_finished (self, id);
    }
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
evict_expired (CasJobQueue *self)
{
  gint64 now = g_get_real_time ();
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, self->finished);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const Finished *entry = value;

      if (!cas_job_finished_is_expired (entry->finished_us, now,
                                        self->config->jobs_job_ttl_seconds))
        continue;
      g_debug ("job %s expired", (const char *) key);
      remove_record (self, key);
      self->finished_bytes -= MIN (entry->bytes, self->finished_bytes);
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
remember_finished (CasJobQueue *self,
                   const char  *id,
                   gint64       finished_us,
                   guint64      bytes)
{
  Finished *entry = g_new0 (Finished, 1);

  forget_finished (self, id);
  entry->id = g_strdup (id);
  entry->finished_us = finished_us;
  entry->bytes = bytes;
  g_hash_table_insert (self->finished, entry->id, entry);
  self->finished_bytes += bytes;
}

/* A job leaves memory, and gives back the room it held. */
static void
forget_live (CasJobQueue *self,
             const char  *id)
{
  Job *job = g_hash_table_lookup (self->live, id);

  if (job == NULL)
    return;
  self->reserved_bytes -= MIN (job->reserved, self->reserved_bytes);
  job->reserved = 0;
  g_hash_table_remove (self->live, id);
}

/* ---- a job's life ------------------------------------------------- */

/* The final record is on disk (or could not be written: the log says
 * so, and memory cannot hold every such job either). */
static void
on_final_record_saved (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  CasJobQueue *self = CAS_JOB_QUEUE (source);
  g_autoptr (Job) job = user_data;
  CasJobRecord *record = job->final_record;
  g_autoptr (GError) error = NULL;

  if (!record_write_finish (self, result, &error))
    g_message (_("Could not save the record of job %s: %s"), record->id, error->message);

  remember_finished (self, record->id, record->finished_us, job->final_bytes);
  g_signal_emit (self, signals[JOB_CHANGED], 0, record->id, (int) record->status);
  forget_live (self, record->id);
  evict_expired (self);
  make_room (self, FALSE);
}

/* Ends @job: final record, workspace gone, slot freed. It leaves memory
 * once its record is on disk. */
static void
finish_job (Job        *job,
            CasJobEnd   end,
            int         exit_status,
            const char *message,
            const char *stderr_text)
{
  CasJobQueue *self = job->queue;
  CasJobRecord *record;
  g_autoptr (Job) held = job_ref (job);

  if (job->ended)
    return;
  job->ended = TRUE;
  job_disconnect_run (job);
  /* Lookups go on seeing the record as it was until the final one is on
   * disk: an end a client has seen is one a crash cannot take back. */
  record = job->final_record = cas_job_record_copy (job->record);
  cas_job_record_finish (record, end, exit_status, message, stderr_text, g_get_real_time ());
  g_debug ("job %s: %s", record->id, cas_job_status_to_string (record->status));
  if (self == NULL)
    {
      g_clear_pointer (&job->slot, cas_admission_slot_release);
      return;
    }

  {
    char *json = cas_job_record_to_json (record, CAS_JOB_RECORD_FORMAT_STATE);

    job->final_bytes = strlen (json);
    queue_record_write (self, record->id, json, on_final_record_saved, job_ref (job));
  }
  /* The path stays in the record: should the removal not finish (the
   * daemon stopping), the next start sweeps it. */
  if (record->workspace != NULL)
    cas_workspace_remove (record->workspace);
  /* Last: freeing the slot may start the next job at once. */
  g_clear_pointer (&job->slot, cas_admission_slot_release);
}

static void
on_run_line (CasCliProcess *run,
             const char    *line,
             guint64        length,
             gpointer       user_data)
{
  Job *job = user_data;

  if (!cas_job_record_append_output (job->record, line, (gsize) length) &&
      job->record->output->len == CAS_JOB_MAX_OUTPUT_LINES)
    g_debug ("job %s: output over its bounds; dropping lines", job->record->id);
}

static void
on_run_finished (CasCliProcess *run,
                 gpointer       user_data)
{
  Job *job = user_data;
  const GError *error = cas_cli_process_get_error (run);
  const char *stderr_text = cas_cli_process_get_stderr (run);

  if (g_error_matches (error, CAS_ERROR, CAS_ERROR_TIMED_OUT))
    finish_job (job, CAS_JOB_END_TIMED_OUT, cas_cli_process_get_exit_status (run),
                error->message, stderr_text);
  else if (g_error_matches (error, CAS_ERROR, CAS_ERROR_CANCELLED))
    {
      /* The queue never stops its own runs: the daemon is stopping them. */
      if (job->queue != NULL)
        job->queue->stopping = TRUE;
      finish_job (job, CAS_JOB_END_ERROR, -1, STOPPED_REASON, stderr_text);
    }
  else
    finish_job (job, CAS_JOB_END_EXITED, cas_cli_process_get_exit_status (run), NULL, stderr_text);
}

static void
start_run (Job *job)
{
  CasJobQueue *self = job->queue;
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
  g_autoptr (GBytes) prompt = g_bytes_new (job->prompt, strlen (job->prompt));
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
on_running_record_saved (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr (Job) job = user_data;
  g_autoptr (GError) error = NULL;

  if (!record_write_finish (CAS_JOB_QUEUE (source), result, &error))
    g_message (_("Could not save the record of job %s: %s"), job->record->id, error->message);
  /* The queue went away or stopped the job while the record was written. */
  if (job->queue == NULL || job->ended)
    return;
  if (job->queue->stopping)
    {
      finish_job (job, CAS_JOB_END_ERROR, -1, STOPPED_REASON, NULL);
      return;
    }
  start_run (job);
}

static void
on_workspace_ready (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr (Job) job = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = cas_workspace_prepare_finish (result, &error);

  /* The queue went away or stopped the job while the workspace was made. */
  if (job->queue == NULL || job->ended)
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
  if (job->queue->stopping)
    {
      finish_job (job, CAS_JOB_END_ERROR, -1, STOPPED_REASON, NULL);
      return;
    }
  /* On disk with the path before the CLI starts: a crash from here on
   * leaves the workspace findable, and the job marked interrupted. */
  save_record_async (job->queue, job->record, on_running_record_saved, job_ref (job));
}

static void
on_admitted (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (Job) job = user_data;
  g_autoptr (GError) error = NULL;
  CasAdmissionSlot *slot = cas_admission_acquire_finish (CAS_ADMISSION (source), result, &error);
  CasJobQueue *self = job->queue;

  /* Cancelled: the queue went away or stopped the job. */
  if (self == NULL || job->ended)
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
  save_record (self, job->record);
  g_signal_emit (self, signals[JOB_CHANGED], 0, job->record->id, (int) job->record->status);
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
new_job_id (CasJobQueue *self)
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

/* ---- submit ------------------------------------------------------- */

/* The domain's checks: the agent exists, and there is room. On success
 * @agents_json is --agents for one of ours (NULL for the user's) and
 * @ticket the job's place in the queue. */
static gboolean
check_submission (CasJobQueue         *self,
                  const CasJobRequest *request,
                  char               **agents_json,
                  CasAdmissionTicket **ticket,
                  GError             **error)
{
  guint depth = MAX (self->config->claude_max_queue_depth, 1);

  if (self->stopping)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_CANCELLED, "the service is stopping");
      return FALSE;
    }
  /* Checked again here, not only by the parser: a name is never a path. */
  if (request->prompt == NULL || !cas_job_agent_name_is_valid (request->agent))
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "a job needs a prompt and an agent name");
      return FALSE;
    }
  if (!cas_agent_set_cli_json_if_ours (self->agents, request->agent, agents_json, error))
    return FALSE;
  if (*agents_json == NULL && !user_agent_exists (request->agent))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT, "unknown agent: %s",
                   request->agent);
      return FALSE;
    }

  if (g_hash_table_size (self->live) + g_hash_table_size (self->finished) >=
      CAS_JOB_QUEUE_MAX_RECORDS)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_TOO_MANY_REQUESTS,
                   "too many job records (%d); wait for finished ones to expire",
                   CAS_JOB_QUEUE_MAX_RECORDS);
      return FALSE;
    }
  /* Room on disk: finished records make way, live jobs cannot. */
  if (self->reserved_bytes + job_reserve_bytes (self) > self->config->jobs_max_records_bytes)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_TOO_MANY_REQUESTS,
                   "job records would take more than max-records-bytes (%" G_GUINT64_FORMAT
                   " bytes); wait for running jobs to finish",
                   self->config->jobs_max_records_bytes);
      return FALSE;
    }
  /* The job's place in the queue (and its prompt's bytes), taken now:
   * refusing needs an answer now, and the first record is written before
   * the job asks for a slot. Jobs are refused with 429 (the Python
   * service's answer, which callers retry on), where chat routes say 503
   * "queue full". */
  *ticket = cas_admission_reserve (self->admission, strlen (request->prompt), NULL);
  if (*ticket == NULL)
    {
      if (cas_admission_get_active (self->admission) +
          cas_admission_get_queued (self->admission) >= depth)
        g_set_error (error, CAS_ERROR, CAS_ERROR_TOO_MANY_REQUESTS,
                     "Queue full: %u jobs and requests running or waiting", depth);
      else
        g_set_error_literal (error, CAS_ERROR, CAS_ERROR_TOO_MANY_REQUESTS,
                             "Queue full: too many bytes waiting");
      return FALSE;
    }
  return TRUE;
}

static void
on_first_record_saved (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  CasJobQueue *self = CAS_JOB_QUEUE (source);
  g_autoptr (GTask) task = user_data;
  Job *job = g_task_get_task_data (task);
  const char *id = job->record->id;
  g_autoptr (GError) error = NULL;
  /* Given back here unless the job now asks for its slot with it. */
  g_autoptr (CasAdmissionTicket) ticket = g_steal_pointer (&job->ticket);

  if (!record_write_finish (self, result, &error))
    {
      g_message (_("Could not save the record of job %s: %s"), id, error->message);
      /* Unless the queue stopped it meanwhile (its final write is then on
       * its way), nobody learns of the job: forget it. The state is put
       * right before the caller hears back, since it may call again. */
      if (!job->ended)
        {
          job->ended = TRUE;
          forget_live (self, id);
        }
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_FAILED, "cannot store the job record");
      return;
    }
  /* The queue stopped while the record was written: the job exists, and
   * its record says why it ended. */
  if (job->ended)
    {
      g_task_return_pointer (task, g_strdup (id), g_free);
      return;
    }
  if (g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    {
      /* The caller never learns the id: no job. */
      job->ended = TRUE;
      remove_record (self, id);
      forget_live (self, id);
      g_task_return_error_if_cancelled (task);
      return;
    }

  g_debug ("job %s queued: agent %s", id, job->record->agent);
  cas_admission_acquire_reserved_async (self->admission, g_steal_pointer (&ticket),
                                        job->cancellable, on_admitted, job_ref (job));
  g_signal_emit (self, signals[JOB_CHANGED], 0, id, (int) job->record->status);
  g_task_return_pointer (task, g_strdup (id), g_free);
}

void
cas_job_queue_submit_async (CasJobQueue         *self,
                            const CasJobRequest *request,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *agents_json = NULL;
  g_autoptr (CasAdmissionTicket) ticket = NULL;
  g_autofree char *id = NULL;
  Job *job;

  g_return_if_fail (CAS_IS_JOB_QUEUE (self));
  g_return_if_fail (request != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cas_job_queue_submit_async);
  if (!check_submission (self, request, &agents_json, &ticket, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  id = new_job_id (self);
  job = g_rc_box_new0 (Job);
  job->queue = self;
  job->record = cas_job_record_new (id, request, g_get_real_time ());
  cas_job_record_set_max_bytes (job->record, self->config->jobs_max_record_output_bytes);
  job->prompt = g_strdup (request->prompt);
  job->agents_json = g_steal_pointer (&agents_json);
  job->reserved = job_reserve_bytes (self);
  self->reserved_bytes += job->reserved;
  job->cancellable = g_cancellable_new ();
  job->ticket = g_steal_pointer (&ticket);
  g_hash_table_insert (self->live, g_strdup (id), job);
  make_room (self, FALSE);
  g_task_set_task_data (task, job_ref (job), (GDestroyNotify) job_unref);
  save_record_async (self, job->record, on_first_record_saved, g_steal_pointer (&task));
}

char *
cas_job_queue_submit_finish (CasJobQueue  *self,
                             GAsyncResult *result,
                             GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == cas_job_queue_submit_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- lookup ------------------------------------------------------- */

typedef struct {
  char *id;                   /* (owned) */
  char *path;                 /* (owned) */
  guint ttl_seconds;
  /* Set by the reader: the index should forget the id; its file should go. */
  gboolean forget;
  gboolean expired;
} RecordRead;

static void
record_read_free (gpointer data)
{
  RecordRead *read = data;

  g_free (read->id);
  g_free (read->path);
  g_free (read);
}

static void
not_found (GTask *task)
{
  g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_NOT_FOUND, "Job not found");
}

/* In a worker thread: a finished record from its file; NOT_FOUND if it
 * is gone, unreadable, not the job asked for, or expired. */
static void
read_record_in_thread (GTask        *task,
                       gpointer      source_object,
                       gpointer      task_data,
                       GCancellable *cancellable)
{
  RecordRead *read = task_data;
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (CasJobRecord) record = NULL;
  gsize length;

  if (!g_file_get_contents (read->path, &contents, &length, &error))
    g_message (_("Could not read the record of job %s: %s"), read->id, error->message);
  else if ((record = cas_job_record_from_json (contents, length, &error)) == NULL)
    g_message (_("Could not read the record of job %s: %s"), read->id, error->message);
  else if (!g_str_equal (record->id, read->id))
    g_clear_pointer (&record, cas_job_record_free);
  else if (cas_job_record_is_expired (record, g_get_real_time (), read->ttl_seconds))
    {
      read->expired = TRUE;
      g_clear_pointer (&record, cas_job_record_free);
    }

  if (record == NULL)
    {
      read->forget = TRUE;
      not_found (task);
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&record), (GDestroyNotify) cas_job_record_free);
}

static void
on_record_read (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  RecordRead *read = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;
  CasJobRecord *record = g_task_propagate_pointer (G_TASK (result), &error);
  CasJobQueue *self;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  self = CAS_JOB_QUEUE (source);
  if (read->forget)
    forget_finished (self, read->id);
  if (read->expired)
    remove_record (self, read->id);
  if (record == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, record, (GDestroyNotify) cas_job_record_free);
}

void
cas_job_queue_lookup_async (CasJobQueue        *self,
                            const char         *id,
                            GCancellable       *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer            user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GTask) reader = NULL;
  RecordRead *read;
  Job *job;

  g_return_if_fail (CAS_IS_JOB_QUEUE (self));
  g_return_if_fail (id != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cas_job_queue_lookup_async);
  if (!cas_job_id_is_valid (id))
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                               "a job id is 12 lowercase hexadecimal digits");
      return;
    }
  job = g_hash_table_lookup (self->live, id);
  if (job != NULL)
    {
      g_task_return_pointer (task, cas_job_record_copy (job->record),
                             (GDestroyNotify) cas_job_record_free);
      return;
    }
  if (!g_hash_table_contains (self->finished, id))
    {
      not_found (task);
      return;
    }

  read = g_new0 (RecordRead, 1);
  read->id = g_strdup (id);
  read->path = record_path (self, id);
  read->ttl_seconds = self->config->jobs_job_ttl_seconds;
  reader = g_task_new (self, cancellable, on_record_read, g_steal_pointer (&task));
  g_task_set_source_tag (reader, read_record_in_thread);
  g_task_set_task_data (reader, read, record_read_free);
  g_task_run_in_thread (reader, read_record_in_thread);
}

CasJobRecord *
cas_job_queue_lookup_finish (CasJobQueue  *self,
                             GAsyncResult *result,
                             GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == cas_job_queue_lookup_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- loading at start ---------------------------------------------- */

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
load_one (CasJobQueue *self,
          const char  *name,
          gint64       now)
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
      save_record_now (self, record);
    }
  remove_leftover_workspace (record->workspace);

  if (cas_job_record_is_expired (record, now, self->config->jobs_job_ttl_seconds))
    remove_record_now (self, record->id);
  else
    remember_finished (self, record->id, record->finished_us, (guint64) st.st_size);
}

static gboolean
load_records (CasJobQueue *self,
              GError     **error)
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
  make_room (self, TRUE);
  if (g_hash_table_size (self->finished) > 0)
    g_debug ("%u job records kept", g_hash_table_size (self->finished));
  return TRUE;
}

/* ---- stopping ----------------------------------------------------- */

void
cas_job_queue_stop (CasJobQueue *self)
{
  g_autoptr (GPtrArray) jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) job_unref);
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (CAS_IS_JOB_QUEUE (self));

  self->stopping = TRUE;
  g_clear_handle_id (&self->evict_id, g_source_remove);

  /* Ending a job frees its slot, which may admit the next one: walk a
   * copy. */
  g_hash_table_iter_init (&iter, self->live);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (jobs, job_ref (value));
  for (guint i = 0; i < jobs->len; i++)
    {
      Job *job = g_ptr_array_index (jobs, i);

      if (job->ended)
        continue;
      job_disconnect_run (job);
      if (job->run != NULL)
        cas_cli_process_stop (job->run);
      g_cancellable_cancel (job->cancellable);
      finish_job (job, CAS_JOB_END_ERROR, -1, STOPPED_REASON, NULL);
    }

  /* Flush: a clean exit loses no record. */
  while (self->pending_writes > 0)
    g_main_context_iteration (self->context, TRUE);
}

static void
cas_job_queue_dispose (GObject *object)
{
  CasJobQueue *self = CAS_JOB_QUEUE (object);
  GHashTableIter iter;
  gpointer value;

  g_clear_handle_id (&self->evict_id, g_source_remove);

  /* Every write holds a reference, so none is pending here; jobs still in
   * memory were not stopped. Detach them so callbacks that arrive later
   * (admission, workspace, a run the daemon could not reap in time) find
   * nothing to touch, and write their last word now. */
  if (self->live != NULL)
    {
      g_hash_table_iter_init (&iter, self->live);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          Job *job = value;

          job->queue = NULL;
          job_disconnect_run (job);
          if (job->run != NULL)
            cas_cli_process_stop (job->run);
          if (!job->ended)
            {
              job->ended = TRUE;
              cas_job_record_finish (job->record, CAS_JOB_END_ERROR, -1, STOPPED_REASON,
                                     NULL, g_get_real_time ());
              save_record_now (self, job->record);
            }
          g_clear_pointer (&job->slot, cas_admission_slot_release);
          g_cancellable_cancel (job->cancellable);
        }
      g_hash_table_remove_all (self->live);
    }

  G_OBJECT_CLASS (cas_job_queue_parent_class)->dispose (object);
}

static void
cas_job_queue_finalize (GObject *object)
{
  CasJobQueue *self = CAS_JOB_QUEUE (object);

  /* Idle by now: every write held a reference. */
  g_clear_object (&self->writer);
  g_clear_pointer (&self->live, g_hash_table_unref);
  g_clear_pointer (&self->finished, g_hash_table_unref);
  g_clear_object (&self->admission);
  g_clear_pointer (&self->agents, cas_agent_set_unref);
  g_clear_pointer (&self->config, cas_config_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->records_dir);
  g_free (self->workspace_parent);

  G_OBJECT_CLASS (cas_job_queue_parent_class)->finalize (object);
}

static void
cas_job_queue_class_init (CasJobQueueClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cas_job_queue_dispose;
  object_class->finalize = cas_job_queue_finalize;

  signals[JOB_CHANGED] = g_signal_new ("job-changed", G_TYPE_FROM_CLASS (klass),
                                       G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                       G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_INT);
}

static void
cas_job_queue_init (CasJobQueue *self)
{
  self->live = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify) job_unref);
  self->finished = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, finished_free);
  self->context = g_main_context_ref_thread_default ();
}

CasJobQueue *
cas_job_queue_new (CasConfig    *config,
                   CasAdmission *admission,
                   CasAgentSet  *agents,
                   const char   *state_dir,
                   GError      **error)
{
  g_autoptr (CasJobQueue) self = g_object_new (CAS_TYPE_JOB_QUEUE, NULL);
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
  /* One thread, so the writes of a job land in the order asked. */
  self->writer = cas_file_writer_new (error);
  if (self->writer == NULL)
    return NULL;

  /* Expiry also runs as jobs finish and when a record is asked for; the
   * timer catches a quiet service. */
  interval = CLAMP (config->jobs_job_ttl_seconds, 1, EVICT_INTERVAL_MAX_SECONDS);
  self->evict_id = g_timeout_add_seconds (interval, on_evict_timeout, self);
  return g_steal_pointer (&self);
}
