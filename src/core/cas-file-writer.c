/* cas-file-writer.c: one exclusive thread per writer, so that a record's
 * successive versions land in order and the main loop never waits for a
 * disk.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-file-writer"

#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>

#include "cas-file-writer.h"

struct _CasFileWriter {
  GObject parent_instance;

  GThreadPool *thread;   /* (owned) one exclusive thread */
};

G_DEFINE_FINAL_TYPE (CasFileWriter, cas_file_writer, G_TYPE_OBJECT)

typedef struct {
  char *path;       /* (owned) */
  char *contents;   /* (owned) (nullable) NULL: remove the file */
} FileWrite;

static void
file_write_free (gpointer data)
{
  FileWrite *write = data;

  g_free (write->path);
  g_free (write->contents);
  g_free (write);
}

/* In the writer's thread: touches nothing but the task's own data. */
static void
run_write (gpointer data,
           gpointer user_data)
{
  g_autoptr (GTask) task = data;
  FileWrite *write = g_task_get_task_data (task);
  GError *error = NULL;

  if (write->contents != NULL)
    {
      if (!g_file_set_contents_full (write->path, write->contents, -1,
                                     G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
        {
          g_task_return_error (task, error);
          return;
        }
    }
  else if (g_unlink (write->path) != 0 && errno != ENOENT)
    {
      int saved_errno = errno;

      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                               "%s", g_strerror (saved_errno));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

CasFileWriter *
cas_file_writer_new (GError **error)
{
  g_autoptr (CasFileWriter) self = g_object_new (CAS_TYPE_FILE_WRITER, NULL);

  self->thread = g_thread_pool_new (run_write, NULL, 1, TRUE, error);
  if (self->thread == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

void
cas_file_writer_replace_async (CasFileWriter      *self,
                               const char         *path,
                               char               *contents,
                               GAsyncReadyCallback callback,
                               gpointer            user_data)
{
  GTask *task;
  FileWrite *write;

  g_return_if_fail (CAS_IS_FILE_WRITER (self));
  g_return_if_fail (path != NULL);

  task = g_task_new (self, NULL, callback, user_data);
  write = g_new0 (FileWrite, 1);
  write->path = g_strdup (path);
  write->contents = contents;
  g_task_set_source_tag (task, cas_file_writer_replace_async);
  g_task_set_task_data (task, write, file_write_free);
  /* An exclusive pool has its thread already: pushing cannot fail. */
  g_thread_pool_push (self->thread, task, NULL);
}

gboolean
cas_file_writer_replace_finish (CasFileWriter *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
cas_file_writer_finalize (GObject *object)
{
  CasFileWriter *self = CAS_FILE_WRITER (object);

  /* Every task holds a reference on the writer, so none is queued here.
   * The last reference may be dropped by the writer's own thread (the
   * task it just ran): waiting for that thread would be waiting for
   * ourselves. */
  if (self->thread != NULL)
    g_thread_pool_free (self->thread, FALSE, FALSE);

  G_OBJECT_CLASS (cas_file_writer_parent_class)->finalize (object);
}

static void
cas_file_writer_class_init (CasFileWriterClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_file_writer_finalize;
}

static void
cas_file_writer_init (CasFileWriter *self)
{
}
