/* cas-agents.h: our agent definitions (agents/NAME.md), handed to the CLI
 * as `--agents <json>` so nothing is written into the user's ~/.claude.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Largest agent file we read. */
#define CAS_AGENT_MAX_FILE_SIZE (256 * 1024)

/* Linux refuses a single argv string of 128 KiB or more (MAX_ARG_STRLEN,
 * counting the NUL), so the --agents value must stay below this. */
#define CAS_AGENT_MAX_CLI_JSON (128 * 1024 - 1)

typedef struct {
  char *name;        /* matches ^[a-z0-9][a-z0-9-]*$ */
  char *description;
  char *tools;       /* as written; NULL: the CLI's default set, "": none */
  char *model;       /* NULL: the CLI's (or --model's) choice */
  char *prompt;      /* the body after the frontmatter */
} CasAgent;

void cas_agent_free (CasAgent *agent);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasAgent, cas_agent_free)

/* Parses one agent file: `---` frontmatter of `key: value` lines (values
 * optionally "..." or '...' quoted; tools also as [a, b] or a `- a` list;
 * unknown keys ignored), then the prompt. Errors are CAS_ERROR_CONFIG and
 * say what is missing or malformed. */
CasAgent *cas_agent_parse_markdown (const char *text,
                                    gsize       len,
                                    GError    **error);

/* Checks a name against ^[a-z0-9][a-z0-9-]*$ (at most 64 characters). */
gboolean cas_agent_name_is_valid (const char *name);

/* The tools as the CLI's list: split on commas outside parentheses,
 * trimmed, empty items dropped. NULL when tools is unset; an empty vector
 * for "". Free with g_strfreev(). */
char **cas_agent_dup_tool_list (const CasAgent *agent);

/* A refcounted, immutable-once-shared set of agents, keyed by name. */
typedef struct _CasAgentSet CasAgentSet;

CasAgentSet *cas_agent_set_new (void);
CasAgentSet *cas_agent_set_ref (CasAgentSet *set);
void cas_agent_set_unref (CasAgentSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasAgentSet, cas_agent_set_unref)

/* Takes ownership of @agent (freed on failure too). Fails on a bad name,
 * a missing description or prompt, or a duplicate name. */
gboolean cas_agent_set_add (CasAgentSet *set,
                            CasAgent    *agent,
                            GError     **error);

/* Loads every regular NAME.md file in @dir (hidden files skipped), in name order. Any bad file,
 * or two files with the same agent name, fails the whole load with an
 * error naming the file. */
CasAgentSet *cas_agent_set_load_dir (const char *dir,
                                     GError    **error);

/* Our agents, built into the daemon (agents/NAME.md as a GResource), each
 * replaced by @override_dir/NAME.md (@override_dir nullable) when that file
 * exists and defines the agent NAME. An override that cannot be used keeps
 * the built-in agent and adds a line saying why to @problems (strings). */
CasAgentSet *cas_agent_set_load_builtin (const char *override_dir,
                                         GPtrArray  *problems);

/* Borrowed from @set; NULL when unknown. */
const CasAgent *cas_agent_set_lookup (CasAgentSet *set,
                                      const char  *name);
guint cas_agent_set_get_size (CasAgentSet *set);

/* Sorted names; free with g_strfreev(). */
char **cas_agent_set_names (CasAgentSet *set);

/* Compact JSON for `--agents`, agents in name order:
 * {"<name>":{"description":..,"prompt":..,"tools":[..],"model":..}}
 * with tools and model left out when unset. */
char *cas_agent_set_to_cli_json (CasAgentSet *set);

/* The same for the one agent a run needs. Fails with CAS_ERROR_NOT_FOUND
 * for an unknown name, and with CAS_ERROR_CONFIG if the JSON would not
 * fit in one argv string (CAS_AGENT_MAX_CLI_JSON). */
char *cas_agent_set_to_cli_json_for (CasAgentSet *set,
                                     const char  *name,
                                     GError     **error);

/* What a run of agent @name hands the CLI: when @set (nullable) holds
 * it, it is ours and *@json is its --agents JSON; otherwise *@json is
 * NULL, as the user's own agent (~/.claude/agents) is found by --agent
 * alone. FALSE only when ours cannot be handed over. */
gboolean cas_agent_set_cli_json_if_ours (CasAgentSet *set,
                                         const char  *name,
                                         char       **json,
                                         GError     **error);

G_END_DECLS
