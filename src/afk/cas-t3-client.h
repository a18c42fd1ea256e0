/* cas-t3-client.h: a client of one T3 Code server's orchestration HTTP
 * API (reference/t3-contract.md): projects, threads, turns and thread
 * liveness, for the AFK loop.
 *
 * Call everything from the main thread. The token file is read again for
 * every request (T3 tokens rotate) and never logged.
 *
 * Errors, all in CAS_ERROR unless cancelled (G_IO_ERROR_CANCELLED):
 *  - CAS_ERROR_CONFLICT: T3 rejected a command on a business rule (its
 *    500 "orchestration_dispatch_failed": a missing thread or project, a
 *    duplicate, an archived thread...). The same command will fail again:
 *    do not retry blindly, re-read the state first (see
 *    cas_t3_client_error_is_rejected ()).
 *  - CAS_ERROR_FAILED: T3 could not be reached, answered another 5xx, or
 *    answered something that is not the contract's JSON (garbage, wrong
 *    types, larger than the body limit). Transient: try again later.
 *  - CAS_ERROR_TIMED_OUT: no progress on the connection for
 *    CAS_T3_CLIENT_TIMEOUT_SECONDS.
 *    Transient too.
 *  - CAS_ERROR_UNAUTHORIZED: the token is missing, wrong, expired or
 *    lacks a scope (HTTP 401/403).
 *  - CAS_ERROR_INVALID_ARGUMENT: our own arguments (a relative workspace
 *    root, an empty prompt...) or T3's 400 (a workspace root that does not
 *    exist on the T3 host, a command T3's schema refuses).
 *  - CAS_ERROR_NOT_FOUND: the thread is not there (missing, deleted or
 *    archived).
 *  - CAS_ERROR_TOO_MANY_REQUESTS: the thread is busy (its session is
 *    starting or running); a turn started now would steer it. Try later.
 *  - CAS_ERROR_CONFIG: no base-url, or no usable token.
 *
 * A command lost in transport is sent once more with the same commandId
 * (T3 applies a commandId once). When that fails too, or the call is
 * cancelled after sending, the command may still have landed: re-read
 * before sending it anew (a thread created that way is one the caller
 * does not know the id of).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "cas-config.h"

G_BEGIN_DECLS

/* Answers larger than this are refused (a v0.0.27 /snapshot carries every
 * message of every thread). */
#define CAS_T3_CLIENT_MAX_BODY_BYTES (16 * 1024 * 1024)
/* What T3's provider accepts as one user message (in characters). */
#define CAS_T3_CLIENT_MAX_PROMPT_CHARS 120000
/* Seconds without progress on a connection before a request fails. */
#define CAS_T3_CLIENT_TIMEOUT_SECONDS 60
/* The model when [t3] model is not set. */
#define CAS_T3_CLIENT_DEFAULT_MODEL "claude-sonnet-4-6"

/* latestTurn.state. UNKNOWN is a state this client does not know: wait. */
typedef enum {
  CAS_T3_TURN_NONE,          /* no turn on the thread yet */
  CAS_T3_TURN_RUNNING,
  CAS_T3_TURN_COMPLETED,
  CAS_T3_TURN_INTERRUPTED,
  CAS_T3_TURN_ERROR,
  CAS_T3_TURN_UNKNOWN,
} CasT3TurnState;

/* session.status. */
typedef enum {
  CAS_T3_SESSION_NONE,       /* no session (null) */
  CAS_T3_SESSION_IDLE,
  CAS_T3_SESSION_STARTING,
  CAS_T3_SESSION_RUNNING,
  CAS_T3_SESSION_READY,
  CAS_T3_SESSION_INTERRUPTED,
  CAS_T3_SESSION_STOPPED,
  CAS_T3_SESSION_ERROR,
  CAS_T3_SESSION_UNKNOWN,
} CasT3SessionStatus;

/* Which read API the server has: /api/orchestration/shell (v0.0.29+) or
 * only /api/orchestration/snapshot (v0.0.27). */
typedef enum {
  CAS_T3_API_UNKNOWN,        /* not asked yet */
  CAS_T3_API_SHELL,
  CAS_T3_API_SNAPSHOT,
} CasT3Api;

/* One thread's liveness. Strings are owned; the nullable ones are NULL
 * when T3 has null there. */
typedef struct {
  char *thread_id;
  char *project_id;               /* (nullable) */
  char *latest_turn_id;           /* (nullable): no turn yet */
  CasT3TurnState turn_state;
  char *turn_state_name;          /* (nullable): T3's word, for logs */
  CasT3SessionStatus session_status;
  char *session_active_turn_id;   /* (nullable) */
  char *session_last_error;       /* (nullable) */
  char *session_updated_at;       /* (nullable): T3's timestamp, compared only */
  gboolean has_pending_approvals;
  gboolean has_pending_user_input;
} CasT3ThreadStatus;

void cas_t3_thread_status_free (CasT3ThreadStatus *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasT3ThreadStatus, cas_t3_thread_status_free)

/* TRUE when the latest turn is not @previous_turn_id (NULL: the thread
 * had none): T3 mints turn ids, so the first new one after a dispatch is
 * the turn that dispatch started. */
gboolean cas_t3_thread_status_has_new_turn (const CasT3ThreadStatus *self,
                                            const char              *previous_turn_id);

/* TRUE while the session is starting or running. */
gboolean cas_t3_thread_status_is_busy (const CasT3ThreadStatus *self);

/* Where the turn a dispatch started stands (contract 5.2). */
typedef enum {
  CAS_T3_OUTCOME_WAITING,       /* not visible yet: T3 shows the turn once it runs */
  CAS_T3_OUTCOME_WORKING,
  CAS_T3_OUTCOME_NEEDS_INPUT,   /* an approval or a question waits for a person */
  CAS_T3_OUTCOME_COMPLETED,
  CAS_T3_OUTCOME_INTERRUPTED,
  CAS_T3_OUTCOME_FAILED,        /* ended in error, or its session died under it */
  CAS_T3_OUTCOME_NOT_STARTED,   /* the session failed before the turn appeared */
} CasT3Outcome;

/* Pure core: the outcome of the turn started after @previous_turn_id and
 * @previous_session_updated_at (both from CasT3TurnStart; NULL for none)
 * as @self shows it. A settled turn counts as ended only once the session
 * is no longer on it (v0.0.27 settles turns early); a session error
 * counts as "not started" only if the session changed since the
 * dispatch, so an error left by the turn before does not. */
CasT3Outcome cas_t3_thread_status_get_outcome (const CasT3ThreadStatus *self,
                                               const char              *previous_turn_id,
                                               const char              *previous_session_updated_at);

/* "waiting", "working", ...: for logs and state files. */
const char *cas_t3_outcome_to_string (CasT3Outcome outcome);

/* Pure core: the status of @thread_id in a parsed /shell (@api SHELL) or
 * /snapshot (@api SNAPSHOT) answer; on a snapshot the pending approvals
 * and questions are derived from the activities. CAS_ERROR_NOT_FOUND for
 * a missing, deleted or archived thread, CAS_ERROR_FAILED for a wrong
 * shape. */
CasT3ThreadStatus *cas_t3_thread_status_from_read_model (JsonObject  *model,
                                                         CasT3Api     api,
                                                         const char  *thread_id,
                                                         GError     **error);

/* Pure core: the id of the live project whose workspaceRoot is @root (a
 * canonical absolute path), or NULL; FALSE with CAS_ERROR_FAILED for a
 * read model of the wrong shape. */
gboolean cas_t3_find_project (JsonObject  *model,
                              const char  *root,
                              char       **project_id,
                              GError     **error);

/* What starting a turn left for the caller. */
typedef struct {
  char *thread_id;
  char *previous_turn_id;         /* (nullable): the latest turn before ours */
  char *previous_session_updated_at; /* (nullable): the session then */
  char *message_id;               /* our user message */
  char *command_id;
  gint64 sequence;                /* T3's event sequence after the command */
} CasT3TurnStart;

void cas_t3_turn_start_free (CasT3TurnStart *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasT3TurnStart, cas_t3_turn_start_free)

/* Returns TRUE for a business-rule rejection (CAS_ERROR_CONFLICT from
 * this client): not transient, so do not send the same thing again. */
gboolean cas_t3_client_error_is_rejected (const GError *error);

#define CAS_TYPE_T3_CLIENT (cas_t3_client_get_type ())
G_DECLARE_FINAL_TYPE (CasT3Client, cas_t3_client, CAS, T3_CLIENT, GObject)

/* A client of the server in @config's [t3] group. CAS_ERROR_CONFIG when
 * base-url is unset or not an http(s) URL. The token is not read here. */
CasT3Client *cas_t3_client_new (CasConfig *config,
                                GError   **error);

/* The read API found so far (detected on the first read, then kept). */
CasT3Api cas_t3_client_get_api (CasT3Client *self);

/* For tests: refuse answers over @max_bytes (default
 * CAS_T3_CLIENT_MAX_BODY_BYTES). */
void cas_t3_client_set_max_body_bytes (CasT3Client *self,
                                       gsize        max_bytes);

/* For tests: fail a request after @seconds without progress (default
 * CAS_T3_CLIENT_TIMEOUT_SECONDS; 0: never). */
void cas_t3_client_set_timeout (CasT3Client *self,
                                guint        seconds);

/* The workspace root of @repo ("owner/name") on the T3 host:
 * <workspace-base>/<owner>__<name>. CAS_ERROR_CONFIG without
 * workspace-base, CAS_ERROR_INVALID_ARGUMENT for a name that is not a
 * plain owner/name. */
char *cas_t3_client_workspace_root (CasT3Client *self,
                                    const char  *repo,
                                    GError     **error);

/* The web link of @thread_id: link-base-url (else base-url), "/", the
 * escaped id. Set link-base-url to the web UI root, plus
 * "/<environmentId>" on T3 versions whose thread routes carry one. */
char *cas_t3_client_thread_link (CasT3Client *self,
                                 const char  *thread_id);

/* Titles are for people and may come from an issue: control characters
 * become spaces, invalid UTF-8 is repaired, and they are cut to 200
 * characters; only a blank one is refused. */

/* The project whose workspace root is @workspace_root (an absolute path
 * on the T3 host): looked up first, created (project.create, titled
 * @title) only when there is none, looked up again if the create is
 * rejected (someone else made it meanwhile). The root must exist on the
 * T3 host: it is not created. */
void cas_t3_client_ensure_project_async (CasT3Client         *self,
                                         const char          *workspace_root,
                                         const char          *title,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
/* The project id. */
char *cas_t3_client_ensure_project_finish (CasT3Client  *self,
                                           GAsyncResult *result,
                                           GError      **error);

/* A new thread in @project_id (thread.create: [t3] model, full-access,
 * no branch or worktree). */
void cas_t3_client_create_thread_async (CasT3Client         *self,
                                        const char          *project_id,
                                        const char          *title,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data);
/* The new thread's id. */
char *cas_t3_client_create_thread_finish (CasT3Client  *self,
                                          GAsyncResult *result,
                                          GError      **error);

/* thread.delete: a thread whose first turn T3 did not take, so that no
 * empty thread is left behind (T3's own `t3 thread new` does the same). */
void cas_t3_client_delete_thread_async (CasT3Client         *self,
                                        const char          *thread_id,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data);
gboolean cas_t3_client_delete_thread_finish (CasT3Client  *self,
                                             GAsyncResult *result,
                                             GError      **error);

/* Sends @text (the whole prompt, preamble included; non-blank UTF-8 of
 * at most CAS_T3_CLIENT_MAX_PROMPT_CHARS characters) as a new turn on
 * @thread_id, after reading the thread's latest turn id: the turn that
 * appears after it is ours (cas_t3_thread_status_has_new_turn ()).
 * CAS_ERROR_TOO_MANY_REQUESTS, and nothing sent, while the thread is
 * busy. */
void cas_t3_client_start_turn_async (CasT3Client         *self,
                                     const char          *thread_id,
                                     const char          *text,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);
CasT3TurnStart *cas_t3_client_start_turn_finish (CasT3Client  *self,
                                                 GAsyncResult *result,
                                                 GError      **error);

/* @thread_id's liveness, from /shell when the server has it, else from
 * /snapshot. */
void cas_t3_client_get_thread_status_async (CasT3Client         *self,
                                            const char          *thread_id,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
CasT3ThreadStatus *cas_t3_client_get_thread_status_finish (CasT3Client  *self,
                                                           GAsyncResult *result,
                                                           GError      **error);

G_END_DECLS
