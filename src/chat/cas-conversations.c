/* cas-conversations.c: the service behind POST /v1/conversational.
 *
 * A turn queues behind earlier turns of the same conversation (a "lane":
 * FIFO, the head runs), takes an admission slot, decides --session-id or
 * --resume from disk, and runs on the conversation's own process, on the
 * spare one (a new conversation) or cold; on the CLI's "already in use" /
 * "No conversation found" refusals it runs once more with the other flag.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-conversation"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "cas-cli-argv.h"
#include "cas-cli-process.h"
#include "cas-conversation-store.h"
#include "cas-conversations.h"
#include "cas-error.h"

/* How long stop () waits for records being written. */
#define STOP_WRITE_WAIT_SECONDS 10
/* Expired records are looked for at start and then this often. */
#define RECORD_SWEEP_SECONDS 3600

/* A long-lived claude process (stream-json input): a conversation's own,
 * kept between its turns so a follow-up is one stdin line, or the spare
 * one a new conversation takes. */
typedef struct {
  CasConversations *owner;      /* (unowned) */
  char *session_id;             /* (owned) (nullable) the conversation's; NULL: the spare */
  char *cli_session_id;         /* (owned) the id the CLI runs it under */
  char *model;                  /* (owned) the --model it runs */
  CasCliProcess *process;       /* (owned) */
  gint64 last_used_us;          /* monotonic */
  gboolean busy;                /* a turn runs on it */
} ConvProcess;

struct _CasConversations
{
  GObject parent_instance;

  CasConfig *config;            /* (owned) */
  CasAdmission *admission;      /* (owned) */
  CasConversationStore *store;  /* (owned) */
  char *agents_json;            /* (owned) (nullable) --agents for our agent */
  char *work_dir;               /* (owned) the pinned cwd, canonical */
  char *projects_dir;           /* (owned) the CLI's <config>/projects */
  GHashTable *lanes;            /* (owned) session id -> (owned) GQueue of Pending
                                 * (each holding a ref); the head runs */
  GHashTable *processes;        /* (owned) session id -> (owned) ConvProcess */
  ConvProcess *spare;           /* (owned) (nullable) for the next new conversation */
  guint spare_refill_id;
  guint idle_sweep_id;
  guint record_sweep_id;
  gboolean record_sweeping;     /* a sweep runs in a worker */
  guint pending_writes;         /* records being written in a worker */
  gboolean stopping;
};

G_DEFINE_FINAL_TYPE (CasConversations, cas_conversations, G_TYPE_OBJECT)

/* One turn, from its request to its callback. Refcounted (g_rc_box): its
 * lane holds one ref, a pending admission wait or record write another. */
typedef struct {
  CasConversations *owner;     /* (unowned) */
  GTask *task;                 /* (owned) (nullable) NULL once returned */
  CasConversationRequest *request; /* (owned) */
  CasTurn *turn;               /* (owned) */
  GCancellable *cancellable;   /* (owned) (nullable) the caller's */
  gulong cancelled_id;
  gulong done_id;
  GCancellable *waiting;       /* (owned) the admission wait */
  CasAdmissionTicket *ticket;  /* (owned) (nullable) its place in the queue, till its first slot */
  char *cli_session_id;        /* (owned) (nullable) the id the CLI knows it by */
  CasConversationStart used;   /* how the current attempt started */
  guint attempt;
  ConvProcess *warm;           /* (unowned) (nullable) the process this attempt runs on */
  gboolean saving;             /* its record is being written */
  gboolean ended;              /* out of its lane */
} Pending;

static void pending_admit (Pending *pending);
static void spare_schedule_refill (CasConversations *self);

static void
pending_clear (gpointer data)
{
  Pending *pending = data;

  g_clear_object (&pending->task);
  g_clear_pointer (&pending->request, cas_conversation_request_free);
  g_clear_object (&pending->turn);
  g_clear_object (&pending->cancellable);
  g_clear_object (&pending->waiting);
  g_clear_pointer (&pending->ticket, cas_admission_ticket_release);
  g_free (pending->cli_session_id);
}

static Pending *
pending_ref (Pending *pending)
{
  return g_rc_box_acquire (pending);
}

static void
pending_unref (gpointer pending)
{
  g_rc_box_release_full (pending, pending_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Pending, pending_unref)

static void
lane_free (gpointer data)
{
  g_queue_free_full (data, pending_unref);
}

/* Takes @pending out of its lane, lets the next one in and answers the
 * caller: @error, or success when NULL. Once only. */
static void
pending_complete (Pending      *pending,
                  const GError *error)
{
  g_autoptr (Pending) keep = NULL;
  g_autoptr (GTask) task = NULL;
  CasConversations *self = pending->owner;
  GQueue *lane;

  if (pending->ended)
    return;
  keep = pending_ref (pending);
  task = g_steal_pointer (&pending->task);
  pending->ended = TRUE;
  g_cancellable_cancel (pending->waiting);
  g_clear_pointer (&pending->ticket, cas_admission_ticket_release);
  g_clear_signal_handler (&pending->done_id, pending->turn);
  if (pending->cancellable != NULL)
    g_clear_signal_handler (&pending->cancelled_id, pending->cancellable);

  lane = g_hash_table_lookup (self->lanes, pending->request->session_id);
  if (lane != NULL)
    {
      gboolean was_head = g_queue_peek_head (lane) == pending;

      if (g_queue_remove (lane, pending))
        {
          Pending *next = g_queue_peek_head (lane);

          if (next == NULL)
            g_hash_table_remove (self->lanes, pending->request->session_id);
          else if (was_head)
            pending_admit (next);
          pending_unref (pending);   /* the lane's */
        }
    }

  if (error != NULL)
    g_task_return_error (task, g_error_copy (error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  Pending *pending = user_data;
  g_autoptr (GError) error = NULL;

  if (pending->ended)
    return;
  cas_turn_cancel (pending->turn);
  /* A running turn reports through "done"; a saved one is about to. */
  if (cas_turn_is_running (pending->turn) || pending->saving)
    return;
  g_debug ("turn for %s left the queue: its caller went away", pending->request->session_id);
  error = g_error_new_literal (CAS_ERROR, CAS_ERROR_CANCELLED, "client went away");
  pending_complete (pending, error);
}

/* --- processes ------------------------------------------------------------- */

static gboolean
transcript_exists (CasConversations *self,
                   const char       *id)
{
  gboolean hashed = FALSE;
  g_autofree char *name = cas_conversation_project_name (self->work_dir, &hashed);
  g_autofree char *file = g_strconcat (id, ".jsonl", NULL);
  g_autoptr (GDir) dir = NULL;
  const char *entry;

  if (!hashed)
    {
      g_autofree char *path = g_build_filename (self->projects_dir, name, file, NULL);

      return g_file_test (path, G_FILE_TEST_EXISTS);
    }

  /* A long cwd ends in the CLI's own hash: look for the directory. */
  dir = g_dir_open (self->projects_dir, 0, NULL);
  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    if (cas_conversation_project_dir_matches (entry, name, TRUE))
      {
        g_autofree char *path = g_build_filename (self->projects_dir, entry, file, NULL);

        if (g_file_test (path, G_FILE_TEST_EXISTS))
          return TRUE;
      }
  return FALSE;
}

static void
conv_process_free (gpointer data)
{
  ConvProcess *entry = data;

  g_signal_handlers_disconnect_by_data (entry->process, entry);
  cas_cli_process_retire (entry->process);
  g_object_unref (entry->process);
  g_free (entry->session_id);
  g_free (entry->cli_session_id);
  g_free (entry->model);
  g_free (entry);
}

static void
on_conv_process_finished (CasCliProcess *process,
                          gpointer       user_data)
{
  ConvProcess *entry = user_data;
  CasConversations *self = entry->owner;

  if (entry == self->spare)
    {
      g_debug ("the spare conversation process ended");
      g_clear_pointer (&self->spare, conv_process_free);
      return;
    }
  g_debug ("the process of conversation %s ended", entry->session_id);
  if (!entry->busy && g_hash_table_lookup (self->processes, entry->session_id) == entry)
    g_hash_table_remove (self->processes, entry->session_id);
}

/* The least recently used idle process goes when max-processes run. */
static void
make_room (CasConversations *self)
{
  ConvProcess *oldest = NULL;
  GHashTableIter iter;
  ConvProcess *entry;

  if (cas_cli_process_get_live_count () < self->config->claude_max_processes)
    return;
  g_hash_table_iter_init (&iter, self->processes);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    if (!entry->busy && (oldest == NULL || entry->last_used_us < oldest->last_used_us))
      oldest = entry;
  if (oldest != NULL)
    {
      g_debug ("ending the process of conversation %s to make room", oldest->session_id);
      g_hash_table_remove (self->processes, oldest->session_id);
    }
}

static GStrv
turn_argv (CasConversations     *self,
           const char           *model,
           const char           *cli_session_id,
           CasConversationStart  start,
           gboolean              long_lived)
{
  const char *agent = self->config->conversational_agent;
  CasCliInvocation invocation = {
    .kind = CAS_CLI_KIND_CONVERSATIONAL,
    .command = self->config->claude_command,
    .agent = agent != NULL && *agent != '\0' ? agent : NULL,
    .agents_json = self->agents_json,
    .model = model,
    .session_id = cli_session_id,
    .resume = start == CAS_CONVERSATION_RESUME,
    .stream_input = long_lived,
  };

  return cas_cli_argv_build (&invocation);
}

static ConvProcess *
conv_process_start (CasConversations     *self,
                    const char           *model,
                    const char           *cli_session_id,
                    CasConversationStart  start)
{
  g_auto (GStrv) argv = turn_argv (self, model, cli_session_id, start, TRUE);
  g_autoptr (GError) error = NULL;
  CasCliProcess *process;
  ConvProcess *entry;

  process = cas_cli_process_start_long_lived ((const char * const *) argv, self->work_dir,
                                              self->config->claude_kill_grace_seconds,
                                              self->config->claude_max_line_bytes, &error);
  if (process == NULL)
    {
      g_debug ("no long-lived process for %s: %s", cli_session_id, error->message);
      return NULL;
    }
  entry = g_new0 (ConvProcess, 1);
  entry->owner = self;
  entry->cli_session_id = g_strdup (cli_session_id);
  entry->model = g_strdup (model);
  entry->process = process;
  entry->last_used_us = g_get_monotonic_time ();
  g_signal_connect (entry->process, "finished", G_CALLBACK (on_conv_process_finished), entry);
  return entry;
}

/* After a turn that ran cold: start the conversation's process for the
 * next one now, while the person is still listening (it resumes the
 * session the turn left on disk). A process it had is stale: it goes. */
static void
keep_warm (CasConversations *self,
           const char       *session_id,
           const char       *cli_session_id,
           const char       *model)
{
  ConvProcess *entry;

  g_hash_table_remove (self->processes, session_id);
  if (self->config->claude_pool_size == 0 || self->stopping)
    return;
  make_room (self);
  if (cas_cli_process_get_live_count () >= self->config->claude_max_processes)
    return;
  entry = conv_process_start (self, model, cli_session_id, CAS_CONVERSATION_RESUME);
  if (entry == NULL)
    return;
  entry->session_id = g_strdup (session_id);
  g_hash_table_insert (self->processes, entry->session_id, entry);
}

/* The spare: a process started with an id of its own (--session-id), on
 * the default model, which the next new conversation takes; the record
 * remembers the id it went to. */
static void
spare_start (CasConversations *self)
{
  g_autofree char *id = NULL;

  if (self->spare != NULL || self->stopping || self->config->claude_pool_size == 0 ||
      !self->config->claude_conversation_spare ||
      cas_cli_process_get_live_count () >= self->config->claude_max_processes)
    return;
  id = g_uuid_string_random ();
  self->spare = conv_process_start (self, self->config->claude_default_model, id,
                                    CAS_CONVERSATION_OPEN);
}

static gboolean
on_spare_refill (gpointer user_data)
{
  CasConversations *self = user_data;

  self->spare_refill_id = 0;
  spare_start (self);
  return G_SOURCE_REMOVE;
}

/* Later, at low priority: the turn that took the spare goes first. */
static void
spare_schedule_refill (CasConversations *self)
{
  if (self->spare_refill_id == 0 && !self->stopping)
    self->spare_refill_id = g_idle_add_full (G_PRIORITY_LOW, on_spare_refill, self, NULL);
}

void
cas_conversations_prewarm (CasConversations *self)
{
  spare_start (self);
}

static gboolean
on_idle_sweep (gpointer user_data)
{
  CasConversations *self = user_data;
  gint64 now = g_get_monotonic_time ();
  gint64 oldest = now - (gint64) self->config->claude_conversation_idle_seconds * G_USEC_PER_SEC;
  GHashTableIter iter;
  ConvProcess *entry;

  g_hash_table_iter_init (&iter, self->processes);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    if (!entry->busy && entry->last_used_us < oldest)
      {
        g_debug ("the process of conversation %s was idle too long", entry->session_id);
        g_hash_table_iter_remove (&iter);
      }
  /* The spare follows the pool's idle rule; the next new conversation
   * starts another. */
  if (self->spare != NULL &&
      self->spare->last_used_us < now - (gint64) self->config->claude_pool_idle_seconds * G_USEC_PER_SEC)
    g_clear_pointer (&self->spare, conv_process_free);
  return G_SOURCE_CONTINUE;
}

/* --- expiring records ------------------------------------------------------ */

static void
on_records_swept (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr (CasConversations) self = user_data;
  g_autoptr (GError) error = NULL;
  guint removed = cas_conversation_store_sweep_finish (CAS_CONVERSATION_STORE (source),
                                                      result, &error);

  self->record_sweeping = FALSE;
  if (removed > 0)
    g_debug ("%u expired conversation records removed", removed);
}

/* Records unused for record-ttl-days go, off the main loop (there may be
 * many). A conversation with a turn queued or running, or a live process,
 * keeps its record whatever its age. */
static void
records_sweep (CasConversations *self)
{
  g_autoptr (GHashTable) keep = NULL;
  GHashTable *tables[] = { self->lanes, self->processes };
  gint64 cutoff;

  if (self->record_sweeping || self->stopping)
    return;
  keep = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (tables); i++)
    {
      GHashTableIter iter;
      gpointer id;

      g_hash_table_iter_init (&iter, tables[i]);
      while (g_hash_table_iter_next (&iter, &id, NULL))
        g_hash_table_add (keep, g_ascii_strdown (id, -1));
    }
  cutoff = g_get_real_time () / G_USEC_PER_SEC -
           (gint64) self->config->conversational_record_ttl_days * 24 * 3600;
  self->record_sweeping = TRUE;
  cas_conversation_store_sweep_async (self->store, cutoff, g_steal_pointer (&keep),
                                      on_records_swept, g_object_ref (self));
}

static gboolean
on_record_sweep (gpointer user_data)
{
  records_sweep (user_data);
  return G_SOURCE_CONTINUE;
}

/* --- one turn -------------------------------------------------------------- */

/* Decided at the head of the lane, so the turn before this one has left
 * its transcript and record behind: how to start, and on which process. */
static void
pending_plan (Pending *pending)
{
  CasConversations *self = pending->owner;
  const CasConversationRequest *request = pending->request;
  g_autoptr (CasConversationRecord) record =
    cas_conversation_store_load (self->store, request->session_id, NULL);
  ConvProcess *entry = g_hash_table_lookup (self->processes, request->session_id);

  g_free (pending->cli_session_id);
  pending->cli_session_id = g_strdup (record != NULL && record->cli_session_id != NULL
                                        ? record->cli_session_id : request->session_id);
  pending->used = cas_conversation_plan_start (transcript_exists (self, pending->cli_session_id),
                                               record != NULL && record->started);

  if (entry != NULL && !cas_cli_process_is_finished (entry->process) &&
      g_str_equal (entry->model, request->model))
    {
      /* Its process resumed the session: a cold fallback does too. */
      pending->used = CAS_CONVERSATION_RESUME;
      pending->warm = entry;
      g_free (pending->cli_session_id);
      pending->cli_session_id = g_strdup (entry->cli_session_id);
      return;
    }
  if (entry != NULL)
    g_hash_table_remove (self->processes, request->session_id);

  if (pending->used == CAS_CONVERSATION_OPEN && self->spare != NULL &&
      !cas_cli_process_is_finished (self->spare->process) &&
      g_str_equal (self->spare->model, request->model))
    {
      /* A new conversation: the spare becomes its process, under the id
       * the spare was started with. */
      entry = g_steal_pointer (&self->spare);
      entry->session_id = g_strdup (request->session_id);
      g_hash_table_insert (self->processes, entry->session_id, entry);
      pending->warm = entry;
      g_free (pending->cli_session_id);
      pending->cli_session_id = g_strdup (entry->cli_session_id);
      spare_schedule_refill (self);
    }
}

static void
pending_spawn (Pending          *pending,
               CasAdmissionSlot *slot)
{
  CasConversations *self = pending->owner;
  const CasConversationRequest *request = pending->request;
  g_autoptr (CasCliProcess) run = NULL;
  g_autoptr (GBytes) prompt = NULL;
  g_auto (GStrv) argv = NULL;

  if (pending->attempt == 0)
    pending_plan (pending);

  argv = turn_argv (self, request->model, pending->cli_session_id, pending->used, FALSE);
  g_debug ("turn for %s: attempt %u with %s %s%s", request->session_id, pending->attempt + 1,
           pending->used == CAS_CONVERSATION_RESUME ? "--resume" : "--session-id",
           pending->cli_session_id, pending->warm != NULL ? ", on a running process" : "");

  /* The message goes on stdin: argv would cap it at 128 KiB. */
  prompt = g_bytes_new (request->message, strlen (request->message));
  run = cas_cli_process_new ((const char * const *) argv, self->work_dir, prompt);
  cas_cli_process_set_timeout (run, self->config->conversational_timeout_seconds);
  cas_cli_process_set_kill_grace (run, self->config->claude_kill_grace_seconds);
  cas_cli_process_set_max_line_bytes (run, self->config->claude_max_line_bytes);

  if (pending->warm == NULL)
    {
      cas_turn_start (pending->turn, run, slot);
      return;
    }
  pending->warm->busy = TRUE;
  /* A turn that runs too long is interrupted; the process stays. */
  cas_turn_set_keep_process (pending->turn, TRUE);
  cas_turn_set_timeout (pending->turn, self->config->conversational_timeout_seconds);
  cas_turn_start_warm (pending->turn, pending->warm->process, request->message, run, slot);
}

static void
on_admitted (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (Pending) pending = user_data;
  g_autoptr (GError) error = NULL;
  CasAdmissionSlot *slot = cas_admission_acquire_finish (CAS_ADMISSION (source), result, &error);

  if (pending->ended)
    {
      g_clear_pointer (&slot, cas_admission_slot_release);
      return;
    }
  if (slot == NULL)
    pending_complete (pending, error);
  else
    pending_spawn (pending, slot);
}

/* The first attempt waits in the place it took on arrival; a retry asks
 * anew. */
static void
pending_admit (Pending *pending)
{
  if (pending->ticket != NULL)
    cas_admission_acquire_reserved_async (pending->owner->admission,
                                          g_steal_pointer (&pending->ticket),
                                          pending->waiting, on_admitted, pending_ref (pending));
  else
    cas_admission_acquire_async (pending->owner->admission, pending->waiting,
                                 on_admitted, pending_ref (pending));
}

static void
on_record_saved (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr (Pending) pending = user_data;
  g_autoptr (GError) error = NULL;

  pending->owner->pending_writes--;
  if (!cas_conversation_store_record_turn_finish (CAS_CONVERSATION_STORE (source), result, &error))
    g_message (_("Cannot save the record of conversation %s: %s"),
               pending->request->session_id, error->message);
  pending->saving = FALSE;
  pending_complete (pending, NULL);
}

/* Only after a successful turn does the conversation count as started.
 * The next turn of the lane starts once the record is on disk. */
static void
save_record_and_complete (Pending *pending)
{
  CasConversations *self = pending->owner;
  const char *id = pending->request->session_id;
  /* Kept only when it is not the conversation's own id. */
  const char *cli_id = g_strcmp0 (pending->cli_session_id, id) != 0 ? pending->cli_session_id
                                                                     : NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  if (self->stopping)
    {
      g_autoptr (GError) error = NULL;

      /* Shutting down: the main loop will not be around for a worker. */
      if (!cas_conversation_store_record_turn (self->store, id, pending->request->model,
                                               cli_id, now, &error))
        g_message (_("Cannot save the record of conversation %s: %s"), id, error->message);
      pending_complete (pending, NULL);
      return;
    }
  pending->saving = TRUE;
  self->pending_writes++;
  cas_conversation_store_record_turn_async (self->store, id, pending->request->model, cli_id,
                                            now, on_record_saved, pending_ref (pending));
}

static void
on_turn_done (CasTurn  *turn,
              gpointer  user_data)
{
  Pending *pending = user_data;
  CasConversations *self = pending->owner;
  const GError *error = cas_turn_get_error (turn);
  CasCliProcess *run = cas_turn_get_run (turn);
  CasConversationRetry retry;
  gboolean ran_warm = pending->warm != NULL && !cas_turn_fell_back (turn);

  /* The conversation's process: free for the next turn, or gone when it
   * failed this one (a cold run took over, and what it knows is stale). */
  if (pending->warm != NULL)
    {
      ConvProcess *entry = pending->warm;

      entry->busy = FALSE;
      entry->last_used_us = g_get_monotonic_time ();
      if (!ran_warm || cas_cli_process_is_finished (entry->process))
        g_hash_table_remove (self->processes, entry->session_id);
    }
  pending->warm = NULL;

  if (error == NULL)
    {
      if (!ran_warm)
        keep_warm (self, pending->request->session_id, pending->cli_session_id,
                   pending->request->model);
      save_record_and_complete (pending);
      return;
    }

  retry = CAS_CONVERSATION_RETRY_NONE;
  if (run != NULL && !cas_turn_is_cancelled (turn))
    retry = cas_conversation_plan_retry (pending->used, pending->attempt,
                                         cas_cli_process_get_exit_status (run),
                                         cas_turn_began (turn),
                                         cas_cli_process_get_stderr (run));
  if (retry != CAS_CONVERSATION_RETRY_NONE && !self->stopping)
    {
      /* The guess from disk was wrong (a transcript removed, or written
       * by a run we never heard back from): the CLI said which way. */
      if (retry == CAS_CONVERSATION_RETRY_OPEN)
        g_message (_("Conversation %s has no transcript any more: starting it afresh"),
                   pending->request->session_id);
      else
        g_debug ("turn for %s: the CLI refused (%s); retrying with --resume",
                 pending->request->session_id, error->message);
      pending->attempt++;
      pending->used = retry == CAS_CONVERSATION_RETRY_RESUME ? CAS_CONVERSATION_RESUME
                                                             : CAS_CONVERSATION_OPEN;
      /* A new run needs a new slot: the turn released the first. */
      pending_admit (pending);
      return;
    }

  g_debug ("turn for %s failed: %s", pending->request->session_id, error->message);
  pending_complete (pending, error);
}

void
cas_conversations_run_turn_async (CasConversations             *self,
                                  const CasConversationRequest *request,
                                  CasTurn                      *turn,
                                  GCancellable                 *cancellable,
                                  GAsyncReadyCallback           callback,
                                  gpointer                      user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (CasAdmissionTicket) ticket = NULL;
  GError *error = NULL;
  GQueue *lane;
  Pending *pending;

  g_return_if_fail (CAS_IS_CONVERSATIONS (self));
  g_return_if_fail (CAS_IS_TURN (turn));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cas_conversations_run_turn_async);
  /* The turn's own outcome is the answer, even for a cancelled caller. */
  g_task_set_check_cancellable (task, FALSE);

  if (self->stopping)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_QUEUE_FULL, "queue full");
      return;
    }
  /* A turn behind an earlier one of its conversation waits here, not in
   * the admission's line: its place there is taken now, so the one depth
   * (and the bytes bound) covers every conversation's lane. */
  ticket = cas_admission_reserve (self->admission, strlen (request->message), &error);
  if (ticket == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  lane = g_hash_table_lookup (self->lanes, request->session_id);

  pending = g_rc_box_new0 (Pending);
  pending->owner = self;
  pending->task = g_steal_pointer (&task);
  pending->request = g_new0 (CasConversationRequest, 1);
  pending->request->session_id = g_strdup (request->session_id);
  pending->request->message = g_strdup (request->message);
  pending->request->model = g_strdup (request->model);
  pending->request->stream = request->stream;
  pending->turn = g_object_ref (turn);
  pending->waiting = g_cancellable_new ();
  pending->ticket = g_steal_pointer (&ticket);
  pending->done_id = g_signal_connect (turn, "done", G_CALLBACK (on_turn_done), pending);

  if (lane == NULL)
    {
      lane = g_queue_new ();
      g_hash_table_insert (self->lanes, g_strdup (request->session_id), lane);
    }
  g_queue_push_tail (lane, pending);   /* the lane's ref */

  if (cancellable != NULL)
    {
      pending->cancellable = g_object_ref (cancellable);
      pending->cancelled_id = g_signal_connect (cancellable, "cancelled",
                                                G_CALLBACK (on_cancelled), pending);
      if (g_cancellable_is_cancelled (cancellable))
        {
          on_cancelled (cancellable, pending);
          return;
        }
    }

  if (g_queue_get_length (lane) == 1)
    pending_admit (pending);
  else
    g_debug ("turn for %s waits for its conversation (%u ahead)",
             request->session_id, g_queue_get_length (lane) - 1);
}

gboolean
cas_conversations_run_turn_finish (CasConversations *self,
                                   GAsyncResult     *result,
                                   GError          **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
cas_conversations_stop (CasConversations *self)
{
  g_autoptr (GPtrArray) all = g_ptr_array_new_with_free_func (pending_unref);
  g_autoptr (GError) stopped = g_error_new_literal (CAS_ERROR, CAS_ERROR_CANCELLED,
                                                    "the service is stopping");
  GHashTableIter iter;
  gpointer lane;
  gint64 deadline;

  self->stopping = TRUE;
  g_clear_handle_id (&self->record_sweep_id, g_source_remove);
  g_clear_handle_id (&self->spare_refill_id, g_source_remove);
  g_clear_pointer (&self->spare, conv_process_free);

  g_hash_table_iter_init (&iter, self->lanes);
  while (g_hash_table_iter_next (&iter, NULL, &lane))
    for (GList *l = ((GQueue *) lane)->head; l != NULL; l = l->next)
      g_ptr_array_add (all, pending_ref (l->data));
  for (guint i = 0; i < all->len; i++)
    {
      Pending *pending = g_ptr_array_index (all, i);

      cas_turn_cancel (pending->turn);
      /* A running turn ends through "done" once its process is stopped. */
      if (!cas_turn_is_running (pending->turn) && !pending->saving)
        pending_complete (pending, stopped);
    }

  deadline = g_get_monotonic_time () + STOP_WRITE_WAIT_SECONDS * G_USEC_PER_SEC;
  while ((self->pending_writes > 0 || self->record_sweeping) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
}

static void
cas_conversations_dispose (GObject *object)
{
  CasConversations *self = CAS_CONVERSATIONS (object);

  /* Every turn holds a reference through its task: none is left here. */
  g_clear_pointer (&self->lanes, g_hash_table_unref);
  g_clear_handle_id (&self->idle_sweep_id, g_source_remove);
  g_clear_handle_id (&self->record_sweep_id, g_source_remove);
  g_clear_handle_id (&self->spare_refill_id, g_source_remove);
  g_clear_pointer (&self->spare, conv_process_free);
  g_clear_pointer (&self->processes, g_hash_table_unref);

  G_OBJECT_CLASS (cas_conversations_parent_class)->dispose (object);
}

static void
cas_conversations_finalize (GObject *object)
{
  CasConversations *self = CAS_CONVERSATIONS (object);

  g_clear_pointer (&self->config, cas_config_unref);
  g_clear_object (&self->admission);
  g_clear_object (&self->store);
  g_free (self->agents_json);
  g_free (self->work_dir);
  g_free (self->projects_dir);

  G_OBJECT_CLASS (cas_conversations_parent_class)->finalize (object);
}

static void
cas_conversations_class_init (CasConversationsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cas_conversations_dispose;
  object_class->finalize = cas_conversations_finalize;
}

static void
cas_conversations_init (CasConversations *self)
{
  self->lanes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, lane_free);
  self->processes = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, conv_process_free);
}

/* The directory as the CLI will see it (getcwd resolves links): the
 * transcript path is derived from it. */
static char *
make_work_dir (const char *state_dir,
               GError    **error)
{
  g_autofree char *dir = g_build_filename (state_dir, "conversational", NULL);
  char *real;
  int saved_errno;

  if (g_mkdir_with_parents (dir, 0700) != 0 || g_chmod (dir, 0700) != 0)
    {
      saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot create %s: %s"), dir, g_strerror (saved_errno));
      return NULL;
    }
  real = realpath (dir, NULL);
  if (real == NULL)
    {
      saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot resolve %s: %s"), dir, g_strerror (saved_errno));
      return NULL;
    }
  /* malloc'd, and g_free is free */
  return real;
}

CasConversations *
cas_conversations_new (CasConfig    *config,
                       CasAdmission *admission,
                       CasAgentSet  *agents,
                       const char   *state_dir,
                       GError      **error)
{
  g_autoptr (CasConversations) self = g_object_new (CAS_TYPE_CONVERSATIONS, NULL);
  g_autofree char *records_dir = g_build_filename (state_dir, "conversations", NULL);
  const char *agent = config->conversational_agent;

  self->config = cas_config_ref (config);
  self->admission = g_object_ref (admission);
  self->idle_sweep_id = g_timeout_add_seconds (MIN (MIN (config->claude_conversation_idle_seconds,
                                                         config->claude_pool_idle_seconds), 60),
                                               on_idle_sweep, self);

  if (!cas_agent_set_cli_json_if_ours (agents, agent, &self->agents_json, error))
    return NULL;

  self->work_dir = make_work_dir (state_dir, error);
  if (self->work_dir == NULL)
    return NULL;
  self->store = cas_conversation_store_new (records_dir, error);
  if (self->store == NULL)
    return NULL;

  /* The child inherits our environment, so it finds its config where we
   * look for it. */
  self->projects_dir = cas_cli_projects_dir ();
  records_sweep (self);
  self->record_sweep_id = g_timeout_add_seconds (RECORD_SWEEP_SECONDS, on_record_sweep, self);
  g_debug ("conversations run in %s; transcripts under %s",
           self->work_dir, self->projects_dir);
  return g_steal_pointer (&self);
}

const char *
cas_conversations_get_work_dir (CasConversations *self)
{
  return self->work_dir;
}
