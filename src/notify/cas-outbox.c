/* cas-outbox.c: the doorbells not yet delivered, and the ids already rung.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-notify"

#include "config.h"

#include <string.h>

#include "cas-error.h"
#include "cas-json.h"
#include "cas-outbox.h"

#define OUTBOX_VERSION 1
/* Sender names are ours; anything longer or stranger is not. */
#define MAX_SENDER_NAME 32
#define MAX_PENDING_PER_ENTRY 8

struct _CasOutbox
{
  GPtrArray *entries; /* (owned) (element-type CasOutboxEntry) oldest first */
  GHashTable *by_id;  /* (owned) id (borrowed from the entry) -> entry */
};

static void
entry_free (gpointer data)
{
  CasOutboxEntry *entry = data;

  cas_notification_unref (entry->notification);
  g_ptr_array_unref (entry->pending);
  g_free (entry);
}

CasOutbox *
cas_outbox_new (void)
{
  CasOutbox *self = g_new0 (CasOutbox, 1);

  self->entries = g_ptr_array_new_with_free_func (entry_free);
  self->by_id = g_hash_table_new (g_str_hash, g_str_equal);
  return self;
}

void
cas_outbox_free (CasOutbox *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->by_id);
  g_ptr_array_unref (self->entries);
  g_free (self);
}

GPtrArray *
cas_outbox_get_entries (CasOutbox *self)
{
  return self->entries;
}

CasOutboxEntry *
cas_outbox_lookup (CasOutbox  *self,
                   const char *id)
{
  return id != NULL ? g_hash_table_lookup (self->by_id, id) : NULL;
}

static gboolean
sender_name_is_valid (const char *name)
{
  gsize length = name != NULL ? strlen (name) : 0;

  if (length == 0 || length > MAX_SENDER_NAME)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_islower (name[i]) && !g_ascii_isdigit (name[i]) && name[i] != '-')
      return FALSE;
  return TRUE;
}

static gboolean
has_string (GPtrArray  *array,
            const char *text)
{
  for (guint i = 0; i < array->len; i++)
    if (g_strcmp0 (array->pdata[i], text) == 0)
      return TRUE;
  return FALSE;
}

static void
insert_entry (CasOutbox      *self,
              CasOutboxEntry *entry)
{
  g_ptr_array_add (self->entries, entry);
  g_hash_table_insert (self->by_id, entry->notification->id, entry);
}

gboolean
cas_outbox_add (CasOutbox          *self,
                CasNotification    *notification,
                const char * const *senders,
                gint64              now)
{
  CasOutboxEntry *entry;

  if (cas_outbox_lookup (self, notification->id) != NULL)
    return FALSE;
  entry = g_new0 (CasOutboxEntry, 1);
  entry->notification = cas_notification_ref (notification);
  entry->rung_at = now;
  entry->pending = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; senders != NULL && senders[i] != NULL; i++)
    if (!has_string (entry->pending, senders[i]))
      g_ptr_array_add (entry->pending, g_strdup (senders[i]));
  insert_entry (self, entry);
  return TRUE;
}

gboolean
cas_outbox_mark_delivered (CasOutbox  *self,
                           const char *id,
                           const char *sender)
{
  CasOutboxEntry *entry = cas_outbox_lookup (self, id);

  if (entry == NULL)
    return FALSE;
  for (guint i = 0; i < entry->pending->len; i++)
    if (g_strcmp0 (entry->pending->pdata[i], sender) == 0)
      {
        g_ptr_array_remove_index (entry->pending, i);
        return TRUE;
      }
  return FALSE;
}

guint
cas_outbox_count_pending (CasOutbox *self)
{
  guint count = 0;

  for (guint i = 0; i < self->entries->len; i++)
    count += ((CasOutboxEntry *) self->entries->pdata[i])->pending->len;
  return count;
}

static void
remove_entry_at (CasOutbox *self,
                 guint      index)
{
  CasOutboxEntry *entry = self->entries->pdata[index];

  g_hash_table_remove (self->by_id, entry->notification->id);
  g_ptr_array_remove_index (self->entries, index);
}

guint
cas_outbox_prune (CasOutbox          *self,
                  const char * const *senders,
                  gint64              now,
                  gboolean           *changed)
{
  guint given_up = 0;
  gboolean any = FALSE;

  for (guint i = self->entries->len; i-- > 0;)
    {
      CasOutboxEntry *entry = self->entries->pdata[i];
      /* A clock set back must not make entries immortal or instant. */
      gint64 age = now - entry->rung_at;

      for (guint j = entry->pending->len; j-- > 0;)
        {
          const char *name = entry->pending->pdata[j];

          if (age > CAS_OUTBOX_PENDING_SECONDS ||
              senders == NULL || !g_strv_contains (senders, name))
            {
              g_ptr_array_remove_index (entry->pending, j);
              given_up++;
              any = TRUE;
            }
        }
      if (entry->pending->len == 0 && age > CAS_OUTBOX_REMEMBER_SECONDS)
        {
          remove_entry_at (self, i);
          any = TRUE;
        }
    }

  /* Over the cap: the oldest delivered entries go first, then the oldest. */
  for (guint i = 0; self->entries->len > CAS_OUTBOX_MAX_ENTRIES && i < self->entries->len;)
    {
      CasOutboxEntry *entry = self->entries->pdata[i];

      if (entry->pending->len == 0)
        {
          remove_entry_at (self, i);
          any = TRUE;
        }
      else
        i++;
    }
  while (self->entries->len > CAS_OUTBOX_MAX_ENTRIES)
    {
      given_up += ((CasOutboxEntry *) self->entries->pdata[0])->pending->len;
      remove_entry_at (self, 0);
      any = TRUE;
    }

  if (changed != NULL)
    *changed = any;
  return given_up;
}

char *
cas_outbox_to_json (CasOutbox *self)
{
  GString *out = g_string_sized_new (256 + 512 * self->entries->len);

  g_string_append_printf (out, "{\"version\":%d,\"entries\":[", OUTBOX_VERSION);
  for (guint i = 0; i < self->entries->len; i++)
    {
      CasOutboxEntry *entry = self->entries->pdata[i];

      if (i > 0)
        g_string_append_c (out, ',');
      g_string_append (out, "\n{\"notification\":");
      cas_notification_append_json (entry->notification, out);
      g_string_append_printf (out, ",\"rung_at\":%" G_GINT64_FORMAT ",\"pending\":[",
                              entry->rung_at);
      for (guint j = 0; j < entry->pending->len; j++)
        {
          if (j > 0)
            g_string_append_c (out, ',');
          cas_json_append_string (out, entry->pending->pdata[j]);
        }
      g_string_append (out, "]}");
    }
  g_string_append (out, "\n]}\n");
  return g_string_free (out, FALSE);
}

static CasOutboxEntry *
entry_from_node (JsonNode *node)
{
  JsonObject *object;
  JsonArray *pending;
  JsonNode *rung_at;
  g_autoptr (CasNotification) notification = NULL;
  CasOutboxEntry *entry;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  object = json_node_get_object (node);
  notification = cas_notification_from_json (cas_json_get_object (object, "notification"), NULL);
  pending = cas_json_get_array (object, "pending");
  rung_at = json_object_get_member (object, "rung_at");
  if (notification == NULL || pending == NULL ||
      json_array_get_length (pending) > MAX_PENDING_PER_ENTRY ||
      rung_at == NULL || !JSON_NODE_HOLDS_VALUE (rung_at) ||
      json_node_get_value_type (rung_at) != G_TYPE_INT64 ||
      json_node_get_int (rung_at) < 0)
    return NULL;

  entry = g_new0 (CasOutboxEntry, 1);
  entry->notification = g_steal_pointer (&notification);
  entry->rung_at = json_node_get_int (rung_at);
  entry->pending = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < json_array_get_length (pending); i++)
    {
      JsonNode *name = json_array_get_element (pending, i);

      if (!JSON_NODE_HOLDS_VALUE (name) || json_node_get_value_type (name) != G_TYPE_STRING ||
          !sender_name_is_valid (json_node_get_string (name)))
        {
          entry_free (entry);
          return NULL;
        }
      if (!has_string (entry->pending, json_node_get_string (name)))
        g_ptr_array_add (entry->pending, g_strdup (json_node_get_string (name)));
    }
  return entry;
}

CasOutbox *
cas_outbox_from_json (const char *data,
                      gsize       length,
                      guint      *n_skipped,
                      GError    **error)
{
  g_autoptr (JsonObject) root = NULL;
  g_autoptr (CasOutbox) self = NULL;
  JsonArray *entries;
  guint skipped = 0;

  if (length > CAS_OUTBOX_MAX_FILE_BYTES)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "larger than %d bytes", CAS_OUTBOX_MAX_FILE_BYTES);
      return NULL;
    }
  root = cas_json_parse_object (data, length, error);
  if (root == NULL)
    return NULL;
  if (cas_json_get_int (root, "version", 0) != OUTBOX_VERSION ||
      (entries = cas_json_get_array (root, "entries")) == NULL)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "not a version %d outbox", OUTBOX_VERSION);
      return NULL;
    }

  self = cas_outbox_new ();
  for (guint i = 0; i < json_array_get_length (entries); i++)
    {
      CasOutboxEntry *entry;

      if (self->entries->len >= CAS_OUTBOX_MAX_ENTRIES)
        {
          skipped += json_array_get_length (entries) - i;
          break;
        }
      entry = entry_from_node (json_array_get_element (entries, i));
      if (entry == NULL || cas_outbox_lookup (self, entry->notification->id) != NULL)
        {
          if (entry != NULL)
            entry_free (entry);
          skipped++;
          continue;
        }
      insert_entry (self, entry);
    }
  if (n_skipped != NULL)
    *n_skipped = skipped;
  return g_steal_pointer (&self);
}
