/* cas-dispatch-policy.c: the selection gates of the AFK loop (the table
 * is in the header).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-afk"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cas-dispatch-policy.h"
#include "cas-json.h"

static const char *const permission_names[] = {
  [CAS_PERMISSION_UNKNOWN] = "unknown",
  [CAS_PERMISSION_NONE] = "none",
  [CAS_PERMISSION_READ] = "read",
  [CAS_PERMISSION_TRIAGE] = "triage",
  [CAS_PERMISSION_WRITE] = "write",
  [CAS_PERMISSION_MAINTAIN] = "maintain",
  [CAS_PERMISSION_ADMIN] = "admin",
};

CasPermission
cas_permission_from_string (const char *text)
{
  if (text == NULL)
    return CAS_PERMISSION_UNKNOWN;
  for (guint i = CAS_PERMISSION_NONE; i < G_N_ELEMENTS (permission_names); i++)
    if (strcmp (text, permission_names[i]) == 0)
      return (CasPermission) i;
  return CAS_PERMISSION_UNKNOWN;
}

const char *
cas_permission_to_string (CasPermission permission)
{
  if ((guint) permission >= G_N_ELEMENTS (permission_names))
    return "unknown";
  return permission_names[permission];
}

static const char *const reason_names[] = {
  [CAS_DISPATCH_WIN] = "dispatch",
  [CAS_DISPATCH_NOT_ALLOWLISTED] = "not-allowlisted",
  [CAS_DISPATCH_NOT_AN_ISSUE] = "not-an-issue",
  [CAS_DISPATCH_NOT_READY] = "not-ready",
  [CAS_DISPATCH_LABELLER_UNKNOWN] = "labeller-unknown",
  [CAS_DISPATCH_UNTRUSTED_LABELLER] = "untrusted-labeller",
  [CAS_DISPATCH_SELF_UNKNOWN] = "self-unknown",
  [CAS_DISPATCH_LABELLED_BY_SELF] = "labelled-by-self",
  [CAS_DISPATCH_PAUSED] = "paused",
  [CAS_DISPATCH_BLOCKED] = "blocked",
  [CAS_DISPATCH_REPO_LOCKED] = "repo-locked",
  [CAS_DISPATCH_LOST_TO_HIGHER_PRIORITY] = "lost-to-higher-priority",
};

const char *
cas_dispatch_reason_to_string (CasDispatchReason reason)
{
  if ((guint) reason >= G_N_ELEMENTS (reason_names))
    return "unknown";
  return reason_names[reason];
}

static void
blocker_free (CasBlocker *blocker)
{
  cas_issue_ref_free (blocker->ref);
  g_free (blocker);
}

CasCandidate *
cas_candidate_new (const char *repo,
                   guint       number,
                   const char *title)
{
  CasCandidate *candidate = g_new0 (CasCandidate, 1);

  candidate->repo = g_strdup (repo);
  candidate->number = number;
  candidate->title = g_strdup (title);
  candidate->open = TRUE;
  candidate->blockers = g_ptr_array_new_with_free_func ((GDestroyNotify) blocker_free);
  return candidate;
}

void
cas_candidate_free (CasCandidate *candidate)
{
  if (candidate == NULL)
    return;
  g_free (candidate->repo);
  g_free (candidate->title);
  g_strfreev (candidate->labels);
  g_free (candidate->ready_labeller);
  g_ptr_array_unref (candidate->blockers);
  g_free (candidate);
}

void
cas_candidate_set_labels (CasCandidate      *candidate,
                          const char *const *labels)
{
  g_strfreev (candidate->labels);
  candidate->labels = g_strdupv ((char **) labels);
}

void
cas_candidate_set_labeller (CasCandidate *candidate,
                            const char   *login,
                            CasPermission permission)
{
  g_free (candidate->ready_labeller);
  candidate->ready_labeller = g_strdup (login);
  candidate->labeller_permission = permission;
}

void
cas_candidate_add_blocker (CasCandidate   *candidate,
                           const char     *repo,
                           guint           number,
                           CasBlockerState state)
{
  CasBlocker *blocker = g_new0 (CasBlocker, 1);

  blocker->ref = cas_issue_ref_new (repo, number);
  blocker->state = state;
  g_ptr_array_add (candidate->blockers, blocker);
}

static gboolean
label_equal (const char *a,
             const char *b)
{
  return a != NULL && b != NULL && *b != '\0' && g_ascii_strcasecmp (a, b) == 0;
}

gboolean
cas_candidate_has_label (const CasCandidate *candidate,
                         const char         *label)
{
  for (gsize i = 0; candidate->labels != NULL && candidate->labels[i] != NULL; i++)
    if (label_equal (candidate->labels[i], label))
      return TRUE;
  return FALSE;
}

static void
verdict_free (CasDispatchVerdict *verdict)
{
  g_free (verdict->repo);
  g_free (verdict->title);
  g_free (verdict->message);
  g_free (verdict);
}

void
cas_dispatch_plan_free (CasDispatchPlan *plan)
{
  if (plan == NULL)
    return;
  g_ptr_array_unref (plan->winners);
  g_ptr_array_unref (plan->verdicts);
  g_free (plan);
}

/* Outside text in a sentence: valid UTF-8, no control characters, at
 * most 100 characters. */
static char *
shown (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text != NULL ? text : "", -1);
  GString *out = g_string_new (NULL);
  guint n = 0;

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (n++ == 100)
        {
          g_string_append (out, "…");
          break;
        }
      if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
        g_string_append_c (out, ' ');
      else
        g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

static gboolean
permission_is_trusted (CasPermission permission)
{
  return permission == CAS_PERMISSION_WRITE || permission == CAS_PERMISSION_MAINTAIN ||
         permission == CAS_PERMISSION_ADMIN;
}

/* The lock on @repo, if any: the issue holding it (number 0: not known). */
static const CasIssueRef *
find_lock (GPtrArray  *locks,
           const char *repo)
{
  for (guint i = 0; locks != NULL && i < locks->len; i++)
    {
      const CasIssueRef *lock = g_ptr_array_index (locks, i);

      if (cas_afk_repo_equal (lock->repo, repo))
        return lock;
    }
  return NULL;
}

/* The gates before priority, in SPEC 6's order; WIN when all pass, with
 * the sentence of a refusal in @message. */
static CasDispatchReason
check_gates (const CasCandidate        *candidate,
             const CasDispatchSettings *settings,
             GPtrArray                 *locks,
             char                     **message)
{
  g_autofree char *repo = shown (candidate->repo);
  g_autofree char *ready = shown (settings->ready_label);
  g_autofree char *login = NULL;

  if (!cas_afk_validate_repo (candidate->repo, NULL) ||
      !cas_afk_allowlist_contains (settings->allowlist, candidate->repo))
    {
      *message = g_strdup_printf (_("%s is not in the allowlist."), repo);
      return CAS_DISPATCH_NOT_ALLOWLISTED;
    }
  if (candidate->is_pull_request)
    {
      *message = g_strdup_printf (_("#%u is a pull request, not an issue."), candidate->number);
      return CAS_DISPATCH_NOT_AN_ISSUE;
    }
  if (!candidate->open || candidate->number == 0 || candidate->number > CAS_AFK_MAX_ISSUE_NUMBER)
    {
      *message = g_strdup (_("The issue is closed."));
      return CAS_DISPATCH_NOT_READY;
    }
  if (settings->ready_label == NULL || !cas_candidate_has_label (candidate, settings->ready_label))
    {
      *message = g_strdup_printf (_("The issue does not carry the “%s” label."), ready);
      return CAS_DISPATCH_NOT_READY;
    }

  if (candidate->ready_labeller == NULL || *candidate->ready_labeller == '\0')
    {
      *message = g_strdup_printf (_("Who last applied the “%s” label is not known."), ready);
      return CAS_DISPATCH_LABELLER_UNKNOWN;
    }
  login = shown (candidate->ready_labeller);
  if (candidate->labeller_permission == CAS_PERMISSION_UNKNOWN)
    {
      *message = g_strdup_printf (_("The permission of %s, who last applied the “%s” label, "
                                    "is not known."), login, ready);
      return CAS_DISPATCH_LABELLER_UNKNOWN;
    }
  if (!permission_is_trusted (candidate->labeller_permission))
    {
      *message = g_strdup_printf (_("The “%s” label was last applied by %s, who has “%s” "
                                    "permission on %s; write, maintain or admin is needed."),
                                  ready, login,
                                  cas_permission_to_string (candidate->labeller_permission), repo);
      return CAS_DISPATCH_UNTRUSTED_LABELLER;
    }
  if (settings->self_login == NULL || *settings->self_login == '\0')
    {
      *message = g_strdup (_("The service’s own GitHub login is not known, so its own "
                             "label changes cannot be told apart."));
      return CAS_DISPATCH_SELF_UNKNOWN;
    }
  /* GitHub logins compare without case. */
  if (g_ascii_strcasecmp (candidate->ready_labeller, settings->self_login) == 0)
    {
      *message = g_strdup_printf (_("The “%s” label was last applied by the service itself (%s)."),
                                  ready, login);
      return CAS_DISPATCH_LABELLED_BY_SELF;
    }

  if (settings->paused_label != NULL && cas_candidate_has_label (candidate, settings->paused_label))
    {
      g_autofree char *paused = shown (settings->paused_label);

      *message = g_strdup_printf (_("The issue carries the “%s” label."), paused);
      return CAS_DISPATCH_PAUSED;
    }

  if (candidate->blockers_truncated)
    {
      *message = g_strdup_printf (_("The issue names more than %d blockers."), CAS_AFK_MAX_BLOCKERS);
      return CAS_DISPATCH_BLOCKED;
    }
  for (guint i = 0; i < candidate->blockers->len; i++)
    {
      const CasBlocker *blocker = g_ptr_array_index (candidate->blockers, i);
      g_autofree char *ref = NULL;
      g_autofree char *ref_shown = NULL;

      if (blocker->state == CAS_BLOCKER_CLOSED)
        continue;
      ref = cas_issue_ref_to_string (blocker->ref);
      ref_shown = shown (ref);
      if (blocker->state == CAS_BLOCKER_OPEN)
        *message = g_strdup_printf (_("Blocked by %s, which is still open."), ref_shown);
      else
        *message = g_strdup_printf (_("Blocked by %s, whose state is not known."), ref_shown);
      return CAS_DISPATCH_BLOCKED;
    }

  {
    const CasIssueRef *lock = find_lock (locks, candidate->repo);

    if (lock != NULL && lock->number != 0)
      {
        *message = g_strdup_printf (_("%s is busy with #%u."), repo, lock->number);
        return CAS_DISPATCH_REPO_LOCKED;
      }
    if (lock != NULL)
      {
        *message = g_strdup_printf (_("%s is busy with another run."), repo);
        return CAS_DISPATCH_REPO_LOCKED;
      }
  }
  return CAS_DISPATCH_WIN;
}

/* Dispatch order: a priority before none, lower first, then lower issue
 * numbers, then the repo's name (for winners across repos). */
static int
compare_order (gconstpointer a,
               gconstpointer b)
{
  const CasDispatchVerdict *x = *(CasDispatchVerdict *const *) a;
  const CasDispatchVerdict *y = *(CasDispatchVerdict *const *) b;

  if (x->has_priority != y->has_priority)
    return x->has_priority ? -1 : 1;
  if (x->has_priority && x->priority != y->priority)
    return x->priority < y->priority ? -1 : 1;
  if (x->number != y->number)
    return x->number < y->number ? -1 : 1;
  return g_ascii_strcasecmp (x->repo, y->repo);
}

CasDispatchPlan *
cas_dispatch_policy_decide (GPtrArray                 *candidates,
                            const CasDispatchSettings *settings,
                            GPtrArray                 *locks)
{
  CasDispatchPlan *plan = g_new0 (CasDispatchPlan, 1);
  g_autoptr (GPtrArray) all_locks = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_issue_ref_free);
  g_autoptr (GPtrArray) passing = g_ptr_array_new ();
  guint n = candidates != NULL ? candidates->len : 0;

  plan->verdicts = g_ptr_array_new_with_free_func ((GDestroyNotify) verdict_free);
  plan->winners = g_ptr_array_new ();

  /* The locks: the caller's, then open candidates with the in-progress
   * label, whatever their other labels. */
  for (guint i = 0; locks != NULL && i < locks->len; i++)
    {
      const CasIssueRef *lock = g_ptr_array_index (locks, i);

      if (lock != NULL && lock->repo != NULL)
        g_ptr_array_add (all_locks, cas_issue_ref_copy (lock));
    }
  for (guint i = 0; i < n; i++)
    {
      const CasCandidate *candidate = g_ptr_array_index (candidates, i);

      if (candidate->open && !candidate->is_pull_request && candidate->repo != NULL &&
          settings->in_progress_label != NULL &&
          cas_candidate_has_label (candidate, settings->in_progress_label))
        g_ptr_array_add (all_locks, cas_issue_ref_new (candidate->repo, candidate->number));
    }

  for (guint i = 0; i < n; i++)
    {
      const CasCandidate *candidate = g_ptr_array_index (candidates, i);
      CasDispatchVerdict *verdict = g_new0 (CasDispatchVerdict, 1);

      verdict->repo = g_strdup (candidate->repo != NULL ? candidate->repo : "");
      if (!g_utf8_validate (verdict->repo, -1, NULL))
        {
          g_free (verdict->repo);
          verdict->repo = shown (candidate->repo);
        }
      verdict->number = candidate->number;
      verdict->title = candidate->title != NULL ? g_utf8_make_valid (candidate->title, -1) : NULL;
      verdict->has_priority = cas_afk_parse_priority ((const char *const *) candidate->labels,
                                                      &verdict->priority);
      verdict->reason = check_gates (candidate, settings, all_locks, &verdict->message);
      g_ptr_array_add (plan->verdicts, verdict);
      if (verdict->reason == CAS_DISPATCH_WIN)
        g_ptr_array_add (passing, verdict);
    }

  /* One winner per repo. */
  g_ptr_array_sort (passing, compare_order);
  for (guint i = 0; i < passing->len; i++)
    {
      CasDispatchVerdict *verdict = g_ptr_array_index (passing, i);
      CasDispatchVerdict *winner = NULL;

      for (guint j = 0; j < plan->winners->len && winner == NULL; j++)
        if (cas_afk_repo_equal (((CasDispatchVerdict *) g_ptr_array_index (plan->winners, j))->repo,
                                verdict->repo))
          winner = g_ptr_array_index (plan->winners, j);

      if (winner == NULL)
        {
          g_autofree char *repo = shown (verdict->repo);

          verdict->message = g_strdup_printf (_("Passes every gate and goes first in %s."), repo);
          g_ptr_array_add (plan->winners, verdict);
        }
      else
        {
          g_autofree char *repo = shown (winner->repo);

          verdict->reason = CAS_DISPATCH_LOST_TO_HIGHER_PRIORITY;
          verdict->message = g_strdup_printf (_("Passes every gate, but %s#%u goes first."),
                                              repo, winner->number);
        }
    }
  return plan;
}

static void
append_key (GString    *out,
            const char *key,
            gboolean    first)
{
  if (!first)
    g_string_append_c (out, ',');
  cas_json_append_string (out, key);
  g_string_append_c (out, ':');
}

/* The gate that refused a verdict, "" for the winner, as D-Bus Explain ()
 * names it. */
static const char *
gate_name (const CasDispatchVerdict *verdict)
{
  return verdict->reason == CAS_DISPATCH_WIN ? "" : cas_dispatch_reason_to_string (verdict->reason);
}

void
cas_dispatch_verdict_append_json (const CasDispatchVerdict *verdict,
                                  GString                  *out)
{
  g_string_append_c (out, '{');
  append_key (out, "repository", TRUE);
  cas_json_append_string (out, verdict->repo);
  append_key (out, "issue", FALSE);
  g_string_append_printf (out, "%u", verdict->number);
  append_key (out, "title", FALSE);
  cas_json_append_string (out, verdict->title);
  append_key (out, "priority", FALSE);
  if (verdict->has_priority)
    g_string_append_printf (out, "%u", verdict->priority);
  else
    g_string_append (out, "null");
  append_key (out, "dispatch", FALSE);
  g_string_append (out, verdict->reason == CAS_DISPATCH_WIN ? "true" : "false");
  append_key (out, "gate", FALSE);
  cas_json_append_string (out, gate_name (verdict));
  append_key (out, "reason", FALSE);
  cas_json_append_string (out, verdict->message);
  g_string_append_c (out, '}');
}

char *
cas_dispatch_plan_to_json (const CasDispatchPlan *plan)
{
  GString *out = g_string_new ("[");

  for (guint i = 0; i < plan->verdicts->len; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      cas_dispatch_verdict_append_json (g_ptr_array_index (plan->verdicts, i), out);
    }
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}

GVariant *
cas_dispatch_verdict_to_variant (const CasDispatchVerdict *verdict)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", "repository", g_variant_new_string (verdict->repo));
  g_variant_builder_add (&builder, "{sv}", "issue", g_variant_new_uint32 (verdict->number));
  g_variant_builder_add (&builder, "{sv}", "title",
                         g_variant_new_string (verdict->title != NULL ? verdict->title : ""));
  g_variant_builder_add (&builder, "{sv}", "dispatch",
                         g_variant_new_boolean (verdict->reason == CAS_DISPATCH_WIN));
  g_variant_builder_add (&builder, "{sv}", "gate", g_variant_new_string (gate_name (verdict)));
  g_variant_builder_add (&builder, "{sv}", "reason", g_variant_new_string (verdict->message));
  g_variant_builder_add (&builder, "{sv}", "priority",
                         g_variant_new_int32 (verdict->has_priority ? (gint32) verdict->priority : -1));
  return g_variant_builder_end (&builder);
}
