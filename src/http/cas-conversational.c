/* cas-conversational.c: POST /v1/conversational.
 *
 * A turn: validate, queue behind earlier turns of the same conversation
 * (a "lane": FIFO, the head runs), take an admission slot, decide
 * --session-id or --resume from disk, run the CLI through a CasTurnRelay
 * (SSE or one JSON reply), and on the CLI's "already in use" / "No
 * conversation found" refusals run once more with the other flag.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-conversation"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cas-cli-argv.h"
#include "cas-cli-process.h"
#include "cas-conversation-plan.h"
#include "cas-conversation-store.h"
#include "cas-conversational.h"
#include "cas-error.h"
#include "cas-json.h"
#include "cas-turn-relay.h"

#define ROUTE "/v1/conversational"

struct _CasConversational
{
  GObject parent_instance;

  CasConfig *config;            /* (owned) */
  CasAdmission *admission;      /* (owned) */
  CasConversationStore *store;  /* (owned) */
  char *agents_json;            /* (owned) (nullable) --agents for our agent */
  char *work_dir;               /* (owned) the pinned cwd, canonical */
  char *projects_dir;           /* (owned) the CLI's <config>/projects */
  GHashTable *lanes;            /* (owned) session id -> (owned) GQueue of Turn
                                 * (each holding a ref); the head runs */
  GHashTable *processes;        /* (owned) session id -> (owned) ConvProcess */
  guint idle_sweep_id;
};

/* A conversation's long-lived claude process (--resume, stream-json
 * input), kept between its turns so a follow-up is one stdin line. */
typedef struct {
  CasConversational *owner;     /* (unowned) */
  char *session_id;             /* (owned) */
  char *model;                  /* (owned) the --model it runs */
  CasCliProcess *process;       /* (owned) */
  gint64 last_used_us;          /* monotonic */
  gboolean busy;                /* a turn runs on it */
} ConvProcess;

G_DEFINE_FINAL_TYPE (CasConversational, cas_conversational, G_TYPE_OBJECT)

/* One request, from validation to its reply. Refcounted (g_rc_box): its
 * lane holds one ref, a pending admission wait another. */
typedef struct {
  CasConversational *owner;    /* (unowned) (nullable) NULL once detached */
  CasConversationRequest *request; /* (owned) */
  SoupServerMessage *msg;      /* (owned) */
  CasTurnRelay *relay;         /* (owned) */
  GCancellable *cancellable;   /* (owned) the admission wait */
  gulong done_id;
  gulong client_gone_id;
  gulong finished_id;
  gulong disconnected_id;
  CasConversationStart used;   /* how the current attempt started */
  guint attempt;
  gboolean started;            /* the relay has been started at least once */
  ConvProcess *warm;           /* (unowned) (nullable) the process this attempt runs on */
  gboolean gone;               /* the client hung up, or the message finished */
  gboolean ended;              /* out of its lane */
} Turn;

static void turn_admit (Turn *turn);

static void
turn_clear (gpointer data)
{
  Turn *turn = data;

  if (turn->relay != NULL)
    {
      g_clear_signal_handler (&turn->done_id, turn->relay);
      g_clear_signal_handler (&turn->client_gone_id, turn->relay);
    }
  if (turn->msg != NULL)
    {
      g_clear_signal_handler (&turn->finished_id, turn->msg);
      g_clear_signal_handler (&turn->disconnected_id, turn->msg);
    }
  g_clear_object (&turn->relay);
  g_clear_object (&turn->msg);
  g_clear_object (&turn->cancellable);
  g_clear_pointer (&turn->request, cas_conversation_request_free);
}

static Turn *
turn_ref (Turn *turn)
{
  return g_rc_box_acquire (turn);
}

static void
turn_unref (gpointer turn)
{
  g_rc_box_release_full (turn, turn_clear);
}

static void
lane_free (gpointer data)
{
  g_queue_free_full (data, turn_unref);
}

/* Takes @turn out of its lane and lets the next one in. Safe to call
 * from any of the turn's callbacks, more than once. */
static void
turn_end (Turn *turn)
{
  CasConversational *self = turn->owner;
  GQueue *lane;
  gboolean was_head;
  Turn *next;

  if (turn->ended)
    return;
  turn->ended = TRUE;
  g_cancellable_cancel (turn->cancellable);
  g_clear_signal_handler (&turn->done_id, turn->relay);
  g_clear_signal_handler (&turn->client_gone_id, turn->relay);
  g_clear_signal_handler (&turn->finished_id, turn->msg);
  g_clear_signal_handler (&turn->disconnected_id, turn->msg);
  if (self == NULL)
    return;

  lane = g_hash_table_lookup (self->lanes, turn->request->session_id);
  if (lane == NULL)
    return;
  was_head = g_queue_peek_head (lane) == turn;
  if (!g_queue_remove (lane, turn))
    return;

  next = g_queue_peek_head (lane);
  if (next == NULL)
    g_hash_table_remove (self->lanes, turn->request->session_id);
  else if (was_head)
    turn_admit (next);
  /* The lane's ref, last: callers hold their own. */
  turn_unref (turn);
}

/* Whether a CLI run of this turn is under way (the relay's "done" will
 * follow). */
static gboolean
turn_is_running (Turn *turn)
{
  CasCliProcess *run = cas_turn_relay_get_run (turn->relay);

  return turn->started && run != NULL && !cas_cli_process_is_finished (run);
}

static void
turn_client_gone (Turn *turn)
{
  g_autoptr (GError) error = NULL;

  if (turn->gone || turn->ended)
    return;
  turn->gone = TRUE;

  if (turn_is_running (turn))
    {
      /* Barge-in: the relay's "done" follows once the turn has ended. On
       * the conversation's own process the relay interrupted the turn. */
      if (turn->warm == NULL)
        cas_cli_process_stop (cas_turn_relay_get_run (turn->relay));
      return;
    }
  /* Waiting in the lane, for a slot, or between a refusal and its retry:
   * the paused message still needs an answer for libsoup to let go. */
  g_debug ("turn for %s left the queue: its client went away", turn->request->session_id);
  error = g_error_new_literal (CAS_ERROR, CAS_ERROR_CANCELLED, "client went away");
  cas_turn_relay_reply_error (turn->relay, error);
  turn_end (turn);
}

/* The relay watches the client's socket from the start: nothing is
 * written while a turn waits, so libsoup itself would not notice. */
static void
on_client_gone (CasTurnRelay *relay,
                gpointer      user_data)
{
  turn_client_gone (user_data);
}

static void
on_msg_finished (SoupServerMessage *msg,
                 gpointer           user_data)
{
  Turn *turn = user_data;

  g_clear_signal_handler (&turn->finished_id, msg);
  g_clear_signal_handler (&turn->disconnected_id, msg);
  turn->gone = TRUE;
  /* A running CLI is the relay's to stop; it reports through "done". */
  if (turn_is_running (turn))
    return;
  /* The connection went (a server shutdown) while the turn waited. */
  g_debug ("turn for %s left the queue: its connection closed", turn->request->session_id);
  turn_end (turn);
}

static gboolean
transcript_exists (CasConversational *self,
                   const char        *id)
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
  g_free (entry->model);
  g_free (entry);
}

static void
on_conv_process_finished (CasCliProcess *process,
                          gpointer       user_data)
{
  ConvProcess *entry = user_data;
  CasConversational *self = entry->owner;

  g_debug ("the process of conversation %s ended", entry->session_id);
  if (!entry->busy && g_hash_table_lookup (self->processes, entry->session_id) == entry)
    g_hash_table_remove (self->processes, entry->session_id);
}

/* The least recently used idle process goes when max-processes run. */
static void
make_room (CasConversational *self)
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
turn_argv (CasConversational    *self,
           const char           *model,
           const char           *session_id,
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
    .session_id = session_id,
    .resume = start == CAS_CONVERSATION_RESUME,
    .stream_input = long_lived,
  };

  return cas_cli_argv_build (&invocation);
}

/* After a turn that ran cold: start the conversation's process for the
 * next one now, while the person is still listening (it resumes the
 * session the turn left on disk). A process it had is stale: it goes. */
static void
keep_warm (CasConversational *self,
           const char        *session_id,
           const char        *model)
{
  g_auto (GStrv) argv = NULL;
  g_autoptr (GError) error = NULL;
  CasCliProcess *process;
  ConvProcess *entry;

  g_hash_table_remove (self->processes, session_id);
  if (self->config->claude_pool_size == 0)
    return;
  make_room (self);
  if (cas_cli_process_get_live_count () >= self->config->claude_max_processes)
    return;

  argv = turn_argv (self, model, session_id, CAS_CONVERSATION_RESUME, TRUE);
  process = cas_cli_process_start_long_lived ((const char * const *) argv, self->work_dir,
                                              self->config->claude_kill_grace_seconds,
                                              self->config->claude_max_line_bytes, &error);
  if (process == NULL)
    {
      g_debug ("conversation %s stays cold: %s", session_id, error->message);
      return;
    }
  entry = g_new0 (ConvProcess, 1);
  entry->owner = self;
  entry->session_id = g_strdup (session_id);
  entry->model = g_strdup (model);
  entry->process = process;
  entry->last_used_us = g_get_monotonic_time ();
  g_signal_connect (entry->process, "finished", G_CALLBACK (on_conv_process_finished), entry);
  g_hash_table_insert (self->processes, entry->session_id, entry);
}

static gboolean
on_idle_sweep (gpointer user_data)
{
  CasConversational *self = user_data;
  gint64 oldest = g_get_monotonic_time () -
                  (gint64) self->config->claude_conversation_idle_seconds * G_USEC_PER_SEC;
  GHashTableIter iter;
  ConvProcess *entry;

  g_hash_table_iter_init (&iter, self->processes);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    if (!entry->busy && entry->last_used_us < oldest)
      {
        g_debug ("the process of conversation %s was idle too long", entry->session_id);
        g_hash_table_iter_remove (&iter);
      }
  return G_SOURCE_CONTINUE;
}

static void
turn_spawn (Turn             *turn,
            CasAdmissionSlot *slot)
{
  CasConversational *self = turn->owner;
  const CasConversationRequest *request = turn->request;
  g_autoptr (CasCliProcess) run = NULL;
  g_autoptr (GBytes) prompt = NULL;
  g_auto (GStrv) argv = NULL;

  if (turn->attempt == 0)
    {
      g_autoptr (CasConversationRecord) record =
        cas_conversation_store_load (self->store, request->session_id, NULL);
      gboolean on_disk = transcript_exists (self, request->session_id);
      ConvProcess *entry = g_hash_table_lookup (self->processes, request->session_id);

      /* Decided now, at the head of the lane, so the turn before this one
       * has left its transcript and record behind. */
      turn->used = cas_conversation_plan_start (on_disk, record != NULL && record->started);

      if (entry != NULL && !cas_cli_process_is_finished (entry->process) &&
          g_str_equal (entry->model, request->model))
        {
          /* Its process resumed the session: a cold fallback does too. */
          turn->used = CAS_CONVERSATION_RESUME;
          turn->warm = entry;
        }
      else if (entry != NULL)
        g_hash_table_remove (self->processes, request->session_id);
    }

  argv = turn_argv (self, request->model, request->session_id, turn->used, FALSE);
  g_debug ("turn for %s: attempt %u with %s%s", request->session_id, turn->attempt + 1,
           turn->used == CAS_CONVERSATION_RESUME ? "--resume" : "--session-id",
           turn->warm != NULL ? ", on its running process" : "");

  /* The message goes on stdin: argv would cap it at 128 KiB. */
  prompt = g_bytes_new (request->message, strlen (request->message));
  run = cas_cli_process_new ((const char * const *) argv, self->work_dir, prompt);
  cas_cli_process_set_timeout (run, self->config->conversational_timeout_seconds);
  cas_cli_process_set_kill_grace (run, self->config->claude_kill_grace_seconds);
  cas_cli_process_set_max_line_bytes (run, self->config->claude_max_line_bytes);

  turn->started = TRUE;
  if (turn->warm == NULL)
    {
      cas_turn_relay_start (turn->relay, run, slot);
      return;
    }
  turn->warm->busy = TRUE;
  cas_cli_process_set_timeout (turn->warm->process, self->config->conversational_timeout_seconds);
  cas_turn_relay_set_keep_process (turn->relay, TRUE);
  cas_turn_relay_start_warm (turn->relay, turn->warm->process, request->message, run, slot);
}

static void
on_admitted (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Turn *turn = user_data;
  g_autoptr (GError) error = NULL;
  CasAdmissionSlot *slot = cas_admission_acquire_finish (CAS_ADMISSION (source), result, &error);

  /* Ended while it waited: its owner may be gone too. */
  if (turn->ended || turn->owner == NULL)
    {
      g_clear_pointer (&slot, cas_admission_slot_release);
      turn_unref (turn);
      return;
    }

  if (slot == NULL)
    {
      cas_turn_relay_reply_error (turn->relay, error);
      turn_end (turn);
    }
  else
    turn_spawn (turn, slot);
  turn_unref (turn);
}

static void
turn_admit (Turn *turn)
{
  cas_admission_acquire_async (turn->owner->admission, turn->cancellable,
                               on_admitted, turn_ref (turn));
}

static void
reply_success (Turn *turn)
{
  GString *out;

  if (turn->request->stream)
    return;
  out = g_string_sized_new (128);
  g_string_append (out, "{\"session_id\":");
  cas_json_append_string (out, turn->request->session_id);
  g_string_append (out, ",\"reply\":");
  cas_json_append_string (out, cas_turn_relay_get_text (turn->relay));
  g_string_append_c (out, '}');
  cas_turn_relay_reply_json (turn->relay, 200, g_string_free (out, FALSE));
}

static void
on_relay_done (CasTurnRelay *relay,
               gpointer      user_data)
{
  Turn *turn = user_data;
  CasConversational *self = turn->owner;
  const GError *error = cas_turn_relay_get_error (relay);
  CasCliProcess *run = cas_turn_relay_get_run (relay);
  g_autoptr (GError) store_error = NULL;
  CasConversationRetry retry;
  gboolean ran_warm = turn->warm != NULL && !cas_turn_relay_fell_back (relay);

  /* The conversation's process: free for the next turn, or gone when it
   * failed this one (a cold run took over, and what it knows is stale). */
  if (turn->warm != NULL)
    {
      ConvProcess *entry = turn->warm;

      entry->busy = FALSE;
      entry->last_used_us = g_get_monotonic_time ();
      if (!ran_warm || cas_cli_process_is_finished (entry->process))
        g_hash_table_remove (self->processes, entry->session_id);
    }
  turn->warm = NULL;

  if (error == NULL)
    {
      /* Only now does the conversation count as started. */
      if (!cas_conversation_store_record_turn (self->store, turn->request->session_id,
                                               turn->request->model,
                                               g_get_real_time () / G_USEC_PER_SEC,
                                               &store_error))
        g_message (_("Cannot save the record of conversation %s: %s"),
                   turn->request->session_id, store_error->message);
      if (!ran_warm)
        keep_warm (self, turn->request->session_id, turn->request->model);
      reply_success (turn);
      turn_end (turn);
      return;
    }

  retry = CAS_CONVERSATION_RETRY_NONE;
  if (run != NULL && !turn->gone && !cas_turn_relay_client_gone (relay))
    retry = cas_conversation_plan_retry (turn->used, turn->attempt,
                                         cas_cli_process_get_exit_status (run),
                                         cas_turn_relay_got_output (relay),
                                         cas_cli_process_get_stderr (run));
  if (retry != CAS_CONVERSATION_RETRY_NONE)
    {
      /* The guess from disk was wrong (a transcript removed, or written
       * by a run we never heard back from): the CLI said which way. */
      if (retry == CAS_CONVERSATION_RETRY_OPEN)
        g_message (_("Conversation %s has no transcript any more: starting it afresh"),
                   turn->request->session_id);
      else
        g_debug ("turn for %s: the CLI refused (%s); retrying with --resume",
                 turn->request->session_id, error->message);
      turn->attempt++;
      turn->used = retry == CAS_CONVERSATION_RETRY_RESUME ? CAS_CONVERSATION_RESUME
                                                          : CAS_CONVERSATION_OPEN;
      /* A new run needs a new slot: the relay released the first. */
      turn_admit (turn);
      return;
    }

  g_debug ("turn for %s failed: %s", turn->request->session_id, error->message);
  /* Streams that started carry their error chunk already; this answers
   * plain requests and streams that failed before their first line. */
  cas_turn_relay_reply_error (relay, error);
  turn_end (turn);
}

static void
handle_turn (CasHttpServer     *server,
             SoupServerMessage *msg,
             const char        *path,
             GHashTable        *query,
             gpointer           user_data)
{
  CasConversational *self = user_data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (JsonObject) object = NULL;
  g_autoptr (CasConversationRequest) request = NULL;
  g_autoptr (GError) error = NULL;
  CasTurnRelayOptions options = { 0 };
  GQueue *lane;
  Turn *turn;

  object = cas_json_parse_object (body->data, body->length, &error);
  if (object != NULL)
    request = cas_conversation_request_parse (object, self->config->claude_default_model,
                                              (const char * const *) self->config->claude_models,
                                              &error);
  if (request == NULL)
    {
      cas_http_reply_error (msg, error);
      return;
    }

  lane = g_hash_table_lookup (self->lanes, request->session_id);
  /* Waiting turns hold no admission slot, so bound them here. */
  if (lane != NULL && g_queue_get_length (lane) >= MAX (self->config->claude_max_queue_depth, 1))
    {
      g_set_error_literal (&error, CAS_ERROR, CAS_ERROR_QUEUE_FULL, "queue full");
      cas_http_reply_error (msg, error);
      return;
    }

  turn = g_rc_box_new0 (Turn);
  turn->owner = self;
  turn->request = g_steal_pointer (&request);
  turn->msg = g_object_ref (msg);
  turn->cancellable = g_cancellable_new ();

  options.mode = turn->request->stream ? CAS_TURN_RELAY_STREAM : CAS_TURN_RELAY_COLLECT;
  options.model = turn->request->model;
  /* Before the first line a refusal can still be retried unseen. */
  options.defer_early_failure = TRUE;
  turn->relay = cas_turn_relay_new (msg, &options);
  turn->done_id = g_signal_connect (turn->relay, "done", G_CALLBACK (on_relay_done), turn);
  turn->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (on_msg_finished), turn);
  /* A server shutdown ends the connection with only "disconnected". */
  turn->disconnected_id = g_signal_connect (msg, "disconnected", G_CALLBACK (on_msg_finished), turn);
  turn->client_gone_id = g_signal_connect (turn->relay, "client-gone",
                                           G_CALLBACK (on_client_gone), turn);

  if (lane == NULL)
    {
      lane = g_queue_new ();
      g_hash_table_insert (self->lanes, g_strdup (turn->request->session_id), lane);
    }
  g_queue_push_tail (lane, turn);
  if (g_queue_get_length (lane) == 1)
    turn_admit (turn);
  else
    g_debug ("turn for %s waits for its conversation (%u ahead)",
             turn->request->session_id, g_queue_get_length (lane) - 1);
}

static void
cas_conversational_dispose (GObject *object)
{
  CasConversational *self = CAS_CONVERSATIONAL (object);
  GHashTableIter iter;
  gpointer lane;

  /* Turns still queued or running outlive us only as far as their relay
   * does: cut them loose (owner first, so ending one starts no other),
   * and no callback comes back here. */
  if (self->lanes != NULL)
    {
      g_hash_table_iter_init (&iter, self->lanes);
      while (g_hash_table_iter_next (&iter, NULL, &lane))
        for (GList *l = ((GQueue *) lane)->head; l != NULL; l = l->next)
          ((Turn *) l->data)->owner = NULL;
      g_hash_table_iter_init (&iter, self->lanes);
      while (g_hash_table_iter_next (&iter, NULL, &lane))
        for (GList *l = ((GQueue *) lane)->head; l != NULL; l = l->next)
          turn_end (l->data);
    }
  g_clear_pointer (&self->lanes, g_hash_table_unref);
  g_clear_handle_id (&self->idle_sweep_id, g_source_remove);
  g_clear_pointer (&self->processes, g_hash_table_unref);

  G_OBJECT_CLASS (cas_conversational_parent_class)->dispose (object);
}

static void
cas_conversational_finalize (GObject *object)
{
  CasConversational *self = CAS_CONVERSATIONAL (object);

  g_clear_pointer (&self->config, cas_config_unref);
  g_clear_object (&self->admission);
  g_clear_object (&self->store);
  g_free (self->agents_json);
  g_free (self->work_dir);
  g_free (self->projects_dir);

  G_OBJECT_CLASS (cas_conversational_parent_class)->finalize (object);
}

static void
cas_conversational_class_init (CasConversationalClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cas_conversational_dispose;
  object_class->finalize = cas_conversational_finalize;
}

static void
cas_conversational_init (CasConversational *self)
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

CasConversational *
cas_conversational_new (CasConfig    *config,
                        CasAdmission *admission,
                        CasAgentSet  *agents,
                        const char   *state_dir,
                        GError      **error)
{
  g_autoptr (CasConversational) self = g_object_new (CAS_TYPE_CONVERSATIONAL, NULL);
  g_autofree char *records_dir = g_build_filename (state_dir, "conversations", NULL);
  const char *agent = config->conversational_agent;

  self->config = cas_config_ref (config);
  self->admission = g_object_ref (admission);
  self->idle_sweep_id = g_timeout_add_seconds (MIN (config->claude_conversation_idle_seconds, 60),
                                               on_idle_sweep, self);

  /* Ours: handed over whole with --agents. Otherwise it is the user's
   * own (~/.claude/agents) and --agent alone names it. */
  if (agents != NULL && agent != NULL && cas_agent_set_lookup (agents, agent) != NULL)
    {
      self->agents_json = cas_agent_set_to_cli_json_for (agents, agent, error);
      if (self->agents_json == NULL)
        return NULL;
    }

  self->work_dir = make_work_dir (state_dir, error);
  if (self->work_dir == NULL)
    return NULL;
  self->store = cas_conversation_store_new (records_dir, error);
  if (self->store == NULL)
    return NULL;

  /* The child inherits our environment, so it finds its config where we
   * look for it. */
  self->projects_dir = cas_cli_projects_dir ();
  g_debug ("conversations run in %s; transcripts under %s",
           self->work_dir, self->projects_dir);
  return g_steal_pointer (&self);
}

void
cas_conversational_register (CasConversational *self,
                             CasHttpServer     *http)
{
  cas_http_server_add_route (http, "POST", ROUTE, CAS_ROUTE_NONE, handle_turn, self);
}

const char *
cas_conversational_get_work_dir (CasConversational *self)
{
  return self->work_dir;
}
