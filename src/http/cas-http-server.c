/* cas-http-server.c: one SoupServer handler at "/" routes every request,
 * so auth, 404/405 and the access log live in one place.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-http"

#include "config.h"

#include <errno.h>
#include <gio/gnetworking.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib/gi18n.h>

#include "cas-client-input-stream.h"
#include "cas-error.h"
#include "cas-http-server.h"
#include "cas-json.h"

/* GLib's listening sockets get a backlog of 10; 20 voice clients
 * connecting at once then lose SYNs and retry after 1 s
 * (aesthetics-anchors 5.1). */
#define LISTEN_BACKLOG 128
#define ACCEPT_RETRY_MS 100

typedef struct {
  char *method;
  char *path;
  CasRouteFlags flags;
  CasHttpHandler handler;
  gpointer user_data;
} Route;

struct _CasHttpServer
{
  GObject parent_instance;

  CasConfig *config;    /* (owned) */
  char *api_token;      /* (owned) */
  SoupServer *soup;     /* (owned) */
  GSocket *listener;    /* (owned) (nullable) */
  GSocket *keepalive_pair[2]; /* (owned) (nullable) see give_libsoup_a_listener */
  GSource *accept_source; /* (owned) (nullable) */
  guint accept_retry_id;
  GPtrArray *routes;    /* (element-type Route) (owned) */
  guint port;
  guint64 request_counter;
  char request_id_prefix[9];
};

/* Per-request bookkeeping, attached to the message. */
typedef struct {
  char id[32];
  gboolean access_log;
  gint64 start_us;
  guint64 body_bytes;
  gboolean body_too_large;
} RequestInfo;

/* Looked up several times per request: quarks, not strings, which
 * would take GLib's global quark lock each time. */
static GQuark request_info_quark;
static GQuark client_input_quark;

G_DEFINE_FINAL_TYPE (CasHttpServer, cas_http_server, G_TYPE_OBJECT)

static void
route_free (gpointer data)
{
  Route *route = data;

  g_free (route->method);
  g_free (route->path);
  g_free (route);
}

static void
cas_http_server_finalize (GObject *object)
{
  CasHttpServer *self = CAS_HTTP_SERVER (object);

  cas_http_server_shutdown (self);
  g_clear_object (&self->soup);
  g_ptr_array_unref (self->routes);
  g_clear_pointer (&self->config, cas_config_unref);
  if (self->api_token != NULL)
    explicit_bzero (self->api_token, strlen (self->api_token));
  g_free (self->api_token);

  G_OBJECT_CLASS (cas_http_server_parent_class)->finalize (object);
}

static void
cas_http_server_class_init (CasHttpServerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_http_server_finalize;
  request_info_quark = g_quark_from_static_string ("cas-request-info");
  client_input_quark = g_quark_from_static_string ("cas-client-input");
}

static void
cas_http_server_init (CasHttpServer *self)
{
  self->routes = g_ptr_array_new_with_free_func (route_free);
  g_snprintf (self->request_id_prefix, sizeof self->request_id_prefix,
              "%08x", g_random_int ());
}

gboolean
cas_http_token_equal (const char *given,
                      const char *expected)
{
  gsize given_len = strlen (given);
  gsize expected_len = strlen (expected);
  guint8 diff = given_len != expected_len;

  /* Walk the expected token whatever the input, so timing does not tell
   * how much of a guess was right. */
  for (gsize i = 0; i < expected_len; i++)
    diff |= (guint8) expected[i] ^ (guint8) (i < given_len ? given[i] : 0);
  return diff == 0;
}

char *
cas_http_format_error (const char *path,
                       guint       status,
                       const char *code_name,
                       const char *message)
{
  GString *out = g_string_sized_new (128);

  if (path != NULL && g_str_has_prefix (path, "/v1/"))
    {
      const char *type;

      if (status == 401)
        type = "authentication_error";
      else if (status == 404)
        type = "not_found_error";
      else if (status == 429)
        type = "rate_limit_error";
      else if (status >= 500)
        type = "server_error";
      else
        type = "invalid_request_error";

      g_string_append (out, "{\"error\":{\"message\":");
      cas_json_append_string (out, message);
      g_string_append (out, ",\"type\":");
      cas_json_append_string (out, type);
      g_string_append (out, ",\"param\":null,\"code\":");
      cas_json_append_string (out, code_name);
      g_string_append (out, "}}");
    }
  else
    {
      g_string_append (out, "{\"error\":");
      cas_json_append_string (out, code_name);
      g_string_append (out, ",\"detail\":");
      cas_json_append_string (out, message);
      g_string_append_c (out, '}');
    }
  return g_string_free (out, FALSE);
}

/* libsoup sends a response's headers and its body in two sends. On
 * loopback each send is a packet and a wake-up of the client, and together
 * they were half the CPU time of a /health request. Corked, the kernel
 * sends both as one packet when on_request_finished uncorks. Only whole
 * responses are corked: a stream must go out as it is written. */
static void
set_cork (SoupServerMessage *msg,
          gboolean           on)
{
  GSocket *socket = cas_http_server_get_client_socket (msg);

  if (socket != NULL && !g_socket_is_closed (socket))
    g_socket_set_option (socket, IPPROTO_TCP, TCP_CORK, on, NULL);
}

void
cas_http_reply_json (SoupServerMessage *msg,
                     guint              status,
                     char              *json)
{
  set_cork (msg, TRUE);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    json, strlen (json));
}

void
cas_http_reply_error_status (SoupServerMessage *msg,
                             guint              status,
                             const char        *code_name,
                             const char        *message)
{
  GUri *uri = soup_server_message_get_uri (msg);

  cas_http_reply_json (msg, status,
                       cas_http_format_error (g_uri_get_path (uri), status,
                                              code_name, message));
}

void
cas_http_reply_error (SoupServerMessage *msg,
                      const GError      *error)
{
  cas_http_reply_error_status (msg, cas_error_to_http_status (error),
                               cas_error_to_code_name (error), error->message);
}

CasHttpServer *
cas_http_server_new (CasConfig  *config,
                     const char *api_token)
{
  CasHttpServer *self = g_object_new (CAS_TYPE_HTTP_SERVER, NULL);

  self->config = cas_config_ref (config);
  self->api_token = g_strdup (api_token);
  return self;
}

void
cas_http_server_add_route (CasHttpServer *self,
                           const char    *method,
                           const char    *path,
                           CasRouteFlags  flags,
                           CasHttpHandler handler,
                           gpointer       user_data)
{
  Route *route = g_new0 (Route, 1);

  route->method = g_strdup (method);
  route->path = g_strdup (path);
  route->flags = flags;
  route->handler = handler;
  route->user_data = user_data;
  g_ptr_array_add (self->routes, route);
}

static gboolean
route_matches_path (const Route *route,
                    const char  *path)
{
  if (route->flags & CAS_ROUTE_PREFIX)
    return g_str_has_prefix (path, route->path);
  return g_str_equal (path, route->path);
}

/* Whether the request came from one of [http] trusted-proxies: anyone
 * else could send the proxy's user header too. */
static gboolean
peer_is_trusted_proxy (CasHttpServer     *self,
                       SoupServerMessage *msg)
{
  const char *host = soup_server_message_get_remote_host (msg);
  g_autoptr (GInetAddress) peer = host != NULL ? g_inet_address_new_from_string (host) : NULL;

  if (peer == NULL)
    return FALSE;
  for (char **proxy = self->config->http_trusted_proxies; *proxy != NULL; proxy++)
    {
      g_autoptr (GInetAddress) trusted = g_inet_address_new_from_string (*proxy);

      if (trusted != NULL && g_inet_address_equal (peer, trusted))
        return TRUE;
    }
  return FALSE;
}

/* Returns NULL when authenticated, else the reason. Words sent to HTTP
 * clients stay English: callers match on them (see cas-error.h). */
static const char *
check_auth (CasHttpServer     *self,
            SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *authorization = soup_message_headers_get_one (headers, "Authorization");

  if (self->config->http_trust_proxy_user_header && peer_is_trusted_proxy (self, msg))
    {
      const char *user = soup_message_headers_get_one (headers, "X-authentik-username");

      if (user != NULL && *user != '\0')
        return NULL;
    }

  if (authorization == NULL || g_ascii_strncasecmp (authorization, "Bearer ", 7) != 0)
    return "missing bearer token";
  if (!cas_http_token_equal (authorization + 7, self->api_token))
    return "invalid bearer token";
  return NULL;
}

static void
dispatch (SoupServer        *server,
          SoupServerMessage *msg,
          const char        *path,
          GHashTable        *query,
          gpointer           user_data)
{
  CasHttpServer *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  RequestInfo *info = g_object_get_qdata (G_OBJECT (msg), request_info_quark);
  const Route *found = NULL;
  gboolean path_known = FALSE;
  g_autoptr (GString) allowed = g_string_new (NULL);
  const char *auth_failure;

  if (info != NULL)
    soup_message_headers_append (soup_server_message_get_response_headers (msg),
                                 "X-Request-Id", info->id);

  if (info != NULL && info->body_too_large)
    {
      g_autofree char *message =
        g_strdup_printf ("request body is larger than %" G_GUINT64_FORMAT " bytes",
                         self->config->http_max_body_bytes);

      cas_http_reply_error_status (msg, 413, "payload_too_large", message);
      return;
    }

  for (guint i = 0; i < self->routes->len; i++)
    {
      const Route *route = g_ptr_array_index (self->routes, i);

      if (!route_matches_path (route, path))
        continue;
      path_known = TRUE;
      if (g_str_equal (route->method, method))
        {
          found = route;
          break;
        }
      if (!strstr (allowed->str, route->method))
        g_string_append_printf (allowed, "%s%s", allowed->len > 0 ? ", " : "", route->method);
    }

  if (found == NULL || !(found->flags & CAS_ROUTE_PUBLIC))
    {
      auth_failure = check_auth (self, msg);
      if (auth_failure != NULL)
        {
          soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                        "WWW-Authenticate", "Bearer");
          cas_http_reply_error_status (msg, 401, "unauthorized", auth_failure);
          return;
        }
    }

  if (!path_known)
    {
      cas_http_reply_error_status (msg, 404, "not_found", "no such route");
      return;
    }
  if (found == NULL)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                    "Allow", allowed->str);
      cas_http_reply_error_status (msg, 405, "method_not_allowed",
                                   "method not allowed on this route");
      return;
    }

  found->handler (self, msg, path, query, found->user_data);
}

static void
on_got_chunk (SoupServerMessage *msg,
              GBytes            *chunk,
              gpointer           user_data)
{
  CasHttpServer *self = user_data;
  RequestInfo *info = g_object_get_qdata (G_OBJECT (msg), request_info_quark);

  if (info == NULL || info->body_too_large)
    return;
  info->body_bytes += g_bytes_get_size (chunk);
  if (info->body_bytes > self->config->http_max_body_bytes)
    {
      /* Stop keeping the body; libsoup still reads and drops the rest. */
      info->body_too_large = TRUE;
      soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
      soup_message_body_truncate (soup_server_message_get_request_body (msg));
    }
}

/* Early handler: sees each request once its headers are read, before
 * any of its body. (Not the server's "request-started" signal: libsoup
 * declares its signals without a marshaller, so GLib calls their handlers
 * through libffi; see connect_marshalled ().) */
static void
start_request (SoupServer        *server,
               SoupServerMessage *msg,
               const char        *path,
               GHashTable        *query,
               gpointer           user_data)
{
  CasHttpServer *self = user_data;
  RequestInfo *info = g_new0 (RequestInfo, 1);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  goffset declared = soup_message_headers_get_content_length (headers);

  g_snprintf (info->id, sizeof info->id, "%s-%" G_GUINT64_FORMAT,
              self->request_id_prefix, ++self->request_counter);
  info->start_us = g_get_monotonic_time ();
  info->access_log = self->config->http_access_log;
  g_object_set_qdata_full (G_OBJECT (msg), request_info_quark, info, g_free);

  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH &&
      (guint64) declared > self->config->http_max_body_bytes)
    {
      info->body_too_large = TRUE;
      soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
      return;
    }
  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CHUNKED)
    g_signal_connect_object (msg, "got-chunk", G_CALLBACK (on_got_chunk), self, 0);
}

static void
log_request (SoupServerMessage *msg,
             const char        *outcome)
{
  RequestInfo *info = g_object_get_qdata (G_OBJECT (msg), request_info_quark);
  GUri *uri = soup_server_message_get_uri (msg);
  const char *path = uri != NULL ? g_uri_get_path (uri) : "?";
  GLogLevelFlags level = G_LOG_LEVEL_MESSAGE;

  if (info == NULL || !info->access_log)
    return;
  /* /health is polled by schedulers: at message level it would flood the
   * journal. (And a dropped line is not worth formatting.) */
  if (g_str_equal (path, "/health"))
    {
      level = G_LOG_LEVEL_DEBUG;
      if (g_log_writer_default_would_drop (level, G_LOG_DOMAIN))
        return;
    }
  /* Paths only: query strings may carry things that should not be logged. */
  g_log (G_LOG_DOMAIN, level,
         "%s %s %s %u%s %.1f ms", info->id, soup_server_message_get_method (msg), path,
         soup_server_message_get_status (msg), outcome,
         (g_get_monotonic_time () - info->start_us) / 1000.0);
}

void
cas_http_server_log_taken_over (SoupServerMessage *msg,
                                const char        *outcome)
{
  log_request (msg, outcome);
}

static CasClientInputStream *
client_input (SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);

  return remote != NULL ? g_object_get_qdata (G_OBJECT (remote), client_input_quark) : NULL;
}

static void
request_done (SoupServerMessage *msg)
{
  CasClientInputStream *input = client_input (msg);

  set_cork (msg, FALSE);
  if (input != NULL)
    cas_client_input_stream_request_done (input);
}

static void
on_request_finished (SoupServer        *server,
                     SoupServerMessage *msg,
                     gpointer           user_data)
{
  request_done (msg);
  log_request (msg, "");
}

static void
on_request_aborted (SoupServer        *server,
                    SoupServerMessage *msg,
                    gpointer           user_data)
{
  request_done (msg);
  log_request (msg, " (client gone)");
}

static gboolean on_incoming (GSocket      *listener,
                             GIOCondition  condition,
                             gpointer      user_data);

static void
watch_listener (CasHttpServer *self)
{
  self->accept_source = g_socket_create_source (self->listener, G_IO_IN, NULL);
  g_source_set_callback (self->accept_source, G_SOURCE_FUNC (on_incoming), self, NULL);
  g_source_attach (self->accept_source, NULL);
}

static gboolean
resume_accepting (gpointer user_data)
{
  CasHttpServer *self = user_data;

  self->accept_retry_id = 0;
  watch_listener (self);
  return G_SOURCE_REMOVE;
}

/* We accept connections ourselves and hand them to libsoup: libsoup
 * 3.2.3's own listener leaks one GSocket per connection (valgrind:
 * "definitely lost" from g_socket_accept; aesthetics-anchors 5.1), which
 * a long-running daemon cannot afford. */
static gboolean
on_incoming (GSocket      *listener,
             GIOCondition  condition,
             gpointer      user_data)
{
  CasHttpServer *self = user_data;

  for (;;)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GSocket) client = g_socket_accept (listener, NULL, &error);
      g_autoptr (GSocketConnection) connection = NULL;
      g_autoptr (GInputStream) input = NULL;
      g_autoptr (GIOStream) stream = NULL;
      g_autoptr (GSocketAddress) local = NULL;
      g_autoptr (GSocketAddress) remote = NULL;

      if (client == NULL)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            return G_SOURCE_CONTINUE;
          /* Out of descriptors, say: the listener stays readable, so
           * retrying at once would spin. Pause, and let requests drain. */
          g_message (_("Cannot accept a connection (%s); pausing for %u ms"),
                     error->message, ACCEPT_RETRY_MS);
          g_clear_pointer (&self->accept_source, g_source_unref);
          self->accept_retry_id = g_timeout_add (ACCEPT_RETRY_MS, resume_accepting, self);
          return G_SOURCE_REMOVE;
        }
      /* As libsoup does: without it delayed ACKs stall small responses. */
      g_socket_set_option (client, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
      local = g_socket_get_local_address (client, NULL);
      remote = g_socket_get_remote_address (client, NULL);
      /* A client that reset the connection while it waited in the
       * backlog has no address any more (ENOTCONN): nothing to serve. */
      if (local == NULL || remote == NULL)
        {
          g_socket_close (client, NULL);
          continue;
        }
      connection = g_socket_connection_factory_create_connection (client);
      input = cas_client_input_stream_new (connection);
      stream = g_simple_io_stream_new (input, g_io_stream_get_output_stream (G_IO_STREAM (connection)));
      /* libsoup keeps the address for the connection's life and hands it to
       * every message: it carries the input, and through it the socket
       * (client_input ()). */
      g_object_set_qdata_full (G_OBJECT (remote), client_input_quark,
                              g_object_ref (input), g_object_unref);
      if (!soup_server_accept_iostream (self->soup, stream, local, remote, &error))
        g_debug ("accept: %s", error->message);
    }
}

/* libsoup's signals are declared without a marshaller, so GLib would
 * call every handler through libffi: these get GLib's own. */
static void
connect_marshalled (SoupServer *soup,
                    const char *signal_name,
                    GCallback   callback,
                    gpointer    user_data)
{
  GClosure *closure = g_cclosure_new (callback, user_data, NULL);

  g_closure_set_marshal (closure, g_cclosure_marshal_VOID__OBJECT);
  g_signal_connect_closure (soup, signal_name, closure, FALSE);
}

/* libsoup keeps a connection open after a response only while it has a
 * listener of its own (request_finished in soup-server.c), and we accept
 * connections ourselves. So it gets one that never sees a connection: one
 * end of a socketpair that nobody writes to. */
static gboolean
give_libsoup_a_listener (CasHttpServer *self,
                         GError       **error)
{
  int fds[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "socketpair: %s", g_strerror (saved_errno));
      return FALSE;
    }
  for (guint i = 0; i < 2; i++)
    {
      self->keepalive_pair[i] = g_socket_new_from_fd (fds[i], error);
      if (self->keepalive_pair[i] == NULL)
        {
          close (fds[i]);
          return FALSE;
        }
    }
  return soup_server_listen_socket (self->soup, self->keepalive_pair[0], 0, error);
}

GSocket *
cas_http_server_get_client_socket (SoupServerMessage *msg)
{
  CasClientInputStream *input = client_input (msg);

  return input != NULL ? cas_client_input_stream_get_socket (input) : NULL;
}

/* Every step of listening fails with the same words. */
static gboolean
cannot_listen (CasHttpServer *self,
               const GError  *cause,
               GError       **error)
{
  g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
               _("Cannot listen on %s port %u: %s"), self->config->http_address,
               self->config->http_port, cause->message);
  return FALSE;
}

gboolean
cas_http_server_listen (CasHttpServer *self,
                        GError       **error)
{
  g_autoptr (GInetAddress) address = NULL;
  g_autoptr (GSocketAddress) socket_address = NULL;
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GError) local_error = NULL;

  address = g_inet_address_new_from_string (self->config->http_address);
  if (address == NULL)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   _("Invalid value “%s” for [http] address: expected an IP address "
                     "such as 127.0.0.1 or ::1"),
                   self->config->http_address);
      return FALSE;
    }
  socket_address = g_inet_socket_address_new (address, self->config->http_port);

  socket = g_socket_new (g_inet_address_get_family (address), G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, &local_error);
  if (socket != NULL)
    g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);
  if (socket == NULL ||
      !g_socket_bind (socket, socket_address, TRUE, &local_error) ||
      !g_socket_listen (socket, &local_error))
    return cannot_listen (self, local_error, error);

  bound = g_socket_get_local_address (socket, NULL);
  if (bound != NULL)
    self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));

  /* No Server header: libsoup formats each header with printf on every
   * response, and a version is better not announced; /health tells who
   * and which version to those who ask. */
  self->soup = soup_server_new (NULL, NULL);
  soup_server_add_early_handler (self->soup, NULL, start_request, self, NULL);
  soup_server_add_handler (self->soup, NULL, dispatch, self, NULL);
  connect_marshalled (self->soup, "request-finished", G_CALLBACK (on_request_finished), self);
  connect_marshalled (self->soup, "request-aborted", G_CALLBACK (on_request_aborted), self);

  if (!give_libsoup_a_listener (self, &local_error))
    return cannot_listen (self, local_error, error);

  g_socket_set_blocking (socket, FALSE);
  self->listener = g_steal_pointer (&socket);
  watch_listener (self);
  return TRUE;
}

guint
cas_http_server_get_port (CasHttpServer *self)
{
  return self->port;
}

void
cas_http_server_shutdown (CasHttpServer *self)
{
  g_clear_handle_id (&self->accept_retry_id, g_source_remove);
  if (self->accept_source != NULL)
    g_source_destroy (self->accept_source);
  g_clear_pointer (&self->accept_source, g_source_unref);
  if (self->listener != NULL)
    g_socket_close (self->listener, NULL);
  g_clear_object (&self->listener);
  if (self->soup != NULL)
    soup_server_disconnect (self->soup);
  for (guint i = 0; i < G_N_ELEMENTS (self->keepalive_pair); i++)
    g_clear_object (&self->keepalive_pair[i]);
}
