/* cas-login.h: the web UI's login state: session cookies, and how long a
 * wrong token waits for its answer. No I/O; callers pass the time: the
 * wall clock (g_get_real_time ()) for sessions, which outlive a restart,
 * the monotonic clock for the waits.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define CAS_LOGIN_COOKIE_NAME "cas_session"
/* A session lasts this long from its login. */
#define CAS_LOGIN_SESSION_SECONDS (12 * 60 * 60)
/* Sessions kept at most; past it the one nearest its end goes. */
#define CAS_LOGIN_MAX_SESSIONS 256
/* A saved list of CAS_LOGIN_MAX_SESSIONS takes about 26 KiB. */
#define CAS_LOGIN_MAX_SAVED_BYTES (256 * 1024)
/* The first wrong token from an address waits this long, each next one
 * twice as long, up to CAS_LOGIN_MAX_DELAY_MS. */
#define CAS_LOGIN_BASE_DELAY_MS 250
#define CAS_LOGIN_MAX_DELAY_MS 16000
/* Failures older than this are forgotten. */
#define CAS_LOGIN_FAILURE_MEMORY_SECONDS (15 * 60)
/* An address whose answers are already queued this far ahead is refused
 * at once (429): a crowd of guesses cannot buy itself a queue. */
#define CAS_LOGIN_MAX_QUEUED_MS 60000

#define CAS_TYPE_LOGIN (cas_login_get_type ())
G_DECLARE_FINAL_TYPE (CasLogin, cas_login, CAS, LOGIN, GObject)

CasLogin *cas_login_new (void);

/* A new session: its cookie value (64 hex digits from getrandom), which
 * is kept only as a hash. NULL if the system has no random bytes. */
char *cas_login_open_session (CasLogin *self,
                              gint64    now_us);
/* Whether a Cookie header (nullable) carries a session that is open and
 * not expired. Malformed, oversized and unknown cookies are FALSE. */
gboolean cas_login_check_cookie_header (CasLogin   *self,
                                        const char *cookie_header,
                                        gint64      now_us);
/* Ends the sessions a Cookie header carries; how many there were. */
guint cas_login_close_cookie_header (CasLogin   *self,
                                     const char *cookie_header);
guint cas_login_get_session_count (CasLogin *self);

/* The open sessions as JSON, {"sessions":[{"hash","expires_us"}]}: the
 * hashes only, never a cookie value. */
char *cas_login_sessions_to_json (CasLogin *self,
                                  gint64    now_us);
/* Opens again the sessions of cas_login_sessions_to_json() (@json of
 * @length bytes, not NUL-terminated), how many. Entries that are not
 * well-formed or have ended are left out; an end further than a new
 * session's is cut to it. Fails (0 and @error) for a document that is
 * not such a list at all. */
guint cas_login_restore_sessions (CasLogin   *self,
                                  const char *json,
                                  gsize       length,
                                  gint64      now_us,
                                  GError    **error);

/* How long to wait before answering a login from @peer that was @right
 * or wrong, in ms: a wrong one waits longer the more came before it, and
 * every answer to @peer waits for those queued before it. -1: refuse at
 * once (CAS_LOGIN_MAX_QUEUED_MS). @failures (nullable) is set to the
 * failures from @peer in a row, this one included. A right one resets
 * them. */
gint64 cas_login_plan_answer (CasLogin   *self,
                              const char *peer,
                              gboolean    right,
                              gint64      now_us,
                              guint      *failures);

/* Pure: the well-formed values of our cookie in a Cookie header, at most
 * four (a NULL-terminated array, maybe empty). */
GStrv cas_login_cookie_values (const char *cookie_header);
/* Pure: the Set-Cookie value that sets @value (NULL: one that expires
 * it), Path=/api, HttpOnly, SameSite=Strict, and Secure if @secure. */
char *cas_login_format_set_cookie (const char *value,
                                   gboolean    secure);

G_END_DECLS
