/* cas-tracker.c: GitHub REST v3 for the AFK loop, over libsoup.
 *
 * Each public call is one Call: a request (or a chain of them: pages,
 * or GET /user before the comments), whose answer is read with a bound,
 * parsed strictly and handed to the call's page function. The server is
 * not trusted: answers of the wrong shape are errors, a "next" page
 * outside the API base is refused (the token would go with it), and
 * redirects are not followed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-tracker"

#include "config.h"

#include <glib/gi18n.h>
#include <libsoup/soup.h>
#include <string.h>

#include "cas-error.h"
#include "cas-json.h"
#include "cas-json-scan.h"
#include "cas-tracker.h"

#define API_VERSION "2022-11-28"
#define READ_CHUNK_BYTES (64 * 1024)
#define HTTP_TIMEOUT_SECONDS 60
/* How long to wait when GitHub says "rate limited" but not until when,
 * and the most we believe it when it says (a hostile or confused server
 * must not stop the loop for a year). */
#define DEFAULT_BLOCK_SECONDS 60
#define MAX_BLOCK_SECONDS 3600
#define MAX_TOKEN_BYTES 4096
#define MAX_ERROR_MESSAGE_CHARS 200
#define PER_PAGE "100"
/* libsoup 3.2 has no SOUP_METHOD_PATCH. */
#define METHOD_PATCH "PATCH"

struct _CasTracker {
  GObject parent_instance;

  SoupSession *session;    /* (owned) */
  char *api_base;          /* (owned) no trailing slash */
  char *token_file;        /* (owned) (nullable) */
  char *credentials_dir;   /* (owned) (nullable) */
  char *self_login;        /* (owned) (nullable) configured or learnt */
  gint64 blocked_until;    /* Unix seconds; 0 when not blocked */
};

G_DEFINE_FINAL_TYPE (CasTracker, cas_tracker, G_TYPE_OBJECT)

typedef struct _Call Call;

/* Takes one page's JSON (NULL for an empty answer); FALSE with @error
 * set for an answer of the wrong shape. */
typedef gboolean (*PageFunc) (Call      *call,
                              JsonNode  *root,
                              GError   **error);
/* Runs after the last page: returns the task's value, or starts the next
 * request of the chain. Owns the task passed. */
typedef void (*DoneFunc) (Call  *call,
                          GTask *task);

struct _Call {
  CasTracker *self;        /* (owned) */
  const char *what;        /* (unowned) untranslated call name, N_() */
  const char *method;      /* (unowned) a static string: SOUP_METHOD_*, METHOD_PATCH */
  char *path;              /* (owned) the first request's path, for messages */
  char *url;               /* (owned) the request being sent */
  GBytes *body;            /* (owned) (nullable) a JSON request body */
  gboolean paginate;
  gboolean not_found_ok;   /* a 404 ends the call with done, no page */
  guint pages;
  PageFunc page;
  DoneFunc done;

  /* One request's state. */
  SoupMessage *msg;        /* (owned) (nullable) */
  GInputStream *stream;    /* (owned) (nullable) */
  GByteArray *buffer;      /* (owned) (nullable) */
  gboolean got_not_found;

  /* The call's arguments and what it gathers. */
  char *repo;              /* (owned) (nullable) */
  gint64 number;
  char *arg;               /* (owned) (nullable) label, login or marker */
  GPtrArray *items;        /* (owned) (nullable) */
  char *text;              /* (owned) (nullable) a string result */
  gint64 id;               /* a comment's id */
};

static void call_send (Call  *call,
                       GTask *task);

static void
call_free (Call *call)
{
  g_clear_object (&call->self);
  g_free (call->path);
  g_free (call->url);
  g_clear_pointer (&call->body, g_bytes_unref);
  g_clear_object (&call->msg);
  g_clear_object (&call->stream);
  g_clear_pointer (&call->buffer, g_byte_array_unref);
  g_free (call->repo);
  g_free (call->arg);
  g_clear_pointer (&call->items, g_ptr_array_unref);
  g_free (call->text);
  g_free (call);
}

/* ---- data types -------------------------------------------------------- */

void
cas_tracker_issue_free (CasTrackerIssue *issue)
{
  if (issue == NULL)
    return;
  g_free (issue->title);
  g_free (issue->body);
  g_free (issue->state);
  g_strfreev (issue->labels);
  g_free (issue);
}

void
cas_tracker_commit_free (CasTrackerCommit *commit)
{
  if (commit == NULL)
    return;
  g_free (commit->sha);
  g_free (commit->message);
  g_free (commit);
}

void
cas_tracker_comment_free (CasTrackerComment *comment)
{
  if (comment == NULL)
    return;
  g_free (comment->body);
  g_free (comment);
}

void
cas_tracker_check_run_free (CasTrackerCheckRun *run)
{
  if (run == NULL)
    return;
  g_free (run->name);
  g_free (run->status);
  g_free (run->conclusion);
  g_free (run);
}

/* ---- the object -------------------------------------------------------- */

static void
cas_tracker_finalize (GObject *object)
{
  CasTracker *self = CAS_TRACKER (object);

  g_clear_object (&self->session);
  g_free (self->api_base);
  g_free (self->token_file);
  g_free (self->credentials_dir);
  g_free (self->self_login);

  G_OBJECT_CLASS (cas_tracker_parent_class)->finalize (object);
}

static void
cas_tracker_class_init (CasTrackerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_tracker_finalize;
}

static void
cas_tracker_init (CasTracker *self)
{
}

CasTracker *
cas_tracker_new (const CasConfig    *config,
                 const char * const *envp,
                 GError            **error)
{
  g_autoptr(CasTracker) self = NULL;
  g_autoptr(GUri) uri = NULL;
  const char *base;
  const char *scheme;
  gsize len;

  g_return_val_if_fail (config != NULL, NULL);

  base = config->github_api_url != NULL ? config->github_api_url : "https://api.github.com";
  uri = g_uri_parse (base, SOUP_HTTP_URI_FLAGS, NULL);
  scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
      (g_strcmp0 (scheme, "http") != 0 && g_strcmp0 (scheme, "https") != 0) ||
      g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL ||
      g_uri_get_userinfo (uri) != NULL)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   _("[github] api-url “%s” is not an absolute http(s) URL"), base);
      return NULL;
    }

  self = g_object_new (CAS_TYPE_TRACKER, NULL);
  self->api_base = g_strdup (base);
  len = strlen (self->api_base);
  while (len > 0 && self->api_base[len - 1] == '/')
    self->api_base[--len] = '\0';
  self->token_file = g_strdup (config->github_token_file);
  self->self_login = g_strdup (config->github_self_login);
  if (envp != NULL)
    self->credentials_dir = g_strdup (g_environ_getenv ((char **) envp, "CREDENTIALS_DIRECTORY"));
  self->session = soup_session_new_with_options ("user-agent", "claude-agent-service/" PACKAGE_VERSION,
                                                 "timeout", HTTP_TIMEOUT_SECONDS,
                                                 "idle-timeout", HTTP_TIMEOUT_SECONDS,
                                                 NULL);
  return g_steal_pointer (&self);
}

gint64
cas_tracker_get_blocked_until (CasTracker *self)
{
  g_return_val_if_fail (CAS_IS_TRACKER (self), 0);

  if (self->blocked_until != 0 && self->blocked_until <= g_get_real_time () / G_USEC_PER_SEC)
    self->blocked_until = 0;
  return self->blocked_until;
}

/* ---- argument checks --------------------------------------------------- */

static gboolean
is_name_char (char c)
{
  return g_ascii_isalnum (c) || c == '-' || c == '_' || c == '.';
}

/* "." and ".." would walk the URL path. */
static gboolean
segment_is_valid (const char *segment,
                  gsize       len,
                  gsize       max_len)
{
  if (len == 0 || len > max_len)
    return FALSE;
  if (segment[0] == '.' && (len == 1 || (len == 2 && segment[1] == '.')))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!is_name_char (segment[i]))
      return FALSE;
  return TRUE;
}

gboolean
cas_tracker_repo_is_valid (const char *repo)
{
  const char *slash = repo != NULL ? strchr (repo, '/') : NULL;

  return slash != NULL &&
         segment_is_valid (repo, (gsize) (slash - repo), 39) &&
         segment_is_valid (slash + 1, strlen (slash + 1), 100);
}

static gboolean
login_is_valid (const char *login)
{
  gsize len;

  if (login == NULL || *login == '\0')
    return FALSE;
  len = strlen (login);
  if (len > 6 && g_str_has_suffix (login, "[bot]"))
    len -= 5;
  if (len > 39)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (login[i]) && login[i] != '-')
      return FALSE;
  return TRUE;
}

/* Labels, branches and markers: UTF-8 text with no control characters. */
static gboolean
text_is_valid (const char *text,
               gsize       max_bytes)
{
  if (text == NULL || *text == '\0' || strlen (text) > max_bytes ||
      !g_utf8_validate (text, -1, NULL))
    return FALSE;
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

static gboolean
sha_is_valid (const char *sha)
{
  gsize len = sha != NULL ? strlen (sha) : 0;

  if (len < 4 || len > 64)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isxdigit (sha[i]))
      return FALSE;
  return TRUE;
}

/* Returns FALSE and fails @task (which it then owns) when @ok is FALSE. */
static gboolean
check_argument (GTask      *task,
                gboolean    ok,
                const char *what,
                const char *detail)
{
  if (ok)
    return TRUE;
  g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           _("GitHub %s: invalid argument: %s"), _(what), detail);
  g_object_unref (task);
  return FALSE;
}

static gboolean
check_repo (GTask      *task,
            const char *what,
            const char *repo)
{
  return check_argument (task, cas_tracker_repo_is_valid (repo), what,
                         _("not an owner/name repository"));
}

static gboolean
check_number (GTask      *task,
              const char *what,
              gint64      number)
{
  return check_argument (task, number > 0, what, _("not an issue number"));
}

/* ---- errors ------------------------------------------------------------ */

static char *
format_time (gint64 unix_seconds)
{
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc (unix_seconds);

  return when != NULL ? g_date_time_format (when, "%Y-%m-%d %H:%M:%S UTC") : g_strdup ("?");
}

/* GitHub's "message", cut short and with control characters gone: it is
 * text from the network on its way to a log. */
static char *
github_message (GByteArray *body)
{
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(GError) error = NULL;
  const char *message;
  GString *out;
  const char *p;
  guint chars = 0;

  object = cas_json_parse_object ((const char *) body->data, body->len, &error);
  message = cas_json_get_string (object, "message", NULL);
  if (message == NULL || *message == '\0')
    return NULL;

  out = g_string_new (NULL);
  for (p = message; *p != '\0' && chars < MAX_ERROR_MESSAGE_CHARS; p = g_utf8_next_char (p), chars++)
    {
      gunichar c = g_utf8_get_char (p);

      g_string_append_unichar (out, g_unichar_iscntrl (c) ? ' ' : c);
    }
  if (*p != '\0')
    g_string_append (out, "…");
  return g_string_free (out, FALSE);
}

static int
status_to_code (guint status)
{
  switch (status)
    {
    case 400:
    case 422:
      return CAS_ERROR_INVALID_ARGUMENT;
    case 401:
    case 403:
      return CAS_ERROR_UNAUTHORIZED;
    case 404:
    case 410:
      return CAS_ERROR_NOT_FOUND;
    case 409:
      return CAS_ERROR_CONFLICT;
    case 413:
      return CAS_ERROR_PAYLOAD_TOO_LARGE;
    case 429:
      return CAS_ERROR_TOO_MANY_REQUESTS;
    case 504:
      return CAS_ERROR_TIMED_OUT;
    default:
      return CAS_ERROR_FAILED;
    }
}

/* Fails the call; takes @detail. */
static void
call_fail (Call   *call,
           GTask  *task,
           int     code,
           char   *detail)
{
  g_task_return_new_error (task, CAS_ERROR, code, _("GitHub %s (%s %s): %s"),
                           _(call->what), call->method, call->path, detail);
  g_free (detail);
  g_object_unref (task);
}

/* A failed send or read: a cancel stays G_IO_ERROR_CANCELLED. Takes
 * @error. */
static void
call_fail_io (Call   *call,
              GTask  *task,
              GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  call_fail (call, task,
             g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ? CAS_ERROR_TIMED_OUT : CAS_ERROR_FAILED,
             g_strdup (error->message));
  g_error_free (error);
}

static void
call_fail_shape (Call       *call,
                 GTask      *task,
                 const char *detail)
{
  call_fail (call, task, CAS_ERROR_FAILED,
             g_strdup_printf (_("unexpected answer: %s"), detail));
}

/* ---- rate limits ------------------------------------------------------- */

static gboolean
parse_header_int (SoupMessageHeaders *headers,
                  const char         *name,
                  gint64             *out)
{
  const char *value = soup_message_headers_get_one (headers, name);
  guint64 parsed;

  if (value == NULL || !g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT64, &parsed, NULL))
    return FALSE;
  *out = (gint64) parsed;
  return TRUE;
}

static void
block_until (CasTracker *self,
             gint64      until)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  until = CLAMP (until, now + 1, now + MAX_BLOCK_SECONDS);
  self->blocked_until = MAX (self->blocked_until, until);
}

/* Remembers what the answer says about the rate limit. Returns TRUE when
 * the answer itself is a refusal for the rate limit. */
static gboolean
note_rate_limit (CasTracker  *self,
                 SoupMessage *msg)
{
  SoupMessageHeaders *headers = soup_message_get_response_headers (msg);
  guint status = soup_message_get_status (msg);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gint64 remaining = -1;
  gint64 reset = 0;
  gint64 retry_after = 0;
  gboolean has_remaining = parse_header_int (headers, "X-RateLimit-Remaining", &remaining);
  gboolean has_reset = parse_header_int (headers, "X-RateLimit-Reset", &reset);
  gboolean has_retry = parse_header_int (headers, "Retry-After", &retry_after);
  gboolean refused = status == 429 ||
                     (status == 403 && ((has_remaining && remaining == 0) || has_retry));

  if (has_remaining && remaining == 0)
    block_until (self, has_reset ? reset : now + DEFAULT_BLOCK_SECONDS);
  if (refused)
    {
      /* GitHub: with Retry-After wait that long, else until the reset,
       * else at least a minute. */
      if (has_retry)
        block_until (self, now + MIN (retry_after, (gint64) MAX_BLOCK_SECONDS));
      else if (!(has_remaining && remaining == 0))
        block_until (self, now + DEFAULT_BLOCK_SECONDS);
    }
  return refused;
}

/* ---- one request ------------------------------------------------------- */

/* Printable ASCII with no spaces: anything else cannot be a header. */
static gboolean
token_is_header_safe (const char *token)
{
  if (strlen (token) > MAX_TOKEN_BYTES)
    return FALSE;
  for (const char *p = token; *p != '\0'; p++)
    if (*p <= ' ' || *p > '~')
      return FALSE;
  return TRUE;
}

static char *
read_token (CasTracker *self,
            GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *token = NULL;
  g_autofree char *credentials = NULL;
  char *envp[2] = { NULL, NULL };

  if (self->credentials_dir != NULL)
    credentials = g_strconcat ("CREDENTIALS_DIRECTORY=", self->credentials_dir, NULL);
  envp[0] = credentials;
  /* Read at every call, so a rotated token is picked up. */
  token = cas_config_read_secret (NULL, self->token_file, "github-token",
                                  (const char * const *) envp, &local_error);
  if (local_error != NULL)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_UNAUTHORIZED,
                   _("cannot read the token: %s"), local_error->message);
      return NULL;
    }
  if (token == NULL || *token == '\0')
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_UNAUTHORIZED,
                           _("no token: set [github] token-file or the credential github-token"));
      return NULL;
    }
  if (!token_is_header_safe (token))
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_UNAUTHORIZED,
                           _("the token holds characters an HTTP header cannot carry"));
      return NULL;
    }
  return g_steal_pointer (&token);
}

static void
request_done (Call  *call,
              GTask *task);

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  GTask *task = user_data;
  Call *call = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);

  if (bytes == NULL)
    {
      call_fail_io (call, task, g_steal_pointer (&error));
      return;
    }

  if (g_bytes_get_size (bytes) == 0)
    {
      request_done (call, task);
      return;
    }

  if (call->buffer->len + g_bytes_get_size (bytes) > CAS_TRACKER_MAX_BODY_BYTES)
    {
      call_fail (call, task, CAS_ERROR_PAYLOAD_TOO_LARGE,
                 g_strdup_printf (_("the answer is larger than %u bytes"),
                                  (guint) CAS_TRACKER_MAX_BODY_BYTES));
      return;
    }
  g_byte_array_append (call->buffer, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  g_input_stream_read_bytes_async (call->stream, READ_CHUNK_BYTES, G_PRIORITY_DEFAULT,
                                   g_task_get_cancellable (task), read_cb, task);
}

static void
send_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  GTask *task = user_data;
  Call *call = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  goffset declared;

  call->stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (call->stream == NULL)
    {
      call_fail_io (call, task, g_steal_pointer (&error));
      return;
    }

  g_debug ("%s %s: %u", call->method, call->url, soup_message_get_status (call->msg));
  declared = soup_message_headers_get_content_length (soup_message_get_response_headers (call->msg));
  if (declared > CAS_TRACKER_MAX_BODY_BYTES)
    {
      call_fail (call, task, CAS_ERROR_PAYLOAD_TOO_LARGE,
                 g_strdup_printf (_("the answer is larger than %u bytes"),
                                  (guint) CAS_TRACKER_MAX_BODY_BYTES));
      return;
    }

  call->buffer = g_byte_array_new ();
  g_input_stream_read_bytes_async (call->stream, READ_CHUNK_BYTES, G_PRIORITY_DEFAULT,
                                   g_task_get_cancellable (task), read_cb, task);
}

static void
call_send (Call  *call,
           GTask *task)
{
  CasTracker *self = call->self;
  SoupMessageHeaders *headers;
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  g_autofree char *auth = NULL;
  g_autoptr(GUri) uri = NULL;

  g_clear_object (&call->msg);
  g_clear_object (&call->stream);
  g_clear_pointer (&call->buffer, g_byte_array_unref);

  if (cas_tracker_get_blocked_until (self) != 0)
    {
      g_autofree char *until = format_time (self->blocked_until);

      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_TOO_MANY_REQUESTS,
                               _("GitHub %s: the rate limit is spent, no calls until %s"),
                               _(call->what), until);
      g_object_unref (task);
      return;
    }

  token = read_token (self, &error);
  if (token == NULL)
    {
      g_task_return_new_error (task, CAS_ERROR, error->code, _("GitHub %s: %s"),
                               _(call->what), error->message);
      g_object_unref (task);
      return;
    }

  uri = g_uri_parse (call->url, SOUP_HTTP_URI_FLAGS, NULL);
  if (uri == NULL || g_uri_get_host (uri) == NULL)
    {
      call_fail (call, task, CAS_ERROR_FAILED, g_strdup (_("not a valid URL")));
      return;
    }
  call->msg = soup_message_new_from_uri (call->method, uri);
  /* A redirect could carry the token to another host. */
  soup_message_add_flags (call->msg, SOUP_MESSAGE_NO_REDIRECT);
  headers = soup_message_get_request_headers (call->msg);
  auth = g_strconcat ("Bearer ", token, NULL);
  soup_message_headers_replace (headers, "Authorization", auth);
  soup_message_headers_replace (headers, "Accept", "application/vnd.github+json");
  soup_message_headers_replace (headers, "X-GitHub-Api-Version", API_VERSION);
  if (call->body != NULL)
    soup_message_set_request_body_from_bytes (call->msg, "application/json", call->body);

  soup_session_send_async (self->session, call->msg, G_PRIORITY_DEFAULT,
                           g_task_get_cancellable (task), send_cb, task);
}

/* The URL of rel="next" in a Link header, or NULL. */
static char *
link_next (const char *link)
{
  const char *p = link;

  if (link == NULL || strlen (link) > 16 * 1024)
    return NULL;
  while ((p = strchr (p, '<')) != NULL)
    {
      const char *end = strchr (p, '>');
      const char *params_end;
      g_autofree char *params = NULL;

      if (end == NULL)
        return NULL;
      params_end = strchr (end, '<');
      params = params_end != NULL ? g_strndup (end + 1, (gsize) (params_end - end - 1)) : g_strdup (end + 1);
      if (strstr (params, "rel=\"next\"") != NULL || strstr (params, "rel=next") != NULL)
        return g_strndup (p + 1, (gsize) (end - p - 1));
      p = end;
    }
  return NULL;
}

static JsonNode *
parse_json (GByteArray *buffer,
            GError    **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *data = (const char *) buffer->data;
  gsize offset = 0;
  gboolean too_deep = FALSE;
  JsonNode *root;

  if (!g_utf8_validate_len (data, buffer->len, NULL))
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_FAILED, _("the answer is not valid UTF-8"));
      return NULL;
    }
  /* json-glib is lenient and leaks on some errors: check first. */
  if (!cas_json_check_syntax (data, buffer->len, &offset, &too_deep))
    {
      if (too_deep)
        g_set_error_literal (error, CAS_ERROR, CAS_ERROR_FAILED, _("the answer nests too deep"));
      else
        g_set_error (error, CAS_ERROR, CAS_ERROR_FAILED, _("the answer is not JSON (byte %lu)"),
                     (unsigned long) offset);
      return NULL;
    }
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, data, (gssize) buffer->len, &local_error) ||
      json_parser_get_root (parser) == NULL)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_FAILED, _("the answer is not JSON"));
      return NULL;
    }
  root = json_parser_get_root (parser);
  return json_node_ref (root);
}

static void
request_done (Call  *call,
              GTask *task)
{
  CasTracker *self = call->self;
  guint status = soup_message_get_status (call->msg);
  g_autoptr(GByteArray) body = g_steal_pointer (&call->buffer);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *next = NULL;

  g_clear_object (&call->stream);

  if (note_rate_limit (self, call->msg))
    {
      g_autofree char *until = format_time (self->blocked_until);

      call_fail (call, task, CAS_ERROR_TOO_MANY_REQUESTS,
                 g_strdup_printf (_("rate limited (HTTP %u), no calls until %s"), status, until));
      return;
    }

  if (status == 404 && call->not_found_ok)
    {
      call->got_not_found = TRUE;
      call->done (call, task);
      return;
    }

  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      g_autofree char *message = github_message (body);

      if (message != NULL)
        call_fail (call, task, status_to_code (status),
                   g_strdup_printf (_("HTTP %u: %s"), status, message));
      else
        call_fail (call, task, status_to_code (status), g_strdup_printf (_("HTTP %u"), status));
      return;
    }

  if (body->len > 0)
    {
      root = parse_json (body, &error);
      if (root == NULL)
        {
          call_fail (call, task, error->code, g_strdup (error->message));
          return;
        }
    }

  if (!call->page (call, root, &error))
    {
      call_fail_shape (call, task, error->message);
      return;
    }

  if (call->paginate)
    next = link_next (soup_message_headers_get_one (soup_message_get_response_headers (call->msg), "Link"));
  if (next != NULL)
    {
      /* The token goes with the request: only to the API we were given. */
      if (!g_str_has_prefix (next, self->api_base) || next[strlen (self->api_base)] != '/')
        {
          call_fail (call, task, CAS_ERROR_FAILED,
                     g_strdup (_("the next page is outside the API base URL")));
          return;
        }
      if (++call->pages >= CAS_TRACKER_MAX_PAGES)
        {
          call_fail (call, task, CAS_ERROR_FAILED,
                     g_strdup_printf (_("more than %d pages"), CAS_TRACKER_MAX_PAGES));
          return;
        }
      g_free (call->url);
      call->url = g_steal_pointer (&next);
      call_send (call, task);
      return;
    }

  call->done (call, task);
}

/* Makes the task and its Call for @path (already escaped, starting with
 * "/"). */
static GTask *
call_new (CasTracker         *self,
          const char         *what,
          const char         *method,
          GCancellable       *cancellable,
          GAsyncReadyCallback callback,
          gpointer            user_data,
          gpointer            source_tag)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  Call *call = g_new0 (Call, 1);

  g_task_set_source_tag (task, source_tag);
  call->self = g_object_ref (self);
  call->what = what;
  call->method = method;
  g_task_set_task_data (task, call, (GDestroyNotify) call_free);
  return task;
}

static void
call_start (GTask      *task,
            char       *path,
            PageFunc    page,
            DoneFunc    done)
{
  Call *call = g_task_get_task_data (task);

  g_free (call->path);
  call->path = path;
  g_free (call->url);
  call->url = g_strconcat (call->self->api_base, path, NULL);
  call->pages = 0;
  call->page = page;
  call->done = done;
  call_send (call, task);
}

static char *
escape (const char *segment)
{
  return g_uri_escape_string (segment, NULL, FALSE);
}

/* ---- JSON shapes -------------------------------------------------------- */

static gboolean
shape_error (GError    **error,
             const char *detail)
{
  g_set_error_literal (error, CAS_ERROR, CAS_ERROR_FAILED, detail);
  return FALSE;
}

static gboolean
member_error (GError    **error,
              const char *member)
{
  g_set_error (error, CAS_ERROR, CAS_ERROR_FAILED,
               _("member “%s” is missing or has the wrong type"), member);
  return FALSE;
}

static JsonArray *
root_array (JsonNode *root,
            GError  **error)
{
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    {
      shape_error (error, _("expected a JSON array"));
      return NULL;
    }
  return json_node_get_array (root);
}

static JsonObject *
root_object (JsonNode *root,
             GError  **error)
{
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      shape_error (error, _("expected a JSON object"));
      return NULL;
    }
  return json_node_get_object (root);
}

static JsonObject *
element_object (JsonArray *array,
                guint      i,
                GError   **error)
{
  JsonNode *node = json_array_get_element (array, i);

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      shape_error (error, _("an element of the array is not an object"));
      return NULL;
    }
  return json_node_get_object (node);
}

/* A string member that may be null (then ""), but not another type. */
static gboolean
get_text (JsonObject  *object,
          const char  *member,
          gboolean     nullable,
          char       **out,
          GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (nullable && (node == NULL || JSON_NODE_HOLDS_NULL (node)))
    {
      *out = g_strdup ("");
      return TRUE;
    }
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return member_error (error, member);
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static gboolean
get_positive_int (JsonObject *object,
                  const char *member,
                  gint64     *out,
                  GError    **error)
{
  *out = cas_json_get_int (object, member, -1);
  if (*out <= 0)
    return member_error (error, member);
  return TRUE;
}

static CasTrackerIssue *
parse_issue (JsonObject *object,
             GError    **error)
{
  g_autoptr(CasTrackerIssue) issue = g_new0 (CasTrackerIssue, 1);
  g_autoptr(GPtrArray) labels = g_ptr_array_new_with_free_func (g_free);
  JsonArray *array;
  JsonNode *pr;

  if (!get_positive_int (object, "number", &issue->number, error) ||
      !get_text (object, "title", TRUE, &issue->title, error) ||
      !get_text (object, "body", TRUE, &issue->body, error) ||
      !get_text (object, "state", FALSE, &issue->state, error))
    return NULL;

  array = cas_json_get_array (object, "labels");
  if (array == NULL)
    {
      member_error (error, "labels");
      return NULL;
    }
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      const char *name = NULL;

      /* Objects in the REST API; plain names in some older answers. */
      if (JSON_NODE_HOLDS_OBJECT (node))
        name = cas_json_get_string (json_node_get_object (node), "name", NULL);
      else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
        name = json_node_get_string (node);
      if (name == NULL)
        {
          member_error (error, "labels");
          return NULL;
        }
      g_ptr_array_add (labels, g_strdup (name));
    }
  g_ptr_array_add (labels, NULL);
  issue->labels = (GStrv) g_ptr_array_free (g_steal_pointer (&labels), FALSE);

  pr = json_object_get_member (object, "pull_request");
  issue->is_pull_request = pr != NULL && !JSON_NODE_HOLDS_NULL (pr);
  return g_steal_pointer (&issue);
}

/* ---- calls ------------------------------------------------------------- */

static void
done_items (Call  *call,
            GTask *task)
{
  g_task_return_pointer (task, g_steal_pointer (&call->items), (GDestroyNotify) g_ptr_array_unref);
  g_object_unref (task);
}

static void
done_text (Call  *call,
           GTask *task)
{
  g_task_return_pointer (task, g_steal_pointer (&call->text), g_free);
  g_object_unref (task);
}

static void
done_true (Call  *call,
           GTask *task)
{
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static gboolean
page_ignore (Call     *call,
             JsonNode *root,
             GError  **error)
{
  return TRUE;
}

static gboolean
page_issues (Call     *call,
             JsonNode *root,
             GError  **error)
{
  JsonArray *array = root_array (root, error);

  if (array == NULL)
    return FALSE;
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *object = element_object (array, i, error);
      CasTrackerIssue *issue = object != NULL ? parse_issue (object, error) : NULL;

      if (issue == NULL)
        return FALSE;
      if (issue->is_pull_request)
        cas_tracker_issue_free (issue);
      else
        g_ptr_array_add (call->items, issue);
    }
  return TRUE;
}

void
cas_tracker_list_ready_async (CasTracker         *self,
                              const char         *repo,
                              const char         *label,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data)
{
  const char *what = N_("list ready issues");
  GTask *task;
  Call *call;
  g_autofree char *escaped = NULL;

  g_return_if_fail (CAS_IS_TRACKER (self));

  task = call_new (self, what, SOUP_METHOD_GET, cancellable, callback, user_data,
                   cas_tracker_list_ready_async);
  if (!check_repo (task, what, repo) ||
      !check_argument (task, text_is_valid (label, 256) && strchr (label, ',') == NULL,
                       what, _("not a label name")))
    return;
  call = g_task_get_task_data (task);
  call->paginate = TRUE;
  call->items = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_tracker_issue_free);
  escaped = escape (label);
  call_start (task, g_strdup_printf ("/repos/%s/issues?state=open&labels=%s&per_page=" PER_PAGE,
                                     repo, escaped),
              page_issues, done_items);
}

GPtrArray *
cas_tracker_list_ready_finish (CasTracker   *self,
                               GAsyncResult *result,
                               GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
page_issue (Call     *call,
            JsonNode *root,
            GError  **error)
{
  JsonObject *object = root_object (root, error);
  CasTrackerIssue *issue = object != NULL ? parse_issue (object, error) : NULL;

  if (issue == NULL)
    return FALSE;
  g_ptr_array_add (call->items, issue);
  return TRUE;
}

static void
done_issue (Call  *call,
            GTask *task)
{
  g_task_return_pointer (task, g_ptr_array_steal_index (call->items, 0),
                         (GDestroyNotify) cas_tracker_issue_free);
  g_object_unref (task);
}

void
cas_tracker_get_issue_async (CasTracker         *self,
                             const char         *repo,
                             gint64              number,
                             GCancellable       *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer            user_data)
{
  const char *what = N_("get issue");
  GTask *task;
  Call *call;

  g_return_if_fail (CAS_IS_TRACKER (self));

  task = call_new (self, what, SOUP_METHOD_GET, cancellable, callback, user_data,
                   cas_tracker_get_issue_async);
  if (!check_repo (task, what, repo) || !check_number (task, what, number))
    return;
  call = g_task_get_task_data (task);
  call->items = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_tracker_issue_free);
  call_start (task, g_strdup_printf ("/repos/%s/issues/%" G_GINT64_FORMAT, repo, number),
              page_issue, done_issue);
}

CasTrackerIssue *
cas_tracker_get_issue_finish (CasTracker   *self,
                              GAsyncResult *result,
                              GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
page_events (Call     *call,
             JsonNode *root,
             GError  **error)
{
  JsonArray *array = root_array (root, error);

  if (array == NULL)
    return FALSE;
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *object = element_object (array, i, error);
      JsonObject *label;
      JsonNode *actor;
      const char *login;

      if (object == NULL)
        return FALSE;
      if (g_strcmp0 (cas_json_get_string (object, "event", NULL), "labeled") != 0)
        continue;
      label = cas_json_get_object (object, "label");
      if (g_strcmp0 (cas_json_get_string (label, "name", NULL), call->arg) != 0)
        continue;
      /* A deleted account's events have a null actor: GitHub's "ghost". */
      actor = json_object_get_member (object, "actor");
      if (actor != NULL && JSON_NODE_HOLDS_NULL (actor))
        login = "ghost";
      else if ((login = cas_json_get_string (cas_json_get_object (object, "actor"), "login", NULL)) == NULL)
        return member_error (error, "actor.login");
      g_free (call->text);
      call->text = g_strdup (login);
    }
  return TRUE;
}

void
cas_tracker_label_actor_async (CasTracker         *self,
                               const char         *repo,
                               gint64              number,
                               const char         *label,
                               GCancellable       *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer            user_data)
{
  const char *what = N_("label events");
  GTask *task;
  Call *call;

  g_return_if_fail (CAS_IS_TRACKER (self));

  task = call_new (self, what, SOUP_METHOD_GET, cancellable, callback, user_data,
                   cas_tracker_label_actor_async);
  if (!check_repo (task, what, repo) || !check_number (task, what, number) ||
      !check_argument (task, text_is_valid (label, 256), what, _("not a label name")))
    return;
  call = g_task_get_task_data (task);
  call->paginate = TRUE;
  call->arg = g_strdup (label);
  /* Events come oldest first: the last match on the last page wins. */
  call_start (task, g_strdup_printf ("/repos/%s/issues/%" G_GINT64_FORMAT "/events?per_page=" PER_PAGE,
                                     repo, number),
              page_events, done_text);
}

char *
cas_tracker_label_actor_finish (CasTracker   *self,
                                GAsyncResult *result,
                                GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
page_permission (Call     *call,
                 JsonNode *root,
                 GError  **error)
{
  static const char *const known[] = { "admin", "maintain", "write", "triage", "read", "none", NULL };
  JsonObject *object = root_object (root, error);
  const char *role;

  if (object == NULL)
    return FALSE;
  /* "permission" is the legacy field (maintain shows as write, triage as
   * read); "role_name" has the real role where GitHub sends it. */
  role = cas_json_get_string (object, "role_name", NULL);
  if (role == NULL || !g_strv_contains (known, role))
    role = cas_json_get_string (object, "permission", NULL);
  if (role == NULL || !g_strv_contains (known, role))
    return member_error (error, "permission");
  call->text = g_strdup (role);
  return TRUE;
}

static void
done_permission (Call  *call,
                 GTask *task)
{
  if (call->got_not_found)
    call->text = g_strdup ("none");
  done_text (call, task);
}

void
cas_tracker_permission_async (CasTracker         *self,
                              const char         *repo,
                              const char         *login,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data)
{
  const char *what = N_("permission");
  GTask *task;
  Call *call;

  g_return_if_fail (CAS_IS_TRACKER (self));

  task = call_new (self, what, SOUP_METHOD_GET, cancellable, callback, user_data,
                   cas_tracker_permission_async);
  if (!check_repo (task, what, repo) ||
      !check_argument (task, login_is_valid (login), what, _("not a GitHub login")))
    return;
  call = g_task_get_task_data (task);
  call->not_found_ok = TRUE;
  call_start (task, g_strdup_printf ("/repos/%s/collaborators/%s/permission", repo, login),
              page_permission, done_permission);
}

char *
cas_tracker_permission_finish (CasTracker   *self,
                               GAsyncResult *result,
                               GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
page_user (Call     *call,
           JsonNode *root,
           GError  **error)
{
  JsonObject *object = root_object (root, error);
  const char *login = cas_json_get_string (object, "login", NULL);

  if (object == NULL)
    return FALSE;
  if (!login_is_valid (login))
    return member_error (error, "login");
  g_free (call->self->self_login);
  call->self->self_login = g_strdup (login);
  return TRUE;
}

static void
done_self_login (Call  *call,
                 GTask *task)
{
  g_task_return_pointer (task, g_strdup (call->self->self_login), g_free);
  g_object_unref (task);
}

void
cas_tracker_self_login_async (CasTracker         *self,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data)
{
  GTask *task;

  g_return_if_fail (CAS_IS_TRACKER (self));

  task = call_new (self, N_("self login"), SOUP_METHOD_GET, cancellable, callback, user_data,
                   cas_tracker_self_login_async);
  if (self->self_login != NULL)
    done_self_login (g_task_get_task_data (task), task);
  else
    call_start (task, g_strdup ("/user"), page_user, done_self_login);
}

char *
cas_tracker_self_login_finish (CasTracker   *self,
                               GAsyncResult *result,
                               GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
page_repo (Call     *call,
           JsonNode *root,
           GError  **error)
{
  JsonObject *object = root_object (root, error);
  const char *branch = cas_json_get_string (object, "default_branch", NULL);

  if (object == NULL)
    return FALSE;
  if (!text_is_valid (branch, 255))
    return member_error (error, "default_branch");
  call->text = g_strdup (branch);
  return TRUE;
}

void
cas_tracker_default_branch_async (CasTracker         *self,
                                  const char         *repo,
                                  GCancellable       *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer            user_data)
{
  const char *what = N_("default branch");
  GTask *task;

  g_return_if_fail (CAS_IS_TRACKER (self));

  task = call_new (self, what, SOUP_METHOD_GET, cancellable, callback, user_data,
                   cas_tracker_default_branch_async);
  if (!check_repo (task, what, repo))
    return;
  call_start (task, g_strdup_printf ("/repos/%s", repo), page_repo, done_text);
}

char *
cas_tracker_default_branch_finish (CasTracker   *self,
                                   GAsyncResult *result,
                                   GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
page_commits (Call     *call,
              JsonNode *root,
              GError  **error)
{
  JsonArray *array = root_array (root, error);

  if (array == NULL)
    return FALSE;
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *object = element_object (array, i, error);
      g_autoptr(CasTrackerCommit) commit = NULL;
      g_autoptr(GDateTime) when = NULL;
      JsonObject *inner;
      const char *date;

      if (object == NULL)
        return FALSE;
      commit = g_new0 (CasTrackerCommit, 1);
      inner = cas_json_get_object (object, "commit");
      if (!get_text (object, "sha", FALSE, &commit->sha, error))
        return FALSE;
      if (inner == NULL)
        return member_error (error, "commit");
      if (!get_text (inner, "message", TRUE, &commit->message, error))
        return FALSE;
      date = cas_json_get_string (cas_json_get_object (inner, "committer"), "date", NULL);
      if (date != NULL)
        {
          g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();

          when = g_date_time_new_from_iso8601 (date, utc);
        }
      if (when == NULL)
        return member_error (error, "commit.committer.date");
      commit->date = g_date_time_to_unix (when);
      g_ptr_array_add (call->items, g_steal_pointer (&commit));
    }
  return TRUE;
}

void
cas_tracker_commits_since_async (CasTracker         *self,
                                 const char         *repo,
                                 const char         *branch,
                                 gint64              since,
                                 GCancellable       *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer            user_data)
{
  const char *what = N_("commits");
  g_autoptr(GDateTime) when = NULL;
  g_autofree char *iso = NULL;
  g_autofree char *escaped = NULL;
  GTask *task;
  Call *call;

  g_return_if_fail (CAS_IS_TRACKER (self));

  task = call_new (self, what, SOUP_METHOD_GET, cancellable, callback, user_data,
                   cas_tracker_commits_since_async);
  if (!check_repo (task, what, repo) ||
      !check_argument (task, text_is_valid (branch, 255), what, _("not a branch name")))
    return;
  when = g_date_time_new_from_unix_utc (since);
  if (!check_argument (task, since >= 0 && when != NULL, what, _("not a time")))
    return;
  call = g_task_get_task_data (task);
  call->paginate = TRUE;
  call->items = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_tracker_commit_free);
  iso = g_date_time_format (when, "%Y-%m-%dT%H:%M:%SZ");
  escaped = escape (branch);
  call_start (task, g_strdup_printf ("/repos/%s/commits?sha=%s&since=%s&per_page=" PER_PAGE,
                                     repo, escaped, iso),
              page_commits, done_items);
}

GPtrArray *
cas_tracker_commits_since_finish (CasTracker   *self,
                                  GAsyncResult *result,
                                  GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static GBytes *
json_body (const char *member,
           const char *value)
{
  GString *out = g_string_new ("{");

  cas_json_append_string (out, member);
  g_string_append_c (out, ':');
  cas_json_append_string (out, value);
  g_string_append_c (out, '}');
  return g_string_free_to_bytes (out);
}

void
cas_tracker_add_labels_async (CasTracker         *self,
                              const char         *repo,
                              gint64              number,
                              const char * const *labels,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data)
{
  const char *what = N_("add labels");
  gboolean valid = labels != NULL && labels[0] != NULL;
  GString *body;
  GTask *task;
  Call *call;

  g_return_if_fail (CAS_IS_TRACKER (self));

  task = call_new (self, what, SOUP_METHOD_POST, cancellable, callback, user_data,
                   cas_tracker_add_labels_async);
  for (guint i = 0; valid && labels[i] != NULL; i++)
    valid = text_is_valid (labels[i], 256);
  if (!check_repo (task, what, repo) || !check_number (task, what, number) ||
      !check_argument (task, valid, what, _("not a label name")))
    return;
  call = g_task_get_task_data (task);
  body = g_string_new ("{\"labels\":[");
  for (guint i = 0; labels[i] != NULL; i++)
    {
      if (i > 0)
        g_string_append_c (body, ',');
      cas_json_append_string (body, labels[i]);
    }
  g_string_append (body, "]}");
  call->body = g_string_free_to_bytes (body);
  call_start (task, g_strdup_printf ("/repos/%s/issues/%" G_GINT64_FORMAT "/labels", repo, number),
              page_ignore, done_true);
}

gboolean
cas_tracker_add_labels_finish (CasTracker   *self,
                               GAsyncResult *result,
                               GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
cas_tracker_remove_label_async (CasTracker         *self,
                                const char         *repo,
                                gint64              number,
                                const char         *label,
                                GCancellable       *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer            user_data)
{
  const char *what = N_("remove label");
  g_autofree char *escaped = NULL;
  GTask *task;
  Call *call;

  g_return_if_fail (CAS_IS_TRACKER (self));

  task = call_new (self, what, SOUP_METHOD_DELETE, cancellable, callback, user_data,
                   cas_tracker_remove_label_async);
  if (!check_repo (task, what, repo) || !check_number (task, what, number) ||
      !check_argument (task, text_is_valid (label, 256), what, _("not a label name")))
    return;
  call = g_task_get_task_data (task);
  /* GitHub answers 404 for a label the issue does not carry: done. The
   * issue itself missing is a 404 too; the next call will say so. */
  call->not_found_ok = TRUE;
  escaped = escape (label);
  call_start (task, g_strdup_printf ("/repos/%s/issues/%" G_GINT64_FORMAT "/labels/%s",
                                     repo, number, escaped),
              page_ignore, done_true);
}

gboolean
cas_tracker_remove_label_finish (CasTracker   *self,
                                 GAsyncResult *result,
                                 GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
page_comments (Call     *call,
               JsonNode *root,
               GError  **error)
{
  JsonArray *array = root_array (root, error);

  if (array == NULL)
    return FALSE;
  for (guint i = 0; i < json_array_get_length (array) && call->id == 0; i++)
    {
      JsonObject *object = element_object (array, i, error);
      const char *login;
      g_autofree char *body = NULL;
      gint64 id;

      if (object == NULL)
        return FALSE;
      if (!get_positive_int (object, "id", &id, error) ||
          !get_text (object, "body", TRUE, &body, error))
        return FALSE;
      login = cas_json_get_string (cas_json_get_object (object, "user"), "login", NULL);
      if (g_strcmp0 (login, call->self->self_login) != 0 || strstr (body, call->arg) == NULL)
        continue;
      call->id = id;
      call->text = g_steal_pointer (&body);
    }
  /* Found: no need for the pages after it. */
  if (call->id != 0)
    call->paginate = FALSE;
  return TRUE;
}

static void
done_comment (Call  *call,
              GTask *task)
{
  CasTrackerComment *comment = NULL;

  if (call->id != 0)
    {
      comment = g_new0 (CasTrackerComment, 1);
      comment->id = call->id;
      comment->body = g_steal_pointer (&call->text);
    }
  g_task_return_pointer (task, comment, (GDestroyNotify) cas_tracker_comment_free);
  g_object_unref (task);
}

static void
find_comment_list (Call  *call,
                   GTask *task)
{
  call->paginate = TRUE;
  call_start (task, g_strdup_printf ("/repos/%s/issues/%" G_GINT64_FORMAT "/comments?per_page=" PER_PAGE,
                                     call->repo, call->number),
              page_comments, done_comment);
}

void
cas_tracker_find_comment_async (CasTracker         *self,
                                const char         *repo,
                                gint64              number,
                                const char         *marker,
                                GCancellable       *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer            user_data)
{
  const char *what = N_("find comment");
  GTask *task;
  Call *call;

  g_return_if_fail (CAS_IS_TRACKER (self));

  task = call_new (self, what, SOUP_METHOD_GET, cancellable, callback, user_data,
                   cas_tracker_find_comment_async);
  if (!check_repo (task, what, repo) || !check_number (task, what, number) ||
      !check_argument (task, marker != NULL && *marker != '\0', what, _("empty marker")))
    return;
  call = g_task_get_task_data (task);
  call->repo = g_strdup (repo);
  call->number = number;
  call->arg = g_strdup (marker);
  if (self->self_login != NULL)
    find_comment_list (call, task);
  else
    call_start (task, g_strdup ("/user"), page_user, find_comment_list);
}

CasTrackerComment *
cas_tracker_find_comment_finish (CasTracker   *self,
                                 GAsyncResult *result,
                                 GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
page_comment_id (Call     *call,
                 JsonNode *root,
                 GError  **error)
{
  JsonObject *object = root_object (root, error);

  return object != NULL && get_positive_int (object, "id", &call->id, error);
}

static void
done_id (Call  *call,
         GTask *task)
{
  g_task_return_int (task, (gssize) call->id);
  g_object_unref (task);
}

void
cas_tracker_create_comment_async (CasTracker         *self,
                                  const char         *repo,
                                  gint64              number,
                                  const char         *body,
                                  GCancellable       *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer            user_data)
{
  const char *what = N_("create comment");
  GTask *task;
  Call *call;

  g_return_if_fail (CAS_IS_TRACKER (self));

  task = call_new (self, what, SOUP_METHOD_POST, cancellable, callback, user_data,
                   cas_tracker_create_comment_async);
  if (!check_repo (task, what, repo) || !check_number (task, what, number) ||
      !check_argument (task, body != NULL && *body != '\0' && g_utf8_validate (body, -1, NULL),
                       what, _("empty or not UTF-8 comment")))
    return;
  call = g_task_get_task_data (task);
  call->body = json_body ("body", body);
  call_start (task, g_strdup_printf ("/repos/%s/issues/%" G_GINT64_FORMAT "/comments", repo, number),
              page_comment_id, done_id);
}

gint64
cas_tracker_create_comment_finish (CasTracker   *self,
                                   GAsyncResult *result,
                                   GError      **error)
{
  gssize id;

  g_return_val_if_fail (g_task_is_valid (result, self), 0);
  id = g_task_propagate_int (G_TASK (result), error);
  return id > 0 ? id : 0;
}

void
cas_tracker_edit_comment_async (CasTracker         *self,
                                const char         *repo,
                                gint64              comment_id,
                                const char         *body,
                                GCancellable       *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer            user_data)
{
  const char *what = N_("edit comment");
  GTask *task;
  Call *call;

  g_return_if_fail (CAS_IS_TRACKER (self));

  task = call_new (self, what, METHOD_PATCH, cancellable, callback, user_data,
                   cas_tracker_edit_comment_async);
  if (!check_repo (task, what, repo) ||
      !check_argument (task, comment_id > 0, what, _("not a comment id")) ||
      !check_argument (task, body != NULL && *body != '\0' && g_utf8_validate (body, -1, NULL),
                       what, _("empty or not UTF-8 comment")))
    return;
  call = g_task_get_task_data (task);
  call->body = json_body ("body", body);
  call_start (task, g_strdup_printf ("/repos/%s/issues/comments/%" G_GINT64_FORMAT, repo, comment_id),
              page_comment_id, done_true);
}

gboolean
cas_tracker_edit_comment_finish (CasTracker   *self,
                                 GAsyncResult *result,
                                 GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
cas_tracker_close_issue_async (CasTracker         *self,
                               const char         *repo,
                               gint64              number,
                               GCancellable       *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer            user_data)
{
  const char *what = N_("close issue");
  GTask *task;
  Call *call;

  g_return_if_fail (CAS_IS_TRACKER (self));

  task = call_new (self, what, METHOD_PATCH, cancellable, callback, user_data,
                   cas_tracker_close_issue_async);
  if (!check_repo (task, what, repo) || !check_number (task, what, number))
    return;
  call = g_task_get_task_data (task);
  call->body = g_bytes_new_static ("{\"state\":\"closed\",\"state_reason\":\"completed\"}",
                                   strlen ("{\"state\":\"closed\",\"state_reason\":\"completed\"}"));
  call->items = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_tracker_issue_free);
  call_start (task, g_strdup_printf ("/repos/%s/issues/%" G_GINT64_FORMAT, repo, number),
              page_issue, done_true);
}

gboolean
cas_tracker_close_issue_finish (CasTracker   *self,
                                GAsyncResult *result,
                                GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
page_check_runs (Call     *call,
                 JsonNode *root,
                 GError  **error)
{
  JsonObject *object = root_object (root, error);
  JsonArray *array;

  if (object == NULL)
    return FALSE;
  array = cas_json_get_array (object, "check_runs");
  if (array == NULL)
    return member_error (error, "check_runs");
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *item = element_object (array, i, error);
      g_autoptr(CasTrackerCheckRun) run = NULL;
      JsonNode *conclusion;

      if (item == NULL)
        return FALSE;
      run = g_new0 (CasTrackerCheckRun, 1);
      if (!get_text (item, "name", FALSE, &run->name, error) ||
          !get_text (item, "status", FALSE, &run->status, error))
        return FALSE;
      conclusion = json_object_get_member (item, "conclusion");
      if (conclusion != NULL && !JSON_NODE_HOLDS_NULL (conclusion) &&
          !get_text (item, "conclusion", FALSE, &run->conclusion, error))
        return FALSE;
      g_ptr_array_add (call->items, g_steal_pointer (&run));
    }
  return TRUE;
}

void
cas_tracker_check_runs_async (CasTracker         *self,
                              const char         *repo,
                              const char         *sha,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data)
{
  const char *what = N_("check runs");
  GTask *task;
  Call *call;

  g_return_if_fail (CAS_IS_TRACKER (self));

  task = call_new (self, what, SOUP_METHOD_GET, cancellable, callback, user_data,
                   cas_tracker_check_runs_async);
  if (!check_repo (task, what, repo) ||
      !check_argument (task, sha_is_valid (sha), what, _("not a commit id")))
    return;
  call = g_task_get_task_data (task);
  call->paginate = TRUE;
  call->items = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_tracker_check_run_free);
  call_start (task, g_strdup_printf ("/repos/%s/commits/%s/check-runs?per_page=" PER_PAGE, repo, sha),
              page_check_runs, done_items);
}

GPtrArray *
cas_tracker_check_runs_finish (CasTracker   *self,
                               GAsyncResult *result,
                               GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
