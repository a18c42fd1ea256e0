/* cas-ntfy-sender.c: the doorbell as an ntfy push.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-notify"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cas-config.h"
#include "cas-error.h"
#include "cas-ntfy-sender.h"

#define MAX_TOPIC 64
#define MAX_ANSWER 4096
#define MAX_LOGGED_ANSWER 300

struct _CasNtfySender
{
  GObject parent_instance;

  SoupSession *session; /* (owned) */
  char *base_url;       /* (owned) */
  char *topic;          /* (owned) */
  char *token_file;     /* (owned) (nullable) */
  GStrv envp;           /* (owned) (nullable) */
};

static void cas_ntfy_sender_iface_init (CasNotifySenderInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CasNtfySender, cas_ntfy_sender, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CAS_TYPE_NOTIFY_SENDER,
                                                      cas_ntfy_sender_iface_init))

gboolean
cas_ntfy_topic_is_valid (const char *topic)
{
  gsize length = topic != NULL ? strlen (topic) : 0;

  if (length == 0 || length > MAX_TOPIC)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isalnum (topic[i]) && topic[i] != '-' && topic[i] != '_')
      return FALSE;
  return TRUE;
}

const char *
cas_ntfy_priority (CasNotificationKind kind)
{
  switch (kind)
    {
    case CAS_NOTIFICATION_NEEDS_HUMAN:
      return "urgent";
    case CAS_NOTIFICATION_FROZEN:
      return "high";
    case CAS_NOTIFICATION_DONE:
    default:
      return "default";
    }
}

const char *
cas_ntfy_tags (CasNotificationKind kind)
{
  /* The first tag that names an emoji is shown as one. */
  switch (kind)
    {
    case CAS_NOTIFICATION_NEEDS_HUMAN:
      return "raising_hand,afk,needs-human";
    case CAS_NOTIFICATION_FROZEN:
      return "ice_cube,afk,frozen";
    case CAS_NOTIFICATION_DONE:
    default:
      return "white_check_mark,afk,done";
    }
}

char *
cas_ntfy_header_value (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text != NULL ? text : "", -1);
  g_autofree char *encoded = NULL;

  /* No byte may end the header early or start another. */
  for (char *p = valid; *p != '\0'; p++)
    if (g_ascii_iscntrl (*p))
      *p = ' ';
  if (g_str_is_ascii (valid) && strstr (valid, "=?") == NULL)
    return g_steal_pointer (&valid);
  encoded = g_base64_encode ((const guchar *) valid, strlen (valid));
  return g_strdup_printf ("=?UTF-8?B?%s?=", encoded);
}

/* @text cut to @max bytes at a character boundary. */
static char *
utf8_cut (const char *text,
          gsize       max)
{
  const char *end = text;

  while (*end != '\0')
    {
      const char *next = g_utf8_next_char (end);

      if ((gsize) (next - text) > max)
        break;
      end = next;
    }
  return g_strndup (text, end - text);
}

static char *
topic_url (const char *base_url,
           const char *topic,
           GError    **error)
{
  g_autoptr (GUri) base = NULL;
  g_autoptr (GUri) full = NULL;
  g_autofree char *path = NULL;
  const char *base_path;
  gsize length;

  base = cas_notify_parse_http_url (base_url, "[notify] ntfy-url", error);
  if (base == NULL)
    return NULL;
  if (!cas_ntfy_topic_is_valid (topic))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   _("[notify] ntfy-topic is not 1-%d letters, digits, “-” or “_”"), MAX_TOPIC);
      return NULL;
    }
  base_path = g_uri_get_path (base);
  length = strlen (base_path);
  while (length > 0 && base_path[length - 1] == '/')
    length--;
  path = g_strdup_printf ("%.*s/%s", (int) length, base_path, topic);
  full = g_uri_build (SOUP_HTTP_URI_FLAGS, g_uri_get_scheme (base), g_uri_get_userinfo (base),
                      g_uri_get_host (base), g_uri_get_port (base), path, NULL, NULL);
  return g_uri_to_string (full);
}

SoupMessage *
cas_ntfy_build_message (const char      *base_url,
                        const char      *topic,
                        const char      *token,
                        CasNotification *notification,
                        GError         **error)
{
  g_autofree char *url = topic_url (base_url, topic, error);
  g_autoptr (SoupMessage) msg = NULL;
  g_autofree char *title = NULL;
  g_autofree char *body = NULL;
  g_autofree char *message = NULL;
  g_autofree char *title_value = NULL;
  g_autoptr (GBytes) bytes = NULL;
  SoupMessageHeaders *headers;
  gsize length;

  if (url == NULL)
    return NULL;
  msg = soup_message_new (SOUP_METHOD_POST, url);
  if (msg == NULL)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_CONFIG,
                           _("[notify] ntfy-url is not an http:// or https:// URL"));
      return NULL;
    }
  headers = soup_message_get_request_headers (msg);
  title = cas_notification_dup_title (notification);
  title_value = cas_ntfy_header_value (title);
  soup_message_headers_replace (headers, "Title", title_value);
  soup_message_headers_replace (headers, "Priority", cas_ntfy_priority (notification->kind));
  soup_message_headers_replace (headers, "Tags", cas_ntfy_tags (notification->kind));
  if (notification->link != NULL)
    soup_message_headers_replace (headers, "Click", notification->link);
  if (token != NULL && *token != '\0')
    {
      g_autofree char *clean = cas_ntfy_header_value (token);
      g_autofree char *authorization = g_strdup_printf ("Bearer %s", clean);

      soup_message_headers_replace (headers, "Authorization", authorization);
    }
  body = cas_notification_dup_body (notification);
  message = utf8_cut (body, CAS_NTFY_MAX_MESSAGE);
  length = strlen (message);
  bytes = g_bytes_new_take (g_steal_pointer (&message), length);
  soup_message_set_request_body_from_bytes (msg, "text/plain; charset=utf-8", bytes);
  return g_steal_pointer (&msg);
}

static void
sent (GObject      *source,
      GAsyncResult *result,
      gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  SoupMessage *msg = g_task_get_task_data (task);
  g_autoptr (GBytes) answer = NULL;
  GError *error = NULL;
  guint status;

  answer = cas_notify_http_send_finish (result, &error);
  if (answer == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  status = soup_message_get_status (msg);
  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      g_autofree char *text = cas_notify_answer_text (answer, MAX_LOGGED_ANSWER);

      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_FAILED,
                               _("ntfy answered %u: %s"), status, text);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
cas_ntfy_sender_send_async (CasNotifySender    *sender,
                            CasNotification    *notification,
                            GCancellable       *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer            user_data)
{
  CasNtfySender *self = CAS_NTFY_SENDER (sender);
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autofree char *token = NULL;
  SoupMessage *msg;
  GError *error = NULL;

  g_task_set_source_tag (task, cas_ntfy_sender_send_async);
  /* Read at every send: tokens rotate. */
  token = cas_config_read_secret (NULL, self->token_file, "ntfy-token",
                                  (const char * const *) self->envp, &error);
  if (error != NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  msg = cas_ntfy_build_message (self->base_url, self->topic, token, notification, &error);
  if (msg == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_set_task_data (task, msg, g_object_unref);
  cas_notify_http_send_async (self->session, msg, MAX_ANSWER, cancellable,
                              sent, g_steal_pointer (&task));
}

static gboolean
cas_ntfy_sender_send_finish (CasNotifySender *sender,
                             GAsyncResult    *result,
                             GError         **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static const char *
cas_ntfy_sender_get_name (CasNotifySender *sender)
{
  return "ntfy";
}

static void
cas_ntfy_sender_iface_init (CasNotifySenderInterface *iface)
{
  iface->get_name = cas_ntfy_sender_get_name;
  iface->send_async = cas_ntfy_sender_send_async;
  iface->send_finish = cas_ntfy_sender_send_finish;
}

static void
cas_ntfy_sender_finalize (GObject *object)
{
  CasNtfySender *self = CAS_NTFY_SENDER (object);

  g_clear_object (&self->session);
  g_free (self->base_url);
  g_free (self->topic);
  g_free (self->token_file);
  g_strfreev (self->envp);

  G_OBJECT_CLASS (cas_ntfy_sender_parent_class)->finalize (object);
}

static void
cas_ntfy_sender_class_init (CasNtfySenderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_ntfy_sender_finalize;
}

static void
cas_ntfy_sender_init (CasNtfySender *self)
{
}

CasNtfySender *
cas_ntfy_sender_new (const char         *base_url,
                     const char         *topic,
                     const char         *token_file,
                     const char * const *envp,
                     GError            **error)
{
  g_autofree char *url = topic_url (base_url, topic, error);
  CasNtfySender *self;

  if (url == NULL)
    return NULL;
  self = g_object_new (CAS_TYPE_NTFY_SENDER, NULL);
  self->session = cas_notify_http_session_new ();
  self->base_url = g_strdup (base_url);
  self->topic = g_strdup (topic);
  self->token_file = g_strdup (token_file);
  self->envp = g_strdupv ((char **) envp);
  return self;
}
