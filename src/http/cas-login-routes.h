/* cas-login-routes.h: POST /api/login and POST /api/logout.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-http-server.h"
#include "cas-login.h"

G_BEGIN_DECLS

#define CAS_TYPE_LOGIN_ROUTES (cas_login_routes_get_type ())
G_DECLARE_FINAL_TYPE (CasLoginRoutes, cas_login_routes, CAS, LOGIN_ROUTES, GObject)

/* The sessions in <@state_dir>/login-sessions.json are opened again, and
 * every login and logout is saved there (off the main loop): a restart
 * does not log the browser out. A file that cannot be read is logged and
 * left for the next save to replace. */
CasLoginRoutes *cas_login_routes_new (CasLogin   *login,
                                      const char *state_dir);
void cas_login_routes_register (CasLoginRoutes *self,
                                CasHttpServer  *http);

G_END_DECLS
