/* cas-afk-routes.h: GET /api/afk/plan, the verdicts of D-Bus Explain ()
 * as JSON (token required).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-afk-loop.h"
#include "cas-http-server.h"

G_BEGIN_DECLS

#define CAS_TYPE_AFK_ROUTES (cas_afk_routes_get_type ())
G_DECLARE_FINAL_TYPE (CasAfkRoutes, cas_afk_routes, CAS, AFK_ROUTES, GObject)

CasAfkRoutes *cas_afk_routes_new (CasAfkLoop *loop);
void cas_afk_routes_register (CasAfkRoutes  *self,
                              CasHttpServer *http);

G_END_DECLS
