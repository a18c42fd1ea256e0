/* cas-pending-reply.h: a request paused until a service answers it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct _CasPendingReply CasPendingReply;

/* Pauses @msg. Its cancellable is cancelled once libsoup is done with
 * the message: the client went away ("finished"), or the server shut
 * down, which closes a paused message with only "disconnected". After
 * that the reply functions do nothing (unpausing would be a critical). */
CasPendingReply *cas_pending_reply_new (SoupServerMessage *msg);
void cas_pending_reply_free (CasPendingReply *reply);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasPendingReply, cas_pending_reply_free)

GCancellable *cas_pending_reply_get_cancellable (CasPendingReply *reply);

/* Answer and unpause. @json is taken. */
void cas_pending_reply_json (CasPendingReply *reply,
                             guint            status,
                             char            *json);
void cas_pending_reply_error (CasPendingReply *reply,
                              const GError    *error);

G_END_DECLS
