/* cas-conversation-plan.c: --session-id or --resume, and the one retry.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-conversation"

#include "config.h"

#include <string.h>

#include "cas-conversation-plan.h"
#include "cas-error.h"
#include "cas-json.h"

/* Groups of hex digits in 8-4-4-4-12. */
static const guint uuid_groups[] = { 8, 4, 4, 4, 12 };

gboolean
cas_conversation_id_is_valid (const char *id)
{
  const char *p = id;

  if (id == NULL)
    return FALSE;
  for (guint g = 0; g < G_N_ELEMENTS (uuid_groups); g++)
    {
      if (g > 0 && *p++ != '-')
        return FALSE;
      for (guint i = 0; i < uuid_groups[g]; i++, p++)
        if (!g_ascii_isxdigit (*p))
          return FALSE;
    }
  return *p == '\0';
}

void
cas_conversation_request_free (CasConversationRequest *request)
{
  if (request == NULL)
    return;
  g_free (request->session_id);
  g_free (request->message);
  g_free (request->model);
  g_free (request);
}

/* The member when it is a string, NULL when absent (or null and
 * @null_is_absent); FALSE with an error when it has another type. */
static gboolean
get_string_member (JsonObject  *body,
                   const char  *member,
                   gboolean     null_is_absent,
                   const char **out,
                   GError     **error)
{
  JsonNode *node = json_object_get_member (body, member);

  *out = NULL;
  if (node == NULL || (null_is_absent && JSON_NODE_HOLDS_NULL (node)))
    return TRUE;
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    {
      *out = json_node_get_string (node);
      return TRUE;
    }
  g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
               "%s must be a string, not %s", member, cas_json_describe_node (node));
  return FALSE;
}

CasConversationRequest *
cas_conversation_request_parse (JsonObject         *body,
                                const char         *default_model,
                                const char * const *models,
                                GError            **error)
{
  g_autoptr (CasConversationRequest) request = g_new0 (CasConversationRequest, 1);
  const char *session_id, *message, *model;
  JsonNode *stream;

  if (!get_string_member (body, "session_id", FALSE, &session_id, error))
    return NULL;
  /* The id names files (ours and the CLI's): nothing but the CLI's own
   * rule gets through. */
  if (session_id == NULL)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "session_id is required");
      return NULL;
    }
  if (!cas_conversation_id_is_valid (session_id))
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "session_id must be a UUID (8-4-4-4-12 hex digits)");
      return NULL;
    }

  if (!get_string_member (body, "message", FALSE, &message, error))
    return NULL;
  /* A blank prompt makes the CLI exit 0 without a word (checked against
   * claude 2.1.197): refuse it here with a reason instead. */
  if (message == NULL || message[strspn (message, " \t\r\n\f\v")] == '\0')
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           message == NULL ? "message is required"
                                           : "message must not be empty or blank");
      return NULL;
    }

  if (!get_string_member (body, "model", TRUE, &model, error))
    return NULL;
  if (model == NULL)
    model = default_model;
  if (model == NULL || *model == '\0' || models == NULL || !g_strv_contains (models, model))
    {
      g_autofree char *supported = models != NULL ? g_strjoinv (", ", (char **) models)
                                                  : g_strdup ("");
      g_autoptr (GString) shown = g_string_new (NULL);

      cas_json_append_string (shown, model != NULL ? model : "");
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "unsupported model %s; supported models: %s", shown->str, supported);
      return NULL;
    }

  stream = json_object_get_member (body, "stream");
  if (stream != NULL && !JSON_NODE_HOLDS_NULL (stream))
    {
      if (!JSON_NODE_HOLDS_VALUE (stream) ||
          json_node_get_value_type (stream) != G_TYPE_BOOLEAN)
        {
          g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                       "stream must be a boolean, not %s", cas_json_describe_node (stream));
          return NULL;
        }
      request->stream = json_node_get_boolean (stream);
    }

  /* One conversation, one spelling: the id keys the lane, the record and
   * the CLI's transcript, so two spellings must not run side by side. */
  request->session_id = g_ascii_strdown (session_id, -1);
  request->message = g_strdup (message);
  request->model = g_strdup (model);
  return g_steal_pointer (&request);
}

CasConversationStart
cas_conversation_plan_start (gboolean transcript_exists,
                             gboolean record_started)
{
  /* The record alone is enough: the 2.1.332 CLI also resumes a session
   * whose transcript sits under another cwd, and if it is truly gone the
   * CLI says so and the retry opens it afresh. */
  if (transcript_exists || record_started)
    return CAS_CONVERSATION_RESUME;
  return CAS_CONVERSATION_OPEN;
}

CasConversationRetry
cas_conversation_plan_retry (CasConversationStart used,
                             guint                attempt,
                             int                  exit_status,
                             gboolean             turn_began,
                             const char          *stderr_text)
{
  /* Once only: a second refusal means something else is wrong, and
   * alternating forever would hide it. */
  if (attempt > 0 || exit_status == 0 || turn_began || stderr_text == NULL)
    return CAS_CONVERSATION_RETRY_NONE;

  /* "Error: Session ID <id> is already in use." */
  if (used == CAS_CONVERSATION_OPEN &&
      strstr (stderr_text, "Session ID") != NULL &&
      strstr (stderr_text, "already in use") != NULL)
    return CAS_CONVERSATION_RETRY_RESUME;

  /* "No conversation found with session ID: <id>" */
  if (used == CAS_CONVERSATION_RESUME &&
      strstr (stderr_text, "No conversation found") != NULL)
    return CAS_CONVERSATION_RETRY_OPEN;

  return CAS_CONVERSATION_RETRY_NONE;
}

char *
cas_conversation_project_name (const char *cwd,
                               gboolean   *hashed)
{
  g_autofree char *valid = g_utf8_make_valid (cwd != NULL ? cwd : "", -1);
  GString *name = g_string_sized_new (strlen (valid));

  /* The CLI works on a JavaScript string: one '-' per UTF-16 unit, so a
   * character outside the BMP (a surrogate pair) gives two. */
  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c < 128 && g_ascii_isalnum ((char) c))
        g_string_append_c (name, (char) c);
      else
        g_string_append (name, c > 0xFFFF ? "--" : "-");
    }

  if (hashed != NULL)
    *hashed = name->len > CAS_CONVERSATION_MAX_PROJECT_NAME;
  if (name->len > CAS_CONVERSATION_MAX_PROJECT_NAME)
    g_string_truncate (name, CAS_CONVERSATION_MAX_PROJECT_NAME);
  return g_string_free (name, FALSE);
}

gboolean
cas_conversation_project_dir_matches (const char *entry,
                                      const char *project_name,
                                      gboolean    hashed)
{
  gsize len;

  if (entry == NULL || project_name == NULL)
    return FALSE;
  if (!hashed)
    return strcmp (entry, project_name) == 0;

  /* "<prefix>-<hash>": the hash is base36 in the CLI; allow a sign. */
  len = strlen (project_name);
  if (strncmp (entry, project_name, len) != 0 || entry[len] != '-' || entry[len + 1] == '\0')
    return FALSE;
  for (const char *p = entry + len + 1; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-')
      return FALSE;
  return TRUE;
}

char *
cas_conversation_projects_dir (const char *claude_config_dir,
                               const char *home)
{
  if (claude_config_dir != NULL && *claude_config_dir != '\0')
    return g_build_filename (claude_config_dir, "projects", NULL);
  return g_build_filename (home != NULL ? home : "/", ".claude", "projects", NULL);
}

char *
cas_conversation_transcript_path (const char *projects_dir,
                                  const char *cwd,
                                  const char *id)
{
  gboolean hashed = FALSE;
  g_autofree char *name = cas_conversation_project_name (cwd, &hashed);
  g_autofree char *file = NULL;

  if (hashed || !cas_conversation_id_is_valid (id))
    return NULL;
  file = g_strconcat (id, ".jsonl", NULL);
  return g_build_filename (projects_dir, name, file, NULL);
}
