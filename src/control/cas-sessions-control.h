/* cas-sessions-control.h: org.ClaudeAgentService.Sessions on the bus, a
 * thin adapter over CasSessionManager.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "cas-session-manager.h"

G_BEGIN_DECLS

#define CAS_TYPE_SESSIONS_CONTROL (cas_sessions_control_get_type ())
G_DECLARE_FINAL_TYPE (CasSessionsControl, cas_sessions_control, CAS, SESSIONS_CONTROL, GObject)

CasSessionsControl *cas_sessions_control_new (CasSessionManager *manager);

/* Exports the interface at @object_path on @connection. */
gboolean cas_sessions_control_export (CasSessionsControl *self,
                                      GDBusConnection    *connection,
                                      const char         *object_path,
                                      GError            **error);

G_END_DECLS
