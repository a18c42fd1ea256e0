/* cas-cli-pool.c: warm claude processes per key, refilled when idle.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-cli"

#include "config.h"

#include "cas-cli-pool.h"

/* The processes of one argv and working directory. */
typedef struct {
  CasCliPool *pool;        /* (unowned) */
  char *key;               /* (owned) */
  GStrv argv;              /* (owned) */
  char *cwd;               /* (owned) (nullable) */
  GQueue idle;             /* CasCliProcess (owned), oldest first */
  gint64 last_wanted_us;   /* monotonic */
  guint refill_id;
} PoolKey;

struct _CasCliPool
{
  GObject parent_instance;

  CasCliPoolLimits limits;
  GHashTable *keys;        /* (owned) key -> PoolKey (owned) */
  guint sweep_id;
  CasCliPoolStats stats;   /* warm is counted on demand */
};

G_DEFINE_FINAL_TYPE (CasCliPool, cas_cli_pool, G_TYPE_OBJECT)

static void
drop_idle (PoolKey *entry)
{
  CasCliProcess *process;

  while ((process = g_queue_pop_head (&entry->idle)) != NULL)
    {
      g_signal_handlers_disconnect_by_data (process, entry);
      cas_cli_process_stop (process);
      g_object_unref (process);
    }
}

static void
pool_key_free (gpointer data)
{
  PoolKey *entry = data;

  g_clear_handle_id (&entry->refill_id, g_source_remove);
  drop_idle (entry);
  g_free (entry->key);
  g_strfreev (entry->argv);
  g_free (entry->cwd);
  g_free (entry);
}

static void
cas_cli_pool_dispose (GObject *object)
{
  CasCliPool *self = CAS_CLI_POOL (object);

  g_clear_handle_id (&self->sweep_id, g_source_remove);
  g_clear_pointer (&self->keys, g_hash_table_unref);
  G_OBJECT_CLASS (cas_cli_pool_parent_class)->dispose (object);
}

static void
cas_cli_pool_class_init (CasCliPoolClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cas_cli_pool_dispose;
}

static void
cas_cli_pool_init (CasCliPool *self)
{
  self->keys = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, pool_key_free);
}

/* Keys nobody asked for within the idle time go, with their processes. */
static gboolean
on_sweep (gpointer user_data)
{
  CasCliPool *self = user_data;
  gint64 oldest = g_get_monotonic_time () - (gint64) self->limits.idle_seconds * G_USEC_PER_SEC;
  GHashTableIter iter;
  PoolKey *entry;

  g_hash_table_iter_init (&iter, self->keys);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    if (entry->last_wanted_us < oldest)
      {
        g_debug ("pool: nobody asked for %s in %u s; dropping it", entry->argv[0],
                 self->limits.idle_seconds);
        g_hash_table_iter_remove (&iter);
      }
  return G_SOURCE_CONTINUE;
}

CasCliPool *
cas_cli_pool_new (const CasCliPoolLimits *limits)
{
  CasCliPool *self = g_object_new (CAS_TYPE_CLI_POOL, NULL);

  self->limits = *limits;
  self->limits.idle_seconds = MAX (self->limits.idle_seconds, 1);
  if (self->limits.size > 0)
    self->sweep_id = g_timeout_add_seconds (MIN (self->limits.idle_seconds, 60), on_sweep, self);
  return self;
}

static char *
make_key (const char * const *argv,
          const char         *cwd)
{
  g_autofree char *joined = g_strjoinv ("\x1f", (char **) argv);

  return g_strconcat (joined, "\x1e", cwd != NULL ? cwd : "", NULL);
}

/* An idle process that ended on its own (it crashed, or the daemon is
 * stopping) is no use to anyone. */
static void
on_idle_finished (CasCliProcess *process,
                  gpointer       user_data)
{
  PoolKey *entry = user_data;

  g_debug ("pool: idle pid %d ended", cas_cli_process_get_pid (process));
  g_signal_handlers_disconnect_by_data (process, entry);
  if (g_queue_remove (&entry->idle, process))
    g_object_unref (process);
}

static gboolean
on_refill (gpointer user_data)
{
  PoolKey *entry = user_data;
  CasCliPool *self = entry->pool;

  entry->refill_id = 0;
  while (g_queue_get_length (&entry->idle) < self->limits.size &&
         cas_cli_process_get_live_count () < self->limits.max_processes)
    {
      g_autoptr (GError) error = NULL;
      CasCliProcess *process =
        cas_cli_process_start_long_lived ((const char * const *) entry->argv, entry->cwd,
                                          self->limits.kill_grace_seconds,
                                          self->limits.max_line_bytes, &error);

      if (process == NULL)
        {
          /* The next request tries again, cold first: no spawn loop. */
          g_debug ("pool: cannot start a warm process: %s", error->message);
          break;
        }
      g_debug ("pool: pid %d is warm", cas_cli_process_get_pid (process));
      g_signal_connect (process, "finished", G_CALLBACK (on_idle_finished), entry);
      g_queue_push_tail (&entry->idle, process);
    }
  return G_SOURCE_REMOVE;
}

static PoolKey *
want_key (CasCliPool         *self,
          const char * const *argv,
          const char         *cwd)
{
  g_autofree char *key = make_key (argv, cwd);
  PoolKey *entry = g_hash_table_lookup (self->keys, key);

  if (entry == NULL)
    {
      entry = g_new0 (PoolKey, 1);
      entry->pool = self;
      entry->key = g_steal_pointer (&key);
      entry->argv = g_strdupv ((char **) argv);
      entry->cwd = g_strdup (cwd);
      g_queue_init (&entry->idle);
      g_hash_table_insert (self->keys, entry->key, entry);
    }
  entry->last_wanted_us = g_get_monotonic_time ();
  /* Low priority: the request that asked goes first. */
  if (entry->refill_id == 0)
    entry->refill_id = g_idle_add_full (G_PRIORITY_LOW, on_refill, entry, NULL);
  return entry;
}

void
cas_cli_pool_prewarm (CasCliPool         *self,
                      const char * const *argv,
                      const char         *cwd)
{
  g_return_if_fail (CAS_IS_CLI_POOL (self));

  if (self->limits.size > 0)
    want_key (self, argv, cwd);
}

static void
on_busy_finished (CasCliProcess *process,
                  gpointer       user_data)
{
  CasCliPool *self = user_data;

  g_signal_handlers_disconnect_by_func (process, on_busy_finished, self);
  self->stats.busy--;
}

CasCliProcess *
cas_cli_pool_take (CasCliPool         *self,
                   const char * const *argv,
                   const char         *cwd)
{
  CasCliProcess *process;
  PoolKey *entry;

  g_return_val_if_fail (CAS_IS_CLI_POOL (self), NULL);

  if (self->limits.size == 0)
    return NULL;
  entry = want_key (self, argv, cwd);
  while ((process = g_queue_pop_head (&entry->idle)) != NULL)
    {
      g_signal_handlers_disconnect_by_data (process, entry);
      if (!cas_cli_process_is_finished (process))
        {
          self->stats.busy++;
          g_signal_connect_object (process, "finished", G_CALLBACK (on_busy_finished), self, 0);
          g_debug ("pool: pid %d taken", cas_cli_process_get_pid (process));
          return process;
        }
      g_object_unref (process);
    }
  self->stats.fallbacks++;
  return NULL;
}

void
cas_cli_pool_retire (CasCliPool    *self,
                     CasCliProcess *process)
{
  g_return_if_fail (CAS_IS_CLI_POOL (self));

  if (process == NULL)
    return;
  self->stats.retired++;
  cas_cli_process_retire (process);
}

void
cas_cli_pool_note_fallback (CasCliPool *self)
{
  g_return_if_fail (CAS_IS_CLI_POOL (self));
  self->stats.fallbacks++;
}

void
cas_cli_pool_get_stats (CasCliPool      *self,
                        CasCliPoolStats *stats)
{
  GHashTableIter iter;
  PoolKey *entry;

  g_return_if_fail (CAS_IS_CLI_POOL (self));

  *stats = self->stats;
  stats->warm = 0;
  g_hash_table_iter_init (&iter, self->keys);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    stats->warm += g_queue_get_length (&entry->idle);
}

void
cas_cli_pool_shutdown (CasCliPool *self)
{
  g_return_if_fail (CAS_IS_CLI_POOL (self));

  self->limits.size = 0;
  g_clear_handle_id (&self->sweep_id, g_source_remove);
  g_hash_table_remove_all (self->keys);
}
