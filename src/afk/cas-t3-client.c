/* cas-t3-client.c: CasT3Client, the AFK loop's client of a T3 Code server.
 *
 * Commands go to POST /api/orchestration/dispatch, one bare object each,
 * with a fresh commandId; reads come from GET /api/orchestration/shell,
 * or /snapshot on servers older than v0.0.29 (a 404 for /shell, found out
 * once). T3's commandId is an idempotency key, so a dispatch that failed
 * in transport is sent once more with the same body; a business-rule 500
 * is final for that commandId and goes back to the caller as
 * CAS_ERROR_CONFLICT.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-t3"

#include "config.h"

#include <glib/gi18n.h>
#include <libsoup/soup.h>
#include <string.h>

#include "cas-config.h"
#include "cas-error.h"
#include "cas-json.h"
#include "cas-t3-client.h"

#define READ_CHUNK_BYTES (64 * 1024)
#define MAX_ROOT_BYTES 4096
/* Ids we are given (T3's own are UUIDs). */
#define MAX_ID_CHARS 200
/* Titles and words from T3 that end up in our messages are cut to this. */
#define MAX_QUOTED_CHARS 200

#define SHELL_PATH "/api/orchestration/shell"
#define SNAPSHOT_PATH "/api/orchestration/snapshot"
#define DISPATCH_PATH "/api/orchestration/dispatch"

struct _CasT3Client
{
  GObject parent_instance;

  CasConfig *config;      /* (owned) */
  SoupSession *session;   /* (owned) */
  char *base_url;         /* (owned): no trailing slash */
  char *link_base_url;    /* (owned): no trailing slash */
  char *model;            /* (owned) */
  CasT3Api api;
  gsize max_body_bytes;
};

G_DEFINE_FINAL_TYPE (CasT3Client, cas_t3_client, G_TYPE_OBJECT)

/* ------------------------------------------------------------------ */
/* Plain data and pure helpers                                         */

void
cas_t3_thread_status_free (CasT3ThreadStatus *self)
{
  if (self == NULL)
    return;
  g_free (self->thread_id);
  g_free (self->project_id);
  g_free (self->latest_turn_id);
  g_free (self->turn_state_name);
  g_free (self->session_active_turn_id);
  g_free (self->session_last_error);
  g_free (self->session_updated_at);
  g_free (self);
}

void
cas_t3_turn_start_free (CasT3TurnStart *self)
{
  if (self == NULL)
    return;
  g_free (self->thread_id);
  g_free (self->previous_turn_id);
  g_free (self->previous_session_updated_at);
  g_free (self->message_id);
  g_free (self->command_id);
  g_free (self);
}

gboolean
cas_t3_thread_status_has_new_turn (const CasT3ThreadStatus *self,
                                   const char              *previous_turn_id)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->latest_turn_id != NULL &&
         g_strcmp0 (self->latest_turn_id, previous_turn_id) != 0;
}

gboolean
cas_t3_thread_status_is_busy (const CasT3ThreadStatus *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->session_status == CAS_T3_SESSION_STARTING ||
         self->session_status == CAS_T3_SESSION_RUNNING;
}

CasT3Outcome
cas_t3_thread_status_get_outcome (const CasT3ThreadStatus *self,
                                  const char              *previous_turn_id,
                                  const char              *previous_session_updated_at)
{
  gboolean on_turn;

  g_return_val_if_fail (self != NULL, CAS_T3_OUTCOME_WAITING);

  if (!cas_t3_thread_status_has_new_turn (self, previous_turn_id))
    {
      if (self->has_pending_approvals || self->has_pending_user_input)
        return CAS_T3_OUTCOME_NEEDS_INPUT;
      if (self->session_status == CAS_T3_SESSION_ERROR &&
          g_strcmp0 (self->session_updated_at, previous_session_updated_at) != 0)
        return CAS_T3_OUTCOME_NOT_STARTED;
      return CAS_T3_OUTCOME_WAITING;
    }

  /* Still ours while the session works on it (or on no turn it names). */
  on_turn = cas_t3_thread_status_is_busy (self) &&
            (self->session_active_turn_id == NULL ||
             g_strcmp0 (self->session_active_turn_id, self->latest_turn_id) == 0);
  if (!on_turn)
    {
      switch (self->turn_state)
        {
        case CAS_T3_TURN_COMPLETED:
          return CAS_T3_OUTCOME_COMPLETED;
        case CAS_T3_TURN_INTERRUPTED:
          return CAS_T3_OUTCOME_INTERRUPTED;
        case CAS_T3_TURN_ERROR:
          return CAS_T3_OUTCOME_FAILED;
        case CAS_T3_TURN_RUNNING:
          /* v0.0.27 leaves the turn running when its session ends. */
          if (self->session_status == CAS_T3_SESSION_ERROR)
            return CAS_T3_OUTCOME_FAILED;
          if (self->session_status == CAS_T3_SESSION_STOPPED ||
              self->session_status == CAS_T3_SESSION_INTERRUPTED)
            return CAS_T3_OUTCOME_INTERRUPTED;
          break;
        case CAS_T3_TURN_NONE:
        case CAS_T3_TURN_UNKNOWN:
        default:
          break;
        }
    }
  if (self->has_pending_approvals || self->has_pending_user_input)
    return CAS_T3_OUTCOME_NEEDS_INPUT;
  return CAS_T3_OUTCOME_WORKING;
}

const char *
cas_t3_outcome_to_string (CasT3Outcome outcome)
{
  static const char * const names[] = {
    "waiting", "working", "needs-input", "completed", "interrupted", "failed", "not-started",
  };

  if ((guint) outcome >= G_N_ELEMENTS (names))
    return "unknown";
  return names[outcome];
}

gboolean
cas_t3_client_error_is_rejected (const GError *error)
{
  return g_error_matches (error, CAS_ERROR, CAS_ERROR_CONFLICT);
}

static CasT3TurnState
turn_state_from_name (const char *name)
{
  static const struct {
    const char *name;
    CasT3TurnState state;
  } states[] = {
    { "running", CAS_T3_TURN_RUNNING },
    { "completed", CAS_T3_TURN_COMPLETED },
    { "interrupted", CAS_T3_TURN_INTERRUPTED },
    { "error", CAS_T3_TURN_ERROR },
  };

  for (gsize i = 0; name != NULL && i < G_N_ELEMENTS (states); i++)
    if (strcmp (name, states[i].name) == 0)
      return states[i].state;
  return CAS_T3_TURN_UNKNOWN;
}

static CasT3SessionStatus
session_status_from_name (const char *name)
{
  static const struct {
    const char *name;
    CasT3SessionStatus status;
  } statuses[] = {
    { "idle", CAS_T3_SESSION_IDLE },
    { "starting", CAS_T3_SESSION_STARTING },
    { "running", CAS_T3_SESSION_RUNNING },
    { "ready", CAS_T3_SESSION_READY },
    { "interrupted", CAS_T3_SESSION_INTERRUPTED },
    { "stopped", CAS_T3_SESSION_STOPPED },
    { "error", CAS_T3_SESSION_ERROR },
  };

  for (gsize i = 0; name != NULL && i < G_N_ELEMENTS (statuses); i++)
    if (strcmp (name, statuses[i].name) == 0)
      return statuses[i].status;
  return CAS_T3_SESSION_UNKNOWN;
}

/* Text from the network, made fit for a log line: valid UTF-8, no control
 * characters, not too long. */
static char *
quote_remote (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text != NULL ? text : "", -1);
  GString *out = g_string_new (NULL);
  glong n = 0;

  for (const char *p = valid; *p != '\0' && n < MAX_QUOTED_CHARS; p = g_utf8_next_char (p), n++)
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iscntrl (c))
        g_string_append_c (out, ' ');
      else
        g_string_append_unichar (out, c);
    }
  if (*valid != '\0' && n >= MAX_QUOTED_CHARS)
    g_string_append (out, "…");
  return g_string_free (out, FALSE);
}

static gboolean
member_is_set (JsonObject *object,
               const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  return node != NULL && !JSON_NODE_HOLDS_NULL (node);
}

static const char *
nonempty_string (JsonObject *object,
                 const char *member)
{
  const char *value = cas_json_get_string (object, member, NULL);

  return value != NULL && *value != '\0' ? value : NULL;
}

/* A string member that must be a string or null (or absent): FALSE for
 * any other type. */
static gboolean
nullable_string (JsonObject  *object,
                 const char  *member,
                 char       **out)
{
  JsonNode *node = json_object_get_member (object, member);

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return FALSE;
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static gboolean
optional_bool (JsonObject *object,
               const char *member,
               gboolean   *out)
{
  JsonNode *node = json_object_get_member (object, member);

  *out = FALSE;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return FALSE;
  *out = json_node_get_boolean (node);
  return TRUE;
}

static void
set_shape_error (GError    **error,
                 const char *what)
{
  g_set_error (error, CAS_ERROR, CAS_ERROR_FAILED,
               _("T3 answered with a malformed read model: %s"), what);
}

/* Open requests = "<kind>.requested" minus "<kind>.resolved", matched by
 * payload.requestId (contract 5.4). */
static gboolean
has_open_request (JsonArray  *activities,
                  const char *kind)
{
  g_autofree char *requested = g_strconcat (kind, ".requested", NULL);
  g_autofree char *resolved = g_strconcat (kind, ".resolved", NULL);
  g_autoptr (GHashTable) open = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) closed = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer key;

  for (guint i = 0; i < json_array_get_length (activities); i++)
    {
      JsonNode *node = json_array_get_element (activities, i);
      JsonObject *activity;
      const char *activity_kind;
      const char *request_id;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      activity = json_node_get_object (node);
      activity_kind = cas_json_get_string (activity, "kind", NULL);
      request_id = nonempty_string (cas_json_get_object (activity, "payload"), "requestId");
      if (activity_kind == NULL || request_id == NULL)
        continue;
      if (strcmp (activity_kind, requested) == 0)
        g_hash_table_add (open, (gpointer) request_id);
      else if (strcmp (activity_kind, resolved) == 0)
        g_hash_table_add (closed, (gpointer) request_id);
    }

  g_hash_table_iter_init (&iter, open);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (closed, key))
      return TRUE;
  return FALSE;
}

CasT3ThreadStatus *
cas_t3_thread_status_from_read_model (JsonObject  *model,
                                      CasT3Api     api,
                                      const char  *thread_id,
                                      GError     **error)
{
  g_autoptr (CasT3ThreadStatus) status = NULL;
  JsonArray *threads;
  JsonObject *thread = NULL;
  JsonNode *node;

  g_return_val_if_fail (thread_id != NULL, NULL);
  g_return_val_if_fail (api == CAS_T3_API_SHELL || api == CAS_T3_API_SNAPSHOT, NULL);

  threads = cas_json_get_array (model, "threads");
  if (threads == NULL)
    {
      set_shape_error (error, "no threads array");
      return NULL;
    }
  for (guint i = 0; i < json_array_get_length (threads) && thread == NULL; i++)
    {
      JsonNode *element = json_array_get_element (threads, i);

      if (JSON_NODE_HOLDS_OBJECT (element) &&
          g_strcmp0 (cas_json_get_string (json_node_get_object (element), "id", NULL), thread_id) == 0)
        thread = json_node_get_object (element);
    }
  /* The shell lists only live threads; the snapshot lists them all. */
  if (thread == NULL || member_is_set (thread, "deletedAt") || member_is_set (thread, "archivedAt"))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND,
                   _("T3 has no live thread %s"), thread_id);
      return NULL;
    }

  status = g_new0 (CasT3ThreadStatus, 1);
  status->thread_id = g_strdup (thread_id);
  status->project_id = g_strdup (nonempty_string (thread, "projectId"));

  node = json_object_get_member (thread, "latestTurn");
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    status->turn_state = CAS_T3_TURN_NONE;
  else if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *turn = json_node_get_object (node);
      const char *turn_id = nonempty_string (turn, "turnId");
      const char *state = cas_json_get_string (turn, "state", NULL);

      if (turn_id == NULL)
        {
          set_shape_error (error, "latestTurn without a turnId");
          return NULL;
        }
      status->latest_turn_id = g_strdup (turn_id);
      status->turn_state = turn_state_from_name (state);
      status->turn_state_name = state != NULL ? quote_remote (state) : NULL;
    }
  else
    {
      set_shape_error (error, "latestTurn is not an object");
      return NULL;
    }

  node = json_object_get_member (thread, "session");
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    status->session_status = CAS_T3_SESSION_NONE;
  else if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *session = json_node_get_object (node);

      status->session_status = session_status_from_name (cas_json_get_string (session, "status", NULL));
      if (!nullable_string (session, "activeTurnId", &status->session_active_turn_id) ||
          !nullable_string (session, "lastError", &status->session_last_error) ||
          !nullable_string (session, "updatedAt", &status->session_updated_at))
        {
          set_shape_error (error, "session fields of the wrong type");
          return NULL;
        }
      if (status->session_last_error != NULL)
        {
          char *quoted = quote_remote (status->session_last_error);

          g_free (status->session_last_error);
          status->session_last_error = quoted;
        }
    }
  else
    {
      set_shape_error (error, "session is not an object");
      return NULL;
    }

  if (api == CAS_T3_API_SHELL)
    {
      if (!optional_bool (thread, "hasPendingApprovals", &status->has_pending_approvals) ||
          !optional_bool (thread, "hasPendingUserInput", &status->has_pending_user_input))
        {
          set_shape_error (error, "pending flags that are not booleans");
          return NULL;
        }
    }
  else
    {
      JsonArray *activities;

      node = json_object_get_member (thread, "activities");
      if (node != NULL && !JSON_NODE_HOLDS_NULL (node) && !JSON_NODE_HOLDS_ARRAY (node))
        {
          set_shape_error (error, "activities is not an array");
          return NULL;
        }
      activities = cas_json_get_array (thread, "activities");
      if (activities != NULL)
        {
          status->has_pending_approvals = has_open_request (activities, "approval");
          status->has_pending_user_input = has_open_request (activities, "user-input");
        }
    }

  return g_steal_pointer (&status);
}

gboolean
cas_t3_find_project (JsonObject  *model,
                     const char  *root,
                     char       **project_id,
                     GError     **error)
{
  JsonArray *projects;

  g_return_val_if_fail (root != NULL, FALSE);
  g_return_val_if_fail (project_id != NULL, FALSE);

  *project_id = NULL;
  projects = cas_json_get_array (model, "projects");
  if (projects == NULL)
    {
      set_shape_error (error, "no projects array");
      return FALSE;
    }
  for (guint i = 0; i < json_array_get_length (projects); i++)
    {
      JsonNode *element = json_array_get_element (projects, i);
      JsonObject *project;
      const char *id;
      const char *project_root;
      g_autofree char *canonical = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        continue;
      project = json_node_get_object (element);
      id = nonempty_string (project, "id");
      project_root = cas_json_get_string (project, "workspaceRoot", NULL);
      if (id == NULL || project_root == NULL || !g_path_is_absolute (project_root) ||
          member_is_set (project, "deletedAt"))
        continue;
      canonical = g_canonicalize_filename (project_root, "/");
      if (strcmp (canonical, root) == 0)
        {
          *project_id = g_strdup (id);
          return TRUE;
        }
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* The object                                                          */

static void
cas_t3_client_finalize (GObject *object)
{
  CasT3Client *self = CAS_T3_CLIENT (object);

  g_clear_object (&self->session);
  g_clear_pointer (&self->config, cas_config_unref);
  g_free (self->base_url);
  g_free (self->link_base_url);
  g_free (self->model);

  G_OBJECT_CLASS (cas_t3_client_parent_class)->finalize (object);
}

static void
cas_t3_client_class_init (CasT3ClientClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_t3_client_finalize;
}

static void
cas_t3_client_init (CasT3Client *self)
{
  self->max_body_bytes = CAS_T3_CLIENT_MAX_BODY_BYTES;
}

/* An http(s) URL with a host, without its trailing slashes; NULL if not.
 * No user name or password: the URL goes into messages. */
static char *
normalise_base_url (const char *url)
{
  g_autoptr (GUri) uri = NULL;
  const char *scheme;
  g_autofree char *copy = NULL;
  gsize len;

  if (url == NULL)
    return NULL;
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL)
    return NULL;
  scheme = g_uri_get_scheme (uri);
  if ((g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0) ||
      g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
      g_uri_get_userinfo (uri) != NULL ||
      g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    return NULL;
  copy = g_strdup (url);
  len = strlen (copy);
  while (len > 0 && copy[len - 1] == '/')
    copy[--len] = '\0';
  return g_steal_pointer (&copy);
}

CasT3Client *
cas_t3_client_new (CasConfig *config,
                   GError   **error)
{
  g_autoptr (CasT3Client) self = NULL;

  g_return_val_if_fail (config != NULL, NULL);

  self = g_object_new (CAS_TYPE_T3_CLIENT, NULL);
  self->config = cas_config_ref (config);
  if (config->t3_base_url == NULL || *config->t3_base_url == '\0')
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   _("[t3] base-url is not set"));
      return NULL;
    }
  self->base_url = normalise_base_url (config->t3_base_url);
  if (self->base_url == NULL)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   _("[t3] base-url is not an http:// or https:// URL (without a user or password)"));
      return NULL;
    }
  if (config->t3_link_base_url != NULL && *config->t3_link_base_url != '\0')
    {
      self->link_base_url = normalise_base_url (config->t3_link_base_url);
      if (self->link_base_url == NULL)
        {
          g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                       _("[t3] link-base-url is not an http:// or https:// URL (without a user or password)"));
          return NULL;
        }
    }
  else
    self->link_base_url = g_strdup (self->base_url);
  self->model = g_strdup (config->t3_model != NULL && *config->t3_model != '\0'
                            ? config->t3_model
                            : CAS_T3_CLIENT_DEFAULT_MODEL);
  self->session = soup_session_new_with_options ("timeout", CAS_T3_CLIENT_TIMEOUT_SECONDS,
                                                 "idle-timeout", CAS_T3_CLIENT_TIMEOUT_SECONDS,
                                                 "user-agent", "claude-agent-service/" PACKAGE_VERSION,
                                                 NULL);
  return g_steal_pointer (&self);
}

CasT3Api
cas_t3_client_get_api (CasT3Client *self)
{
  g_return_val_if_fail (CAS_IS_T3_CLIENT (self), CAS_T3_API_UNKNOWN);

  return self->api;
}

void
cas_t3_client_set_max_body_bytes (CasT3Client *self,
                                  gsize        max_bytes)
{
  g_return_if_fail (CAS_IS_T3_CLIENT (self));

  self->max_body_bytes = max_bytes;
}

void
cas_t3_client_set_timeout (CasT3Client *self,
                           guint        seconds)
{
  g_return_if_fail (CAS_IS_T3_CLIENT (self));

  g_object_set (self->session, "timeout", seconds, NULL);
}

static gboolean
is_name_segment (const char *s,
                 gsize       len)
{
  if (len == 0 || len > 100 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
      return FALSE;
  return TRUE;
}

char *
cas_t3_client_workspace_root (CasT3Client *self,
                              const char  *repo,
                              GError     **error)
{
  const char *base;
  const char *slash;
  g_autofree char *owner = NULL;
  g_autofree char *leaf = NULL;

  g_return_val_if_fail (CAS_IS_T3_CLIENT (self), NULL);
  g_return_val_if_fail (repo != NULL, NULL);

  base = self->config->t3_workspace_base;
  if (base == NULL || *base == '\0' || !g_path_is_absolute (base))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   _("[t3] workspace-base is not set to an absolute path"));
      return NULL;
    }
  slash = strchr (repo, '/');
  if (slash == NULL || !is_name_segment (repo, slash - repo) ||
      !is_name_segment (slash + 1, strlen (slash + 1)))
    {
      g_autofree char *quoted = quote_remote (repo);

      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not a repository name of the form owner/name"), quoted);
      return NULL;
    }
  owner = g_strndup (repo, slash - repo);
  leaf = g_strdup_printf ("%s__%s", owner, slash + 1);
  return g_build_filename (base, leaf, NULL);
}

char *
cas_t3_client_thread_link (CasT3Client *self,
                           const char  *thread_id)
{
  g_autofree char *escaped = NULL;

  g_return_val_if_fail (CAS_IS_T3_CLIENT (self), NULL);
  g_return_val_if_fail (thread_id != NULL, NULL);

  escaped = g_uri_escape_string (thread_id, NULL, FALSE);
  return g_strconcat (self->link_base_url, "/", escaped, NULL);
}

/* ------------------------------------------------------------------ */
/* One HTTP exchange                                                   */

typedef struct {
  char *method;           /* (owned) */
  char *path;             /* (owned) */
  char *what;             /* (owned): names the exchange in messages */
  GBytes *body;           /* (owned) (nullable) */
  gboolean is_dispatch;   /* same commandId: safe to send twice */
  guint attempts;
  SoupMessage *msg;       /* (owned) (nullable) */
  GInputStream *stream;   /* (owned) (nullable) */
  GByteArray *buf;        /* (owned) */
} Call;

static void
call_free (Call *call)
{
  g_free (call->method);
  g_free (call->path);
  g_free (call->what);
  g_clear_pointer (&call->body, g_bytes_unref);
  g_clear_object (&call->msg);
  g_clear_object (&call->stream);
  g_clear_pointer (&call->buf, g_byte_array_unref);
  g_free (call);
}

static void call_send (GTask *task);

/* The token, read afresh: it rotates. Only printable ASCII can go into a
 * header. */
static char *
read_token (CasT3Client *self,
            GError     **error)
{
  g_auto (GStrv) envp = g_get_environ ();
  g_autofree char *token = NULL;

  token = cas_config_read_secret (NULL, self->config->t3_token_file, "t3-token",
                                  (const char * const *) envp, error);
  if (token == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                     _("No T3 token: set [t3] token-file or the credential t3-token"));
      return NULL;
    }
  for (const char *p = token; *p != '\0'; p++)
    if (*p < 0x21 || *p > 0x7e)
      {
        g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                     _("The T3 token holds characters a token cannot have"));
        return NULL;
      }
  return g_steal_pointer (&token);
}

static void
call_fail_transport (GTask  *task,
                     GError *error)
{
  CasT3Client *self = g_task_get_source_object (task);
  Call *call = g_task_get_task_data (task);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  if (call->is_dispatch && call->attempts < 2)
    {
      g_debug ("Sending %s to T3 again after: %s", call->what, error->message);
      g_error_free (error);
      call_send (task);
      return;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_TIMED_OUT,
                             _("T3 at %s did not answer %s in time"),
                             self->base_url, call->what);
  else
    g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_FAILED,
                             _("Cannot reach T3 at %s for %s: %s"),
                             self->base_url, call->what, error->message);
  g_error_free (error);
  g_object_unref (task);
}

static void
set_status_error (GError    **error,
                  const Call *call,
                  guint       status,
                  JsonObject *body)
{
  g_autofree char *reason = NULL;
  g_autofree char *trace = NULL;
  const char *raw_reason;

  raw_reason = cas_json_get_string (body, "reason", NULL);
  if (raw_reason == NULL)
    raw_reason = cas_json_get_string (body, "message", NULL);
  if (raw_reason == NULL)
    raw_reason = cas_json_get_string (body, "error", NULL);
  reason = quote_remote (raw_reason != NULL ? raw_reason : "");
  trace = quote_remote (cas_json_get_string (body, "traceId", "-"));

  if (status == SOUP_STATUS_UNAUTHORIZED)
    g_set_error (error, CAS_ERROR, CAS_ERROR_UNAUTHORIZED,
                 _("T3 refused the token for %s (HTTP 401 %s)"), call->what, reason);
  else if (status == SOUP_STATUS_FORBIDDEN)
    {
      g_autofree char *scope = quote_remote (cas_json_get_string (body, "requiredScope", "?"));

      g_set_error (error, CAS_ERROR, CAS_ERROR_UNAUTHORIZED,
                   _("The T3 token lacks the scope %s that %s needs"), scope, call->what);
    }
  else if (status == SOUP_STATUS_BAD_REQUEST)
    g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                 _("T3 refused %s as invalid (HTTP 400 %s)"), call->what, reason);
  else if (status == SOUP_STATUS_NOT_FOUND)
    g_set_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND,
                 _("T3 has no %s (HTTP 404)"), call->path);
  else if (status == SOUP_STATUS_INTERNAL_SERVER_ERROR && call->is_dispatch &&
           (g_strcmp0 (cas_json_get_string (body, "reason", NULL), "orchestration_dispatch_failed") == 0 ||
            /* Before v0.0.26 errors were {"error": "..."}. */
            cas_json_get_string (body, "error", NULL) != NULL))
    g_set_error (error, CAS_ERROR, CAS_ERROR_CONFLICT,
                 _("T3 rejected %s on a business rule (trace %s in the T3 log)"),
                 call->what, trace);
  else
    g_set_error (error, CAS_ERROR, CAS_ERROR_FAILED,
                 _("T3 answered %s with HTTP %u"), call->what, status);
}

static void
call_complete (GTask *task)
{
  Call *call = g_task_get_task_data (task);
  guint status = soup_message_get_status (call->msg);
  g_autoptr (JsonObject) object = NULL;
  g_autoptr (GError) parse_error = NULL;
  GError *error = NULL;

  if (call->buf->len > 0)
    object = cas_json_parse_object ((const char *) call->buf->data, call->buf->len, &parse_error);

  if (SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      if (object == NULL)
        g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_FAILED,
                                 _("T3 answered %s with something that is not a JSON object: %s"),
                                 call->what,
                                 parse_error != NULL ? parse_error->message : _("an empty body"));
      else
        g_task_return_pointer (task, g_steal_pointer (&object), (GDestroyNotify) json_object_unref);
      g_object_unref (task);
      return;
    }

  set_status_error (&error, call, status, object);
  g_task_return_error (task, error);
  g_object_unref (task);
}

static void
call_read_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = user_data;
  CasT3Client *self = g_task_get_source_object (task);
  Call *call = g_task_get_task_data (task);
  g_autoptr (GBytes) bytes = NULL;
  GError *error = NULL;

  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  if (bytes == NULL)
    {
      call_fail_transport (task, error);
      return;
    }
  if (g_bytes_get_size (bytes) == 0)
    {
      call_complete (task);
      return;
    }
  if (call->buf->len + g_bytes_get_size (bytes) > self->max_body_bytes)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_FAILED,
                               _("T3 answered %s with more than %lu bytes"),
                               call->what, (unsigned long) self->max_body_bytes);
      g_object_unref (task);
      return;
    }
  g_byte_array_append (call->buf, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  g_input_stream_read_bytes_async (call->stream, READ_CHUNK_BYTES, G_PRIORITY_DEFAULT,
                                   g_task_get_cancellable (task), call_read_cb, task);
}

static void
call_sent_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = user_data;
  CasT3Client *self = g_task_get_source_object (task);
  Call *call = g_task_get_task_data (task);
  SoupMessageHeaders *headers;
  GError *error = NULL;

  call->stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (call->stream == NULL)
    {
      call_fail_transport (task, error);
      return;
    }
  headers = soup_message_get_response_headers (call->msg);
  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH &&
      soup_message_headers_get_content_length (headers) > (goffset) self->max_body_bytes)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_FAILED,
                               _("T3 answered %s with more than %lu bytes"),
                               call->what, (unsigned long) self->max_body_bytes);
      g_object_unref (task);
      return;
    }
  g_input_stream_read_bytes_async (call->stream, READ_CHUNK_BYTES, G_PRIORITY_DEFAULT,
                                   g_task_get_cancellable (task), call_read_cb, task);
}

static void
call_send (GTask *task)
{
  CasT3Client *self = g_task_get_source_object (task);
  Call *call = g_task_get_task_data (task);
  g_autofree char *uri = NULL;
  g_autofree char *token = NULL;
  g_autofree char *authorization = NULL;
  SoupMessageHeaders *headers;
  GError *error = NULL;

  g_clear_object (&call->msg);
  g_clear_object (&call->stream);
  g_byte_array_set_size (call->buf, 0);
  call->attempts++;

  token = read_token (self, &error);
  if (token == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  uri = g_strconcat (self->base_url, call->path, NULL);
  call->msg = soup_message_new (call->method, uri);
  if (call->msg == NULL)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_CONFIG,
                               _("[t3] base-url does not make a valid URL with %s"), call->path);
      g_object_unref (task);
      return;
    }
  /* A redirect could carry the token to another host. */
  soup_message_add_flags (call->msg, SOUP_MESSAGE_NO_REDIRECT);
  headers = soup_message_get_request_headers (call->msg);
  authorization = g_strconcat ("Bearer ", token, NULL);
  soup_message_headers_replace (headers, "Authorization", authorization);
  soup_message_headers_replace (headers, "Accept", "application/json");
  memset (token, 0, strlen (token));
  memset (authorization, 0, strlen (authorization));
  if (call->body != NULL)
    soup_message_set_request_body_from_bytes (call->msg, "application/json", call->body);

  soup_session_send_async (self->session, call->msg, G_PRIORITY_DEFAULT,
                           g_task_get_cancellable (task), call_sent_cb, task);
}

/* GET (@body NULL) or POST @body to @path; the answer is a JSON object. */
static void
call_async (CasT3Client        *self,
            const char         *path,
            const char         *what,
            GBytes             *body,
            GCancellable       *cancellable,
            GAsyncReadyCallback callback,
            gpointer            user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  Call *call = g_new0 (Call, 1);

  g_task_set_source_tag (task, call_async);
  call->method = g_strdup (body != NULL ? SOUP_METHOD_POST : SOUP_METHOD_GET);
  call->path = g_strdup (path);
  call->what = g_strdup (what);
  call->body = body != NULL ? g_bytes_ref (body) : NULL;
  call->is_dispatch = g_strcmp0 (path, DISPATCH_PATH) == 0;
  call->buf = g_byte_array_new ();
  g_task_set_task_data (task, call, (GDestroyNotify) call_free);
  call_send (task);
}

static JsonObject *
call_finish (CasT3Client  *self,
             GAsyncResult *result,
             GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* Dispatch: one command, answered {"sequence": N}                     */

static void
dispatch_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (JsonObject) answer = NULL;
  GError *error = NULL;
  gint64 sequence;

  answer = call_finish (CAS_T3_CLIENT (source), result, &error);
  if (answer == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  sequence = cas_json_get_int (answer, "sequence", -1);
  if (sequence < 0)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_FAILED,
                               _("T3 accepted %s without a sequence number"),
                               (const char *) g_task_get_task_data (task));
      return;
    }
  g_task_return_int (task, sequence);
}

/* @command: a JSON object text with a fresh commandId. */
static void
dispatch_async (CasT3Client        *self,
                const char         *type,
                GString            *command,
                GCancellable       *cancellable,
                GAsyncReadyCallback callback,
                gpointer            user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr (GBytes) body = g_bytes_new (command->str, command->len);

  g_task_set_source_tag (task, dispatch_async);
  g_task_set_task_data (task, g_strdup (type), g_free);
  call_async (self, DISPATCH_PATH, type, body, cancellable, dispatch_cb, task);
}

static gint64
dispatch_finish (CasT3Client  *self,
                 GAsyncResult *result,
                 GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), -1);

  return g_task_propagate_int (G_TASK (result), error);
}

static GString *
command_new (const char *type,
             const char *command_id)
{
  GString *s = g_string_new ("{\"type\":");

  cas_json_append_string (s, type);
  g_string_append (s, ",\"commandId\":");
  cas_json_append_string (s, command_id);
  return s;
}

static void
command_add (GString    *s,
             const char *member,
             const char *value)
{
  g_string_append_c (s, ',');
  cas_json_append_string (s, member);
  g_string_append_c (s, ':');
  cas_json_append_string (s, value);
}

static void
command_add_raw (GString    *s,
                 const char *member,
                 const char *json)
{
  g_string_append_c (s, ',');
  cas_json_append_string (s, member);
  g_string_append_c (s, ':');
  g_string_append (s, json);
}

static void
command_end (GString *s)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *created_at = g_date_time_format_iso8601 (now);

  /* Trusted by v0.0.27, replaced by the server's own time since 0.0.29. */
  command_add (s, "createdAt", created_at);
  g_string_append_c (s, '}');
}

/* ------------------------------------------------------------------ */
/* The read model: /shell, else /snapshot                              */

typedef struct {
  CasT3Api api;
} ReadModel;

static void
read_snapshot_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  CasT3Client *self = CAS_T3_CLIENT (source);
  ReadModel *data = g_task_get_task_data (task);
  JsonObject *model;
  GError *error = NULL;

  model = call_finish (self, result, &error);
  if (model == NULL)
    {
      /* No /snapshot either: not a T3 server, or a wrong base-url. */
      if (g_error_matches (error, CAS_ERROR, CAS_ERROR_NOT_FOUND))
        error->code = CAS_ERROR_FAILED;
      g_task_return_error (task, error);
      return;
    }
  if (self->api != CAS_T3_API_SNAPSHOT)
    g_debug ("T3 at %s has no %s: reading %s", self->base_url, SHELL_PATH, SNAPSHOT_PATH);
  self->api = data->api = CAS_T3_API_SNAPSHOT;
  g_task_return_pointer (task, model, (GDestroyNotify) json_object_unref);
}

static void
read_shell_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  CasT3Client *self = CAS_T3_CLIENT (source);
  ReadModel *data = g_task_get_task_data (task);
  JsonObject *model;
  GError *error = NULL;

  model = call_finish (self, result, &error);
  if (model == NULL)
    {
      if (g_error_matches (error, CAS_ERROR, CAS_ERROR_NOT_FOUND))
        {
          GCancellable *cancellable = g_task_get_cancellable (task);

          g_error_free (error);
          call_async (self, SNAPSHOT_PATH, "GET " SNAPSHOT_PATH, NULL,
                      cancellable, read_snapshot_cb, g_steal_pointer (&task));
          return;
        }
      g_task_return_error (task, error);
      return;
    }
  self->api = data->api = CAS_T3_API_SHELL;
  g_task_return_pointer (task, model, (GDestroyNotify) json_object_unref);
}

static void
read_model_async (CasT3Client        *self,
                  GCancellable       *cancellable,
                  GAsyncReadyCallback callback,
                  gpointer            user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, read_model_async);
  g_task_set_task_data (task, g_new0 (ReadModel, 1), g_free);
  if (self->api == CAS_T3_API_SNAPSHOT)
    call_async (self, SNAPSHOT_PATH, "GET " SNAPSHOT_PATH, NULL, cancellable, read_snapshot_cb, task);
  else
    call_async (self, SHELL_PATH, "GET " SHELL_PATH, NULL, cancellable, read_shell_cb, task);
}

static JsonObject *
read_model_finish (CasT3Client  *self,
                   GAsyncResult *result,
                   CasT3Api     *api,
                   GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  *api = ((ReadModel *) g_task_get_task_data (G_TASK (result)))->api;
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* Thread status                                                       */

static void
status_read_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (JsonObject) model = NULL;
  CasT3ThreadStatus *status;
  CasT3Api api;
  GError *error = NULL;

  model = read_model_finish (CAS_T3_CLIENT (source), result, &api, &error);
  if (model == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  status = cas_t3_thread_status_from_read_model (model, api, g_task_get_task_data (task), &error);
  if (status == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, status, (GDestroyNotify) cas_t3_thread_status_free);
}

void
cas_t3_client_get_thread_status_async (CasT3Client         *self,
                                       const char          *thread_id,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (CAS_IS_T3_CLIENT (self));
  g_return_if_fail (thread_id != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cas_t3_client_get_thread_status_async);
  g_task_set_task_data (task, g_strdup (thread_id), g_free);
  read_model_async (self, cancellable, status_read_cb, task);
}

CasT3ThreadStatus *
cas_t3_client_get_thread_status_finish (CasT3Client  *self,
                                        GAsyncResult *result,
                                        GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* Projects                                                            */

typedef struct {
  char *root;
  char *title;
  char *project_id;
  GError *rejected;   /* (nullable): the create T3 refused */
} EnsureProject;

static void
ensure_project_free (EnsureProject *data)
{
  g_free (data->root);
  g_free (data->title);
  g_free (data->project_id);
  g_clear_error (&data->rejected);
  g_free (data);
}

static void ensure_read_cb (GObject      *source,
                            GAsyncResult *result,
                            gpointer      user_data);

static void
ensure_create_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  CasT3Client *self = CAS_T3_CLIENT (source);
  EnsureProject *data = g_task_get_task_data (task);
  GError *error = NULL;

  if (dispatch_finish (self, result, &error) >= 0)
    {
      g_task_return_pointer (task, g_steal_pointer (&data->project_id), g_free);
      return;
    }
  if (cas_t3_client_error_is_rejected (error))
    {
      GCancellable *cancellable = g_task_get_cancellable (task);

      /* Perhaps someone made it meanwhile: look again, once. */
      data->rejected = error;
      read_model_async (self, cancellable, ensure_read_cb, g_steal_pointer (&task));
      return;
    }
  g_task_return_error (task, error);
}

static void
ensure_read_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  CasT3Client *self = CAS_T3_CLIENT (source);
  EnsureProject *data = g_task_get_task_data (task);
  g_autoptr (JsonObject) model = NULL;
  g_autofree char *found = NULL;
  g_autoptr (GString) command = NULL;
  g_autofree char *command_id = NULL;
  GCancellable *cancellable;
  CasT3Api api;
  GError *error = NULL;

  model = read_model_finish (self, result, &api, &error);
  if (model == NULL || !cas_t3_find_project (model, data->root, &found, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (found != NULL)
    {
      g_task_return_pointer (task, g_steal_pointer (&found), g_free);
      return;
    }
  if (data->rejected != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&data->rejected));
      return;
    }

  command_id = g_uuid_string_random ();
  data->project_id = g_uuid_string_random ();
  command = command_new ("project.create", command_id);
  command_add (command, "projectId", data->project_id);
  command_add (command, "title", data->title);
  command_add (command, "workspaceRoot", data->root);
  /* An empty directory would give the agent nothing to work on. */
  command_add_raw (command, "createWorkspaceRootIfMissing", "false");
  command_end (command);
  cancellable = g_task_get_cancellable (task);
  dispatch_async (self, "project.create", command, cancellable,
                  ensure_create_cb, g_steal_pointer (&task));
}

static gboolean
check_text (const char *text,
            const char *what,
            glong       max_chars,
            GError    **error)
{
  gboolean blank = TRUE;

  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   _("The argument “%s” is not valid UTF-8"), what);
      return FALSE;
    }
  for (const char *p = text; *p != '\0' && blank; p = g_utf8_next_char (p))
    blank = g_unichar_isspace (g_utf8_get_char (p));
  if (blank)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   _("The argument “%s” is empty"), what);
      return FALSE;
    }
  if (g_utf8_strlen (text, -1) > max_chars)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   _("The argument “%s” is longer than %ld characters"), what, max_chars);
      return FALSE;
    }
  return TRUE;
}

void
cas_t3_client_ensure_project_async (CasT3Client         *self,
                                    const char          *workspace_root,
                                    const char          *title,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autofree char *clean_title = NULL;
  EnsureProject *data;
  GError *error = NULL;

  g_return_if_fail (CAS_IS_T3_CLIENT (self));
  g_return_if_fail (workspace_root != NULL);
  g_return_if_fail (title != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cas_t3_client_ensure_project_async);
  if (!g_utf8_validate (workspace_root, -1, NULL) || !g_path_is_absolute (workspace_root) ||
      strlen (workspace_root) > MAX_ROOT_BYTES)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                               _("A T3 workspace root must be an absolute path"));
      return;
    }
  for (const char *p = workspace_root; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      {
        g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                                 _("A T3 workspace root cannot hold control characters"));
        return;
      }
  clean_title = quote_remote (title);
  if (!check_text (clean_title, "title", MAX_QUOTED_CHARS + 1, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  data = g_new0 (EnsureProject, 1);
  data->root = g_canonicalize_filename (workspace_root, "/");
  data->title = g_steal_pointer (&clean_title);
  g_task_set_task_data (task, data, (GDestroyNotify) ensure_project_free);
  read_model_async (self, cancellable, ensure_read_cb, g_steal_pointer (&task));
}

char *
cas_t3_client_ensure_project_finish (CasT3Client  *self,
                                     GAsyncResult *result,
                                     GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* Threads                                                             */

static void
create_thread_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;

  if (dispatch_finish (CAS_T3_CLIENT (source), result, &error) < 0)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_strdup (g_task_get_task_data (task)), g_free);
}

void
cas_t3_client_create_thread_async (CasT3Client         *self,
                                   const char          *project_id,
                                   const char          *title,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GString) command = NULL;
  g_autoptr (GString) model = g_string_new ("{\"instanceId\":\"claudeAgent\",\"model\":");
  g_autofree char *command_id = NULL;
  g_autofree char *clean_title = NULL;
  char *thread_id;
  GError *error = NULL;

  g_return_if_fail (CAS_IS_T3_CLIENT (self));
  g_return_if_fail (project_id != NULL);
  g_return_if_fail (title != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cas_t3_client_create_thread_async);
  /* A title is for people (an issue's, say): cleaned, not refused. */
  clean_title = quote_remote (title);
  if (!check_text (project_id, "project_id", MAX_ID_CHARS, &error) ||
      !check_text (clean_title, "title", MAX_QUOTED_CHARS + 1, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  command_id = g_uuid_string_random ();
  thread_id = g_uuid_string_random ();
  g_task_set_task_data (task, thread_id, g_free);
  cas_json_append_string (model, self->model);
  g_string_append_c (model, '}');
  command = command_new ("thread.create", command_id);
  command_add (command, "threadId", thread_id);
  command_add (command, "projectId", project_id);
  command_add (command, "title", clean_title);
  command_add_raw (command, "modelSelection", model->str);
  /* Unattended: nobody is there to approve commands. */
  command_add (command, "runtimeMode", "full-access");
  command_add (command, "interactionMode", "default");
  command_add_raw (command, "branch", "null");
  command_add_raw (command, "worktreePath", "null");
  command_end (command);
  dispatch_async (self, "thread.create", command, cancellable, create_thread_cb,
                  g_steal_pointer (&task));
}

char *
cas_t3_client_create_thread_finish (CasT3Client  *self,
                                    GAsyncResult *result,
                                    GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
delete_thread_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;

  if (dispatch_finish (CAS_T3_CLIENT (source), result, &error) < 0)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
cas_t3_client_delete_thread_async (CasT3Client         *self,
                                   const char          *thread_id,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GString) command = NULL;
  g_autofree char *command_id = NULL;
  GError *error = NULL;

  g_return_if_fail (CAS_IS_T3_CLIENT (self));
  g_return_if_fail (thread_id != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cas_t3_client_delete_thread_async);
  if (!check_text (thread_id, "thread_id", MAX_ID_CHARS, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  command_id = g_uuid_string_random ();
  command = command_new ("thread.delete", command_id);
  command_add (command, "threadId", thread_id);
  command_end (command);
  dispatch_async (self, "thread.delete", command, cancellable, delete_thread_cb,
                  g_steal_pointer (&task));
}

gboolean
cas_t3_client_delete_thread_finish (CasT3Client  *self,
                                    GAsyncResult *result,
                                    GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* Turns                                                               */

typedef struct {
  char *text;
  CasT3TurnStart *start;
} StartTurn;

static void
start_turn_free (StartTurn *data)
{
  g_free (data->text);
  cas_t3_turn_start_free (data->start);
  g_free (data);
}

static void
start_turn_sent_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  StartTurn *data = g_task_get_task_data (task);
  GError *error = NULL;
  gint64 sequence;

  sequence = dispatch_finish (CAS_T3_CLIENT (source), result, &error);
  if (sequence < 0)
    {
      g_task_return_error (task, error);
      return;
    }
  data->start->sequence = sequence;
  g_task_return_pointer (task, g_steal_pointer (&data->start),
                         (GDestroyNotify) cas_t3_turn_start_free);
}

static void
start_turn_status_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  CasT3Client *self = CAS_T3_CLIENT (source);
  StartTurn *data = g_task_get_task_data (task);
  g_autoptr (CasT3ThreadStatus) status = NULL;
  g_autoptr (GString) command = NULL;
  g_autoptr (GString) message = g_string_new ("{\"messageId\":");
  GCancellable *cancellable;
  GError *error = NULL;

  status = cas_t3_client_get_thread_status_finish (self, result, &error);
  if (status == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* A turn sent to a working thread steers it, and can interrupt it. */
  if (cas_t3_thread_status_is_busy (status))
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_TOO_MANY_REQUESTS,
                               _("T3 thread %s is busy; not starting another turn"),
                               status->thread_id);
      return;
    }

  data->start->previous_turn_id = g_strdup (status->latest_turn_id);
  data->start->previous_session_updated_at = g_strdup (status->session_updated_at);
  data->start->command_id = g_uuid_string_random ();
  data->start->message_id = g_uuid_string_random ();
  cas_json_append_string (message, data->start->message_id);
  g_string_append (message, ",\"role\":\"user\",\"text\":");
  cas_json_append_string (message, data->text);
  g_string_append (message, ",\"attachments\":[]}");
  command = command_new ("thread.turn.start", data->start->command_id);
  command_add (command, "threadId", data->start->thread_id);
  command_add_raw (command, "message", message->str);
  /* Required by the schema, ignored by T3: the thread's modes apply. */
  command_add (command, "runtimeMode", "full-access");
  command_add (command, "interactionMode", "default");
  command_end (command);
  cancellable = g_task_get_cancellable (task);
  dispatch_async (self, "thread.turn.start", command, cancellable,
                  start_turn_sent_cb, g_steal_pointer (&task));
}

void
cas_t3_client_start_turn_async (CasT3Client         *self,
                                const char          *thread_id,
                                const char          *text,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr (GTask) task = NULL;
  StartTurn *data;
  GError *error = NULL;

  g_return_if_fail (CAS_IS_T3_CLIENT (self));
  g_return_if_fail (thread_id != NULL);
  g_return_if_fail (text != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cas_t3_client_start_turn_async);
  if (!check_text (thread_id, "thread_id", MAX_ID_CHARS, &error) ||
      !check_text (text, "text", CAS_T3_CLIENT_MAX_PROMPT_CHARS, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  data = g_new0 (StartTurn, 1);
  data->text = g_strdup (text);
  data->start = g_new0 (CasT3TurnStart, 1);
  data->start->thread_id = g_strdup (thread_id);
  g_task_set_task_data (task, data, (GDestroyNotify) start_turn_free);
  cas_t3_client_get_thread_status_async (self, thread_id, cancellable,
                                         start_turn_status_cb, g_steal_pointer (&task));
}

CasT3TurnStart *
cas_t3_client_start_turn_finish (CasT3Client  *self,
                                 GAsyncResult *result,
                                 GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
