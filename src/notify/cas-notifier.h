/* cas-notifier.h: the doorbell service. It owns the senders configured
 * in [notify] (desktop, ntfy, Slack) and a persisted outbox
 * (<state_dir>/notify-outbox.json), so that each doorbell reaches each
 * sender exactly once, across failures and restarts.
 *
 * Call everything from the main thread; the outbox is written by a
 * worker thread, in order, latest state last.
 *
 * Signal "disarm-requested" (const char *notification_id): a person
 * pressed "Disarm AFK" on a desktop notification; whoever owns the kill
 * switch connects to it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "cas-config.h"
#include "cas-notification.h"
#include "cas-notify-sender.h"

G_BEGIN_DECLS

#define CAS_NOTIFIER_OUTBOX_FILE "notify-outbox.json"

#define CAS_TYPE_NOTIFIER (cas_notifier_get_type ())
G_DECLARE_FINAL_TYPE (CasNotifier, cas_notifier, CAS, NOTIFIER, GObject)

/* Senders from @config ([notify] desktop; ntfy-url and ntfy-topic, with
 * ntfy-token-file; slack-webhook-file), secrets looked up in @envp
 * (g_get_environ () style, for $CREDENTIALS_DIRECTORY; may be NULL).
 * Loads the outbox: a corrupt one is logged and kept aside as
 * notify-outbox.json.corrupt, and the notifier starts empty. Fails with
 * CAS_ERROR_CONFIG for a bad ntfy URL or topic, or only one of the two. */
CasNotifier *cas_notifier_new (const CasConfig    *config,
                               const char         *state_dir,
                               const char * const *envp,
                               GError            **error);

/* The same with the senders given (for tests); @senders may be empty. */
CasNotifier *cas_notifier_new_with_senders (GPtrArray  *senders,
                                            const char *state_dir,
                                            GError    **error);

/* Names of the senders, in order ("desktop", "ntfy", "slack"). */
GStrv cas_notifier_dup_sender_names (CasNotifier *self);

/* Queues @notification for every sender and starts a flush. Ringing an
 * id already rung (pending or delivered, in the last 30 days, across
 * restarts) does nothing and returns FALSE. */
gboolean cas_notifier_ring (CasNotifier     *self,
                            CasNotification *notification);

/* The same, completing once the doorbell is in the outbox on disk: the
 * loop marks a run's doorbell rung (CasRun.doorbell_rung) after this, so
 * a crash in between loses no doorbell. *@is_new says whether it was
 * rung now (FALSE: it had been before). Fails only when the outbox
 * cannot be stored (the doorbell is still queued in memory). */
void cas_notifier_ring_async (CasNotifier        *self,
                              CasNotification    *notification,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data);
gboolean cas_notifier_ring_finish (CasNotifier  *self,
                                   GAsyncResult *result,
                                   gboolean     *is_new,
                                   GError      **error);

/* Tries every pending (notification, sender) pair once; a pair already
 * on its way (from the ring or an earlier flush) is not sent again but
 * waited for. A failure is logged and retried at the next flush; one
 * failing sender never holds up the others. Completes when each pair
 * has had its try and the outcome is on disk. Call it at every loop
 * tick. */
void cas_notifier_flush_async (CasNotifier        *self,
                               GCancellable       *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer            user_data);
/* TRUE when every pair tried was delivered and the outbox is stored;
 * otherwise FALSE with a CAS_ERROR_FAILED saying how many failed, or the
 * error of the outbox write (both already logged). */
gboolean cas_notifier_flush_finish (CasNotifier  *self,
                                    GAsyncResult *result,
                                    GError      **error);

/* Completes once the outbox on disk is what is in memory now: before
 * the daemon exits. */
void cas_notifier_sync_async (CasNotifier        *self,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data);
gboolean cas_notifier_sync_finish (CasNotifier  *self,
                                   GAsyncResult *result,
                                   GError      **error);

/* Pairs still to deliver. */
guint cas_notifier_count_pending (CasNotifier *self);

G_END_DECLS
