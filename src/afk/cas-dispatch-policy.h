/* cas-dispatch-policy.h: which ready issues the AFK loop may dispatch,
 * and why each other one may not.
 *
 * Pure: the tracker fetches the facts (a CasCandidate per issue), the
 * run store and the tracker say which repos are locked, and
 * cas_dispatch_policy_decide () gives one verdict per candidate. The gates
 * run in SPEC 6's order, and the first that refuses names the verdict:
 *
 *   not-allowlisted          the repo is not in the allowlist
 *   not-an-issue             a pull request
 *   not-ready                closed, or without the ready label
 *   labeller-unknown         who last applied the ready label, or their
 *                            permission, is not known (fail closed)
 *   untrusted-labeller       they have less than write permission
 *   self-unknown             our own login is not known (fail closed)
 *   labelled-by-self         it was the service itself (loop guard)
 *   paused                   the paused label is on
 *   blocked                  a "Blocked by" issue is open, or its state
 *                            is not known, or there are too many
 *   repo-locked              a run holds the repo, or an open issue
 *                            carries the in-progress label
 *   lost-to-higher-priority  another issue of the repo goes first
 *   dispatch                 the winner
 *
 * At most one winner per repo: priority:N labels first, lower N first,
 * then lower issue numbers. This is what D-Bus Explain () and
 * GET /api/afk/plan show.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#include "cas-afk-parse.h"

G_BEGIN_DECLS

/* A collaborator's permission on a repo, as GitHub's collaborator
 * permission API names it; UNKNOWN when the lookup failed. */
typedef enum {
  CAS_PERMISSION_UNKNOWN,
  CAS_PERMISSION_NONE,
  CAS_PERMISSION_READ,
  CAS_PERMISSION_TRIAGE,
  CAS_PERMISSION_WRITE,
  CAS_PERMISSION_MAINTAIN,
  CAS_PERMISSION_ADMIN,
} CasPermission;

/* "admin", "maintain", "write", "triage", "read", "none"; anything else
 * is UNKNOWN. */
CasPermission cas_permission_from_string (const char *text);
const char *cas_permission_to_string (CasPermission permission);

typedef enum {
  CAS_BLOCKER_UNKNOWN,
  CAS_BLOCKER_OPEN,
  CAS_BLOCKER_CLOSED,
} CasBlockerState;

typedef struct {
  CasIssueRef *ref;          /* (owned) repo NULL: the candidate's own */
  CasBlockerState state;
} CasBlocker;

typedef struct {
  char *repo;
  guint number;
  char *title;               /* (nullable) */
  gboolean open;
  gboolean is_pull_request;
  GStrv labels;              /* (nullable) */
  char *ready_labeller;      /* (nullable) login of the last "labeled" event of the ready label */
  CasPermission labeller_permission;
  GPtrArray *blockers;       /* (element-type CasBlocker) */
  gboolean blockers_truncated; /* the body named more than CAS_AFK_MAX_BLOCKERS */
} CasCandidate;

/* An open issue with no labels, blockers or labeller yet. */
CasCandidate *cas_candidate_new (const char *repo,
                                 guint       number,
                                 const char *title);
void cas_candidate_free (CasCandidate *candidate);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasCandidate, cas_candidate_free)

void cas_candidate_set_labels (CasCandidate      *candidate,
                               const char *const *labels);
void cas_candidate_set_labeller (CasCandidate *candidate,
                                 const char   *login,
                                 CasPermission permission);
/* @repo NULL: the candidate's own repo. */
void cas_candidate_add_blocker (CasCandidate   *candidate,
                                const char     *repo,
                                guint           number,
                                CasBlockerState state);
/* Does the candidate carry @label (ASCII case-insensitive, as GitHub
 * compares label names)? */
gboolean cas_candidate_has_label (const CasCandidate *candidate,
                                  const char         *label);

typedef struct {
  const char *const *allowlist;
  const char *self_login;        /* (nullable) NULL refuses everything: fail closed */
  const char *ready_label;       /* (nullable) NULL: nothing is ready */
  const char *in_progress_label; /* (nullable) */
  const char *paused_label;      /* (nullable) */
} CasDispatchSettings;

typedef enum {
  CAS_DISPATCH_WIN,
  CAS_DISPATCH_NOT_ALLOWLISTED,
  CAS_DISPATCH_NOT_AN_ISSUE,
  CAS_DISPATCH_NOT_READY,
  CAS_DISPATCH_LABELLER_UNKNOWN,
  CAS_DISPATCH_UNTRUSTED_LABELLER,
  CAS_DISPATCH_SELF_UNKNOWN,
  CAS_DISPATCH_LABELLED_BY_SELF,
  CAS_DISPATCH_PAUSED,
  CAS_DISPATCH_BLOCKED,
  CAS_DISPATCH_REPO_LOCKED,
  CAS_DISPATCH_LOST_TO_HIGHER_PRIORITY,
} CasDispatchReason;

/* The stable machine strings above ("dispatch" for the winner). */
const char *cas_dispatch_reason_to_string (CasDispatchReason reason);

typedef struct {
  char *repo;
  guint number;
  char *title;               /* (nullable) valid UTF-8 */
  gboolean has_priority;
  guint priority;
  CasDispatchReason reason;
  char *message;             /* a translated sentence saying why */
} CasDispatchVerdict;

typedef struct {
  GPtrArray *verdicts;       /* (element-type CasDispatchVerdict) one per candidate, in their order */
  GPtrArray *winners;        /* (element-type CasDispatchVerdict) borrowed from verdicts, in dispatch order */
} CasDispatchPlan;

void cas_dispatch_plan_free (CasDispatchPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasDispatchPlan, cas_dispatch_plan_free)

/* @candidates: (element-type CasCandidate) (nullable); @locks:
 * (element-type CasIssueRef) (nullable) the issues holding their repo's
 * lock (a run in the store, an open issue with the in-progress label;
 * number 0 when not known). A candidate carrying the in-progress label
 * locks its repo too. */
CasDispatchPlan *cas_dispatch_policy_decide (GPtrArray                 *candidates,
                                             const CasDispatchSettings *settings,
                                             GPtrArray                 *locks);

/* The shapes of D-Bus Explain () (dbus/org.ClaudeAgentService.xml):
 * "repository", "issue", "title", "dispatch", "gate" (the machine string
 * of the gate that refused it, "" for a winner), "reason" (the
 * sentence), plus "priority" (null or -1 when none).
 *
 * JSON through cas-json: {"repository":..,"issue":..,"title":..,
 * "priority":N|null,"dispatch":bool,"gate":"..","reason":".."}. */
void cas_dispatch_verdict_append_json (const CasDispatchVerdict *verdict,
                                       GString                  *out);
/* A JSON array of every verdict, in the candidates' order. */
char *cas_dispatch_plan_to_json (const CasDispatchPlan *plan);
/* a{sv}: repository s, issue u, title s, dispatch b, gate s, reason s,
 * priority i. Floating. */
GVariant *cas_dispatch_verdict_to_variant (const CasDispatchVerdict *verdict);

G_END_DECLS
