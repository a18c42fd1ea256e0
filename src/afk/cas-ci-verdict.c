/* cas-ci-verdict.c: stage results and their fold into one CI verdict.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "cas-ci-verdict.h"

static const char *const verdict_names[] = {
  [CAS_CI_VERDICT_NONE] = "none",
  [CAS_CI_VERDICT_PENDING] = "pending",
  [CAS_CI_VERDICT_GREEN] = "green",
  [CAS_CI_VERDICT_RED] = "red",
  [CAS_CI_VERDICT_SKIPPED] = "skipped",
};

G_STATIC_ASSERT (G_N_ELEMENTS (verdict_names) == CAS_CI_VERDICT_LAST + 1);

const char *
cas_ci_verdict_to_string (CasCiVerdict verdict)
{
  if ((guint) verdict > CAS_CI_VERDICT_LAST)
    return "unknown";
  return verdict_names[verdict];
}

gboolean
cas_ci_verdict_from_string (const char   *text,
                            CasCiVerdict *verdict)
{
  if (text == NULL)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (verdict_names); i++)
    if (strcmp (text, verdict_names[i]) == 0)
      {
        *verdict = (CasCiVerdict) i;
        return TRUE;
      }
  return FALSE;
}

static gboolean
word_in (const char         *word,
         const char * const *words)
{
  for (guint i = 0; words[i] != NULL; i++)
    if (strcmp (word, words[i]) == 0)
      return TRUE;
  return FALSE;
}

CasCiVerdict
cas_ci_verdict_from_check_run (const CasCiCheckRun *run)
{
  static const char *const red[] = {
    "failure", "timed_out", "cancelled", "action_required", "startup_failure", "stale", NULL
  };
  static const char *const green[] = { "success", "neutral", "skipped", NULL };

  /* Case matters: GitHub writes these in lower case, and a word we do not
   * know must not pass. */
  if (run == NULL || run->status == NULL || strcmp (run->status, "completed") != 0)
    return CAS_CI_VERDICT_PENDING;
  if (run->conclusion == NULL)
    return CAS_CI_VERDICT_PENDING;
  if (word_in (run->conclusion, red))
    return CAS_CI_VERDICT_RED;
  if (word_in (run->conclusion, green))
    return CAS_CI_VERDICT_GREEN;
  return CAS_CI_VERDICT_PENDING;
}

CasCiVerdict
cas_ci_verdict_from_check_runs (const CasCiCheckRun *runs,
                                gsize                n_runs,
                                gboolean             later_stage_configured,
                                gsize               *deciding_run)
{
  gsize first_pending = n_runs;

  if (deciding_run != NULL)
    *deciding_run = n_runs;
  if (runs == NULL || n_runs == 0)
    return later_stage_configured ? CAS_CI_VERDICT_SKIPPED : CAS_CI_VERDICT_NONE;

  for (gsize i = 0; i < n_runs; i++)
    {
      CasCiVerdict verdict = cas_ci_verdict_from_check_run (&runs[i]);

      if (verdict == CAS_CI_VERDICT_RED)
        {
          if (deciding_run != NULL)
            *deciding_run = i;
          return CAS_CI_VERDICT_RED;
        }
      if (verdict == CAS_CI_VERDICT_PENDING && first_pending == n_runs)
        first_pending = i;
    }
  if (first_pending < n_runs)
    {
      if (deciding_run != NULL)
        *deciding_run = first_pending;
      return CAS_CI_VERDICT_PENDING;
    }
  return CAS_CI_VERDICT_GREEN;
}

CasCiVerdict
cas_ci_verdict_from_woodpecker_status (const char *status)
{
  static const char *const red[] = { "failure", "error", "killed", "declined", NULL };
  static const char *const green[] = { "success", "skipped", NULL };

  if (status == NULL)
    return CAS_CI_VERDICT_NONE;
  if (word_in (status, red))
    return CAS_CI_VERDICT_RED;
  if (word_in (status, green))
    return CAS_CI_VERDICT_GREEN;
  /* pending, running, blocked, and whatever a later Woodpecker adds. */
  return CAS_CI_VERDICT_PENDING;
}

CasCiVerdict
cas_ci_verdict_from_rollout_exit (int exit_status)
{
  if (exit_status == 0)
    return CAS_CI_VERDICT_GREEN;
  if (exit_status == CAS_CI_ROLLOUT_EXIT_PENDING)
    return CAS_CI_VERDICT_PENDING;
  return CAS_CI_VERDICT_RED;
}

gboolean
cas_ci_verdict_is_decisive (CasCiVerdict stage)
{
  return stage != CAS_CI_VERDICT_GREEN && stage != CAS_CI_VERDICT_SKIPPED;
}

CasCiVerdict
cas_ci_verdict_fold (const CasCiVerdict *stages,
                     gsize               n_stages,
                     gsize              *deciding_stage)
{
  gboolean any_green = FALSE;

  if (deciding_stage != NULL)
    *deciding_stage = n_stages;
  for (gsize i = 0; stages != NULL && i < n_stages; i++)
    {
      if (stages[i] == CAS_CI_VERDICT_GREEN)
        {
          any_green = TRUE;
          continue;
        }
      if (stages[i] == CAS_CI_VERDICT_SKIPPED)
        continue;
      if (deciding_stage != NULL)
        *deciding_stage = i;
      return stages[i] == CAS_CI_VERDICT_RED ? CAS_CI_VERDICT_RED : CAS_CI_VERDICT_PENDING;
    }
  return any_green ? CAS_CI_VERDICT_GREEN : CAS_CI_VERDICT_PENDING;
}
