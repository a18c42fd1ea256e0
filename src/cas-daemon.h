/* cas-daemon.h: owns every subsystem; start and stop.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "cas-config.h"

G_BEGIN_DECLS

#define CAS_TYPE_DAEMON (cas_daemon_get_type ())
G_DECLARE_FINAL_TYPE (CasDaemon, cas_daemon, CAS, DAEMON, GObject)

/* Resolves the state dir and the API token; no sockets yet. */
CasDaemon *cas_daemon_new (CasConfig *config,
                           GError   **error);

/* Starts listening for HTTP. */
gboolean cas_daemon_start (CasDaemon *self,
                           GError   **error);

/* Called once the session bus is there (never when it is not). */
void cas_daemon_export (CasDaemon       *self,
                        GDBusConnection *connection);

/* Stops accepting, stops every child and waits (bounded) until each is
 * reaped. Iterates the default main context. */
void cas_daemon_stop (CasDaemon *self);

G_END_DECLS
