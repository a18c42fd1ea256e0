/* cas-session.h: one breakglass session: a server-owned conversation
 * with the repair agent, its append-only event log and its warm claude
 * process.
 *
 * Every event is appended to <dir>/events.jsonl (by the session store's
 * thread) before anyone hears of it: "events" is emitted once the lines
 * are written, in id order. A turn is detached from whoever asked for it; it
 * ends with a turn_end event, always the turn's last.
 *
 * Main thread only. CasSessionManager makes, loads and owns sessions.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "cas-config.h"
#include "cas-session-events.h"
#include "cas-session-store.h"

G_BEGIN_DECLS

#define CAS_TYPE_SESSION (cas_session_get_type ())
G_DECLARE_FINAL_TYPE (CasSession, cas_session, CAS, SESSION, GObject)

/* Signals:
 *  "events" (guint64 first, guint count, const char *frames, guint64 len):
 *    events @first .. @first + @count - 1 are on disk; @frames holds their
 *    SSE frames ("id: N\ndata: {...}\n\n" each). One emission per batch
 *    the store wrote, so a busy daemon writes each client fewer, larger
 *    chunks instead of falling behind.
 *  "turn-ended" (guint64 last_event, const char *outcome, const char *error):
 *    a turn's turn_end (event @last_event) is on disk and broadcast;
 *    @outcome is "completed", "cancelled" or "error" (D-Bus TurnEnded's
 *    words), @error (nullable) says why it did not complete.
 *  "closed" (void): the session was deleted or the service stops: its
 *    streams end. Emitted once. */

/* What every session shares, owned by the manager. */
typedef struct {
  CasConfig *config;
  CasSessionStore *store;
  const char *agents_json; /* (nullable) --agents for the breakglass agent */
} CasSessionContext;

/* A new session in @dir (not made yet: cas_session_open_async makes it). */
CasSession *cas_session_new (const CasSessionContext *context,
                             const char              *id,
                             const char              *dir);
/* Creates the session's files; the callback gets the session once they
 * are on disk. */
void cas_session_create_async (CasSession          *self,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data);
gboolean cas_session_create_finish (CasSession    *self,
                                    GAsyncResult  *result,
                                    GError       **error);

/* Reads a session back from @dir (main thread, at start-up). A torn last
 * line is cut off the file; a turn left open is closed with an error
 * ("service restarted during turn") and a turn_end. NULL, with words for
 * the log, when the directory is not a session or its log is damaged. */
CasSession *cas_session_load (const CasSessionContext *context,
                              const char              *id,
                              const char              *dir,
                              GError                 **error);

const char *cas_session_get_id (CasSession *self);
/* Unix seconds. */
gint64 cas_session_get_created (CasSession *self);
gint64 cas_session_get_last_activity (CasSession *self);
gboolean cas_session_is_turn_running (CasSession *self);
/* TRUE once "closed" was emitted: a stream attached now ends at once. */
gboolean cas_session_is_closed (CasSession *self);
/* Events on disk (the next event's id). */
guint64 cas_session_get_event_count (CasSession *self);
guint64 cas_session_get_log_bytes (CasSession *self);
/* The pid of its warm claude process, 0 when none. */
int cas_session_get_process_pid (CasSession *self);

/* Starts the session's claude process ahead of its first turn, with
 * @model (nullable: the CLI's default), so that the turn skips the CLI's
 * start-up. It ends after the idle timeout like a kept process. Does
 * nothing while a process or a turn runs. */
void cas_session_prewarm (CasSession *self,
                          const char *model);

/* Starts a detached turn: the user event, then the CLI's answer.
 * CAS_ERROR_CONFLICT while a turn runs or when the log is full,
 * CAS_ERROR_FAILED when the log cannot be written. */
gboolean cas_session_start_turn (CasSession  *self,
                                 const char  *prompt,
                                 const char  *model,
                                 GError     **error);
/* Interrupts the running turn (the process stays): it ends with
 * cancelled and turn_end. FALSE when no turn runs. */
gboolean cas_session_cancel (CasSession *self);

/* Appends to @out the SSE frames of events @from onwards that are on
 * disk, about @max_bytes of them (at least one), and sets *@next to the
 * id after the last. FALSE with @error when the log cannot be read. */
gboolean cas_session_read_frames (CasSession  *self,
                                  guint64      from,
                                  gsize        max_bytes,
                                  GString     *out,
                                  guint64     *next,
                                  GError     **error);

/* Closes a running turn at once with an error event (@reason) and its
 * turn_end, and stops the process (the service stops). */
void cas_session_abort_turn (CasSession *self,
                             const char *reason);

/* Ends the session in memory: a running turn stops silently, the process
 * is stopped, the log closed after what is queued, "closed" emitted;
 * with @remove its directory is then removed. */
void cas_session_close (CasSession *self,
                        gboolean    remove);

G_END_DECLS
