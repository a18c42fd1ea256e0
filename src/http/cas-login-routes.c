/* cas-login-routes.c: POST /api/login {"token": "..."} checks the API
 * token and sets the session cookie; POST /api/logout ends the session.
 * A wrong token is logged and answered late, the later the more came
 * from the same address before it (CasLogin decides), from a timeout:
 * the main loop never waits. The sessions (their hashes) are kept in the
 * state directory across restarts.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-http"

#include "config.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "cas-file-writer.h"
#include "cas-json-scan.h"
#include "cas-login-routes.h"

/* {"token": "..."} and some room; anything bigger is not a login. */
#define MAX_LOGIN_BODY 4096
#define LOG_FIELD_MAX 64

struct _CasLoginRoutes
{
  GObject parent_instance;

  CasLogin *login;               /* (owned) */
  GHashTable *waiting;           /* (element-type Waiting) (owned) answers on a timer */
  char *sessions_path;           /* (owned) */
  CasFileWriter *writer;         /* (owned) (nullable) without a worker thread */
};

G_DEFINE_FINAL_TYPE (CasLoginRoutes, cas_login_routes, G_TYPE_OBJECT)

/* A login answered once its wait is over. */
typedef struct {
  CasLoginRoutes *routes;        /* (unowned) it owns us */
  CasHttpServer *server;         /* (unowned) outlives its requests */
  SoupServerMessage *msg;        /* (owned) */
  gboolean right;
  gulong finished_id;
  gulong disconnected_id;
  guint timeout_id;
} Waiting;

static void
waiting_free (Waiting *waiting)
{
  g_clear_handle_id (&waiting->timeout_id, g_source_remove);
  g_clear_signal_handler (&waiting->finished_id, waiting->msg);
  g_clear_signal_handler (&waiting->disconnected_id, waiting->msg);
  g_clear_object (&waiting->msg);
  g_free (waiting);
}

static void
reply_error (SoupServerMessage *msg,
             guint              status,
             const char        *code_name,
             const char        *message)
{
  cas_http_reply_error_status (msg, status, code_name, message);
}

static void
on_sessions_saved (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr (GError) error = NULL;

  if (!cas_file_writer_replace_finish (CAS_FILE_WRITER (source), result, &error))
    g_message (_("Cannot save the web console's logins: %s"), error->message);
}

static void
save_sessions (CasLoginRoutes *self)
{
  if (self->writer != NULL)
    cas_file_writer_replace_async (self->writer, self->sessions_path,
                                   cas_login_sessions_to_json (self->login, g_get_real_time ()),
                                   on_sessions_saved, NULL);
}

static void
restore_sessions (CasLoginRoutes *self)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;
  guint restored;
  GStatBuf st;

  /* Not read at all when it is larger than a full list can be. */
  if (g_stat (self->sessions_path, &st) == 0 && st.st_size > CAS_LOGIN_MAX_SAVED_BYTES)
    {
      g_message (_("The web console's logins in %s are unreadable, so every browser logs in "
                   "again: %s"), self->sessions_path, "too large");
      return;
    }
  if (!g_file_get_contents (self->sessions_path, &contents, &length, &error))
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_message (_("Cannot read the web console's logins: %s"), error->message);
      return;
    }
  restored = cas_login_restore_sessions (self->login, contents, length, g_get_real_time (),
                                         &error);
  if (error != NULL)
    g_message (_("The web console's logins in %s are unreadable, so every browser logs in "
                 "again: %s"), self->sessions_path, error->message);
  else
    g_debug ("%u web console login(s) restored", restored);
}

static void
answer (CasLoginRoutes    *self,
        CasHttpServer     *server,
        SoupServerMessage *msg,
        gboolean           right)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  g_autofree char *value = NULL;
  g_autofree char *set_cookie = NULL;

  if (!right)
    {
      reply_error (msg, SOUP_STATUS_UNAUTHORIZED, "unauthorized", "invalid token");
      return;
    }
  value = cas_login_open_session (self->login, g_get_real_time ());
  if (value == NULL)
    {
      reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal_error",
                   "no random bytes for a session");
      return;
    }
  set_cookie = cas_login_format_set_cookie (value, cas_http_server_request_is_https (server, msg));
  explicit_bzero (value, strlen (value));
  soup_message_headers_append (headers, "Set-Cookie", set_cookie);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  explicit_bzero (set_cookie, strlen (set_cookie));
  save_sessions (self);
  cas_http_reply_json (msg, SOUP_STATUS_OK,
                       g_strdup_printf ("{\"ok\":true,\"expires_in\":%u}",
                                        (guint) CAS_LOGIN_SESSION_SECONDS));
}

static gboolean
on_wait_over (gpointer user_data)
{
  Waiting *waiting = user_data;

  waiting->timeout_id = 0;
  answer (waiting->routes, waiting->server, waiting->msg, waiting->right);
  soup_server_message_unpause (waiting->msg);
  g_hash_table_remove (waiting->routes->waiting, waiting);
  return G_SOURCE_REMOVE;
}

/* The client went away while it waited: nothing to answer. */
static void
on_waiting_finished (SoupServerMessage *msg,
                     gpointer           user_data)
{
  Waiting *waiting = user_data;

  g_hash_table_remove (waiting->routes->waiting, waiting);
}

static void
handle_login (CasHttpServer     *server,
              SoupServerMessage *msg,
              const char        *path,
              GHashTable        *query,
              gpointer           user_data)
{
  CasLoginRoutes *self = user_data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  const char *const paths[] = { "token", NULL };
  char *values[1] = { NULL };
  g_autofree char *token = NULL;
  g_autofree char *peer = NULL;
  gboolean right;
  guint failures = 0;
  gint64 delay_ms;
  Waiting *waiting;

  if (body->length > MAX_LOGIN_BODY)
    {
      reply_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "payload_too_large",
                   "a login body is a few bytes: {\"token\": \"...\"}");
      return;
    }
  /* The strict scanner: it refuses a "\u0000", which would cut the
   * token short in C. */
  if (body->data == NULL ||
      !cas_json_scan_strings (body->data, body->length, paths, values))
    {
      reply_error (msg, SOUP_STATUS_BAD_REQUEST, "invalid_request",
                   "body must be a JSON object {\"token\": \"...\"}");
      return;
    }
  token = values[0];
  if (token == NULL)
    {
      reply_error (msg, SOUP_STATUS_BAD_REQUEST, "invalid_request",
                   "\"token\" must be a string");
      return;
    }

  right = cas_http_server_check_token (server, token);
  explicit_bzero (token, strlen (token));
  peer = cas_http_log_escape (soup_server_message_get_remote_host (msg), LOG_FIELD_MAX);
  delay_ms = cas_login_plan_answer (self->login, peer, right, g_get_monotonic_time (),
                                    &failures);
  if (delay_ms < 0)
    {
      g_message (_("Refused a login from %s: too many failed logins from there"), peer);
      reply_error (msg, 429, "too_many_requests",
                   "too many failed logins from this address; try again later");
      return;
    }
  if (!right)
    g_message (_("Failed login from %s (%u in a row): answering in %u ms"),
               peer, failures, (guint) delay_ms);
  else
    g_info ("login from %s", peer);
  if (delay_ms == 0)
    {
      answer (self, server, msg, right);
      return;
    }

  waiting = g_new0 (Waiting, 1);
  waiting->routes = self;
  waiting->server = server;
  waiting->msg = g_object_ref (msg);
  waiting->right = right;
  waiting->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (on_waiting_finished),
                                           waiting);
  /* A server that shuts down closes the connection without "finished". */
  waiting->disconnected_id = g_signal_connect (msg, "disconnected",
                                               G_CALLBACK (on_waiting_finished), waiting);
  waiting->timeout_id = g_timeout_add ((guint) delay_ms, on_wait_over, waiting);
  g_hash_table_add (self->waiting, waiting);
  soup_server_message_pause (msg);
}

static void
handle_logout (CasHttpServer     *server,
               SoupServerMessage *msg,
               const char        *path,
               GHashTable        *query,
               gpointer           user_data)
{
  CasLoginRoutes *self = user_data;
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  g_autofree char *set_cookie =
    cas_login_format_set_cookie (NULL, cas_http_server_request_is_https (server, msg));
  guint closed;

  /* Public, so that an expired cookie can be cleared too: it ends only
   * the sessions whose values it is sent. */
  closed = cas_login_close_cookie_header (self->login,
                                          soup_message_headers_get_one (request, "Cookie"));
  if (closed > 0)
    save_sessions (self);
  soup_message_headers_append (soup_server_message_get_response_headers (msg),
                               "Set-Cookie", set_cookie);
  cas_http_reply_json (msg, SOUP_STATUS_OK,
                       g_strdup_printf ("{\"ok\":true,\"closed\":%s}",
                                        closed > 0 ? "true" : "false"));
}

static void
cas_login_routes_finalize (GObject *object)
{
  CasLoginRoutes *self = CAS_LOGIN_ROUTES (object);

  g_hash_table_unref (self->waiting);
  g_clear_object (&self->login);
  g_clear_object (&self->writer);
  g_free (self->sessions_path);

  G_OBJECT_CLASS (cas_login_routes_parent_class)->finalize (object);
}

static void
cas_login_routes_class_init (CasLoginRoutesClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_login_routes_finalize;
}

static void
cas_login_routes_init (CasLoginRoutes *self)
{
  self->waiting = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) waiting_free, NULL);
}

CasLoginRoutes *
cas_login_routes_new (CasLogin   *login,
                      const char *state_dir)
{
  CasLoginRoutes *self = g_object_new (CAS_TYPE_LOGIN_ROUTES, NULL);
  g_autoptr (GError) error = NULL;

  self->login = g_object_ref (login);
  self->sessions_path = g_build_filename (state_dir, "login-sessions.json", NULL);
  self->writer = cas_file_writer_new (&error);
  if (self->writer == NULL)
    g_message (_("The web console's logins will not outlive a restart: %s"), error->message);
  restore_sessions (self);
  return self;
}

void
cas_login_routes_register (CasLoginRoutes *self,
                           CasHttpServer  *http)
{
  cas_http_server_add_route (http, "POST", "/api/login", CAS_ROUTE_PUBLIC, handle_login, self);
  cas_http_server_add_route (http, "POST", "/api/logout", CAS_ROUTE_PUBLIC, handle_logout, self);
}
