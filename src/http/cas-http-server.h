/* cas-http-server.h: the SoupServer with auth, body limit, routing,
 * JSON errors and an access log.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libsoup/soup.h>

#include "cas-config.h"
#include "cas-login.h"

G_BEGIN_DECLS

#define CAS_TYPE_HTTP_SERVER (cas_http_server_get_type ())
G_DECLARE_FINAL_TYPE (CasHttpServer, cas_http_server, CAS, HTTP_SERVER, GObject)

typedef void (*CasHttpHandler) (CasHttpServer     *server,
                                SoupServerMessage *msg,
                                const char        *path,
                                GHashTable        *query,
                                gpointer           user_data);

typedef enum {
  CAS_ROUTE_NONE = 0,
  /* No authentication (health, static UI files, login). */
  CAS_ROUTE_PUBLIC = 1 << 0,
  /* @path is a prefix ("/jobs/"); the handler checks the rest. */
  CAS_ROUTE_PREFIX = 1 << 1,
} CasRouteFlags;

CasHttpServer *cas_http_server_new (CasConfig  *config,
                                    const char *api_token);

/* Session cookies from @login (see POST /api/login) then authenticate
 * requests under /api/, as the bearer token does everywhere. */
void cas_http_server_set_login (CasHttpServer *self,
                                CasLogin      *login);

/* Whether @given is the API token (constant time). */
gboolean cas_http_server_check_token (CasHttpServer *self,
                                      const char    *given);

/* Whether @msg came over https: only a trusted proxy ([http]
 * trusted-proxies) is believed when it says so (X-Forwarded-Proto). */
gboolean cas_http_server_request_is_https (CasHttpServer     *self,
                                           SoupServerMessage *msg);

void cas_http_server_add_route (CasHttpServer *self,
                                const char    *method,
                                const char    *path,
                                CasRouteFlags  flags,
                                CasHttpHandler handler,
                                gpointer       user_data);

gboolean cas_http_server_listen (CasHttpServer *self,
                                 GError       **error);
guint cas_http_server_get_port (CasHttpServer *self);
/* Stop accepting and close every connection. */
void cas_http_server_shutdown (CasHttpServer *self);

/* The client's socket, for watching a hang-up while nothing is written
 * (libsoup only notices it on a write). Do not read from it. */
GSocket *cas_http_server_get_client_socket (SoupServerMessage *msg);

/* The access-log line for a request whose connection was taken over
 * from libsoup (soup_server_message_steal_connection), which then no
 * longer reports its end. */
void cas_http_server_log_taken_over (SoupServerMessage *msg,
                                     const char        *outcome);

/* Whether @msg carried valid credentials (known once its headers are
 * read); public routes use it to say more to those who have them. */
gboolean cas_http_server_is_authenticated (SoupServerMessage *msg);

/* Pure: @text (nullable) as one field of a log line: control characters,
 * invalid UTF-8 and the backslash as \xHH, cut at @max_bytes with "…". */
char *cas_http_log_escape (const char *text,
                           gsize       max_bytes);

/* Pure: constant-time token comparison. */
gboolean cas_http_token_equal (const char *given,
                               const char *expected);

/* Replies. @json is taken. */
void cas_http_reply_json (SoupServerMessage *msg,
                          guint              status,
                          char              *json);
/* Errors in the shape the path calls for: OpenAI's under /v1/, else
 * {"error": ..., "detail": ...}. */
void cas_http_reply_error (SoupServerMessage *msg,
                           const GError      *error);
void cas_http_reply_error_status (SoupServerMessage *msg,
                                  guint              status,
                                  const char        *code_name,
                                  const char        *message);

/* Pure: the error body for @path. */
char *cas_http_format_error (const char *path,
                             guint       status,
                             const char *code_name,
                             const char *message);

G_END_DECLS
