/* cas-fd-mux.c: many file descriptors watched through one epoll fd.
 *
 * GLib 2.74 writes to its main context's wake-up eventfd whenever a file
 * descriptor joins or leaves the context's poll set, even from the
 * context's own thread. And around every dispatch it takes the fds of the
 * source, and of every source nested in it, out of the set and puts them
 * back ("blocking" the source). libsoup 3.2 builds a new source four
 * levels deep for every read wait on a kept-alive connection, so each
 * request cost eight eventfd writes, one read and an extra pass of the
 * main loop: about a sixth of the CPU time of a `/health` request.
 * (GLib 2.76 stopped waking its own thread.)
 *
 * The sources made here carry no file descriptor. Only the epoll fd is in
 * the poll set, added once. The multiplexer checks first (it has a higher
 * priority), reads the epoll events, and marks the sources waiting on
 * each ready descriptor; they dispatch in the same pass. Each descriptor
 * is armed one-shot while a source waits on it, so a descriptor nobody
 * waits on wakes nothing more than once.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "cas-fd-mux.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib-object.h>
#include <sys/epoll.h>
#include <unistd.h>

typedef struct _FdSource FdSource;

/* The sources waiting on one descriptor. */
typedef struct
{
  int       fd;
  guint32   armed_events; /* what epoll waits for; 0: disarmed */
  FdSource *sources;      /* a doubly-linked list */
} FdWatch;

struct _CasFdMux
{
  GSource   source;
  GPollFD   epoll_poll;
  GHashTable *watches; /* fd → FdWatch (owned) */
};

struct _FdSource
{
  GSource      source;
  CasFdMux    *mux;   /* (owned) */
  FdWatch     *watch; /* (unowned): lives while it has sources */
  GIOCondition condition;
  gboolean     ready;
  FdSource    *prev;
  FdSource    *next;
};

#define MAX_EVENTS_PER_PASS 64

static guint32
epoll_events_for (GIOCondition condition)
{
  return ((condition & G_IO_IN) ? EPOLLIN : 0) | ((condition & G_IO_OUT) ? EPOLLOUT : 0);
}

static GIOCondition
condition_for (guint32 events)
{
  return ((events & EPOLLIN) ? G_IO_IN : 0) | ((events & EPOLLOUT) ? G_IO_OUT : 0) |
         ((events & EPOLLERR) ? G_IO_ERR : 0) | ((events & EPOLLHUP) ? G_IO_HUP : 0);
}

static void
mark_ready (FdWatch     *watch,
            GIOCondition happened)
{
  for (FdSource *source = watch->sources; source != NULL; source = source->next)
    if (happened & (source->condition | G_IO_ERR | G_IO_HUP))
      source->ready = TRUE;
}

/* Runs before the sources it feeds are checked: see the top of the file. */
static gboolean
mux_check (GSource *source)
{
  CasFdMux *self = (CasFdMux *) source;
  struct epoll_event events[MAX_EVENTS_PER_PASS];
  int n;

  if ((self->epoll_poll.revents & G_IO_IN) == 0)
    return FALSE;

  do
    n = epoll_wait (self->epoll_poll.fd, events, G_N_ELEMENTS (events), 0);
  while (n < 0 && errno == EINTR);

  for (int i = 0; i < n; i++)
    {
      FdWatch *watch = g_hash_table_lookup (self->watches, GINT_TO_POINTER (events[i].data.fd));

      /* A descriptor nobody waits on any more fired its last shot. */
      if (watch == NULL)
        continue;
      watch->armed_events = 0;
      mark_ready (watch, condition_for (events[i].events));
    }
  return FALSE;
}

static gboolean
mux_dispatch (GSource    *source,
              GSourceFunc callback,
              gpointer    user_data)
{
  return G_SOURCE_CONTINUE;
}

static void
mux_finalize (GSource *source)
{
  CasFdMux *self = (CasFdMux *) source;

  g_clear_pointer (&self->watches, g_hash_table_unref);
  if (self->epoll_poll.fd >= 0)
    close (self->epoll_poll.fd);
}

static GSourceFuncs mux_funcs = {
  .check = mux_check,
  .dispatch = mux_dispatch,
  .finalize = mux_finalize,
};

CasFdMux *
cas_fd_mux_new (GMainContext *context,
                GError      **error)
{
  int epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  CasFdMux *self;

  if (epoll_fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "epoll_create1: %s", g_strerror (saved_errno));
      return NULL;
    }

  self = (CasFdMux *) g_source_new (&mux_funcs, sizeof (CasFdMux));
  g_source_set_static_name (&self->source, "CasFdMux");
  self->watches = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->epoll_poll.fd = epoll_fd;
  self->epoll_poll.events = G_IO_IN;
  /* A plain poll record, not g_source_add_unix_fd(): a unix fd would make
   * GLib dispatch this source whenever it is readable, and this source
   * has nothing to dispatch. The high priority puts its check first. */
  g_source_add_poll (&self->source, &self->epoll_poll);
  g_source_set_priority (&self->source, G_PRIORITY_HIGH);
  /* Never blocked around a dispatch: it has none. */
  g_source_set_can_recurse (&self->source, TRUE);
  g_source_attach (&self->source, context);
  return self;
}

CasFdMux *
cas_fd_mux_ref (CasFdMux *self)
{
  return (CasFdMux *) g_source_ref (&self->source);
}

void
cas_fd_mux_unref (CasFdMux *self)
{
  g_source_unref (&self->source);
}

void
cas_fd_mux_destroy (CasFdMux *self)
{
  g_source_destroy (&self->source);
}

/* Arms @watch for what its sources wait for, if it is not already. */
static void
arm (CasFdMux *mux,
     FdWatch  *watch)
{
  guint32 wanted = 0;
  struct epoll_event event = { 0 };

  for (FdSource *source = watch->sources; source != NULL; source = source->next)
    if (!source->ready)
      wanted |= epoll_events_for (source->condition);
  if (wanted == 0 || (watch->armed_events & wanted) == wanted)
    return;

  event.events = wanted | EPOLLONESHOT;
  event.data.fd = watch->fd;
  if (epoll_ctl (mux->epoll_poll.fd, EPOLL_CTL_MOD, watch->fd, &event) < 0 &&
      (errno != ENOENT ||
       epoll_ctl (mux->epoll_poll.fd, EPOLL_CTL_ADD, watch->fd, &event) < 0))
    {
      /* Closed or not pollable: let the owners find out from their own
       * read or write, as GLib's G_IO_NVAL would. */
      mark_ready (watch, G_IO_ERR);
      return;
    }
  watch->armed_events = wanted;
}

static gboolean
fd_source_prepare (GSource *source,
                   int     *timeout)
{
  FdSource *self = (FdSource *) source;

  *timeout = -1;
  if (!self->ready)
    arm (self->mux, self->watch);
  return self->ready;
}

static gboolean
fd_source_check (GSource *source)
{
  return ((FdSource *) source)->ready;
}

static gboolean
fd_source_dispatch (GSource    *source,
                    GSourceFunc callback,
                    gpointer    user_data)
{
  ((FdSource *) source)->ready = FALSE;
  return callback != NULL ? callback (user_data) : G_SOURCE_CONTINUE;
}

static void
fd_source_finalize (GSource *source)
{
  FdSource *self = (FdSource *) source;
  FdWatch *watch = self->watch;

  if (self->prev != NULL)
    self->prev->next = self->next;
  else
    watch->sources = self->next;
  if (self->next != NULL)
    self->next->prev = self->prev;

  /* Left armed, the descriptor fires at most once more, and is ignored. */
  if (watch->sources == NULL)
    g_hash_table_remove (self->mux->watches, GINT_TO_POINTER (watch->fd));
  cas_fd_mux_unref (self->mux);
}

/* Needed for g_source_set_closure(), which GLib's pollable sources use to
 * give their children a dummy callback. */
static gboolean
fd_source_closure_callback (gpointer data)
{
  GClosure *closure = data;
  GValue result = G_VALUE_INIT;
  gboolean keep;

  g_value_init (&result, G_TYPE_BOOLEAN);
  g_closure_invoke (closure, &result, 0, NULL, NULL);
  keep = g_value_get_boolean (&result);
  g_value_unset (&result);
  return keep;
}

static GSourceFuncs fd_source_funcs = {
  .prepare = fd_source_prepare,
  .check = fd_source_check,
  .dispatch = fd_source_dispatch,
  .finalize = fd_source_finalize,
  .closure_callback = fd_source_closure_callback,
};

GSource *
cas_fd_mux_create_source (CasFdMux    *self,
                          int          fd,
                          GIOCondition condition)
{
  FdSource *source = (FdSource *) g_source_new (&fd_source_funcs, sizeof (FdSource));
  FdWatch *watch = g_hash_table_lookup (self->watches, GINT_TO_POINTER (fd));

  g_return_val_if_fail (fd >= 0, NULL);

  if (watch == NULL)
    {
      watch = g_new0 (FdWatch, 1);
      watch->fd = fd;
      g_hash_table_insert (self->watches, GINT_TO_POINTER (fd), watch);
    }
  /* Armed afresh for every new source: the number may belong to a new
   * descriptor since it was last armed, and epoll forgot the old one. */
  watch->armed_events = 0;
  g_source_set_static_name (&source->source, "CasFdMux watch");
  source->mux = cas_fd_mux_ref (self);
  source->watch = watch;
  source->condition = condition;
  source->next = watch->sources;
  if (watch->sources != NULL)
    watch->sources->prev = source;
  watch->sources = source;
  return &source->source;
}
