/* cas-run-store.c: AFK runs on disk, one file a run.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-afk"

#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "cas-afk-parse.h"
#include "cas-error.h"
#include "cas-file-writer.h"
#include "cas-run-store.h"

struct _CasRunStore
{
  GObject parent_instance;

  char *dir;                  /* (owned) <state>/afk/runs */
  CasFileWriter *writer;      /* (owned) */
  GHashTable *runs;           /* (owned) lower-case key -> CasRun (owned) */
  GPtrArray *order;           /* (owned) keys (borrowed from runs), oldest first */
  guint pending;              /* writes not yet on disk */
};

G_DEFINE_FINAL_TYPE (CasRunStore, cas_run_store, G_TYPE_OBJECT)

static void
cas_run_store_finalize (GObject *object)
{
  CasRunStore *self = CAS_RUN_STORE (object);

  g_clear_object (&self->writer);
  g_clear_pointer (&self->order, g_ptr_array_unref);
  g_clear_pointer (&self->runs, g_hash_table_unref);
  g_free (self->dir);

  G_OBJECT_CLASS (cas_run_store_parent_class)->finalize (object);
}

static void
cas_run_store_class_init (CasRunStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_run_store_finalize;
}

static void
cas_run_store_init (CasRunStore *self)
{
  self->runs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify) cas_run_free);
  self->order = g_ptr_array_new ();
}

static char *
make_key (const char *repo,
          guint       number)
{
  g_autofree char *lower = g_ascii_strdown (repo, -1);

  return g_strdup_printf ("%s#%u", lower, number);
}

char *
cas_run_store_file_name (const char *repo,
                         guint       number)
{
  g_autofree char *lower = NULL;
  char *slash;

  if (repo == NULL || !cas_afk_validate_repo (repo, NULL) ||
      number == 0 || number > CAS_AFK_MAX_ISSUE_NUMBER)
    return NULL;
  /* Owners have no '_', so "owner__name" cannot be read two ways. */
  lower = g_ascii_strdown (repo, -1);
  slash = strchr (lower, '/');
  *slash = '\0';
  return g_strdup_printf ("%s__%s__%u.json", lower, slash + 1, number);
}

/* Replaces (or adds) the run of its issue; takes @run. */
static void
keep (CasRunStore *self,
      CasRun      *run)
{
  char *key = make_key (run->repo, run->number);
  gpointer old_key;

  if (g_hash_table_lookup_extended (self->runs, key, &old_key, NULL))
    g_ptr_array_remove (self->order, old_key);
  g_hash_table_replace (self->runs, key, run);
  g_ptr_array_add (self->order, key);
}

static void
set_aside (const char *path,
           const char *why)
{
  g_autofree char *aside = g_strconcat (path, ".corrupt", NULL);

  g_message (_("AFK run file %s is not valid (%s); set aside as %s"), path, why, aside);
  if (g_rename (path, aside) != 0)
    g_message (_("Cannot set %s aside: %s"), path, g_strerror (errno));
}

static void
load_one (CasRunStore *self,
          const char  *name)
{
  g_autofree char *path = g_build_filename (self->dir, name, NULL);
  g_autofree char *data = NULL;
  g_autofree char *expected = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (CasRun) run = NULL;
  gsize length = 0;
  GStatBuf st;

  if (g_lstat (path, &st) != 0 || !S_ISREG (st.st_mode))
    return;
  if (st.st_size > CAS_RUN_STORE_MAX_FILE_BYTES)
    {
      set_aside (path, _("too large"));
      return;
    }
  if (!g_file_get_contents (path, &data, &length, &error))
    {
      g_message (_("Cannot read %s: %s"), path, error->message);
      return;
    }
  run = cas_run_from_json (data, length, &error);
  if (run == NULL)
    {
      set_aside (path, error->message);
      return;
    }
  /* A file renamed by hand must not shadow another issue's run. */
  expected = cas_run_store_file_name (run->repo, run->number);
  if (g_strcmp0 (expected, name) != 0)
    {
      set_aside (path, _("its name does not match the run in it"));
      return;
    }
  keep (self, g_steal_pointer (&run));
}

static gint
compare_created (gconstpointer a,
                 gconstpointer b,
                 gpointer      user_data)
{
  GHashTable *runs = user_data;
  const CasRun *ra = g_hash_table_lookup (runs, *(const char * const *) a);
  const CasRun *rb = g_hash_table_lookup (runs, *(const char * const *) b);

  if (ra->created_us != rb->created_us)
    return ra->created_us < rb->created_us ? -1 : 1;
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

CasRunStore *
cas_run_store_new (const char *state_dir,
                   GError    **error)
{
  g_autoptr (CasRunStore) self = g_object_new (CAS_TYPE_RUN_STORE, NULL);
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_return_val_if_fail (state_dir != NULL, NULL);

  self->dir = g_build_filename (state_dir, "afk", "runs", NULL);
  if (g_mkdir_with_parents (self->dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG, _("Cannot create %s: %s"),
                   self->dir, g_strerror (saved));
      return NULL;
    }
  self->writer = cas_file_writer_new (error);
  if (self->writer == NULL)
    return NULL;
  dir = g_dir_open (self->dir, 0, error);
  if (dir == NULL)
    return NULL;
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".json") && name[0] != '.')
      g_ptr_array_add (names, g_strdup (name));
  for (guint i = 0; i < names->len; i++)
    load_one (self, g_ptr_array_index (names, i));
  g_ptr_array_sort_with_data (self->order, compare_created, self->runs);
  return g_steal_pointer (&self);
}

const CasRun *
cas_run_store_lookup (CasRunStore *self,
                      const char  *repo,
                      guint        number)
{
  g_autofree char *key = NULL;

  g_return_val_if_fail (CAS_IS_RUN_STORE (self), NULL);
  if (repo == NULL)
    return NULL;
  key = make_key (repo, number);
  return g_hash_table_lookup (self->runs, key);
}

GPtrArray *
cas_run_store_list (CasRunStore *self)
{
  GPtrArray *list = g_ptr_array_sized_new (self->order->len);

  for (guint i = 0; i < self->order->len; i++)
    g_ptr_array_add (list, g_hash_table_lookup (self->runs, g_ptr_array_index (self->order, i)));
  return list;
}

void
cas_run_store_add_locks (CasRunStore *self,
                         GPtrArray   *locks)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->runs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const CasRun *run = value;

      if (!cas_run_is_terminal (run))
        g_ptr_array_add (locks, cas_issue_ref_new (run->repo, run->number));
    }
}

gboolean
cas_run_store_repo_is_locked (CasRunStore *self,
                              const char  *repo)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->runs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const CasRun *run = value;

      if (!cas_run_is_terminal (run) && cas_afk_repo_equal (run->repo, repo))
        return TRUE;
    }
  return FALSE;
}

static void
on_written (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  CasRunStore *self = g_task_get_source_object (task);

  self->pending--;
  if (!cas_file_writer_replace_finish (CAS_FILE_WRITER (source), result, &error))
    {
      g_message (_("Cannot save the AFK run: %s"), error->message);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

void
cas_run_store_save_async (CasRunStore        *self,
                          const CasRun       *run,
                          GAsyncReadyCallback callback,
                          gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (self, NULL, callback, user_data);
  g_autofree char *name = NULL;
  g_autofree char *path = NULL;
  g_autofree char *json = NULL;
  g_autoptr (CasRun) check = NULL;
  g_autoptr (GError) error = NULL;

  g_task_set_source_tag (task, cas_run_store_save_async);
  g_return_if_fail (CAS_IS_RUN_STORE (self));
  g_return_if_fail (run != NULL);

  name = cas_run_store_file_name (run->repo, run->number);
  if (name == NULL)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                               _("Not a valid run"));
      return;
    }
  /* Never write what the next start would set aside. */
  json = cas_run_to_json (run);
  check = cas_run_from_json (json, strlen (json), &error);
  if (check == NULL)
    {
      g_message (_("Cannot save the AFK run: %s"), error->message);
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT, "%s",
                               error->message);
      return;
    }
  path = g_build_filename (self->dir, name, NULL);
  keep (self, cas_run_copy (run));
  self->pending++;
  cas_file_writer_replace_async (self->writer, path, g_steal_pointer (&json), on_written,
                                 g_steal_pointer (&task));
}

guint
cas_run_store_get_pending (CasRunStore *self)
{
  g_return_val_if_fail (CAS_IS_RUN_STORE (self), 0);
  return self->pending;
}

gboolean
cas_run_store_save_finish (CasRunStore  *self,
                           GAsyncResult *result,
                           GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
