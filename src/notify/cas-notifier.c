/* cas-notifier.c: the doorbell service: senders and a persisted outbox.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-notify"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "cas-desktop-sender.h"
#include "cas-error.h"
#include "cas-file-writer.h"
#include "cas-notifier.h"
#include "cas-ntfy-sender.h"
#include "cas-outbox.h"
#include "cas-slack-sender.h"

struct _CasNotifier
{
  GObject parent_instance;

  GPtrArray *senders;   /* (owned) (element-type CasNotifySender) */
  GStrv sender_names;   /* (owned) */
  char *path;           /* (owned) the outbox file */
  CasFileWriter *writer; /* (owned) */
  CasOutbox *outbox;    /* (owned) */
  GHashTable *in_flight; /* (owned) "id\nsender" (borrowed) -> Attempt on its way */
  GHashTable *failures;  /* (owned) "id\nsender" -> last failure logged */

  /* The outbox on disk: one write at a time, the latest state last. */
  gboolean writing;
  gboolean dirty;          /* memory has changed since the last write began */
  GPtrArray *save_waiters;    /* (owned) tasks waiting for a write not begun */
  GPtrArray *writing_waiters; /* (owned) tasks waiting for the write on its way */
  char *last_write_error;     /* (owned) (nullable) to log each cause once */
  gboolean write_failed;      /* the last write failed: write again at the next flush */
};

enum {
  SIGNAL_DISARM_REQUESTED,
  N_SIGNALS,
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CasNotifier, cas_notifier, G_TYPE_OBJECT)

typedef struct {
  guint started;
  guint finished;
  guint failed;
} FlushData;

static char *
pair_key (const char *id,
          const char *sender)
{
  return g_strconcat (id, "\n", sender, NULL);
}

static CasNotifySender *
find_sender (CasNotifier *self,
             const char  *name)
{
  for (guint i = 0; i < self->senders->len; i++)
    if (g_strcmp0 (cas_notify_sender_get_name (self->senders->pdata[i]), name) == 0)
      return self->senders->pdata[i];
  return NULL;
}

/* Writing the outbox */

static void
complete_waiter (GTask        *task,
                 const GError *write_error)
{
  if (g_task_get_source_tag (task) == cas_notifier_flush_async)
    {
      FlushData *flush = g_task_get_task_data (task);

      if (flush->failed > 0)
        g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_FAILED,
                                 "%u of %u deliveries failed", flush->failed, flush->started);
      else if (write_error != NULL)
        g_task_return_error (task, g_error_copy (write_error));
      else
        g_task_return_boolean (task, TRUE);
      return;
    }
  if (write_error != NULL)
    g_task_return_error (task, g_error_copy (write_error));
  else
    g_task_return_boolean (task, TRUE);
}

static void start_write (CasNotifier *self);

static void
write_done (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr (CasNotifier) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) waiters = NULL;

  self->writing = FALSE;
  if (!cas_file_writer_replace_finish (CAS_FILE_WRITER (source), result, &error))
    {
      if (g_strcmp0 (self->last_write_error, error->message) != 0)
        g_message (_("Cannot store the notification outbox: %s"), error->message);
      g_free (self->last_write_error);
      self->last_write_error = g_strdup (error->message);
      /* Tried again at the next flush, not at once (a full disk stays full). */
      self->write_failed = TRUE;
    }
  else
    {
      g_clear_pointer (&self->last_write_error, g_free);
      self->write_failed = FALSE;
    }

  waiters = g_steal_pointer (&self->writing_waiters);
  self->writing_waiters = g_ptr_array_new_with_free_func (g_object_unref);
  if (self->dirty)
    start_write (self);
  for (guint i = 0; i < waiters->len; i++)
    complete_waiter (waiters->pdata[i], error);
}

static void
start_write (CasNotifier *self)
{
  self->writing = TRUE;
  self->dirty = FALSE;
  g_ptr_array_extend_and_steal (self->writing_waiters, g_steal_pointer (&self->save_waiters));
  self->save_waiters = g_ptr_array_new_with_free_func (g_object_unref);
  /* Replaced atomically with fsync: a crash leaves the old outbox or the
   * new one, never half of one. */
  cas_file_writer_replace_async (self->writer, self->path, cas_outbox_to_json (self->outbox),
                                 write_done, g_object_ref (self));
}

static void
mark_dirty (CasNotifier *self)
{
  self->dirty = TRUE;
  if (!self->writing)
    start_write (self);
}

/* Completes @waiter once what is in memory now is on disk. */
static void
wait_for_disk (CasNotifier *self,
               GTask       *waiter)
{
  if (self->dirty)
    g_ptr_array_add (self->save_waiters, g_object_ref (waiter));
  else if (self->writing)
    g_ptr_array_add (self->writing_waiters, g_object_ref (waiter));
  else
    complete_waiter (waiter, NULL);
}

/* Loading the outbox */

static void
keep_aside (const char *path)
{
  g_autofree char *aside = g_strconcat (path, ".corrupt", NULL);

  if (g_rename (path, aside) != 0)
    g_message (_("Cannot move %s aside: %s"), path, g_strerror (errno));
  else
    g_message (_("Kept a copy of the unreadable outbox as %s"), aside);
}

static CasOutbox *
load_outbox (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  gsize length = 0;
  GStatBuf st;
  CasOutbox *outbox;
  guint skipped = 0;

  if (g_lstat (path, &st) != 0)
    {
      if (errno != ENOENT)
        g_message (_("Cannot read the notification outbox %s: %s"), path, g_strerror (errno));
      return cas_outbox_new ();
    }
  if (!S_ISREG (st.st_mode) || st.st_size > CAS_OUTBOX_MAX_FILE_BYTES)
    {
      g_message (_("The notification outbox %s is not a file of at most %d bytes; starting empty"),
                 path, CAS_OUTBOX_MAX_FILE_BYTES);
      keep_aside (path);
      return cas_outbox_new ();
    }
  if (!g_file_get_contents (path, &data, &length, &error))
    {
      g_message (_("Cannot read the notification outbox %s: %s"), path, error->message);
      return cas_outbox_new ();
    }
  outbox = cas_outbox_from_json (data, length, &skipped, &error);
  if (outbox == NULL)
    {
      g_message (_("The notification outbox %s is corrupt (%s); starting empty"),
                 path, error->message);
      keep_aside (path);
      return cas_outbox_new ();
    }
  if (skipped > 0)
    g_message (ngettext ("Skipped %u unreadable entry of the notification outbox %s",
                         "Skipped %u unreadable entries of the notification outbox %s",
                         skipped),
               skipped, path);
  return outbox;
}

/* Pruning: what is too old or for a sender no longer configured. */
static void
prune (CasNotifier *self)
{
  gboolean changed = FALSE;
  guint given_up = cas_outbox_prune (self->outbox, (const char * const *) self->sender_names,
                                     g_get_real_time () / G_USEC_PER_SEC, &changed);

  if (given_up > 0)
    g_message (ngettext ("Gave up %u notification delivery (too old, or its sender is no longer configured)",
                         "Gave up %u notification deliveries (too old, or their sender is no longer configured)",
                         given_up),
               given_up);
  if (changed)
    mark_dirty (self);
}

/* Flushing */

/* One send of one (notification, sender) pair; every flush that found
 * the pair pending waits for it, so a flush ends when each pair pending
 * at its start has been tried once. */
typedef struct {
  CasNotifier *self;       /* (owned) */
  GPtrArray *flushes;      /* (owned) (element-type GTask) */
  char *key;               /* (owned) */
  char *id;                /* (owned) */
  CasNotifySender *sender; /* (owned) */
} Attempt;

static void
attempt_free (Attempt *attempt)
{
  g_object_unref (attempt->self);
  g_ptr_array_unref (attempt->flushes);
  g_free (attempt->key);
  g_free (attempt->id);
  g_object_unref (attempt->sender);
  g_free (attempt);
}

static void
log_failure (CasNotifier  *self,
             Attempt      *attempt,
             const GError *error)
{
  const char *name = cas_notify_sender_get_name (attempt->sender);
  const char *last = g_hash_table_lookup (self->failures, attempt->key);

  /* Once per cause: a sender that is down is retried at every tick. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED) ||
      g_strcmp0 (last, error->message) == 0)
    g_debug ("Could not ring %s through %s (again): %s", attempt->id, name, error->message);
  else
    g_message (_("Could not ring %s through %s, will retry: %s"),
               attempt->id, name, error->message);
  g_hash_table_insert (self->failures, g_strdup (attempt->key), g_strdup (error->message));
}

static void
attempt_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Attempt *attempt = user_data;
  CasNotifier *self = attempt->self;
  g_autoptr (GError) error = NULL;
  gboolean delivered;

  g_hash_table_remove (self->in_flight, attempt->key);
  delivered = cas_notify_sender_send_finish (attempt->sender, result, &error);
  if (delivered)
    {
      g_debug ("Rang %s through %s", attempt->id, cas_notify_sender_get_name (attempt->sender));
      g_hash_table_remove (self->failures, attempt->key);
      if (cas_outbox_mark_delivered (self->outbox, attempt->id,
                                     cas_notify_sender_get_name (attempt->sender)))
        mark_dirty (self);
    }
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    log_failure (self, attempt, error);

  for (guint i = 0; i < attempt->flushes->len; i++)
    {
      GTask *flush_task = attempt->flushes->pdata[i];
      FlushData *flush = g_task_get_task_data (flush_task);

      if (!delivered)
        flush->failed++;
      flush->finished++;
      if (flush->finished == flush->started)
        wait_for_disk (self, flush_task);
    }
  attempt_free (attempt);
}

void
cas_notifier_flush_async (CasNotifier        *self,
                          GCancellable       *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer            user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GPtrArray) attempts = g_ptr_array_new ();
  GPtrArray *entries;
  FlushData *flush;

  g_return_if_fail (CAS_IS_NOTIFIER (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cas_notifier_flush_async);
  flush = g_new0 (FlushData, 1);
  g_task_set_task_data (task, flush, g_free);

  if (self->write_failed && !self->writing)
    mark_dirty (self);
  prune (self);
  entries = cas_outbox_get_entries (self->outbox);
  for (guint i = 0; i < entries->len; i++)
    {
      CasOutboxEntry *entry = entries->pdata[i];

      for (guint j = 0; j < entry->pending->len; j++)
        {
          const char *name = entry->pending->pdata[j];
          CasNotifySender *sender = find_sender (self, name);
          g_autofree char *key = pair_key (entry->notification->id, name);
          Attempt *attempt;

          if (sender == NULL)
            continue;
          flush->started++;
          attempt = g_hash_table_lookup (self->in_flight, key);
          if (attempt != NULL)
            {
              /* On its way already: never sent twice at once. */
              g_ptr_array_add (attempt->flushes, g_object_ref (task));
              continue;
            }
          attempt = g_new0 (Attempt, 1);
          attempt->self = g_object_ref (self);
          attempt->flushes = g_ptr_array_new_with_free_func (g_object_unref);
          g_ptr_array_add (attempt->flushes, g_object_ref (task));
          attempt->id = g_strdup (entry->notification->id);
          attempt->sender = g_object_ref (sender);
          attempt->key = g_steal_pointer (&key);
          g_hash_table_insert (self->in_flight, attempt->key, attempt);
          g_ptr_array_add (attempts, attempt);
        }
    }

  if (flush->started == 0)
    {
      wait_for_disk (self, task);
      return;
    }
  /* Started after the walk: a callback may change the outbox. */
  for (guint i = 0; i < attempts->len; i++)
    {
      Attempt *attempt = attempts->pdata[i];
      CasOutboxEntry *entry = cas_outbox_lookup (self->outbox, attempt->id);

      cas_notify_sender_send_async (attempt->sender, entry->notification, cancellable,
                                    attempt_done, attempt);
    }
}

gboolean
cas_notifier_flush_finish (CasNotifier  *self,
                           GAsyncResult *result,
                           GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
cas_notifier_sync_async (CasNotifier        *self,
                         GCancellable       *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, cas_notifier_sync_async);
  wait_for_disk (self, task);
}

gboolean
cas_notifier_sync_finish (CasNotifier  *self,
                          GAsyncResult *result,
                          GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
ring_flushed (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  /* Failures are logged and retried by the next flush. */
  cas_notifier_flush_finish (CAS_NOTIFIER (source), result, NULL);
}

gboolean
cas_notifier_ring (CasNotifier     *self,
                   CasNotification *notification)
{
  g_return_val_if_fail (CAS_IS_NOTIFIER (self), FALSE);
  g_return_val_if_fail (notification != NULL, FALSE);

  if (!cas_outbox_add (self->outbox, notification, (const char * const *) self->sender_names,
                       g_get_real_time () / G_USEC_PER_SEC))
    {
      g_debug ("%s was rung already", notification->id);
      return FALSE;
    }
  g_debug ("Ringing %s", notification->id);
  mark_dirty (self);
  cas_notifier_flush_async (self, NULL, ring_flushed, NULL);
  return TRUE;
}

void
cas_notifier_ring_async (CasNotifier        *self,
                         CasNotification    *notification,
                         GCancellable       *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer            user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (CAS_IS_NOTIFIER (self));
  g_return_if_fail (notification != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cas_notifier_ring_async);
  g_task_set_task_data (task, GINT_TO_POINTER (cas_notifier_ring (self, notification)), NULL);
  wait_for_disk (self, task);
}

gboolean
cas_notifier_ring_finish (CasNotifier  *self,
                          GAsyncResult *result,
                          gboolean     *is_new,
                          GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  if (is_new != NULL)
    *is_new = GPOINTER_TO_INT (g_task_get_task_data (G_TASK (result)));
  return g_task_propagate_boolean (G_TASK (result), error);
}

guint
cas_notifier_count_pending (CasNotifier *self)
{
  return cas_outbox_count_pending (self->outbox);
}

GStrv
cas_notifier_dup_sender_names (CasNotifier *self)
{
  return g_strdupv (self->sender_names);
}

static void
forward_disarm (CasNotifySender *sender,
                const char      *id,
                gpointer         user_data)
{
  g_signal_emit (user_data, signals[SIGNAL_DISARM_REQUESTED], 0, id);
}

static void
cas_notifier_dispose (GObject *object)
{
  CasNotifier *self = CAS_NOTIFIER (object);

  if (self->senders != NULL)
    for (guint i = 0; i < self->senders->len; i++)
      g_signal_handlers_disconnect_by_data (self->senders->pdata[i], self);
  g_clear_pointer (&self->senders, g_ptr_array_unref);

  G_OBJECT_CLASS (cas_notifier_parent_class)->dispose (object);
}

static void
cas_notifier_finalize (GObject *object)
{
  CasNotifier *self = CAS_NOTIFIER (object);

  g_strfreev (self->sender_names);
  g_free (self->path);
  g_clear_object (&self->writer);
  g_clear_pointer (&self->outbox, cas_outbox_free);
  g_hash_table_unref (self->in_flight);
  g_hash_table_unref (self->failures);
  g_ptr_array_unref (self->save_waiters);
  g_ptr_array_unref (self->writing_waiters);
  g_free (self->last_write_error);

  G_OBJECT_CLASS (cas_notifier_parent_class)->finalize (object);
}

static void
cas_notifier_class_init (CasNotifierClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cas_notifier_dispose;
  object_class->finalize = cas_notifier_finalize;

  signals[SIGNAL_DISARM_REQUESTED] =
    g_signal_new ("disarm-requested", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
cas_notifier_init (CasNotifier *self)
{
  self->in_flight = g_hash_table_new (g_str_hash, g_str_equal);
  self->failures = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->save_waiters = g_ptr_array_new_with_free_func (g_object_unref);
  self->writing_waiters = g_ptr_array_new_with_free_func (g_object_unref);
}

CasNotifier *
cas_notifier_new_with_senders (GPtrArray  *senders,
                               const char *state_dir,
                               GError    **error)
{
  g_autoptr (CasNotifier) self = g_object_new (CAS_TYPE_NOTIFIER, NULL);
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();

  g_return_val_if_fail (state_dir != NULL, NULL);

  if (g_mkdir_with_parents (state_dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   _("Cannot create %s: %s"), state_dir, g_strerror (saved_errno));
      return NULL;
    }
  self->senders = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; senders != NULL && i < senders->len; i++)
    {
      CasNotifySender *sender = senders->pdata[i];

      g_ptr_array_add (self->senders, g_object_ref (sender));
      g_strv_builder_add (names, cas_notify_sender_get_name (sender));
      if (g_signal_lookup ("disarm-requested", G_OBJECT_TYPE (sender)) != 0)
        g_signal_connect (sender, "disarm-requested", G_CALLBACK (forward_disarm), self);
    }
  self->sender_names = g_strv_builder_end (names);
  self->writer = cas_file_writer_new (error);
  if (self->writer == NULL)
    return NULL;
  self->path = g_build_filename (state_dir, CAS_NOTIFIER_OUTBOX_FILE, NULL);
  self->outbox = load_outbox (self->path);
  prune (self);
  return g_steal_pointer (&self);
}

CasNotifier *
cas_notifier_new (const CasConfig    *config,
                  const char         *state_dir,
                  const char * const *envp,
                  GError            **error)
{
  g_autoptr (GPtrArray) senders = g_ptr_array_new_with_free_func (g_object_unref);
  gboolean has_url = config->notify_ntfy_url != NULL && *config->notify_ntfy_url != '\0';
  gboolean has_topic = config->notify_ntfy_topic != NULL && *config->notify_ntfy_topic != '\0';

  if (config->notify_desktop)
    g_ptr_array_add (senders, cas_desktop_sender_new ());
  if (has_url != has_topic)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_CONFIG,
                           _("[notify] ntfy-url and ntfy-topic go together: set both or neither"));
      return NULL;
    }
  if (has_url)
    {
      CasNtfySender *ntfy = cas_ntfy_sender_new (config->notify_ntfy_url,
                                                 config->notify_ntfy_topic,
                                                 config->notify_ntfy_token_file, envp, error);

      if (ntfy == NULL)
        return NULL;
      g_ptr_array_add (senders, ntfy);
    }
  if (cas_slack_sender_is_configured (config->notify_slack_webhook_file, envp))
    g_ptr_array_add (senders, cas_slack_sender_new (config->notify_slack_webhook_file, envp));

  return cas_notifier_new_with_senders (senders, state_dir, error);
}
