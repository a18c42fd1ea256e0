/* cas-afk-parse.h: the AFK loop's parsers of tracker and T3 text.
 *
 * Pure and total: every function takes hostile input (NULL, empty, huge,
 * not UTF-8, NUL bytes inside a counted buffer) and answers "nothing
 * found" rather than failing. What counts as a reference, a priority or a
 * trailer is decided here, once, so the policy, the run machine and the
 * checklist agree.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* GitHub's limits: a login is at most 39 characters, a repository name
 * at most 100. */
#define CAS_AFK_MAX_OWNER_LENGTH 39
#define CAS_AFK_MAX_NAME_LENGTH 100
#define CAS_AFK_MAX_REPO_LENGTH (CAS_AFK_MAX_OWNER_LENGTH + 1 + CAS_AFK_MAX_NAME_LENGTH)
/* Issue numbers we accept: 1 .. G_MAXINT32 (GitHub's are 32-bit ints). */
#define CAS_AFK_MAX_ISSUE_NUMBER G_MAXINT32
/* Blockers one issue may name; the tracker asks for each one's state, so
 * a body naming more is refused as blocked rather than fetched. */
#define CAS_AFK_MAX_BLOCKERS 32
/* Entries in an allowlist (SetAllowlist, the config). */
#define CAS_AFK_MAX_ALLOWLIST 256

/* A reference to an issue: "#12" (repo NULL: the issue's own repository)
 * or "owner/name#12". */
typedef struct {
  char *repo;     /* (nullable) owner/name as written */
  guint number;
} CasIssueRef;

CasIssueRef *cas_issue_ref_new (const char *repo,
                                guint       number);
CasIssueRef *cas_issue_ref_copy (const CasIssueRef *ref);
void cas_issue_ref_free (CasIssueRef *ref);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasIssueRef, cas_issue_ref_free)
/* "#12" or "owner/name#12". */
char *cas_issue_ref_to_string (const CasIssueRef *ref);
/* Does @ref name issue @number of @repo, for an issue of @own_repo?
 * Repository names compare without case, as GitHub does. */
gboolean cas_issue_ref_matches (const CasIssueRef *ref,
                                const char        *own_repo,
                                const char        *repo,
                                guint              number);

/* Repository names as GitHub compares them: ASCII case-insensitive. */
gboolean cas_afk_repo_equal (const char *a,
                             const char *b);

/* "Blocked by" references in an issue body.
 *
 * What counts: on a line that contains the words "blocked by" (any case,
 * any run of spaces or tabs between them, "blocked" not preceded by a
 * letter, digit or underscore, so "unblocked by #3" does not count), every
 * reference after those words up to the end of that line: "#N", or
 * "owner/name#N" written without spaces. A reference must stand alone:
 * "#12abc", "a#12" or "#0" are not references, nor is a number above
 * CAS_AFK_MAX_ISSUE_NUMBER. "Blocked by #3, #4 and other/repo#10" gives
 * #3, #4, other/repo#10. Order is kept, duplicates (same repo without
 * case, same number) dropped. Markdown around them ("**Blocked by**",
 * "- blocked by #3") does not matter. Words before the clause are not
 * read: "not blocked by #3" still names #3, which errs towards waiting.
 *
 * At most CAS_AFK_MAX_BLOCKERS are returned; @truncated (nullable) says
 * there were more. @length -1: NUL-terminated. Never NULL.
 * Returns: (element-type CasIssueRef) (transfer full) */
GPtrArray *cas_afk_parse_blocked_by (const char *body,
                                     gssize      length,
                                     gboolean   *truncated);

/* The priority of an issue from its labels: the lowest N of the labels
 * "priority:N" (the prefix in any case, N decimal digits only, no sign,
 * no spaces, at most G_MAXINT32). "priority:high", "priority: 1" and
 * overflowing numbers are ignored. FALSE when no label gives one
 * (@priority untouched). @labels is NULL-terminated and may be NULL;
 * NULL entries are not possible in a strv. */
gboolean cas_afk_parse_priority (const char *const *labels,
                                 guint             *priority);

/* T3 `latestTurn.state` (t3-contract.md 5.1, 7): exactly these four
 * strings; anything else, a missing turn included, is UNKNOWN, which
 * means "wait". */
typedef enum {
  CAS_AFK_TURN_UNKNOWN,
  CAS_AFK_TURN_RUNNING,
  CAS_AFK_TURN_INTERRUPTED,
  CAS_AFK_TURN_COMPLETED,
  CAS_AFK_TURN_ERROR,
} CasAfkTurnState;

CasAfkTurnState cas_afk_parse_turn_state (const char *state);
const char *cas_afk_turn_state_to_string (CasAfkTurnState state);

/* T3 `session.status` (t3-contract.md 5.1); UNKNOWN for anything else
 * or no session. */
typedef enum {
  CAS_AFK_SESSION_UNKNOWN,
  CAS_AFK_SESSION_IDLE,
  CAS_AFK_SESSION_STARTING,
  CAS_AFK_SESSION_RUNNING,
  CAS_AFK_SESSION_READY,
  CAS_AFK_SESSION_INTERRUPTED,
  CAS_AFK_SESSION_STOPPED,
  CAS_AFK_SESSION_ERROR,
} CasAfkSessionStatus;

CasAfkSessionStatus cas_afk_parse_session_status (const char *status);

/* The AFK-Issue trailers of a commit message, as git reads trailers: the
 * message's last paragraph (lines after the last blank line, trailing
 * blank lines ignored), provided it is not the subject's paragraph and
 * every line in it is a trailer ("Key: value", the key made of letters,
 * digits and '-') or a continuation (starting with a space or tab). Of
 * those, the ones whose key is "AFK-Issue" (any case) and whose value is
 * exactly one reference, "#N" or "owner/name#N" (spaces around it
 * allowed). "Closes #N" or an AFK-Issue line in the body never count.
 * CR LF line ends are fine. At most CAS_AFK_MAX_BLOCKERS are returned.
 * Returns: (element-type CasIssueRef) (transfer full), never NULL */
GPtrArray *cas_afk_parse_trailers (const char *message,
                                   gssize      length);

/* Does @message carry an AFK-Issue trailer for issue @number of @repo?
 * "#N" counts for the repository the commit is in, @repo. */
gboolean cas_afk_message_has_trailer (const char *message,
                                      gssize      length,
                                      const char *repo,
                                      guint       number);

/* An allowlist entry: "owner/name", owner 1-39 letters, digits or '-'
 * (not first or last), name 1-100 letters, digits, '.', '_' or '-', not
 * "." or ".." nor containing "..". FALSE with CAS_ERROR_INVALID_ARGUMENT
 * and a translated message otherwise. */
gboolean cas_afk_validate_repo (const char *entry,
                                GError    **error);
/* Every entry valid, no two equal (without case), at most
 * CAS_AFK_MAX_ALLOWLIST of them. NULL is the empty list. */
gboolean cas_afk_validate_allowlist (const char *const *entries,
                                     GError           **error);
/* Is @repo in @allowlist (without case)? */
gboolean cas_afk_allowlist_contains (const char *const *allowlist,
                                     const char        *repo);

G_END_DECLS
