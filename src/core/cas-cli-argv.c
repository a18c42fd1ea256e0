/* cas-cli-argv.c: argv builders for every path that runs claude.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-cli"

#include "cas-cli-argv.h"

static void
add_valued (GStrvBuilder *builder,
            const char   *flag,
            const char   *value)
{
  g_autofree char *arg = NULL;

  if (value == NULL)
    return;
  arg = g_strconcat (flag, "=", value, NULL);
  g_strv_builder_add (builder, arg);
}

static void
add_budget (GStrvBuilder *builder,
            double        usd)
{
  char number[G_ASCII_DTOSTR_BUF_SIZE];

  if (usd <= 0)
    return;
  add_valued (builder, "--max-budget-usd", g_ascii_dtostr (number, sizeof number, usd));
}

GStrv
cas_cli_argv_build (const CasCliInvocation *invocation)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  g_strv_builder_add_many (builder, invocation->command, "-p", NULL);

  switch (invocation->kind)
    {
    case CAS_CLI_KIND_CONVERSATIONAL:
      /* Partial messages give the text deltas a voice agent speaks early;
       * the lean flags halve the context (seed: 45k -> 23k tokens). */
      g_strv_builder_add_many (builder,
                               "--output-format=stream-json", "--verbose",
                               "--include-partial-messages",
                               "--setting-sources=user",
                               "--exclude-dynamic-system-prompt-sections",
                               NULL);
      break;
    case CAS_CLI_KIND_JOB:
      g_strv_builder_add_many (builder, "--output-format=json",
                               "--dangerously-skip-permissions", NULL);
      add_budget (builder, invocation->max_budget_usd);
      break;
    case CAS_CLI_KIND_BREAKGLASS:
      g_strv_builder_add_many (builder, "--output-format=stream-json", "--verbose",
                               "--dangerously-skip-permissions", NULL);
      if (invocation->partial_messages)
        g_strv_builder_add (builder, "--include-partial-messages");
      add_budget (builder, invocation->max_budget_usd);
      break;
    default:
      g_assert_not_reached ();
    }
  if (invocation->stream_input && invocation->kind != CAS_CLI_KIND_JOB)
    g_strv_builder_add (builder, "--input-format=stream-json");

  add_valued (builder, "--agents", invocation->agents_json);
  add_valued (builder, "--agent", invocation->agent);
  add_valued (builder, "--model", invocation->model);
  if (invocation->session_id != NULL)
    add_valued (builder, invocation->resume ? "--resume" : "--session-id",
                invocation->session_id);
  else if (invocation->no_session_persistence)
    g_strv_builder_add (builder, "--no-session-persistence");

  return g_strv_builder_end (builder);
}
