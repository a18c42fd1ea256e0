/* cas-tracker.h: the GitHub REST calls of the AFK loop, over one
 * SoupSession.
 *
 * Every call is asynchronous and runs on the main context the tracker
 * was made in. Repositories are "owner/name". Errors are CAS_ERROR with
 * a message naming the call and the HTTP status: CAS_ERROR_UNAUTHORIZED
 * (401, 403, no token), CAS_ERROR_NOT_FOUND (404),
 * CAS_ERROR_INVALID_ARGUMENT (bad arguments, 400, 422),
 * CAS_ERROR_TOO_MANY_REQUESTS (rate limited: see
 * cas_tracker_get_blocked_until), CAS_ERROR_PAYLOAD_TOO_LARGE (an answer
 * over CAS_TRACKER_MAX_BODY_BYTES), CAS_ERROR_TIMED_OUT, and
 * CAS_ERROR_FAILED (cannot connect, 5xx, JSON of the wrong shape). A
 * cancelled call fails with G_IO_ERROR_CANCELLED.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "cas-config.h"

G_BEGIN_DECLS

/* Answers larger than this are refused, whatever they claim. */
#define CAS_TRACKER_MAX_BODY_BYTES (8 * 1024 * 1024)
/* Paginated calls follow at most this many pages. */
#define CAS_TRACKER_MAX_PAGES 100

typedef struct {
  gint64 number;
  char *title;            /* (owned) never NULL */
  char *body;             /* (owned) never NULL; "" for a null body */
  char *state;            /* (owned) "open" or "closed" */
  GStrv labels;           /* (owned) label names, never NULL */
  gboolean is_pull_request;
} CasTrackerIssue;

typedef struct {
  char *sha;              /* (owned) */
  char *message;          /* (owned) the whole message, trailers included */
  gint64 date;            /* committer date, Unix seconds */
} CasTrackerCommit;

typedef struct {
  gint64 id;
  char *body;             /* (owned) */
} CasTrackerComment;

typedef struct {
  char *name;             /* (owned) */
  char *status;           /* (owned) "queued", "in_progress", "completed", ... */
  char *conclusion;       /* (owned) (nullable) "success", "failure", ...; NULL until completed */
} CasTrackerCheckRun;

void cas_tracker_issue_free (CasTrackerIssue *issue);
void cas_tracker_commit_free (CasTrackerCommit *commit);
void cas_tracker_comment_free (CasTrackerComment *comment);
void cas_tracker_check_run_free (CasTrackerCheckRun *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasTrackerIssue, cas_tracker_issue_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasTrackerCommit, cas_tracker_commit_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasTrackerComment, cas_tracker_comment_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasTrackerCheckRun, cas_tracker_check_run_free)

#define CAS_TYPE_TRACKER (cas_tracker_get_type ())
G_DECLARE_FINAL_TYPE (CasTracker, cas_tracker, CAS, TRACKER, GObject)

/* Uses [github] api-url and self-login of @config. The token is read
 * before every call from [github] token-file, else the credential
 * "github-token" in $CREDENTIALS_DIRECTORY of @envp (so a rotated token is
 * picked up); no token makes each call fail, not this. Fails only for an
 * api-url that is not an absolute http(s) URL. */
CasTracker *cas_tracker_new (const CasConfig    *config,
                             const char * const *envp,
                             GError            **error);

/* Unix time before which calls are refused because GitHub said the rate
 * limit is spent; 0 when calls are allowed. */
gint64 cas_tracker_get_blocked_until (CasTracker *self);

/* Whether @repo is a well-formed "owner/name". */
gboolean cas_tracker_repo_is_valid (const char *repo);

/* Open issues of @repo carrying @label, every page, pull requests left
 * out. Finish: a GPtrArray of CasTrackerIssue (newest first). */
void cas_tracker_list_ready_async (CasTracker         *self,
                                   const char         *repo,
                                   const char         *label,
                                   GCancellable       *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer            user_data);
GPtrArray *cas_tracker_list_ready_finish (CasTracker   *self,
                                          GAsyncResult *result,
                                          GError      **error);

/* One issue (or pull request); its state answers "is the blocker open?". */
void cas_tracker_get_issue_async (CasTracker         *self,
                                  const char         *repo,
                                  gint64              number,
                                  GCancellable       *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer            user_data);
CasTrackerIssue *cas_tracker_get_issue_finish (CasTracker   *self,
                                               GAsyncResult *result,
                                               GError      **error);

/* Who applied @label to the issue last (its last "labeled" event).
 * Finish: the login, or NULL with no error when no such event exists. */
void cas_tracker_label_actor_async (CasTracker         *self,
                                    const char         *repo,
                                    gint64              number,
                                    const char         *label,
                                    GCancellable       *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer            user_data);
char *cas_tracker_label_actor_finish (CasTracker   *self,
                                      GAsyncResult *result,
                                      GError      **error);

/* @login's permission on @repo: "admin", "maintain", "write", "triage",
 * "read" or "none" (a non-collaborator, GitHub's 404). Any other failure
 * is an error, so a policy built on it fails closed. */
void cas_tracker_permission_async (CasTracker         *self,
                                   const char         *repo,
                                   const char         *login,
                                   GCancellable       *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer            user_data);
char *cas_tracker_permission_finish (CasTracker   *self,
                                     GAsyncResult *result,
                                     GError      **error);

/* The login the token belongs to: [github] self-login if set, else
 * asked of GET /user once and remembered. */
void cas_tracker_self_login_async (CasTracker         *self,
                                   GCancellable       *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer            user_data);
char *cas_tracker_self_login_finish (CasTracker   *self,
                                     GAsyncResult *result,
                                     GError      **error);

/* The repository's default branch. */
void cas_tracker_default_branch_async (CasTracker         *self,
                                       const char         *repo,
                                       GCancellable       *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer            user_data);
char *cas_tracker_default_branch_finish (CasTracker   *self,
                                         GAsyncResult *result,
                                         GError      **error);

/* Commits on @branch since @since (Unix seconds; inclusive), every page.
 * Finish: a GPtrArray of CasTrackerCommit, newest first. */
void cas_tracker_commits_since_async (CasTracker         *self,
                                      const char         *repo,
                                      const char         *branch,
                                      gint64              since,
                                      GCancellable       *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer            user_data);
GPtrArray *cas_tracker_commits_since_finish (CasTracker   *self,
                                             GAsyncResult *result,
                                             GError      **error);

/* Adds @labels (NULL-terminated, at least one) to the issue. */
void cas_tracker_add_labels_async (CasTracker         *self,
                                   const char         *repo,
                                   gint64              number,
                                   const char * const *labels,
                                   GCancellable       *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer            user_data);
gboolean cas_tracker_add_labels_finish (CasTracker   *self,
                                        GAsyncResult *result,
                                        GError      **error);

/* Removes @label from the issue; a label it does not carry is success. */
void cas_tracker_remove_label_async (CasTracker         *self,
                                     const char         *repo,
                                     gint64              number,
                                     const char         *label,
                                     GCancellable       *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer            user_data);
gboolean cas_tracker_remove_label_finish (CasTracker   *self,
                                          GAsyncResult *result,
                                          GError      **error);

/* Our comment on the issue: the first one by the self login whose body
 * contains @marker. Finish: it, or NULL with no error when there is none. */
void cas_tracker_find_comment_async (CasTracker         *self,
                                     const char         *repo,
                                     gint64              number,
                                     const char         *marker,
                                     GCancellable       *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer            user_data);
CasTrackerComment *cas_tracker_find_comment_finish (CasTracker   *self,
                                                    GAsyncResult *result,
                                                    GError      **error);

/* Posts a comment. Finish: its id (0 with @error set on failure). */
void cas_tracker_create_comment_async (CasTracker         *self,
                                       const char         *repo,
                                       gint64              number,
                                       const char         *body,
                                       GCancellable       *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer            user_data);
gint64 cas_tracker_create_comment_finish (CasTracker   *self,
                                          GAsyncResult *result,
                                          GError      **error);

/* Replaces the body of comment @comment_id. */
void cas_tracker_edit_comment_async (CasTracker         *self,
                                     const char         *repo,
                                     gint64              comment_id,
                                     const char         *body,
                                     GCancellable       *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer            user_data);
gboolean cas_tracker_edit_comment_finish (CasTracker   *self,
                                          GAsyncResult *result,
                                          GError      **error);

/* Closes the issue. */
void cas_tracker_close_issue_async (CasTracker         *self,
                                    const char         *repo,
                                    gint64              number,
                                    GCancellable       *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer            user_data);
gboolean cas_tracker_close_issue_finish (CasTracker   *self,
                                         GAsyncResult *result,
                                         GError      **error);

/* Check runs of commit @sha, every page. Finish: a GPtrArray of
 * CasTrackerCheckRun (empty when CI has not started any). */
void cas_tracker_check_runs_async (CasTracker         *self,
                                   const char         *repo,
                                   const char         *sha,
                                   GCancellable       *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer            user_data);
GPtrArray *cas_tracker_check_runs_finish (CasTracker   *self,
                                          GAsyncResult *result,
                                          GError      **error);

G_END_DECLS
