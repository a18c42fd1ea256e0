/* cas-power.c: one PVE power verb: ssh through CasCliProcess (so the
 * exec helper's process group and parent-death signal, the timeout that
 * stops the whole group, and the stop at shutdown), stdout and stderr
 * kept, bounded.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-power"

#include "config.h"

#include <glib/gi18n.h>

#include "cas-cli-process.h"
#include "cas-error.h"
#include "cas-power.h"
#include "cas-power-verbs.h"

struct _CasPower
{
  GObject parent_instance;

  CasConfig *config;   /* (owned) */
  guint running;
};

G_DEFINE_FINAL_TYPE (CasPower, cas_power, G_TYPE_OBJECT)

/* One verb on its way. */
typedef struct {
  CasPower *power;           /* (owned) */
  CasCliProcess *process;    /* (owned) (nullable) */
  CasPowerResult *result;    /* (owned) (nullable) until taken */
  gboolean stdout_cut;
  gulong line_id;
  gulong finished_id;
} Run;

void
cas_power_result_free (CasPowerResult *result)
{
  if (result == NULL)
    return;
  g_free (result->verb);
  g_string_free (result->stdout_text, TRUE);
  g_string_free (result->stderr_text, TRUE);
  g_free (result);
}

char *
cas_power_result_to_json (const CasPowerResult *result)
{
  return cas_power_format_result (result->verb, result->exit_code,
                                  result->stdout_text->str, result->stdout_text->len,
                                  result->stderr_text->str, result->stderr_text->len, FALSE);
}

static void
run_free (Run *run)
{
  if (run->process != NULL)
    {
      g_clear_signal_handler (&run->line_id, run->process);
      g_clear_signal_handler (&run->finished_id, run->process);
      g_object_unref (run->process);
    }
  cas_power_result_free (run->result);
  g_object_unref (run->power);
  g_free (run);
}

static void
cas_power_finalize (GObject *object)
{
  CasPower *self = CAS_POWER (object);

  g_clear_pointer (&self->config, cas_config_unref);

  G_OBJECT_CLASS (cas_power_parent_class)->finalize (object);
}

static void
cas_power_class_init (CasPowerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_power_finalize;
}

static void
cas_power_init (CasPower *self)
{
}

CasPower *
cas_power_new (CasConfig *config,
               GError   **error)
{
  CasPower *self;

  if (!cas_power_check_target (config->pve_host, config->pve_user, error))
    return NULL;
  self = g_object_new (CAS_TYPE_POWER, NULL);
  self->config = cas_config_ref (config);
  return self;
}

gboolean
cas_power_is_configured (CasPower *self)
{
  return self->config->pve_host != NULL && *self->config->pve_host != '\0';
}

guint
cas_power_get_running (CasPower *self)
{
  return self->running;
}

static void
append_capped (GString    *text,
               const char *data,
               gsize       len,
               gboolean   *cut)
{
  gsize room = CAS_POWER_MAX_OUTPUT_BYTES - MIN (text->len, CAS_POWER_MAX_OUTPUT_BYTES);

  if (len > room)
    {
      len = room;
      *cut = TRUE;
    }
  g_string_append_len (text, data, len);
}

static void
on_line (CasCliProcess *process,
         const char    *line,
         guint64        length,
         gpointer       user_data)
{
  Run *run = user_data;

  append_capped (run->result->stdout_text, line, length, &run->stdout_cut);
  append_capped (run->result->stdout_text, "\n", 1, &run->stdout_cut);
}

/* Ends the task with the run's result; the task owns the run. */
static void
complete (GTask *task)
{
  Run *run = g_task_get_task_data (task);
  CasPowerResult *result = g_steal_pointer (&run->result);

  run->power->running--;
  if (result->exit_code >= 0)
    g_message (_("Power verb “%s” ended: exit code %d"), result->verb, result->exit_code);
  else
    g_message (_("Power verb “%s” ended without an exit code: %s"), result->verb,
               result->stderr_text->str);
  g_task_return_pointer (task, result, (GDestroyNotify) cas_power_result_free);
}

static void
on_finished (CasCliProcess *process,
             gpointer       user_data)
{
  g_autoptr (GTask) task = user_data;
  Run *run = g_task_get_task_data (task);
  CasPowerResult *result = run->result;
  const GError *error = cas_cli_process_get_error (process);
  const char *err = cas_cli_process_get_stderr (process);

  g_clear_signal_handler (&run->line_id, process);
  g_clear_signal_handler (&run->finished_id, process);
  if (run->stdout_cut)
    g_string_append_printf (result->stdout_text, "\n[cut: more than %u bytes]\n",
                            (guint) CAS_POWER_MAX_OUTPUT_BYTES);
  if (g_error_matches (error, CAS_ERROR, CAS_ERROR_TIMED_OUT))
    /* The Python service's words: the UI shows them. */
    g_string_printf (result->stderr_text, "timeout after %us talking to PVE host",
                     run->power->config->pve_verb_timeout_seconds);
  else if (g_error_matches (error, CAS_ERROR, CAS_ERROR_CANCELLED))
    g_string_assign (result->stderr_text, "stopped: the service is shutting down");
  else
    {
      result->exit_code = cas_cli_process_get_exit_status (process);
      g_string_assign (result->stderr_text, err);
    }
  complete (task);
}

/* Ends the task at once with @words as stderr: ssh never ran. */
static void
complete_unstarted (GTask      *task,
                    const char *words)
{
  Run *run = g_task_get_task_data (task);

  g_string_assign (run->result->stderr_text, words);
  complete (task);
}

void
cas_power_run_async (CasPower            *self,
                     const char          *verb,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  g_autoptr (GTask) task = g_task_new (self, NULL, callback, user_data);
  g_autoptr (GError) error = NULL;
  g_autofree char *program = NULL;
  g_auto (GStrv) argv = NULL;
  const CasConfig *config = self->config;
  Run *run;

  g_task_set_source_tag (task, cas_power_run_async);
  /* Nothing from the client goes further than this unless it is, byte
   * for byte, one of the six verbs. */
  if (!cas_power_verb_is_known (verb))
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                               "unknown verb");
      return;
    }
  if (!cas_power_is_configured (self))
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_CONFIG,
                               "power verbs are not configured: set [pve] host "
                               "(or BREAKGLASS_PVE_HOST)");
      return;
    }
  if (self->running >= CAS_POWER_MAX_RUNNING)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_TOO_MANY_REQUESTS,
                               "%u power verbs are running already; try again when "
                               "one has ended", self->running);
      return;
    }

  run = g_new0 (Run, 1);
  run->power = g_object_ref (self);
  run->result = g_new0 (CasPowerResult, 1);
  run->result->verb = g_strdup (verb);
  run->result->exit_code = -1;
  run->result->stdout_text = g_string_new (NULL);
  run->result->stderr_text = g_string_new (NULL);
  g_task_set_task_data (task, run, (GDestroyNotify) run_free);
  self->running++;

  g_message (_("Running power verb “%s” on %s"), verb, config->pve_host);
  program = cas_cli_resolve_program (config->pve_ssh_command);
  if (program == NULL)
    {
      g_autofree char *words = g_strdup_printf ("ssh command \"%s\" not found",
                                                config->pve_ssh_command);

      complete_unstarted (task, words);
      return;
    }
  argv = cas_power_build_argv (program, config->pve_host, config->pve_user,
                               config->pve_key_file, config->pve_verb_timeout_seconds, verb);
  run->process = cas_cli_process_new ((const char * const *) argv, NULL, NULL);
  cas_cli_process_set_timeout (run->process, config->pve_verb_timeout_seconds);
  cas_cli_process_set_kill_grace (run->process, config->claude_kill_grace_seconds);
  cas_cli_process_set_max_line_bytes (run->process, CAS_POWER_MAX_OUTPUT_BYTES);
  run->line_id = g_signal_connect (run->process, "line", G_CALLBACK (on_line), run);
  run->finished_id = g_signal_connect (run->process, "finished", G_CALLBACK (on_finished),
                                       g_object_ref (task));
  if (!cas_cli_process_start (run->process, &error))
    {
      /* on_finished will not run: its reference goes here. */
      g_clear_signal_handler (&run->finished_id, run->process);
      g_object_unref (task);
      complete_unstarted (task, error->message);
    }
}

CasPowerResult *
cas_power_run_finish (CasPower      *self,
                      GAsyncResult  *result,
                      GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
