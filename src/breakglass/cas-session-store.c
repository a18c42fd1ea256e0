/* cas-session-store.c: one worker thread writes every session's files.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-breakglass"

#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "cas-error.h"
#include "cas-session-store.h"

/* Operations the thread takes in one go before it reports back. */
#define MAX_BATCH 512

typedef enum {
  OP_CREATE,
  OP_APPEND,
  OP_REPLACE,
  OP_SYNC,
  OP_CLOSE,
  OP_REMOVE_TREE,
  OP_STOP,
} OpKind;

typedef struct {
  OpKind kind;
  int fd;
  char *path;       /* (owned) (nullable) */
  char *data;       /* (owned) (nullable) */
  gsize len;
  CasSessionStoreDone done;
  gpointer user_data;
  GError *error;    /* (owned) (nullable) set by the thread */
} Op;

struct _CasSessionStore
{
  GObject parent_instance;

  GThread *thread;          /* (owned) (nullable) */
  GAsyncQueue *queue;       /* (owned) of Op */
  GMutex lock;              /* guards finished and dispatch_scheduled */
  GQueue finished;          /* Ops written, to report on the main context */
  gboolean dispatch_scheduled;
  GMainContext *context;    /* (owned) where completions run */
  gboolean stopped;
};

enum {
  SIGNAL_BATCH_DONE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CasSessionStore, cas_session_store, G_TYPE_OBJECT)

static void
op_free (Op *op)
{
  g_free (op->path);
  g_free (op->data);
  g_clear_error (&op->error);
  g_free (op);
}

static void
set_errno_error (GError    **error,
                 int         saved_errno,
                 const char *what,
                 const char *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "%s %s: %s", what, path != NULL ? path : "", g_strerror (saved_errno));
}

static gboolean
write_all (int         fd,
           const char *data,
           gsize       len,
           GError    **error)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          set_errno_error (error, n < 0 ? errno : ENOSPC, "cannot write", "the session log");
          return FALSE;
        }
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

static gboolean
replace_file (const char *path,
              const char *contents,
              GError    **error)
{
  /* g_file_set_contents_full writes a temporary file, fsyncs, renames. */
  return g_file_set_contents_full (path, contents, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

static gboolean
remove_tree_at (int         dir_fd,
                const char *name)
{
  int fd = openat (dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  gboolean ok = TRUE;

  if (fd >= 0)
    {
      g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      int dup_fd = dup (fd);
      DIR *dir = dup_fd >= 0 ? fdopendir (dup_fd) : NULL;
      struct dirent *entry;

      if (dir == NULL)
        {
          if (dup_fd >= 0)
            close (dup_fd);
          close (fd);
          return FALSE;
        }
      while ((entry = readdir (dir)) != NULL)
        if (strcmp (entry->d_name, ".") != 0 && strcmp (entry->d_name, "..") != 0)
          g_ptr_array_add (names, g_strdup (entry->d_name));
      closedir (dir);
      for (guint i = 0; i < names->len; i++)
        {
          const char *child = g_ptr_array_index (names, i);

          if (unlinkat (fd, child, 0) != 0 && !remove_tree_at (fd, child))
            ok = FALSE;
        }
      close (fd);
      if (unlinkat (dir_fd, name, AT_REMOVEDIR) != 0)
        ok = FALSE;
      return ok;
    }
  return unlinkat (dir_fd, name, 0) == 0;
}

static void
run_op (Op *op)
{
  switch (op->kind)
    {
    case OP_CREATE:
      {
        g_autofree char *work = g_build_filename (op->path, "work", NULL);
        g_autofree char *meta = g_build_filename (op->path, "session.json", NULL);
        g_autofree char *events = g_build_filename (op->path, "events.jsonl", NULL);

        if (g_mkdir_with_parents (work, 0700) != 0)
          {
            set_errno_error (&op->error, errno, "cannot create", work);
            return;
          }
        if (!replace_file (meta, op->data, &op->error))
          return;
        op->fd = open (events, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (op->fd < 0)
          set_errno_error (&op->error, errno, "cannot open", events);
      }
      break;
    case OP_APPEND:
      write_all (op->fd, op->data, op->len, &op->error);
      break;
    case OP_REPLACE:
      replace_file (op->path, op->data, &op->error);
      break;
    case OP_SYNC:
      fdatasync (op->fd);
      break;
    case OP_CLOSE:
      close (op->fd);
      break;
    case OP_REMOVE_TREE:
      {
        g_autofree char *parent = g_path_get_dirname (op->path);
        g_autofree char *base = g_path_get_basename (op->path);
        int parent_fd = open (parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (parent_fd < 0 || !remove_tree_at (parent_fd, base))
          g_set_error (&op->error, CAS_ERROR, CAS_ERROR_FAILED, "cannot remove %s", op->path);
        if (parent_fd >= 0)
          close (parent_fd);
      }
      break;
    case OP_STOP:
    default:
      break;
    }
}

static gboolean dispatch (gpointer user_data);

static gpointer
writer_thread (gpointer user_data)
{
  CasSessionStore *self = user_data;
  gboolean stop = FALSE;

  while (!stop)
    {
      GQueue batch = G_QUEUE_INIT;
      Op *op = g_async_queue_pop (self->queue);

      /* Take what else waits: one report for many appends. */
      do
        {
          run_op (op);
          if (op->kind == OP_STOP)
            stop = TRUE;
          g_queue_push_tail (&batch, op);
        }
      while (!stop && batch.length < MAX_BATCH && (op = g_async_queue_try_pop (self->queue)) != NULL);

      g_mutex_lock (&self->lock);
      while ((op = g_queue_pop_head (&batch)) != NULL)
        g_queue_push_tail (&self->finished, op);
      if (!self->dispatch_scheduled && !stop)
        {
          GSource *source = g_idle_source_new ();

          self->dispatch_scheduled = TRUE;
          g_source_set_priority (source, G_PRIORITY_DEFAULT);
          g_source_set_callback (source, dispatch, g_object_ref (self), g_object_unref);
          g_source_attach (source, self->context);
          g_source_unref (source);
        }
      g_mutex_unlock (&self->lock);
    }
  return NULL;
}

/* On the main context: the completions of what the thread wrote. */
static void
run_completions (CasSessionStore *self)
{
  GQueue done = G_QUEUE_INIT;
  Op *op;

  g_mutex_lock (&self->lock);
  done = self->finished;
  g_queue_init (&self->finished);
  self->dispatch_scheduled = FALSE;
  g_mutex_unlock (&self->lock);

  if (done.length == 0)
    return;
  while ((op = g_queue_pop_head (&done)) != NULL)
    {
      if (op->done != NULL)
        op->done (op->fd, op->error, op->user_data);
      op_free (op);
    }
  g_signal_emit (self, signals[SIGNAL_BATCH_DONE], 0);
}

static gboolean
dispatch (gpointer user_data)
{
  run_completions (user_data);
  return G_SOURCE_REMOVE;
}

static void
push (CasSessionStore    *self,
      OpKind              kind,
      int                 fd,
      const char         *path,
      char               *data,
      gsize               len,
      CasSessionStoreDone done,
      gpointer            user_data)
{
  Op *op = g_new0 (Op, 1);

  op->kind = kind;
  op->fd = fd;
  op->path = g_strdup (path);
  op->data = data;
  op->len = len;
  op->done = done;
  op->user_data = user_data;
  if (self->stopped)
    {
      /* Nothing runs the completions any more: fail it here. */
      if (kind == OP_CLOSE && fd >= 0)
        close (fd);
      else if (done != NULL)
        {
          g_autoptr (GError) error = g_error_new_literal (CAS_ERROR, CAS_ERROR_CANCELLED,
                                                          "the service is stopping");
          done (-1, error, user_data);
        }
      op_free (op);
      return;
    }
  g_async_queue_push (self->queue, op);
}

void
cas_session_store_create (CasSessionStore    *self,
                          const char         *dir,
                          const char         *meta,
                          CasSessionStoreDone done,
                          gpointer            user_data)
{
  push (self, OP_CREATE, -1, dir, g_strdup (meta), 0, done, user_data);
}

void
cas_session_store_append (CasSessionStore    *self,
                          int                 fd,
                          char               *data,
                          gsize               len,
                          CasSessionStoreDone done,
                          gpointer            user_data)
{
  push (self, OP_APPEND, fd, NULL, data, len, done, user_data);
}

void
cas_session_store_replace (CasSessionStore    *self,
                           const char         *path,
                           char               *contents,
                           CasSessionStoreDone done,
                           gpointer            user_data)
{
  push (self, OP_REPLACE, -1, path, contents, 0, done, user_data);
}

void
cas_session_store_sync (CasSessionStore *self,
                        int              fd)
{
  push (self, OP_SYNC, fd, NULL, NULL, 0, NULL, NULL);
}

void
cas_session_store_close (CasSessionStore *self,
                         int              fd)
{
  push (self, OP_CLOSE, fd, NULL, NULL, 0, NULL, NULL);
}

void
cas_session_store_remove_tree (CasSessionStore    *self,
                               const char         *dir,
                               CasSessionStoreDone done,
                               gpointer            user_data)
{
  push (self, OP_REMOVE_TREE, -1, dir, NULL, 0, done, user_data);
}

void
cas_session_store_stop (CasSessionStore *self)
{
  if (self->stopped)
    return;
  push (self, OP_STOP, -1, NULL, NULL, 0, NULL, NULL);
  self->stopped = TRUE;
  g_thread_join (g_steal_pointer (&self->thread));
  run_completions (self);
}

static void
cas_session_store_dispose (GObject *object)
{
  /* The thread holds no reference: it must end before we do. */
  cas_session_store_stop (CAS_SESSION_STORE (object));
  G_OBJECT_CLASS (cas_session_store_parent_class)->dispose (object);
}

static void
cas_session_store_finalize (GObject *object)
{
  CasSessionStore *self = CAS_SESSION_STORE (object);

  g_async_queue_unref (self->queue);
  g_queue_clear_full (&self->finished, (GDestroyNotify) op_free);
  g_mutex_clear (&self->lock);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (cas_session_store_parent_class)->finalize (object);
}

static void
cas_session_store_class_init (CasSessionStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cas_session_store_dispose;
  G_OBJECT_CLASS (klass)->finalize = cas_session_store_finalize;

  signals[SIGNAL_BATCH_DONE] =
    g_signal_new ("batch-done", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
cas_session_store_init (CasSessionStore *self)
{
  g_mutex_init (&self->lock);
  self->queue = g_async_queue_new ();
  self->context = g_main_context_ref_thread_default ();
}

CasSessionStore *
cas_session_store_new (void)
{
  CasSessionStore *self = g_object_new (CAS_TYPE_SESSION_STORE, NULL);

  self->thread = g_thread_new ("cas-sessions", writer_thread, self);
  return self;
}
