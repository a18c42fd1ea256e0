/* cas-cli-argv.h: the claude argv for each path, as a pure function.
 *
 * The prompt never goes in argv (Linux caps one argument at 128 KiB):
 * every path writes it to stdin. Valued options use --flag=value so the
 * CLI's variadic options can never swallow a following word.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  /* /v1/conversational and the streaming voice path: lean context,
   * no tools, never --dangerously-skip-permissions. */
  CAS_CLI_KIND_CONVERSATIONAL,
  /* /execute and the configured workspace chat agent: one JSON result. */
  CAS_CLI_KIND_JOB,
  /* Breakglass turns: tools on, live stream-json. */
  CAS_CLI_KIND_BREAKGLASS,
} CasCliKind;

typedef struct {
  CasCliKind kind;
  const char *command;     /* argv[0] */
  const char *agent;       /* (nullable) --agent */
  const char *agents_json; /* (nullable) --agents=<json> with our agents */
  const char *model;       /* (nullable) */
  const char *session_id;  /* (nullable) */
  gboolean resume;         /* --resume instead of --session-id */
  double max_budget_usd;   /* <= 0: no budget flag */
  /* --no-session-persistence: stateless runs (the OpenAI chat path) leave
   * no transcript in ~/.claude. Ignored with a session id. */
  gboolean no_session_persistence;
  /* --input-format=stream-json: a long-lived process that takes one
   * stream-json line per turn on stdin (stream-json output kinds only). */
  gboolean stream_input;
  /* --include-partial-messages for BREAKGLASS: the reply as text deltas,
   * live (CONVERSATIONAL always has it). */
  gboolean partial_messages;
} CasCliInvocation;

GStrv cas_cli_argv_build (const CasCliInvocation *invocation);

G_END_DECLS
