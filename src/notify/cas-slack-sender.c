/* cas-slack-sender.c: the doorbell as a Slack incoming-webhook message.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-notify"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cas-config.h"
#include "cas-error.h"
#include "cas-json.h"
#include "cas-slack-sender.h"

#define CREDENTIAL "slack-webhook"
#define MAX_ANSWER 1024
#define MAX_LOGGED_ANSWER 300

struct _CasSlackSender
{
  GObject parent_instance;

  SoupSession *session; /* (owned) */
  char *webhook_file;   /* (owned) (nullable) */
  GStrv envp;           /* (owned) (nullable) */
};

static void cas_slack_sender_iface_init (CasNotifySenderInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CasSlackSender, cas_slack_sender, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CAS_TYPE_NOTIFY_SENDER,
                                                      cas_slack_sender_iface_init))

/* Slack's mrkdwn: only &, < and > are special in plain text. */
static void
append_escaped (GString    *out,
                const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    switch (*p)
      {
      case '&':
        g_string_append (out, "&amp;");
        break;
      case '<':
        g_string_append (out, "&lt;");
        break;
      case '>':
        g_string_append (out, "&gt;");
        break;
      default:
        g_string_append_c (out, *p);
      }
}

char *
cas_slack_payload (CasNotification *notification)
{
  g_autofree char *title = cas_notification_dup_title (notification);
  g_autofree char *body = cas_notification_dup_body (notification);
  g_autoptr (GString) text = g_string_new (cas_notification_is_escalation (notification)
                                             ? ":rotating_light: *"
                                             : ":white_check_mark: *");
  GString *out = g_string_new ("{\"text\":");

  append_escaped (text, title);
  g_string_append (text, "*\n");
  append_escaped (text, body);
  if (notification->link != NULL)
    {
      /* The link is an ASCII URI without spaces (checked when the
       * notification was made); '|' and '>' would end it early. */
      g_string_append (text, "\n<");
      for (const char *p = notification->link; *p != '\0'; p++)
        if (*p == '|' || *p == '>' || *p == '<')
          g_string_append_printf (text, "%%%02X", (guint) (guchar) *p);
        else
          g_string_append_c (text, *p);
      g_string_append_c (text, '|');
      append_escaped (text, _("Open thread"));
      g_string_append_c (text, '>');
    }
  cas_json_append_string (out, text->str);
  g_string_append (out, "}");
  return g_string_free (out, FALSE);
}

SoupMessage *
cas_slack_build_message (const char      *webhook_url,
                         CasNotification *notification,
                         GError         **error)
{
  g_autoptr (GUri) uri = cas_notify_parse_http_url (webhook_url, "[notify] slack-webhook-file",
                                                    error);
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GBytes) bytes = NULL;
  char *payload;

  if (uri == NULL)
    return NULL;
  msg = soup_message_new_from_uri (SOUP_METHOD_POST, uri);
  payload = cas_slack_payload (notification);
  bytes = g_bytes_new_take (payload, strlen (payload));
  soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
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
  g_autofree char *text = NULL;
  GError *error = NULL;
  guint status;

  answer = cas_notify_http_send_finish (result, &error);
  if (answer == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  status = soup_message_get_status (msg);
  text = cas_notify_answer_text (answer, MAX_LOGGED_ANSWER);
  /* Slack answers a delivered message with 200 and the body "ok". */
  if (!SOUP_STATUS_IS_SUCCESSFUL (status) || strcmp (text, "ok") != 0)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_FAILED,
                               _("Slack answered %u: %s"), status, text);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
cas_slack_sender_send_async (CasNotifySender    *sender,
                             CasNotification    *notification,
                             GCancellable       *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer            user_data)
{
  CasSlackSender *self = CAS_SLACK_SENDER (sender);
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autofree char *url = NULL;
  SoupMessage *msg;
  GError *error = NULL;

  g_task_set_source_tag (task, cas_slack_sender_send_async);
  url = cas_config_read_secret (NULL, self->webhook_file, CREDENTIAL,
                                (const char * const *) self->envp, &error);
  if (error != NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (url == NULL)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_CONFIG,
                               _("No Slack webhook is configured"));
      return;
    }
  msg = cas_slack_build_message (url, notification, &error);
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
cas_slack_sender_send_finish (CasNotifySender *sender,
                              GAsyncResult    *result,
                              GError         **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static const char *
cas_slack_sender_get_name (CasNotifySender *sender)
{
  return "slack";
}

static void
cas_slack_sender_iface_init (CasNotifySenderInterface *iface)
{
  iface->get_name = cas_slack_sender_get_name;
  iface->send_async = cas_slack_sender_send_async;
  iface->send_finish = cas_slack_sender_send_finish;
}

static void
cas_slack_sender_finalize (GObject *object)
{
  CasSlackSender *self = CAS_SLACK_SENDER (object);

  g_clear_object (&self->session);
  g_free (self->webhook_file);
  g_strfreev (self->envp);

  G_OBJECT_CLASS (cas_slack_sender_parent_class)->finalize (object);
}

static void
cas_slack_sender_class_init (CasSlackSenderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_slack_sender_finalize;
}

static void
cas_slack_sender_init (CasSlackSender *self)
{
}

gboolean
cas_slack_sender_is_configured (const char         *webhook_file,
                                const char * const *envp)
{
  const char *dir = NULL;
  g_autofree char *path = NULL;

  if (webhook_file != NULL && *webhook_file != '\0')
    return TRUE;
  for (guint i = 0; envp != NULL && envp[i] != NULL; i++)
    if (g_str_has_prefix (envp[i], "CREDENTIALS_DIRECTORY="))
      dir = envp[i] + strlen ("CREDENTIALS_DIRECTORY=");
  if (dir == NULL || *dir == '\0')
    return FALSE;
  path = g_build_filename (dir, CREDENTIAL, NULL);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

CasSlackSender *
cas_slack_sender_new (const char         *webhook_file,
                      const char * const *envp)
{
  CasSlackSender *self = g_object_new (CAS_TYPE_SLACK_SENDER, NULL);

  self->session = cas_notify_http_session_new ();
  self->webhook_file = g_strdup (webhook_file);
  self->envp = g_strdupv ((char **) envp);
  return self;
}
