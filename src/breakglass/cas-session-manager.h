/* cas-session-manager.h: the breakglass sessions: create, list, look up,
 * prompt, cancel, delete; the bound on concurrent turns; load at start
 * and stop at shutdown. The HTTP routes and D-Bus call the same methods.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "cas-agents.h"
#include "cas-config.h"
#include "cas-session.h"

G_BEGIN_DECLS

#define CAS_TYPE_SESSION_MANAGER (cas_session_manager_get_type ())
G_DECLARE_FINAL_TYPE (CasSessionManager, cas_session_manager, CAS, SESSION_MANAGER, GObject)

/* Signals:
 *  "turn-ended" (const char *session_id, const char *outcome,
 *    guint64 last_event, const char *error): a turn's turn_end is on disk
 *    and broadcast, as D-Bus TurnEnded says it: @outcome "completed",
 *    "cancelled" or "error", @last_event the turn_end's id; @error
 *    (nullable) is why it did not complete ("turn timed out", the CLI's
 *    words, "service restarted during turn"). */

/* The longest prompt a turn takes, in bytes. */
#define CAS_SESSION_MAX_PROMPT_BYTES (256 * 1024)

/* Loads the sessions under <state_dir>/sessions (a damaged one is left
 * on disk, reported and skipped). */
CasSessionManager *cas_session_manager_new (CasConfig   *config,
                                            CasAgentSet *agents,
                                            const char  *state_dir,
                                            GError     **error);

/* A new session, once its files are on disk.
 * CAS_ERROR_TOO_MANY_REQUESTS when max-sessions exist already (sessions
 * are never dropped behind the owner's back: delete one). */
void cas_session_manager_create_async (CasSessionManager  *self,
                                       GCancellable       *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer            user_data);
/* The new session's id. */
char *cas_session_manager_create_finish (CasSessionManager *self,
                                         GAsyncResult      *result,
                                         GError           **error);

typedef struct {
  char *id;
  gint64 created;        /* unix seconds */
  gint64 last_activity;  /* unix seconds */
  gboolean turn_active;
  guint64 event_count;
} CasSessionInfo;

void cas_session_info_free (CasSessionInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasSessionInfo, cas_session_info_free)

/* (element-type CasSessionInfo) the most recently active first. */
GPtrArray *cas_session_manager_list (CasSessionManager *self);

/* (transfer none) (nullable) NULL for an unknown or malformed id. */
CasSession *cas_session_manager_lookup (CasSessionManager *self,
                                        const char        *id);

/* Someone created session @id or is looking at it, and may ask next: its
 * claude starts now, when warm processes are on ([claude] pool-size) and
 * it has none running. */
void cas_session_manager_expect_prompt (CasSessionManager *self,
                                        const char        *id);

/* Starts a detached turn. @model NULL: [breakglass] model. Errors:
 * CAS_ERROR_NOT_FOUND, CAS_ERROR_INVALID_ARGUMENT (empty or oversized
 * prompt, unknown model), CAS_ERROR_CONFLICT (a turn runs; a full log),
 * CAS_ERROR_TOO_MANY_REQUESTS (max-concurrent-turns run). */
gboolean cas_session_manager_prompt (CasSessionManager *self,
                                     const char        *id,
                                     const char        *prompt,
                                     const char        *model,
                                     GError           **error);
/* *@cancelled: whether a turn was running (and is now interrupted). */
gboolean cas_session_manager_cancel (CasSessionManager *self,
                                     const char        *id,
                                     gboolean          *cancelled,
                                     GError           **error);
/* Stops its turn and process, ends its streams and removes its files. */
gboolean cas_session_manager_delete (CasSessionManager *self,
                                     const char        *id,
                                     GError           **error);

guint cas_session_manager_get_active_turns (CasSessionManager *self);

/* Shutdown: running turns are closed in the log ("service stopped during
 * turn"), every queued write lands and is broadcast, then the streams
 * end. */
void cas_session_manager_stop (CasSessionManager *self);

G_END_DECLS
