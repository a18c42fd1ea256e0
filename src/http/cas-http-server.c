/* cas-http-server.c: one SoupServer handler at "/" routes every request,
 * so auth, 404/405 and the access log live in one place.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-http"

#include "config.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <gio/gnetworking.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib/gi18n.h>

#include "cas-client-input-stream.h"
#include "cas-error.h"
#include "cas-http-server.h"
#include "cas-json.h"

/* GLib's listening sockets get a backlog of 10; 20 voice clients
 * connecting at once then lose SYNs and retry after 1 s. A client that
 * opens connections faster than we accept them (a flood) overflows even
 * 128 now and then, and every SYN lost then costs someone a second: the
 * kernel caps this at net.core.somaxconn (4096 on Debian 12). */
#define LISTEN_BACKLOG 1024
#define ACCEPT_RETRY_MS 100
/* Connections accepted in one go: libsoup closes those we shut down only
 * when the main loop gets to them, so a flood must let it. */
#define ACCEPT_BATCH 32
/* Shut-down connections still holding a descriptor, on top of the cap,
 * before we stop accepting until some are gone. */
#define CLOSING_SLACK 64
/* Client-supplied fields in a log line are cut at this many bytes. */
#define LOG_FIELD_MAX 256
/* How long a connection answered without reading its body may still
 * send (read and dropped) before it is closed: long enough for a client
 * that sends its whole body before it reads to get the answer. */
#define LINGER_SECONDS 2

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
  CasLogin *login;      /* (owned) (nullable) */
  SoupServer *soup;     /* (owned) */
  GSocket *listener;    /* (owned) (nullable) */
  GSocket *keepalive_pair[2]; /* (owned) (nullable) see give_libsoup_a_listener */
  GSource *accept_source; /* (owned) (nullable) */
  guint accept_retry_id;
  gboolean accepting_paused; /* until shut-down connections are gone */
  guint connections_high_water; /* since the last time none was open */
  GPtrArray *routes;    /* (element-type Route) (owned) */
  guint port;
  /* Client connections, oldest first, for their timeouts and the cap;
   * each leaves the queue when it is finalized. */
  GQueue connections;   /* (element-type CasClientInputStream) (unowned) */
  guint sweep_id;
  guint trim_id;
  guint max_connections;
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
  gboolean authenticated;
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
  g_clear_handle_id (&self->trim_id, g_source_remove);
  g_clear_object (&self->soup);
  g_ptr_array_unref (self->routes);
  g_clear_pointer (&self->config, cas_config_unref);
  g_clear_object (&self->login);
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
cas_http_server_set_login (CasHttpServer *self,
                           CasLogin      *login)
{
  g_set_object (&self->login, login);
}

gboolean
cas_http_server_check_token (CasHttpServer *self,
                             const char    *given)
{
  return given != NULL && cas_http_token_equal (given, self->api_token);
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

gboolean
cas_http_server_request_is_https (CasHttpServer     *self,
                                  SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *proto = soup_message_headers_get_one (headers, "X-Forwarded-Proto");

  return proto != NULL && g_ascii_strcasecmp (proto, "https") == 0 &&
         peer_is_trusted_proxy (self, msg);
}

/* Returns NULL when authenticated, else the reason. Words sent to HTTP
 * clients stay English: callers match on them (see cas-error.h). */
static const char *
check_auth (CasHttpServer     *self,
            SoupServerMessage *msg,
            const char        *path)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *authorization = soup_message_headers_get_one (headers, "Authorization");
  const char *cookie = NULL;

  if (self->config->http_trust_proxy_user_header && peer_is_trusted_proxy (self, msg))
    {
      const char *user = soup_message_headers_get_one (headers, "X-authentik-username");

      if (user != NULL && *user != '\0')
        return NULL;
    }

  /* The web UI's session cookie, for the API it calls only: an
   * EventSource cannot send a header. (SameSite=Strict keeps other
   * sites' pages from sending it.) */
  if (self->login != NULL && path != NULL && g_str_has_prefix (path, "/api/"))
    {
      cookie = soup_message_headers_get_one (headers, "Cookie");
      if (cookie != NULL &&
          cas_login_check_cookie_header (self->login, cookie, g_get_real_time ()))
        return NULL;
    }

  if (authorization == NULL || g_ascii_strncasecmp (authorization, "Bearer ", 7) != 0)
    return cookie != NULL && strstr (cookie, CAS_LOGIN_COOKIE_NAME "=") != NULL
             ? "invalid or expired session cookie" : "missing bearer token";
  if (!cas_http_token_equal (authorization + 7, self->api_token))
    return "invalid bearer token";
  return NULL;
}

/* The route for @method and @path, or NULL; @path_known and @allowed
 * (both nullable) say whether any route has that path, and with which
 * methods. */
static const Route *
find_route (CasHttpServer *self,
            const char    *method,
            const char    *path,
            gboolean      *path_known,
            GString       *allowed)
{
  for (guint i = 0; i < self->routes->len; i++)
    {
      const Route *route = g_ptr_array_index (self->routes, i);

      if (!route_matches_path (route, path))
        continue;
      if (path_known != NULL)
        *path_known = TRUE;
      if (g_str_equal (route->method, method))
        return route;
      if (allowed != NULL && !strstr (allowed->str, route->method))
        g_string_append_printf (allowed, "%s%s", allowed->len > 0 ? ", " : "", route->method);
    }
  return NULL;
}

static CasClientInputStream *client_input (SoupServerMessage *msg);

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
  CasClientInputStream *input = client_input (msg);
  const Route *found = NULL;
  gboolean path_known = FALSE;
  g_autoptr (GString) allowed = g_string_new (NULL);
  const char *auth_failure;

  /* Its body is in: from now on it takes the time it takes. */
  if (input != NULL)
    cas_client_input_stream_set_phase (input, CAS_CLIENT_PHASE_ANSWERING);
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

  found = find_route (self, method, path, &path_known, allowed);
  if (found == NULL || !(found->flags & CAS_ROUTE_PUBLIC))
    {
      auth_failure = check_auth (self, msg, path);
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

char *
cas_http_log_escape (const char *text,
                     gsize       max_bytes)
{
  const char *end;
  GString *out;

  if (text == NULL)
    return g_strdup ("-");
  end = text + strlen (text);
  out = g_string_sized_new (MIN ((gsize) (end - text), max_bytes) + 4);
  for (const char *p = text; p < end;)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);
      gboolean valid = c != (gunichar) -1 && c != (gunichar) -2;
      gsize len = valid ? (gsize) (g_utf8_next_char (p) - p) : 1;
      /* C0 and C1 controls and DEL could end the line or steer a
       * terminal; the backslash is escaped so an escape means one. */
      gboolean escape = !valid || c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == '\\';
      gsize piece = escape ? 4 * len : len;

      if (out->len + piece > max_bytes)
        {
          g_string_append (out, "…");
          break;
        }
      if (escape)
        for (gsize i = 0; i < len; i++)
          g_string_append_printf (out, "\\x%02x", (guint8) p[i]);
      else
        g_string_append_len (out, p, len);
      p += len;
    }
  return g_string_free (out, FALSE);
}

static void
log_request (SoupServerMessage *msg,
             const char        *outcome)
{
  RequestInfo *info = g_object_get_qdata (G_OBJECT (msg), request_info_quark);
  GUri *uri = soup_server_message_get_uri (msg);
  const char *path = uri != NULL ? g_uri_get_path (uri) : "?";
  GLogLevelFlags level = G_LOG_LEVEL_MESSAGE;
  g_autofree char *method = NULL;
  g_autofree char *safe_path = NULL;

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
  /* Paths only: query strings may carry things that should not be logged.
   * What the client sent is escaped and cut: one request, one short line. */
  method = cas_http_log_escape (soup_server_message_get_method (msg), LOG_FIELD_MAX);
  safe_path = cas_http_log_escape (path, LOG_FIELD_MAX);
  g_log (G_LOG_DOMAIN, level,
         "%s %s %s %u%s %.1f ms", info->id, method, safe_path,
         soup_server_message_get_status (msg), outcome,
         (g_get_monotonic_time () - info->start_us) / 1000.0);
}

void
cas_http_server_log_taken_over (SoupServerMessage *msg,
                                const char        *outcome)
{
  log_request (msg, outcome);
}

gboolean
cas_http_server_is_authenticated (SoupServerMessage *msg)
{
  RequestInfo *info = g_object_get_qdata (G_OBJECT (msg), request_info_quark);

  return info != NULL && info->authenticated;
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

/* A connection answered before its body was read: the answer goes out,
 * then whatever the client still sends is read and dropped for a moment
 * (LINGER_SECONDS at most, whatever it sends), so that closing with
 * unread data, which sends a reset, does not destroy the answer before
 * the client has read it. */
typedef struct {
  GIOStream *stream;   /* (owned) */
  CasClientInputStream *client; /* (owned) (nullable) */
  GBytes *answer;      /* (owned) */
  GSource *drain;      /* (owned) (nullable) */
  GCancellable *writing; /* (owned) (nullable) while the answer is written */
  guint timeout_id;
} Linger;

static void
linger_free (Linger *linger)
{
  g_clear_handle_id (&linger->timeout_id, g_source_remove);
  if (linger->drain != NULL)
    g_source_destroy (linger->drain);
  g_clear_pointer (&linger->drain, g_source_unref);
  g_io_stream_close (linger->stream, NULL, NULL);
  g_object_unref (linger->stream);
  g_clear_object (&linger->client);
  g_bytes_unref (linger->answer);
  g_clear_object (&linger->writing);
  g_free (linger);
}

static gboolean
linger_timeout (gpointer user_data)
{
  Linger *linger = user_data;

  linger->timeout_id = 0;
  /* A client that reads nothing: the write ends, and frees. */
  if (linger->writing != NULL)
    g_cancellable_cancel (linger->writing);
  else
    linger_free (linger);
  return G_SOURCE_REMOVE;
}

static gboolean
linger_drain (GObject  *stream,
              gpointer  user_data)
{
  Linger *linger = user_data;
  char buffer[16384];
  gssize n;

  /* A few reads per wake-up: a fast sender must not keep the main loop
   * (and the linger timeout) waiting. */
  for (guint i = 0; i < 16; i++)
    {
      g_autoptr (GError) error = NULL;

      n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (stream),
                                                    buffer, sizeof buffer, NULL, &error);
      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        return G_SOURCE_CONTINUE;
      if (n <= 0)
        break;
      if (i == 15)
        return G_SOURCE_CONTINUE;
    }
  /* The end, or an error: done. */
  g_clear_pointer (&linger->drain, g_source_unref);
  linger_free (linger);
  return G_SOURCE_REMOVE;
}

static void
linger_wrote (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Linger *linger = user_data;
  GInputStream *input = g_io_stream_get_input_stream (linger->stream);
  gboolean written = g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result,
                                                       NULL, NULL);

  g_clear_object (&linger->writing);
  if (!written || linger->timeout_id == 0 || !G_IS_POLLABLE_INPUT_STREAM (input))
    {
      linger_free (linger);
      return;
    }
  /* The end of the answer, for clients that read to the end. */
  if (linger->client != NULL)
    g_socket_shutdown (cas_client_input_stream_get_socket (linger->client), FALSE, TRUE, NULL);
  linger->drain = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (input), NULL);
  g_source_set_callback (linger->drain, G_SOURCE_FUNC (linger_drain), linger, NULL);
  g_source_attach (linger->drain, NULL);
}

/* Answers @msg with an error and closes its connection without reading
 * its body: libsoup would read all of it first (even one declared
 * 10 GB), and send "100 Continue" to a client that asked. So the
 * connection is taken from libsoup and answered by hand. */
static void
answer_unread (CasHttpServer     *self,
               SoupServerMessage *msg,
               guint              status,
               const char        *code_name,
               const char        *message)
{
  RequestInfo *info = g_object_get_qdata (G_OBJECT (msg), request_info_quark);
  CasClientInputStream *input = client_input (msg);
  GUri *uri = soup_server_message_get_uri (msg);
  g_autofree char *body = cas_http_format_error (g_uri_get_path (uri), status,
                                                 code_name, message);
  GString *answer = g_string_sized_new (256 + strlen (body));
  g_autoptr (SoupServerMessage) keep = g_object_ref (msg);
  GIOStream *stream;
  Linger *linger;

  g_string_append_printf (answer,
                          "HTTP/1.1 %u %s\r\n"
                          "Content-Type: application/json\r\n"
                          "Content-Length: %" G_GSIZE_FORMAT "\r\n"
                          "Connection: close\r\n"
                          "X-Request-Id: %s\r\n",
                          status, soup_status_get_phrase (status), strlen (body), info->id);
  if (status == SOUP_STATUS_UNAUTHORIZED)
    g_string_append (answer, "WWW-Authenticate: Bearer\r\n");
  g_string_append (answer, "\r\n");
  g_string_append (answer, body);

  soup_server_message_set_status (msg, status, NULL);
  log_request (msg, " (body not read)");
  /* Logged: libsoup will not report this request again. */
  info->access_log = FALSE;
  if (input != NULL)
    cas_client_input_stream_set_phase (input, CAS_CLIENT_PHASE_ANSWERING);

  stream = soup_server_message_steal_connection (msg);
  if (stream == NULL)
    {
      g_string_free (answer, TRUE);
      return;
    }
  linger = g_new0 (Linger, 1);
  linger->stream = stream;
  linger->client = input != NULL ? g_object_ref (input) : NULL;
  linger->answer = g_string_free_to_bytes (answer);
  linger->writing = g_cancellable_new ();
  linger->timeout_id = g_timeout_add_seconds (LINGER_SECONDS, linger_timeout, linger);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (stream),
                                   g_bytes_get_data (linger->answer, NULL),
                                   g_bytes_get_size (linger->answer),
                                   G_PRIORITY_DEFAULT, linger->writing, linger_wrote, linger);
}

/* Early handler: sees each request once its headers are read, before
 * any of its body, so a request that will be refused is refused before
 * the body is read, or "100 Continue" sent. (Not the server's
 * "request-started" signal: libsoup declares its signals without a
 * marshaller, so GLib calls their handlers through libffi; see
 * connect_marshalled ().) */
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
  SoupEncoding encoding = soup_message_headers_get_encoding (headers);
  goffset declared = soup_message_headers_get_content_length (headers);
  CasClientInputStream *input = client_input (msg);
  const Route *route;
  const char *auth_failure;
  gboolean has_body;

  g_snprintf (info->id, sizeof info->id, "%s-%" G_GUINT64_FORMAT,
              self->request_id_prefix, ++self->request_counter);
  info->start_us = g_get_monotonic_time ();
  info->access_log = self->config->http_access_log;
  g_object_set_qdata_full (G_OBJECT (msg), request_info_quark, info, g_free);
  if (input != NULL)
    cas_client_input_stream_set_phase (input, CAS_CLIENT_PHASE_BODY);

  has_body = encoding == SOUP_ENCODING_CHUNKED ||
             (encoding == SOUP_ENCODING_CONTENT_LENGTH && declared > 0) ||
             (soup_message_headers_get_expectations (headers) & SOUP_EXPECTATION_CONTINUE);
  route = find_route (self, soup_server_message_get_method (msg), path, NULL, NULL);
  auth_failure = check_auth (self, msg, path);
  info->authenticated = auth_failure == NULL;
  /* Without a body there is nothing to skip: dispatch () answers, and the
   * connection stays open. */
  if (has_body && auth_failure != NULL && (route == NULL || !(route->flags & CAS_ROUTE_PUBLIC)))
    {
      answer_unread (self, msg, SOUP_STATUS_UNAUTHORIZED, "unauthorized", auth_failure);
      return;
    }

  if (encoding == SOUP_ENCODING_CONTENT_LENGTH &&
      (guint64) declared > self->config->http_max_body_bytes)
    {
      g_autofree char *message =
        g_strdup_printf ("request body is larger than %" G_GUINT64_FORMAT " bytes",
                         self->config->http_max_body_bytes);

      answer_unread (self, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "payload_too_large", message);
      return;
    }
  if (encoding == SOUP_ENCODING_CHUNKED)
    g_signal_connect_object (msg, "got-chunk", G_CALLBACK (on_got_chunk), self, 0);
}

/* Bodies from this size on are given back to the system when they go. */
#define TRIM_AFTER_BYTES (1024 * 1024)
/* As many connections at once, all gone again, also leave freed memory
 * behind (a flood): the last one to close gives it back. */
#define TRIM_AFTER_CONNECTIONS 64

static gboolean
on_trim (gpointer user_data)
{
  CasHttpServer *self = user_data;

  self->trim_id = 0;
#ifdef __GLIBC__
  malloc_trim (0);
#endif
  return G_SOURCE_REMOVE;
}

/* glibc keeps what a large body freed, so one burst of them would keep
 * the daemon's RSS up for good. Once the request's message (and its
 * body) is gone, at low priority and once for many: not per request. */
static void
schedule_trim (CasHttpServer *self)
{
  if (self->trim_id == 0)
    self->trim_id = g_idle_add_full (G_PRIORITY_LOW, on_trim, self, NULL);
}

static void
trim_after_large_body (CasHttpServer     *self,
                       SoupServerMessage *msg)
{
  RequestInfo *info = g_object_get_qdata (G_OBJECT (msg), request_info_quark);
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  guint64 size = MAX ((guint64) body->length, info != NULL ? info->body_bytes : 0);

  if (size >= TRIM_AFTER_BYTES)
    schedule_trim (self);
}

static void
on_request_finished (SoupServer        *server,
                     SoupServerMessage *msg,
                     gpointer           user_data)
{
  request_done (msg);
  log_request (msg, "");
  trim_after_large_body (user_data, msg);
}

static void
on_request_aborted (SoupServer        *server,
                    SoupServerMessage *msg,
                    gpointer           user_data)
{
  request_done (msg);
  log_request (msg, " (client gone)");
  trim_after_large_body (user_data, msg);
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

/* Every connection we hold a descriptor for, being closed or not. */
static gboolean
too_many_descriptors (CasHttpServer *self)
{
  return g_queue_get_length (&self->connections) >= self->max_connections + CLOSING_SLACK;
}

static void
forget_connection (gpointer  data,
                   GObject  *where_the_object_was)
{
  CasHttpServer *self = data;

  g_queue_remove (&self->connections, where_the_object_was);
  if (g_queue_is_empty (&self->connections) &&
      self->connections_high_water >= TRIM_AFTER_CONNECTIONS)
    {
      self->connections_high_water = 0;
      schedule_trim (self);
    }
  if (self->accepting_paused && !too_many_descriptors (self))
    {
      self->accepting_paused = FALSE;
      watch_listener (self);
    }
}

/* Open connections: those being closed no longer count. */
static gboolean
connection_counts (CasClientInputStream *input)
{
  return !cas_client_input_stream_is_shut_down (input) &&
         !g_input_stream_is_closed (G_INPUT_STREAM (input)) &&
         cas_client_input_stream_get_phase (input) != CAS_CLIENT_PHASE_CLOSING;
}

/* Every second while there are connections: a client that is slow to
 * send a request, its headers or its body, or keeps a connection idle,
 * loses it. Answers take the time they take (streams have heartbeats). */
static gboolean
sweep_connections (gpointer user_data)
{
  CasHttpServer *self = user_data;
  const CasConfig *config = self->config;
  gint64 now = g_get_monotonic_time ();

  for (GList *l = self->connections.head; l != NULL; l = l->next)
    {
      CasClientInputStream *input = l->data;
      gint64 since = cas_client_input_stream_get_phase_since (input);
      guint limit;
      const char *what;

      if (!connection_counts (input))
        continue;
      switch (cas_client_input_stream_get_phase (input))
        {
        case CAS_CLIENT_PHASE_IDLE:
          if (cas_client_input_stream_has_served (input))
            {
              limit = config->http_idle_timeout_seconds;
              what = "idle";
            }
          else
            {
              limit = config->http_header_timeout_seconds;
              what = "no request";
            }
          break;
        case CAS_CLIENT_PHASE_HEADERS:
          limit = config->http_header_timeout_seconds;
          what = "headers too slow";
          break;
        case CAS_CLIENT_PHASE_BODY:
          since = MAX (since, cas_client_input_stream_get_last_read (input));
          limit = config->http_body_timeout_seconds;
          what = "body too slow";
          break;
        case CAS_CLIENT_PHASE_ANSWERING:
        case CAS_CLIENT_PHASE_CLOSING:
        default:
          continue;
        }
      if (now - since >= (gint64) limit * G_USEC_PER_SEC)
        {
          g_debug ("Closing a client connection: %s for %u s", what, limit);
          cas_client_input_stream_shut_down (input);
        }
    }
  if (g_queue_is_empty (&self->connections))
    {
      self->sweep_id = 0;
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* Room for one more connection: at the cap, the one idle the longest
 * goes. FALSE when every connection is busy with a request. */
static gboolean
make_room (CasHttpServer *self)
{
  CasClientInputStream *oldest_idle = NULL;
  guint open = 0;

  for (GList *l = self->connections.head; l != NULL; l = l->next)
    {
      CasClientInputStream *input = l->data;

      if (!connection_counts (input))
        continue;
      open++;
      if (cas_client_input_stream_get_phase (input) == CAS_CLIENT_PHASE_IDLE &&
          (oldest_idle == NULL ||
           cas_client_input_stream_get_phase_since (input) <
             cas_client_input_stream_get_phase_since (oldest_idle)))
        oldest_idle = input;
    }
  if (open < self->max_connections)
    return TRUE;
  if (oldest_idle == NULL)
    return FALSE;
  g_debug ("Closing the longest idle client connection: %u open", open);
  cas_client_input_stream_shut_down (oldest_idle);
  return TRUE;
}

/* Every connection is busy: the newcomer is told so, and closed. */
static void
refuse_connection (GSocket *client)
{
  static const char answer[] =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 72\r\n"
    "Connection: close\r\n"
    "Retry-After: 1\r\n"
    "\r\n"
    "{\"error\":\"busy\",\"detail\":\"too many client connections; try again later\"}";

  g_debug ("Refusing a client connection: every one is busy");
  g_socket_set_blocking (client, FALSE);
  g_socket_send (client, answer, sizeof answer - 1, NULL, NULL);
  g_socket_shutdown (client, FALSE, TRUE, NULL);
  g_socket_close (client, NULL);
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

  for (guint accepted = 0; accepted < ACCEPT_BATCH; accepted++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GSocket) client = NULL;
      g_autoptr (GSocketConnection) connection = NULL;
      g_autoptr (GInputStream) input = NULL;
      g_autoptr (GIOStream) stream = NULL;
      g_autoptr (GSocketAddress) local = NULL;
      g_autoptr (GSocketAddress) remote = NULL;

      /* The cap counts open connections; those being closed still hold
       * a descriptor each until libsoup lets go of them. */
      if (too_many_descriptors (self))
        {
          g_debug ("Not accepting until closing connections are gone");
          self->accepting_paused = TRUE;
          g_clear_pointer (&self->accept_source, g_source_unref);
          return G_SOURCE_REMOVE;
        }
      client = g_socket_accept (listener, NULL, &error);

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
      if (!make_room (self))
        {
          refuse_connection (client);
          continue;
        }
      connection = g_socket_connection_factory_create_connection (client);
      input = cas_client_input_stream_new (connection);
      g_queue_push_tail (&self->connections, input);
      self->connections_high_water = MAX (self->connections_high_water,
                                          g_queue_get_length (&self->connections));
      g_object_weak_ref (G_OBJECT (input), forget_connection, self);
      if (self->sweep_id == 0)
        self->sweep_id = g_timeout_add_seconds (1, sweep_connections, self);
      stream = g_simple_io_stream_new (input, g_io_stream_get_output_stream (G_IO_STREAM (connection)));
      /* libsoup keeps the address for the connection's life and hands it to
       * every message: it carries the input, and through it the socket
       * (client_input ()). */
      g_object_set_qdata_full (G_OBJECT (remote), client_input_quark,
                              g_object_ref (input), g_object_unref);
      if (!soup_server_accept_iostream (self->soup, stream, local, remote, &error))
        g_debug ("accept: %s", error->message);
    }
  return G_SOURCE_CONTINUE;
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

/* @wanted, or half the descriptor limit if that is less: the other half
 * is for claude's pipes, files and a margin. */
static guint
connection_cap (guint wanted)
{
  struct rlimit limit;
  guint cap;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
    return wanted;
  cap = (guint) MAX (MIN (limit.rlim_cur / 2, G_MAXUINT), 1);
  if (wanted <= cap)
    return wanted;
  g_message (_("[http] max-connections lowered from %u to %u: the descriptor limit is %lu"),
             wanted, cap, (unsigned long) limit.rlim_cur);
  return cap;
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

  self->max_connections = connection_cap (self->config->http_max_connections);

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
  g_clear_handle_id (&self->sweep_id, g_source_remove);
  self->accepting_paused = FALSE;
  while (!g_queue_is_empty (&self->connections))
    g_object_weak_unref (g_queue_pop_head (&self->connections), forget_connection, self);
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
