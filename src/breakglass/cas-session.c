/* cas-session.c: one breakglass session: its log, its turns and its warm
 * claude process.
 *
 * The first turn starts claude long-lived (--input-format=stream-json)
 * with --session-id <the session's id>; later turns write one stdin line
 * to it. When the process is gone (idle, crashed, the daemon restarted)
 * the next turn starts it again with --resume. Cancel and the turn
 * timeout send the CLI's interrupt request, which keeps the process.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-breakglass"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "cas-cli-argv.h"
#include "cas-cli-process.h"
#include "cas-conversation-plan.h"
#include "cas-error.h"
#include "cas-json.h"
#include "cas-session.h"
#include "cas-workspace.h"

/* How long the CLI may take to answer an interrupt before it is stopped. */
#define INTERRUPT_GRACE_SECONDS 5

typedef enum {
  END_NONE,
  END_CANCELLED,
  END_TIMED_OUT,
  END_LOG_FULL,
} EndReason;

struct _CasSession
{
  GObject parent_instance;

  CasConfig *config;          /* (owned) */
  CasSessionStore *store;     /* (owned) */
  char *agents_json;          /* (owned) (nullable) */
  char *id;                   /* (owned) also the CLI's session id */
  char *dir;                  /* (owned) */
  char *work_dir;             /* (owned) the CLI's cwd */
  gint64 created;             /* unix seconds */
  gint64 last_activity;
  gboolean cli_started;       /* the CLI has a transcript: --resume */

  /* the log */
  int log_fd;                 /* appends go through the store's thread */
  int read_fd;                /* replays read here */
  GArray *offsets;            /* (element-type guint64) each queued event's line start */
  guint64 log_bytes;          /* queued, not all on disk yet */
  guint64 durable;            /* events on disk */
  gboolean log_failed;
  gboolean closed;

  /* the warm process */
  CasCliProcess *process;     /* (owned) (nullable) */
  char *process_model;        /* (owned) (nullable) */
  gulong line_id;
  gulong finished_id;
  guint idle_id;

  /* the running turn */
  gboolean turn_running;
  char *turn_prompt;          /* (owned) (nullable) for the one retry */
  char *turn_model;           /* (owned) (nullable) */
  CasSessionTranslator translator;
  gboolean began;             /* the CLI got under way (past a refusal) */
  gboolean on_kept_process;   /* this attempt went to a process kept from before */
  guint attempt;
  CasConversationStart used;
  EndReason end_reason;
  guint timeout_id;

  /* events on disk, to broadcast at the end of the store's batch */
  GString *batch;             /* (owned) their frames */
  guint64 batch_first;
  guint batch_count;
  GPtrArray *batch_turn_ends; /* (owned) (element-type TurnEnd) */
  gulong batch_done_id;
};

enum {
  SIGNAL_EVENTS,
  SIGNAL_TURN_ENDED,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CasSession, cas_session, G_TYPE_OBJECT)

static void on_batch_done (CasSessionStore *store,
                           gpointer         user_data);

/* A turn_end on disk, to signal once its batch is broadcast. */
typedef struct {
  guint64 id;
  char *error;           /* (owned) (nullable) NULL: the turn completed */
} TurnEnd;

static void
turn_end_free (gpointer data)
{
  TurnEnd *end = data;

  g_free (end->error);
  g_free (end);
}

/* An event on its way to the disk. */
typedef struct {
  CasSession *session;   /* (owned) */
  guint64 id;
  GString *frame;        /* (owned) */
  char *turn_error;      /* (owned) (nullable) set on a turn_end */
  gboolean turn_end;
} Append;

static void
drop_process (CasSession *self,
              gboolean    stop)
{
  if (self->process == NULL)
    return;
  g_clear_signal_handler (&self->line_id, self->process);
  g_clear_signal_handler (&self->finished_id, self->process);
  if (stop)
    cas_cli_process_stop (self->process);
  else
    cas_cli_process_retire (self->process);
  g_clear_object (&self->process);
  g_clear_pointer (&self->process_model, g_free);
  g_clear_handle_id (&self->idle_id, g_source_remove);
}

static void
cas_session_dispose (GObject *object)
{
  CasSession *self = CAS_SESSION (object);

  g_clear_handle_id (&self->timeout_id, g_source_remove);
  drop_process (self, TRUE);
  if (self->store != NULL)
    g_clear_signal_handler (&self->batch_done_id, self->store);
  G_OBJECT_CLASS (cas_session_parent_class)->dispose (object);
}

static void
cas_session_finalize (GObject *object)
{
  CasSession *self = CAS_SESSION (object);

  if (self->log_fd >= 0)
    cas_session_store_close (self->store, self->log_fd);
  if (self->read_fd >= 0)
    close (self->read_fd);
  g_clear_pointer (&self->config, cas_config_unref);
  g_clear_object (&self->store);
  g_free (self->agents_json);
  g_free (self->id);
  g_free (self->dir);
  g_free (self->work_dir);
  g_array_unref (self->offsets);
  g_free (self->turn_prompt);
  g_free (self->turn_model);
  g_string_free (self->batch, TRUE);
  g_ptr_array_unref (self->batch_turn_ends);

  G_OBJECT_CLASS (cas_session_parent_class)->finalize (object);
}

static void
cas_session_class_init (CasSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cas_session_dispose;
  object_class->finalize = cas_session_finalize;

  signals[SIGNAL_EVENTS] =
    g_signal_new ("events", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 4,
                  G_TYPE_UINT64, G_TYPE_UINT, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_UINT64);
  signals[SIGNAL_TURN_ENDED] =
    g_signal_new ("turn-ended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_UINT64, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
cas_session_init (CasSession *self)
{
  self->log_fd = -1;
  self->read_fd = -1;
  self->offsets = g_array_new (FALSE, FALSE, sizeof (guint64));
  self->batch = g_string_new (NULL);
  self->batch_turn_ends = g_ptr_array_new_with_free_func (turn_end_free);
}

CasSession *
cas_session_new (const CasSessionContext *context,
                 const char              *id,
                 const char              *dir)
{
  CasSession *self = g_object_new (CAS_TYPE_SESSION, NULL);

  self->config = cas_config_ref (context->config);
  self->store = g_object_ref (context->store);
  self->batch_done_id = g_signal_connect (self->store, "batch-done",
                                          G_CALLBACK (on_batch_done), self);
  self->agents_json = g_strdup (context->agents_json);
  self->id = g_strdup (id);
  self->dir = g_strdup (dir);
  self->work_dir = g_build_filename (dir, "work", NULL);
  self->created = g_get_real_time () / G_USEC_PER_SEC;
  self->last_activity = self->created;
  return self;
}

/* --- the log --------------------------------------------------------------- */

static char *
format_meta (CasSession *self)
{
  GString *out = g_string_new ("{\"id\":");

  cas_json_append_string (out, self->id);
  g_string_append_printf (out, ",\"created\":%" G_GINT64_FORMAT ",\"cli_started\":%s}\n",
                          self->created, self->cli_started ? "true" : "false");
  return g_string_free (out, FALSE);
}

static void
append_free (Append *append)
{
  g_object_unref (append->session);
  g_string_free (append->frame, TRUE);
  g_free (append->turn_error);
  g_free (append);
}

static void fail_log (CasSession *self, const GError *error);

static void
on_appended (int           fd,
             const GError *error,
             gpointer      user_data)
{
  Append *append = user_data;
  CasSession *self = append->session;

  if (error != NULL)
    fail_log (self, error);
  else if (!self->log_failed)
    {
      /* The store keeps the order: this is the next one. */
      self->durable = append->id + 1;
      self->last_activity = g_get_real_time () / G_USEC_PER_SEC;
      if (!self->closed)
        {
          if (self->batch_count == 0)
            self->batch_first = append->id;
          self->batch_count++;
          g_string_append_len (self->batch, append->frame->str, append->frame->len);
          if (append->turn_end)
            {
              TurnEnd *end = g_new0 (TurnEnd, 1);

              end->id = append->id;
              end->error = g_steal_pointer (&append->turn_error);
              g_ptr_array_add (self->batch_turn_ends, end);
            }
        }
    }
  append_free (append);
}

static void
on_batch_done (CasSessionStore *store,
               gpointer         user_data)
{
  CasSession *self = user_data;
  g_autoptr (CasSession) keep = NULL;
  g_autoptr (GPtrArray) turn_ends = NULL;

  if (self->batch_count == 0)
    return;
  keep = g_object_ref (self);
  turn_ends = g_steal_pointer (&self->batch_turn_ends);
  self->batch_turn_ends = g_ptr_array_new_with_free_func (turn_end_free);
  if (!self->closed)
    g_signal_emit (self, signals[SIGNAL_EVENTS], 0, self->batch_first, self->batch_count,
                   self->batch->str, (guint64) self->batch->len);
  self->batch_count = 0;
  g_string_truncate (self->batch, 0);
  for (guint i = 0; i < turn_ends->len && !self->closed; i++)
    {
      TurnEnd *end = g_ptr_array_index (turn_ends, i);
      const char *outcome = end->error == NULL ? "completed"
                            : g_str_equal (end->error, "cancelled") ? "cancelled" : "error";

      g_signal_emit (self, signals[SIGNAL_TURN_ENDED], 0, end->id, outcome, end->error);
    }
  /* A big batch's buffer is not kept for a quiet session. */
  if (self->batch->allocated_len > 256 * 1024)
    {
      g_string_free (self->batch, TRUE);
      self->batch = g_string_new (NULL);
    }
}

/* Queues event @members (taken) for the disk; it is broadcast once
 * written. */
static void
append_event_full (CasSession *self,
                   char       *members,
                   gboolean    turn_end,
                   const char *turn_error)
{
  g_autofree char *owned = members;
  guint64 id = self->offsets->len;
  g_autofree char *line = cas_session_event_line (id, members);
  gsize len = strlen (line);
  Append *append;

  if (self->log_failed || self->log_fd < 0)
    return;
  append = g_new0 (Append, 1);
  append->session = g_object_ref (self);
  append->id = id;
  append->frame = g_string_sized_new (len + 32);
  append->turn_end = turn_end;
  append->turn_error = g_strdup (turn_error);
  cas_session_append_frame (append->frame, id, line, len);
  g_array_append_val (self->offsets, self->log_bytes);
  self->log_bytes += len + 1;
  line[len] = '\n';   /* the NUL's place: the line goes out with its newline */
  cas_session_store_append (self->store, self->log_fd, g_steal_pointer (&line), len + 1,
                            on_appended, append);
}

static void
append_event (CasSession *self,
              char       *members)
{
  append_event_full (self, members, FALSE, NULL);
}

static void
on_meta_written (int           fd,
                 const GError *error,
                 gpointer      user_data)
{
  g_autoptr (CasSession) self = user_data;

  if (error != NULL)
    g_message (_("Cannot save the state of breakglass session %s: %s"), self->id,
               error->message);
}

static void
save_meta (CasSession *self)
{
  g_autofree char *path = g_build_filename (self->dir, "session.json", NULL);

  cas_session_store_replace (self->store, path, format_meta (self), on_meta_written,
                             g_object_ref (self));
}

/* --- turns ----------------------------------------------------------------- */

static void run_attempt (CasSession *self);
static gboolean on_idle_timeout (gpointer user_data);

/* Closes the running turn: its last events, then the process is free. */
static void
end_turn (CasSession *self,
          char       *last_members,
          const char *turn_error)
{
  if (!self->turn_running)
    {
      g_free (last_members);
      return;
    }
  self->turn_running = FALSE;
  g_clear_handle_id (&self->timeout_id, g_source_remove);
  if (last_members != NULL)
    append_event (self, last_members);
  append_event_full (self, cas_session_event_turn_end (), TRUE, turn_error);
  if (self->log_fd >= 0 && !self->log_failed)
    cas_session_store_sync (self->store, self->log_fd);
  g_clear_pointer (&self->turn_prompt, g_free);
  g_clear_pointer (&self->turn_model, g_free);
  if (self->process != NULL)
    {
      /* The interrupt's clock stops; the idle one starts. */
      cas_cli_process_set_timeout (self->process, 0);
      g_clear_handle_id (&self->idle_id, g_source_remove);
      self->idle_id = g_timeout_add_seconds (MAX (self->config->claude_conversation_idle_seconds, 1),
                                             on_idle_timeout, self);
    }
}

static char *
end_reason_members (CasSession *self,
                    const char **turn_error)
{
  switch (self->end_reason)
    {
    case END_CANCELLED:
      *turn_error = "cancelled";
      return cas_session_event_cancelled ();
    case END_TIMED_OUT:
      {
        g_autofree char *message = g_strdup_printf ("turn timed out after %us",
                                                    self->config->breakglass_turn_timeout_seconds);

        *turn_error = "turn timed out";
        return cas_session_event_error (message);
      }
    case END_LOG_FULL:
      *turn_error = "session log is full";
      return cas_session_event_error ("the session log reached max-log-bytes: turn stopped");
    case END_NONE:
    default:
      return NULL;
    }
}

static void
send_interrupt (CasSession *self)
{
  cas_cli_process_interrupt (self->process);
  /* One that does not answer in time is stopped; "finished" ends the turn. */
  cas_cli_process_set_timeout (self->process, INTERRUPT_GRACE_SECONDS);
}

/* Before its first line the CLI may not have taken the turn yet (an
 * interrupt right behind the user line can be lost): it is sent with
 * that line, and a CLI that says nothing is stopped. */
static void
interrupt_when_under_way (CasSession *self)
{
  if (self->process == NULL)
    return;
  if (self->began)
    send_interrupt (self);
  else
    cas_cli_process_set_timeout (self->process, 2 * INTERRUPT_GRACE_SECONDS);
}

static void
interrupt (CasSession *self,
           EndReason   reason)
{
  if (!self->turn_running || self->end_reason != END_NONE)
    return;
  self->end_reason = reason;
  interrupt_when_under_way (self);
}

static void
on_line (CasCliProcess *process,
         const char    *line,
         guint64        length,
         gpointer       user_data)
{
  CasSession *self = user_data;
  g_autoptr (CasStreamEvent) event = NULL;
  g_autoptr (GPtrArray) out = NULL;
  g_autoptr (GError) error = NULL;

  event = cas_stream_event_parse (line, length, &error);
  if (event == NULL)
    {
      g_debug ("session %s: skipped a CLI line: %s", self->id, error->message);
      return;
    }
  /* Between turns the CLI says nothing of interest (a late
   * control_response). */
  if (!self->turn_running)
    return;
  if (!self->began)
    {
      /* An error result first is the CLI refusing its arguments ("No
       * conversation found"): "finished" decides on a retry. */
      if (event->kind == CAS_STREAM_EVENT_RESULT && event->is_error)
        return;
      self->began = TRUE;
      if (self->end_reason != END_NONE)
        send_interrupt (self);
    }

  if (event->kind == CAS_STREAM_EVENT_RESULT)
    {
      const char *turn_error = NULL;
      char *last = end_reason_members (self, &turn_error);

      if (last == NULL)
        {
          g_autoptr (GPtrArray) result = g_ptr_array_new_with_free_func (g_free);

          cas_session_translate (&self->translator, event, result);
          if (result->len > 0)
            last = g_strdup (g_ptr_array_index (result, 0));
          if (event->is_error)
            turn_error = event->text != NULL && *event->text != '\0' ? event->text : "error result";
        }
      end_turn (self, last, turn_error);
      return;
    }

  if (event->kind == CAS_STREAM_EVENT_INIT && !self->cli_started)
    {
      /* A transcript exists from now on: a new process resumes it. */
      self->cli_started = TRUE;
      save_meta (self);
    }
  out = g_ptr_array_new ();
  cas_session_translate (&self->translator, event, out);
  for (guint i = 0; i < out->len; i++)
    append_event (self, g_ptr_array_index (out, i));

  if (self->end_reason == END_NONE &&
      self->log_bytes >= self->config->breakglass_max_log_bytes)
    {
      g_message (_("Breakglass session %s reached its log size limit: stopping the turn"),
                 self->id);
      interrupt (self, END_LOG_FULL);
    }
}

static void
on_process_finished (CasCliProcess *process,
                     gpointer       user_data)
{
  CasSession *self = user_data;
  g_autoptr (CasCliProcess) keep = g_object_ref (process);
  const GError *error = cas_cli_process_get_error (process);
  CasConversationRetry retry;
  const char *turn_error = NULL;
  char *last;

  drop_process (self, FALSE);
  if (!self->turn_running)
    return;

  if (self->end_reason == END_NONE && !self->began && self->on_kept_process)
    {
      /* The kept process was on its way out when the prompt came (it
       * wrote its result, then exited): the turn goes to a new one,
       * which resumes the CLI session. */
      g_debug ("session %s: its claude process ended before taking the turn", self->id);
      run_attempt (self);
      return;
    }
  retry = CAS_CONVERSATION_RETRY_NONE;
  if (self->end_reason == END_NONE)
    retry = cas_conversation_plan_retry (self->used, self->attempt,
                                         cas_cli_process_get_exit_status (process),
                                         self->began, cas_cli_process_get_stderr (process));
  if (retry != CAS_CONVERSATION_RETRY_NONE)
    {
      /* The guess was wrong (a transcript removed, or one we never heard
       * of): the CLI said which way. */
      g_debug ("session %s: the CLI refused its start; retrying", self->id);
      self->attempt++;
      self->cli_started = retry == CAS_CONVERSATION_RETRY_RESUME;
      save_meta (self);
      run_attempt (self);
      return;
    }

  last = end_reason_members (self, &turn_error);
  if (last == NULL)
    {
      /* "exit N: <stderr>", "timed out ...": the CLI's end in words. */
      turn_error = error != NULL ? error->message : "claude exited without a result";
      last = cas_session_event_error (turn_error);
    }
  end_turn (self, last, turn_error);
}

static gboolean
on_idle_timeout (gpointer user_data)
{
  CasSession *self = user_data;

  self->idle_id = 0;
  if (!self->turn_running)
    {
      g_debug ("session %s: its claude process was idle too long", self->id);
      drop_process (self, FALSE);
    }
  return G_SOURCE_REMOVE;
}

static gboolean
on_turn_timeout (gpointer user_data)
{
  CasSession *self = user_data;

  self->timeout_id = 0;
  g_debug ("session %s: the turn timed out; interrupting it", self->id);
  interrupt (self, END_TIMED_OUT);
  return G_SOURCE_REMOVE;
}

static gboolean
start_process (CasSession *self,
               const char *model,
               GError    **error)
{
  const char *agent = self->config->breakglass_agent;
  CasCliInvocation invocation = {
    .kind = CAS_CLI_KIND_BREAKGLASS,
    .command = self->config->claude_command,
    .agent = agent != NULL && *agent != '\0' ? agent : NULL,
    .agents_json = self->agents_json,
    .model = model,
    .session_id = self->id,
    .resume = self->cli_started,
    .stream_input = TRUE,
    .partial_messages = TRUE,
  };
  g_auto (GStrv) argv = cas_cli_argv_build (&invocation);

  self->used = self->cli_started ? CAS_CONVERSATION_RESUME : CAS_CONVERSATION_OPEN;
  self->process = cas_cli_process_start_long_lived ((const char * const *) argv, self->work_dir,
                                                    self->config->claude_kill_grace_seconds,
                                                    self->config->claude_max_line_bytes, error);
  if (self->process == NULL)
    return FALSE;
  self->process_model = g_strdup (model);
  self->line_id = g_signal_connect (self->process, "line", G_CALLBACK (on_line), self);
  self->finished_id = g_signal_connect (self->process, "finished",
                                        G_CALLBACK (on_process_finished), self);
  return TRUE;
}

static void
run_attempt (CasSession *self)
{
  g_autoptr (GError) error = NULL;

  g_clear_handle_id (&self->idle_id, g_source_remove);
  self->began = FALSE;
  cas_session_translator_reset (&self->translator);
  /* Another model needs another process (the CLI resumes the session). */
  if (self->process != NULL &&
      (cas_cli_process_is_finished (self->process) ||
       g_strcmp0 (self->process_model, self->turn_model) != 0))
    drop_process (self, FALSE);
  self->on_kept_process = self->process != NULL;
  if (self->process == NULL && !start_process (self, self->turn_model, &error))
    {
      g_autofree char *message = g_strdup_printf ("could not start agent: %s", error->message);

      end_turn (self, cas_session_event_error (message), message);
      return;
    }
  cas_cli_process_send_user_message (self->process, self->turn_prompt);
  /* A turn cancelled already (a retry) asks as soon as it can. */
  if (self->end_reason != END_NONE)
    interrupt_when_under_way (self);
}

void
cas_session_prewarm (CasSession *self,
                     const char *model)
{
  g_autoptr (GError) error = NULL;

  g_return_if_fail (CAS_IS_SESSION (self));

  if (self->closed || self->turn_running || self->process != NULL || self->log_failed ||
      self->log_bytes >= self->config->breakglass_max_log_bytes)
    return;
  if (!start_process (self, model, &error))
    {
      /* The first turn tries again, and says why if it fails. */
      g_debug ("session %s: cannot start its claude ahead: %s", self->id, error->message);
      return;
    }
  self->idle_id = g_timeout_add_seconds (MAX (self->config->claude_conversation_idle_seconds, 1),
                                         on_idle_timeout, self);
}

gboolean
cas_session_start_turn (CasSession  *self,
                        const char  *prompt,
                        const char  *model,
                        GError     **error)
{
  g_return_val_if_fail (CAS_IS_SESSION (self), FALSE);

  if (self->closed)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_NOT_FOUND, "session not found");
      return FALSE;
    }
  if (self->turn_running)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_CONFLICT, "a turn is already running");
      return FALSE;
    }
  if (self->log_failed)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_FAILED,
                           "the session log cannot be written: create a new session");
      return FALSE;
    }
  if (self->log_bytes >= self->config->breakglass_max_log_bytes)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFLICT,
                   "the session log is full (%" G_GUINT64_FORMAT " bytes, max-log-bytes %"
                   G_GUINT64_FORMAT "): create a new session",
                   self->log_bytes, self->config->breakglass_max_log_bytes);
      return FALSE;
    }

  self->turn_running = TRUE;
  self->end_reason = END_NONE;
  self->attempt = 0;
  g_free (self->turn_prompt);
  self->turn_prompt = g_strdup (prompt);
  g_free (self->turn_model);
  self->turn_model = g_strdup (model);
  append_event (self, cas_session_event_user (prompt));
  self->timeout_id = g_timeout_add_seconds (self->config->breakglass_turn_timeout_seconds,
                                            on_turn_timeout, self);
  run_attempt (self);
  return TRUE;
}

gboolean
cas_session_cancel (CasSession *self)
{
  g_return_val_if_fail (CAS_IS_SESSION (self), FALSE);

  if (!self->turn_running)
    return FALSE;
  interrupt (self, END_CANCELLED);
  return TRUE;
}

/* The disk failed us: nothing more is broadcast (a client would see what
 * a replay cannot give back), the turn stops, streams end. */
static void
fail_log (CasSession *self,
          const GError *error)
{
  if (self->log_failed)
    return;
  g_message (_("Cannot write the log of breakglass session %s: %s"), self->id, error->message);
  self->log_failed = TRUE;
  if (self->turn_running)
    {
      self->turn_running = FALSE;
      g_clear_handle_id (&self->timeout_id, g_source_remove);
      drop_process (self, TRUE);
      if (!self->closed)
        g_signal_emit (self, signals[SIGNAL_TURN_ENDED], 0, self->durable > 0 ? self->durable - 1 : 0,
                       "error", "the session log cannot be written");
    }
  if (!self->closed)
    {
      self->closed = TRUE;
      g_signal_emit (self, signals[SIGNAL_CLOSED], 0);
      self->closed = FALSE;
    }
}

/* --- reading back ---------------------------------------------------------- */

gboolean
cas_session_read_frames (CasSession  *self,
                         guint64      from,
                         gsize        max_bytes,
                         GString     *out,
                         guint64     *next,
                         GError     **error)
{
  guint64 to = from;
  guint64 start, end;
  g_autofree char *buf = NULL;
  gsize got = 0;
  const char *line;

  *next = from;
  if (from >= self->durable)
    return TRUE;
  start = g_array_index (self->offsets, guint64, from);
  do
    to++;
  while (to < self->durable && g_array_index (self->offsets, guint64, to) - start < max_bytes);
  end = to < self->offsets->len ? g_array_index (self->offsets, guint64, to) : self->log_bytes;

  buf = g_malloc (end - start);
  while (got < end - start)
    {
      ssize_t n = pread (self->read_fd, buf + got, end - start - got, start + got);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved_errno = n < 0 ? errno : EIO;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       "cannot read the log of session %s: %s", self->id,
                       g_strerror (saved_errno));
          return FALSE;
        }
      got += (gsize) n;
    }

  line = buf;
  for (guint64 id = from; id < to; id++)
    {
      const char *eol = memchr (line, '\n', buf + got - line);

      if (eol == NULL)
        {
          g_set_error (error, CAS_ERROR, CAS_ERROR_FAILED,
                       "the log of session %s changed under us", self->id);
          return FALSE;
        }
      cas_session_append_frame (out, id, line, (gsize) (eol - line));
      line = eol + 1;
    }
  *next = to;
  return TRUE;
}

/* --- creating, loading, closing -------------------------------------------- */

static gboolean
open_read_fd (CasSession *self,
              GError    **error)
{
  g_autofree char *path = g_build_filename (self->dir, "events.jsonl", NULL);

  self->read_fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (self->read_fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot open %s: %s"), path, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

static void
on_created (int           fd,
            const GError *error,
            gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  CasSession *self = g_task_get_source_object (task);
  GError *open_error = NULL;

  if (error != NULL)
    {
      g_task_return_error (task, g_error_copy (error));
      return;
    }
  self->log_fd = fd;
  if (!open_read_fd (self, &open_error))
    {
      g_task_return_error (task, open_error);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

void
cas_session_create_async (CasSession          *self,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);
  g_autofree char *meta = format_meta (self);

  g_task_set_source_tag (task, cas_session_create_async);
  cas_session_store_create (self->store, self->dir, meta, on_created, task);
}

gboolean
cas_session_create_finish (CasSession    *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
load_meta (CasSession *self,
           gboolean    has_events)
{
  g_autofree char *path = g_build_filename (self->dir, "session.json", NULL);
  g_autofree char *contents = NULL;
  g_autoptr (JsonObject) meta = NULL;
  gsize len = 0;
  GStatBuf st;

  /* What is missing or wrong falls back: the retry covers a wrong guess. */
  self->cli_started = has_events;
  if (g_file_get_contents (path, &contents, &len, NULL) && len < 4096)
    meta = cas_json_parse_object (contents, len, NULL);
  if (meta != NULL)
    {
      gint64 created = cas_json_get_int (meta, "created", 0);

      if (created > 0)
        self->created = created;
      self->cli_started = cas_json_get_bool (meta, "cli_started", has_events);
    }
  g_free (path);
  path = g_build_filename (self->dir, "events.jsonl", NULL);
  self->last_activity = self->created;
  if (g_stat (path, &st) == 0 && st.st_mtime > self->last_activity)
    self->last_activity = st.st_mtime;
}

CasSession *
cas_session_load (const CasSessionContext *context,
                  const char              *id,
                  const char              *dir,
                  GError                 **error)
{
  g_autoptr (CasSession) self = cas_session_new (context, id, dir);
  g_autofree char *path = g_build_filename (dir, "events.jsonl", NULL);
  g_autoptr (GMappedFile) mapped = NULL;
  g_auto (CasSessionLog) log = { NULL };
  GError *local = NULL;
  const char *data;
  gsize len;
  int fd;

  fd = open (path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot open %s: %s"), path, g_strerror (saved_errno));
      return NULL;
    }
  self->log_fd = fd;
  mapped = g_mapped_file_new_from_fd (fd, FALSE, &local);
  if (mapped == NULL)
    {
      g_propagate_error (error, local);
      return NULL;
    }
  data = g_mapped_file_get_contents (mapped);
  len = g_mapped_file_get_length (mapped);
  /* A turn may run a little past max-log-bytes (it is stopped, not cut);
   * far more is not a log we wrote. */
  if (len > 2 * self->config->breakglass_max_log_bytes + 16 * 1024 * 1024)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_PAYLOAD_TOO_LARGE,
                   _("%s is larger than any log the service writes"), path);
      return NULL;
    }
  if (!cas_session_log_scan (data != NULL ? data : "", len, &log, &local))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   _("%s is damaged (%s)"), path, local->message);
      g_clear_error (&local);
      return NULL;
    }
  if (log.torn)
    {
      /* The daemon died mid-write: that event never reached anyone. */
      g_message (_("Dropping the unfinished last line of %s"), path);
      if (ftruncate (fd, (off_t) log.valid_bytes) != 0)
        {
          int saved_errno = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       _("Cannot truncate %s: %s"), path, g_strerror (saved_errno));
          return NULL;
        }
    }
  g_array_append_vals (self->offsets, log.offsets->data, log.offsets->len);
  self->log_bytes = log.valid_bytes;
  self->durable = log.offsets->len;
  if (!open_read_fd (self, error))
    return NULL;
  load_meta (self, self->durable > 0);

  if (log.turn_open)
    {
      g_message (_("Breakglass session %s was in a turn when the service stopped: closing it"),
                 id);
      self->turn_running = TRUE;
      end_turn (self, cas_session_event_error ("service restarted during turn"),
                "service restarted during turn");
    }
  return g_steal_pointer (&self);
}

void
cas_session_abort_turn (CasSession *self,
                        const char *reason)
{
  if (self->turn_running)
    end_turn (self, cas_session_event_error (reason), reason);
  drop_process (self, TRUE);
}

void
cas_session_close (CasSession *self,
                   gboolean    remove)
{
  g_autoptr (CasSession) keep = g_object_ref (self);

  if (self->closed)
    return;
  /* A turn still running just stops: nobody is left to hear of it. */
  self->turn_running = FALSE;
  g_clear_handle_id (&self->timeout_id, g_source_remove);
  drop_process (self, TRUE);
  self->closed = TRUE;
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0);
  /* After what is queued for it. */
  if (self->log_fd >= 0)
    {
      cas_session_store_close (self->store, self->log_fd);
      self->log_fd = -1;
    }
  if (remove)
    {
      /* The CLI's transcript of this session goes with it. */
      cas_workspace_remove_cli_folder (self->work_dir);
      cas_session_store_remove_tree (self->store, self->dir, NULL, NULL);
    }
}

/* --- getters --------------------------------------------------------------- */

const char *
cas_session_get_id (CasSession *self)
{
  return self->id;
}

gint64
cas_session_get_created (CasSession *self)
{
  return self->created;
}

gint64
cas_session_get_last_activity (CasSession *self)
{
  return self->last_activity;
}

gboolean
cas_session_is_turn_running (CasSession *self)
{
  return self->turn_running;
}

gboolean
cas_session_is_closed (CasSession *self)
{
  return self->closed;
}

guint64
cas_session_get_event_count (CasSession *self)
{
  return self->durable;
}

guint64
cas_session_get_log_bytes (CasSession *self)
{
  return self->log_bytes;
}

int
cas_session_get_process_pid (CasSession *self)
{
  return self->process != NULL ? cas_cli_process_get_pid (self->process) : 0;
}
