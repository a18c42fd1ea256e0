/* cas-pending-reply.c: the paused-request bookkeeping every route that
 * waits for a service shares.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-http"

#include "config.h"

#include "cas-http-server.h"
#include "cas-pending-reply.h"

struct _CasPendingReply {
  SoupServerMessage *msg;     /* (owned) */
  GCancellable *cancellable;  /* (owned) cancelled when libsoup is done with msg */
  gulong finished_id;
  gulong disconnected_id;
};

static void
on_msg_gone (SoupServerMessage *msg,
             gpointer           user_data)
{
  CasPendingReply *reply = user_data;

  g_cancellable_cancel (reply->cancellable);
}

CasPendingReply *
cas_pending_reply_new (SoupServerMessage *msg)
{
  CasPendingReply *reply = g_new0 (CasPendingReply, 1);

  reply->msg = g_object_ref (msg);
  reply->cancellable = g_cancellable_new ();
  reply->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (on_msg_gone), reply);
  reply->disconnected_id = g_signal_connect (msg, "disconnected", G_CALLBACK (on_msg_gone), reply);
  soup_server_message_pause (msg);
  return reply;
}

void
cas_pending_reply_free (CasPendingReply *reply)
{
  g_clear_signal_handler (&reply->finished_id, reply->msg);
  g_clear_signal_handler (&reply->disconnected_id, reply->msg);
  g_clear_object (&reply->msg);
  g_clear_object (&reply->cancellable);
  g_free (reply);
}

GCancellable *
cas_pending_reply_get_cancellable (CasPendingReply *reply)
{
  return reply->cancellable;
}

void
cas_pending_reply_json (CasPendingReply *reply,
                        guint            status,
                        char            *json)
{
  if (g_cancellable_is_cancelled (reply->cancellable))
    {
      g_free (json);
      return;
    }
  cas_http_reply_json (reply->msg, status, json);
  soup_server_message_unpause (reply->msg);
}

void
cas_pending_reply_error (CasPendingReply *reply,
                         const GError    *error)
{
  if (g_cancellable_is_cancelled (reply->cancellable))
    return;
  cas_http_reply_error (reply->msg, error);
  soup_server_message_unpause (reply->msg);
}
