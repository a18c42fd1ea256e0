/* cas-conversation-store.c: one small JSON file per conversation.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-conversation"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

#include "cas-conversation-plan.h"
#include "cas-conversation-store.h"
#include "cas-error.h"
#include "cas-json.h"

struct _CasConversationStore
{
  GObject parent_instance;

  char *dir; /* (owned) */
};

G_DEFINE_FINAL_TYPE (CasConversationStore, cas_conversation_store, G_TYPE_OBJECT)

void
cas_conversation_record_free (CasConversationRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->session_id);
  g_free (record->model);
  g_free (record->cli_session_id);
  g_free (record);
}

static void
append_time (GString *out,
             gint64   unix_seconds)
{
  g_autoptr (GDateTime) time = g_date_time_new_from_unix_utc (unix_seconds);
  g_autofree char *text = time != NULL ? g_date_time_format (time, "%Y-%m-%dT%H:%M:%SZ") : NULL;

  cas_json_append_string (out, text);
}

char *
cas_conversation_record_to_json (const CasConversationRecord *record)
{
  GString *out = g_string_sized_new (256);

  g_string_append (out, "{\"session_id\":");
  cas_json_append_string (out, record->session_id);
  g_string_append_printf (out, ",\"started\":%s,\"turns\":%" G_GUINT64_FORMAT ",\"created_at\":",
                          record->started ? "true" : "false", record->turns);
  append_time (out, record->created_at);
  g_string_append (out, ",\"last_used\":");
  append_time (out, record->last_used);
  g_string_append (out, ",\"model\":");
  cas_json_append_string (out, record->model);
  if (record->cli_session_id != NULL)
    {
      g_string_append (out, ",\"cli_session_id\":");
      cas_json_append_string (out, record->cli_session_id);
    }
  g_string_append (out, "}\n");
  return g_string_free (out, FALSE);
}

/* 0 when absent or not a time. */
static gint64
parse_time (JsonObject *object,
            const char *member)
{
  const char *text = cas_json_get_string (object, member, NULL);
  g_autoptr (GDateTime) time = NULL;

  if (text == NULL)
    return 0;
  time = g_date_time_new_from_iso8601 (text, NULL);
  return time != NULL ? g_date_time_to_unix (time) : 0;
}

CasConversationRecord *
cas_conversation_record_from_json (const char *data,
                                   gsize       length,
                                   const char *expected_id,
                                   GError    **error)
{
  g_autoptr (JsonObject) object = NULL;
  g_autoptr (CasConversationRecord) record = NULL;
  const char *id;
  const char *cli_id;
  JsonNode *started;
  gint64 turns;

  object = cas_json_parse_object (data, length, error);
  if (object == NULL)
    return NULL;

  id = cas_json_get_string (object, "session_id", NULL);
  if (!cas_conversation_id_is_valid (id))
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "session_id is missing or not a session id");
      return NULL;
    }
  if (expected_id != NULL && g_strcmp0 (id, expected_id) != 0)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "the record is for %s", id);
      return NULL;
    }
  started = json_object_get_member (object, "started");
  if (started == NULL || !JSON_NODE_HOLDS_VALUE (started) ||
      json_node_get_value_type (started) != G_TYPE_BOOLEAN)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "started is missing or not a boolean");
      return NULL;
    }
  turns = cas_json_get_int (object, "turns", 0);
  /* It goes into argv and a path: only an id the CLI would take. */
  cli_id = cas_json_get_string (object, "cli_session_id", NULL);
  if (json_object_has_member (object, "cli_session_id") &&
      !json_object_get_null_member (object, "cli_session_id") &&
      !cas_conversation_id_is_valid (cli_id))
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "cli_session_id is not a session id");
      return NULL;
    }

  record = g_new0 (CasConversationRecord, 1);
  record->session_id = g_strdup (id);
  record->started = json_node_get_boolean (started);
  record->turns = turns > 0 ? (guint64) turns : 0;
  record->created_at = parse_time (object, "created_at");
  record->last_used = parse_time (object, "last_used");
  record->model = g_strdup (cas_json_get_string (object, "model", NULL));
  record->cli_session_id = g_ascii_strdown (cli_id != NULL ? cli_id : "", -1);
  if (*record->cli_session_id == '\0')
    g_clear_pointer (&record->cli_session_id, g_free);
  return g_steal_pointer (&record);
}

static void
cas_conversation_store_finalize (GObject *object)
{
  CasConversationStore *self = CAS_CONVERSATION_STORE (object);

  g_free (self->dir);

  G_OBJECT_CLASS (cas_conversation_store_parent_class)->finalize (object);
}

static void
cas_conversation_store_class_init (CasConversationStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_conversation_store_finalize;
}

static void
cas_conversation_store_init (CasConversationStore *self)
{
}

CasConversationStore *
cas_conversation_store_new (const char *dir,
                            GError    **error)
{
  g_autoptr (CasConversationStore) self = NULL;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot create %s: %s"), dir, g_strerror (saved_errno));
      return NULL;
    }

  self = g_object_new (CAS_TYPE_CONVERSATION_STORE, NULL);
  self->dir = g_strdup (dir);
  return g_steal_pointer (&self);
}

const char *
cas_conversation_store_get_dir (CasConversationStore *self)
{
  return self->dir;
}

/* The id is checked by every caller first: it is the file name. */
static char *
record_path (CasConversationStore *self,
             const char           *id)
{
  g_autofree char *file = g_strconcat (id, ".json", NULL);

  return g_build_filename (self->dir, file, NULL);
}

static gboolean
check_id (const char *id,
          GError    **error)
{
  if (cas_conversation_id_is_valid (id))
    return TRUE;
  g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                       "session_id must be a UUID");
  return FALSE;
}

CasConversationRecord *
cas_conversation_store_load (CasConversationStore *self,
                             const char           *id,
                             GError              **error)
{
  g_autofree char *path = NULL;
  g_autofree char *data = NULL;
  g_autoptr (GError) local_error = NULL;
  CasConversationRecord *record;
  GStatBuf st;
  gsize length = 0;

  if (!check_id (id, error))
    return NULL;
  path = record_path (self, id);

  if (g_lstat (path, &st) != 0)
    {
      if (errno != ENOENT)
        g_message (_("Ignoring the conversation record %s: %s"), path, g_strerror (errno));
      return NULL;
    }
  /* Only plain files we could have written; never follow a link out. */
  if (!S_ISREG (st.st_mode) || st.st_size > CAS_CONVERSATION_RECORD_MAX_BYTES)
    {
      g_message (_("Ignoring the conversation record %s: not a small regular file"), path);
      return NULL;
    }
  if (!g_file_get_contents (path, &data, &length, &local_error))
    {
      g_message (_("Ignoring the conversation record %s: %s"), path, local_error->message);
      return NULL;
    }
  record = cas_conversation_record_from_json (data, length, id, &local_error);
  if (record == NULL)
    g_message (_("Ignoring the corrupt conversation record %s: %s"), path, local_error->message);
  return record;
}

gboolean
cas_conversation_store_record_turn (CasConversationStore *self,
                                    const char           *id,
                                    const char           *model,
                                    const char           *cli_session_id,
                                    gint64                now,
                                    GError              **error)
{
  g_autoptr (CasConversationRecord) record = NULL;
  g_autofree char *path = NULL;
  g_autofree char *json = NULL;

  if (!check_id (id, error))
    return FALSE;

  record = cas_conversation_store_load (self, id, NULL);
  if (record == NULL)
    {
      record = g_new0 (CasConversationRecord, 1);
      record->session_id = g_strdup (id);
    }
  if (record->created_at == 0)
    record->created_at = now;
  record->started = TRUE;
  record->turns++;
  record->last_used = now;
  g_free (record->model);
  record->model = g_strdup (model);
  if (cli_session_id != NULL)
    {
      g_free (record->cli_session_id);
      record->cli_session_id = g_strdup (cli_session_id);
    }

  path = record_path (self, id);
  json = cas_conversation_record_to_json (record);
  /* CONSISTENT: a crash leaves the old record or the new one, never half. */
  return g_file_set_contents_full (path, json, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                   0600, error);
}

typedef struct {
  char *id;
  char *model;
  char *cli_session_id;
  gint64 now;
} RecordTurnData;

static void
record_turn_data_free (gpointer data)
{
  RecordTurnData *turn = data;

  g_free (turn->id);
  g_free (turn->model);
  g_free (turn->cli_session_id);
  g_free (turn);
}

static void
record_turn_in_thread (GTask        *task,
                       gpointer      source_object,
                       gpointer      task_data,
                       GCancellable *cancellable)
{
  RecordTurnData *turn = task_data;
  GError *error = NULL;

  if (cas_conversation_store_record_turn (source_object, turn->id, turn->model,
                                          turn->cli_session_id, turn->now, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
cas_conversation_store_record_turn_async (CasConversationStore *self,
                                          const char           *id,
                                          const char           *model,
                                          const char           *cli_session_id,
                                          gint64                now,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data)
{
  g_autoptr (GTask) task = g_task_new (self, NULL, callback, user_data);
  RecordTurnData *turn = g_new0 (RecordTurnData, 1);

  g_task_set_source_tag (task, cas_conversation_store_record_turn_async);
  turn->id = g_strdup (id);
  turn->model = g_strdup (model);
  turn->cli_session_id = g_strdup (cli_session_id);
  turn->now = now;
  g_task_set_task_data (task, turn, record_turn_data_free);
  g_task_run_in_thread (task, record_turn_in_thread);
}

gboolean
cas_conversation_store_record_turn_finish (CasConversationStore *self,
                                           GAsyncResult         *result,
                                           GError              **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* An expired record of our own, checked again just before it goes: a
 * turn may have written it since the listing. */
static gboolean
record_is_expired (CasConversationStore *self,
                   const char           *id,
                   gint64                cutoff)
{
  g_autoptr (CasConversationRecord) record = cas_conversation_store_load (self, id, NULL);

  return record != NULL && record->last_used < cutoff;
}

guint
cas_conversation_store_sweep (CasConversationStore *self,
                              gint64                cutoff,
                              GHashTable           *keep)
{
  g_autoptr (GDir) dir = g_dir_open (self->dir, 0, NULL);
  const char *name;
  guint removed = 0;

  if (dir == NULL)
    return 0;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *id = NULL;
      g_autofree char *lower = NULL;
      g_autofree char *path = NULL;

      if (!g_str_has_suffix (name, ".json"))
        continue;
      id = g_strndup (name, strlen (name) - strlen (".json"));
      if (!cas_conversation_id_is_valid (id))
        continue;
      lower = g_ascii_strdown (id, -1);
      if (keep != NULL && g_hash_table_contains (keep, lower))
        continue;
      /* load () takes only a small regular file, never a link. */
      if (!record_is_expired (self, id, cutoff))
        continue;
      path = record_path (self, id);
      if (g_unlink (path) != 0)
        {
          g_message (_("Could not remove the conversation record %s: %s"), path,
                     g_strerror (errno));
          continue;
        }
      removed++;
    }
  return removed;
}

typedef struct {
  gint64 cutoff;
  GHashTable *keep; /* (owned) (nullable) */
} SweepData;

static void
sweep_data_free (gpointer data)
{
  SweepData *sweep = data;

  g_clear_pointer (&sweep->keep, g_hash_table_unref);
  g_free (sweep);
}

static void
sweep_in_thread (GTask        *task,
                 gpointer      source_object,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  SweepData *sweep = task_data;

  g_task_return_int (task, cas_conversation_store_sweep (source_object, sweep->cutoff,
                                                         sweep->keep));
}

void
cas_conversation_store_sweep_async (CasConversationStore *self,
                                    gint64                cutoff,
                                    GHashTable           *keep,
                                    GAsyncReadyCallback   callback,
                                    gpointer              user_data)
{
  g_autoptr (GTask) task = g_task_new (self, NULL, callback, user_data);
  SweepData *sweep = g_new0 (SweepData, 1);

  g_task_set_source_tag (task, cas_conversation_store_sweep_async);
  sweep->cutoff = cutoff;
  sweep->keep = keep;
  g_task_set_task_data (task, sweep, sweep_data_free);
  g_task_run_in_thread (task, sweep_in_thread);
}

guint
cas_conversation_store_sweep_finish (CasConversationStore *self,
                                     GAsyncResult         *result,
                                     GError              **error)
{
  gssize removed;

  g_return_val_if_fail (g_task_is_valid (result, self), 0);

  removed = g_task_propagate_int (G_TASK (result), error);
  return removed > 0 ? (guint) removed : 0;
}
