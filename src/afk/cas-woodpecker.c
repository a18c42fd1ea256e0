/* cas-woodpecker.c: the pipeline of a commit, from Woodpecker's REST API
 * over one SoupSession.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-afk"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "cas-afk-parse.h"
#include "cas-error.h"
#include "cas-json-scan.h"
#include "cas-json.h"
#include "cas-woodpecker.h"

#define READ_CHUNK 65536
#define IO_TIMEOUT_SECONDS 30
#define MAX_COMMIT_LENGTH 64
#define MAX_EVENT_LENGTH 32

struct _CasWoodpecker
{
  GObject parent_instance;

  char *base_url;        /* (owned) (nullable) no trailing '/'; NULL: not configured */
  char *authorization;   /* (owned) (nullable) "Bearer <token>": never logged */
  SoupSession *session;  /* (owned) (nullable) */
  GHashTable *repo_ids;  /* (owned) owner/name (owned) → gint64 * (owned) */
};

G_DEFINE_FINAL_TYPE (CasWoodpecker, cas_woodpecker, G_TYPE_OBJECT)

void
cas_woodpecker_pipeline_free (CasWoodpeckerPipeline *pipeline)
{
  if (pipeline == NULL)
    return;
  g_free (pipeline->status);
  g_free (pipeline->event);
  g_free (pipeline->commit);
  g_free (pipeline->branch);
  g_free (pipeline->link);
  g_free (pipeline);
}

static void
cas_woodpecker_finalize (GObject *object)
{
  CasWoodpecker *self = CAS_WOODPECKER (object);

  g_free (self->base_url);
  if (self->authorization != NULL)
    memset (self->authorization, 0, strlen (self->authorization));
  g_free (self->authorization);
  if (self->session != NULL)
    soup_session_abort (self->session);
  g_clear_object (&self->session);
  g_hash_table_unref (self->repo_ids);
  G_OBJECT_CLASS (cas_woodpecker_parent_class)->finalize (object);
}

static void
cas_woodpecker_class_init (CasWoodpeckerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_woodpecker_finalize;
}

static void
cas_woodpecker_init (CasWoodpecker *self)
{
  self->repo_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/* http(s)://host[:port][/path], nothing else: no user info (it would
 * reach logs), no query or fragment (paths are appended). */
static char *
normalize_base_url (const char *url,
                    GError    **error)
{
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GError) local_error = NULL;
  const char *scheme;
  g_autofree char *text = NULL;
  gsize length;

  if (!g_utf8_validate (url, -1, NULL))
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_CONFIG,
                           _("[ci] woodpecker-url is not valid UTF-8"));
      return NULL;
    }
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, &local_error);
  if (uri == NULL)
    {
      /* Not echoed: it may hold a password. */
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   _("[ci] woodpecker-url is not a URL: %s"), local_error->message);
      return NULL;
    }
  scheme = g_uri_get_scheme (uri);
  if ((g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0) ||
      g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
      g_uri_get_userinfo (uri) != NULL || g_uri_get_query (uri) != NULL ||
      g_uri_get_fragment (uri) != NULL)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_CONFIG,
                           _("[ci] woodpecker-url must be an http or https URL without "
                             "user, query or fragment"));
      return NULL;
    }
  text = g_strdup (url);
  length = strlen (text);
  while (length > 0 && text[length - 1] == '/')
    text[--length] = '\0';
  return g_steal_pointer (&text);
}

CasWoodpecker *
cas_woodpecker_new_for_url (const char *base_url,
                            const char *token,
                            GError    **error)
{
  g_autoptr (CasWoodpecker) self = g_object_new (CAS_TYPE_WOODPECKER, NULL);

  if (base_url == NULL || *base_url == '\0')
    return g_steal_pointer (&self);
  self->base_url = normalize_base_url (base_url, error);
  if (self->base_url == NULL)
    return NULL;
  /* A header value: no line breaks, nothing a proxy could split on. */
  if (token == NULL || *token == '\0' || strpbrk (token, "\r\n") != NULL ||
      !g_utf8_validate (token, -1, NULL))
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_CONFIG,
                           _("[ci] woodpecker-url is set but there is no usable token: set "
                             "woodpecker-token-file or the credential woodpecker-token"));
      return NULL;
    }
  self->authorization = g_strconcat ("Bearer ", token, NULL);
  self->session = soup_session_new_with_options ("timeout", IO_TIMEOUT_SECONDS,
                                                 "idle-timeout", 60,
                                                 "user-agent", "claude-agent-service/" PACKAGE_VERSION,
                                                 NULL);
  return g_steal_pointer (&self);
}

CasWoodpecker *
cas_woodpecker_new (const CasConfig    *config,
                    const char * const *envp,
                    GError            **error)
{
  g_autofree char *token = NULL;
  g_autoptr (GError) local_error = NULL;
  CasWoodpecker *self;

  if (config->ci_woodpecker_url == NULL || *config->ci_woodpecker_url == '\0')
    return cas_woodpecker_new_for_url (NULL, NULL, error);
  token = cas_config_read_secret (NULL, config->ci_woodpecker_token_file, "woodpecker-token",
                                  envp, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  self = cas_woodpecker_new_for_url (config->ci_woodpecker_url, token, error);
  if (token != NULL)
    memset (token, 0, strlen (token));
  return self;
}

gboolean
cas_woodpecker_is_configured (CasWoodpecker *self)
{
  g_return_val_if_fail (CAS_IS_WOODPECKER (self), FALSE);

  return self->base_url != NULL;
}

/* ---- One GET, its JSON body read to a bound ---- */

typedef struct {
  SoupMessage *message;  /* (owned) */
  GInputStream *stream;  /* (owned) (nullable) */
  GByteArray *body;      /* (owned) */
  char *what;            /* (owned) what was asked for, for errors */
  JsonNodeType root_type;
} Fetch;

static void
fetch_free (Fetch *fetch)
{
  g_clear_object (&fetch->message);
  g_clear_object (&fetch->stream);
  g_byte_array_unref (fetch->body);
  g_free (fetch->what);
  g_free (fetch);
}

static void
return_io_error (GTask       *task,
                 const char  *base_url,
                 const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_CANCELLED, "Woodpecker request cancelled");
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_TIMED_OUT,
                             "Woodpecker at %s did not answer in time", base_url);
  else
    g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_FAILED, "cannot reach Woodpecker at %s: %s",
                             base_url, error->message);
}

/* Strict: valid UTF-8, RFC 8259 (json-glib alone takes comments and
 * single quotes), bounded nesting, and the root of the type asked for. */
static JsonNode *
parse_body (const char   *data,
            gsize         length,
            JsonNodeType  root_type,
            const char   *what,
            GError      **error)
{
  g_autoptr (JsonParser) parser = NULL;
  gsize error_offset = 0;
  gboolean too_deep = FALSE;
  JsonNode *root;

  if (length == 0 || !g_utf8_validate_len (data, length, NULL) ||
      !cas_json_check_syntax (data, length, &error_offset, &too_deep))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_FAILED, "Woodpecker's answer for %s is not JSON",
                   what);
      return NULL;
    }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize) length, NULL) ||
      (root = json_parser_get_root (parser)) == NULL ||
      JSON_NODE_TYPE (root) != root_type)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_FAILED, "Woodpecker's answer for %s is not %s",
                   what, root_type == JSON_NODE_ARRAY ? "an array" : "an object");
      return NULL;
    }
  return json_node_ref (root);
}

static void read_next (GTask *task);

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  CasWoodpecker *self = g_task_get_source_object (task);
  Fetch *fetch = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result,
                                                               &error);
  JsonNode *root;

  if (bytes == NULL)
    {
      return_io_error (task, self->base_url, error);
      return;
    }
  if (g_bytes_get_size (bytes) > 0)
    {
      if (fetch->body->len + g_bytes_get_size (bytes) > CAS_WOODPECKER_MAX_BODY_BYTES)
        {
          g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_FAILED,
                                   "Woodpecker's answer for %s is over %u bytes", fetch->what,
                                   (guint) CAS_WOODPECKER_MAX_BODY_BYTES);
          return;
        }
      g_byte_array_append (fetch->body, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
      read_next (g_steal_pointer (&task));
      return;
    }

  root = parse_body ((const char *) fetch->body->data, fetch->body->len,
                     fetch->root_type, fetch->what, &error);
  if (root == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, root, (GDestroyNotify) json_node_unref);
}

static void
read_next (GTask *task)
{
  Fetch *fetch = g_task_get_task_data (task);

  g_input_stream_read_bytes_async (fetch->stream, READ_CHUNK, G_PRIORITY_DEFAULT,
                                   g_task_get_cancellable (task), on_read, task);
}

static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  CasWoodpecker *self = g_task_get_source_object (task);
  Fetch *fetch = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  guint status;
  goffset declared;

  fetch->stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (fetch->stream == NULL)
    {
      return_io_error (task, self->base_url, error);
      return;
    }
  status = soup_message_get_status (fetch->message);
  if (status == SOUP_STATUS_UNAUTHORIZED || status == SOUP_STATUS_FORBIDDEN)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_UNAUTHORIZED,
                               "Woodpecker refused the token (HTTP %u) for %s", status,
                               fetch->what);
      return;
    }
  if (status == SOUP_STATUS_NOT_FOUND)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_NOT_FOUND,
                               "Woodpecker does not know %s (HTTP 404)", fetch->what);
      return;
    }
  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      /* Redirects too: they are not followed, so the token goes nowhere
       * but the configured server. */
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_FAILED,
                               "Woodpecker answered HTTP %u for %s", status, fetch->what);
      return;
    }
  declared = soup_message_headers_get_content_length (soup_message_get_response_headers (fetch->message));
  if (declared > CAS_WOODPECKER_MAX_BODY_BYTES)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_FAILED,
                               "Woodpecker's answer for %s is over %u bytes", fetch->what,
                               (guint) CAS_WOODPECKER_MAX_BODY_BYTES);
      return;
    }
  read_next (g_steal_pointer (&task));
}

/* GET @path (already escaped) for a JSON root of @root_type; @what
 * (taken) names it in errors. */
static void
fetch_json_async (CasWoodpecker       *self,
                  const char          *path,
                  JsonNodeType         root_type,
                  char                *what,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autofree char *uri = g_strconcat (self->base_url, path, NULL);
  SoupMessageHeaders *headers;
  Fetch *fetch;

  g_task_set_source_tag (task, fetch_json_async);
  g_task_set_check_cancellable (task, FALSE);
  fetch = g_new0 (Fetch, 1);
  fetch->body = g_byte_array_new ();
  fetch->what = what;
  fetch->root_type = root_type;
  g_task_set_task_data (task, fetch, (GDestroyNotify) fetch_free);

  fetch->message = soup_message_new (SOUP_METHOD_GET, uri);
  if (fetch->message == NULL)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_FAILED,
                               "cannot make a Woodpecker URL for %s", fetch->what);
      return;
    }
  soup_message_add_flags (fetch->message, SOUP_MESSAGE_NO_REDIRECT);
  headers = soup_message_get_request_headers (fetch->message);
  soup_message_headers_replace (headers, "Authorization", self->authorization);
  soup_message_headers_replace (headers, "Accept", "application/json");
  soup_session_send_async (self->session, fetch->message, G_PRIORITY_DEFAULT, cancellable,
                           on_sent, g_steal_pointer (&task));
}

static JsonNode *
fetch_json_finish (CasWoodpecker *self,
                   GAsyncResult  *result,
                   GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- The pipeline of a commit ---- */

typedef struct {
  char *repository;   /* (owned) */
  char *commit;       /* (owned) */
  char *event;        /* (owned) (nullable) */
  gint64 repo_id;
  guint page;
} Query;

typedef struct {
  CasCiVerdict verdict;
  CasWoodpeckerPipeline *pipeline;  /* (owned) (nullable) */
} Answer;

static void
query_free (Query *query)
{
  g_free (query->repository);
  g_free (query->commit);
  g_free (query->event);
  g_free (query);
}

static void
answer_free (Answer *answer)
{
  cas_woodpecker_pipeline_free (answer->pipeline);
  g_free (answer);
}

static void
return_answer (GTask                 *task,
               CasCiVerdict           verdict,
               CasWoodpeckerPipeline *pipeline)
{
  Answer *answer = g_new0 (Answer, 1);

  answer->verdict = verdict;
  answer->pipeline = pipeline;
  g_task_return_pointer (task, answer, (GDestroyNotify) answer_free);
}

static gboolean
validate_commit (const char *commit,
                 GError    **error)
{
  gsize length = commit != NULL ? strlen (commit) : 0;
  gboolean valid = length >= 4 && length <= MAX_COMMIT_LENGTH;

  for (gsize i = 0; valid && i < length; i++)
    valid = g_ascii_isxdigit (commit[i]);
  if (!valid)
    g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                         "the commit must be a hex sha of 4 to 64 digits");
  return valid;
}

static gboolean
validate_event (const char *event,
                GError    **error)
{
  gsize length = event != NULL ? strlen (event) : 1;
  gboolean valid = length > 0 && length <= MAX_EVENT_LENGTH;

  for (gsize i = 0; valid && event != NULL && i < length; i++)
    valid = g_ascii_islower (event[i]) || event[i] == '_';
  if (!valid)
    g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                         "the event must be a Woodpecker event name such as push");
  return valid;
}

/* One element of the list; FALSE for the wrong shape. */
static gboolean
read_pipeline (JsonNode               *node,
               CasWoodpecker          *self,
               gint64                  repo_id,
               CasWoodpeckerPipeline **out)
{
  g_autoptr (CasWoodpeckerPipeline) pipeline = NULL;
  JsonObject *object;
  JsonNode *event, *branch;
  const char *commit, *status;
  gint64 number;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return FALSE;
  object = json_node_get_object (node);
  number = cas_json_get_int (object, "number", -1);
  commit = cas_json_get_string (object, "commit", NULL);
  status = cas_json_get_string (object, "status", NULL);
  event = json_object_get_member (object, "event");
  branch = json_object_get_member (object, "branch");
  if (number < 0 || commit == NULL || status == NULL ||
      (event != NULL && !JSON_NODE_HOLDS_NULL (event) &&
       cas_json_get_string (object, "event", NULL) == NULL) ||
      (branch != NULL && !JSON_NODE_HOLDS_NULL (branch) &&
       cas_json_get_string (object, "branch", NULL) == NULL))
    return FALSE;

  pipeline = g_new0 (CasWoodpeckerPipeline, 1);
  pipeline->number = number;
  pipeline->status = g_strdup (status);
  pipeline->event = g_strdup (cas_json_get_string (object, "event", NULL));
  pipeline->commit = g_strdup (commit);
  pipeline->branch = g_strdup (cas_json_get_string (object, "branch", NULL));
  pipeline->link = g_strdup_printf ("%s/repos/%" G_GINT64_FORMAT "/pipeline/%" G_GINT64_FORMAT,
                                    self->base_url, repo_id, number);
  *out = g_steal_pointer (&pipeline);
  return TRUE;
}

static void fetch_page (GTask *task);

static void
on_page (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  CasWoodpecker *self = CAS_WOODPECKER (source);
  Query *query = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = fetch_json_finish (self, result, &error);
  g_autoptr (CasWoodpeckerPipeline) best = NULL;
  JsonArray *array;
  guint length;

  if (root == NULL)
    {
      /* The repository may have been removed and added again under a new
       * id: look it up afresh next time. */
      if (g_error_matches (error, CAS_ERROR, CAS_ERROR_NOT_FOUND))
        g_hash_table_remove (self->repo_ids, query->repository);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  array = json_node_get_array (root);
  length = json_array_get_length (array);
  for (guint i = 0; i < length; i++)
    {
      g_autoptr (CasWoodpeckerPipeline) pipeline = NULL;

      if (!read_pipeline (json_array_get_element (array, i), self, query->repo_id, &pipeline))
        {
          g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_FAILED,
                                   "Woodpecker sent a pipeline of the wrong shape "
                                   "(page %u, item %u)", query->page, i);
          return;
        }
      if (g_ascii_strcasecmp (pipeline->commit, query->commit) != 0 ||
          (query->event != NULL && g_strcmp0 (pipeline->event, query->event) != 0))
        continue;
      /* The list is newest first, but the number says it for sure. */
      if (best == NULL || pipeline->number > best->number)
        {
          cas_woodpecker_pipeline_free (best);
          best = g_steal_pointer (&pipeline);
        }
    }
  if (best != NULL)
    {
      CasCiVerdict verdict = cas_ci_verdict_from_woodpecker_status (best->status);

      g_debug ("Woodpecker: %s at %s is pipeline %" G_GINT64_FORMAT ", %s", query->repository,
               query->commit, best->number, best->status);
      return_answer (task, verdict, g_steal_pointer (&best));
      return;
    }
  if (length < CAS_WOODPECKER_PER_PAGE || query->page >= CAS_WOODPECKER_MAX_PAGES)
    {
      return_answer (task, CAS_CI_VERDICT_NONE, NULL);
      return;
    }
  query->page++;
  fetch_page (g_steal_pointer (&task));
}

static void
fetch_page (GTask *task)
{
  CasWoodpecker *self = g_task_get_source_object (task);
  Query *query = g_task_get_task_data (task);
  g_autofree char *path = g_strdup_printf ("/api/repos/%" G_GINT64_FORMAT "/pipelines?page=%u&perPage=%u",
                                           query->repo_id, query->page,
                                           (guint) CAS_WOODPECKER_PER_PAGE);

  fetch_json_async (self, path, JSON_NODE_ARRAY,
                    g_strdup_printf ("the pipelines of %s", query->repository),
                    g_task_get_cancellable (task), on_page, task);
}

static void
on_lookup (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  CasWoodpecker *self = CAS_WOODPECKER (source);
  Query *query = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = fetch_json_finish (self, result, &error);
  gint64 id;

  if (root == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  id = cas_json_get_int (json_node_get_object (root), "id", -1);
  if (id <= 0)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_FAILED,
                               "Woodpecker sent a repository without a numeric id");
      return;
    }
  query->repo_id = id;
  g_hash_table_replace (self->repo_ids, g_strdup (query->repository), g_memdup2 (&id, sizeof id));
  fetch_page (g_steal_pointer (&task));
}

void
cas_woodpecker_get_pipeline_async (CasWoodpecker       *self,
                                   const char          *repository,
                                   const char          *commit,
                                   const char          *event,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GError) error = NULL;
  Query *query;
  const gint64 *known_id;

  g_return_if_fail (CAS_IS_WOODPECKER (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cas_woodpecker_get_pipeline_async);
  g_task_set_check_cancellable (task, FALSE);

  if (!cas_afk_validate_repo (repository, &error) ||
      !validate_commit (commit, &error) || !validate_event (event, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (self->base_url == NULL)
    {
      return_answer (task, CAS_CI_VERDICT_SKIPPED, NULL);
      return;
    }
  if (g_cancellable_is_cancelled (cancellable))
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_CANCELLED, "Woodpecker request cancelled");
      return;
    }

  query = g_new0 (Query, 1);
  query->repository = g_strdup (repository);
  query->commit = g_strdup (commit);
  query->event = g_strdup (event);
  query->page = 1;
  g_task_set_task_data (task, query, (GDestroyNotify) query_free);

  known_id = g_hash_table_lookup (self->repo_ids, repository);
  if (known_id != NULL)
    {
      query->repo_id = *known_id;
      fetch_page (g_steal_pointer (&task));
    }
  else
    {
      /* Validated: owner and name need no escaping. */
      g_autofree char *path = g_strconcat ("/api/repos/lookup/", repository, NULL);

      fetch_json_async (self, path, JSON_NODE_OBJECT, g_strdup_printf ("repository %s", repository),
                        cancellable, on_lookup, g_steal_pointer (&task));
    }
}

gboolean
cas_woodpecker_get_pipeline_finish (CasWoodpecker          *self,
                                    GAsyncResult           *result,
                                    CasCiVerdict           *verdict,
                                    CasWoodpeckerPipeline **pipeline,
                                    GError                **error)
{
  Answer *answer;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == cas_woodpecker_get_pipeline_async,
                        FALSE);

  if (pipeline != NULL)
    *pipeline = NULL;
  answer = g_task_propagate_pointer (G_TASK (result), error);
  if (answer == NULL)
    return FALSE;
  if (verdict != NULL)
    *verdict = answer->verdict;
  if (pipeline != NULL)
    *pipeline = g_steal_pointer (&answer->pipeline);
  answer_free (answer);
  return TRUE;
}
