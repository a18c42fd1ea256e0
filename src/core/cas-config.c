/* cas-config.c: one table of keys drives parsing, validation and docs.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-config"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <stdlib.h>
#include <sys/random.h>

#include "cas-config.h"
#include "cas-error.h"

typedef enum {
  KEY_STRING,
  KEY_UINT,
  KEY_UINT64,
  KEY_DOUBLE,
  KEY_BOOL,
  KEY_LIST,
  KEY_ADDRESS_LIST,   /* a list of IP addresses */
} KeyType;

typedef struct {
  const char *group;
  const char *key;
  const char *env; /* (nullable) */
  KeyType type;
  gsize offset;
  const char *default_value; /* (nullable): parsed like any other value */
  guint64 min;
  guint64 max;
} KeyInfo;

#define F(field) G_STRUCT_OFFSET (CasConfig, field)
#define NOLIMIT 0, G_MAXUINT
#define DEFAULT_MODELS "haiku,sonnet,opus,claude-haiku-4-5,claude-sonnet-4-6,claude-opus-4-7"

static const KeyInfo keys[] = {
  { "http", "address", NULL, KEY_STRING, F (http_address), "127.0.0.1", 0, 0 },
  { "http", "port", NULL, KEY_UINT, F (http_port), "8080", 0, 65535 },
  { "http", "api-token-file", NULL, KEY_STRING, F (http_api_token_file), NULL, 0, 0 },
  { "http", "trust-proxy-user-header", NULL, KEY_BOOL, F (http_trust_proxy_user_header), "false", 0, 0 },
  { "http", "trusted-proxies", NULL, KEY_ADDRESS_LIST, F (http_trusted_proxies), NULL, 0, 0 },
  { "http", "max-body-bytes", NULL, KEY_UINT64, F (http_max_body_bytes), "8388608", 1024, G_GUINT64_CONSTANT (1) << 32 },
  { "http", "access-log", NULL, KEY_BOOL, F (http_access_log), "true", 0, 0 },
  { "http", "header-timeout-seconds", NULL, KEY_UINT, F (http_header_timeout_seconds), "10", 1, 3600 },
  { "http", "body-timeout-seconds", NULL, KEY_UINT, F (http_body_timeout_seconds), "30", 1, 3600 },
  { "http", "idle-timeout-seconds", NULL, KEY_UINT, F (http_idle_timeout_seconds), "60", 1, 86400 },
  { "http", "max-connections", NULL, KEY_UINT, F (http_max_connections), "512", 1, 1048576 },

  { "claude", "command", NULL, KEY_STRING, F (claude_command), "claude", 0, 0 },
  { "claude", "default-model", NULL, KEY_STRING, F (claude_default_model), "sonnet", 0, 0 },
  { "claude", "models", NULL, KEY_LIST, F (claude_models), DEFAULT_MODELS, 0, 0 },
  { "claude", "max-concurrency", "MAX_CONCURRENCY", KEY_UINT, F (claude_max_concurrency), "10", 1, 1024 },
  { "claude", "max-queue-depth", "MAX_QUEUE_DEPTH", KEY_UINT, F (claude_max_queue_depth), "100", 1, 100000 },
  { "claude", "max-queued-bytes", NULL, KEY_UINT64, F (claude_max_queued_bytes), "67108864", 1024, G_GUINT64_CONSTANT (1) << 40 },
  { "claude", "kill-grace-seconds", NULL, KEY_UINT, F (claude_kill_grace_seconds), "3", 1, 60 },
  { "claude", "max-line-bytes", NULL, KEY_UINT64, F (claude_max_line_bytes), "8388608", 4096, G_GUINT64_CONSTANT (1) << 31 },
  { "claude", "pool-size", NULL, KEY_UINT, F (claude_pool_size), "1", 0, 16 },
  { "claude", "pool-idle-seconds", NULL, KEY_UINT, F (claude_pool_idle_seconds), "1800", 1, 86400 * 7 },
  { "claude", "max-processes", NULL, KEY_UINT, F (claude_max_processes), "16", 1, 1024 },
  { "claude", "conversation-idle-seconds", NULL, KEY_UINT, F (claude_conversation_idle_seconds), "600", 1, 86400 * 7 },
  { "claude", "conversation-spare", NULL, KEY_BOOL, F (claude_conversation_spare), "true", 0, 0 },

  { "conversational", "agent", NULL, KEY_STRING, F (conversational_agent), "conversational", 0, 0 },
  { "conversational", "timeout-seconds", "CONVERSATIONAL_TIMEOUT_SECONDS", KEY_UINT, F (conversational_timeout_seconds), "120", 1, 86400 },
  { "conversational", "record-ttl-days", NULL, KEY_UINT, F (conversational_record_ttl_days), "30", 1, 36500 },

  { "chat", "agent", NULL, KEY_STRING, F (chat_agent), "conversational", 0, 0 },
  { "chat", "workspace-repo", NULL, KEY_STRING, F (chat_workspace_repo), NULL, 0, 0 },
  { "chat", "budget-usd", NULL, KEY_DOUBLE, F (chat_budget_usd), "2", 0, 0 },
  { "chat", "timeout-seconds", NULL, KEY_UINT, F (chat_timeout_seconds), "900", 1, 86400 },

  { "jobs", "workspace-repo", "WORKSPACE_DIR", KEY_STRING, F (jobs_workspace_repo), NULL, 0, 0 },
  { "jobs", "jobs-dir", "JOBS_DIR", KEY_STRING, F (jobs_jobs_dir), NULL, 0, 0 },
  { "jobs", "git-crypt-key-file", "GIT_CRYPT_KEY", KEY_STRING, F (jobs_git_crypt_key_file), NULL, 0, 0 },
  { "jobs", "fetch-debounce-seconds", "FETCH_DEBOUNCE_SECONDS", KEY_UINT, F (jobs_fetch_debounce_seconds), "15", NOLIMIT },
  { "jobs", "job-ttl-seconds", "JOB_TTL_SECONDS", KEY_UINT, F (jobs_job_ttl_seconds), "3600", 1, G_MAXUINT },
  { "jobs", "max-record-output-bytes", NULL, KEY_UINT64, F (jobs_max_record_output_bytes), "1048576", 4096, 8388608 },
  { "jobs", "max-records-bytes", NULL, KEY_UINT64, F (jobs_max_records_bytes), "536870912", 1048576, G_GUINT64_CONSTANT (1) << 40 },

  { "breakglass", "agent", "BREAKGLASS_AGENT", KEY_STRING, F (breakglass_agent), "breakglass", 0, 0 },
  { "breakglass", "model", "BREAKGLASS_MODEL", KEY_STRING, F (breakglass_model), "sonnet", 0, 0 },
  { "breakglass", "max-concurrent-turns", "BREAKGLASS_MAX_CONCURRENT_TURNS", KEY_UINT, F (breakglass_max_concurrent_turns), "2", 1, 1024 },
  { "breakglass", "turn-timeout-seconds", "BREAKGLASS_TURN_TIMEOUT_SECONDS", KEY_UINT, F (breakglass_turn_timeout_seconds), "1800", 1, 86400 },
  { "breakglass", "sse-keepalive-seconds", "BREAKGLASS_SSE_KEEPALIVE_SECONDS", KEY_UINT, F (breakglass_sse_keepalive_seconds), "20", 1, 3600 },
  { "breakglass", "max-sessions", "BREAKGLASS_MAX_SESSIONS", KEY_UINT, F (breakglass_max_sessions), "50", 1, 100000 },
  { "breakglass", "max-log-bytes", "BREAKGLASS_MAX_LOG_BYTES", KEY_UINT64, F (breakglass_max_log_bytes), "16777216", 4096, G_GUINT64_CONSTANT (1) << 34 },

  { "pve", "host", "BREAKGLASS_PVE_HOST", KEY_STRING, F (pve_host), NULL, 0, 0 },
  { "pve", "user", "BREAKGLASS_PVE_USER", KEY_STRING, F (pve_user), NULL, 0, 0 },
  { "pve", "ssh-command", NULL, KEY_STRING, F (pve_ssh_command), "ssh", 0, 0 },
  { "pve", "key-file", NULL, KEY_STRING, F (pve_key_file), NULL, 0, 0 },
  { "pve", "verb-timeout-seconds", "BREAKGLASS_PVE_VERB_TIMEOUT_SECONDS", KEY_UINT, F (pve_verb_timeout_seconds), "120", 1, 3600 },

  { "afk", "kill-switch", "AFK_KILL_SWITCH", KEY_BOOL, F (afk_kill_switch), "true", 0, 0 },
  { "afk", "allowlist", "AFK_ALLOWLIST", KEY_LIST, F (afk_allowlist), NULL, 0, 0 },
  { "afk", "poll-interval-seconds", "AFK_POLL_INTERVAL_SECONDS", KEY_UINT, F (afk_poll_interval_seconds), "300", 1, 86400 },
  { "afk", "ready-label", "AFK_READY_LABEL", KEY_STRING, F (afk_ready_label), "ready-for-agent", 0, 0 },
  { "afk", "in-progress-label", "AFK_IN_PROGRESS_LABEL", KEY_STRING, F (afk_in_progress_label), "agent-in-progress", 0, 0 },
  { "afk", "ready-for-human-label", "AFK_READY_FOR_HUMAN_LABEL", KEY_STRING, F (afk_ready_for_human_label), "ready-for-human", 0, 0 },
  { "afk", "paused-label", "AFK_PAUSED_LABEL", KEY_STRING, F (afk_paused_label), "paused", 0, 0 },
  { "afk", "fix-forward-max-attempts", "AFK_FIX_FORWARD_MAX_ATTEMPTS", KEY_UINT, F (afk_fix_forward_max_attempts), "5", 0, 1000 },
  { "afk", "fix-forward-max-seconds", "AFK_FIX_FORWARD_MAX_SECONDS", KEY_UINT, F (afk_fix_forward_max_seconds), "3600", 1, G_MAXUINT },
  { "afk", "budget-usd", "AFK_BUDGET_USD", KEY_DOUBLE, F (afk_budget_usd), "100", 0, 0 },

  { "github", "api-url", NULL, KEY_STRING, F (github_api_url), "https://api.github.com", 0, 0 },
  { "github", "token-file", NULL, KEY_STRING, F (github_token_file), NULL, 0, 0 },
  { "github", "self-login", NULL, KEY_STRING, F (github_self_login), NULL, 0, 0 },

  { "t3", "base-url", NULL, KEY_STRING, F (t3_base_url), NULL, 0, 0 },
  { "t3", "token-file", NULL, KEY_STRING, F (t3_token_file), NULL, 0, 0 },
  { "t3", "model", NULL, KEY_STRING, F (t3_model), NULL, 0, 0 },
  { "t3", "workspace-base", NULL, KEY_STRING, F (t3_workspace_base), NULL, 0, 0 },
  { "t3", "link-base-url", NULL, KEY_STRING, F (t3_link_base_url), NULL, 0, 0 },

  { "ci", "woodpecker-url", NULL, KEY_STRING, F (ci_woodpecker_url), NULL, 0, 0 },
  { "ci", "woodpecker-token-file", NULL, KEY_STRING, F (ci_woodpecker_token_file), NULL, 0, 0 },
  { "ci", "rollout-command", NULL, KEY_STRING, F (ci_rollout_command), NULL, 0, 0 },

  { "notify", "desktop", NULL, KEY_BOOL, F (notify_desktop), "true", 0, 0 },
  { "notify", "ntfy-url", NULL, KEY_STRING, F (notify_ntfy_url), NULL, 0, 0 },
  { "notify", "ntfy-topic", NULL, KEY_STRING, F (notify_ntfy_topic), NULL, 0, 0 },
  { "notify", "ntfy-token-file", NULL, KEY_STRING, F (notify_ntfy_token_file), NULL, 0, 0 },
  { "notify", "slack-webhook-file", NULL, KEY_STRING, F (notify_slack_webhook_file), NULL, 0, 0 },
};

#undef F
#undef NOLIMIT

static gboolean
parse_bool (const char *text,
            gboolean   *out)
{
  static const char *const yes[] = { "1", "true", "yes", "on", NULL };
  static const char *const no[] = { "0", "false", "no", "off", NULL };
  g_autofree char *lower = g_ascii_strdown (text, -1);

  g_strstrip (lower);
  if (g_strv_contains (yes, lower))
    return (*out = TRUE, TRUE);
  if (g_strv_contains (no, lower))
    return (*out = FALSE, TRUE);
  return FALSE;
}

static gboolean
parse_uint64 (const char *text,
              guint64     min,
              guint64     max,
              guint64    *out)
{
  g_autofree char *copy = g_strstrip (g_strdup (text));
  guint64 value;

  if (!g_ascii_string_to_unsigned (copy, 10, min, max, &value, NULL))
    return FALSE;
  *out = value;
  return TRUE;
}

static gboolean
parse_double (const char *text,
              double     *out)
{
  g_autofree char *copy = g_strstrip (g_strdup (text));
  char *end = NULL;
  double value;

  if (*copy == '\0')
    return FALSE;
  errno = 0;
  value = g_ascii_strtod (copy, &end);
  if (errno != 0 || *end != '\0' || !isfinite (value) || value < 0)
    return FALSE;
  *out = value;
  return TRUE;
}

/* Lists take commas or semicolons (GKeyFile's own separator); blanks and
 * empty items are dropped. */
static GStrv
parse_list (const char *text)
{
  g_auto (GStrv) parts = g_strsplit_set (text, ",;", -1);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; parts[i] != NULL; i++)
    {
      g_strstrip (parts[i]);
      if (*parts[i] != '\0')
        g_strv_builder_add (builder, parts[i]);
    }
  return g_strv_builder_end (builder);
}

static char *
describe_accepted (const KeyInfo *info)
{
  switch (info->type)
    {
    case KEY_BOOL:
      return g_strdup (_("one of 1, true, yes, on, 0, false, no, off"));
    case KEY_UINT:
    case KEY_UINT64:
      {
        g_autofree char *min = g_strdup_printf ("%" G_GUINT64_FORMAT, info->min);
        g_autofree char *max = g_strdup_printf ("%" G_GUINT64_FORMAT, info->max);

        return g_strdup_printf (_("a whole number from %s to %s"), min, max);
      }
    case KEY_DOUBLE:
      return g_strdup (_("a number of zero or more"));
    case KEY_ADDRESS_LIST:
      return g_strdup (_("IP addresses separated by commas"));
    case KEY_STRING:
    case KEY_LIST:
    default:
      return g_strdup (_("text"));
    }
}

static gboolean
set_value (CasConfig     *self,
           const KeyInfo *info,
           const char    *value,
           const char    *where,
           GError       **error)
{
  gpointer field = G_STRUCT_MEMBER_P (self, info->offset);
  gboolean ok = TRUE;

  switch (info->type)
    {
    case KEY_STRING:
      {
        char **slot = field;
        g_autofree char *copy = g_strstrip (g_strdup (value));

        g_free (*slot);
        /* An empty value means "unset", so a later source can clear one. */
        *slot = *copy != '\0' ? g_steal_pointer (&copy) : NULL;
        break;
      }
    case KEY_UINT:
    case KEY_UINT64:
      {
        guint64 number;

        ok = parse_uint64 (value, info->min, info->max, &number);
        if (ok && info->type == KEY_UINT)
          *(guint *) field = (guint) number;
        else if (ok)
          *(guint64 *) field = number;
        break;
      }
    case KEY_DOUBLE:
      ok = parse_double (value, field);
      break;
    case KEY_BOOL:
      ok = parse_bool (value, field);
      break;
    case KEY_LIST:
    case KEY_ADDRESS_LIST:
      {
        GStrv *slot = field;
        g_auto (GStrv) list = parse_list (value);

        for (guint i = 0; info->type == KEY_ADDRESS_LIST && list[i] != NULL; i++)
          ok = ok && g_hostname_is_ip_address (list[i]);
        if (!ok)
          break;
        g_strfreev (*slot);
        *slot = g_steal_pointer (&list);
        break;
      }
    default:
      g_assert_not_reached ();
    }

  if (!ok)
    {
      g_autofree char *accepted = describe_accepted (info);

      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   _("Invalid value “%s” for [%s] %s (%s): expected %s"),
                   value, info->group, info->key, where, accepted);
    }
  return ok;
}

static const char *
env_lookup (const char * const *envp,
            const char         *name)
{
  return envp != NULL ? g_environ_getenv ((char **) envp, name) : NULL;
}

static CasConfig *
config_new (void)
{
  CasConfig *self = g_new0 (CasConfig, 1);

  self->ref_count = 1;
  self->sources = g_new0 (CasConfigSource, G_N_ELEMENTS (keys));
  self->warnings = g_ptr_array_new_with_free_func (g_free);
  return self;
}

CasConfig *
cas_config_ref (CasConfig *self)
{
  g_atomic_int_inc (&self->ref_count);
  return self;
}

void
cas_config_unref (CasConfig *self)
{
  if (self == NULL || !g_atomic_int_dec_and_test (&self->ref_count))
    return;

  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      gpointer field = G_STRUCT_MEMBER_P (self, keys[i].offset);

      if (keys[i].type == KEY_STRING)
        g_free (*(char **) field);
      else if (keys[i].type == KEY_LIST || keys[i].type == KEY_ADDRESS_LIST)
        g_strfreev (*(GStrv *) field);
    }
  g_free (self->sources);
  g_ptr_array_unref (self->warnings);
  g_free (self);
}

static gboolean
key_is_known (const char *group,
              const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    if (g_str_equal (keys[i].group, group) && g_str_equal (keys[i].key, key))
      return TRUE;
  return FALSE;
}

static void
note_unknown_keys (CasConfig  *self,
                   GKeyFile   *keyfile,
                   const char *source_name)
{
  g_auto (GStrv) groups = g_key_file_get_groups (keyfile, NULL);

  for (guint g = 0; groups[g] != NULL; g++)
    {
      g_auto (GStrv) names = g_key_file_get_keys (keyfile, groups[g], NULL, NULL);

      for (guint k = 0; names != NULL && names[k] != NULL; k++)
        if (!key_is_known (groups[g], names[k]))
          g_ptr_array_add (self->warnings,
                           g_strdup_printf (_("%s: unknown key [%s] %s is ignored"),
                                            source_name, groups[g], names[k]));
    }
}

CasConfig *
cas_config_parse (const char         *keyfile_data,
                  gsize               length,
                  const char         *source_name,
                  const char * const *envp,
                  GError            **error)
{
  g_autoptr (CasConfig) self = config_new ();
  g_autoptr (GKeyFile) keyfile = g_key_file_new ();

  if (source_name == NULL)
    source_name = "config.ini";

  if (keyfile_data != NULL)
    {
      g_autoptr (GError) local_error = NULL;

      if (memchr (keyfile_data, '\0', length) != NULL ||
          !g_utf8_validate_len (keyfile_data, length, NULL))
        {
          g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                       _("Cannot read %s: it is not a UTF-8 text file"), source_name);
          return NULL;
        }
      if (!g_key_file_load_from_data (keyfile, keyfile_data, length,
                                      G_KEY_FILE_NONE, &local_error))
        {
          g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                       _("Cannot read %s: %s"), source_name, local_error->message);
          return NULL;
        }
      note_unknown_keys (self, keyfile, source_name);
    }

  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      const KeyInfo *info = &keys[i];
      g_autofree char *file_value = NULL;
      const char *env_value;

      if (info->default_value != NULL &&
          !set_value (self, info, info->default_value, "default", error))
        return NULL;
      /* Lists are never NULL, only empty. */
      if ((info->type == KEY_LIST || info->type == KEY_ADDRESS_LIST) &&
          info->default_value == NULL)
        *(GStrv *) G_STRUCT_MEMBER_P (self, info->offset) = g_new0 (char *, 1);

      file_value = g_key_file_get_string (keyfile, info->group, info->key, NULL);
      if (file_value != NULL)
        {
          if (!set_value (self, info, file_value, source_name, error))
            return NULL;
          self->sources[i] = CAS_CONFIG_SOURCE_FILE;
        }

      env_value = info->env != NULL ? env_lookup (envp, info->env) : NULL;
      if (env_value != NULL)
        {
          g_autofree char *where = g_strdup_printf (_("environment variable %s"), info->env);

          if (!set_value (self, info, env_value, where, error))
            return NULL;
          self->sources[i] = CAS_CONFIG_SOURCE_ENV;
        }
    }

  if (self->claude_models == NULL || self->claude_models[0] == NULL)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   _("[claude] models must list at least one model"));
      return NULL;
    }
  if (self->claude_max_queue_depth < self->claude_max_concurrency)
    g_ptr_array_add (self->warnings,
                     g_strdup (_("[claude] max-queue-depth is below max-concurrency: "
                                 "requests past the queue depth are refused")));
  if (self->http_trust_proxy_user_header && self->http_trusted_proxies[0] == NULL)
    g_ptr_array_add (self->warnings,
                     g_strdup (_("[http] trust-proxy-user-header is on but [http] "
                                 "trusted-proxies is empty: the proxy's user header "
                                 "is not believed from anyone")));

  return g_steal_pointer (&self);
}

char *
cas_config_default_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "claude-agent-service",
                           "config.ini", NULL);
}

CasConfig *
cas_config_load (const char *path,
                 GError    **error)
{
  g_autofree char *default_path = NULL;
  g_autofree char *contents = NULL;
  g_auto (GStrv) envp = g_get_environ ();
  gsize length = 0;
  g_autoptr (GError) local_error = NULL;

  if (path == NULL)
    path = default_path = cas_config_default_path ();

  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      /* No config at all is a normal way to run; a named one must exist. */
      if (default_path == NULL ||
          !g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                       _("Cannot read config file %s: %s"), path, local_error->message);
          return NULL;
        }
      path = NULL;
    }

  return cas_config_parse (contents, length, path, (const char * const *) envp, error);
}

int
cas_config_get_source (const CasConfig *self,
                       const char      *group,
                       const char      *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    if (g_str_equal (keys[i].group, group) && g_str_equal (keys[i].key, key))
      return self->sources[i];
  return -1;
}

gboolean
cas_config_key_at (guint        index,
                   const char **group,
                   const char **key,
                   const char **env_name)
{
  if (index >= G_N_ELEMENTS (keys))
    return FALSE;
  *group = keys[index].group;
  *key = keys[index].key;
  *env_name = keys[index].env;
  return TRUE;
}

char *
cas_config_ensure_state_dir (GError **error)
{
  g_autofree char *dir = g_build_filename (g_get_user_state_dir (),
                                           "claude-agent-service", NULL);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   _("Cannot create state directory %s: %s"),
                   dir, g_strerror (saved_errno));
      return NULL;
    }
  return g_steal_pointer (&dir);
}

/* Secrets are small; anything bigger than this is a wrong file. */
#define MAX_SECRET_BYTES 65536

static char *
read_secret_file (const char *path,
                  GError    **error)
{
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_autoptr (GError) local_error = NULL;

  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   _("Cannot read secret file %s: %s"), path, local_error->message);
      return NULL;
    }
  if (length > MAX_SECRET_BYTES || memchr (contents, '\0', length) != NULL ||
      !g_utf8_validate_len (contents, length, NULL))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   _("Secret file %s is not a short text file"), path);
      return NULL;
    }
  g_strstrip (contents);
  if (*contents == '\0')
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   _("Secret file %s is empty"), path);
      return NULL;
    }
  return g_steal_pointer (&contents);
}

char *
cas_config_read_secret (const char         *env_name,
                        const char         *file_path,
                        const char         *credential_name,
                        const char * const *envp,
                        GError            **error)
{
  const char *value = env_name != NULL ? env_lookup (envp, env_name) : NULL;
  const char *credentials_dir;

  if (value != NULL && *value != '\0')
    return g_strstrip (g_strdup (value));
  if (file_path != NULL)
    return read_secret_file (file_path, error);

  credentials_dir = env_lookup (envp, "CREDENTIALS_DIRECTORY");
  if (credentials_dir != NULL && credential_name != NULL)
    {
      g_autofree char *path = g_build_filename (credentials_dir, credential_name, NULL);

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return read_secret_file (path, error);
    }
  return NULL;
}

static char *
generate_token (GError **error)
{
  guint8 bytes[32];
  GString *hex = g_string_sized_new (2 * sizeof bytes);

  if (getrandom (bytes, sizeof bytes, 0) != sizeof bytes)
    {
      int saved_errno = errno;

      g_string_free (hex, TRUE);
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   _("Cannot generate an API token: %s"), g_strerror (saved_errno));
      return NULL;
    }
  for (gsize i = 0; i < sizeof bytes; i++)
    g_string_append_printf (hex, "%02x", bytes[i]);
  return g_string_free (hex, FALSE);
}

char *
cas_config_resolve_api_token (const CasConfig    *self,
                              const char         *state_dir,
                              const char * const *envp,
                              char              **token_path,
                              GError            **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree char *token = NULL;
  g_autofree char *path = NULL;

  token = cas_config_read_secret ("API_BEARER_TOKEN", self->http_api_token_file,
                                  "api-token", envp, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (token != NULL)
    return g_steal_pointer (&token);

  /* Never an open API: fall back to a token kept in the state dir. */
  path = g_build_filename (state_dir, "api-token", NULL);
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    token = read_secret_file (path, error);
  else
    {
      token = generate_token (error);
      if (token != NULL &&
          !g_file_set_contents_full (path, token, -1,
                                     G_FILE_SET_CONTENTS_CONSISTENT, 0600, &local_error))
        {
          g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                       _("Cannot store the API token in %s: %s"), path, local_error->message);
          g_clear_pointer (&token, g_free);
        }
    }

  if (token != NULL && token_path != NULL)
    *token_path = g_steal_pointer (&path);
  return g_steal_pointer (&token);
}
