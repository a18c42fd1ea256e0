/* cas-afk-control.h: org.ClaudeAgentService.Afk on D-Bus, a thin adapter
 * over CasAfkSettings and CasAfkLoop: it holds no state of its own, keeps
 * the properties in step with theirs (PropertiesChanged) and turns their
 * signals into RunChanged and Escalated.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "cas-afk-loop.h"

G_BEGIN_DECLS

#define CAS_AFK_CONTROL_OBJECT_PATH "/org/ClaudeAgentService"

#define CAS_TYPE_AFK_CONTROL (cas_afk_control_get_type ())
G_DECLARE_FINAL_TYPE (CasAfkControl, cas_afk_control, CAS, AFK_CONTROL, GObject)

CasAfkControl *cas_afk_control_new (CasAfkLoop *loop);

/* Exports the interface at CAS_AFK_CONTROL_OBJECT_PATH on @connection. */
gboolean cas_afk_control_export (CasAfkControl   *self,
                                 GDBusConnection *connection,
                                 GError         **error);
void cas_afk_control_unexport (CasAfkControl *self);

G_END_DECLS
