/* cas-ntfy-sender.h: the doorbell as an ntfy push (https://ntfy.sh):
 * POST <ntfy-url>/<ntfy-topic> with Title, Priority, Tags and Click
 * headers and the message as the body.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-notify-sender.h"

G_BEGIN_DECLS

/* ntfy keeps a message up to 4096 bytes as text; more becomes an
 * attachment, which a server may refuse. */
#define CAS_NTFY_MAX_MESSAGE 4000

/* Pure helpers, for the tests. */
gboolean cas_ntfy_topic_is_valid (const char *topic);
/* "urgent" for needs-human, "high" for frozen, "default" for done. */
const char *cas_ntfy_priority (CasNotificationKind kind);
const char *cas_ntfy_tags (CasNotificationKind kind);
/* Control characters become spaces; a value that is not ASCII is sent
 * as an RFC 2047 encoded word, which ntfy decodes. */
char *cas_ntfy_header_value (const char *text);
/* The request for @notification (nothing is sent). @token may be NULL. */
SoupMessage *cas_ntfy_build_message (const char      *base_url,
                                     const char      *topic,
                                     const char      *token,
                                     CasNotification *notification,
                                     GError         **error);

#define CAS_TYPE_NTFY_SENDER (cas_ntfy_sender_get_type ())
G_DECLARE_FINAL_TYPE (CasNtfySender, cas_ntfy_sender, CAS, NTFY_SENDER, GObject)

/* Fails with CAS_ERROR_CONFIG naming the key for a bad URL or topic.
 * The token is a secret read at every send: from @token_file, else the
 * systemd credential "ntfy-token" in @envp (nullable: no credential). */
CasNtfySender *cas_ntfy_sender_new (const char         *base_url,
                                    const char         *topic,
                                    const char         *token_file,
                                    const char * const *envp,
                                    GError            **error);

G_END_DECLS
