/* cas-afk-control.c: the Afk D-Bus interface over the loop and settings.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-control"

#include "config.h"

#include "cas-afk-control.h"
#include "cas-dbus-generated.h"
#include "cas-dispatch-policy.h"

struct _CasAfkControl
{
  GObject parent_instance;

  CasAfkLoop *loop;             /* (owned) */
  CasAfkSettings *settings;     /* (owned) */
  CasDBusAfk *skeleton;         /* (owned) */
  GSignalGroup *settings_signals;
  GSignalGroup *loop_signals;
};

G_DEFINE_FINAL_TYPE (CasAfkControl, cas_afk_control, G_TYPE_OBJECT)

static void
sync_properties (CasAfkControl *self)
{
  const char * const *allowlist = cas_afk_settings_get_allowlist (self->settings);
  const char * const *current = cas_dbus_afk_get_allowlist (self->skeleton);

  /* Set only what changed: each set is a PropertiesChanged. */
  if (cas_dbus_afk_get_kill_switch (self->skeleton) !=
      cas_afk_settings_get_kill_switch (self->settings))
    cas_dbus_afk_set_kill_switch (self->skeleton,
                                  cas_afk_settings_get_kill_switch (self->settings));
  if (current == NULL || !g_strv_equal ((const char **) current, (const char **) allowlist))
    cas_dbus_afk_set_allowlist (self->skeleton, allowlist);
  if (cas_dbus_afk_get_armed (self->skeleton) != cas_afk_settings_get_armed (self->settings))
    cas_dbus_afk_set_armed (self->skeleton, cas_afk_settings_get_armed (self->settings));
  if (cas_dbus_afk_get_last_tick (self->skeleton) != cas_afk_loop_get_last_tick (self->loop))
    cas_dbus_afk_set_last_tick (self->skeleton, cas_afk_loop_get_last_tick (self->loop));
}

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           gpointer    user_data)
{
  sync_properties (user_data);
}

static void
on_run_changed (CasAfkLoop *loop,
                GVariant   *run,
                gpointer    user_data)
{
  CasAfkControl *self = user_data;

  cas_dbus_afk_emit_run_changed (self->skeleton, run);
}

static void
on_escalated (CasAfkLoop *loop,
              GVariant   *run,
              gpointer    user_data)
{
  CasAfkControl *self = user_data;

  cas_dbus_afk_emit_escalated (self->skeleton, run);
}

static gboolean
handle_set_kill_switch (CasDBusAfk            *skeleton,
                        GDBusMethodInvocation *invocation,
                        gboolean               enabled,
                        gpointer               user_data)
{
  CasAfkControl *self = user_data;
  g_autoptr (GError) error = NULL;

  if (!cas_afk_settings_set_kill_switch (self->settings, enabled, &error))
    g_dbus_method_invocation_return_gerror (invocation, error);
  else
    cas_dbus_afk_complete_set_kill_switch (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_set_allowlist (CasDBusAfk            *skeleton,
                      GDBusMethodInvocation *invocation,
                      const char * const    *repositories,
                      gpointer               user_data)
{
  CasAfkControl *self = user_data;
  g_autoptr (GError) error = NULL;

  if (!cas_afk_settings_set_allowlist (self->settings, repositories, &error))
    g_dbus_method_invocation_return_gerror (invocation, error);
  else
    cas_dbus_afk_complete_set_allowlist (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
on_tick_done (GObject      *source,
              GAsyncResult *res,
              gpointer      user_data)
{
  g_autoptr (GDBusMethodInvocation) invocation = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) report = cas_afk_loop_tick_finish (CAS_AFK_LOOP (source), res, &error);

  if (report == NULL)
    g_dbus_method_invocation_return_gerror (invocation, error);
  else
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(@a{sv})", report));
}

static gboolean
handle_tick (CasDBusAfk            *skeleton,
             GDBusMethodInvocation *invocation,
             gpointer               user_data)
{
  CasAfkControl *self = user_data;

  cas_afk_loop_tick_async (self->loop, NULL, on_tick_done, g_object_ref (invocation));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
on_explain_done (GObject      *source,
                 GAsyncResult *res,
                 gpointer      user_data)
{
  g_autoptr (GDBusMethodInvocation) invocation = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (CasDispatchPlan) plan = cas_afk_loop_explain_finish (CAS_AFK_LOOP (source), res,
                                                                  &error);
  GVariantBuilder builder;

  if (plan == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < plan->verdicts->len; i++)
    g_variant_builder_add_value (&builder,
                                 cas_dispatch_verdict_to_variant (g_ptr_array_index (plan->verdicts, i)));
  g_dbus_method_invocation_return_value (invocation,
                                         g_variant_new ("(aa{sv})", &builder));
}

static gboolean
handle_explain (CasDBusAfk            *skeleton,
                GDBusMethodInvocation *invocation,
                gpointer               user_data)
{
  CasAfkControl *self = user_data;

  cas_afk_loop_explain_async (self->loop, NULL, on_explain_done, g_object_ref (invocation));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_list_runs (CasDBusAfk            *skeleton,
                  GDBusMethodInvocation *invocation,
                  gpointer               user_data)
{
  CasAfkControl *self = user_data;

  cas_dbus_afk_complete_list_runs (skeleton, invocation, cas_afk_loop_list_runs (self->loop));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
cas_afk_control_dispose (GObject *object)
{
  CasAfkControl *self = CAS_AFK_CONTROL (object);

  if (self->skeleton != NULL)
    {
      cas_afk_control_unexport (self);
      g_signal_handlers_disconnect_by_data (self->skeleton, self);
    }
  g_clear_object (&self->settings_signals);
  g_clear_object (&self->loop_signals);

  G_OBJECT_CLASS (cas_afk_control_parent_class)->dispose (object);
}

static void
cas_afk_control_finalize (GObject *object)
{
  CasAfkControl *self = CAS_AFK_CONTROL (object);

  g_clear_object (&self->skeleton);
  g_clear_object (&self->settings);
  g_clear_object (&self->loop);

  G_OBJECT_CLASS (cas_afk_control_parent_class)->finalize (object);
}

static void
cas_afk_control_class_init (CasAfkControlClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cas_afk_control_dispose;
  G_OBJECT_CLASS (klass)->finalize = cas_afk_control_finalize;
}

static void
cas_afk_control_init (CasAfkControl *self)
{
}

CasAfkControl *
cas_afk_control_new (CasAfkLoop *loop)
{
  CasAfkControl *self = g_object_new (CAS_TYPE_AFK_CONTROL, NULL);

  self->loop = g_object_ref (loop);
  self->settings = g_object_ref (cas_afk_loop_get_settings (loop));
  self->skeleton = cas_dbus_afk_skeleton_new ();
  sync_properties (self);

  self->settings_signals = g_signal_group_new (CAS_TYPE_AFK_SETTINGS);
  g_signal_group_connect (self->settings_signals, "notify", G_CALLBACK (on_notify), self);
  g_signal_group_set_target (self->settings_signals, self->settings);
  self->loop_signals = g_signal_group_new (CAS_TYPE_AFK_LOOP);
  g_signal_group_connect (self->loop_signals, "notify::last-tick", G_CALLBACK (on_notify), self);
  g_signal_group_connect (self->loop_signals, "run-changed", G_CALLBACK (on_run_changed), self);
  g_signal_group_connect (self->loop_signals, "escalated", G_CALLBACK (on_escalated), self);
  g_signal_group_set_target (self->loop_signals, self->loop);

  g_signal_connect (self->skeleton, "handle-set-kill-switch",
                    G_CALLBACK (handle_set_kill_switch), self);
  g_signal_connect (self->skeleton, "handle-set-allowlist",
                    G_CALLBACK (handle_set_allowlist), self);
  g_signal_connect (self->skeleton, "handle-tick", G_CALLBACK (handle_tick), self);
  g_signal_connect (self->skeleton, "handle-explain", G_CALLBACK (handle_explain), self);
  g_signal_connect (self->skeleton, "handle-list-runs", G_CALLBACK (handle_list_runs), self);
  return self;
}

gboolean
cas_afk_control_export (CasAfkControl   *self,
                        GDBusConnection *connection,
                        GError         **error)
{
  return g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self->skeleton),
                                           connection, CAS_AFK_CONTROL_OBJECT_PATH, error);
}

void
cas_afk_control_unexport (CasAfkControl *self)
{
  GDBusInterfaceSkeleton *skeleton = G_DBUS_INTERFACE_SKELETON (self->skeleton);

  if (g_dbus_interface_skeleton_get_connection (skeleton) != NULL)
    g_dbus_interface_skeleton_unexport (skeleton);
}
