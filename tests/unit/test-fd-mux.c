/* CasFdMux: level-triggered readiness for many descriptors through one
 * epoll fd, without ever changing the main context's poll set. */
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cas-fd-mux.h"

typedef struct {
  CasFdMux *mux;
  int pair[2]; /* a connected socketpair */
} Fixture;

static void
open_pair (int pair[2])
{
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair), ==, 0);
}

static void
fixture_set_up (Fixture      *fixture,
                gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->mux = cas_fd_mux_new (NULL, &error);
  g_assert_no_error (error);
  open_pair (fixture->pair);
}

/* Closes the pair and opens a new one, whose first descriptor gets the
 * number the old one had. */
static void
reopen_pair_on_the_same_number (Fixture *fixture)
{
  int old_fd = fixture->pair[0];

  close (fixture->pair[0]);
  close (fixture->pair[1]);
  open_pair (fixture->pair);
  g_assert_cmpint (fixture->pair[0], ==, old_fd);
}

static void
fixture_tear_down (Fixture      *fixture,
                   gconstpointer data)
{
  for (guint i = 0; i < 2; i++)
    if (fixture->pair[i] >= 0)
      close (fixture->pair[i]);
  cas_fd_mux_destroy (fixture->mux);
  cas_fd_mux_unref (fixture->mux);
  /* Let destroyed sources go. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static gboolean
count_and_keep (gpointer data)
{
  (*(guint *) data)++;
  return G_SOURCE_CONTINUE;
}

static GSource *
watch (Fixture     *fixture,
       int          fd,
       GIOCondition condition,
       guint       *dispatches)
{
  GSource *source = cas_fd_mux_create_source (fixture->mux, fd, condition);

  g_source_set_callback (source, count_and_keep, dispatches, NULL);
  g_source_attach (source, NULL);
  return source;
}

/* Runs a few main-loop passes without blocking. */
static void
spin (void)
{
  for (guint i = 0; i < 5; i++)
    g_main_context_iteration (NULL, FALSE);
}

static void
test_readable_dispatches_and_stays_ready (Fixture      *fixture,
                                          gconstpointer data)
{
  guint dispatches = 0;
  g_autoptr (GSource) source = watch (fixture, fixture->pair[0], G_IO_IN, &dispatches);
  char byte;

  spin ();
  g_assert_cmpuint (dispatches, ==, 0);

  g_assert_cmpint (write (fixture->pair[1], "x", 1), ==, 1);
  spin ();
  /* Level-triggered: unread data keeps it ready, pass after pass. */
  g_assert_cmpuint (dispatches, >=, 2);

  g_assert_cmpint (read (fixture->pair[0], &byte, 1), ==, 1);
  spin ();
  dispatches = 0;
  spin ();
  g_assert_cmpuint (dispatches, ==, 0);
  g_source_destroy (source);
}

static void
test_writable_and_readable_on_one_descriptor (Fixture      *fixture,
                                              gconstpointer data)
{
  guint readable = 0, writable = 0;
  g_autoptr (GSource) in = watch (fixture, fixture->pair[0], G_IO_IN, &readable);
  g_autoptr (GSource) out = watch (fixture, fixture->pair[0], G_IO_OUT, &writable);

  spin ();
  g_assert_cmpuint (readable, ==, 0);
  g_assert_cmpuint (writable, >=, 1);

  g_source_destroy (out);
  g_assert_cmpint (write (fixture->pair[1], "x", 1), ==, 1);
  spin ();
  g_assert_cmpuint (readable, >=, 1);
  g_source_destroy (in);
}

static void
test_two_sources_on_one_descriptor (Fixture      *fixture,
                                    gconstpointer data)
{
  guint first = 0, second = 0;
  g_autoptr (GSource) a = watch (fixture, fixture->pair[0], G_IO_IN, &first);
  g_autoptr (GSource) b = watch (fixture, fixture->pair[0], G_IO_IN, &second);

  g_assert_cmpint (write (fixture->pair[1], "x", 1), ==, 1);
  spin ();
  g_assert_cmpuint (first, >=, 1);
  g_assert_cmpuint (second, >=, 1);
  g_source_destroy (a);
  g_source_destroy (b);
}

static void
test_hang_up_wakes_a_reader (Fixture      *fixture,
                             gconstpointer data)
{
  guint dispatches = 0;
  g_autoptr (GSource) source = watch (fixture, fixture->pair[0], G_IO_IN, &dispatches);

  spin ();
  close (fixture->pair[1]);
  fixture->pair[1] = -1;
  spin ();
  g_assert_cmpuint (dispatches, >=, 1);
  g_source_destroy (source);
}

/* The point of the multiplexer: GLib 2.74 writes its wake-up eventfd on
 * every change of the poll set, so sources must never change it. */
static void
test_sources_leave_the_poll_set_alone (Fixture      *fixture,
                                      gconstpointer data)
{
  GMainContext *context = g_main_context_default ();
  GPollFD fds[64];
  int priority, timeout;
  int before, during;
  guint dispatches = 0;
  g_autoptr (GSource) source = NULL;

  spin ();
  g_main_context_acquire (context);
  g_main_context_prepare (context, &priority);
  before = g_main_context_query (context, G_MAXINT, &timeout, fds, G_N_ELEMENTS (fds));
  g_main_context_release (context);

  source = watch (fixture, fixture->pair[0], G_IO_IN, &dispatches);
  g_assert_cmpint (write (fixture->pair[1], "x", 1), ==, 1);
  spin ();
  g_assert_cmpuint (dispatches, >=, 1);

  g_main_context_acquire (context);
  g_main_context_prepare (context, &priority);
  during = g_main_context_query (context, G_MAXINT, &timeout, fds, G_N_ELEMENTS (fds));
  g_main_context_release (context);
  g_assert_cmpint (during, ==, before);
  g_source_destroy (source);
}

/* A descriptor closed and its number given to a new socket: the new one
 * is watched, not confused with the old registration. */
static void
test_reused_descriptor_number (Fixture      *fixture,
                               gconstpointer data)
{
  guint dispatches = 0;
  GSource *source = watch (fixture, fixture->pair[0], G_IO_IN, &dispatches);

  spin ();
  g_source_destroy (source);
  g_source_unref (source);
  reopen_pair_on_the_same_number (fixture);

  dispatches = 0;
  source = watch (fixture, fixture->pair[0], G_IO_IN, &dispatches);
  spin ();
  g_assert_cmpuint (dispatches, ==, 0);
  g_assert_cmpint (write (fixture->pair[1], "x", 1), ==, 1);
  spin ();
  g_assert_cmpuint (dispatches, >=, 1);
  g_source_destroy (source);
  g_source_unref (source);
}

/* The same, while a source for the old descriptor is still attached:
 * the old arming is gone with the old descriptor, and the new source
 * must not take it for its own. */
static void
test_reused_number_while_old_source_lives (Fixture      *fixture,
                                           gconstpointer data)
{
  guint old_dispatches = 0, dispatches = 0;
  GSource *old_source = watch (fixture, fixture->pair[0], G_IO_IN, &old_dispatches);
  GSource *source;

  spin ();
  reopen_pair_on_the_same_number (fixture);

  source = watch (fixture, fixture->pair[0], G_IO_IN, &dispatches);
  g_assert_cmpint (write (fixture->pair[1], "x", 1), ==, 1);
  spin ();
  g_assert_cmpuint (dispatches, >=, 1);
  g_source_destroy (old_source);
  g_source_unref (old_source);
  g_source_destroy (source);
  g_source_unref (source);
}

/* epoll refuses regular files: the owner must hear, not wait forever. */
static void
test_unpollable_descriptor_dispatches (Fixture      *fixture,
                                       gconstpointer data)
{
  g_autofree char *path = NULL;
  guint dispatches = 0;
  g_autoptr (GSource) source = NULL;
  int fd = g_file_open_tmp ("fd-mux-XXXXXX", &path, NULL);

  g_assert_cmpint (fd, >=, 0);
  source = watch (fixture, fd, G_IO_IN, &dispatches);
  spin ();
  g_assert_cmpuint (dispatches, >=, 1);
  g_source_destroy (source);
  close (fd);
  g_unlink (path);
}

/* A source that outlives its multiplexer never dispatches, and frees
 * cleanly. */
static void
test_source_outlives_destroyed_mux (Fixture      *fixture,
                                    gconstpointer data)
{
  guint dispatches = 0;
  g_autoptr (GSource) source = watch (fixture, fixture->pair[0], G_IO_IN, &dispatches);

  spin ();
  cas_fd_mux_destroy (fixture->mux);
  g_assert_cmpint (write (fixture->pair[1], "x", 1), ==, 1);
  spin ();
  g_assert_cmpuint (dispatches, ==, 0);
  g_source_destroy (source);
}

/* Dispatching at once when data is already there when the source
 * attaches, and nothing when a destroyed source's descriptor fires. */
static void
test_data_before_attach_and_after_destroy (Fixture      *fixture,
                                           gconstpointer data)
{
  guint dispatches = 0;
  GSource *source;

  g_assert_cmpint (write (fixture->pair[1], "x", 1), ==, 1);
  source = watch (fixture, fixture->pair[0], G_IO_IN, &dispatches);
  spin ();
  g_assert_cmpuint (dispatches, >=, 1);

  /* Armed again by the pass after the last dispatch, then dropped. */
  g_source_destroy (source);
  g_source_unref (source);
  dispatches = 0;
  g_assert_cmpint (write (fixture->pair[1], "y", 1), ==, 1);
  spin ();
  g_assert_cmpuint (dispatches, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) \
  g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/fd-mux/readable-dispatches-and-stays-ready", test_readable_dispatches_and_stays_ready);
  ADD ("/fd-mux/writable-and-readable-on-one-descriptor", test_writable_and_readable_on_one_descriptor);
  ADD ("/fd-mux/two-sources-on-one-descriptor", test_two_sources_on_one_descriptor);
  ADD ("/fd-mux/hang-up-wakes-a-reader", test_hang_up_wakes_a_reader);
  ADD ("/fd-mux/sources-leave-the-poll-set-alone", test_sources_leave_the_poll_set_alone);
  ADD ("/fd-mux/reused-descriptor-number", test_reused_descriptor_number);
  ADD ("/fd-mux/reused-number-while-old-source-lives", test_reused_number_while_old_source_lives);
  ADD ("/fd-mux/unpollable-descriptor-dispatches", test_unpollable_descriptor_dispatches);
  ADD ("/fd-mux/source-outlives-destroyed-mux", test_source_outlives_destroyed_mux);
  ADD ("/fd-mux/data-before-attach-and-after-destroy", test_data_before_attach_and_after_destroy);
#undef ADD

  return g_test_run ();
}
