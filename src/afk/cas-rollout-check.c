/* cas-rollout-check.c: run `[ci] rollout-command` for a commit, as a
 * CasCliProcess (the exec helper's path: own process group, death with
 * the daemon, the daemon's secrets scrubbed from its environment).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-afk"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "cas-afk-parse.h"
#include "cas-cli-process.h"
#include "cas-error.h"
#include "cas-rollout-check.h"

/* A commit is a sha, but it reaches the command only through the
 * environment, so anything printable is safe there; the bound is for
 * the logs. */
#define MAX_COMMIT_BYTES 256
#define MAX_LINE_BYTES (64 * 1024)
/* Each kept line is cut to this many bytes: the tail goes to a comment. */
#define MAX_TAIL_LINE_BYTES 512
#define MAX_TAIL_BYTES (CAS_ROLLOUT_CHECK_TAIL_LINES * (MAX_TAIL_LINE_BYTES + 1))
#define KILL_GRACE_SECONDS 2

struct _CasRolloutCheck
{
  GObject parent_instance;

  GStrv argv;        /* (owned) (nullable) NULL when not configured */
  guint timeout_seconds;
};

G_DEFINE_FINAL_TYPE (CasRolloutCheck, cas_rollout_check, G_TYPE_OBJECT)

/* One run, the GTask's data. */
typedef struct {
  CasCliProcess *process;   /* (owned) */
  GQueue stdout_lines;      /* (owned) char *, the last few */
  gulong line_id;
  gulong finished_id;
  gulong cancelled_id;
  GCancellable *cancellable; /* (owned) (nullable) */
} Run;

static void
run_free (Run *run)
{
  g_clear_signal_handler (&run->line_id, run->process);
  g_clear_signal_handler (&run->finished_id, run->process);
  if (run->cancellable != NULL)
    g_cancellable_disconnect (run->cancellable, run->cancelled_id);
  g_clear_object (&run->cancellable);
  /* A cancelled run may still be stopping: CasCliProcess keeps itself
   * alive until it is reaped. */
  g_clear_object (&run->process);
  g_queue_clear_full (&run->stdout_lines, g_free);
  g_free (run);
}

void
cas_rollout_outcome_free (CasRolloutOutcome *outcome)
{
  if (outcome == NULL)
    return;
  g_free (outcome->summary);
  g_free (outcome->stdout_tail);
  g_free (outcome->stderr_tail);
  g_free (outcome);
}

static void
cas_rollout_check_finalize (GObject *object)
{
  CasRolloutCheck *self = CAS_ROLLOUT_CHECK (object);

  g_strfreev (self->argv);
  G_OBJECT_CLASS (cas_rollout_check_parent_class)->finalize (object);
}

static void
cas_rollout_check_class_init (CasRolloutCheckClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_rollout_check_finalize;
}

static void
cas_rollout_check_init (CasRolloutCheck *self)
{
}

CasRolloutCheck *
cas_rollout_check_new (const char *command,
                       guint       timeout_seconds,
                       GError    **error)
{
  g_autoptr (CasRolloutCheck) self = g_object_new (CAS_TYPE_ROLLOUT_CHECK, NULL);
  g_autoptr (GError) local_error = NULL;
  g_auto (GStrv) argv = NULL;

  self->timeout_seconds = timeout_seconds > 0 ? timeout_seconds
                                              : CAS_ROLLOUT_CHECK_DEFAULT_TIMEOUT_SECONDS;
  if (command == NULL)
    return g_steal_pointer (&self);
  if (!g_utf8_validate (command, -1, NULL))
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_CONFIG,
                           _("The rollout command is not valid UTF-8"));
      return NULL;
    }
  /* Blank means unset; g_shell_parse_argv calls it an error. */
  if (*command == '\0' || strspn (command, " \t\r\n") == strlen (command))
    return g_steal_pointer (&self);
  if (!g_shell_parse_argv (command, NULL, &argv, &local_error))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   _("Cannot split the rollout command “%s”: %s"), command,
                   local_error->message);
      return NULL;
    }
  self->argv = g_steal_pointer (&argv);
  return g_steal_pointer (&self);
}

gboolean
cas_rollout_check_is_configured (CasRolloutCheck *self)
{
  g_return_val_if_fail (CAS_IS_ROLLOUT_CHECK (self), FALSE);

  return self->argv != NULL;
}

/* The last @max_bytes of @text, starting at a character. */
static const char *
utf8_suffix (const char *text,
             gsize       length,
             gsize       max_bytes)
{
  const char *start;

  if (length <= max_bytes)
    return text;
  start = text + length - max_bytes;
  while (*start != '\0' && ((guchar) *start & 0xc0) == 0x80)
    start++;
  return start;
}

char *
cas_rollout_check_tail_lines (const char *text,
                              guint       max_lines,
                              gsize       max_bytes)
{
  g_autofree char *valid = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GPtrArray) kept = g_ptr_array_new ();
  g_autoptr (GString) out = g_string_new (NULL);
  guint n;

  if (text == NULL || max_lines == 0 || max_bytes == 0)
    return g_strdup ("");
  valid = g_utf8_make_valid (text, -1);
  lines = g_strsplit_set (valid, "\r\n", -1);
  n = g_strv_length (lines);
  for (guint i = n; i > 0 && kept->len < max_lines; i--)
    if (*g_strstrip (lines[i - 1]) != '\0')
      g_ptr_array_add (kept, lines[i - 1]);
  for (guint i = kept->len; i > 0; i--)
    {
      if (out->len > 0)
        g_string_append_c (out, '\n');
      g_string_append (out, g_ptr_array_index (kept, i - 1));
    }
  return g_strdup (utf8_suffix (out->str, out->len, max_bytes));
}

static void
on_line (CasCliProcess *process,
         const char    *line,
         guint64        length,
         gpointer       user_data)
{
  Run *run = user_data;
  const char *end = line + MIN (length, MAX_TAIL_LINE_BYTES);

  if (length == 0 || strspn (line, " \t\r") == length)
    return;
  /* Cut at a character: the line is valid UTF-8. */
  if (length > MAX_TAIL_LINE_BYTES)
    g_utf8_validate (line, MAX_TAIL_LINE_BYTES, &end);
  g_queue_push_tail (&run->stdout_lines, g_strndup (line, end - line));
  while (g_queue_get_length (&run->stdout_lines) > CAS_ROLLOUT_CHECK_TAIL_LINES)
    g_free (g_queue_pop_head (&run->stdout_lines));
}

static char *
join_queue (GQueue *lines)
{
  g_autoptr (GString) out = g_string_new (NULL);

  for (GList *l = lines->head; l != NULL; l = l->next)
    {
      if (out->len > 0)
        g_string_append_c (out, '\n');
      g_string_append (out, l->data);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
on_finished (CasCliProcess *process,
             gpointer       user_data)
{
  GTask *task = user_data;
  Run *run = g_task_get_task_data (task);
  CasRolloutCheck *self = g_task_get_source_object (task);
  g_autoptr (CasRolloutOutcome) outcome = g_new0 (CasRolloutOutcome, 1);
  const GError *error = cas_cli_process_get_error (process);
  const char *first_line = cas_cli_process_get_stderr_first_line (process);

  g_clear_signal_handler (&run->finished_id, process);
  outcome->stdout_tail = join_queue (&run->stdout_lines);
  outcome->stderr_tail = cas_rollout_check_tail_lines (cas_cli_process_get_stderr (process),
                                                       CAS_ROLLOUT_CHECK_TAIL_LINES,
                                                       MAX_TAIL_BYTES);
  if (g_error_matches (error, CAS_ERROR, CAS_ERROR_TIMED_OUT))
    {
      outcome->timed_out = TRUE;
      outcome->exit_status = -1;
      outcome->verdict = CAS_CI_VERDICT_RED;
      outcome->summary = g_strdup_printf ("timed out after %u s", self->timeout_seconds);
    }
  else
    {
      outcome->exit_status = cas_cli_process_get_exit_status (process);
      outcome->verdict = cas_ci_verdict_from_rollout_exit (outcome->exit_status);
      if (outcome->verdict == CAS_CI_VERDICT_PENDING)
        outcome->summary = g_strdup_printf ("exit %d: not rolled out yet", outcome->exit_status);
      else
        outcome->summary = cas_cli_describe_exit (outcome->exit_status,
                                                  outcome->exit_status != 0 ? first_line : NULL);
    }
  g_debug ("rollout check: %s (%s)", cas_ci_verdict_to_string (outcome->verdict),
           outcome->summary);
  g_task_return_pointer (task, g_steal_pointer (&outcome),
                         (GDestroyNotify) cas_rollout_outcome_free);
  g_object_unref (task);
}

/* Answers at once; the process is stopped (its group SIGTERM, then
 * SIGKILL) and reaped on its own. */
static gboolean
on_cancelled_idle (gpointer user_data)
{
  GTask *task = user_data;
  Run *run = g_task_get_task_data (task);

  if (run->finished_id == 0)
    return G_SOURCE_REMOVE;
  g_clear_signal_handler (&run->finished_id, run->process);
  cas_cli_process_stop (run->process);
  g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_CANCELLED, "rollout check cancelled");
  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

static void
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  /* May run in another thread, and inside g_cancellable_connect: move
   * to the main context before touching the run. */
  g_idle_add_full (G_PRIORITY_DEFAULT, on_cancelled_idle, g_object_ref (user_data),
                   g_object_unref);
}

static gboolean
validate_commit (const char *commit,
                 GError    **error)
{
  gsize length = commit != NULL ? strlen (commit) : 0;

  if (length == 0 || length > MAX_COMMIT_BYTES || !g_utf8_validate (commit, length, NULL))
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "the commit must be 1 to 256 bytes of UTF-8");
      return FALSE;
    }
  return TRUE;
}

void
cas_rollout_check_run_async (CasRolloutCheck     *self,
                             const char          *repository,
                             const char          *commit,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *program = NULL;
  Run *run;

  g_return_if_fail (CAS_IS_ROLLOUT_CHECK (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cas_rollout_check_run_async);
  /* Cancelled or not, the answer is ours (CAS_ERROR_CANCELLED). */
  g_task_set_check_cancellable (task, FALSE);

  if (!cas_afk_validate_repo (repository, &error) ||
      !validate_commit (commit, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (self->argv == NULL)
    {
      CasRolloutOutcome *outcome = g_new0 (CasRolloutOutcome, 1);

      outcome->verdict = CAS_CI_VERDICT_SKIPPED;
      outcome->exit_status = -1;
      outcome->summary = g_strdup ("no rollout command");
      outcome->stdout_tail = g_strdup ("");
      outcome->stderr_tail = g_strdup ("");
      g_task_return_pointer (task, outcome, (GDestroyNotify) cas_rollout_outcome_free);
      return;
    }
  if (g_cancellable_is_cancelled (cancellable))
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_CANCELLED, "rollout check cancelled");
      return;
    }

  program = cas_cli_resolve_program (self->argv[0]);
  if (program == NULL)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_CONFIG,
                               _("The rollout command %s is not an executable file or on PATH"),
                               self->argv[0]);
      return;
    }

  run = g_new0 (Run, 1);
  g_queue_init (&run->stdout_lines);
  g_task_set_task_data (task, run, (GDestroyNotify) run_free);
  run->process = cas_cli_process_new ((const char * const *) self->argv, NULL, NULL);
  cas_cli_process_set_timeout (run->process, self->timeout_seconds);
  cas_cli_process_set_kill_grace (run->process, KILL_GRACE_SECONDS);
  cas_cli_process_set_max_line_bytes (run->process, MAX_LINE_BYTES);
  /* Data, not code: the command reads them; nothing parses them. */
  cas_cli_process_setenv (run->process, "AFK_COMMIT", commit);
  cas_cli_process_setenv (run->process, "AFK_REPOSITORY", repository);
  run->line_id = g_signal_connect (run->process, "line", G_CALLBACK (on_line), run);
  run->finished_id = g_signal_connect (run->process, "finished", G_CALLBACK (on_finished),
                                       task);
  if (!cas_cli_process_start (run->process, &error))
    {
      g_clear_signal_handler (&run->finished_id, run->process);
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_CONFIG,
                               _("Cannot start the rollout command: %s"), error->message);
      return;
    }
  g_debug ("rollout check for %s at %s: started pid %d", repository, commit,
           cas_cli_process_get_pid (run->process));
  /* The reference "finished" or the cancellation gives back. */
  g_object_ref (task);
  if (cancellable != NULL)
    {
      run->cancellable = g_object_ref (cancellable);
      run->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled),
                                                 task, NULL);
    }
}

CasRolloutOutcome *
cas_rollout_check_run_finish (CasRolloutCheck *self,
                              GAsyncResult    *result,
                              GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == cas_rollout_check_run_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
