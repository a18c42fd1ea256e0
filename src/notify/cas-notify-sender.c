/* cas-notify-sender.c: one way to ring the doorbell, and the HTTP helper.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-notify"

#include "config.h"

#include <glib/gi18n.h>

#include "cas-error.h"
#include "cas-notify-sender.h"

/* Long enough for a slow phone-notification service, short enough that a
 * dead one does not hold a flush for minutes. */
#define HTTP_TIMEOUT_SECONDS 30

G_DEFINE_INTERFACE (CasNotifySender, cas_notify_sender, G_TYPE_OBJECT)

static void
cas_notify_sender_default_init (CasNotifySenderInterface *iface)
{
}

const char *
cas_notify_sender_get_name (CasNotifySender *self)
{
  g_return_val_if_fail (CAS_IS_NOTIFY_SENDER (self), NULL);

  return CAS_NOTIFY_SENDER_GET_IFACE (self)->get_name (self);
}

void
cas_notify_sender_send_async (CasNotifySender    *self,
                              CasNotification    *notification,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data)
{
  g_return_if_fail (CAS_IS_NOTIFY_SENDER (self));

  CAS_NOTIFY_SENDER_GET_IFACE (self)->send_async (self, notification, cancellable,
                                                  callback, user_data);
}

gboolean
cas_notify_sender_send_finish (CasNotifySender *self,
                               GAsyncResult    *result,
                               GError         **error)
{
  g_return_val_if_fail (CAS_IS_NOTIFY_SENDER (self), FALSE);

  return CAS_NOTIFY_SENDER_GET_IFACE (self)->send_finish (self, result, error);
}

SoupSession *
cas_notify_http_session_new (void)
{
  return soup_session_new_with_options ("timeout", HTTP_TIMEOUT_SECONDS,
                                        "user-agent", "claude-agent-service/" PACKAGE_VERSION,
                                        NULL);
}

GUri *
cas_notify_parse_http_url (const char *url,
                           const char *what,
                           GError    **error)
{
  g_autoptr (GUri) uri = NULL;
  const char *scheme;

  if (url != NULL)
    uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);
  scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
  if (uri == NULL ||
      (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0) ||
      g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   _("%s is not an http:// or https:// URL"), what);
      return NULL;
    }
  return g_steal_pointer (&uri);
}

typedef struct {
  GInputStream *stream; /* (owned) (nullable) */
  guint8 *buffer;       /* (owned) */
  gsize max_body;
} HttpSendData;

static void
http_send_data_free (gpointer data)
{
  HttpSendData *send = data;

  if (send->stream != NULL)
    /* Closes (and so drops) the connection when the answer was longer. */
    g_input_stream_close_async (send->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  g_clear_object (&send->stream);
  g_free (send->buffer);
  g_free (send);
}

static void
http_read_done (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  HttpSendData *send = g_task_get_task_data (task);
  GError *error = NULL;
  gsize length = 0;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &length, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, g_bytes_new (send->buffer, length),
                         (GDestroyNotify) g_bytes_unref);
}

static void
http_sent (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  HttpSendData *send = g_task_get_task_data (task);
  GError *error = NULL;

  send->stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (send->stream == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  send->buffer = g_malloc (MAX (send->max_body, 1));
  g_input_stream_read_all_async (send->stream, send->buffer, send->max_body,
                                 G_PRIORITY_DEFAULT, g_task_get_cancellable (task),
                                 http_read_done, g_object_ref (task));
}

void
cas_notify_http_send_async (SoupSession        *session,
                            SoupMessage        *msg,
                            gsize               max_body,
                            GCancellable       *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (session, cancellable, callback, user_data);
  HttpSendData *send = g_new0 (HttpSendData, 1);

  g_task_set_source_tag (task, cas_notify_http_send_async);
  send->max_body = max_body;
  g_task_set_task_data (task, send, http_send_data_free);
  soup_session_send_async (session, msg, G_PRIORITY_DEFAULT, cancellable,
                           http_sent, g_object_ref (task));
}

GBytes *
cas_notify_http_send_finish (GAsyncResult *result,
                             GError      **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

char *
cas_notify_answer_text (GBytes *answer,
                        gsize   max_bytes)
{
  gsize size = 0;
  const char *data = answer != NULL ? g_bytes_get_data (answer, &size) : NULL;
  g_autofree char *valid = g_utf8_make_valid (data != NULL ? data : "", size);
  GString *out = g_string_sized_new (MIN (size, max_bytes) + 1);

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      const char *next = g_utf8_next_char (p);

      if (out->len + (next - p) > max_bytes)
        break;
      if (g_unichar_iscntrl (c))
        g_string_append_c (out, ' ');
      else
        g_string_append_len (out, p, next - p);
    }
  g_strstrip (out->str);
  out->len = strlen (out->str);
  return g_string_free (out, FALSE);
}
