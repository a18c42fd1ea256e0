/* cas-desktop-sender.c: the doorbell as a desktop notification.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-notify"

#include "config.h"

#include <glib/gi18n.h>
#include <libnotify/notify.h>

#include "cas-desktop-sender.h"
#include "cas-error.h"

#define SERVER_NAME "org.freedesktop.Notifications"
#define SERVER_PATH "/org/freedesktop/Notifications"
/* libnotify 0.8 shows a notification with a blocking D-Bus call (25 s
 * timeout): a server that hangs would hold the whole daemon that long.
 * So the server must first answer GetCapabilities, asynchronously,
 * within this; one that does not is treated as absent and tried again at
 * the next tick. */
#define PROBE_TIMEOUT_MS 5000
/* Notifications kept for their buttons; older ones lose them. */
#define MAX_SHOWN 32

struct _CasDesktopSender
{
  GObject parent_instance;

  /* (owned) (element-type NotifyNotification) shown and not yet closed:
   * libnotify drops a notification's action handlers when it is
   * finalized, so the buttons work only while we hold it. */
  GPtrArray *shown;
  gboolean warned_no_server;
};

enum {
  SIGNAL_DISARM_REQUESTED,
  N_SIGNALS,
};

static guint signals[N_SIGNALS];

static void cas_desktop_sender_iface_init (CasNotifySenderInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CasDesktopSender, cas_desktop_sender, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CAS_TYPE_NOTIFY_SENDER,
                                                      cas_desktop_sender_iface_init))

typedef struct {
  CasDesktopSender *self; /* (unowned) the handlers go before it does */
  char *id;               /* (owned) */
  char *link;             /* (owned) (nullable) */
} ActionData;

static void
action_data_free (gpointer data)
{
  ActionData *action = data;

  g_free (action->id);
  g_free (action->link);
  g_free (action);
}

static ActionData *
action_data_new (CasDesktopSender *self,
                 CasNotification  *notification)
{
  ActionData *action = g_new0 (ActionData, 1);

  action->self = self;
  action->id = g_strdup (notification->id);
  action->link = g_strdup (notification->link);
  return action;
}

static void
open_thread_cb (NotifyNotification *n,
                char               *action_name,
                gpointer            user_data)
{
  ActionData *action = user_data;
  g_autoptr (GError) error = NULL;

  /* The link was checked to be http(s) when the notification was made:
   * nothing else is handed to the default handler. */
  if (action->link == NULL)
    return;
  g_debug ("Opening the thread of %s", action->id);
  if (!g_app_info_launch_default_for_uri (action->link, NULL, &error))
    g_message (_("Cannot open the thread of %s: %s"), action->id, error->message);
}

static void
disarm_cb (NotifyNotification *n,
           char               *action_name,
           gpointer            user_data)
{
  ActionData *action = user_data;

  g_message (_("“Disarm AFK” pressed on the notification for %s"), action->id);
  g_signal_emit (action->self, signals[SIGNAL_DISARM_REQUESTED], 0, action->id);
}

static void
forget (CasDesktopSender   *self,
        NotifyNotification *n)
{
  g_signal_handlers_disconnect_by_data (n, self);
  notify_notification_clear_actions (n);
}

static gboolean
release_later (gpointer data)
{
  return G_SOURCE_REMOVE;
}

static void
closed_cb (NotifyNotification *n,
           gpointer            user_data)
{
  CasDesktopSender *self = user_data;

  forget (self, n);
  /* Not unreffed while libnotify is still emitting on it. */
  g_idle_add_full (G_PRIORITY_DEFAULT, release_later,
                   g_object_ref (n), g_object_unref);
  g_ptr_array_remove (self->shown, n);
}

static void
show (CasDesktopSender *self,
      GTask            *task,
      gboolean          has_actions)
{
  CasNotification *notification = g_task_get_task_data (task);
  g_autofree char *title = cas_notification_dup_title (notification);
  g_autofree char *body = cas_notification_dup_body (notification);
  NotifyNotification *n; /* (owned) libnotify 0.8 has no autoptr */
  GError *error = NULL;

  if (!notify_is_initted ())
    notify_init ("claude-agent-service");

  n = notify_notification_new (title, body, NULL);
  notify_notification_set_urgency (n, cas_notification_is_escalation (notification)
                                        ? NOTIFY_URGENCY_CRITICAL
                                        : NOTIFY_URGENCY_NORMAL);
  notify_notification_set_app_name (n, "claude-agent-service");
  if (has_actions)
    {
      if (notification->link != NULL)
        {
          notify_notification_add_action (n, "default", _("Open thread"), open_thread_cb,
                                          action_data_new (self, notification), action_data_free);
          notify_notification_add_action (n, "open", _("Open thread"), open_thread_cb,
                                          action_data_new (self, notification), action_data_free);
        }
      notify_notification_add_action (n, "disarm", _("Disarm AFK"), disarm_cb,
                                      action_data_new (self, notification), action_data_free);
    }

  /* Synchronous in libnotify 0.8 (a D-Bus call with the default timeout). */
  if (!notify_notification_show (n, &error))
    {
      forget (self, n);
      g_object_unref (n);
      g_task_return_error (task, error);
      return;
    }
  g_signal_connect (n, "closed", G_CALLBACK (closed_cb), self);
  if (self->shown->len >= MAX_SHOWN)
    {
      forget (self, self->shown->pdata[0]);
      g_ptr_array_remove_index (self->shown, 0);
    }
  g_ptr_array_add (self->shown, n);
  g_task_return_boolean (task, TRUE);
}

static void
no_server (CasDesktopSender *self,
           GTask            *task,
           const char       *why)
{
  if (!self->warned_no_server)
    g_message (_("No desktop notification server (%s): desktop notifications wait until there is one"),
               why);
  self->warned_no_server = TRUE;
  g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                           "no desktop notification server");
}

static void
capabilities_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  CasDesktopSender *self = g_task_get_source_object (task);
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariantIter) iter = NULL;
  g_autoptr (GError) error = NULL;
  gboolean has_actions = FALSE;
  const char *capability;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (g_task_return_error_if_cancelled (task))
    return;
  if (reply == NULL)
    {
      no_server (self, task, error->message);
      return;
    }
  g_variant_get (reply, "(as)", &iter);
  while (g_variant_iter_loop (iter, "&s", &capability))
    has_actions = has_actions || g_strcmp0 (capability, "actions") == 0;
  if (self->warned_no_server)
    g_message (_("A desktop notification server is back"));
  self->warned_no_server = FALSE;
  show (self, task, has_actions);
}

/* The server must answer in time. The bus starts an activatable one for
 * the call, and answers at once when there is none at all. */
static void
ask_server (GDBusConnection *bus,
            GTask           *task)
{
  GCancellable *cancellable = g_task_get_cancellable (task);

  g_dbus_connection_call (bus, SERVER_NAME, SERVER_PATH, SERVER_NAME, "GetCapabilities",
                          NULL, G_VARIANT_TYPE ("(as)"), G_DBUS_CALL_FLAGS_NONE,
                          PROBE_TIMEOUT_MS, cancellable, capabilities_done, task);
}

static void
got_bus (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  CasDesktopSender *self = g_task_get_source_object (task);
  g_autoptr (GDBusConnection) bus = NULL;
  g_autoptr (GError) error = NULL;

  bus = g_bus_get_finish (result, &error);
  if (g_task_return_error_if_cancelled (task))
    return;
  if (bus == NULL)
    {
      no_server (self, task, error->message);
      return;
    }
  ask_server (bus, g_steal_pointer (&task));
}

static void
cas_desktop_sender_send_async (CasNotifySender    *sender,
                               CasNotification    *notification,
                               GCancellable       *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (sender, cancellable, callback, user_data);

  g_task_set_source_tag (task, cas_desktop_sender_send_async);
  g_task_set_task_data (task, cas_notification_ref (notification),
                        (GDestroyNotify) cas_notification_unref);
  g_bus_get (G_BUS_TYPE_SESSION, cancellable, got_bus, g_steal_pointer (&task));
}

static gboolean
cas_desktop_sender_send_finish (CasNotifySender *sender,
                                GAsyncResult    *result,
                                GError         **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static const char *
cas_desktop_sender_get_name (CasNotifySender *sender)
{
  return "desktop";
}

static void
cas_desktop_sender_iface_init (CasNotifySenderInterface *iface)
{
  iface->get_name = cas_desktop_sender_get_name;
  iface->send_async = cas_desktop_sender_send_async;
  iface->send_finish = cas_desktop_sender_send_finish;
}

static void
cas_desktop_sender_dispose (GObject *object)
{
  CasDesktopSender *self = CAS_DESKTOP_SENDER (object);

  if (self->shown != NULL)
    for (guint i = 0; i < self->shown->len; i++)
      forget (self, self->shown->pdata[i]);
  g_clear_pointer (&self->shown, g_ptr_array_unref);

  G_OBJECT_CLASS (cas_desktop_sender_parent_class)->dispose (object);
}

static void
cas_desktop_sender_class_init (CasDesktopSenderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cas_desktop_sender_dispose;

  signals[SIGNAL_DISARM_REQUESTED] =
    g_signal_new ("disarm-requested", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
cas_desktop_sender_init (CasDesktopSender *self)
{
  self->shown = g_ptr_array_new_with_free_func (g_object_unref);
}

CasDesktopSender *
cas_desktop_sender_new (void)
{
  return g_object_new (CAS_TYPE_DESKTOP_SENDER, NULL);
}
