/* cas-config.h: settings from defaults < config.ini < environment.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  CAS_CONFIG_SOURCE_DEFAULT,
  CAS_CONFIG_SOURCE_FILE,
  CAS_CONFIG_SOURCE_ENV,
} CasConfigSource;

/* Every field is set by cas_config_parse() and read-only afterwards.
 * Field names follow "<group>_<key>" of config.ini. */
typedef struct {
  gint ref_count;

  /* [http] */
  char *http_address;
  guint http_port;
  char *http_api_token_file;
  gboolean http_trust_proxy_user_header;
  char **http_trusted_proxies;   /* IP addresses, never NULL */
  guint64 http_max_body_bytes;
  gboolean http_access_log;
  guint http_header_timeout_seconds;
  guint http_body_timeout_seconds;
  guint http_idle_timeout_seconds;
  guint http_max_connections;

  /* [claude] */
  char *claude_command;
  char *claude_default_model;
  GStrv claude_models;
  guint claude_max_concurrency;
  guint claude_max_queue_depth;
  guint64 claude_max_queued_bytes;
  guint claude_kill_grace_seconds;
  guint64 claude_max_line_bytes;
  guint claude_pool_size;
  guint claude_pool_idle_seconds;
  guint claude_max_processes;
  guint claude_conversation_idle_seconds;
  gboolean claude_conversation_spare;

  /* [conversational] */
  char *conversational_agent;
  guint conversational_timeout_seconds;
  guint conversational_record_ttl_days;

  /* [chat] */
  char *chat_agent;
  char *chat_workspace_repo;
  double chat_budget_usd;
  guint chat_timeout_seconds;

  /* [jobs] */
  char *jobs_workspace_repo;
  char *jobs_jobs_dir;
  char *jobs_git_crypt_key_file;
  guint jobs_fetch_debounce_seconds;
  guint jobs_job_ttl_seconds;
  guint64 jobs_max_record_output_bytes;
  guint64 jobs_max_records_bytes;

  /* [breakglass] */
  char *breakglass_agent;
  char *breakglass_model;
  guint breakglass_max_concurrent_turns;
  guint breakglass_turn_timeout_seconds;
  guint breakglass_sse_keepalive_seconds;
  guint breakglass_max_sessions;
  guint64 breakglass_max_log_bytes;

  /* [pve] */
  char *pve_host;
  char *pve_user;
  char *pve_ssh_command;
  char *pve_key_file;
  guint pve_verb_timeout_seconds;

  /* [afk] */
  gboolean afk_kill_switch;
  GStrv afk_allowlist;
  guint afk_poll_interval_seconds;
  char *afk_ready_label;
  char *afk_in_progress_label;
  char *afk_ready_for_human_label;
  char *afk_paused_label;
  guint afk_fix_forward_max_attempts;
  guint afk_fix_forward_max_seconds;
  double afk_budget_usd;

  /* [github] */
  char *github_api_url;
  char *github_token_file;
  char *github_self_login;

  /* [t3] */
  char *t3_base_url;
  char *t3_token_file;
  char *t3_model;
  char *t3_workspace_base;
  char *t3_link_base_url;

  /* [ci] */
  char *ci_woodpecker_url;
  char *ci_woodpecker_token_file;
  char *ci_rollout_command;

  /* [notify] */
  gboolean notify_desktop;
  char *notify_ntfy_url;
  char *notify_ntfy_topic;
  char *notify_ntfy_token_file;
  char *notify_slack_webhook_file;

  /* Where each key's value came from, indexed like the key table. */
  CasConfigSource *sources;
  /* (element-type utf8): unknown keys and similar notes for the log. */
  GPtrArray *warnings;
} CasConfig;

CasConfig *cas_config_ref (CasConfig *self);
void cas_config_unref (CasConfig *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasConfig, cas_config_unref)

/* Pure core: @keyfile_data may be NULL (no file); @source_name names the
 * file in messages; @envp is an environment (g_get_environ () style). */
CasConfig *cas_config_parse (const char         *keyfile_data,
                             gsize               length,
                             const char         *source_name,
                             const char * const *envp,
                             GError            **error);

/* Reads @path (or the default location when NULL; a missing default file
 * is fine, a missing explicit one is an error) and the environment. */
CasConfig *cas_config_load (const char *path,
                            GError    **error);

/* Where a key's value came from; -1 for an unknown key. */
int cas_config_get_source (const CasConfig *self,
                           const char      *group,
                           const char      *key);

/* Iterate the key table, for docs and tests: returns FALSE past the end. */
gboolean cas_config_key_at (guint        index,
                            const char **group,
                            const char **key,
                            const char **env_name);

/* The default config file location. */
char *cas_config_default_path (void);

/* $XDG_STATE_HOME/claude-agent-service, created 0700. */
char *cas_config_ensure_state_dir (GError **error);

/* A secret from, in order: @env_name in @envp (may be NULL), @file_path
 * (may be NULL), $CREDENTIALS_DIRECTORY/@credential_name. Trailing
 * whitespace is stripped. Returns NULL with no error when none is set. */
char *cas_config_read_secret (const char         *env_name,
                              const char         *file_path,
                              const char         *credential_name,
                              const char * const *envp,
                              GError            **error);

/* The API token: a configured secret, else the one stored in @state_dir,
 * else a new random one written there (mode 0600). *@generated_path is
 * set when the token came from or went to the state dir. */
char *cas_config_resolve_api_token (const CasConfig    *self,
                                    const char         *state_dir,
                                    const char * const *envp,
                                    char              **token_path,
                                    GError            **error);

G_END_DECLS
