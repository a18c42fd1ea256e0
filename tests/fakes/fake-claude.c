/* fake-claude.c: a scriptable stand-in for the Claude Code CLI 2.1.332.
 *
 * Built as an executable named `claude` for the daemon's tests.  Flags,
 * validation texts, output shapes and transcript files follow the real CLI
 * (/work/shared/reference/claude-cli.md, section 11 for 2.1.332); the
 * answer is a deterministic echo.  FAKE_CLAUDE_* variables select failure
 * modes: see README.md.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "fake-json.h"

#define CLI_VERSION "2.1.332"
#define NOT_LOGGED_IN_TEXT "Not logged in · Please run /login"
#define FAKE_FAILURE_TEXT "API Error: fake failure"
#define INTERRUPT_DIAGNOSTIC \
  "[ede_diagnostic] result_type=user last_content_type=n/a stop_reason=null"
#define INTERRUPT_MARKER \
  "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"[Request interrupted by user]\"}]}"

/* Values printed by the real 2.1.332 (checked with check-against-real-cli.py).
 * The design entries (DesignSync, design, design-sync, design-consent,
 * design-revoke) are left out under CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC. */
static const char *const builtin_agents[] = {
  "claude", "Explore", "general-purpose", "Plan", "statusline-setup", NULL
};
static const char *const default_tools[] = {
  "Task", "Bash", "CronCreate", "CronDelete", "CronList", "DesignSync", "Edit", "EnterWorktree",
  "ExitWorktree", "ListAgents", "Monitor", "NotebookEdit", "Read", "ReportFindings",
  "ScheduleWakeup", "SendMessage", "Skill", "TaskStop", "ToolSearch", "WebFetch", "WebSearch",
  "Workflow", "Write", NULL
};
static const char *const skills[] = {
  "deep-research", "design", "design-sync", "dataviz", "update-config", "verify", "debug",
  "code-review", "simplify", "batch", "fewer-permission-prompts", "doctor", "loop", "claude-api",
  "workflow-authoring", "run", "run-skill-generator", "plugin-authoring", NULL
};
static const char *const other_commands[] = {
  "agents", "auto-mode-setup", "autocompact", "clear", "color", "compact", "config",
  "output-style", "context", "effort", "fast", "focus", "heapdump", "init", "mcp", "model",
  "__remote-workflow", "workflow-launch-exec", "reload-plugins", "reload-skills", "rename",
  "security-review", "usage", "insights", "recap", "goal", "design-consent", "design-revoke",
  "list-agents", "team-onboarding", NULL
};
#define TERMINAL_COMMANDS "[\"doctor\",\"color\",\"focus\",\"reload-plugins\"]"
/* lifecycle_wakeup_source_v1 (between the two halves) only with stream-json output */
#define CAPABILITIES_HEAD \
  "[\"interrupt_receipt_v1\",\"interrupt_cancel_queued_v1\",\"interrupt_send_now_v1\"," \
  "\"interrupt_requeue_taken_v1\",\"msg_lifecycle_v1\",\"request_marker_lists_v1\"," \
  "\"ask_user_question_unanswered_v1\","
#define CAPABILITIES_TAIL \
  "\"sdk_mcp_tools_list_changed\",\"sdk_mcp_manifests\",\"mcp_read_resource_v1\"," \
  "\"mcp_tool_ui_meta_v1\",\"ui_surface_v1\",\"mcp_call_result_not_for_model_v1\"," \
  "\"mcp_call_soft_error_result_v1\",\"mcp_call_check_permissions_v1\"," \
  "\"voice_call_talk_line_v1\",\"withdrawn_files_note_v2\",\"withdrawn_tools_v1\"," \
  "\"ui_pane_widget_v1\",\"reload_plugins_refuse_if_busy_v1\",\"get_usage_detached_v1\"," \
  "\"silent_resend_files_v1\"]"
#define PLUGIN(name) \
  "{\"name\":\"" name "\",\"path\":\"builtin\",\"source\":\"" name "@builtin\"}"
/* --model aliases (any case) as init showed them.  A `[1m]` suffix is
 * dropped from every model the CLI knows; anything else is kept as given. */
static const char *const model_aliases[][2] = {
  { "default", "claude-opus-5-5" }, { "opus", "claude-opus-5-5" },
  { "best", "claude-opus-5-5" }, { "sonnet", "claude-sonnet-5-5" },
  { "opusplan", "claude-sonnet-5-5" }, { "haiku", "claude-haiku-5-5" },
  { "fable", "claude-fable-5-2" },
};
#define RESULT_USAGE_FMT \
  "{\"input_tokens\":%d,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0," \
  "\"output_tokens\":%d,\"output_tokens_details\":{\"thinking_tokens\":0}," \
  "\"server_tool_use\":{\"web_search_requests\":0,\"web_fetch_requests\":0}," \
  "\"service_tier\":\"standard\",\"cache_creation\":" \
  "{\"ephemeral_1h_input_tokens\":0,\"ephemeral_5m_input_tokens\":0}," \
  "\"inference_geo\":\"\",\"iterations\":[],\"speed\":\"standard\",\"fallback_credit\":null}"
#define SUBAGENT_STATS \
  "{\"spawned\":0,\"requested\":{\"background\":0,\"foreground\":0,\"unset\":0}," \
  "\"started_in_background\":0,\"max_depth\":0,\"spawned_by_subagents\":0,\"completed\":0," \
  "\"failed\":0,\"killed\":{\"parent\":0,\"user\":0,\"system\":0},\"refused\":" \
  "{\"depth_limit\":0,\"concurrency_limit\":0,\"budget\":0},\"by_type\":{}}"

typedef enum { FMT_TEXT, FMT_JSON, FMT_STREAM_JSON } Format;
typedef enum { ARG_NONE, ARG_REQUIRED, ARG_OPTIONAL, ARG_VARIADIC } ArgKind;
typedef enum
{
  OPT_IGNORED, OPT_OUTPUT_FORMAT, OPT_INPUT_FORMAT, OPT_VERBOSE, OPT_PARTIAL,
  OPT_MODEL, OPT_AGENT, OPT_AGENTS, OPT_SESSION_ID, OPT_RESUME, OPT_CONTINUE,
  OPT_FORK, OPT_SETTING_SOURCES, OPT_SKIP_PERMS, OPT_PERMISSION_MODE,
  OPT_MAX_BUDGET, OPT_MAX_TURNS, OPT_NO_PERSIST, OPT_REPLAY, OPT_VERSION
} OptId;

typedef struct
{
  const char *names[2];
  ArgKind kind;
  const char *flags;   /* commander's flags string, quoted in its errors */
  OptId id;
} OptSpec;

/* The flags the fake acts on ... */
static const OptSpec options[] = {
  { { "--output-format" }, ARG_REQUIRED, "--output-format <format>", OPT_OUTPUT_FORMAT },
  { { "--input-format" }, ARG_REQUIRED, "--input-format <format>", OPT_INPUT_FORMAT },
  { { "--verbose" }, ARG_NONE, "--verbose", OPT_VERBOSE },
  { { "--include-partial-messages" }, ARG_NONE, "--include-partial-messages", OPT_PARTIAL },
  { { "--model" }, ARG_REQUIRED, "--model <model>", OPT_MODEL },
  { { "--agent" }, ARG_REQUIRED, "--agent <agent>", OPT_AGENT },
  { { "--agents" }, ARG_REQUIRED, "--agents <json>", OPT_AGENTS },
  { { "--session-id" }, ARG_REQUIRED, "--session-id <uuid>", OPT_SESSION_ID },
  { { "-r", "--resume" }, ARG_OPTIONAL, "-r, --resume [value]", OPT_RESUME },
  { { "-c", "--continue" }, ARG_NONE, "-c, --continue", OPT_CONTINUE },
  { { "--fork-session" }, ARG_NONE, "--fork-session", OPT_FORK },
  { { "--setting-sources" }, ARG_REQUIRED, "--setting-sources <sources>", OPT_SETTING_SOURCES },
  { { "--dangerously-skip-permissions" }, ARG_NONE, "", OPT_SKIP_PERMS },
  { { "--permission-mode" }, ARG_REQUIRED, "--permission-mode <mode>", OPT_PERMISSION_MODE },
  { { "--max-turns" }, ARG_REQUIRED, "--max-turns <turns>", OPT_MAX_TURNS },
  { { "--max-budget-usd" }, ARG_REQUIRED, "--max-budget-usd <amount>", OPT_MAX_BUDGET },
  { { "--no-session-persistence" }, ARG_NONE, "", OPT_NO_PERSIST },
  { { "--replay-user-messages" }, ARG_NONE, "", OPT_REPLAY },
  { { "-v", "--version" }, ARG_NONE, "", OPT_VERSION },
};

/* ... and the other flags of claude-cli.md 1.1/1.2, accepted and ignored so
 * none is an "unknown option", grouped by the value they take. */
static const char *const ignored_options[] = {
  [ARG_NONE] = " -p --print --exclude-dynamic-system-prompt-sections --strict-mcp-config"
               " --allow-dangerously-skip-permissions --bare --safe-mode --include-hook-events"
               " --disable-slash-commands -d2e --debug-to-stderr ",
  [ARG_REQUIRED] = " --append-system-prompt --system-prompt --system-prompt-file"
                   " --append-system-prompt-file --settings --fallback-model --effort"
                   " --json-schema -n --name --plugin-dir --debug-file --permission-prompt-tool"
                   " --resume-session-at --thinking --max-thinking-tokens --task-budget ",
  [ARG_OPTIONAL] = " -d --debug --prompt-suggestions ",
  [ARG_VARIADIC] = " --allowedTools --allowed-tools --disallowedTools --disallowed-tools --tools"
                   " --mcp-config --add-dir --betas --file ",
};

typedef struct
{
  char *model;   /* NULL: no model of its own */
  GStrv tools;   /* NULL: every tool */
} AgentDef;

typedef struct
{
  /* options */
  gboolean verbose, partial, replay, no_persist, fork_session, cont;
  gboolean skip_perms, resume_given;
  Format output_format, input_format;
  const char *model_arg, *agent, *agents_json, *session_arg, *resume;
  const char *setting_sources, *permission_arg, *max_budget;
  gint64 max_turns;
  GPtrArray *positional;
  /* session */
  int argc;
  char **argv;
  char *cwd, *config_dir, *project_dir, *transcript, *last_record_uuid;
  char *session_id, *model, *permission_mode;
  gboolean model_known, model_explained;
  char *resumed_agent;        /* the agent-setting of a resumed transcript */
  gboolean agent_recorded;
  GHashTable *agents;         /* name -> AgentDef */
  GPtrArray *agent_names;     /* sorted as the CLI lists them */
  const AgentDef *agent_def;  /* the --agent one, or NULL */
  GPtrArray *json_messages;   /* for --output-format json --verbose */
  double total_cost;          /* per process and over --resume, like */
  gint64 total_input_tokens;  /* the CLI's modelUsage */
  gint64 total_output_tokens;
  int result_index;
  int pending_exit;           /* from FAKE_CLAUDE_EXIT_CODE, -1 if none */
  gboolean logged;
  pid_t grandchild;
  char *stdin_text;
  gsize stdin_bytes;
  /* stream-json input */
  GString *inbuf;
  GQueue pending;
  gboolean stdin_eof, control_interrupt;
} Fake;

static Fake F;
static GHashTable *scenario;
static volatile sig_atomic_t got_sigint;

/* ---- JSON text ---------------------------------------------------------- */

/* UTF-8 stays raw as in the CLI's output, and key order is simply the
 * template's. */
static void
append_jstr (GString *out, const char *s)
{
  g_autofree char *valid = s ? g_utf8_make_valid (s, -1) : NULL;

  if (s == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  g_string_append_c (out, '"');
  for (const guchar *p = (const guchar *) valid; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_printf (out, "\\%c", *p);
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else if (*p == '\r')
        g_string_append (out, "\\r");
      else if (*p == '\t')
        g_string_append (out, "\\t");
      else if (*p < 0x20)
        g_string_append_printf (out, "\\u%04x", *p);
      else
        g_string_append_c (out, (char) *p);
    }
  g_string_append_c (out, '"');
}

static void
append_timestamp (GString *out)
{
  gint64 us = g_get_real_time ();
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
  g_autofree char *base = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%S");

  g_string_append_printf (out, "\"%s.%03dZ\"", base, (int) (us % G_USEC_PER_SEC / 1000));
}

/* printf for JSON lines: %s raw text, %d int, %J a C string as JSON
 * (NULL gives null), and without arguments %U a fresh uuid, %T the current
 * timestamp, %S the session id. */
static char *
jvprintf (const char *fmt, va_list ap)
{
  GString *out = g_string_new (NULL);

  for (const char *p = fmt; *p; p++)
    {
      g_autofree char *uuid = NULL;

      if (*p != '%')
        {
          g_string_append_c (out, *p);
          continue;
        }
      switch (*++p)
        {
        case 's': g_string_append (out, va_arg (ap, const char *)); break;
        case 'd': g_string_append_printf (out, "%d", va_arg (ap, int)); break;
        case 'J': append_jstr (out, va_arg (ap, const char *)); break;
        case 'U': append_jstr (out, uuid = g_uuid_string_random ()); break;
        case 'T': append_timestamp (out); break;
        case 'S': append_jstr (out, F.session_id); break;
        default: g_string_append_c (out, *p); break;
        }
    }
  return g_string_free (out, FALSE);
}

static char *
jprintf (const char *fmt, ...)
{
  va_list ap;
  char *s;

  va_start (ap, fmt);
  s = jvprintf (fmt, ap);
  va_end (ap);
  return s;
}

static char *
jstr_array (GPtrArray *items)
{
  GString *out = g_string_new ("[");

  for (guint i = 0; i < items->len; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      append_jstr (out, items->pdata[i]);
    }
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}

static char *
random_id (const char *prefix, guint len)
{
  static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  GString *s = g_string_new (prefix);

  for (guint i = 0; i < len; i++)
    g_string_append_c (s, alphabet[g_random_int_range (0, 62)]);
  return g_string_free (s, FALSE);
}

/* A cost as JavaScript prints it: the shortest digits that read back the
 * same, in plain decimals (0, 0.000425; never 4.25e-04 or 0.000000).  The
 * value is first rounded to 1e-9 $ so float noise does not show. */
static char *
format_cost (double cost)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  GString *out;
  char *mantissa, *e;
  int exponent;

  cost = (double) (gint64) (cost * 1e9 + 0.5) / 1e9;
  if (!(cost > 0))
    return g_strdup ("0");
  for (int digits = 1; digits <= 17; digits++)
    {
      g_autofree char *fmt = g_strdup_printf ("%%.%de", digits - 1);

      g_ascii_formatd (buf, sizeof buf, fmt, cost);
      if (g_ascii_strtod (buf, NULL) == cost)
        break;
    }
  /* buf is d[.ddd]e±XX: lay the digits out around the decimal point */
  e = strchr (buf, 'e');
  exponent = atoi (e + 1);
  *e = '\0';
  mantissa = buf;
  if (mantissa[1] == '.')
    memmove (mantissa + 1, mantissa + 2, strlen (mantissa + 2) + 1);
  out = g_string_new (NULL);
  if (exponent < 0)
    {
      g_string_append (out, "0.");
      for (int i = -1; i > exponent; i--)
        g_string_append_c (out, '0');
      g_string_append (out, mantissa);
    }
  else
    {
      int n = (int) strlen (mantissa);

      for (int i = 0; i <= exponent; i++)
        g_string_append_c (out, i < n ? mantissa[i] : '0');
      if (n > exponent + 1)
        g_string_append_printf (out, ".%s", mantissa + exponent + 1);
    }
  return g_string_free (out, FALSE);
}

/* ---- configuration: the environment plus FAKE_CLAUDE_SCENARIO ------------ */

static void
load_scenario (void)
{
  const char *path = g_getenv ("FAKE_CLAUDE_SCENARIO");
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  g_clear_pointer (&scenario, g_hash_table_unref);
  if (path == NULL || !g_file_get_contents (path, &contents, NULL, NULL))
    return;
  scenario = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  lines = g_strsplit (contents, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      char *eq = strchr (g_strchomp (*l), '=');

      if (eq == NULL || **l == '#')
        continue;
      *eq = '\0';
      g_hash_table_replace (scenario, g_strdup (g_strstrip (*l)), g_strdup (eq + 1));
    }
}

/* File values win over the environment.  The pointer is valid until the
 * scenario is reloaded at the next turn. */
static const char *
cfg (const char *key)
{
  const char *v = scenario ? g_hash_table_lookup (scenario, key) : NULL;

  return v ? v : g_getenv (key);
}

static gint64
cfg_int (const char *key, gint64 fallback)
{
  const char *v = cfg (key);

  return (v && *v) ? g_ascii_strtoll (v, NULL, 10) : fallback;
}

static gboolean
cfg_flag (const char *key)
{
  const char *v = cfg (key);

  return v && *v && strcmp (v, "0") != 0;
}

/* ---- output ---------------------------------------------------------------- */

static void
write_all (int fd, const char *buf, gsize len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, buf, len);

      if (n > 0)
        {
          buf += n;
          len -= (gsize) n;
        }
      else if (errno == EAGAIN)
        poll (&(struct pollfd) { fd, POLLOUT, 0 }, 1, -1);
      else if (errno != EINTR)
        return;
    }
}

/* One write per line, so a pipe reader never sees half a line from us. */
static void
emit_line (const char *json)
{
  g_autofree char *line = g_strconcat (json, "\n", NULL);

  write_all (STDOUT_FILENO, line, strlen (line));
}

/* A non-result message: streamed, kept for json --verbose, or dropped. */
static void
emit (const char *json)
{
  if (F.output_format == FMT_STREAM_JSON)
    emit_line (json);
  else if (F.output_format == FMT_JSON && F.verbose)
    g_ptr_array_add (F.json_messages, g_strdup (json));
}

static void
emitf (const char *fmt, ...)
{
  va_list ap;
  g_autofree char *json = NULL;

  va_start (ap, fmt);
  json = jvprintf (fmt, ap);
  va_end (ap);
  emit (json);
}

static void
emit_result (const char *json, const char *text, gboolean newline)
{
  if (F.output_format == FMT_JSON && F.verbose)
    {
      g_autofree char *all = NULL;
      g_autofree char *array = NULL;

      g_ptr_array_add (F.json_messages, g_strdup (json));
      g_ptr_array_add (F.json_messages, NULL);
      all = g_strjoinv (",", (char **) F.json_messages->pdata);
      g_ptr_array_set_size (F.json_messages, 0);
      array = g_strdup_printf ("[%s]", all);
      emit_line (array);
    }
  else if (F.output_format != FMT_TEXT)
    emit_line (json);
  else if (text != NULL)
    {
      g_autofree char *out = g_strconcat (text, newline ? "\n" : "", NULL);
      write_all (STDOUT_FILENO, out, strlen (out));
    }
}

/* ---- FAKE_CLAUDE_LOG --------------------------------------------------------- */

/* line ends in a newline */
static void
log_append (const char *line)
{
  const char *path = cfg ("FAKE_CLAUDE_LOG");
  int fd;

  if (path == NULL || *path == '\0')
    return;
  /* O_APPEND and a single write keep lines of concurrent fakes whole. */
  fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return;
  if (write (fd, line, strlen (line)) < 0)
    g_debug ("cannot write the log");
  close (fd);
}

static void
log_startup (void)
{
  static const char *const env_keys[] = {
    "CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT", "IS_SANDBOX", "HOME", "CLAUDE_CONFIG_DIR", NULL
  };
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(GString) env = g_string_new (NULL);
  g_autoptr(GString) environ_json = g_string_new (NULL);
  g_auto(GStrv) names = g_listenv ();
  g_autofree char *argv_json = NULL;
  g_autofree char *grandchild = NULL;
  g_autofree char *line = NULL;

  if (F.logged)
    return;
  F.logged = TRUE;
  for (int i = 0; i < F.argc; i++)
    g_ptr_array_add (args, F.argv[i]);
  argv_json = jstr_array (args);
  for (const char *const *k = env_keys; *k; k++)
    if (g_getenv (*k) != NULL)
      {
        g_string_append_printf (env, "%s\"%s\":", env->len ? "," : "", *k);
        append_jstr (env, g_getenv (*k));
      }
  for (char **name = names; *name; name++)
    {
      const char *value = g_getenv (*name);

      if (value == NULL)
        continue;
      if (environ_json->len > 0)
        g_string_append_c (environ_json, ',');
      append_jstr (environ_json, *name);
      g_string_append_c (environ_json, ':');
      append_jstr (environ_json, value);
    }
  grandchild = F.grandchild > 0 ? g_strdup_printf (",\"grandchild_pid\":%d", (int) F.grandchild)
                                : g_strdup ("");
  line = jprintf ("{\"pid\":%d,\"pgid\":%d,\"ppid\":%d,\"cwd\":%J,\"argv\":%s,\"stdin\":%J,"
                  "\"stdin_bytes\":%d,\"env\":{%s},\"environ\":{%s},\"session_id\":%J%s}\n",
                  (int) getpid (), (int) getpgrp (), (int) getppid (), F.cwd, argv_json,
                  F.stdin_text, (int) F.stdin_bytes, env->str, environ_json->str,
                  F.session_id, grandchild);
  log_append (line);
}

static void
log_turn_input (const char *text)
{
  g_autofree char *line = jprintf ("{\"pid\":%d,\"turn_input\":%J}\n", (int) getpid (), text);

  log_append (line);
}

/* Start-up failures: stderr only, nothing on stdout, exit 1. */
static void G_GNUC_NORETURN G_GNUC_PRINTF (1, 2)
die (const char *format, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;
  g_autofree char *line = NULL;

  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  log_startup ();
  line = g_strconcat (msg, "\n", NULL);
  write_all (STDERR_FILENO, line, strlen (line));
  exit (1);
}

/* ---- arguments, parsed the way commander does ----------------------------- */

static const OptSpec *
find_option (const char *name)
{
  static OptSpec ignored;
  g_autofree char *needle = g_strdup_printf (" %s ", name);

  for (gsize i = 0; i < G_N_ELEMENTS (options); i++)
    if (g_strcmp0 (options[i].names[0], name) == 0 || g_strcmp0 (options[i].names[1], name) == 0)
      return &options[i];
  for (ArgKind kind = ARG_NONE; kind <= ARG_VARIADIC; kind++)
    if (strstr (ignored_options[kind], needle) != NULL)
      {
        ignored = (OptSpec) { { name }, kind, g_strdup_printf ("%s <value>", name), OPT_IGNORED };
        return &ignored;
      }
  return NULL;
}

static gboolean
is_option_like (const char *arg)
{
  return arg[0] == '-' && arg[1] != '\0';
}

static int
parse_choice (const OptSpec *spec, const char *value, const char *const *choices)
{
  for (int i = 0; choices[i]; i++)
    if (strcmp (choices[i], value) == 0)
      return i;
  die ("error: option '%s' argument '%s' is invalid. Allowed choices are %s.",
       spec->flags, value, g_strjoinv (", ", (char **) choices));
}

static void
apply_option (const OptSpec *spec, const char *value)
{
  static const char *const outputs[] = { "text", "json", "stream-json", NULL };
  static const char *const inputs[] = { "text", "stream-json", NULL };
  /* "default" is accepted but no longer listed; "manual" shows as "default" */
  static const char *const modes[] = {
    "acceptEdits", "auto", "bypassPermissions", "manual", "dontAsk", "plan", NULL
  };
  static const char version[] = CLI_VERSION " (Claude Code)\n";
  char *end;
  int mode;

  switch (spec->id)
    {
    case OPT_OUTPUT_FORMAT: F.output_format = parse_choice (spec, value, outputs); break;
    case OPT_INPUT_FORMAT:
      F.input_format = parse_choice (spec, value, inputs) ? FMT_STREAM_JSON : FMT_TEXT;
      break;
    case OPT_PERMISSION_MODE:
      mode = strcmp (value, "default") == 0 ? 3 : parse_choice (spec, value, modes);
      F.permission_arg = mode == 3 ? "default" : modes[mode];
      break;
    case OPT_VERBOSE: F.verbose = TRUE; break;
    case OPT_PARTIAL: F.partial = TRUE; break;
    case OPT_MODEL: F.model_arg = value; break;
    case OPT_AGENT: F.agent = value; break;
    case OPT_AGENTS: F.agents_json = value; break;
    case OPT_SESSION_ID: F.session_arg = value; break;
    case OPT_RESUME: F.resume_given = TRUE; F.resume = value; break;
    case OPT_CONTINUE: F.cont = TRUE; break;
    case OPT_FORK: F.fork_session = TRUE; break;
    case OPT_SETTING_SOURCES: F.setting_sources = value; break;
    case OPT_SKIP_PERMS: F.skip_perms = TRUE; break;
    case OPT_MAX_BUDGET:
      /* checked as it is parsed, like a choice */
      if (!(g_ascii_strtod (value, &end) > 0) || *end != '\0' || end == value)
        die ("error: option '%s' argument '%s' is invalid. --max-budget-usd must be a number "
             "greater than 0", spec->flags, value);
      F.max_budget = value;
      break;
    case OPT_NO_PERSIST: F.no_persist = TRUE; break;
    case OPT_REPLAY: F.replay = TRUE; break;
    case OPT_MAX_TURNS:
      /* parsed with Number(); garbage is silently dropped */
      F.max_turns = g_ascii_strtoll (value, &end, 10);
      if (end == value || *end != '\0')
        F.max_turns = 0;
      break;
    case OPT_VERSION:
      log_startup ();
      write_all (STDOUT_FILENO, version, strlen (version));
      exit (0);
    case OPT_IGNORED:
      break;
    }
}

/* Values point into argv, which lives as long as the process. */
static void
parse_args (int argc, char **argv)
{
  const OptSpec *variadic = NULL;

  for (int i = 1; i < argc; i++)
    {
      const char *arg = argv[i];
      const char *eq = g_str_has_prefix (arg, "--") ? strchr (arg, '=') : NULL;
      g_autofree char *name = eq ? g_strndup (arg, eq - arg) : NULL;
      const OptSpec *spec;
      const char *value = NULL;

      if (strcmp (arg, "--") == 0)
        {
          while (++i < argc)
            g_ptr_array_add (F.positional, argv[i]);
          break;
        }
      /* Variadic options eat every following word (claude-cli.md 1.3.1). */
      if (variadic && !is_option_like (arg))
        {
          apply_option (variadic, arg);
          continue;
        }
      variadic = NULL;
      if (!is_option_like (arg))
        {
          g_ptr_array_add (F.positional, argv[i]);
          continue;
        }
      spec = find_option (name ? name : arg);
      if (spec == NULL || (eq && spec->kind == ARG_NONE))
        die ("error: unknown option '%s'", arg);
      if (eq)
        value = eq + 1;
      else if (spec->kind == ARG_OPTIONAL)
        value = (i + 1 < argc && !is_option_like (argv[i + 1])) ? argv[++i] : NULL;
      else if (spec->kind != ARG_NONE)
        {
          /* a <value> is the next word even if it starts with a dash */
          if (++i >= argc)
            die ("error: option '%s' argument missing", spec->flags);
          value = argv[i];
        }
      apply_option (spec, value);
      /* only the spaced form keeps eating words */
      if (spec->kind == ARG_VARIADIC && !eq)
        variadic = spec;
    }
}

/* ---- validation ---------------------------------------------------------------- */

static gboolean
is_uuid (const char *s)
{
  static const int groups[] = { 8, 4, 4, 4, 12 };

  for (int g = 0; g < 5; g++)
    {
      for (int k = 0; k < groups[g]; k++)
        if (!g_ascii_isxdigit (*s++))
          return FALSE;
      if (g < 4 && *s++ != '-')
        return FALSE;
    }
  return *s == '\0';
}

/* Checks --setting-sources; with want != NULL tells whether it is enabled. */
static gboolean
setting_source (const char *want)
{
  g_auto(GStrv) parts = NULL;

  if (F.setting_sources == NULL)
    return TRUE;
  parts = g_strsplit (F.setting_sources, ",", -1);
  for (char **p = parts; *p; p++)
    {
      const char *s = g_strstrip (*p);

      if (*s && strcmp (s, "user") && strcmp (s, "project") && strcmp (s, "local"))
        die ("Error processing --setting-sources: Invalid setting source: %s. "
             "Valid options are: user, project, local", s);
      if (want && strcmp (s, want) == 0)
        return TRUE;
    }
  return want == NULL;
}

static void
validate_options (void)
{
  gboolean stream_out = F.output_format == FMT_STREAM_JSON;

  setting_source (NULL);
  if (stream_out && !F.verbose)
    die ("Error: When using --print, --output-format=stream-json requires --verbose");
  if (F.partial && !stream_out)
    die ("Error: --include-partial-messages requires --print and --output-format=stream-json.");
  if (F.replay && (!stream_out || F.input_format != FMT_STREAM_JSON))
    die ("Error: --replay-user-messages requires both --input-format=stream-json and "
         "--output-format=stream-json.");
  if (F.input_format == FMT_STREAM_JSON && !stream_out)
    die ("Error: --input-format=stream-json requires output-format=stream-json.");
  if ((F.skip_perms || g_strcmp0 (F.permission_arg, "bypassPermissions") == 0)
      && geteuid () == 0 && g_strcmp0 (g_getenv ("IS_SANDBOX"), "1") != 0
      && g_getenv ("CLAUDE_CODE_BUBBLEWRAP") == NULL)
    die ("--dangerously-skip-permissions cannot be used with root/sudo privileges "
         "for security reasons");
  if (F.session_arg && !is_uuid (F.session_arg))
    die ("Error: Invalid session ID. Must be a valid UUID.");
  if (F.session_arg && (F.resume_given || F.cont) && !F.fork_session)
    die ("Error: --session-id with --continue or --resume also needs --fork-session.");
}

/* ---- agents ------------------------------------------------------------------------ */

static void
agent_def_free (gpointer data)
{
  AgentDef *def = data;

  g_free (def->model);
  g_strfreev (def->tools);
  g_free (def);
}

/* A later definition of the same name wins (--agents over user files). */
static void
add_agent (const char *name, const char *model, GStrv tools /* taken */)
{
  AgentDef *def = g_new0 (AgentDef, 1);

  def->model = g_strdup (model);
  def->tools = tools;
  g_hash_table_replace (F.agents, g_strdup (name), def);
}

/* A frontmatter field, unquoted; NULL if absent or empty. */
static char *
frontmatter_value (const char *frontmatter, const char *key)
{
  g_autofree char *pattern = g_strdup_printf ("^%s:[ \\t]*([\"']?)(.+?)\\1[ \\t]*$", key);
  g_autoptr(GRegex) re = g_regex_new (pattern, G_REGEX_MULTILINE, 0, NULL);
  g_autoptr(GMatchInfo) match = NULL;

  return g_regex_match (re, frontmatter, 0, &match) ? g_match_info_fetch (match, 2) : NULL;
}

/* `tools: Read, Bash` limits the tools; `tools:` or `tools: ""` leaves none,
 * and no `tools` line at all leaves every tool. */
static GStrv
frontmatter_tools (const char *frontmatter)
{
  g_autoptr(GRegex) re = g_regex_new ("^tools:", G_REGEX_MULTILINE, 0, NULL);
  g_autofree char *value = frontmatter_value (frontmatter, "tools");
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) parts = NULL;

  if (!g_regex_match (re, frontmatter, 0, NULL))
    return NULL;
  if (value == NULL || strcmp (value, "\"\"") == 0 || strcmp (value, "''") == 0)
    return g_strv_builder_end (builder);
  parts = g_strsplit (value, ",", -1);
  for (char **p = parts; *p; p++)
    if (*g_strstrip (*p) != '\0')
      g_strv_builder_add (builder, *p);
  return g_strv_builder_end (builder);
}

/* An agent needs `name` and `description` in its frontmatter; the file
 * name does not matter (claude-cli.md 8). */
static void
load_agent_file (const char *path)
{
  g_autofree char *contents = NULL;
  g_autofree char *name = NULL;
  g_autofree char *description = NULL;
  g_autofree char *model = NULL;
  char *end;

  if (!g_file_get_contents (path, &contents, NULL, NULL) || !g_str_has_prefix (contents, "---\n")
      || (end = strstr (contents + 3, "\n---")) == NULL)
    return;
  *end = '\0';
  name = frontmatter_value (contents, "name");
  description = frontmatter_value (contents, "description");
  model = frontmatter_value (contents, "model");
  if (name && *name != '-' && description)
    add_agent (name, model, frontmatter_tools (contents));
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The CLI lists agents in a case-insensitive order (alpha, claude, Explore). */
static int
compare_agent_names (gconstpointer a, gconstpointer b)
{
  const char *x = *(char *const *) a, *y = *(char *const *) b;
  int c = g_ascii_strcasecmp (x, y);

  return c != 0 ? c : -strcmp (x, y);
}

static void
load_user_agents (void)
{
  g_autofree char *dir = g_build_filename (F.config_dir, "agents", NULL);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  const char *entry;

  while (d && (entry = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (entry, ".md"))
      g_ptr_array_add (files, g_build_filename (dir, entry, NULL));
  g_ptr_array_sort (files, compare_strings);
  for (guint i = 0; i < files->len; i++)
    load_agent_file (files->pdata[i]);
}

/* The JavaScript type name zod reports as "received". */
static const char *
js_type (const FjNode *node)
{
  static const char *const names[] = {
    [FJ_NULL] = "null", [FJ_BOOL] = "boolean", [FJ_NUMBER] = "number",
    [FJ_STRING] = "string", [FJ_ARRAY] = "array", [FJ_OBJECT] = "object",
  };

  return node ? names[node->type] : "undefined";
}

static void
add_issue (GPtrArray *issues, const char *path, const char *expected, const FjNode *got)
{
  g_ptr_array_add (issues, g_strdup_printf ("%s%sInvalid input: expected %s, received %s",
                                            path, *path ? ": " : "", expected, js_type (got)));
}

/* The CLI's schema for one --agents entry, in its order: description a
 * non-empty string, prompt a string, tools and disallowedTools arrays of
 * strings, model a string.  Problems go to issues as zod words them. */
static void
check_json_agent (const FjNode *def, GPtrArray *issues)
{
  static const char *const lists[] = { "tools", "disallowedTools", NULL };
  const FjNode *description = fj_member (def, "description");
  const FjNode *prompt = fj_member (def, "prompt");
  const FjNode *model = fj_member (def, "model");
  g_autofree char *path = NULL;

  if (def->type != FJ_OBJECT)
    {
      add_issue (issues, def->name, "object", def);
      return;
    }
  path = g_strconcat (def->name, ".description", NULL);
  if (fj_string (description) == NULL)
    add_issue (issues, path, "string", description);
  else if (*fj_string (description) == '\0')
    g_ptr_array_add (issues, g_strdup_printf ("%s: Description cannot be empty", path));
  g_free (path);
  path = g_strconcat (def->name, ".prompt", NULL);
  if (fj_string (prompt) == NULL)
    add_issue (issues, path, "string", prompt);
  for (const char *const *key = lists; *key; key++)
    {
      const FjNode *list = fj_member (def, *key);

      g_free (path);
      path = g_strconcat (def->name, ".", *key, NULL);
      if (list != NULL && list->type != FJ_ARRAY)
        add_issue (issues, path, "array", list);
      for (guint i = 0; list != NULL && list->type == FJ_ARRAY && i < list->items->len; i++)
        if (fj_string (list->items->pdata[i]) == NULL)
          {
            g_autofree char *item = g_strdup_printf ("%s.%u", path, i);

            add_issue (issues, item, "string", list->items->pdata[i]);
          }
    }
  g_free (path);
  path = g_strconcat (def->name, ".model", NULL);
  if (model != NULL && fj_string (model) == NULL)
    add_issue (issues, path, "string", model);
}

/* A bad --agents value stops the CLI before anything else:
 * "Error: Invalid --agents configuration:" and one line per problem.
 * An empty value is ignored. */
static void
load_json_agents (void)
{
  g_autoptr(FjNode) root = NULL;
  g_autoptr(GPtrArray) issues = g_ptr_array_new_with_free_func (g_free);

  if (F.agents_json == NULL || *F.agents_json == '\0')
    return;
  root = fj_parse (F.agents_json);
  /* JavaScriptCore's wording is not copied here (only checked: "Expected '}'") */
  if (root == NULL)
    g_ptr_array_add (issues, g_strdup ("invalid JSON: JSON Parse error: Unexpected token"));
  else if (root->type != FJ_OBJECT)
    add_issue (issues, "", "record", root);
  else
    for (guint i = 0; i < root->items->len; i++)
      check_json_agent (root->items->pdata[i], issues);
  if (issues->len > 0)
    {
      g_ptr_array_add (issues, NULL);
      die ("Error: Invalid --agents configuration:\n%s",
           g_strjoinv ("\n", (char **) issues->pdata));
    }
  for (guint i = 0; i < root->items->len; i++)
    {
      const FjNode *def = root->items->pdata[i];
      const FjNode *tools = fj_member (def, "tools");
      g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

      if (tools != NULL)
        for (guint j = 0; j < tools->items->len; j++)
          g_strv_builder_add (builder, fj_string (tools->items->pdata[j]));
      add_agent (def->name, fj_string_member (def, "model"), tools ? g_strv_builder_end (builder) : NULL);
    }
}

static void
collect_agents (void)
{
  GHashTableIter iter;
  gpointer name;

  F.agents = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, agent_def_free);
  for (const char *const *a = builtin_agents; *a; a++)
    add_agent (*a, NULL, NULL);
  if (setting_source ("user"))
    load_user_agents ();
  load_json_agents ();
  g_hash_table_iter_init (&iter, F.agents);
  while (g_hash_table_iter_next (&iter, &name, NULL))
    g_ptr_array_add (F.agent_names, g_strdup (name));
  g_ptr_array_sort (F.agent_names, compare_agent_names);
  /* --resume brings the session's agent back unless --agent names one */
  if (F.agent == NULL && F.resumed_agent != NULL)
    {
      if (g_hash_table_contains (F.agents, F.resumed_agent))
        F.agent = F.resumed_agent;
      else
        {
          g_autofree char *warning = g_strdup_printf (
            "This session was running agent '%s', which is no longer available (no agent by "
            "that name in %s). Continuing with the default tools and system prompt — the "
            "agent's tool restrictions no longer apply. To restore it, re-create the agent, or "
            "resume with an explicit --agent <name>.\n", F.resumed_agent, F.cwd);

          write_all (STDERR_FILENO, warning, strlen (warning));
        }
    }
  if (F.agent == NULL)
    return;
  F.agent_def = g_hash_table_lookup (F.agents, F.agent);
  if (F.agent_def == NULL)
    {
      g_ptr_array_add (F.agent_names, NULL);
      die ("--agent '%s' not found. Available agents: %s", F.agent,
           g_strjoinv (", ", (char **) F.agent_names->pdata));
    }
}

/* ---- sessions and transcripts -------------------------------------------------------- */

/* Every non-alphanumeric UTF-16 unit becomes '-'.  (Past 200 characters
 * the CLI also cuts and appends a hash; the fake does not.) */
static char *
sanitize_path (const char *path)
{
  g_autofree char *valid = g_utf8_make_valid (path, -1);
  g_autofree gunichar2 *units = g_utf8_to_utf16 (valid, -1, NULL, NULL, NULL);
  GString *s = g_string_new (NULL);

  for (const gunichar2 *u = units; u && *u; u++)
    g_string_append_c (s, (*u < 128 && g_ascii_isalnum (*u)) ? (char) *u : '-');
  return g_string_free (s, FALSE);
}

static char *
transcript_path (const char *id)
{
  g_autofree char *file = g_strconcat (id, ".jsonl", NULL);

  return g_build_filename (F.project_dir, file, NULL);
}

/* The uuid of the last record, so appended records chain to it.  Every
 * record the fake writes ends with its own "uuid" and "timestamp". */
static char *
last_record_uuid (const char *contents)
{
  const char *u = g_strrstr (contents, "\"uuid\":\"");

  return (u && strlen (u) >= 44) ? g_strndup (u + 8, 36) : NULL;
}

static void
append_to_transcript (const char *data)
{
  g_autofree char *dir = g_path_get_dirname (F.transcript);
  int fd;

  if (F.no_persist)
    return;
  g_mkdir_with_parents (dir, 0700);
  fd = open (F.transcript, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return;
  write_all (fd, data, strlen (data));
  close (fd);
}

static void G_GNUC_NORETURN die_no_conversation (const char *id);
static gboolean env_truthy (const char *name);
static char *model_usage_json (gint64 input_tokens, gint64 output_tokens, double cost);

/* 2.1.332 finds a session of the same config dir started in another cwd
 * (claude-cli.md 11); NULL if there is none. */
static char *
find_transcript (const char *id)
{
  g_autofree char *projects = g_build_filename (F.config_dir, "projects", NULL);
  g_autofree char *file = g_strconcat (id, ".jsonl", NULL);
  g_autoptr(GDir) d = NULL;
  char *path = transcript_path (id);
  const char *entry;

  if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return path;
  g_free (path);
  d = g_dir_open (projects, 0, NULL);
  while (d && (entry = g_dir_read_name (d)) != NULL)
    {
      path = g_build_filename (projects, entry, file, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return path;
      g_free (path);
    }
  return NULL;
}

/* What a resumed session brings along: its agent (an "agent-setting"
 * record) and its spend so far (the last "cost-state" record). */
static void
read_history (const char *history)
{
  g_auto(GStrv) lines = g_strsplit (history, "\n", -1);

  for (char **l = lines; *l; l++)
    {
      g_autoptr(FjNode) record = NULL;
      const FjNode *usage;
      const char *type;

      if (strstr (*l, "\"type\":\"agent-setting\"") == NULL
          && strstr (*l, "\"type\":\"cost-state\"") == NULL)
        continue;
      record = fj_parse (*l);
      type = record ? fj_string_member (record, "type") : NULL;
      if (g_strcmp0 (type, "agent-setting") == 0 && fj_string_member (record, "agentSetting"))
        {
          g_free (F.resumed_agent);
          F.resumed_agent = g_strdup (fj_string_member (record, "agentSetting"));
        }
      if (g_strcmp0 (type, "cost-state") != 0)
        continue;
      F.total_cost = fj_member (record, "totalCostUSD")
                     ? fj_member (record, "totalCostUSD")->number : 0;
      usage = fj_member (record, "modelUsage");
      F.total_input_tokens = F.total_output_tokens = 0;
      for (guint i = 0; usage && usage->type == FJ_OBJECT && i < usage->items->len; i++)
        {
          const FjNode *entry = usage->items->pdata[i];
          const FjNode *in = fj_member (entry, "inputTokens");
          const FjNode *out = fj_member (entry, "outputTokens");

          F.total_input_tokens += in ? (gint64) in->number : 0;
          F.total_output_tokens += out ? (gint64) out->number : 0;
        }
    }
}

static void
setup_session (void)
{
  const char *config = g_getenv ("CLAUDE_CONFIG_DIR");
  const char *home = g_getenv ("HOME");
  g_autofree char *sanitized = sanitize_path (F.cwd);
  g_autofree char *history = NULL;
  g_autofree char *old = NULL;
  const char *resume_id = F.resume_given ? (F.resume ? F.resume : "") : NULL;

  F.config_dir = (config && *config) ? g_strdup (config)
                 : g_build_filename (home ? home : g_get_home_dir (), ".claude", NULL);
  F.project_dir = g_build_filename (F.config_dir, "projects", sanitized, NULL);
  /* The auto-memory folder, made at every start, even with
   * --no-session-persistence, but only with the default system prompt:
   * not under --agent (whose prompt replaces it).  (--system-prompt does
   * the same in 2.1.332; the fake ignores that flag: see README.md.) */
  if (F.agent == NULL && !env_truthy ("CLAUDE_CODE_DISABLE_AUTO_MEMORY"))
    {
      g_autofree char *memory = g_build_filename (F.project_dir, "memory", NULL);

      g_mkdir_with_parents (memory, 0700);
    }

  if (resume_id)
    {
      if (!is_uuid (resume_id))
        die ("Error: --resume requires a valid session ID or session title when used with "
             "--print. Usage: claude -p --resume <session-id|title>. Provided value \"%s\" "
             "is not a UUID and does not match any session title.", resume_id);
      /* the cwd's project dir first, then those of other cwds */
      old = find_transcript (resume_id);
      if (old == NULL || !g_file_get_contents (old, &history, NULL, NULL))
        die_no_conversation (resume_id);
      F.last_record_uuid = last_record_uuid (history);
      read_history (history);
    }

  if (resume_id && !F.fork_session)
    F.session_id = g_strdup (resume_id);
  else
    F.session_id = F.session_arg ? g_strdup (F.session_arg) : g_uuid_string_random ();
  /* a resumed session goes on in its own file, wherever it is; "already in
   * use" only looks at the cwd's project dir */
  F.transcript = (resume_id && !F.fork_session) ? g_strdup (old) : transcript_path (F.session_id);
  if ((!resume_id || F.fork_session) && g_file_test (F.transcript, G_FILE_TEST_EXISTS))
    die ("Error: Session ID %s is already in use.", F.session_id);
  /* a fork starts from a copy of the history */
  if (resume_id && F.fork_session && !F.no_persist)
    append_to_transcript (history);
}

static void
transcript_record (const char *type, const char *message_json)
{
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *line = NULL;

  if (F.no_persist)
    return;
  /* the session's agent, so --resume can bring it back */
  if (F.agent_def && !F.agent_recorded)
    {
      g_autofree char *setting = jprintf ("{\"type\":\"agent-setting\",\"agentSetting\":%J,"
                                          "\"sessionId\":%S}\n", F.agent);

      append_to_transcript (setting);
      F.agent_recorded = TRUE;
    }
  line = jprintf ("{\"parentUuid\":%J,\"isSidechain\":false,\"userType\":\"external\","
                  "\"cwd\":%J,\"sessionId\":%S,\"version\":\"" CLI_VERSION "\","
                  "\"gitBranch\":\"\",\"entrypoint\":\"sdk-cli\",\"type\":\"%s\","
                  "\"message\":%s,\"uuid\":%J,\"timestamp\":%T}\n",
                  F.last_record_uuid, F.cwd, type, message_json, uuid);
  append_to_transcript (line);
  g_free (F.last_record_uuid);
  F.last_record_uuid = g_steal_pointer (&uuid);
}

/* The spend so far, as the CLI keeps it for --resume. */
static void
record_cost_state (void)
{
  g_autofree char *cost = format_cost (F.total_cost);
  g_autofree char *usage = model_usage_json (F.total_input_tokens, F.total_output_tokens,
                                             F.total_cost);
  g_autofree char *line = jprintf ("{\"type\":\"cost-state\",\"sessionId\":%S,"
                                   "\"totalCostUSD\":%s,\"modelUsage\":%s}\n", cost, usage);

  append_to_transcript (line);
}

/* ---- stdin -------------------------------------------------------------------------------- */

static void
exit_if_sigint (void)
{
  if (got_sigint)
    exit (0);
}

/* Text mode: like the CLI, give a silent pipe 3 s for its first byte, then
 * go on without it (claude-cli.md 1.3.2); otherwise read to EOF. */
static void
read_stdin_text (void)
{
  static const char warning[] =
    "Warning: no stdin data received in 3s, proceeding without it. If piping from a slow "
    "command, redirect stdin explicitly: < /dev/null to skip, or wait longer.\n";
  GString *buf = g_string_new (NULL);
  gboolean tty = isatty (STDIN_FILENO);
  char chunk[65536];
  ssize_t n = 0;
  int ready = 0;

  while (!tty && (ready = poll (&(struct pollfd) { STDIN_FILENO, POLLIN, 0 }, 1, 3000)) < 0
         && errno == EINTR)
    exit_if_sigint ();
  if (!tty && ready == 0)
    write_all (STDERR_FILENO, warning, strlen (warning));
  while (ready > 0 && ((n = read (STDIN_FILENO, chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR)))
    {
      exit_if_sigint ();
      if (n > 0)
        g_string_append_len (buf, chunk, n);
    }
  F.stdin_bytes = buf->len;
  F.stdin_text = g_string_free (buf, FALSE);
}

/* Stream-json mode: one read of whatever arrives within timeout_ms.
 * FALSE on timeout or signal. */
static gboolean
fill_input (int timeout_ms)
{
  char chunk[65536];
  ssize_t n;

  if (poll (&(struct pollfd) { STDIN_FILENO, POLLIN, 0 }, 1, timeout_ms) <= 0)
    return FALSE;
  n = read (STDIN_FILENO, chunk, sizeof chunk);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return FALSE;
  if (n > 0)
    g_string_append_len (F.inbuf, chunk, n);
  else
    F.stdin_eof = TRUE;
  return TRUE;
}

static char *
take_line (void)
{
  char *nl = memchr (F.inbuf->str, '\n', F.inbuf->len);
  gsize n = nl ? (gsize) (nl - F.inbuf->str) : F.inbuf->len;
  char *line;

  /* an unterminated last line still counts at EOF */
  if (nl == NULL && !(F.stdin_eof && n > 0))
    return NULL;
  line = g_strndup (F.inbuf->str, n);
  g_string_erase (F.inbuf, 0, nl ? n + 1 : n);
  return line;
}

/* The next line to act on, blocking; NULL at EOF. */
static char *
next_line (void)
{
  for (;;)
    {
      char *line = g_queue_pop_head (&F.pending);

      if (line == NULL)
        line = take_line ();
      if (line != NULL || F.stdin_eof)
        return line;
      if (!fill_input (-1))
        exit_if_sigint ();
    }
}

/* "" unless obj is an object with a string "type". */
static const char *
type_of (const FjNode *obj)
{
  const char *type = fj_string_member (obj, "type");

  return type ? type : "";
}

/* Answer a control_request; an interrupt also stops the running turn. */
static void
handle_control (const FjNode *obj)
{
  const FjNode *id = fj_member (obj, "request_id");
  g_autofree char *id_json = id ? fj_to_string (id) : g_strdup ("null");
  g_autofree char *line = NULL;

  gboolean interrupt =
    g_strcmp0 (fj_string_member (fj_member (obj, "request"), "subtype"), "interrupt") == 0;

  if (interrupt)
    F.control_interrupt = TRUE;   /* reset when a turn starts: idle interrupts are no-ops */
  /* 2.1.332 tells which queued messages an interrupt left queued */
  line = g_strdup_printf ("{\"type\":\"control_response\",\"response\":"
                          "{\"subtype\":\"success\",\"request_id\":%s%s}}", id_json,
                          interrupt ? ",\"response\":{\"still_queued\":[]}" : "");
  emit_line (line);
}

/* During a turn: serve control requests now, queue everything else. */
static void
drain_incoming (void)
{
  char *line;

  while ((line = take_line ()) != NULL)
    {
      g_autoptr(FjNode) obj = fj_parse (line);

      if (strcmp (type_of (obj), "control_request") == 0)
        {
          handle_control (obj);
          g_free (line);
        }
      else
        g_queue_push_tail (&F.pending, line);
    }
}

static gboolean
turn_interrupted (void)
{
  return got_sigint || F.control_interrupt;
}

/* Sleep inside a turn (ms < 0: forever) while still serving stdin.
 * FALSE as soon as the turn is interrupted. */
static gboolean
turn_wait (gint64 ms)
{
  gint64 deadline = ms < 0 ? -1 : g_get_monotonic_time () + ms * 1000;

  while (!turn_interrupted ())
    {
      int timeout = deadline < 0 ? -1
                    : (int) MAX (0, (deadline - g_get_monotonic_time () + 999) / 1000);

      if (F.input_format == FMT_STREAM_JSON && !F.stdin_eof)
        {
          if (fill_input (timeout))
            {
              drain_incoming ();
              continue;
            }
        }
      else if (timeout != 0)
        poll (NULL, 0, timeout);
      if (!turn_interrupted () && deadline >= 0 && g_get_monotonic_time () >= deadline)
        return TRUE;
    }
  return FALSE;
}

/* ---- one turn ---------------------------------------------------------------------------- */

typedef struct
{
  gint64 start_us, first_delta_us;
  char *msg_id, *request_id, *usage_start;
  int input_tokens, output_tokens;
  double cost;
  gboolean message_started;   /* message_start went out (partial mode) */
  GString *so_far;
} Turn;

static void
turn_clear (Turn *t)
{
  g_free (t->msg_id);
  g_free (t->request_id);
  g_free (t->usage_start);
  g_string_free (t->so_far, TRUE);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Turn, turn_clear)

static int
elapsed_ms (gint64 since_us)
{
  return (int) ((g_get_monotonic_time () - since_us) / 1000);
}

/* Like the CLI's isEnvTruthy. */
static gboolean
env_truthy (const char *name)
{
  const char *v = g_getenv (name);

  return v && (g_ascii_strcasecmp (v, "1") == 0 || g_ascii_strcasecmp (v, "true") == 0
               || g_ascii_strcasecmp (v, "yes") == 0 || g_ascii_strcasecmp (v, "on") == 0);
}

/* The design tool, skills and commands need nonessential traffic. */
static gboolean
listed (const char *name)
{
  return !(env_truthy ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC")
           && (strcmp (name, "DesignSync") == 0 || g_str_has_prefix (name, "design")));
}

static void
add_listed (GPtrArray *out, const char *const *names)
{
  for (; *names; names++)
    if (listed (*names))
      g_ptr_array_add (out, (gpointer) *names);
}

/* The agent's `tools` pick from the default list, in the agent's order;
 * unknown names (Grep, Glob, TaskCreate in 2.1.332) are dropped, and "*"
 * is all. */
static char *
init_tools (void)
{
  g_autoptr(GPtrArray) all = g_ptr_array_new ();
  g_autoptr(GPtrArray) picked = g_ptr_array_new_with_free_func (g_free);
  GStrv wanted = F.agent_def ? F.agent_def->tools : NULL;

  add_listed (all, default_tools);
  if (wanted == NULL || g_strv_contains ((const char *const *) wanted, "*"))
    return jstr_array (all);
  for (char **w = wanted; *w; w++)
    {
      g_autofree char *bare = g_strndup (*w, strcspn (*w, "("));

      if (g_ptr_array_find_with_equal_func (all, g_strstrip (bare), g_str_equal, NULL)
          && !g_ptr_array_find_with_equal_func (picked, bare, g_str_equal, NULL))
        g_ptr_array_add (picked, g_steal_pointer (&bare));
    }
  return jstr_array (picked);
}

/* FALSE when ANTHROPIC_BASE_URL points anywhere but Anthropic's API. */
static gboolean
served_by_anthropic (void)
{
  const char *base = g_getenv ("ANTHROPIC_BASE_URL");

  return base == NULL || *base == '\0' || strstr (base, "://api.anthropic.com") != NULL;
}

static void
emit_init (gboolean logged_in)
{
  g_autoptr(GPtrArray) skill_list = g_ptr_array_new ();
  g_autoptr(GPtrArray) command_list = g_ptr_array_new ();
  g_autofree char *tools = init_tools ();
  g_autofree char *skills_json = NULL;
  g_autofree char *commands_json = NULL;
  g_autofree char *agents = jstr_array (F.agent_names);
  g_autofree char *memory_dir = g_strconcat (F.project_dir, "/memory/", NULL);
  /* no memory_paths when auto-memory is off */
  g_autofree char *memory = env_truthy ("CLAUDE_CODE_DISABLE_AUTO_MEMORY") ? g_strdup ("")
    : jprintf ("\"memory_paths\":{\"auto\":%J},", memory_dir);
  g_autofree char *socket = g_strdup_printf ("/tmp/cc-socks/%d.sock", (int) getpid ());
  gboolean quiet = env_truthy ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC");
  gboolean no_telemetry = quiet || env_truthy ("DISABLE_TELEMETRY");
  const char *plugins = no_telemetry
    ? "[" PLUGIN ("cc-plugin-agents-md") "," PLUGIN ("cc-plugin-privacy") ","
      PLUGIN ("cc-plugin-plugin-authoring") "]"
    : "[" PLUGIN ("cc-plugin-agents-md") "," PLUGIN ("cc-plugin-telemetry") ","
      PLUGIN ("cc-plugin-privacy") "," PLUGIN ("cc-plugin-plugin-authoring") "]";

  add_listed (skill_list, skills);
  skills_json = jstr_array (skill_list);
  add_listed (command_list, skills);
  add_listed (command_list, other_commands);
  commands_json = jstr_array (command_list);
  emitf ("{\"type\":\"system\",\"subtype\":\"init\",\"cwd\":%J,\"session_id\":%S,\"tools\":%s,"
         "\"mcp_servers\":[],\"model\":%J,\"permissionMode\":%J,\"slash_commands\":%s,"
         "\"terminal_slash_commands\":" TERMINAL_COMMANDS ",\"apiKeySource\":\"%s\","
         "\"claude_code_version\":\"" CLI_VERSION "\",\"output_style\":\"default\","
         "\"agents\":%s,\"skills\":%s,\"plugins\":%s,\"capabilities\":" CAPABILITIES_HEAD "%s"
         CAPABILITIES_TAIL ","
         "\"analytics_disabled\":%s,\"product_feedback_disabled\":%s,"
         "\"served_by_anthropic\":%s,\"uuid\":%U,\"sandbox_enabled\":false,"
         "%s\"original_cwd\":%J,\"additional_directories\":[],"
         "\"messaging_socket_path\":%J,\"fast_mode_state\":\"off\","
         "\"fast_mode_disabled_reason\":\"sdk_opt_in_required\",\"per_turn_effort_active\":true,"
         "\"ultrathink_available\":false,\"ultrathink_typed_raises\":false,"
         "\"view_mode\":\"default\"}",
         F.cwd, tools, F.model, F.permission_mode, commands_json,
         logged_in ? "ANTHROPIC_API_KEY" : "none", agents, skills_json, plugins,
         F.output_format == FMT_STREAM_JSON ? "\"lifecycle_wakeup_source_v1\"," : "",
         no_telemetry ? "true" : "false", quiet ? "true" : "false",
         served_by_anthropic () ? "true" : "false", memory, F.cwd, socket);
}

/* 2.1.332 names a model it does not know on stderr at every turn (and,
 * with text output, first explains it once). */
static void
warn_unknown_model (void)
{
  g_autofree char *line = NULL;

  if (F.model_known)
    return;
  if (F.output_format == FMT_TEXT && !F.model_explained)
    {
      g_autofree char *why = g_strdup_printf (
        "Claude Code doesn't recognize the model \"%s\", so it assumes a context window of 1m "
        "tokens. Update Claude Code, or see https://code.claude.com/docs/en/model-config"
        "#correct-the-window-for-a-gateway-or-custom-model-id to set the window.\n", F.model);

      F.model_explained = TRUE;
      write_all (STDERR_FILENO, why, strlen (why));
    }
  line = jprintf ("[claude-code:unrecognized_model] {\"model\":%J,\"query_source\":\"sdk\"}\n",
                  F.model);
  write_all (STDERR_FILENO, line, strlen (line));
}

static void
emit_stream_event (Turn *t, const char *event, const char *extra)
{
  if (F.partial)
    emitf ("{\"type\":\"stream_event\",\"event\":%s,\"session_id\":%S,"
           "\"parent_tool_use_id\":null,\"uuid\":%U%s,\"api_message_id\":%J}",
           event, extra ? extra : "", t->msg_id);
}

static void
emit_text_delta (Turn *t, const char *chunk)
{
  g_autofree char *stamped = NULL;
  g_autofree char *event = NULL;

  /* taken as late as possible: right before the line is built and written */
  if (cfg_flag ("FAKE_CLAUDE_STAMP"))
    stamped = g_strdup_printf ("[t=%" G_GINT64_FORMAT "]%s", g_get_real_time (), chunk);
  else if (cfg_flag ("FAKE_CLAUDE_STAMP_MONOTONIC"))
    /* CLOCK_MONOTONIC, the clock of Python's time.monotonic() */
    stamped = g_strdup_printf ("[m=%" G_GINT64_FORMAT "]%s", g_get_monotonic_time (), chunk);
  event = jprintf ("{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
                   "{\"type\":\"text_delta\",\"text\":%J}}", stamped ? stamped : chunk);
  emit_stream_event (t, event, NULL);
}

static void
emit_assistant (Turn *t, const char *text, gboolean aborted)
{
  g_autofree char *msg = jprintf ("{\"id\":%J,\"type\":\"message\",\"role\":\"assistant\","
                                  "\"model\":%J,\"content\":[{\"type\":\"text\",\"text\":%J}],"
                                  "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":%s,"
                                  "\"context_management\":null}",
                                  t->msg_id, F.model, text, t->usage_start);

  emitf ("{\"type\":\"assistant\",\"message\":%s,\"parent_tool_use_id\":null,"
         "\"session_id\":%S,\"uuid\":%U,\"timestamp\":%T,\"request_id\":%J%s}", msg,
         t->request_id, aborted ? ",\"aborted\":true" : "");
  transcript_record ("assistant", msg);
}

/* List prices per MTok; cumulative per process (and over --resume) like
 * the CLI. */
static void
account_tokens (Turn *t)
{
  double in_price = 4e-6, out_price = 20e-6;

  if (strstr (F.model, "haiku"))
    in_price = 1e-6, out_price = 5e-6;
  else if (strstr (F.model, "sonnet"))
    in_price = 2e-6, out_price = 10e-6;
  t->cost = t->input_tokens * in_price + t->output_tokens * out_price;
  F.total_cost += t->cost;
  F.total_input_tokens += t->input_tokens;
  F.total_output_tokens += t->output_tokens;
}

static char *
model_usage_json (gint64 input_tokens, gint64 output_tokens, double cost)
{
  g_autofree char *cost_text = format_cost (cost);

  if (input_tokens == 0 && output_tokens == 0 && cost == 0)
    return g_strdup ("{}");
  return jprintf ("{%J:{\"inputTokens\":%d,\"outputTokens\":%d,\"cacheReadInputTokens\":0,"
                  "\"cacheCreationInputTokens\":0,\"webSearchRequests\":0,\"costUSD\":%s,"
                  "\"contextWindow\":1000000,\"maxOutputTokens\":128000,\"thinkingTokens\":0,"
                  "\"cacheCreationEphemeral5mInputTokens\":0,"
                  "\"cacheCreationEphemeral1hInputTokens\":0,\"canonicalModel\":%J,"
                  "\"provider\":\"firstParty\",\"costBasis\":\"list\"}}",
                  F.model, (int) input_tokens, (int) output_tokens, cost_text, F.model);
}

typedef struct
{
  const char *subtype;
  gboolean is_error;
  const char *stop_reason;      /* JSON */
  int num_turns;
  const char *usage;            /* JSON */
  const char *terminal_reason;
  const char *api_error_status; /* JSON; success form only */
  const char *api_extra;        /* `"api_error_type":…` or `"api_error":…`, or NULL */
  const char *result;           /* the success form's text; NULL: error form */
  const char *error;            /* the error form's one entry of `errors` */
  gboolean timed;               /* an answer came: ttft_ms and friends */
} ResultSpec;

/* A result line with 2.1.332's keys in its order (claude-cli.md 11: never
 * depend on it), except that `type` stays first, where 2.1.197 had it:
 * tests/unit/test-cli-run.c still looks for a line starting
 * {"type":"result".  Text output prints text, json and stream-json the line. */
static void
emit_result_line (Turn *t, const ResultSpec *r, const char *text, gboolean newline)
{
  g_autofree char *cost = format_cost (F.total_cost);
  g_autofree char *model_usage = model_usage_json (F.total_input_tokens, F.total_output_tokens,
                                                   F.total_cost);
  g_autofree char *since = model_usage_json (t->input_tokens, t->output_tokens, t->cost);
  g_autofree char *middle = NULL;
  g_autofree char *ttft_json = NULL;
  g_autofree char *begun = NULL;
  g_autofree char *timing = NULL;
  g_autofree char *json = NULL;
  int duration = elapsed_ms (t->start_us);
  int ttft = (int) ((t->first_delta_us ? t->first_delta_us - t->start_us : 0) / 1000);

  ttft_json = r->timed ? g_strdup_printf ("\"ttft_ms\":%d,", ttft) : g_strdup ("");
  if (r->result != NULL)
    middle = jprintf ("\"api_error_status\":%s,%s%s\"result\":%J,%s", r->api_error_status,
                      r->api_extra ? r->api_extra : "", r->api_extra ? "," : "", r->result,
                      ttft_json);
  else
    middle = jprintf ("\"errors\":[%J],", r->error);
  if (F.partial)
    begun = t->message_started ? jprintf (",\"begun_message_ids\":[%J]", t->msg_id)
                               : g_strdup (",\"begun_message_ids\":[]");
  if (r->timed)
    timing = g_strdup_printf (",\"ttft_stream_ms\":%d,\"time_to_request_ms\":0,"
                              "\"first_content_frame_ms\":%d", ttft, ttft);
  json = jprintf ("{\"type\":\"result\",\"duration_api_ms\":%d,\"stop_reason\":%s,\"session_id\":%S,"
                  "\"total_cost_usd\":%s,\"usage\":%s,\"modelUsage\":%s,\"permission_denials\":[],"
                  "\"terminal_reason\":\"%s\",\"fast_mode_state\":\"off\","
                  "\"fast_mode_disabled_reason\":\"sdk_opt_in_required\",\"subagent_stats\":"
                  SUBAGENT_STATS ",\"safety_stops\":0,\"is_error\":%s,\"num_turns\":%d,"
                  "\"subtype\":\"%s\",%s\"duration_ms\":%d,\"uuid\":%U%s%s,"
                  "\"queued_turn_count\":0,\"result_index\":%d%s%s}",
                  r->timed ? duration : 0, r->stop_reason, cost, r->usage, model_usage,
                  r->terminal_reason, r->is_error ? "true" : "false", r->num_turns, r->subtype,
                  middle, duration, begun ? begun : "", timing ? timing : "", F.result_index,
                  F.output_format == FMT_STREAM_JSON ? ",\"model_usage_since_last_result\":" : "",
                  F.output_format == FMT_STREAM_JSON ? since : "");
  F.result_index++;
  emit_result (json, text, newline);
  record_cost_state ();
}

/* An unknown --resume id.  2.1.332 also says it on stdout, with
 * stream-json output: an error result that opens the output, before any
 * init line; then exit 1. */
static void G_GNUC_NORETURN
die_no_conversation (const char *id)
{
  g_autofree char *message = g_strdup_printf ("No conversation found with session ID: %s", id);

  if (F.output_format == FMT_STREAM_JSON)
    {
      g_autofree char *usage = g_strdup_printf (RESULT_USAGE_FMT, 0, 0);
      g_autofree char *result = NULL;

      F.session_id = g_strdup (id);
      result = jprintf ("{\"type\":\"result\",\"subtype\":\"error_during_execution\","
                        "\"duration_ms\":0,\"duration_api_ms\":0,\"is_error\":true,"
                        "\"num_turns\":0,\"stop_reason\":null,\"session_id\":%S,"
                        "\"total_cost_usd\":0,\"usage\":%s,\"modelUsage\":{},"
                        "\"permission_denials\":[],\"uuid\":%U,\"errors\":[%J],"
                        "\"result_index\":0}", usage, message);
      emit_line (result);
    }
  die ("%s", message);
}

/* 5.7 as 2.1.332 does it: the assistant with the text so far (marked
 * aborted), the interrupt marker, the closing stream events of the cut
 * message, then an error_during_execution result that still bills what
 * streamed.  After SIGINT the process exits 0. */
static gboolean
finish_interrupted (Turn *t)
{
  g_autofree char *usage = g_strdup_printf (RESULT_USAGE_FMT, 0, 0);
  g_autofree char *delta = NULL;
  g_autofree char *abandoned = NULL;
  ResultSpec r = { .subtype = "error_during_execution", .is_error = TRUE, .stop_reason = "null",
                   .num_turns = 2, .usage = usage, .terminal_reason = "aborted_streaming",
                   .error = INTERRUPT_DIAGNOSTIC };

  /* only what streamed is billed */
  t->output_tokens = t->so_far->len > 0 ? (int) MAX (1, (t->so_far->len + 3) / 4) : 0;
  if (t->so_far->len > 0)
    emit_assistant (t, t->so_far->str, TRUE);
  if (t->usage_start != NULL)
    account_tokens (t);
  emitf ("{\"type\":\"user\",\"message\":" INTERRUPT_MARKER ",\"parent_tool_use_id\":null,"
         "\"session_id\":%S,\"uuid\":%U,\"timestamp\":%T}");
  transcript_record ("user", INTERRUPT_MARKER);
  if (t->message_started)
    {
      delta = g_strdup_printf (
        "{\"type\":\"message_delta\",\"context_management\":null,\"delta\":{\"container\":null,"
        "\"stop_details\":null,\"stop_reason\":null,\"stop_sequence\":null},\"usage\":"
        "{\"output_tokens_details\":{\"thinking_tokens\":0},\"cache_creation_input_tokens\":0,"
        "\"cache_read_input_tokens\":0,\"input_tokens\":%d,\"iterations\":[],"
        "\"output_tokens\":1,\"server_tool_use\":{\"web_search_requests\":0,"
        "\"web_fetch_requests\":0},\"fallback_credit\":null}}", t->input_tokens);
      abandoned = jprintf (",\"abandoned_blocks\":{\"api_message_id\":%J,\"from_block_index\":1}",
                           t->msg_id);
      emit_stream_event (t, "{\"type\":\"content_block_stop\",\"index\":0}", NULL);
      emit_stream_event (t, delta, NULL);
      /* abandoned_blocks comes after api_message_id: append by hand */
      if (F.partial)
        emitf ("{\"type\":\"stream_event\",\"event\":{\"type\":\"message_stop\"},"
               "\"session_id\":%S,\"parent_tool_use_id\":null,\"uuid\":%U,"
               "\"api_message_id\":%J%s}", t->msg_id, abandoned);
    }
  emit_result_line (t, &r, NULL, FALSE);
  if (got_sigint)
    exit (0);
  return TRUE;
}

/* How the real CLI ends a turn it could not get an answer for: an
 * optional system/status, one api_retry line per retry, a synthetic
 * assistant line carrying `error`, and an is_error result with subtype
 * "success" and terminal_reason "api_error".  status_json is the
 * api_error_status; error_type the API's error type (with a status) and
 * api_error the CLI's own word (without one). */
static gboolean
run_synthetic_error (Turn *t, const char *text, const char *code, const char *status_json,
                     const char *error_type, const char *api_error, const char *retry_status,
                     const char *retry_error, int retries)
{
  g_autofree char *msg_id = g_uuid_string_random ();
  g_autofree char *usage = g_strdup_printf (RESULT_USAGE_FMT, 0, 0);
  g_autofree char *extra = error_type ? jprintf ("\"api_error_type\":%J", error_type)
                           : api_error ? jprintf ("\"api_error\":%J", api_error) : NULL;
  g_autofree char *msg = jprintf (
    "{\"diagnostics\":null,\"id\":%J,\"container\":null,\"model\":\"<synthetic>\","
    "\"role\":\"assistant\",\"stop_details\":null,\"stop_reason\":\"stop_sequence\","
    "\"stop_sequence\":\"\",\"type\":\"message\",\"usage\":{\"output_tokens_details\":null,"
    "\"input_tokens\":0,\"output_tokens\":0,\"cache_creation_input_tokens\":0,"
    "\"cache_read_input_tokens\":0,\"server_tool_use\":{\"web_search_requests\":0,"
    "\"web_fetch_requests\":0},\"service_tier\":null,\"cache_creation\":"
    "{\"ephemeral_1h_input_tokens\":0,\"ephemeral_5m_input_tokens\":0},\"inference_geo\":null,"
    "\"iterations\":null,\"speed\":null,\"fallback_credit\":null},\"content\":[{\"type\":\"text\","
    "\"text\":%J}],\"context_management\":null}", msg_id, text);
  ResultSpec r = { .subtype = "success", .is_error = TRUE, .stop_reason = "\"stop_sequence\"",
                   .num_turns = 1, .usage = usage, .terminal_reason = "api_error",
                   .api_error_status = status_json, .api_extra = extra, .result = text };

  /* the CLI says "requesting" even when it never reaches the API */
  if (F.partial)
    emitf ("{\"type\":\"system\",\"subtype\":\"status\",\"status\":\"requesting\","
           "\"session_id\":%S,\"uuid\":%U}");
  for (int i = 1; i <= retries; i++)
    emitf ("{\"type\":\"system\",\"subtype\":\"api_retry\",\"attempt\":%d,\"max_retries\":%d,"
           "\"retry_delay_ms\":%d,\"error_status\":%s,\"error\":%J,\"session_id\":%S,"
           "\"uuid\":%U}", i, retries, (500 << MIN (i - 1, 6)) + g_random_int_range (0, 125),
           retry_status, retry_error);
  emitf ("{\"type\":\"assistant\",\"message\":%s,\"parent_tool_use_id\":null,\"session_id\":%S,"
         "\"uuid\":%U,\"timestamp\":%T,\"error\":%J,\"is_api_error_message\":true%s%s%s%s}",
         msg, code, error_type ? ",\"api_error_status\":" : "", error_type ? status_json : "",
         extra ? "," : "", extra ? extra : "");
  transcript_record ("assistant", msg);
  emit_result_line (t, &r, text, TRUE);
  return TRUE;
}

/* 5.1 line for line: instant, no API call, exit 1 with empty stderr. */
static gboolean
run_not_logged_in (Turn *t)
{
  return run_synthetic_error (t, NOT_LOGGED_IN_TEXT, "authentication_failed", "null",
                              NULL, NULL, NULL, NULL, 0);
}

/* FAKE_CLAUDE_API_ERROR: what the real CLI ends with after the API kept
 * failing (claude-cli.md 5.2, 5.3, re-checked on 2.1.332 against a loopback
 * API).  CLAUDE_CODE_MAX_RETRIES gives the number of api_retry lines
 * (default 0 here, so tests stay fast; the real default is 10 with minutes
 * of backoff). */
static gboolean
run_api_error (Turn *t, const char *kind)
{
  const char *base = g_getenv ("ANTHROPIC_BASE_URL");
  int retries = (int) CLAMP (g_ascii_strtoll (g_getenv ("CLAUDE_CODE_MAX_RETRIES")
                                              ? g_getenv ("CLAUDE_CODE_MAX_RETRIES") : "0",
                                              NULL, 10), 0, 50);
  int status = (int) g_ascii_strtoll (kind, NULL, 10);
  g_autofree char *tail = NULL;
  g_autofree char *text = NULL;
  g_autofree char *status_json = NULL;
  const char *reason;

  /* with a custom endpoint the CLI names it: "(127.0.0.1:8767)" */
  if (base && *base)
    {
      const char *host = strstr (base, "://") ? strstr (base, "://") + 3 : base;

      tail = g_strdup_printf (" If it persists, check your inference gateway (%.*s).",
                              (int) strcspn (host, "/"), host);
    }
  if (status == 401)
    return run_synthetic_error (t, "Invalid API key · Fix external API key",
                                "authentication_failed", "401", "authentication_error", NULL,
                                "401", "authentication_failed", retries);
  if (status < 500 || status > 599)
    return run_synthetic_error (t, "API Error: Connection refused — a firewall or proxy may "
                                "be blocking it (ECONNREFUSED)", "server_error", "null", NULL,
                                "connection_failed", "null", "unknown", retries);
  status_json = g_strdup_printf ("%d", status);
  if (status == 529 && retries >= 2)
    {
      text = g_strdup_printf ("API Error: Repeated 529 Overloaded errors. The API is at capacity "
                              "— this is usually temporary. Try again in a moment.%s",
                              tail ? tail : "");
      return run_synthetic_error (t, text, "server_error", status_json, "overloaded_error", NULL,
                                  status_json, "overloaded", retries);
    }
  reason = status == 500 ? "Internal server error" : status == 529 ? "Overloaded"
           : status == 502 ? "Bad gateway" : status == 503 ? "Service unavailable" : "Server error";
  text = g_strdup_printf ("API Error: %d %s. This is a server-side issue, usually temporary — "
                          "try again in a moment.%s", status, reason, tail ? tail : "");
  return run_synthetic_error (t, text, "server_error", status_json,
                              status == 529 ? "overloaded_error" : "api_error", NULL, status_json,
                              status == 529 ? "overloaded" : "server_error", retries);
}

/* Lines a robust reader has to survive. */
static void
emit_garbage (void)
{
  emit_line ("this is not json {");
  emit_line ("{\"type\":\"system\",\"subtype\":\"garbage\",\"text\":\"bad \xff\xfe bytes\"}");
  emit_line ("");
  emit_line ("[1,2]");
  emit_line ("{\"type\":\"mystery\",\"x\":1}");
}

/* One valid JSON line of `bytes` bytes (newline not counted). */
static void
emit_huge_line (gint64 bytes)
{
  static const char head[] = "{\"type\":\"system\",\"subtype\":\"huge\",\"pad\":\"";
  gint64 overhead = (gint64) strlen (head) + 2;
  gsize pad = bytes > overhead ? (gsize) (bytes - overhead) : 0;
  GString *line = g_string_sized_new (pad + overhead + 1);

  g_string_append (line, head);
  g_string_set_size (line, strlen (head) + pad);
  memset (line->str + strlen (head), 'x', pad);
  g_string_append (line, "\"}\n");
  write_all (STDOUT_FILENO, line->str, line->len);
  g_string_free (line, TRUE);
}

static char *
make_reply (const char *prompt)
{
  const char *fixed = cfg ("FAKE_CLAUDE_REPLY");
  g_autofree char *valid = NULL;
  gsize cut;
  char *reply;

  gint64 filler = cfg_int ("FAKE_CLAUDE_REPLY_BYTES", 0);

  if (filler > 0)
    {
      /* a long reply without a long variable: "w0 w1 w2 …" cut to N bytes */
      GString *out = g_string_sized_new ((gsize) filler + 16);

      for (guint i = 0; out->len < (gsize) filler; i++)
        g_string_append_printf (out, "w%u ", i);
      g_string_truncate (out, (gsize) filler);
      return g_string_free (out, FALSE);
    }
  if (fixed != NULL)
    return g_utf8_make_valid (fixed, -1);
  valid = g_strchomp (g_utf8_make_valid (prompt, -1));
  /* 200 bytes, backed off to a character boundary */
  for (cut = MIN (strlen (valid), 200); cut > 0 && (valid[cut] & 0xC0) == 0x80; cut--)
    ;
  valid[cut] = '\0';
  reply = g_strconcat ("Echo: ", valid, NULL);
  /* newlines become spaces so text output stays one line */
  g_strdelimit (reply, "\r\n", ' ');
  return reply;
}

/* About n equal byte slices, each ending on a character boundary. */
static GPtrArray *
split_reply (const char *text, gint64 n)
{
  GPtrArray *chunks = g_ptr_array_new_with_free_func (g_free);
  gsize total = strlen (text), start = 0;

  n = MAX (n, 1);
  for (gint64 i = 1; i <= n && start < total; i++)
    {
      gsize end = (gsize) (total * i / n);

      while (end < total && (text[end] & 0xC0) == 0x80)
        end++;
      if (end > start)
        g_ptr_array_add (chunks, g_strndup (text + start, end - start));
      start = MAX (start, end);
    }
  return chunks;
}

/* The closing result: success, the FAKE_CLAUDE_EXIT_CODE failure, or the
 * FAKE_CLAUDE_ERROR_RESULT=max_turns error form.  Returns is_error. */
static gboolean
finish_turn (Turn *t, const char *reply)
{
  g_autofree char *usage = g_strdup_printf (RESULT_USAGE_FMT, t->input_tokens, t->output_tokens);
  ResultSpec r = { .subtype = "success", .stop_reason = "\"end_turn\"", .num_turns = 1,
                   .usage = usage, .terminal_reason = "completed", .api_error_status = "null",
                   .result = reply, .timed = TRUE };
  gboolean failed;

  if (g_strcmp0 (cfg ("FAKE_CLAUDE_ERROR_RESULT"), "max_turns") == 0)
    {
      int max = (int) (F.max_turns > 0 ? F.max_turns : 1);
      g_autofree char *error = g_strdup_printf ("Reached maximum number of turns (%d)", max);
      g_autofree char *text = g_strdup_printf ("Error: Reached max turns (%d)", max);
      ResultSpec e = { .subtype = "error_max_turns", .is_error = TRUE,
                       .stop_reason = "\"tool_use\"", .num_turns = max + 1, .usage = usage,
                       .terminal_reason = "max_turns", .error = error };

      emit_result_line (t, &e, text, FALSE);   /* no newline, as the CLI prints it */
      return TRUE;
    }
  F.pending_exit = (int) cfg_int ("FAKE_CLAUDE_EXIT_CODE", 0);
  failed = F.pending_exit > 0;
  if (!failed)
    F.pending_exit = -1;   /* 0 means: behave normally */
  r.is_error = failed;
  if (failed)
    r.result = FAKE_FAILURE_TEXT;
  emit_result_line (t, &r, r.result, TRUE);
  return failed;
}

/* system/status, message_start and content_block_start (partial mode). */
static void
emit_stream_preamble (Turn *t)
{
  g_autofree char *start = jprintf ("{\"type\":\"message_start\",\"message\":{\"id\":%J,"
                                    "\"type\":\"message\",\"role\":\"assistant\",\"model\":%J,"
                                    "\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
                                    "\"usage\":%s}}", t->msg_id, F.model, t->usage_start);
  g_autofree char *ttft = g_strdup_printf (",\"ttft_ms\":%d,\"thinking_display\":\"updates\"",
                                           elapsed_ms (t->start_us));

  if (!F.partial)
    return;
  emitf ("{\"type\":\"system\",\"subtype\":\"status\",\"status\":\"requesting\","
         "\"session_id\":%S,\"uuid\":%U}");
  emit_stream_event (t, start, ttft);
  emit_stream_event (t, "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
                     "{\"type\":\"text\",\"text\":\"\"}}", NULL);
  t->message_started = TRUE;
}

static gboolean
run_turn_body (Turn *t, const char *prompt)
{
  gboolean logged_in = !cfg_flag ("FAKE_CLAUDE_NOT_LOGGED_IN");
  g_autofree char *reply = NULL;
  g_autofree char *delta = NULL;
  g_autoptr(GPtrArray) chunks = NULL;
  gint64 interval = cfg_int ("FAKE_CLAUDE_TOKEN_INTERVAL_MS", 0);

  /* not something the real CLI does: a test of a reader's first line */
  if (F.output_format == FMT_STREAM_JSON && cfg_flag ("FAKE_CLAUDE_GARBAGE_FIRST"))
    emit_line ("this is not json {");
  emit_init (logged_in);
  warn_unknown_model ();
  if (!logged_in)
    return run_not_logged_in (t);
  if (cfg ("FAKE_CLAUDE_API_ERROR") && *cfg ("FAKE_CLAUDE_API_ERROR"))
    return run_api_error (t, cfg ("FAKE_CLAUDE_API_ERROR"));
  if (cfg_flag ("FAKE_CLAUDE_HANG") && !turn_wait (-1))
    return finish_interrupted (t);
  if (F.output_format == FMT_STREAM_JSON && cfg_flag ("FAKE_CLAUDE_GARBAGE"))
    emit_garbage ();
  if (F.output_format == FMT_STREAM_JSON && cfg_int ("FAKE_CLAUDE_HUGE_LINE_BYTES", 0) > 0)
    emit_huge_line (cfg_int ("FAKE_CLAUDE_HUGE_LINE_BYTES", 0));

  reply = make_reply (prompt);
  chunks = split_reply (reply, cfg_int ("FAKE_CLAUDE_TOKENS", 5));
  t->input_tokens = (int) MAX (1, strlen (prompt) / 4);
  t->output_tokens = (int) MAX (1, (strlen (reply) + 3) / 4);
  t->usage_start = g_strdup_printf ("{\"input_tokens\":%d,\"cache_creation_input_tokens\":0,"
                                    "\"cache_read_input_tokens\":0,\"cache_creation\":"
                                    "{\"ephemeral_5m_input_tokens\":0,\"ephemeral_1h_input_tokens\":0},"
                                    "\"output_tokens\":1,\"service_tier\":\"standard\"}",
                                    t->input_tokens);
  emit_stream_preamble (t);
  for (guint i = 0; i < chunks->len; i++)
    {
      if (!turn_wait (i == 0 ? 0 : interval))
        return finish_interrupted (t);
      if (t->first_delta_us == 0)
        t->first_delta_us = g_get_monotonic_time ();
      if (F.partial)
        emit_text_delta (t, chunks->pdata[i]);
      g_string_append (t->so_far, chunks->pdata[i]);
    }

  /* a block's assistant line comes before its content_block_stop (2.3) */
  emit_assistant (t, reply, FALSE);
  delta = g_strdup_printf ("{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
                           "\"stop_sequence\":null},\"usage\":{\"output_tokens\":%d}}",
                           t->output_tokens);
  emit_stream_event (t, "{\"type\":\"content_block_stop\",\"index\":0}", NULL);
  emit_stream_event (t, delta, NULL);
  emit_stream_event (t, "{\"type\":\"message_stop\"}", NULL);
  account_tokens (t);
  return finish_turn (t, reply);
}

/* Runs one prompt from init to result.  Returns is_error. */
static gboolean
run_turn (const char *prompt)
{
  g_auto(Turn) t = { .start_us = g_get_monotonic_time (), .so_far = g_string_new (NULL) };
  g_autofree char *user = jprintf ("{\"role\":\"user\",\"content\":%J}", prompt);

  load_scenario ();   /* a test may change behaviour between turns */
  F.control_interrupt = FALSE;
  F.pending_exit = -1;
  t.msg_id = random_id ("msg_01", 22);
  t.request_id = random_id ("req_011C", 19);
  /* written first: even a turn that never ends marks the id as in use */
  transcript_record ("user", user);
  return run_turn_body (&t, prompt);
}

/* ---- the two input modes ------------------------------------------------------------------ */

static char *
user_message_text (const FjNode *message)
{
  const FjNode *content = fj_member (message, "content");
  GString *text;

  if (fj_string (content))
    return g_strdup (fj_string (content));
  if (content == NULL || content->type != FJ_ARRAY)
    return NULL;
  text = g_string_new (NULL);
  for (guint i = 0; i < content->items->len; i++)
    {
      const char *part = fj_string_member (content->items->pdata[i], "text");

      if (part)
        g_string_append_printf (text, "%s%s", text->len ? "\n" : "", part);
    }
  return g_string_free (text, FALSE);
}

/* 2.1.332 names the line's "type" (if it can see one) and its length in
 * UTF-16 units, not the line itself. */
static void G_GNUC_NORETURN
die_bad_input_line (const char *line)
{
  g_autoptr(GRegex) re = g_regex_new ("\"type\"\\s*:\\s*\"([^\"]*)\"", 0, 0, NULL);
  g_autoptr(GMatchInfo) match = NULL;
  g_autofree char *valid = g_utf8_make_valid (line, -1);
  g_autofree gunichar2 *units = NULL;
  g_autofree char *type = NULL;
  glong n = 0;

  units = g_utf8_to_utf16 (valid, -1, NULL, &n, NULL);
  if (g_regex_match (re, valid, 0, &match))
    type = g_match_info_fetch (match, 1);
  die ("Error parsing streaming input line (type=%s, %ld chars): SyntaxError",
       type ? type : "unknown", n);
}

static int
run_stream_input (void)
{
  gboolean last_error = FALSE;
  char *raw;

  F.inbuf = g_string_new (NULL);
  while ((raw = next_line ()) != NULL)
    {
      g_autofree char *line = raw;
      g_autoptr(FjNode) obj = NULL;
      g_autofree char *text = NULL;

      if (strspn (line, " \t\r") == strlen (line))
        continue;
      if ((obj = fj_parse (line)) == NULL)
        die_bad_input_line (line);
      if (strcmp (type_of (obj), "control_request") == 0)
        handle_control (obj);
      /* other types are ignored, as the CLI does */
      if (strcmp (type_of (obj), "user") != 0
          || (text = user_message_text (fj_member (obj, "message"))) == NULL)
        continue;
      load_scenario ();   /* the log, too, may have been set since */
      log_turn_input (text);
      last_error = run_turn (text);
      if (F.pending_exit >= 0)
        return F.pending_exit;
    }
  return last_error ? 1 : 0;
}

static int
run_text_input (void)
{
  const char *arg = F.positional->len > 0 ? F.positional->pdata[0] : "";
  g_autofree char *prompt = NULL;
  g_autofree char *stripped = NULL;
  gboolean is_error;

  read_stdin_text ();
  log_startup ();
  /* both given: "<arg>\n<stdin>" (claude-cli.md 1.3.2) */
  if (*arg && *F.stdin_text)
    prompt = g_strconcat (arg, "\n", F.stdin_text, NULL);
  else
    prompt = g_strdup (*arg ? arg : F.stdin_text);
  if (*prompt == '\0')
    die ("Error: Input must be provided either through stdin or as a prompt argument when "
         "using --print");
  /* a blank prompt starts no turn and writes no transcript */
  stripped = g_strstrip (g_strdup (prompt));
  if (*stripped == '\0')
    die ("Error: Input contained only whitespace. Provide a prompt with text through stdin or "
         "as a prompt argument when using --print");
  is_error = run_turn (prompt);
  return F.pending_exit >= 0 ? F.pending_exit : is_error;
}

/* ---- start-up --------------------------------------------------------------------------------- */

/* The real CLI catches SIGTERM and exits 143 with no result line (a
 * normal exit, not a death by signal). */
static void
on_sigterm (int signum)
{
  (void) signum;
  _exit (128 + SIGTERM);
}

static void
on_sigint (int signum)
{
  (void) signum;
  got_sigint = 1;
}

static void
spawn_grandchild (void)
{
  g_autofree char *msg = NULL;
  pid_t pid = fork ();

  if (pid == 0)
    {
      /* Keeps the inherited stdout/stderr open on purpose, like a leaked
       * tool process, so readers see no EOF until it is killed too. */
      signal (SIGINT, SIG_DFL);
      for (;;)
        pause ();
    }
  if (pid < 0)
    return;
  F.grandchild = pid;
  msg = g_strdup_printf ("grandchild %d\n", (int) pid);
  write_all (STDERR_FILENO, msg, strlen (msg));
}

/* The models 2.1.332 knows, as a rule of thumb: Anthropic ids of the
 * four families.  Others get the "unrecognized_model" warning. */
static gboolean
model_known (const char *id)
{
  return g_str_has_prefix (id, "claude-")
         && (strstr (id, "opus") || strstr (id, "sonnet") || strstr (id, "haiku")
             || strstr (id, "fable"));
}

/* Aliases (any case) as init shows them; a known model loses `[1m]`. */
static char *
resolve_model (const char *name, gboolean *known)
{
  g_autofree char *base = g_strdup (name);

  if (g_str_has_suffix (base, "[1m]"))
    base[strlen (base) - 4] = '\0';
  *known = TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS (model_aliases); i++)
    if (g_ascii_strcasecmp (base, model_aliases[i][0]) == 0)
      return g_strdup (model_aliases[i][1]);
  if (model_known (base))
    return g_steal_pointer (&base);
  *known = FALSE;
  return g_strdup (name);
}

static void
setup_identity (void)
{
  const char *agent_model = F.agent_def ? F.agent_def->model : NULL;

  /* --model wins over the agent's model; "inherit" means the default */
  if (F.model_arg)
    F.model = resolve_model (F.model_arg, &F.model_known);
  else
    F.model = resolve_model (g_strcmp0 (agent_model, "inherit") != 0 && agent_model
                             ? agent_model : "default", &F.model_known);
  /* "manual" is shown as "default" */
  if (g_strcmp0 (F.permission_arg, "manual") == 0)
    F.permission_arg = "default";
  F.permission_mode = g_strdup (F.permission_arg ? F.permission_arg
                                : F.skip_perms ? "bypassPermissions" : "default");
}

/* The fake exits from many places with its state still allocated, on
 * purpose; in the ASan build its leak report would only be noise. */
const char *__asan_default_options (void);

const char *
__asan_default_options (void)
{
  return "detect_leaks=0";
}

int
main (int argc, char **argv)
{
  struct sigaction sa = { .sa_handler = on_sigint };   /* no SA_RESTART: wake blocked reads */
  char *cwd = getcwd (NULL, 0);
  const char *text;
  gint64 delay_until;

  F.argc = argc;
  F.argv = argv;
  F.cwd = g_strdup (cwd ? cwd : "/");
  free (cwd);
  F.pending_exit = -1;
  F.stdin_text = g_strdup ("");
  F.positional = g_ptr_array_new ();
  F.agent_names = g_ptr_array_new_with_free_func (g_free);
  F.json_messages = g_ptr_array_new_with_free_func (g_free);

  load_scenario ();
  if (cfg_flag ("FAKE_CLAUDE_IGNORE_SIGTERM"))
    signal (SIGTERM, SIG_IGN);
  if ((text = cfg ("FAKE_CLAUDE_STDERR")) != NULL)
    {
      g_autofree char *line = g_strconcat (text, "\n", NULL);
      write_all (STDERR_FILENO, line, strlen (line));
    }
  if (cfg ("FAKE_CLAUDE_EXIT_BEFORE_OUTPUT") != NULL)
    {
      log_startup ();
      return (int) cfg_int ("FAKE_CLAUDE_EXIT_BEFORE_OUTPUT", 1);
    }
  if (cfg_flag ("FAKE_CLAUDE_SPAWN_GRANDCHILD"))
    spawn_grandchild ();
  /* after the fork: the grandchild keeps the default action */
  if (!cfg_flag ("FAKE_CLAUDE_IGNORE_SIGTERM"))
    signal (SIGTERM, on_sigterm);
  sigaction (SIGINT, &sa, NULL);

  parse_args (argc, argv);
  validate_options ();
  setup_session ();
  collect_agents ();
  setup_identity ();
  /* start-up cost is paid at spawn, so a pre-started process skips it */
  delay_until = g_get_monotonic_time () + cfg_int ("FAKE_CLAUDE_STARTUP_DELAY_MS", 0) * 1000;
  while (g_get_monotonic_time () < delay_until)
    {
      poll (NULL, 0, (int) ((delay_until - g_get_monotonic_time () + 999) / 1000));
      exit_if_sigint ();
    }

  if (F.input_format == FMT_STREAM_JSON)
    {
      log_startup ();
      return run_stream_input ();
    }
  return run_text_input ();
}
