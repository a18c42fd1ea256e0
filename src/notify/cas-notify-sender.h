/* cas-notify-sender.h: one way to ring the doorbell (desktop, ntfy,
 * Slack), and a small HTTP helper the web senders share.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "cas-notification.h"

G_BEGIN_DECLS

#define CAS_TYPE_NOTIFY_SENDER (cas_notify_sender_get_type ())
G_DECLARE_INTERFACE (CasNotifySender, cas_notify_sender, CAS, NOTIFY_SENDER, GObject)

struct _CasNotifySenderInterface
{
  GTypeInterface parent_iface;

  const char *(*get_name) (CasNotifySender *self);
  void (*send_async) (CasNotifySender    *self,
                      CasNotification    *notification,
                      GCancellable       *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer            user_data);
  gboolean (*send_finish) (CasNotifySender *self,
                           GAsyncResult    *result,
                           GError         **error);
};

/* A short stable name, kept in the outbox: "desktop", "ntfy", "slack". */
const char *cas_notify_sender_get_name (CasNotifySender *self);

/* Delivers @notification once. A failure (to be retried later) never
 * names a secret. G_IO_ERROR_NOT_CONNECTED means the service is absent
 * (no notification server) and the sender has already said so in the
 * log, once: the caller need not log it again. */
void cas_notify_sender_send_async (CasNotifySender    *self,
                                   CasNotification    *notification,
                                   GCancellable       *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer            user_data);
gboolean cas_notify_sender_send_finish (CasNotifySender *self,
                                        GAsyncResult    *result,
                                        GError         **error);

/* For the web senders: a session with a timeout and our user agent. */
SoupSession *cas_notify_http_session_new (void);

/* Checks that @url is an absolute http(s) URI with a host, naming @what
 * in the error (and never the URL, which may be a secret). */
GUri *cas_notify_parse_http_url (const char *url,
                                 const char *what,
                                 GError    **error);

/* Sends @msg and reads at most @max_body bytes of the answer (more is
 * dropped). */
void cas_notify_http_send_async (SoupSession        *session,
                                 SoupMessage        *msg,
                                 gsize               max_body,
                                 GCancellable       *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer            user_data);
/* The body read (not NUL-terminated), or NULL with the transport's
 * error; the status is then on @msg. */
GBytes *cas_notify_http_send_finish (GAsyncResult *result,
                                     GError      **error);

/* A server's answer as one short line for a log or an error: valid
 * UTF-8, control characters (NUL too) as spaces, trimmed, cut to
 * @max_bytes at a character boundary. */
char *cas_notify_answer_text (GBytes *answer,
                              gsize   max_bytes);

G_END_DECLS
