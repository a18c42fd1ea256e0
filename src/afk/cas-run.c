/* cas-run.c: AFK runs, their names and their strict JSON.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-afk"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cas-afk-parse.h"
#include "cas-ci-verdict.h"
#include "cas-error.h"
#include "cas-job-record.h"
#include "cas-json.h"
#include "cas-run.h"

static const char *const phase_names[] = {
  [CAS_RUN_PHASE_DISPATCHED] = "dispatched",
  [CAS_RUN_PHASE_PUSHED] = "pushed",
  [CAS_RUN_PHASE_FIXING] = "fixing",
  [CAS_RUN_PHASE_DONE] = "done",
  [CAS_RUN_PHASE_NEEDS_HUMAN] = "needs-human",
  [CAS_RUN_PHASE_FROZEN] = "frozen",
};

static const char *const reason_names[] = {
  [CAS_RUN_REASON_NONE] = "",
  [CAS_RUN_REASON_PENDING_USER_INPUT] = "pending-user-input",
  [CAS_RUN_REASON_PENDING_APPROVAL] = "pending-approval",
  [CAS_RUN_REASON_STALLED] = "stalled",
  [CAS_RUN_REASON_TURN_FAILED] = "turn-failed",
  [CAS_RUN_REASON_THREAD_MISSING] = "thread-missing",
  [CAS_RUN_REASON_FIX_FORWARD_ATTEMPTS] = "fix-forward-attempts",
  [CAS_RUN_REASON_FIX_FORWARD_TIME] = "fix-forward-time",
};

static gboolean
name_lookup (const char *const *names,
             guint              n_names,
             const char        *text,
             guint             *index)
{
  if (text == NULL)
    return FALSE;
  for (guint i = 0; i < n_names; i++)
    if (strcmp (text, names[i]) == 0)
      {
        *index = i;
        return TRUE;
      }
  return FALSE;
}

const char *
cas_run_phase_to_string (CasRunPhase phase)
{
  if ((guint) phase >= G_N_ELEMENTS (phase_names))
    return "unknown";
  return phase_names[phase];
}

gboolean
cas_run_phase_from_string (const char  *text,
                           CasRunPhase *phase)
{
  guint i;

  if (!name_lookup (phase_names, G_N_ELEMENTS (phase_names), text, &i))
    return FALSE;
  *phase = (CasRunPhase) i;
  return TRUE;
}

gboolean
cas_run_phase_is_terminal (CasRunPhase phase)
{
  return phase == CAS_RUN_PHASE_DONE || phase == CAS_RUN_PHASE_NEEDS_HUMAN ||
         phase == CAS_RUN_PHASE_FROZEN;
}

const char *
cas_run_reason_to_string (CasRunReason reason)
{
  if ((guint) reason >= G_N_ELEMENTS (reason_names))
    return "";
  return reason_names[reason];
}

gboolean
cas_run_reason_from_string (const char   *text,
                            CasRunReason *reason)
{
  guint i;

  if (!name_lookup (reason_names, G_N_ELEMENTS (reason_names), text, &i))
    return FALSE;
  *reason = (CasRunReason) i;
  return TRUE;
}

const char *
cas_run_reason_describe (CasRunReason reason)
{
  switch (reason)
    {
    case CAS_RUN_REASON_PENDING_USER_INPUT:
      return _("The agent asked a question and is waiting for an answer.");
    case CAS_RUN_REASON_PENDING_APPROVAL:
      return _("The agent is waiting for an approval.");
    case CAS_RUN_REASON_STALLED:
      return _("The agent stopped without pushing a commit for the issue.");
    case CAS_RUN_REASON_TURN_FAILED:
      return _("The agent’s turn failed or was interrupted before anything was pushed.");
    case CAS_RUN_REASON_THREAD_MISSING:
      return _("The run’s T3 thread is gone.");
    case CAS_RUN_REASON_FIX_FORWARD_ATTEMPTS:
      return _("CI is still red after the last fix-forward attempt.");
    case CAS_RUN_REASON_FIX_FORWARD_TIME:
      return _("CI is still red and the time for fixing forward is up.");
    case CAS_RUN_REASON_NONE:
    default:
      return "";
    }
}

gboolean
cas_run_id_is_valid (const char *id)
{
  gsize i;

  if (id == NULL || *id == '\0')
    return FALSE;
  for (i = 0; id[i] != '\0'; i++)
    if (!g_ascii_isalnum (id[i]) && strchr ("-_.:", id[i]) == NULL)
      return FALSE;
  return i <= CAS_RUN_MAX_ID_LENGTH;
}

gboolean
cas_run_turn_id_is_valid (const char *id)
{
  gsize len;

  if (id == NULL || *id == '\0' || (len = strlen (id)) > CAS_RUN_MAX_ID_LENGTH ||
      !g_utf8_validate (id, len, NULL))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if ((guchar) id[i] < 0x20 || id[i] == 0x7f)
      return FALSE;
  return TRUE;
}

gboolean
cas_run_sha_is_valid (const char *sha)
{
  gsize i;

  if (sha == NULL)
    return FALSE;
  for (i = 0; sha[i] != '\0'; i++)
    if (!g_ascii_isdigit (sha[i]) && !(sha[i] >= 'a' && sha[i] <= 'f'))
      return FALSE;
  return i == 40 || i == 64;
}

/* Valid UTF-8 of at most @max bytes, cut at a character boundary. */
static char *
bounded_text (const char *text,
              gsize       max)
{
  g_autofree char *valid = NULL;
  const char *end;

  if (text == NULL)
    return NULL;
  valid = g_utf8_make_valid (text, -1);
  if (strlen (valid) <= max)
    return g_steal_pointer (&valid);
  end = valid + max;
  while (end > valid && ((guchar) *end & 0xc0) == 0x80)
    end--;
  return g_strndup (valid, end - valid);
}

CasRun *
cas_run_new (const char *repo,
             guint       number,
             const char *title,
             const char *project_id,
             const char *thread_id,
             const char *prev_turn_id,
             gint64      now_us)
{
  CasRun *run;

  if (!cas_afk_validate_repo (repo, NULL) || number == 0 ||
      number > CAS_AFK_MAX_ISSUE_NUMBER || !cas_run_id_is_valid (project_id) ||
      !cas_run_id_is_valid (thread_id) ||
      (prev_turn_id != NULL && !cas_run_turn_id_is_valid (prev_turn_id)))
    return NULL;

  run = g_new0 (CasRun, 1);
  run->repo = g_strdup (repo);
  run->number = number;
  run->title = bounded_text (title, CAS_RUN_MAX_TITLE_LENGTH);
  run->phase = CAS_RUN_PHASE_DISPATCHED;
  run->project_id = g_strdup (project_id);
  run->thread_id = g_strdup (thread_id);
  run->prev_turn_id = g_strdup (prev_turn_id);
  run->dispatched_us = now_us;
  run->turn_started_us = now_us;
  run->created_us = now_us;
  run->updated_us = now_us;
  return run;
}

CasRun *
cas_run_copy (const CasRun *run)
{
  CasRun *copy = g_memdup2 (run, sizeof *run);

  copy->repo = g_strdup (run->repo);
  copy->title = g_strdup (run->title);
  copy->project_id = g_strdup (run->project_id);
  copy->thread_id = g_strdup (run->thread_id);
  copy->prev_turn_id = g_strdup (run->prev_turn_id);
  copy->turn_id = g_strdup (run->turn_id);
  copy->pushed_sha = g_strdup (run->pushed_sha);
  copy->fix_sha = g_strdup (run->fix_sha);
  copy->detail = g_strdup (run->detail);
  copy->last_error = g_strdup (run->last_error);
  return copy;
}

void
cas_run_free (CasRun *run)
{
  if (run == NULL)
    return;
  g_free (run->repo);
  g_free (run->title);
  g_free (run->project_id);
  g_free (run->thread_id);
  g_free (run->prev_turn_id);
  g_free (run->turn_id);
  g_free (run->pushed_sha);
  g_free (run->fix_sha);
  g_free (run->detail);
  g_free (run->last_error);
  g_free (run);
}

gboolean
cas_run_is_terminal (const CasRun *run)
{
  return cas_run_phase_is_terminal (run->phase);
}

char *
cas_run_dup_key (const CasRun *run)
{
  return g_strdup_printf ("%s#%u", run->repo, run->number);
}

void
cas_run_set_last_error (CasRun     *run,
                        const char *message)
{
  g_free (run->last_error);
  run->last_error = bounded_text (message, CAS_RUN_MAX_TEXT_LENGTH);
}

void
cas_run_set_detail (CasRun     *run,
                    const char *detail)
{
  g_free (run->detail);
  run->detail = bounded_text (detail, CAS_RUN_MAX_TEXT_LENGTH);
}

gboolean
cas_run_equal (const CasRun *a,
               const CasRun *b)
{
  g_autofree char *json_a = cas_run_to_json (a);
  g_autofree char *json_b = cas_run_to_json (b);

  return strcmp (json_a, json_b) == 0;
}

static void
add_string (GVariantBuilder *builder,
            const char      *key,
            const char      *value)
{
  g_autofree char *valid = NULL;

  if (value == NULL)
    return;
  valid = g_utf8_make_valid (value, -1);
  g_variant_builder_add (builder, "{sv}", key, g_variant_new_string (valid));
}

/* Unix seconds as D-Bus "t"; 0 stays 0. */
static void
add_time (GVariantBuilder *builder,
          const char      *key,
          gint64           unix_us)
{
  g_variant_builder_add (builder, "{sv}", key,
                         g_variant_new_uint64 (unix_us > 0 ? (guint64) (unix_us / G_USEC_PER_SEC) : 0));
}

GVariant *
cas_run_to_variant (const CasRun *run,
                    const char   *thread_url)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  /* The keys of RunChanged in dbus/org.ClaudeAgentService.xml... */
  add_string (&builder, "repository", run->repo);
  g_variant_builder_add (&builder, "{sv}", "issue", g_variant_new_uint32 (run->number));
  add_string (&builder, "phase", cas_run_phase_to_string (run->phase));
  add_string (&builder, "thread-url", thread_url != NULL ? thread_url : "");
  g_variant_builder_add (&builder, "{sv}", "attempts", g_variant_new_uint32 (run->fix_attempts));
  add_time (&builder, "updated", run->updated_us);
  if (cas_run_is_terminal (run))
    add_string (&builder, "outcome", cas_run_phase_to_string (run->phase));
  if (run->reason != CAS_RUN_REASON_NONE)
    {
      add_string (&builder, "reason", cas_run_reason_describe (run->reason));
      add_string (&builder, "reason-code", cas_run_reason_to_string (run->reason));
    }
  /* ...and what else a person may want to see. */
  add_string (&builder, "title", run->title);
  add_string (&builder, "thread-id", run->thread_id);
  add_string (&builder, "pushed-sha", run->pushed_sha);
  add_string (&builder, "ci", cas_ci_verdict_to_string (run->ci));
  g_variant_builder_add (&builder, "{sv}", "doorbell-rung", g_variant_new_boolean (run->doorbell_rung));
  add_time (&builder, "dispatched", run->dispatched_us);
  if (run->first_red_us != 0)
    add_time (&builder, "first-red", run->first_red_us);
  if (run->finished_us != 0)
    add_time (&builder, "finished", run->finished_us);
  add_string (&builder, "detail", run->detail);
  add_string (&builder, "last-error", run->last_error);
  return g_variant_builder_end (&builder);
}

static void
append_key (GString    *out,
            const char *key)
{
  if (out->len > 1)
    g_string_append_c (out, ',');
  cas_json_append_string (out, key);
  g_string_append_c (out, ':');
}

static void
append_string (GString    *out,
               const char *key,
               const char *value)
{
  append_key (out, key);
  cas_json_append_string (out, value);
}

static void
append_int (GString    *out,
            const char *key,
            gint64      value)
{
  append_key (out, key);
  g_string_append_printf (out, "%" G_GINT64_FORMAT, value);
}

static void
append_bool (GString    *out,
             const char *key,
             gboolean    value)
{
  append_key (out, key);
  g_string_append (out, value ? "true" : "false");
}

static void
append_time (GString    *out,
             const char *key,
             gint64      unix_us)
{
  g_autofree char *text = unix_us > 0 ? cas_job_format_time (unix_us) : NULL;

  append_string (out, key, text);
}

char *
cas_run_to_json (const CasRun *run)
{
  GString *out = g_string_sized_new (1024);
  /* Bounded here too, so a run whose text was set by hand still reads
   * back. */
  g_autofree char *title = bounded_text (run->title, CAS_RUN_MAX_TITLE_LENGTH);
  g_autofree char *detail = bounded_text (run->detail, CAS_RUN_MAX_TEXT_LENGTH);
  g_autofree char *last_error = bounded_text (run->last_error, CAS_RUN_MAX_TEXT_LENGTH);

  g_string_append_c (out, '{');
  append_int (out, "version", CAS_RUN_JSON_VERSION);
  append_string (out, "repo", run->repo);
  append_int (out, "number", run->number);
  append_string (out, "title", title);
  append_string (out, "phase", cas_run_phase_to_string (run->phase));
  append_key (out, "reason");
  if (run->reason == CAS_RUN_REASON_NONE)
    g_string_append (out, "null");
  else
    cas_json_append_string (out, cas_run_reason_to_string (run->reason));
  append_string (out, "project_id", run->project_id);
  append_string (out, "thread_id", run->thread_id);
  append_string (out, "prev_turn_id", run->prev_turn_id);
  append_string (out, "turn_id", run->turn_id);
  append_time (out, "dispatched_at", run->dispatched_us);
  append_time (out, "turn_started_at", run->turn_started_us);
  append_bool (out, "labelled", run->labelled);
  append_string (out, "pushed_sha", run->pushed_sha);
  append_time (out, "pushed_at", run->pushed_us);
  append_string (out, "ci", cas_ci_verdict_to_string ((guint) run->ci <= CAS_CI_VERDICT_LAST
                                                     ? run->ci : CAS_CI_VERDICT_NONE));
  append_time (out, "first_red_at", run->first_red_us);
  append_int (out, "fix_attempts", run->fix_attempts);
  append_string (out, "fix_sha", run->fix_sha);
  append_int (out, "checklist_comment_id", run->checklist_comment_id);
  append_bool (out, "doorbell_rung", run->doorbell_rung);
  append_string (out, "detail", detail);
  append_string (out, "last_error", last_error);
  append_time (out, "created_at", run->created_us);
  append_time (out, "updated_at", run->updated_us);
  append_time (out, "finished_at", run->finished_us);
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

/* Reading: every member must be there with the right type; "null" only
 * where the struct allows NULL or 0. */

static JsonNode *
member (JsonObject *object,
        const char *name,
        GError    **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL)
    g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT, "“%s” is missing", name);
  return node;
}

static gboolean
wrong_type (const char *name,
            const char *expected,
            JsonNode   *node,
            GError    **error)
{
  g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT, "“%s” must be %s, not %s",
               name, expected, cas_json_describe_node (node));
  return FALSE;
}

static gboolean
read_string (JsonObject *object,
             const char *name,
             gboolean    nullable,
             gsize       max_length,
             char      **out,
             GError    **error)
{
  JsonNode *node = member (object, name, error);
  const char *value;

  if (node == NULL)
    return FALSE;
  if (JSON_NODE_HOLDS_NULL (node) && nullable)
    {
      *out = NULL;
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return wrong_type (name, nullable ? "a string or null" : "a string", node, error);
  value = json_node_get_string (node);
  if (strlen (value) > max_length)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "“%s” is longer than %" G_GSIZE_FORMAT " bytes", name, max_length);
      return FALSE;
    }
  *out = g_strdup (value);
  return TRUE;
}

static gboolean
read_int (JsonObject *object,
          const char *name,
          gint64      min,
          gint64      max,
          gint64     *out,
          GError    **error)
{
  JsonNode *node = member (object, name, error);
  gint64 value;

  if (node == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return wrong_type (name, "an integer", node, error);
  value = json_node_get_int (node);
  if (value < min || value > max)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "“%s” is out of range (%" G_GINT64_FORMAT ")", name, value);
      return FALSE;
    }
  *out = value;
  return TRUE;
}

static gboolean
read_bool (JsonObject *object,
           const char *name,
           gboolean   *out,
           GError    **error)
{
  JsonNode *node = member (object, name, error);

  if (node == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return wrong_type (name, "a boolean", node, error);
  *out = json_node_get_boolean (node);
  return TRUE;
}

/* A time: an ISO 8601 string with a zone, or null for "not yet". */
static gboolean
read_time (JsonObject *object,
           const char *name,
           gboolean    nullable,
           gint64     *out,
           GError    **error)
{
  g_autofree char *text = NULL;

  if (!read_string (object, name, nullable, 64, &text, error))
    return FALSE;
  if (text == NULL)
    {
      *out = 0;
      return TRUE;
    }
  if (!cas_job_parse_time (text, out) || *out <= 0)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "“%s” is not a time", name);
      return FALSE;
    }
  return TRUE;
}

static gboolean
invalid (GError    **error,
         const char *name,
         const char *what)
{
  g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT, "“%s” is not %s", name, what);
  return FALSE;
}

static gboolean
read_run (CasRun     *run,
          JsonObject *object,
          GError    **error)
{
  g_autofree char *phase = NULL;
  g_autofree char *reason = NULL;
  g_autofree char *ci = NULL;
  gint64 version, number, attempts, comment;

  if (!read_int (object, "version", 1, G_MAXINT64, &version, error))
    return FALSE;
  if (version != CAS_RUN_JSON_VERSION)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "version %" G_GINT64_FORMAT " is not known (this daemon reads %d)",
                   version, CAS_RUN_JSON_VERSION);
      return FALSE;
    }

  if (!read_string (object, "repo", FALSE, CAS_AFK_MAX_REPO_LENGTH, &run->repo, error))
    return FALSE;
  if (!cas_afk_validate_repo (run->repo, NULL))
    return invalid (error, "repo", "owner/name");
  if (!read_int (object, "number", 1, CAS_AFK_MAX_ISSUE_NUMBER, &number, error))
    return FALSE;
  run->number = (guint) number;
  if (!read_string (object, "title", TRUE, CAS_RUN_MAX_TITLE_LENGTH, &run->title, error))
    return FALSE;

  if (!read_string (object, "phase", FALSE, 64, &phase, error))
    return FALSE;
  if (!cas_run_phase_from_string (phase, &run->phase))
    return invalid (error, "phase", "a known phase");
  if (!read_string (object, "reason", TRUE, 64, &reason, error))
    return FALSE;
  if (reason != NULL &&
      (!cas_run_reason_from_string (reason, &run->reason) || run->reason == CAS_RUN_REASON_NONE))
    return invalid (error, "reason", "a known reason");
  if ((run->reason != CAS_RUN_REASON_NONE) !=
      (run->phase == CAS_RUN_PHASE_NEEDS_HUMAN || run->phase == CAS_RUN_PHASE_FROZEN))
    return invalid (error, "reason", "set exactly when the run needs a human or is frozen");

  if (!read_string (object, "project_id", FALSE, CAS_RUN_MAX_ID_LENGTH, &run->project_id, error))
    return FALSE;
  if (!cas_run_id_is_valid (run->project_id))
    return invalid (error, "project_id", "an id");
  if (!read_string (object, "thread_id", FALSE, CAS_RUN_MAX_ID_LENGTH, &run->thread_id, error))
    return FALSE;
  if (!cas_run_id_is_valid (run->thread_id))
    return invalid (error, "thread_id", "an id");
  if (!read_string (object, "prev_turn_id", TRUE, CAS_RUN_MAX_ID_LENGTH, &run->prev_turn_id, error))
    return FALSE;
  if (run->prev_turn_id != NULL && !cas_run_turn_id_is_valid (run->prev_turn_id))
    return invalid (error, "prev_turn_id", "a turn id");
  if (!read_string (object, "turn_id", TRUE, CAS_RUN_MAX_ID_LENGTH, &run->turn_id, error))
    return FALSE;
  if (run->turn_id != NULL && !cas_run_turn_id_is_valid (run->turn_id))
    return invalid (error, "turn_id", "a turn id");
  if (!read_time (object, "dispatched_at", FALSE, &run->dispatched_us, error) ||
      !read_time (object, "turn_started_at", FALSE, &run->turn_started_us, error))
    return FALSE;

  if (!read_bool (object, "labelled", &run->labelled, error))
    return FALSE;
  if (!read_string (object, "pushed_sha", TRUE, 64, &run->pushed_sha, error))
    return FALSE;
  if (run->pushed_sha != NULL && !cas_run_sha_is_valid (run->pushed_sha))
    return invalid (error, "pushed_sha", "a commit sha");
  /* Only a run that needs a human may have ended with or without a push. */
  if ((run->phase == CAS_RUN_PHASE_DISPATCHED && run->pushed_sha != NULL) ||
      (run->phase != CAS_RUN_PHASE_DISPATCHED && run->phase != CAS_RUN_PHASE_NEEDS_HUMAN &&
       run->pushed_sha == NULL))
    return invalid (error, "pushed_sha", "set exactly when the run has pushed");
  if (!read_time (object, "pushed_at", TRUE, &run->pushed_us, error))
    return FALSE;
  if (!read_string (object, "ci", FALSE, 64, &ci, error))
    return FALSE;
  if (!cas_ci_verdict_from_string (ci, &run->ci))
    return invalid (error, "ci", "a known CI verdict");
  if (!read_time (object, "first_red_at", TRUE, &run->first_red_us, error))
    return FALSE;
  if (!read_int (object, "fix_attempts", 0, CAS_RUN_MAX_ATTEMPTS, &attempts, error))
    return FALSE;
  run->fix_attempts = (guint) attempts;
  if (!read_string (object, "fix_sha", TRUE, 64, &run->fix_sha, error))
    return FALSE;
  if (run->fix_sha != NULL && !cas_run_sha_is_valid (run->fix_sha))
    return invalid (error, "fix_sha", "a commit sha");
  if (!read_int (object, "checklist_comment_id", 0, G_MAXINT64, &comment, error))
    return FALSE;
  run->checklist_comment_id = comment;

  if (!read_bool (object, "doorbell_rung", &run->doorbell_rung, error))
    return FALSE;
  if (run->doorbell_rung && !cas_run_phase_is_terminal (run->phase))
    return invalid (error, "doorbell_rung", "true before the run ended");
  if (!read_string (object, "detail", TRUE, CAS_RUN_MAX_TEXT_LENGTH, &run->detail, error) ||
      !read_string (object, "last_error", TRUE, CAS_RUN_MAX_TEXT_LENGTH, &run->last_error, error))
    return FALSE;
  if (!read_time (object, "created_at", FALSE, &run->created_us, error) ||
      !read_time (object, "updated_at", FALSE, &run->updated_us, error) ||
      !read_time (object, "finished_at", TRUE, &run->finished_us, error))
    return FALSE;
  if ((run->finished_us != 0) != cas_run_phase_is_terminal (run->phase))
    return invalid (error, "finished_at", "set exactly when the run has ended");
  return TRUE;
}

CasRun *
cas_run_from_json (const char *data,
                   gsize       length,
                   GError    **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (JsonObject) object = NULL;
  g_autoptr (CasRun) run = NULL;

  if (data == NULL)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "not an AFK run: no data");
      return NULL;
    }
  object = cas_json_parse_object (data, length, &local_error);
  if (object != NULL)
    {
      run = g_new0 (CasRun, 1);
      if (read_run (run, object, &local_error))
        return g_steal_pointer (&run);
    }
  g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
               "not an AFK run: %s", local_error->message);
  return NULL;
}
