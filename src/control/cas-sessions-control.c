/* cas-sessions-control.c: each method calls the session manager, each
 * error is the manager's own (named org.ClaudeAgentService.Error.* by
 * cas-error.c), and TurnEnded forwards the manager's turn-ended. No
 * state of its own.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-control"

#include "config.h"

#include "cas-dbus-generated.h"
#include "cas-sessions-control.h"

struct _CasSessionsControl {
  GObject parent_instance;

  CasSessionManager *manager;   /* (owned) */
  CasDBusSessions *skeleton;    /* (owned) */
  gulong turn_ended_id;
};

G_DEFINE_FINAL_TYPE (CasSessionsControl, cas_sessions_control, G_TYPE_OBJECT)

static gboolean
handle_list_sessions (CasDBusSessions       *skeleton,
                      GDBusMethodInvocation *invocation,
                      gpointer               user_data)
{
  CasSessionsControl *self = user_data;
  g_autoptr (GPtrArray) sessions = cas_session_manager_list (self->manager);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < sessions->len; i++)
    {
      CasSessionInfo *info = g_ptr_array_index (sessions, i);

      g_variant_builder_open (&builder, G_VARIANT_TYPE ("a{sv}"));
      g_variant_builder_add (&builder, "{sv}", "id", g_variant_new_string (info->id));
      g_variant_builder_add (&builder, "{sv}", "created",
                             g_variant_new_uint64 ((guint64) MAX (info->created, 0)));
      g_variant_builder_add (&builder, "{sv}", "last-activity",
                             g_variant_new_uint64 ((guint64) MAX (info->last_activity, 0)));
      g_variant_builder_add (&builder, "{sv}", "turn-active",
                             g_variant_new_boolean (info->turn_active));
      g_variant_builder_add (&builder, "{sv}", "events",
                             g_variant_new_uint32 ((guint32) MIN (info->event_count, G_MAXUINT32)));
      g_variant_builder_close (&builder);
    }
  cas_dbus_sessions_complete_list_sessions (skeleton, invocation,
                                            g_variant_builder_end (&builder));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
on_created (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr (GDBusMethodInvocation) invocation = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *id = cas_session_manager_create_finish (CAS_SESSION_MANAGER (source),
                                                          result, &error);

  if (id == NULL)
    g_dbus_method_invocation_return_gerror (invocation, error);
  else
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(s)", id));
}

static gboolean
handle_create_session (CasDBusSessions       *skeleton,
                       GDBusMethodInvocation *invocation,
                       gpointer               user_data)
{
  CasSessionsControl *self = user_data;

  cas_session_manager_create_async (self->manager, NULL, on_created,
                                    g_object_ref (invocation));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_prompt (CasDBusSessions       *skeleton,
               GDBusMethodInvocation *invocation,
               const char            *id,
               const char            *prompt,
               gpointer               user_data)
{
  CasSessionsControl *self = user_data;
  g_autoptr (GError) error = NULL;

  if (!cas_session_manager_prompt (self->manager, id, prompt, NULL, &error))
    g_dbus_method_invocation_return_gerror (invocation, error);
  else
    cas_dbus_sessions_complete_prompt (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_cancel (CasDBusSessions       *skeleton,
               GDBusMethodInvocation *invocation,
               const char            *id,
               gpointer               user_data)
{
  CasSessionsControl *self = user_data;
  g_autoptr (GError) error = NULL;
  gboolean cancelled = FALSE;

  if (!cas_session_manager_cancel (self->manager, id, &cancelled, &error))
    g_dbus_method_invocation_return_gerror (invocation, error);
  else
    cas_dbus_sessions_complete_cancel (skeleton, invocation, cancelled);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
on_turn_ended (CasSessionManager *manager,
               const char        *session_id,
               const char        *outcome,
               guint64            last_event,
               const char        *error,
               gpointer           user_data)
{
  CasSessionsControl *self = user_data;

  cas_dbus_sessions_emit_turn_ended (self->skeleton, session_id, outcome,
                                     (guint) MIN (last_event, G_MAXUINT32));
}

CasSessionsControl *
cas_sessions_control_new (CasSessionManager *manager)
{
  CasSessionsControl *self = g_object_new (CAS_TYPE_SESSIONS_CONTROL, NULL);

  self->manager = g_object_ref (manager);
  self->skeleton = cas_dbus_sessions_skeleton_new ();
  g_signal_connect (self->skeleton, "handle-list-sessions",
                    G_CALLBACK (handle_list_sessions), self);
  g_signal_connect (self->skeleton, "handle-create-session",
                    G_CALLBACK (handle_create_session), self);
  g_signal_connect (self->skeleton, "handle-prompt", G_CALLBACK (handle_prompt), self);
  g_signal_connect (self->skeleton, "handle-cancel", G_CALLBACK (handle_cancel), self);
  self->turn_ended_id = g_signal_connect (manager, "turn-ended",
                                          G_CALLBACK (on_turn_ended), self);
  return self;
}

gboolean
cas_sessions_control_export (CasSessionsControl *self,
                             GDBusConnection    *connection,
                             const char         *object_path,
                             GError            **error)
{
  return g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self->skeleton),
                                           connection, object_path, error);
}

static void
cas_sessions_control_dispose (GObject *object)
{
  CasSessionsControl *self = CAS_SESSIONS_CONTROL (object);

  if (self->skeleton != NULL)
    {
      /* Not exported when the daemon stopped before the bus was there. */
      if (g_dbus_interface_skeleton_get_connection (G_DBUS_INTERFACE_SKELETON (self->skeleton)))
        g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->skeleton));
      g_signal_handlers_disconnect_by_data (self->skeleton, self);
    }
  g_clear_signal_handler (&self->turn_ended_id, self->manager);
  g_clear_object (&self->skeleton);
  g_clear_object (&self->manager);

  G_OBJECT_CLASS (cas_sessions_control_parent_class)->dispose (object);
}

static void
cas_sessions_control_class_init (CasSessionsControlClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cas_sessions_control_dispose;
}

static void
cas_sessions_control_init (CasSessionsControl *self)
{
}
