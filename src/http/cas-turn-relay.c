/* cas-turn-relay.c: relay one CLI turn to one HTTP request, as OpenAI
 * chunks over SSE or collected for a JSON reply.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-http"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <string.h>
#include <sys/socket.h>

#include "cas-error.h"
#include "cas-http-server.h"
#include "cas-openai.h"
#include "cas-sse-writer.h"
#include "cas-stream-json.h"
#include "cas-turn-relay.h"

#define DEFAULT_HEARTBEAT_MS 1000

struct _CasTurnRelay
{
  GObject parent_instance;

  /* options */
  CasTurnRelayMode mode;
  char *model;               /* (owned) */
  gint64 created;
  gboolean include_usage;
  gboolean defer_early_failure;
  guint heartbeat_ms;
  CasChunkFormat *format;    /* (owned) */

  SoupServerMessage *msg;    /* (owned) */
  gulong msg_finished_id;
  gulong msg_disconnected_id;
  gboolean msg_finished;     /* its IO is gone: never touch it again */
  GSource *peer_watch;       /* (owned) (nullable) */

  CasSseWriter *writer;      /* (owned) (nullable) once the SSE response started */
  gulong writer_closed_id;
  gboolean responded;        /* a JSON reply was set, or the stream completed */

  CasCliProcess *run;            /* (owned) (nullable) */
  gulong line_id;
  gulong run_finished_id;
  CasAdmissionSlot *slot;    /* (owned) (nullable) */
  gboolean running;          /* between start and done: holds a ref on itself */
  /* A turn on a long-lived (warm) process ends at its result line; until
   * its first line, a fault runs the cold fallback instead, unseen. */
  gboolean warm;
  gboolean keep_process;     /* warm: a gone client interrupts the turn */
  gboolean fell_back;
  CasCliProcess *fallback;   /* (owned) (nullable) not started yet */
  guint warm_deadline_id;

  /* what the turn produced */
  GString *text;             /* (owned) */
  gboolean got_output;
  gboolean got_delta;
  gboolean got_result;
  GError *result_error;      /* (owned) (nullable) an is_error result */
  gint64 input_tokens;
  gint64 output_tokens;
  double total_cost_usd;
  char *session_id;          /* (owned) (nullable) */
  guint skipped_lines;

  gboolean client_gone;
  GError *error;             /* (owned) (nullable) */
};

enum {
  SIGNAL_DONE,
  SIGNAL_CLIENT_GONE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CasTurnRelay, cas_turn_relay, G_TYPE_OBJECT)

static void
remove_peer_watch (CasTurnRelay *self)
{
  if (self->peer_watch != NULL)
    g_source_destroy (self->peer_watch);
  g_clear_pointer (&self->peer_watch, g_source_unref);
}

static void
disconnect_run (CasTurnRelay *self)
{
  if (self->run == NULL)
    return;
  g_clear_signal_handler (&self->line_id, self->run);
  g_clear_signal_handler (&self->run_finished_id, self->run);
}

static void
cas_turn_relay_dispose (GObject *object)
{
  CasTurnRelay *self = CAS_TURN_RELAY (object);

  remove_peer_watch (self);
  disconnect_run (self);
  g_clear_handle_id (&self->warm_deadline_id, g_source_remove);
  g_clear_object (&self->run);
  g_clear_object (&self->fallback);
  g_clear_pointer (&self->slot, cas_admission_slot_release);
  if (self->msg != NULL)
    {
      g_clear_signal_handler (&self->msg_finished_id, self->msg);
      g_clear_signal_handler (&self->msg_disconnected_id, self->msg);
      /* Never leave a paused message without a reply (a stream's end is
       * the writer's). */
      if (!self->msg_finished && !self->responded && self->writer == NULL)
        {
          self->responded = TRUE;
          cas_http_reply_error_status (self->msg, 500, "internal_error",
                                       "the request was dropped");
          soup_server_message_unpause (self->msg);
        }
      g_clear_object (&self->msg);
    }
  if (self->writer != NULL)
    g_clear_signal_handler (&self->writer_closed_id, self->writer);
  g_clear_object (&self->writer);
  G_OBJECT_CLASS (cas_turn_relay_parent_class)->dispose (object);
}

static void
cas_turn_relay_finalize (GObject *object)
{
  CasTurnRelay *self = CAS_TURN_RELAY (object);

  g_free (self->model);
  g_clear_pointer (&self->format, cas_chunk_format_free);
  g_string_free (self->text, TRUE);
  g_clear_error (&self->result_error);
  g_free (self->session_id);
  g_clear_error (&self->error);
  G_OBJECT_CLASS (cas_turn_relay_parent_class)->finalize (object);
}

static void
cas_turn_relay_class_init (CasTurnRelayClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cas_turn_relay_dispose;
  object_class->finalize = cas_turn_relay_finalize;

  signals[SIGNAL_DONE] =
    g_signal_new ("done", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_CLIENT_GONE] =
    g_signal_new ("client-gone", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
cas_turn_relay_init (CasTurnRelay *self)
{
  self->text = g_string_new (NULL);
}

char *
cas_turn_relay_describe_error (const GError *error)
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

void
cas_turn_relay_reply_json (CasTurnRelay *self,
                           guint         status,
                           char         *json)
{
  g_return_if_fail (CAS_IS_TURN_RELAY (self));

  if (self->msg == NULL || self->msg_finished || self->responded || self->writer != NULL)
    {
      g_free (json);
      return;
    }
  self->responded = TRUE;
  cas_http_reply_json (self->msg, status, json);
  soup_server_message_unpause (self->msg);
}

void
cas_turn_relay_reply_error (CasTurnRelay *self,
                            const GError *error)
{
  g_autofree char *message = NULL;
  guint status;
  GUri *uri;

  g_return_if_fail (CAS_IS_TURN_RELAY (self));

  if (self->msg == NULL || self->msg_finished || self->responded || self->writer != NULL)
    return;
  message = cas_turn_relay_describe_error (error);
  status = cas_error_to_http_status (error);
  uri = soup_server_message_get_uri (self->msg);
  cas_turn_relay_reply_json (self, status,
                             cas_http_format_error (g_uri_get_path (uri), status,
                                                    cas_error_to_code_name (error),
                                                    message));
}

/* --- the SSE side ---------------------------------------------------------- */

static void client_went_away (CasTurnRelay *self);

/* The writer's end of the stream: written whole, or the client gone. */
static void
on_writer_closed (CasSseWriter *writer,
                  gboolean      completed,
                  gpointer      user_data)
{
  /* A "client-gone" handler may drop the last reference to us. */
  g_autoptr (CasTurnRelay) self = g_object_ref (user_data);

  self->msg_finished = TRUE;
  if (!completed && !self->responded)
    client_went_away (self);
  remove_peer_watch (self);
}

static void
start_stream (CasTurnRelay *self)
{
  GString *frame = g_string_sized_new (256);

  /* From here on the writer sees the message to its end. */
  g_clear_signal_handler (&self->msg_finished_id, self->msg);
  g_clear_signal_handler (&self->msg_disconnected_id, self->msg);
  self->writer = cas_sse_writer_new (self->msg, self->heartbeat_ms);
  self->writer_closed_id = g_signal_connect (self->writer, "closed",
                                             G_CALLBACK (on_writer_closed), self);
  cas_chunk_format_append_role (self->format, frame);
  cas_sse_writer_send (self->writer, frame);
}

/* Ends the stream: finish (and usage) chunks on success, an error chunk
 * otherwise, then [DONE], in one write. */
static void
end_stream (CasTurnRelay *self,
            const GError *error)
{
  GString *frame;

  if (self->writer == NULL || self->responded)
    return;
  self->responded = TRUE;
  frame = g_string_sized_new (512);
  if (error == NULL)
    {
      cas_chunk_format_append_finish (self->format, frame, "stop");
      if (self->include_usage)
        cas_chunk_format_append_usage (self->format, frame,
                                       self->input_tokens, self->output_tokens);
    }
  else
    {
      g_autofree char *message = cas_turn_relay_describe_error (error);

      cas_openai_append_error_frame (frame, message, "server_error",
                                     cas_error_to_code_name (error));
    }
  cas_openai_append_done_frame (frame);
  cas_sse_writer_send (self->writer, frame);
  cas_sse_writer_complete (self->writer);
  remove_peer_watch (self);
}

/* --- reading the CLI ------------------------------------------------------- */

static void
set_result_error (CasTurnRelay         *self,
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
on_result (CasTurnRelay         *self,
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
      end_stream (self, self->result_error);
      return;
    }

  /* A CLI that wrote no deltas (no partial messages) still gets its
   * words across, in one piece. */
  if (!self->got_delta && event->text != NULL && *event->text != '\0')
    {
      g_string_append (self->text, event->text);
      if (self->writer != NULL && !self->responded)
        {
          GString *frame = g_string_sized_new (256 + strlen (event->text));

          cas_chunk_format_append_content (self->format, frame, event->text, -1);
          cas_sse_writer_send (self->writer, frame);
        }
    }
  /* The result is the turn's last line: finish now rather than at exit. */
  end_stream (self, NULL);
}

static void warm_fault (CasTurnRelay *self,
                        const char   *why);
static void end_warm_turn (CasTurnRelay *self);

static gboolean
is_refusal (const CasStreamEvent *event)
{
  return event != NULL && event->kind == CAS_STREAM_EVENT_RESULT && event->is_error;
}

static void
on_line (CasCliProcess  *run,
         const char *line,
         guint64     length,
         gpointer    user_data)
{
  CasTurnRelay *self = user_data;
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

  /* The response starts with the CLI's first line: before it, a CLI
   * that fails can still be answered with a plain 503. An error result
   * before anything else is the CLI refusing its arguments (2.1.332 says
   * "No conversation found" that way), not the start of a turn. */
  if (!self->got_output && !is_refusal (event))
    {
      self->got_output = TRUE;
      if (self->mode == CAS_TURN_RELAY_STREAM && !self->msg_finished)
        start_stream (self);
    }

  if (event == NULL)
    {
      self->skipped_lines++;
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
      if (self->writer != NULL && !self->responded)
        {
          /* One chunk per delta, written the moment its line is read. */
          GString *frame = g_string_sized_new (192 + strlen (event->text));

          cas_chunk_format_append_content (self->format, frame, event->text, -1);
          cas_sse_writer_send (self->writer, frame);
        }
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
      if (self->warm)
        end_warm_turn (self);
      break;
    case CAS_STREAM_EVENT_ASSISTANT_TEXT:
      /* The same words as the deltas: relaying both would say them twice. */
    default:
      break;
    }
}

static void
finish_turn (CasTurnRelay *self)
{
  g_autoptr (CasTurnRelay) keep = self;   /* the ref taken at start */

  self->running = FALSE;
  g_clear_handle_id (&self->warm_deadline_id, g_source_remove);
  g_clear_object (&self->fallback);
  remove_peer_watch (self);
  g_clear_pointer (&self->slot, cas_admission_slot_release);

  if (self->error != NULL)
    g_debug ("turn failed: %s", self->error->message);

  if (self->mode == CAS_TURN_RELAY_STREAM && !self->msg_finished)
    {
      if (self->writer != NULL)
        end_stream (self, self->error);
      else if (!self->defer_early_failure || self->client_gone)
        {
          GError *error = self->error;
          g_autoptr (GError) fallback = NULL;

          if (error == NULL)
            error = fallback = g_error_new_literal (CAS_ERROR, CAS_ERROR_CLI_FAILED,
                                                     "claude wrote no output");
          cas_turn_relay_reply_error (self, error);
        }
    }
  /* A client already gone still needs its message ended. */
  if (self->client_gone && !self->msg_finished && !self->responded && self->writer == NULL)
    cas_turn_relay_reply_error (self, self->error);

  g_signal_emit (self, signals[SIGNAL_DONE], 0);
}

/* The turn is over, at its result line (warm) or the process's end: the
 * error it ended with, first cause first. */
static void
end_turn (CasTurnRelay *self,
          const GError *run_error)
{
  disconnect_run (self);
  g_clear_error (&self->error);
  if (self->client_gone)
    self->error = g_error_new_literal (CAS_ERROR, CAS_ERROR_CANCELLED, "client went away");
  else if (self->result_error != NULL)
    self->error = g_error_copy (self->result_error);
  else if (run_error != NULL)
    self->error = g_error_copy (run_error);
  else if (!self->got_result)
    self->error = g_error_new_literal (CAS_ERROR, CAS_ERROR_CLI_FAILED,
                                       self->got_output
                                         ? "claude exited without a result"
                                         : "claude exited without output");
  finish_turn (self);
}

static void
on_run_finished (CasCliProcess *run,
                 gpointer       user_data)
{
  CasTurnRelay *self = user_data;
  const GError *run_error = cas_cli_process_get_error (run);

  if (self->warm && !self->got_output &&
      !g_error_matches (run_error, CAS_ERROR, CAS_ERROR_TIMED_OUT))
    warm_fault (self, "it ended");
  else
    end_turn (self, run_error);
}

/* --- the client going away ------------------------------------------------- */

static void
client_went_away (CasTurnRelay *self)
{
  if (self->client_gone)
    return;
  self->client_gone = TRUE;
  remove_peer_watch (self);
  if (self->run != NULL && self->running && self->warm && self->keep_process)
    {
      /* Barge-in: the turn ends with an error result, the process stays.
       * One that does not answer the interrupt in time is stopped. */
      g_debug ("client went away; interrupting the turn");
      cas_cli_process_interrupt (self->run);
      cas_cli_process_set_timeout (self->run, CAS_TURN_RELAY_INTERRUPT_SECONDS);
    }
  else if (self->run != NULL && self->running)
    {
      g_debug ("client went away; stopping the CLI");
      cas_cli_process_stop (self->run);
    }
  /* Last: its handler may drop the last reference to us. */
  g_signal_emit (self, signals[SIGNAL_CLIENT_GONE], 0);
}

/* "finished" is the cleanup point: the message's IO is gone after it,
 * and unpausing it would be a critical. A server dropping its connections
 * (shutdown) emits only "disconnected", which means the same here. */
static void
on_msg_finished (SoupServerMessage *msg,
                 gpointer           user_data)
{
  /* A "client-gone" handler may drop the last reference to us. */
  g_autoptr (CasTurnRelay) self = g_object_ref (user_data);

  self->msg_finished = TRUE;
  g_clear_signal_handler (&self->msg_finished_id, msg);
  g_clear_signal_handler (&self->msg_disconnected_id, msg);
  if (!self->responded)
    client_went_away (self);
  remove_peer_watch (self);
}

/* Until the first byte goes out there is nothing to write, so libsoup
 * would never notice a client that closed; peeking at the socket does,
 * without taking any byte away from libsoup. */
static gboolean
on_peer_event (GSocket      *socket,
               GIOCondition  condition,
               gpointer      user_data)
{
  CasTurnRelay *self = user_data;
  char byte;
  gssize n = recv (g_socket_get_fd (socket), &byte, 1, MSG_PEEK | MSG_DONTWAIT);

  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&self->peer_watch, g_source_unref);
  /* n > 0: a pipelined request, not a hang-up; stop watching. 0 is an
   * orderly hang-up, and an error such as ECONNRESET just as final. */
  if (n <= 0)
    client_went_away (self);
  return G_SOURCE_REMOVE;
}

static void
watch_peer (CasTurnRelay *self)
{
  GSocket *socket = cas_http_server_get_client_socket (self->msg);

  if (socket == NULL || self->peer_watch != NULL)
    return;
  self->peer_watch = g_socket_create_source (socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (self->peer_watch, G_SOURCE_FUNC (on_peer_event), self, NULL);
  g_source_attach (self->peer_watch, NULL);
}

/* --- public ---------------------------------------------------------------- */

CasTurnRelay *
cas_turn_relay_new (SoupServerMessage         *msg,
                    const CasTurnRelayOptions *options)
{
  CasTurnRelay *self = g_object_new (CAS_TYPE_TURN_RELAY, NULL);
  g_autofree char *id = NULL;

  self->mode = options->mode;
  self->model = g_strdup (options->model != NULL ? options->model : "");
  self->created = options->created != 0 ? options->created
                                        : g_get_real_time () / G_USEC_PER_SEC;
  self->include_usage = options->include_usage;
  self->defer_early_failure = options->defer_early_failure;
  self->heartbeat_ms = options->heartbeat_ms != 0 ? options->heartbeat_ms : DEFAULT_HEARTBEAT_MS;
  id = options->id != NULL ? g_strdup (options->id) : cas_openai_new_completion_id ();
  self->format = cas_chunk_format_new (id, self->model, self->created);

  self->msg = g_object_ref (msg);
  /* The reply comes later, from the CLI's output. */
  soup_server_message_pause (msg);
  self->msg_finished_id = g_signal_connect (msg, "finished", G_CALLBACK (on_msg_finished), self);
  self->msg_disconnected_id = g_signal_connect (msg, "disconnected", G_CALLBACK (on_msg_finished), self);
  watch_peer (self);
  return self;
}

/* Resets what an attempt produced and takes @run and @slot for it. */
static void
begin_attempt (CasTurnRelay     *self,
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
connect_run (CasTurnRelay *self)
{
  self->line_id = g_signal_connect (self->run, "line", G_CALLBACK (on_line), self);
  self->run_finished_id = g_signal_connect (self->run, "finished",
                                            G_CALLBACK (on_run_finished), self);
}

static void
start_cold (CasTurnRelay *self)
{
  g_autoptr (GError) error = NULL;

  connect_run (self);
  if (!cas_cli_process_start (self->run, &error))
    {
      disconnect_run (self);
      self->error = g_steal_pointer (&error);
      finish_turn (self);
    }
}

/* Takes the running reference; FALSE (and the turn finished) when the
 * client is already gone. */
static gboolean
enter_running (CasTurnRelay *self)
{
  self->running = TRUE;
  g_object_ref (self);
  if (self->client_gone || self->msg_finished)
    {
      self->error = g_error_new_literal (CAS_ERROR, CAS_ERROR_CANCELLED, "client went away");
      finish_turn (self);
      return FALSE;
    }
  /* Watching stopped with the previous attempt, if any. */
  watch_peer (self);
  return TRUE;
}

void
cas_turn_relay_start (CasTurnRelay     *self,
                      CasCliProcess    *run,
                      CasAdmissionSlot *slot)
{
  g_return_if_fail (CAS_IS_TURN_RELAY (self));
  g_return_if_fail (!self->running);
  /* A second run is for retrying a turn nobody has seen yet. */
  g_return_if_fail (self->writer == NULL && !self->responded);

  begin_attempt (self, run, slot);
  self->warm = FALSE;
  if (enter_running (self))
    start_cold (self);
}

/* The warm process failed before its first line: run the cold one, which
 * nobody can tell apart, or fail the turn when there is none. */
static void
warm_fault (CasTurnRelay *self,
            const char   *why)
{
  g_autoptr (CasCliProcess) cold = g_steal_pointer (&self->fallback);

  g_message (_("A warm claude process failed before its first line (%s); running the request cold"),
             why);
  g_clear_handle_id (&self->warm_deadline_id, g_source_remove);
  disconnect_run (self);
  /* Its owner retires it; whatever it does now is not this turn's. */
  cas_cli_process_stop (self->run);
  self->warm = FALSE;
  if (cold == NULL || self->client_gone)
    {
      self->error = g_error_new (CAS_ERROR, CAS_ERROR_CLI_FAILED,
                                 "the claude process failed: %s", why);
      finish_turn (self);
      return;
    }
  self->fell_back = TRUE;
  begin_attempt (self, cold, self->slot);
  start_cold (self);
}

static gboolean
on_warm_deadline (gpointer user_data)
{
  CasTurnRelay *self = user_data;

  self->warm_deadline_id = 0;
  warm_fault (self, "no answer in time");
  return G_SOURCE_REMOVE;
}

static void
end_warm_turn (CasTurnRelay *self)
{
  /* The turn's clock (or the interrupt's) stops with the turn. */
  if (self->keep_process)
    cas_cli_process_set_timeout (self->run, 0);
  end_turn (self, NULL);
}

void
cas_turn_relay_set_keep_process (CasTurnRelay *self,
                                 gboolean      keep)
{
  self->keep_process = keep;
}

void
cas_turn_relay_start_warm (CasTurnRelay     *self,
                           CasCliProcess    *warm,
                           const char       *message,
                           CasCliProcess    *cold,
                           CasAdmissionSlot *slot)
{
  g_return_if_fail (CAS_IS_TURN_RELAY (self));
  g_return_if_fail (!self->running);
  g_return_if_fail (self->writer == NULL && !self->responded);

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
  cas_cli_process_send_user_message (warm, message);
  self->warm_deadline_id = g_timeout_add_seconds (CAS_TURN_RELAY_WARM_DEADLINE_SECONDS,
                                                  on_warm_deadline, self);
}

gboolean
cas_turn_relay_fell_back (CasTurnRelay *self)
{
  return self->fell_back;
}

const GError *
cas_turn_relay_get_error (CasTurnRelay *self)
{
  return self->error;
}

gboolean
cas_turn_relay_got_output (CasTurnRelay *self)
{
  return self->got_output;
}

gboolean
cas_turn_relay_client_gone (CasTurnRelay *self)
{
  return self->client_gone;
}

const char *
cas_turn_relay_get_text (CasTurnRelay *self)
{
  return self->text->str;
}

gint64
cas_turn_relay_get_input_tokens (CasTurnRelay *self)
{
  return self->input_tokens;
}

gint64
cas_turn_relay_get_output_tokens (CasTurnRelay *self)
{
  return self->output_tokens;
}

double
cas_turn_relay_get_total_cost_usd (CasTurnRelay *self)
{
  return self->total_cost_usd;
}

const char *
cas_turn_relay_get_session_id (CasTurnRelay *self)
{
  return self->session_id;
}

CasCliProcess *
cas_turn_relay_get_run (CasTurnRelay *self)
{
  return self->run;
}

const char *
cas_turn_relay_get_completion_id (CasTurnRelay *self)
{
  return cas_chunk_format_get_id (self->format);
}

gint64
cas_turn_relay_get_created (CasTurnRelay *self)
{
  return self->created;
}
