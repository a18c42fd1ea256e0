/* cas-turn.c: one CLI turn: a process's stdout lines to reply text and
 * an end, cold or on a warm process.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-chat"

#include "config.h"

#include <glib/gi18n.h>

#include "cas-error.h"
#include "cas-stream-json.h"
#include "cas-turn.h"

struct _CasTurn
{
  GObject parent_instance;

  CasCliProcess *run;        /* (owned) (nullable) */
  gulong line_id;
  gulong run_finished_id;
  CasAdmissionSlot *slot;    /* (owned) (nullable) */
  gboolean running;          /* between start and done: holds a ref on itself */
  gboolean warm;             /* ends at its result line */
  gboolean keep_process;     /* warm: cancelling interrupts the turn */
  gboolean fell_back;
  CasCliProcess *fallback;   /* (owned) (nullable) not started yet */
  guint warm_deadline_id;
  guint timeout_seconds;     /* warm, keep_process: the turn's own clock */
  guint timeout_id;
  gboolean timed_out;
  gboolean cancelled;

  /* what the attempt produced */
  GString *text;             /* (owned) */
  gboolean began;            /* "began" was emitted (once per turn) */
  gboolean got_output;       /* this attempt got under way */
  gboolean got_delta;
  gboolean got_result;
  GError *result_error;      /* (owned) (nullable) an is_error result */
  gint64 input_tokens;
  gint64 output_tokens;
  double total_cost_usd;
  char *session_id;          /* (owned) (nullable) */
  GError *error;             /* (owned) (nullable) */
};

enum {
  SIGNAL_BEGAN,
  SIGNAL_TEXT,
  SIGNAL_REPLY_ENDED,
  SIGNAL_DONE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CasTurn, cas_turn, G_TYPE_OBJECT)

static void
disconnect_run (CasTurn *self)
{
  if (self->run == NULL)
    return;
  g_clear_signal_handler (&self->line_id, self->run);
  g_clear_signal_handler (&self->run_finished_id, self->run);
}

static void
cas_turn_dispose (GObject *object)
{
  CasTurn *self = CAS_TURN (object);

  disconnect_run (self);
  g_clear_handle_id (&self->warm_deadline_id, g_source_remove);
  g_clear_handle_id (&self->timeout_id, g_source_remove);
  g_clear_object (&self->run);
  g_clear_object (&self->fallback);
  g_clear_pointer (&self->slot, cas_admission_slot_release);
  G_OBJECT_CLASS (cas_turn_parent_class)->dispose (object);
}

static void
cas_turn_finalize (GObject *object)
{
  CasTurn *self = CAS_TURN (object);

  g_string_free (self->text, TRUE);
  g_clear_error (&self->result_error);
  g_free (self->session_id);
  g_clear_error (&self->error);
  G_OBJECT_CLASS (cas_turn_parent_class)->finalize (object);
}

static void
cas_turn_class_init (CasTurnClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cas_turn_dispose;
  object_class->finalize = cas_turn_finalize;

  signals[SIGNAL_BEGAN] =
    g_signal_new ("began", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_TEXT] =
    g_signal_new ("text", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_REPLY_ENDED] =
    g_signal_new ("reply-ended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_DONE] =
    g_signal_new ("done", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
cas_turn_init (CasTurn *self)
{
  self->text = g_string_new (NULL);
}

CasTurn *
cas_turn_new (void)
{
  return g_object_new (CAS_TYPE_TURN, NULL);
}

char *
cas_turn_describe_error (const GError *error)
{
  if (error == NULL)
    return g_strdup ("execution failed");
  if (g_error_matches (error, CAS_ERROR, CAS_ERROR_QUEUE_FULL))
    return g_strdup ("queue full");
  if (error->domain == CAS_ERROR &&
      (error->code == CAS_ERROR_CLI_NOT_FOUND || error->code == CAS_ERROR_CLI_FAILED ||
       error->code == CAS_ERROR_NOT_LOGGED_IN || error->code == CAS_ERROR_TIMED_OUT ||
       error->code == CAS_ERROR_CANCELLED))
    return g_strdup_printf ("execution failed: %s", error->message);
  return g_strdup (error->message);
}

/* --- reading the CLI ------------------------------------------------------- */

static void
set_result_error (CasTurn              *self,
                  const CasStreamEvent *event)
{
  g_clear_error (&self->result_error);
  if (cas_stream_event_is_not_logged_in (event))
    g_set_error_literal (&self->result_error, CAS_ERROR, CAS_ERROR_NOT_LOGGED_IN,
                         event->text != NULL && *event->text != '\0'
                           ? event->text : "Not logged in");
  else
    g_set_error_literal (&self->result_error, CAS_ERROR, CAS_ERROR_CLI_FAILED,
                         event->text != NULL && *event->text != '\0'
                           ? event->text
                           : (event->subtype != NULL ? event->subtype : "error result"));
}

static void
on_result (CasTurn              *self,
           const CasStreamEvent *event)
{
  self->got_result = TRUE;
  self->input_tokens = event->input_tokens + event->cache_read_input_tokens +
                       event->cache_creation_input_tokens;
  self->output_tokens = event->output_tokens;
  self->total_cost_usd = event->total_cost_usd;
  if (event->is_error)
    {
      set_result_error (self, event);
      if (self->got_output)
        g_signal_emit (self, signals[SIGNAL_REPLY_ENDED], 0, self->result_error);
      return;
    }

  /* A CLI that wrote no deltas (no partial messages) still gets its
   * words across, in one piece. */
  if (!self->got_delta && event->text != NULL && *event->text != '\0')
    {
      g_string_append (self->text, event->text);
      g_signal_emit (self, signals[SIGNAL_TEXT], 0, event->text);
    }
  /* The result is the turn's last line: the reply ends now, not at exit. */
  g_signal_emit (self, signals[SIGNAL_REPLY_ENDED], 0, NULL);
}

static void warm_fault (CasTurn    *self,
                        const char *why);
static void end_warm_turn (CasTurn *self);

static gboolean
is_refusal (const CasStreamEvent *event)
{
  return event != NULL && event->kind == CAS_STREAM_EVENT_RESULT && event->is_error;
}

static void
on_line (CasCliProcess *run,
         const char    *line,
         guint64        length,
         gpointer       user_data)
{
  /* A handler may drop the last outside reference. */
  g_autoptr (CasTurn) self = g_object_ref (user_data);
  g_autoptr (CasStreamEvent) event = NULL;
  g_autoptr (GError) error = NULL;

  event = cas_stream_event_parse (line, length, &error);

  if (self->warm && !self->got_output)
    {
      if (event == NULL)
        {
          warm_fault (self, "it wrote garbage");
          return;
        }
      g_clear_handle_id (&self->warm_deadline_id, g_source_remove);
    }

  /* An error result before anything else is the CLI refusing its
   * arguments (2.1.332 says "No conversation found" that way), not the
   * start of a turn. */
  if (!self->got_output && !is_refusal (event))
    {
      self->got_output = TRUE;
      if (!self->began)
        {
          self->began = TRUE;
          g_signal_emit (self, signals[SIGNAL_BEGAN], 0);
        }
    }

  if (event == NULL)
    {
      g_debug ("skipped a CLI line: %s", error->message);
      return;
    }

  switch (event->kind)
    {
    case CAS_STREAM_EVENT_TEXT_DELTA:
      /* Deltas from inside a subagent are not the reply. */
      if (event->parent_tool_use_id != NULL)
        break;
      self->got_delta = TRUE;
      g_string_append (self->text, event->text);
      g_signal_emit (self, signals[SIGNAL_TEXT], 0, event->text);
      break;
    case CAS_STREAM_EVENT_INIT:
      if (event->session_id != NULL && self->session_id == NULL)
        self->session_id = g_strdup (event->session_id);
      break;
    case CAS_STREAM_EVENT_RESULT:
      if (event->session_id != NULL)
        {
          g_free (self->session_id);
          self->session_id = g_strdup (event->session_id);
        }
      on_result (self, event);
      /* A long-lived process stays; its turn ends here. */
      if (self->warm && self->running)
        end_warm_turn (self);
      break;
    case CAS_STREAM_EVENT_ASSISTANT_TEXT:
      /* The same words as the deltas: relaying both would say them twice. */
    default:
      break;
    }
}

static void
finish_attempt (CasTurn *self)
{
  g_autoptr (CasTurn) keep = self;   /* the ref taken at start */
  /* Held through "done", where a process that served its one caller is
   * retired: the next request in must not find it still counted. */
  CasAdmissionSlot *slot = g_steal_pointer (&self->slot);

  self->running = FALSE;
  g_clear_handle_id (&self->warm_deadline_id, g_source_remove);
  g_clear_handle_id (&self->timeout_id, g_source_remove);
  g_clear_object (&self->fallback);
  if (self->error != NULL)
    g_debug ("turn failed: %s", self->error->message);
  g_signal_emit (self, signals[SIGNAL_DONE], 0);
  g_clear_pointer (&slot, cas_admission_slot_release);
}

/* The attempt is over, at its result line (warm) or the process's end:
 * the error it ended with, first cause first. */
static void
end_attempt (CasTurn      *self,
             const GError *run_error)
{
  disconnect_run (self);
  g_clear_error (&self->error);
  if (self->cancelled)
    self->error = g_error_new_literal (CAS_ERROR, CAS_ERROR_CANCELLED, "client went away");
  else if (self->timed_out)
    self->error = g_error_new (CAS_ERROR, CAS_ERROR_TIMED_OUT,
                               "timed out after %u s", self->timeout_seconds);
  else if (self->result_error != NULL)
    self->error = g_error_copy (self->result_error);
  else if (run_error != NULL)
    self->error = g_error_copy (run_error);
  else if (!self->got_result)
    self->error = g_error_new_literal (CAS_ERROR, CAS_ERROR_CLI_FAILED,
                                       self->got_output
                                         ? "claude exited without a result"
                                         : "claude exited without output");
  finish_attempt (self);
}

static void
on_run_finished (CasCliProcess *run,
                 gpointer       user_data)
{
  CasTurn *self = user_data;
  const GError *run_error = cas_cli_process_get_error (run);

  if (self->warm && !self->got_output &&
      !g_error_matches (run_error, CAS_ERROR, CAS_ERROR_TIMED_OUT))
    warm_fault (self, "it ended");
  else
    end_attempt (self, run_error);
}

/* --- starting -------------------------------------------------------------- */

/* Resets what an attempt produced and takes @run and @slot for it. */
static void
begin_attempt (CasTurn          *self,
               CasCliProcess    *run,
               CasAdmissionSlot *slot)
{
  g_string_truncate (self->text, 0);
  self->got_output = FALSE;
  self->got_delta = FALSE;
  self->got_result = FALSE;
  self->input_tokens = 0;
  self->output_tokens = 0;
  self->total_cost_usd = 0;
  g_clear_pointer (&self->session_id, g_free);
  disconnect_run (self);
  g_set_object (&self->run, run);
  if (slot != self->slot)
    {
      g_clear_pointer (&self->slot, cas_admission_slot_release);
      self->slot = slot;
    }
  g_clear_error (&self->error);
  g_clear_error (&self->result_error);
}

static void
connect_run (CasTurn *self)
{
  self->line_id = g_signal_connect (self->run, "line", G_CALLBACK (on_line), self);
  self->run_finished_id = g_signal_connect (self->run, "finished",
                                            G_CALLBACK (on_run_finished), self);
}

static void
start_cold (CasTurn *self)
{
  g_autoptr (GError) error = NULL;

  connect_run (self);
  if (!cas_cli_process_start (self->run, &error))
    {
      disconnect_run (self);
      self->error = g_steal_pointer (&error);
      finish_attempt (self);
    }
}

/* Takes the running reference; FALSE (and the attempt finished) when the
 * turn was cancelled already. */
static gboolean
enter_running (CasTurn *self)
{
  self->running = TRUE;
  g_object_ref (self);
  if (self->cancelled)
    {
      self->error = g_error_new_literal (CAS_ERROR, CAS_ERROR_CANCELLED, "client went away");
      finish_attempt (self);
      return FALSE;
    }
  return TRUE;
}

void
cas_turn_start (CasTurn          *self,
                CasCliProcess    *run,
                CasAdmissionSlot *slot)
{
  g_return_if_fail (CAS_IS_TURN (self));
  g_return_if_fail (!self->running);
  /* A second attempt is for retrying a turn nobody has seen yet. */
  g_return_if_fail (!self->began);

  begin_attempt (self, run, slot);
  self->warm = FALSE;
  if (enter_running (self))
    start_cold (self);
}

/* The warm process failed before its first line: run the cold one, which
 * nobody can tell apart, or fail the attempt when there is none. */
static void
warm_fault (CasTurn    *self,
            const char *why)
{
  g_autoptr (CasCliProcess) cold = g_steal_pointer (&self->fallback);

  g_message (_("A warm claude process failed before its first line (%s); running the request cold"),
             why);
  g_clear_handle_id (&self->warm_deadline_id, g_source_remove);
  disconnect_run (self);
  /* Its owner retires it; whatever it does now is not this turn's. */
  cas_cli_process_stop (self->run);
  self->warm = FALSE;
  if (cold == NULL || self->cancelled)
    {
      self->error = g_error_new (CAS_ERROR, CAS_ERROR_CLI_FAILED,
                                 "the claude process failed: %s", why);
      finish_attempt (self);
      return;
    }
  self->fell_back = TRUE;
  begin_attempt (self, cold, self->slot);
  start_cold (self);
}

static gboolean
on_warm_deadline (gpointer user_data)
{
  CasTurn *self = user_data;

  self->warm_deadline_id = 0;
  warm_fault (self, "no answer in time");
  return G_SOURCE_REMOVE;
}

static void
end_warm_turn (CasTurn *self)
{
  /* The turn's clock (or the interrupt's) stops with the turn. */
  if (self->keep_process)
    cas_cli_process_set_timeout (self->run, 0);
  end_attempt (self, NULL);
}

void
cas_turn_set_keep_process (CasTurn  *self,
                           gboolean  keep)
{
  self->keep_process = keep;
}

/* Interrupts the turn and keeps the process, like a cancel. */
static void
interrupt_turn (CasTurn *self)
{
  cas_cli_process_interrupt (self->run);
  /* One that does not answer the interrupt in time is stopped. */
  cas_cli_process_set_timeout (self->run, CAS_TURN_INTERRUPT_SECONDS);
}

static gboolean
on_turn_timeout (gpointer user_data)
{
  CasTurn *self = user_data;

  self->timeout_id = 0;
  if (self->running && self->warm)
    {
      g_debug ("the turn timed out; interrupting it");
      self->timed_out = TRUE;
      interrupt_turn (self);
    }
  return G_SOURCE_REMOVE;
}

void
cas_turn_set_timeout (CasTurn *self,
                      guint    seconds)
{
  self->timeout_seconds = seconds;
}

void
cas_turn_start_warm (CasTurn          *self,
                     CasCliProcess    *warm,
                     const char       *message,
                     CasCliProcess    *cold,
                     CasAdmissionSlot *slot)
{
  g_return_if_fail (CAS_IS_TURN (self));
  g_return_if_fail (!self->running);
  g_return_if_fail (!self->began);

  begin_attempt (self, warm, slot);
  self->warm = TRUE;
  g_set_object (&self->fallback, cold);
  if (!enter_running (self))
    return;
  if (cas_cli_process_is_finished (warm))
    {
      warm_fault (self, "it had ended");
      return;
    }
  connect_run (self);
  if (self->keep_process && self->timeout_seconds > 0)
    self->timeout_id = g_timeout_add_seconds (self->timeout_seconds, on_turn_timeout, self);
  cas_cli_process_send_user_message (warm, message);
  self->warm_deadline_id = g_timeout_add_seconds (CAS_TURN_WARM_DEADLINE_SECONDS,
                                                  on_warm_deadline, self);
}

void
cas_turn_cancel (CasTurn *self)
{
  g_return_if_fail (CAS_IS_TURN (self));

  if (self->cancelled)
    return;
  self->cancelled = TRUE;
  if (!self->running || self->run == NULL)
    return;
  if (self->warm && self->keep_process)
    {
      /* Barge-in: the turn ends with an error result, the process stays. */
      g_debug ("interrupting the turn");
      interrupt_turn (self);
    }
  else
    {
      g_debug ("stopping the CLI");
      cas_cli_process_stop (self->run);
    }
}

gboolean
cas_turn_is_cancelled (CasTurn *self)
{
  return self->cancelled;
}

gboolean
cas_turn_is_running (CasTurn *self)
{
  return self->running;
}

gboolean
cas_turn_fell_back (CasTurn *self)
{
  return self->fell_back;
}

gboolean
cas_turn_began (CasTurn *self)
{
  return self->began;
}

const GError *
cas_turn_get_error (CasTurn *self)
{
  return self->error;
}

const char *
cas_turn_get_text (CasTurn *self)
{
  return self->text->str;
}

gint64
cas_turn_get_input_tokens (CasTurn *self)
{
  return self->input_tokens;
}

gint64
cas_turn_get_output_tokens (CasTurn *self)
{
  return self->output_tokens;
}

double
cas_turn_get_total_cost_usd (CasTurn *self)
{
  return self->total_cost_usd;
}

const char *
cas_turn_get_session_id (CasTurn *self)
{
  return self->session_id;
}

CasCliProcess *
cas_turn_get_run (CasTurn *self)
{
  return self->run;
}
