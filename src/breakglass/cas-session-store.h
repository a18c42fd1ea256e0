/* cas-session-store.h: the breakglass sessions' disk writes, in one
 * worker thread, in the order they were asked for.
 *
 * Each call queues one operation and returns at once; @done (nullable)
 * runs later on the main context with how it went. Completions come in
 * batches (one main-loop wake-up for many appends), always in order;
 * "batch-done" (void) follows each batch's completions, so that what
 * they brought can be passed on in one go.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CAS_TYPE_SESSION_STORE (cas_session_store_get_type ())
G_DECLARE_FINAL_TYPE (CasSessionStore, cas_session_store, CAS, SESSION_STORE, GObject)

/* @fd: the file an operation opened (-1 for the others); @error NULL on
 * success. */
typedef void (*CasSessionStoreDone) (int           fd,
                                     const GError *error,
                                     gpointer      user_data);

CasSessionStore *cas_session_store_new (void);

/* Makes @dir (0700) with a "work" folder in it, writes @meta to
 * session.json there and opens events.jsonl for appending (the fd). */
void cas_session_store_create (CasSessionStore    *self,
                               const char         *dir,
                               const char         *meta,
                               CasSessionStoreDone done,
                               gpointer            user_data);
/* Appends @data (taken) to @fd, whole: a short write is retried. */
void cas_session_store_append (CasSessionStore    *self,
                               int                 fd,
                               char               *data,
                               gsize               len,
                               CasSessionStoreDone done,
                               gpointer            user_data);
/* Replaces @path with @contents (taken) through a temporary file. */
void cas_session_store_replace (CasSessionStore    *self,
                                const char         *path,
                                char               *contents,
                                CasSessionStoreDone done,
                                gpointer            user_data);
/* fdatasync, for the end of a turn. */
void cas_session_store_sync (CasSessionStore *self,
                             int              fd);
/* Closes @fd after what was queued for it. */
void cas_session_store_close (CasSessionStore *self,
                              int              fd);
/* Removes @dir and everything under it (no link is followed). */
void cas_session_store_remove_tree (CasSessionStore    *self,
                                    const char         *dir,
                                    CasSessionStoreDone done,
                                    gpointer            user_data);

/* Writes everything queued, runs the completions and ends the thread;
 * later calls fail at once. */
void cas_session_store_stop (CasSessionStore *self);

G_END_DECLS
