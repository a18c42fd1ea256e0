/* cas-session-manager.c: every breakglass session, and the bounds on
 * them (max-sessions, max-concurrent-turns).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-breakglass"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

#include "cas-error.h"
#include "cas-session-manager.h"
#include "cas-session-store.h"

struct _CasSessionManager
{
  GObject parent_instance;

  CasConfig *config;           /* (owned) */
  CasSessionStore *store;      /* (owned) */
  char *agents_json;           /* (owned) (nullable) */
  char *sessions_dir;          /* (owned) */
  GHashTable *sessions;        /* (owned) id -> (owned) CasSession */
  guint creating;              /* sessions whose files are being made */
  gboolean stopping;
};

enum {
  SIGNAL_TURN_ENDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CasSessionManager, cas_session_manager, G_TYPE_OBJECT)

void
cas_session_info_free (CasSessionInfo *info)
{
  g_free (info->id);
  g_free (info);
}

static void
on_turn_ended (CasSession *session,
               guint64     last_event,
               const char *outcome,
               const char *error,
               gpointer    user_data)
{
  CasSessionManager *self = user_data;

  g_signal_emit (self, signals[SIGNAL_TURN_ENDED], 0, cas_session_get_id (session), outcome,
                 last_event, error);
}

static void
forget_session (gpointer data)
{
  CasSession *session = data;

  g_signal_handlers_disconnect_matched (session, G_SIGNAL_MATCH_FUNC, 0, 0, NULL,
                                        on_turn_ended, NULL);
  g_object_unref (session);
}

static void
add_session (CasSessionManager *self,
             CasSession        *session)
{
  g_signal_connect (session, "turn-ended", G_CALLBACK (on_turn_ended), self);
  g_hash_table_insert (self->sessions, (gpointer) cas_session_get_id (session), session);
}

static CasSessionContext
context_of (CasSessionManager *self)
{
  return (CasSessionContext) {
    .config = self->config,
    .store = self->store,
    .agents_json = self->agents_json,
  };
}

/* --- create ---------------------------------------------------------------- */

static void
on_created (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (CasSession) session = CAS_SESSION (source);
  CasSessionManager *self = g_task_get_source_object (task);
  GError *error = NULL;

  self->creating--;
  if (!cas_session_create_finish (session, result, &error))
    {
      g_message (_("Cannot create a breakglass session: %s"), error->message);
      g_task_return_error (task, error);
      return;
    }
  if (self->stopping)
    {
      cas_session_close (session, FALSE);
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_CANCELLED, "the service is stopping");
      return;
    }
  add_session (self, g_object_ref (session));
  cas_session_manager_expect_prompt (self, cas_session_get_id (session));
  g_task_return_pointer (task, g_strdup (cas_session_get_id (session)), g_free);
}

void
cas_session_manager_create_async (CasSessionManager  *self,
                                  GCancellable       *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  CasSessionContext context = context_of (self);
  g_autofree char *id = NULL;
  g_autofree char *dir = NULL;
  CasSession *session;

  g_task_set_source_tag (task, cas_session_manager_create_async);
  /* The session exists from the moment its files do, whoever asked. */
  g_task_set_check_cancellable (task, FALSE);
  if (self->stopping)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_CANCELLED, "the service is stopping");
      return;
    }
  if (g_hash_table_size (self->sessions) + self->creating >= self->config->breakglass_max_sessions)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_TOO_MANY_REQUESTS,
                               "too many sessions (max-sessions is %u): delete one first",
                               self->config->breakglass_max_sessions);
      return;
    }
  do
    {
      g_free (id);
      id = g_uuid_string_random ();
    }
  while (g_hash_table_contains (self->sessions, id));
  dir = g_build_filename (self->sessions_dir, id, NULL);
  session = cas_session_new (&context, id, dir);
  self->creating++;
  cas_session_create_async (session, on_created, g_steal_pointer (&task));
}

char *
cas_session_manager_create_finish (CasSessionManager *self,
                                   GAsyncResult      *result,
                                   GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- the rest -------------------------------------------------------------- */

static gint
by_last_activity (gconstpointer a,
                  gconstpointer b)
{
  const CasSessionInfo *x = *(CasSessionInfo * const *) a;
  const CasSessionInfo *y = *(CasSessionInfo * const *) b;

  if (x->last_activity != y->last_activity)
    return x->last_activity > y->last_activity ? -1 : 1;
  return strcmp (x->id, y->id);
}

GPtrArray *
cas_session_manager_list (CasSessionManager *self)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_session_info_free);
  GHashTableIter iter;
  CasSession *session;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &session))
    {
      CasSessionInfo *info = g_new0 (CasSessionInfo, 1);

      info->id = g_strdup (cas_session_get_id (session));
      info->created = cas_session_get_created (session);
      info->last_activity = cas_session_get_last_activity (session);
      info->turn_active = cas_session_is_turn_running (session);
      info->event_count = cas_session_get_event_count (session);
      g_ptr_array_add (out, info);
    }
  g_ptr_array_sort (out, by_last_activity);
  return out;
}

CasSession *
cas_session_manager_lookup (CasSessionManager *self,
                            const char        *id)
{
  /* Only the table is consulted: an id never reaches the file system. */
  if (!cas_session_id_is_valid (id))
    return NULL;
  return g_hash_table_lookup (self->sessions, id);
}

void
cas_session_manager_expect_prompt (CasSessionManager *self,
                                   const char        *id)
{
  CasSession *session = cas_session_manager_lookup (self, id);

  /* The CLI starts while they type. */
  if (session != NULL && !self->stopping && self->config->claude_pool_size > 0)
    cas_session_prewarm (session, self->config->breakglass_model);
}

static CasSession *
lookup_or_error (CasSessionManager *self,
                 const char        *id,
                 GError           **error)
{
  CasSession *session = cas_session_manager_lookup (self, id);

  if (session == NULL)
    g_set_error_literal (error, CAS_ERROR, CAS_ERROR_NOT_FOUND, "session not found");
  return session;
}

guint
cas_session_manager_get_active_turns (CasSessionManager *self)
{
  GHashTableIter iter;
  CasSession *session;
  guint active = 0;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &session))
    active += cas_session_is_turn_running (session);
  return active;
}

gboolean
cas_session_manager_prompt (CasSessionManager *self,
                            const char        *id,
                            const char        *prompt,
                            const char        *model,
                            GError           **error)
{
  CasSession *session = lookup_or_error (self, id, error);
  gsize len;

  if (session == NULL)
    return FALSE;
  len = prompt != NULL ? strlen (prompt) : 0;
  if (len == 0 || !g_utf8_validate (prompt, len, NULL))
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "prompt must be a non-empty string");
      return FALSE;
    }
  if (len > CAS_SESSION_MAX_PROMPT_BYTES)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "prompt is longer than %d bytes", CAS_SESSION_MAX_PROMPT_BYTES);
      return FALSE;
    }
  if (model == NULL)
    model = self->config->breakglass_model;
  else if (!g_strv_contains ((const char * const *) self->config->claude_models, model))
    {
      g_autofree char *models = g_strjoinv (", ", self->config->claude_models);

      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "unsupported model; supported models: %s", models);
      return FALSE;
    }
  if (self->stopping)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_CANCELLED, "the service is stopping");
      return FALSE;
    }
  /* The session's own refusal (409) comes before the global one. */
  if (cas_session_is_turn_running (session))
    return cas_session_start_turn (session, prompt, model, error);
  if (cas_session_manager_get_active_turns (self) >= self->config->breakglass_max_concurrent_turns)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_TOO_MANY_REQUESTS,
                   "too many turns running (max-concurrent-turns is %u): try again when one ends",
                   self->config->breakglass_max_concurrent_turns);
      return FALSE;
    }
  return cas_session_start_turn (session, prompt, model, error);
}

gboolean
cas_session_manager_cancel (CasSessionManager *self,
                            const char        *id,
                            gboolean          *cancelled,
                            GError           **error)
{
  CasSession *session = lookup_or_error (self, id, error);

  if (session == NULL)
    return FALSE;
  *cancelled = cas_session_cancel (session);
  return TRUE;
}

gboolean
cas_session_manager_delete (CasSessionManager *self,
                            const char        *id,
                            GError           **error)
{
  g_autoptr (CasSession) session = lookup_or_error (self, id, error);

  if (session == NULL)
    return FALSE;
  g_object_ref (session);
  g_hash_table_remove (self->sessions, id);
  cas_session_close (session, TRUE);
  return TRUE;
}

void
cas_session_manager_stop (CasSessionManager *self)
{
  g_autoptr (GPtrArray) all = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  CasSession *session;

  if (self->stopping)
    return;
  self->stopping = TRUE;
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &session))
    g_ptr_array_add (all, g_object_ref (session));
  /* A turn's end goes in its log now; a restart would say the same
   * less precisely. */
  for (guint i = 0; i < all->len; i++)
    cas_session_abort_turn (g_ptr_array_index (all, i), "service stopped during turn");
  /* Every queued event lands and reaches the streams ... */
  cas_session_store_stop (self->store);
  /* ... which then end. */
  for (guint i = 0; i < all->len; i++)
    cas_session_close (g_ptr_array_index (all, i), FALSE);
}

/* --- start-up -------------------------------------------------------------- */

static void
load_sessions (CasSessionManager *self)
{
  CasSessionContext context = context_of (self);
  g_autoptr (GDir) dir = g_dir_open (self->sessions_dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (self->sessions_dir, name, NULL);
      g_autoptr (GError) error = NULL;
      CasSession *session;

      /* Only what we made: a directory named by a session id. */
      if (!cas_session_id_is_valid (name) || g_file_test (path, G_FILE_TEST_IS_SYMLINK) ||
          !g_file_test (path, G_FILE_TEST_IS_DIR))
        continue;
      session = cas_session_load (&context, name, path, &error);
      if (session == NULL)
        {
          g_message (_("Skipping breakglass session %s: %s"), name, error->message);
          continue;
        }
      add_session (self, session);
    }
  if (g_hash_table_size (self->sessions) > 0)
    g_message (_("Breakglass sessions loaded: %u"), g_hash_table_size (self->sessions));
}

static void
cas_session_manager_dispose (GObject *object)
{
  CasSessionManager *self = CAS_SESSION_MANAGER (object);

  if (self->store != NULL)
    cas_session_store_stop (self->store);
  g_clear_pointer (&self->sessions, g_hash_table_unref);

  G_OBJECT_CLASS (cas_session_manager_parent_class)->dispose (object);
}

static void
cas_session_manager_finalize (GObject *object)
{
  CasSessionManager *self = CAS_SESSION_MANAGER (object);

  g_clear_object (&self->store);
  g_clear_pointer (&self->config, cas_config_unref);
  g_free (self->agents_json);
  g_free (self->sessions_dir);

  G_OBJECT_CLASS (cas_session_manager_parent_class)->finalize (object);
}

static void
cas_session_manager_class_init (CasSessionManagerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cas_session_manager_dispose;
  object_class->finalize = cas_session_manager_finalize;

  signals[SIGNAL_TURN_ENDED] =
    g_signal_new ("turn-ended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 4,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_UINT64,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
cas_session_manager_init (CasSessionManager *self)
{
  self->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, forget_session);
}

CasSessionManager *
cas_session_manager_new (CasConfig   *config,
                         CasAgentSet *agents,
                         const char  *state_dir,
                         GError     **error)
{
  g_autoptr (CasSessionManager) self = g_object_new (CAS_TYPE_SESSION_MANAGER, NULL);
  const char *agent = config->breakglass_agent;

  self->config = cas_config_ref (config);
  if (!cas_agent_set_cli_json_if_ours (agents, agent, &self->agents_json, error))
    return NULL;
  self->sessions_dir = g_build_filename (state_dir, "sessions", NULL);
  if (g_mkdir_with_parents (self->sessions_dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot create %s: %s"), self->sessions_dir, g_strerror (saved_errno));
      return NULL;
    }
  self->store = cas_session_store_new ();
  load_sessions (self);
  return g_steal_pointer (&self);
}
