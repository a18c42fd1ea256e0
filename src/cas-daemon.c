/* cas-daemon.c: wires config, admission, the HTTP server and its routes.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-daemon"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "cas-admission.h"
#include "cas-afk-control.h"
#include "cas-afk-loop.h"
#include "cas-afk-routes.h"
#include "cas-afk-settings.h"
#include "cas-agents.h"
#include "cas-chat-routes.h"
#include "cas-cli-pool.h"
#include "cas-cli-process.h"
#include "cas-completions.h"
#include "cas-conversation-routes.h"
#include "cas-conversations.h"
#include "cas-daemon.h"
#include "cas-http-server.h"
#include "cas-job-queue.h"
#include "cas-job-routes.h"
#include "cas-json.h"
#include "cas-login.h"
#include "cas-login-routes.h"
#include "cas-power.h"
#include "cas-power-routes.h"
#include "cas-session-manager.h"
#include "cas-session-routes.h"
#include "cas-sessions-control.h"
#include "cas-ui-routes.h"

/* How long /health trusts its last look for the claude binary: PATH
 * lookups cost a stat per directory, and schedulers poll /health often. */
#define CLAUDE_LOOKUP_TTL_US (5 * G_USEC_PER_SEC)

struct _CasDaemon
{
  GObject parent_instance;

  CasConfig *config;          /* (owned) */
  char *state_dir;            /* (owned) */
  CasAgentSet *agents;        /* (owned) */
  CasAdmission *admission;    /* (owned) */
  CasCliPool *pool;           /* (owned) */
  CasHttpServer *http;        /* (owned) */
  CasCompletions *completions;         /* (owned) */
  CasConversations *conversations;     /* (owned) */
  CasChatRoutes *chat;                 /* (owned) */
  CasConversationRoutes *conversation_routes; /* (owned) */
  CasJobQueue *jobs;                   /* (owned) */
  CasJobRoutes *job_routes;            /* (owned) */
  CasLogin *login;                     /* (owned) */
  CasLoginRoutes *login_routes;        /* (owned) */
  CasPower *power;                     /* (owned) */
  CasPowerRoutes *power_routes;        /* (owned) */
  CasAfkSettings *afk_settings;        /* (owned) */
  CasAfkLoop *afk_loop;                /* (owned) (nullable) see start_afk () */
  CasAfkRoutes *afk_routes;            /* (owned) (nullable) */
  CasAfkControl *afk_control;          /* (owned) (nullable) */
  CasSessionManager *sessions;         /* (owned) */
  CasSessionRoutes *session_routes;    /* (owned) */
  CasSessionsControl *sessions_control; /* (owned) */
  CasUiRoutes *ui_routes;              /* (owned) */

  char *claude_path;          /* (owned) (nullable) */
  gint64 claude_checked_us;

  /* The last /health body and the counts in it (see handle_health). */
  char *health_body;          /* (owned) (nullable) */
  char *health_public_body;   /* (owned) (nullable) the same, without paths */
  guint health_active;
  guint health_queued;
  CasCliPoolStats health_pool;
};

G_DEFINE_FINAL_TYPE (CasDaemon, cas_daemon, G_TYPE_OBJECT)

static void
cas_daemon_finalize (GObject *object)
{
  CasDaemon *self = CAS_DAEMON (object);

  g_clear_object (&self->afk_control);
  g_clear_object (&self->afk_routes);
  g_clear_object (&self->afk_loop);
  g_clear_object (&self->afk_settings);
  g_clear_object (&self->chat);
  g_clear_object (&self->conversation_routes);
  g_clear_object (&self->job_routes);
  g_clear_object (&self->power_routes);
  g_clear_object (&self->login_routes);
  g_clear_object (&self->login);
  g_clear_object (&self->power);
  g_clear_object (&self->sessions_control);
  g_clear_object (&self->session_routes);
  g_clear_object (&self->sessions);
  g_clear_object (&self->ui_routes);
  g_clear_object (&self->completions);
  g_clear_object (&self->conversations);
  g_clear_object (&self->jobs);
  g_clear_object (&self->http);
  g_clear_object (&self->admission);
  g_clear_object (&self->pool);
  g_clear_pointer (&self->agents, cas_agent_set_unref);
  g_clear_pointer (&self->config, cas_config_unref);
  g_free (self->state_dir);
  g_free (self->claude_path);
  g_free (self->health_body);
  g_free (self->health_public_body);

  G_OBJECT_CLASS (cas_daemon_parent_class)->finalize (object);
}

static void
cas_daemon_class_init (CasDaemonClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_daemon_finalize;
}

static void
cas_daemon_init (CasDaemon *self)
{
}

static const char *
find_claude (CasDaemon *self)
{
  gint64 now = g_get_monotonic_time ();

  if (self->claude_checked_us != 0 && now - self->claude_checked_us < CLAUDE_LOOKUP_TTL_US)
    return self->claude_path;

  g_free (self->claude_path);
  /* The same lookup a run makes, so /health says what a run would find. */
  self->claude_path = cas_cli_resolve_program (self->config->claude_command);
  self->claude_checked_us = now;
  g_clear_pointer (&self->health_body, g_free);
  return self->claude_path;
}

static void
handle_health (CasHttpServer     *server,
               SoupServerMessage *msg,
               const char        *path,
               GHashTable        *query,
               gpointer           user_data)
{
  CasDaemon *self = user_data;
  guint active = cas_admission_get_active (self->admission);
  guint queued = cas_admission_get_queued (self->admission);
  guint capacity = cas_admission_get_capacity (self->admission);
  const char *claude = find_claude (self);
  CasCliPoolStats pool;

  /* Schedulers and load balancers poll this: format the body only when
   * a figure in it changed (find_claude () drops it on each lookup; the
   * capacity is fixed). */
  cas_cli_pool_get_stats (self->pool, &pool);
  if (self->health_body == NULL || active != self->health_active ||
      queued != self->health_queued || memcmp (&pool, &self->health_pool, sizeof pool) != 0)
    {
      GString *out = g_string_sized_new (256);
      g_autofree char *pool_json = NULL;
      gsize head_len;

      g_string_append_printf (out,
                              "{\"status\":\"ok\",\"service\":\"claude-agent-service\","
                              "\"version\":\"%s\",\"busy\":%s,\"active\":%u,\"queued\":%u,"
                              "\"capacity\":%u,\"claude\":{\"available\":%s",
                              PACKAGE_VERSION, active >= capacity ? "true" : "false",
                              active, queued, capacity, claude != NULL ? "true" : "false");
      head_len = out->len;
      pool_json = g_strdup_printf ("},\"pool\":{\"warm\":%u,\"busy\":%u,\"retired\":%u,"
                                   "\"fallbacks\":%u}}",
                                   pool.warm, pool.busy, pool.retired, pool.fallbacks);
      /* Where the CLI lives (and so the user's home) is for those with
       * the token: the rest is for any scheduler. */
      g_free (self->health_public_body);
      self->health_public_body = g_strdup_printf ("%.*s%s", (int) head_len, out->str, pool_json);
      g_string_append (out, ",\"path\":");
      if (claude != NULL)
        cas_json_append_string (out, claude);
      else
        g_string_append (out, "null");
      g_string_append (out, pool_json);
      g_free (self->health_body);
      self->health_body = g_string_free (out, FALSE);
      self->health_active = active;
      self->health_queued = queued;
      self->health_pool = pool;
    }
  cas_http_reply_json (msg, SOUP_STATUS_OK,
                       g_strdup (cas_http_server_is_authenticated (msg)
                                   ? self->health_body : self->health_public_body));
}

static void
load_agents (CasDaemon *self)
{
  g_autofree char *override_dir = g_build_filename (g_get_user_config_dir (),
                                                    "claude-agent-service", "agents", NULL);
  g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);

  self->agents = cas_agent_set_load_builtin (override_dir, problems);
  for (guint i = 0; i < problems->len; i++)
    g_message (_("Using the built-in agent instead of %s"),
               (const char *) g_ptr_array_index (problems, i));
}

/* The AFK loop. A [github], [t3], [ci] or [notify] value that is set but
 * unusable stops start-up, since the loop could be armed over D-Bus at
 * any time; only when the kill switch is locked on (config file or
 * environment) can the loop never run, and then the daemon starts
 * without it (logged). */
static gboolean
start_afk (CasDaemon          *self,
           const char * const *envp,
           GError            **error)
{
  g_autoptr (GError) local_error = NULL;
  int source = cas_config_get_source (self->config, "afk", "kill-switch");

  self->afk_settings = cas_afk_settings_new (self->config, self->state_dir, error);
  if (self->afk_settings == NULL)
    return FALSE;
  self->afk_loop = cas_afk_loop_new (self->config, self->afk_settings, self->agents,
                                     self->state_dir, envp, &local_error);
  if (self->afk_loop == NULL)
    {
      if (self->config->afk_kill_switch && source != CAS_CONFIG_SOURCE_DEFAULT &&
          source >= 0)
        {
          g_message (_("The AFK loop is off (its kill switch is locked on): %s"),
                     local_error->message);
          return TRUE;
        }
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  _("The AFK loop cannot start: "));
      return FALSE;
    }
  self->afk_routes = cas_afk_routes_new (self->afk_loop);
  cas_afk_routes_register (self->afk_routes, self->http);
  self->afk_control = cas_afk_control_new (self->afk_loop);
  return TRUE;
}

CasDaemon *
cas_daemon_new (CasConfig *config,
                GError   **error)
{
  g_autoptr (CasDaemon) self = g_object_new (CAS_TYPE_DAEMON, NULL);
  g_autofree char *token = NULL;
  g_autofree char *token_path = NULL;
  g_auto (GStrv) envp = g_get_environ ();

  self->config = cas_config_ref (config);
  self->state_dir = cas_config_ensure_state_dir (error);
  if (self->state_dir == NULL)
    return NULL;

  token = cas_config_resolve_api_token (config, self->state_dir,
                                        (const char * const *) envp, &token_path, error);
  if (token == NULL)
    return NULL;
  if (token_path != NULL)
    g_message (_("API token: read it from %s (send it as “Authorization: Bearer <token>”)"),
               token_path);

  load_agents (self);
  self->admission = cas_admission_new (config->claude_max_concurrency,
                                       config->claude_max_queue_depth);
  cas_admission_set_max_queued_bytes (self->admission, config->claude_max_queued_bytes);
  self->http = cas_http_server_new (config, token);
  cas_http_server_add_route (self->http, "GET", "/health", CAS_ROUTE_PUBLIC,
                             handle_health, self);
  cas_http_server_add_route (self->http, "HEAD", "/health", CAS_ROUTE_PUBLIC,
                             handle_health, self);
  /* The web UI's session cookies. */
  self->login = cas_login_new ();
  cas_http_server_set_login (self->http, self->login);
  self->login_routes = cas_login_routes_new (self->login, self->state_dir);
  cas_login_routes_register (self->login_routes, self->http);

  self->pool = cas_cli_pool_new (&(CasCliPoolLimits) {
    .size = config->claude_pool_size,
    .idle_seconds = config->claude_pool_idle_seconds,
    .max_processes = config->claude_max_processes,
    .kill_grace_seconds = config->claude_kill_grace_seconds,
    .max_line_bytes = config->claude_max_line_bytes,
  });
  self->completions = cas_completions_new (config, self->admission, self->agents, self->pool);
  self->chat = cas_chat_routes_new (config, self->completions);
  cas_chat_routes_register (self->chat, self->http);
  self->conversations = cas_conversations_new (config, self->admission, self->agents,
                                               self->state_dir, error);
  if (self->conversations == NULL)
    return NULL;
  self->conversation_routes = cas_conversation_routes_new (config, self->conversations);
  cas_conversation_routes_register (self->conversation_routes, self->http);
  self->jobs = cas_job_queue_new (config, self->admission, self->agents, self->state_dir, error);
  if (self->jobs == NULL)
    return NULL;
  self->job_routes = cas_job_routes_new (self->jobs);
  cas_job_routes_register (self->job_routes, self->http);
  self->power = cas_power_new (config, error);
  if (self->power == NULL)
    return NULL;
  self->power_routes = cas_power_routes_new (self->power);
  cas_power_routes_register (self->power_routes, self->http);
  if (!start_afk (self, (const char * const *) envp, error))
    return NULL;
  self->sessions = cas_session_manager_new (config, self->agents, self->state_dir, error);
  if (self->sessions == NULL)
    return NULL;
  self->session_routes = cas_session_routes_new (config, self->sessions);
  cas_session_routes_register (self->session_routes, self->http);
  self->sessions_control = cas_sessions_control_new (self->sessions);
  self->ui_routes = cas_ui_routes_new ();
  cas_ui_routes_register (self->ui_routes, self->http);
  explicit_bzero (token, strlen (token));

  return g_steal_pointer (&self);
}

gboolean
cas_daemon_start (CasDaemon *self,
                  GError   **error)
{
  const char *claude;

  if (!cas_http_server_listen (self->http, error))
    return FALSE;

  g_message (_("Listening on http://%s:%u"), self->config->http_address,
             cas_http_server_get_port (self->http));
  claude = find_claude (self);
  if (claude == NULL)
    g_message (_("The claude CLI (“%s”) is not on PATH: requests that need it will fail "
                 "until it is installed (npm install -g @anthropic-ai/claude-code)"),
               self->config->claude_command);
  else
    {
      cas_completions_prewarm (self->completions);
      cas_conversations_prewarm (self->conversations);
    }
  return TRUE;
}

void
cas_daemon_export (CasDaemon       *self,
                   GDBusConnection *connection)
{
  g_autoptr (GError) error = NULL;

  if (self->afk_control != NULL && !cas_afk_control_export (self->afk_control, connection, &error))
    {
      g_message (_("Cannot export the AFK control interface: %s"), error->message);
      g_clear_error (&error);
    }
  if (!cas_sessions_control_export (self->sessions_control, connection, OBJECT_PATH, &error))
    g_message (_("Cannot offer the Sessions interface on the session bus: %s"), error->message);
}

void
cas_daemon_stop (CasDaemon *self)
{
  gint64 deadline;

  /* Breakglass streams end cleanly, after every event is on disk and
   * sent: before the server drops the connections. */
  cas_session_manager_stop (self->sessions);
  deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  while (cas_session_routes_get_stream_count (self->session_routes) > 0 &&
         g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  cas_http_server_shutdown (self->http);
  if (self->afk_control != NULL)
    cas_afk_control_unexport (self->afk_control);
  if (self->afk_loop != NULL)
    cas_afk_loop_stop (self->afk_loop);
  /* No refill may start a process behind the stop below. */
  cas_cli_pool_shutdown (self->pool);
  cas_conversations_stop (self->conversations);
  cas_cli_process_stop_all ();

  /* Each run escalates to SIGKILL after its grace period; wait for the
   * reaping, but never hang shutdown on it. */
  deadline = g_get_monotonic_time () +
             (self->config->claude_kill_grace_seconds + 2) * G_USEC_PER_SEC;
  while (cas_cli_process_get_live_count () > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  /* Jobs still queued end with a reason; every record reaches the disk. */
  cas_job_queue_stop (self->jobs);
}
