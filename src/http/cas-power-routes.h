/* cas-power-routes.h: GET /api/pve/verbs and POST /api/pve/{verb}.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-http-server.h"
#include "cas-power.h"

G_BEGIN_DECLS

#define CAS_TYPE_POWER_ROUTES (cas_power_routes_get_type ())
G_DECLARE_FINAL_TYPE (CasPowerRoutes, cas_power_routes, CAS, POWER_ROUTES, GObject)

CasPowerRoutes *cas_power_routes_new (CasPower *power);
void cas_power_routes_register (CasPowerRoutes *self,
                                CasHttpServer  *http);

G_END_DECLS
