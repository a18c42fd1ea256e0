/* cas-cli-process.c: spawn claude, feed stdin, read stdout lines, drain
 * stderr, enforce the timeout, stop the whole process group, reap.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-cli"

#include "config.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <glib-unix.h>

#include "cas-cli-process.h"
#include "cas-conversation-plan.h"
#include "cas-error.h"
#include "cas-line-splitter.h"
#include "cas-stream-json.h"

#define READ_CHUNK 65536
#define MAX_STDERR_BYTES 65536
#define DEFAULT_MAX_LINE_BYTES (8 * 1024 * 1024)

/* The read end of the child's stdout or stderr. */
typedef struct
{
  const char *name;
  GInputStream *stream; /* (owned) (nullable) GSubprocess's pipe, until read to the end */
  int fd;          /* the stream's; -1 once read to the end, or before the start */
  GSource *watch;  /* (owned) (nullable) */
  guint8 *buffer;  /* (owned) READ_CHUNK bytes */
  gboolean done;
} OutputPipe;

struct _CasCliProcess
{
  GObject parent_instance;

  GStrv argv;              /* (owned) */
  char *cwd;               /* (owned) (nullable) */
  GBytes *stdin_bytes;     /* (owned) (nullable) */
  GStrv extra_env;         /* (owned) (nullable) NAME=VALUE set on top of ours */
  guint timeout_seconds;   /* 0: none */
  guint kill_grace_seconds;
  gsize max_line_bytes;

  GSubprocess *subprocess;    /* (owned) (nullable) */
  GOutputStream *stdin_pipe;  /* (owned) (nullable) */
  GQueue stdin_queue;         /* GBytes (owned) waiting for stdin, in order */
  gboolean stdin_writing;     /* the head of the queue is being written */
  gboolean stdin_close_asked; /* close once the queue is written */
  gboolean stdin_closed;
  gboolean stream_input;      /* stdin stays open for stream-json lines */
  guint next_request_id;
  OutputPipe out;
  OutputPipe err;
  CasLineSplitter *stdout_lines; /* (owned) (nullable) */
  GString *stderr_text;    /* (owned) bounded by MAX_STDERR_BYTES */
  char *stderr_first_line; /* (owned) (nullable) */
  pid_t pid;               /* also the process group id */

  guint timeout_id;
  guint kill_id;
  guint drain_id;

  gboolean started;
  gboolean stopping;
  gboolean timed_out;
  gboolean exited;
  gboolean finished;
  int exit_status;
  GError *error;           /* (owned) (nullable) */
};

enum {
  SIGNAL_LINE,
  SIGNAL_FINISHED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* Runs not yet finished, so a stopping daemon can end them all. Touched
 * from the main thread only. */
static GList *live_runs;

G_DEFINE_FINAL_TYPE (CasCliProcess, cas_cli_process, G_TYPE_OBJECT)

static const char *const scrubbed_env_names[] = {
  "CLAUDECODE",
  "CLAUDE_CODE_ENTRYPOINT",
  "CLAUDE_CODE_SSE_PORT",
  "CLAUDE_CODE_SESSION_ID",
  "CLAUDE_AGENT_SDK_VERSION",
  "CLAUDE_CODE_EXECPATH",
  NULL
};

/* The daemon's own secrets: the CLI and the tools it runs have no use for
 * them, and a child's environment is readable in /proc by anything running
 * as the user. The CLI's own credentials (ANTHROPIC_API_KEY,
 * CLAUDE_CODE_OAUTH_TOKEN, ...) and whatever else the service is given
 * must still reach it, so names are listed, not guessed from a pattern. */
static const char *const secret_env_names[] = {
  "API_BEARER_TOKEN",
  /* systemd credentials: the api-token file and any other. */
  "CREDENTIALS_DIRECTORY",
  /* Where the workspace's git-crypt key is; the daemon unlocks it. */
  "GIT_CRYPT_KEY",
  NULL
};

const char * const *
cas_cli_scrubbed_env_names (void)
{
  return scrubbed_env_names;
}

static void
output_pipe_init (OutputPipe *output,
                  const char *name)
{
  output->name = name;
  output->fd = -1;
  output->buffer = g_malloc (READ_CHUNK);
}

static void
close_pipe_fd (OutputPipe *output)
{
  /* Closing a pipe never blocks. */
  if (output->stream != NULL)
    g_input_stream_close (output->stream, NULL, NULL);
  g_clear_object (&output->stream);
  output->fd = -1;
}

/* The watch holds a reference on the run: by finalize it is gone, and so
 * is the descriptor, unless the run never started. */
static void
output_pipe_clear (OutputPipe *output)
{
  close_pipe_fd (output);
  g_free (output->buffer);
}

static void
cas_cli_process_finalize (GObject *object)
{
  CasCliProcess *self = CAS_CLI_PROCESS (object);

  g_clear_handle_id (&self->timeout_id, g_source_remove);
  g_clear_handle_id (&self->kill_id, g_source_remove);
  g_clear_handle_id (&self->drain_id, g_source_remove);
  g_strfreev (self->argv);
  g_free (self->cwd);
  g_clear_pointer (&self->stdin_bytes, g_bytes_unref);
  g_strfreev (self->extra_env);
  g_clear_object (&self->stdin_pipe);
  g_queue_clear_full (&self->stdin_queue, (GDestroyNotify) g_bytes_unref);
  g_clear_object (&self->subprocess);
  output_pipe_clear (&self->out);
  output_pipe_clear (&self->err);
  g_clear_pointer (&self->stdout_lines, cas_line_splitter_free);
  g_string_free (self->stderr_text, TRUE);
  g_free (self->stderr_first_line);
  g_clear_error (&self->error);

  G_OBJECT_CLASS (cas_cli_process_parent_class)->finalize (object);
}

static void
cas_cli_process_class_init (CasCliProcessClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_cli_process_finalize;

  signals[SIGNAL_LINE] =
    g_signal_new ("line", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_UINT64);
  signals[SIGNAL_FINISHED] =
    g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  /* Writing a prompt to a child that already exited must give EPIPE,
   * not kill the daemon. */
  signal (SIGPIPE, SIG_IGN);
}

static void
cas_cli_process_init (CasCliProcess *self)
{
  self->kill_grace_seconds = 3;
  self->max_line_bytes = DEFAULT_MAX_LINE_BYTES;
  output_pipe_init (&self->out, "stdout");
  output_pipe_init (&self->err, "stderr");
  self->stderr_text = g_string_new (NULL);
  self->exit_status = -1;
}

CasCliProcess *
cas_cli_process_new (const char * const *argv,
                 const char         *cwd,
                 GBytes             *stdin_bytes)
{
  CasCliProcess *self = g_object_new (CAS_TYPE_CLI_PROCESS, NULL);

  self->argv = g_strdupv ((char **) argv);
  self->cwd = g_strdup (cwd);
  self->stdin_bytes = stdin_bytes != NULL ? g_bytes_ref (stdin_bytes) : NULL;
  return self;
}

static gboolean on_run_timeout (gpointer user_data);

void
cas_cli_process_setenv (CasCliProcess *self,
                        const char    *name,
                        const char    *value)
{
  g_return_if_fail (CAS_IS_CLI_PROCESS (self));
  g_return_if_fail (!self->started);
  g_return_if_fail (name != NULL && *name != '\0' && strchr (name, '=') == NULL);
  g_return_if_fail (value != NULL);

  self->extra_env = g_environ_setenv (self->extra_env, name, value, TRUE);
}

void
cas_cli_process_set_timeout (CasCliProcess *self,
                             guint          seconds)
{
  self->timeout_seconds = seconds;
  /* A long-lived process times each turn: the clock starts again. */
  if (self->started && !self->finished)
    {
      g_clear_handle_id (&self->timeout_id, g_source_remove);
      if (seconds > 0)
        self->timeout_id = g_timeout_add_seconds (seconds, on_run_timeout, self);
    }
}

void
cas_cli_process_set_kill_grace (CasCliProcess *self,
                            guint      seconds)
{
  self->kill_grace_seconds = MAX (seconds, 1);
}

void
cas_cli_process_set_max_line_bytes (CasCliProcess *self,
                                gsize      max_line_bytes)
{
  self->max_line_bytes = max_line_bytes;
}

char *
cas_cli_describe_exit (int         exit_status,
                       const char *stderr_first_line)
{
  if (stderr_first_line != NULL &&
      strstr (stderr_first_line, "cannot be used with root/sudo privileges") != NULL)
    return g_strdup_printf ("exit %d: claude refuses --dangerously-skip-permissions "
                            "when run as root; set IS_SANDBOX=1 in the service's "
                            "environment if this machine is its own sandbox (%s)",
                            exit_status, stderr_first_line);
  if (stderr_first_line != NULL && *stderr_first_line != '\0')
    return g_strdup_printf ("exit %d: %s", exit_status, stderr_first_line);
  return g_strdup_printf ("exit %d", exit_status);
}

static void
signal_group (CasCliProcess *self,
              int        signum)
{
  /* The group outlives its leader while any member lives, so this also
   * reaches grandchildren after the leader is gone. */
  if (self->pid > 0 && kill (-self->pid, signum) != 0 && errno != ESRCH)
    g_debug ("kill (-%d, %d): %s", (int) self->pid, signum, g_strerror (errno));
}

static void
maybe_finish (CasCliProcess *self)
{
  if (self->finished || !self->exited || !self->out.done || !self->err.done)
    return;

  self->finished = TRUE;
  g_clear_handle_id (&self->timeout_id, g_source_remove);
  g_clear_handle_id (&self->kill_id, g_source_remove);
  g_clear_handle_id (&self->drain_id, g_source_remove);
  live_runs = g_list_remove (live_runs, self);

  if (self->stderr_text->len > 0)
    {
      g_auto (GStrv) lines = g_strsplit (self->stderr_text->str, "\n", -1);

      for (guint i = 0; lines[i] != NULL && self->stderr_first_line == NULL; i++)
        if (*g_strstrip (lines[i]) != '\0')
          self->stderr_first_line = g_strdup (lines[i]);
    }

  if (self->timed_out)
    g_set_error (&self->error, CAS_ERROR, CAS_ERROR_TIMED_OUT,
                 "agent timed out after %u s", self->timeout_seconds);
  else if (self->stopping)
    g_set_error (&self->error, CAS_ERROR, CAS_ERROR_CANCELLED, "run cancelled");
  else if (self->exit_status != 0)
    {
      g_autofree char *words = cas_cli_describe_exit (self->exit_status,
                                                       self->stderr_first_line);

      g_set_error_literal (&self->error, CAS_ERROR, CAS_ERROR_CLI_FAILED, words);
    }

  g_debug ("pid %d finished: status %d", (int) self->pid, self->exit_status);
  g_signal_emit (self, signals[SIGNAL_FINISHED], 0);
  /* The reference live_runs held. */
  g_object_unref (self);
}

static void
on_stdout_line (const char *line,
                gsize       length,
                gboolean    oversized,
                gpointer    user_data)
{
  CasCliProcess *self = user_data;

  if (oversized)
    {
      g_info ("pid %d: skipped a stdout line over %" G_GSIZE_FORMAT " bytes",
              (int) self->pid, self->max_line_bytes);
      return;
    }
  g_signal_emit (self, signals[SIGNAL_LINE], 0, line, (guint64) length);
}

/* One read per dispatch: the watch is level-triggered, so what is left
 * comes in the next pass, and a chatty CLI cannot starve the others.
 * Returns FALSE at the end of the pipe or on an error. */
static gboolean
read_pipe (CasCliProcess  *self,
           OutputPipe *output,
           gssize     *n_read)
{
  do
    *n_read = read (output->fd, output->buffer, READ_CHUNK);
  while (*n_read < 0 && errno == EINTR);

  if (*n_read > 0 || (*n_read < 0 && errno == EAGAIN))
    return TRUE;
  if (*n_read < 0)
    g_debug ("pid %d: %s: %s", (int) self->pid, output->name, g_strerror (errno));
  return FALSE;
}

/* A pipe read to its end, or given up on. */
static void
pipe_done (CasCliProcess  *self,
           OutputPipe *output)
{
  if (output->watch != NULL)
    g_source_destroy (output->watch);
  g_clear_pointer (&output->watch, g_source_unref);
  close_pipe_fd (output);
  output->done = TRUE;
  maybe_finish (self);
}

static gboolean
on_stdout_ready (int          fd,
                 GIOCondition condition,
                 gpointer     user_data)
{
  CasCliProcess *self = user_data;
  gssize n;

  if (read_pipe (self, &self->out, &n))
    {
      if (n > 0)
        cas_line_splitter_feed (self->stdout_lines, self->out.buffer, n);
      return G_SOURCE_CONTINUE;
    }
  if (n == 0)
    cas_line_splitter_finish (self->stdout_lines);
  pipe_done (self, &self->out);
  return G_SOURCE_REMOVE;
}

static gboolean
on_stderr_ready (int          fd,
                 GIOCondition condition,
                 gpointer     user_data)
{
  CasCliProcess *self = user_data;
  gssize n;

  if (!read_pipe (self, &self->err, &n))
    {
      pipe_done (self, &self->err);
      return G_SOURCE_REMOVE;
    }
  if (n > 0)
    {
      /* Keep the head: the first line is what people need to see. */
      gsize room = MAX_STDERR_BYTES - self->stderr_text->len;

      if (room > 0)
        {
          g_autofree char *valid = g_utf8_make_valid ((const char *) self->err.buffer,
                                                      MIN ((gsize) n, room));

          g_string_append (self->stderr_text, valid);
        }
    }
  return G_SOURCE_CONTINUE;
}

/* One watch for the pipe's whole life, not a read_async (and a new
 * source) per chunk. It may recurse: it never runs a nested main loop,
 * and GLib 2.74 would otherwise take its descriptor out of the poll set
 * and put it back around each dispatch, waking its own loop twice (an
 * eventfd write each; GLib 2.76 stopped waking its own thread). */
static void
watch_pipe (CasCliProcess        *self,
            OutputPipe       *output,
            GUnixFDSourceFunc on_ready)
{
  output->watch = g_unix_fd_source_new (output->fd, G_IO_IN);
  g_source_set_can_recurse (output->watch, TRUE);
  g_source_set_callback (output->watch, G_SOURCE_FUNC (on_ready), g_object_ref (self),
                         g_object_unref);
  g_source_attach (output->watch, NULL);
}

static void
close_stdin (CasCliProcess *self)
{
  g_autoptr (GError) error = NULL;

  if (self->stdin_closed)
    return;
  self->stdin_closed = TRUE;
  g_queue_clear_full (&self->stdin_queue, (GDestroyNotify) g_bytes_unref);
  /* Closing is what tells the CLI the prompt is complete (an open, empty
   * stdin makes it wait 3 s), or that no turn follows. Closing a pipe
   * never blocks, and the async close would wait for a worker thread: do
   * it here. */
  if (!g_output_stream_close (self->stdin_pipe, NULL, &error))
    g_debug ("pid %d: closing stdin: %s", (int) self->pid, error->message);
}

static void pump_stdin (CasCliProcess *self);

static void
on_stdin_written (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr (CasCliProcess) self = user_data;
  g_autoptr (GError) error = NULL;

  self->stdin_writing = FALSE;
  if (self->stdin_closed)
    return;
  g_bytes_unref (g_queue_pop_head (&self->stdin_queue));
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      /* EPIPE just means the child exited; its exit status tells why. */
      g_debug ("pid %d: writing to stdin: %s", (int) self->pid, error->message);
      close_stdin (self);
      return;
    }
  pump_stdin (self);
}

/* Writes what is queued, one async write at a time, then closes stdin if
 * that was asked for. */
static void
pump_stdin (CasCliProcess *self)
{
  GBytes *head;

  if (self->stdin_writing || self->stdin_closed)
    return;
  head = g_queue_peek_head (&self->stdin_queue);
  if (head == NULL)
    {
      if (self->stdin_close_asked)
        close_stdin (self);
      return;
    }
  self->stdin_writing = TRUE;
  g_output_stream_write_all_async (self->stdin_pipe, g_bytes_get_data (head, NULL),
                                   g_bytes_get_size (head), G_PRIORITY_DEFAULT, NULL,
                                   on_stdin_written, g_object_ref (self));
}

/* Most writes fit in the pipe: they go out at once, so the CLI starts
 * without waiting for a main-loop pass; the rest is queued. */
static void
write_stdin (CasCliProcess *self,
             GBytes        *bytes)
{
  g_autoptr (GError) error = NULL;
  gsize size = 0;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  gssize n = 0;

  if (self->stdin_closed || self->stdin_close_asked || size == 0)
    return;
  if (!self->stdin_writing && g_queue_is_empty (&self->stdin_queue))
    {
      n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (self->stdin_pipe),
                                                      data, size, NULL, &error);
      if (n < 0 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          g_debug ("pid %d: writing to stdin: %s", (int) self->pid, error->message);
          close_stdin (self);
          return;
        }
      n = MAX (n, 0);
    }
  if ((gsize) n < size)
    g_queue_push_tail (&self->stdin_queue, g_bytes_new_from_bytes (bytes, n, size - n));
  pump_stdin (self);
}

static void
feed_stdin (CasCliProcess *self)
{
  if (self->stdin_bytes != NULL)
    write_stdin (self, self->stdin_bytes);
  if (!self->stream_input)
    cas_cli_process_close_stdin (self);
}

void
cas_cli_process_close_stdin (CasCliProcess *self)
{
  g_return_if_fail (CAS_IS_CLI_PROCESS (self));

  if (!self->started)
    return;
  self->stdin_close_asked = TRUE;
  pump_stdin (self);
}

CasCliProcess *
cas_cli_process_start_long_lived (const char * const *argv,
                                  const char         *cwd,
                                  guint               kill_grace_seconds,
                                  gsize               max_line_bytes,
                                  GError            **error)
{
  g_autoptr (CasCliProcess) self = cas_cli_process_new (argv, cwd, NULL);

  self->stream_input = TRUE;
  cas_cli_process_set_kill_grace (self, kill_grace_seconds);
  cas_cli_process_set_max_line_bytes (self, max_line_bytes);
  if (!cas_cli_process_start (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

void
cas_cli_process_retire (CasCliProcess *self)
{
  g_return_if_fail (CAS_IS_CLI_PROCESS (self));

  cas_cli_process_close_stdin (self);
  cas_cli_process_set_timeout (self, self->kill_grace_seconds);
}

void
cas_cli_process_send_user_message (CasCliProcess *self,
                                   const char    *text)
{
  g_autofree char *line = NULL;
  g_autoptr (GBytes) bytes = NULL;

  g_return_if_fail (CAS_IS_CLI_PROCESS (self));
  g_return_if_fail (self->stream_input);

  line = cas_stream_json_format_user_message (text);
  bytes = g_bytes_new_take (line, strlen (line));
  line = NULL;
  write_stdin (self, bytes);
}

void
cas_cli_process_interrupt (CasCliProcess *self)
{
  g_autofree char *id = NULL;
  g_autofree char *line = NULL;
  g_autoptr (GBytes) bytes = NULL;

  g_return_if_fail (CAS_IS_CLI_PROCESS (self));
  g_return_if_fail (self->stream_input);

  id = g_strdup_printf ("cas-interrupt-%u", ++self->next_request_id);
  line = cas_stream_json_format_interrupt (id);
  bytes = g_bytes_new_take (line, strlen (line));
  line = NULL;
  write_stdin (self, bytes);
}

static gboolean
on_drain_timeout (gpointer user_data)
{
  CasCliProcess *self = user_data;
  /* Each pipe_done () may finish the run, which drops the reference this
   * callback borrows. */
  g_autoptr (CasCliProcess) keep = g_object_ref (self);

  /* Something outside the group still holds our pipes: stop waiting. */
  self->drain_id = 0;
  g_debug ("pid %d: pipes still open after exit; closing them", (int) self->pid);
  if (!self->out.done)
    pipe_done (self, &self->out);
  if (!self->err.done)
    pipe_done (self, &self->err);
  return G_SOURCE_REMOVE;
}

static void
on_exited (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr (CasCliProcess) self = user_data;
  GSubprocess *subprocess = G_SUBPROCESS (source);

  /* Never cancelled: the wait ends when the child does. */
  g_subprocess_wait_finish (subprocess, result, NULL);
  if (g_subprocess_get_if_exited (subprocess))
    self->exit_status = g_subprocess_get_exit_status (subprocess);
  else if (g_subprocess_get_if_signaled (subprocess))
    self->exit_status = 128 + g_subprocess_get_term_sig (subprocess);

  /* Sweep whatever the CLI left in its group (tool helpers, a stray
   * grandchild): they would hold our pipes open and outlive the run. */
  signal_group (self, SIGKILL);
  self->exited = TRUE;
  g_clear_handle_id (&self->kill_id, g_source_remove);
  if (!self->out.done || !self->err.done)
    self->drain_id = g_timeout_add_seconds (self->kill_grace_seconds, on_drain_timeout, self);
  maybe_finish (self);
}

static gboolean
on_kill_timeout (gpointer user_data)
{
  CasCliProcess *self = user_data;

  self->kill_id = 0;
  g_debug ("pid %d: still running after SIGTERM; sending SIGKILL", (int) self->pid);
  signal_group (self, SIGKILL);
  return G_SOURCE_REMOVE;
}

static gboolean
on_run_timeout (gpointer user_data)
{
  CasCliProcess *self = user_data;

  self->timeout_id = 0;
  self->timed_out = TRUE;
  cas_cli_process_stop (self);
  return G_SOURCE_REMOVE;
}

void
cas_cli_process_stop (CasCliProcess *self)
{
  g_return_if_fail (CAS_IS_CLI_PROCESS (self));

  if (!self->started || self->finished || self->stopping)
    return;
  self->stopping = TRUE;
  if (self->exited)
    return;
  signal_group (self, SIGTERM);
  self->kill_id = g_timeout_add_seconds (self->kill_grace_seconds, on_kill_timeout, self);
}

char *
cas_cli_resolve_program (const char *command)
{
  if (command == NULL || *command == '\0')
    return NULL;
  if (strchr (command, '/') != NULL)
    return g_file_test (command, G_FILE_TEST_IS_EXECUTABLE) &&
           !g_file_test (command, G_FILE_TEST_IS_DIR) ? g_strdup (command) : NULL;
  return g_find_program_in_path (command);
}

char *
cas_cli_projects_dir (void)
{
  const char *home = g_getenv ("HOME");

  return cas_conversation_projects_dir (g_getenv ("CLAUDE_CONFIG_DIR"),
                                        home != NULL && *home != '\0' ? home : g_get_home_dir ());
}

/* The child's environment: ours, less what a parent Claude Code session
 * set (nested sessions refuse to start) and the daemon's secrets. */
static GStrv
child_environment (void)
{
  GStrv env = g_get_environ ();

  for (guint i = 0; scrubbed_env_names[i] != NULL; i++)
    env = g_environ_unsetenv (env, scrubbed_env_names[i]);
  for (guint i = 0; secret_env_names[i] != NULL; i++)
    env = g_environ_unsetenv (env, secret_env_names[i]);
  return env;
}


/* Beside the daemon's own binary (the build tree's src/, or libexecdir);
 * for the C tests in the build tree's tests/, in ../src. Main thread. */
static const char *
exec_helper_path (void)
{
  static char *path;
  g_autofree char *self_exe = NULL;
  g_autofree char *dir = NULL;
  const char *const candidates[] = { ".", "../src", NULL };

  if (path != NULL)
    return path;
  self_exe = g_file_read_link ("/proc/self/exe", NULL);
  dir = self_exe != NULL ? g_path_get_dirname (self_exe) : NULL;
  for (guint i = 0; dir != NULL && candidates[i] != NULL; i++)
    {
      g_autofree char *found = g_build_filename (dir, candidates[i],
                                                 "claude-agent-service-exec", NULL);

      if (g_file_test (found, G_FILE_TEST_IS_EXECUTABLE))
        return path = g_steal_pointer (&found);
    }
  return path = g_build_filename (LIBEXECDIR, "claude-agent-service-exec", NULL);
}

static void
take_output_pipe (OutputPipe   *output,
                  GInputStream *stream)
{
  output->stream = g_object_ref (stream);
  output->fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (stream));
  g_unix_set_fd_nonblocking (output->fd, TRUE, NULL);
}

gboolean
cas_cli_process_start (CasCliProcess *self,
                       GError       **error)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GError) spawn_error = NULL;
  g_autofree char *program = NULL;
  g_auto (GStrv) env = NULL;
  GOutputStream *stdin_pipe;
  const char *identifier;

  g_return_val_if_fail (CAS_IS_CLI_PROCESS (self), FALSE);
  g_return_val_if_fail (!self->started, FALSE);

  program = cas_cli_resolve_program (self->argv[0]);
  if (program == NULL)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_CLI_NOT_FOUND,
                           "claude CLI not found (install @anthropic-ai/claude-code and log in)");
      return FALSE;
    }
  g_free (self->argv[0]);
  self->argv[0] = g_steal_pointer (&program);

  /* The helper would only say so in an exit status. */
  if (self->cwd != NULL && !g_file_test (self->cwd, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CLI_FAILED,
                   "cannot start %s: no directory %s", self->argv[0], self->cwd);
      return FALSE;
    }
  /* Through the exec helper, with no child-setup and no cwd, and every
   * descriptor of ours close-on-exec: GLib then uses posix_spawn instead
   * of fork, which would cost the daemon a copy-on-write fault on every
   * page it writes afterwards (the helper does what child_setup did). */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE |
                                        G_SUBPROCESS_FLAGS_INHERIT_FDS);
  env = child_environment ();
  for (guint i = 0; self->extra_env != NULL && self->extra_env[i] != NULL; i++)
    {
      const char *equals = strchr (self->extra_env[i], '=');
      g_autofree char *name = g_strndup (self->extra_env[i], equals - self->extra_env[i]);

      env = g_environ_setenv (env, name, equals + 1, TRUE);
    }
  g_subprocess_launcher_set_environ (launcher, env);
  {
    g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
    g_autofree char *parent = g_strdup_printf ("%d", (int) getpid ());
    g_auto (GStrv) helper_argv = NULL;

    g_strv_builder_add (builder, exec_helper_path ());
    g_strv_builder_add (builder, parent);
    g_strv_builder_add (builder, self->cwd != NULL ? self->cwd : "");
    g_strv_builder_addv (builder, (const char **) self->argv);
    helper_argv = g_strv_builder_end (builder);
    self->subprocess = g_subprocess_launcher_spawnv (launcher, (const char * const *) helper_argv,
                                                     &spawn_error);
  }
  if (self->subprocess == NULL)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CLI_FAILED,
                   "cannot start %s: %s", self->argv[0], spawn_error->message);
      return FALSE;
    }

  /* GLib reaps in its worker thread: a child that exits at once may be
   * gone already, and then it has no identifier. Its group is then empty
   * too, unless a helper it started in that instant lingers. */
  identifier = g_subprocess_get_identifier (self->subprocess);
  self->pid = identifier != NULL ? (pid_t) g_ascii_strtoll (identifier, NULL, 10) : 0;
  stdin_pipe = g_subprocess_get_stdin_pipe (self->subprocess);
  g_unix_set_fd_nonblocking (g_unix_output_stream_get_fd (G_UNIX_OUTPUT_STREAM (stdin_pipe)),
                             TRUE, NULL);
  self->stdin_pipe = g_object_ref (stdin_pipe);
  take_output_pipe (&self->out, g_subprocess_get_stdout_pipe (self->subprocess));
  take_output_pipe (&self->err, g_subprocess_get_stderr_pipe (self->subprocess));
  self->started = TRUE;
  live_runs = g_list_prepend (live_runs, g_object_ref (self));
  g_debug ("started pid %d: %s", (int) self->pid, self->argv[0]);

  self->stdout_lines = cas_line_splitter_new (self->max_line_bytes, on_stdout_line, self);
  watch_pipe (self, &self->out, on_stdout_ready);
  watch_pipe (self, &self->err, on_stderr_ready);
  g_subprocess_wait_async (self->subprocess, NULL, on_exited, g_object_ref (self));

  feed_stdin (self);

  if (self->timeout_seconds > 0)
    self->timeout_id = g_timeout_add_seconds (self->timeout_seconds, on_run_timeout, self);
  return TRUE;
}

gboolean
cas_cli_process_is_finished (CasCliProcess *self)
{
  return self->finished;
}

const GError *
cas_cli_process_get_error (CasCliProcess *self)
{
  return self->error;
}

int
cas_cli_process_get_exit_status (CasCliProcess *self)
{
  return self->exit_status;
}

int
cas_cli_process_get_pid (CasCliProcess *self)
{
  return (int) self->pid;
}

const char *
cas_cli_process_get_stderr_first_line (CasCliProcess *self)
{
  return self->stderr_first_line;
}

const char *
cas_cli_process_get_stderr (CasCliProcess *self)
{
  return self->stderr_text->str;
}

guint
cas_cli_process_get_oversized_lines (CasCliProcess *self)
{
  return self->stdout_lines != NULL ? cas_line_splitter_get_oversized_count (self->stdout_lines) : 0;
}

void
cas_cli_process_stop_all (void)
{
  for (GList *l = live_runs; l != NULL; l = l->next)
    cas_cli_process_stop (l->data);
}

guint
cas_cli_process_get_live_count (void)
{
  return g_list_length (live_runs);
}
