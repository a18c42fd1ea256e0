/* test-sse-writer.c: CasSseWriter on a real SoupServer and a real socket:
 * headers, frames in order, the heartbeat, completion, and a client that
 * goes away (no criticals after "finished").
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <libsoup/soup.h>

#include "cas-http-server.h"
#include "cas-sse-writer.h"

typedef struct {
  SoupServer *server;
  GSocket *listener;
  GSource *accept_source;
  guint port;
  GMainLoop *loop;
  CasSseWriter *writer;    /* the one under test */
  guint heartbeat_ms;
  const char *const *frames; /* sent at once by the handler */
  gboolean complete_at_once;
  int closed_count;
  gboolean closed_completed;
} Fixture;

static void
on_closed (CasSseWriter *writer,
           gboolean      completed,
           gpointer      user_data)
{
  Fixture *fx = user_data;

  fx->closed_count++;
  fx->closed_completed = completed;
  /* Writing after "finished" is a no-op, never a critical. */
  g_assert_false (cas_sse_writer_send_data (writer, "data: x\n\n", 9));
  g_assert_false (cas_sse_writer_send (writer, g_string_new ("data: y\n\n")));
  cas_sse_writer_complete (writer);
  g_assert_null (cas_sse_writer_get_message (writer));
  g_main_loop_quit (fx->loop);
}

static void
handler (SoupServer        *server,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           user_data)
{
  Fixture *fx = user_data;

  g_assert_null (fx->writer);
  fx->writer = cas_sse_writer_new (msg, fx->heartbeat_ms);
  g_signal_connect (fx->writer, "closed", G_CALLBACK (on_closed), fx);
  for (guint i = 0; fx->frames != NULL && fx->frames[i] != NULL; i++)
    {
      if (i % 2)
        g_assert_true (cas_sse_writer_send_data (fx->writer, fx->frames[i], strlen (fx->frames[i])));
      else
        g_assert_true (cas_sse_writer_send (fx->writer, g_string_new (fx->frames[i])));
    }
  if (fx->complete_at_once)
    {
      cas_sse_writer_complete (fx->writer);
      g_assert_true (cas_sse_writer_is_completed (fx->writer));
    }
}

/* Connections are accepted here and handed over, as the daemon does:
 * libsoup 3.2.3's own listener leaks a GSocket per connection. */
static gboolean
on_incoming (GSocket      *listener,
             GIOCondition  condition,
             gpointer      user_data)
{
  Fixture *fx = user_data;
  g_autoptr (GSocket) client = g_socket_accept (listener, NULL, NULL);
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GSocketAddress) local = NULL;
  g_autoptr (GSocketAddress) remote = NULL;
  g_autoptr (GError) error = NULL;

  if (client == NULL)
    return G_SOURCE_CONTINUE;
  connection = g_socket_connection_factory_create_connection (client);
  local = g_socket_get_local_address (client, NULL);
  remote = g_socket_get_remote_address (client, NULL);
  g_assert_true (soup_server_accept_iostream (fx->server, G_IO_STREAM (connection),
                                              local, remote, &error));
  return G_SOURCE_CONTINUE;
}

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  fx->loop = g_main_loop_new (NULL, FALSE);
  fx->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (fx->server, NULL, handler, fx, NULL);
  fx->listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                               G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (fx->listener, any_port, TRUE, &error));
  g_assert_true (g_socket_listen (fx->listener, &error));
  g_socket_set_blocking (fx->listener, FALSE);
  bound = g_socket_get_local_address (fx->listener, &error);
  g_assert_no_error (error);
  fx->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  fx->accept_source = g_socket_create_source (fx->listener, G_IO_IN, NULL);
  g_source_set_callback (fx->accept_source, G_SOURCE_FUNC (on_incoming), fx, NULL);
  g_source_attach (fx->accept_source, NULL);
  fx->heartbeat_ms = 100;
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  g_clear_object (&fx->writer);
  g_source_destroy (fx->accept_source);
  g_clear_pointer (&fx->accept_source, g_source_unref);
  g_socket_close (fx->listener, NULL);
  g_clear_object (&fx->listener);
  soup_server_disconnect (fx->server);
  g_clear_object (&fx->server);
  /* Let libsoup finish its idle work before the next test. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_main_loop_unref (fx->loop);
}

/* The client runs in a thread with blocking I/O while the main loop
 * serves: it sends one request and reads until @until appears (or EOF),
 * then hangs up. */
typedef struct {
  guint port;
  const char *until;   /* (nullable) stop reading once this was seen */
  GString *received;
} Client;

static gpointer
client_thread (gpointer data)
{
  Client *client = data;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, client->port);
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GError) error = NULL;
  const char *request = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  char buffer[4096];

  /* A plain socket: GSocketClient would load proxy modules (and threads). */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_connect (socket, address, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_socket_send (socket, request, strlen (request), NULL, &error), ==, strlen (request));
  for (;;)
    {
      gssize n = g_socket_receive (socket, buffer, sizeof buffer, NULL, NULL);

      if (n <= 0)
        break;
      g_string_append_len (client->received, buffer, n);
      if (client->until != NULL && strstr (client->received->str, client->until) != NULL)
        break;
      /* The last chunk of a completed body. */
      if (client->until == NULL && g_str_has_suffix (client->received->str, "\r\n0\r\n\r\n"))
        break;
    }
  g_socket_close (socket, NULL);
  return NULL;
}

static GThread *
start_client (Client     *client,
              guint       port,
              const char *until)
{
  client->port = port;
  client->until = until;
  client->received = g_string_new (NULL);
  return g_thread_new ("client", client_thread, client);
}

static gboolean
on_timeout (gpointer data)
{
  g_error ("test timed out");
  return G_SOURCE_REMOVE;
}

static void
test_frames_then_complete (Fixture       *fx,
                           gconstpointer  data)
{
  const char *const frames[] = { "data: {\"n\":1}\n\n", "data: {\"n\":2,\"t\":\"Здравей\"}\n\n",
                                 "data: [DONE]\n\n", NULL };
  Client client;
  GThread *thread;
  guint timeout_id = g_timeout_add_seconds (10, on_timeout, NULL);
  const char *body;

  fx->frames = frames;
  fx->complete_at_once = TRUE;
  thread = start_client (&client, fx->port, NULL);
  g_main_loop_run (fx->loop);
  g_thread_join (thread);
  g_source_remove (timeout_id);

  g_assert_cmpint (fx->closed_count, ==, 1);
  g_assert_true (fx->closed_completed);
  g_assert_true (cas_sse_writer_is_closed (fx->writer));
  g_assert_true (g_str_has_prefix (client.received->str, "HTTP/1.1 200 OK\r\n"));
  g_assert_nonnull (strstr (client.received->str, "Content-Type: text/event-stream\r\n"));
  g_assert_nonnull (strstr (client.received->str, "Cache-Control: no-cache\r\n"));
  /* Close-delimited: the body ends with the connection, one send per
   * event. */
  g_assert_null (strstr (client.received->str, "Transfer-Encoding:"));
  g_assert_nonnull (strstr (client.received->str, "Connection: close\r\n"));
  body = strstr (client.received->str, "\r\n\r\n");
  g_assert_nonnull (body);
  /* Each frame went out whole, in order, Cyrillic raw. */
  g_assert_nonnull (strstr (body, frames[0]));
  g_assert_nonnull (strstr (body, frames[1]));
  g_assert_true (strstr (body, frames[1]) < strstr (body, frames[2]));
  g_assert_true (g_str_has_suffix (body, frames[2]));
  g_assert_null (strstr (body, ": ping"));
  g_string_free (client.received, TRUE);
}

static void
test_heartbeat_when_idle (Fixture       *fx,
                          gconstpointer  data)
{
  const char *const frames[] = { "data: {\"first\":true}\n\n", NULL };
  Client client;
  GThread *thread;
  guint timeout_id = g_timeout_add_seconds (10, on_timeout, NULL);
  gint64 started = g_get_monotonic_time ();

  fx->frames = frames;
  /* The client hangs up after its first ping: the writer learns of it
   * on its next write, through "finished". */
  thread = start_client (&client, fx->port, ": ping\n\n");
  g_main_loop_run (fx->loop);
  g_thread_join (thread);
  g_source_remove (timeout_id);

  g_assert_cmpint (fx->closed_count, ==, 1);
  g_assert_false (fx->closed_completed);
  g_assert_nonnull (strstr (client.received->str, "data: {\"first\":true}\n\n"));
  g_assert_nonnull (strstr (client.received->str, ": ping\n\n"));
  /* First ping 1 to 1.25 periods after the last write; closed soon after. */
  g_assert_cmpint (g_get_monotonic_time () - started, <, 2 * G_USEC_PER_SEC);
  g_string_free (client.received, TRUE);
}

static gboolean
drop_writer (gpointer data)
{
  Fixture *fx = data;

  /* An owner that lets go early still leaves a complete response. */
  g_clear_object (&fx->writer);
  return G_SOURCE_REMOVE;
}

static gboolean
quit_when_joined (gpointer data)
{
  Fixture *fx = data;

  g_main_loop_quit (fx->loop);
  return G_SOURCE_REMOVE;
}

static gpointer
client_then_quit (gpointer data)
{
  gpointer *pair = data;

  client_thread (pair[0]);
  g_main_context_invoke (NULL, quit_when_joined, pair[1]);
  return NULL;
}

static void
test_dispose_completes (Fixture       *fx,
                        gconstpointer  data)
{
  const char *const frames[] = { "data: 1\n\n", NULL };
  Client client = { .port = fx->port, .received = g_string_new (NULL) };
  gpointer pair[2] = { &client, fx };
  GThread *thread;
  guint timeout_id = g_timeout_add_seconds (10, on_timeout, NULL);

  fx->frames = frames;
  fx->heartbeat_ms = 0;
  thread = g_thread_new ("client", client_then_quit, pair);
  g_timeout_add (50, drop_writer, fx);
  g_main_loop_run (fx->loop);
  g_thread_join (thread);
  g_source_remove (timeout_id);

  g_assert_null (fx->writer);
  g_assert_cmpint (fx->closed_count, ==, 0);
  g_assert_nonnull (strstr (client.received->str, "data: 1\n\n"));
  /* The body was ended: the connection closed right after the frame (the
   * client read to the end). */
  g_assert_true (g_str_has_suffix (client.received->str, "data: 1\n\n"));
  g_assert_null (strstr (client.received->str, ": ping"));
  g_string_free (client.received, TRUE);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/sse-writer/frames-then-complete", Fixture, NULL,
              fixture_setup, test_frames_then_complete, fixture_teardown);
  g_test_add ("/sse-writer/heartbeat-when-idle", Fixture, NULL,
              fixture_setup, test_heartbeat_when_idle, fixture_teardown);
  g_test_add ("/sse-writer/dispose-completes", Fixture, NULL,
              fixture_setup, test_dispose_completes, fixture_teardown);

  return g_test_run ();
}
