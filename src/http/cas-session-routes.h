/* cas-session-routes.h: the breakglass session routes (SPEC 5) over
 * CasSessionManager: POST /api/session, GET /api/sessions,
 * GET /api/session/{id}/stream (SSE), POST /api/session/{id}/prompt,
 * POST /api/session/{id}/cancel, DELETE /api/session/{id}.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-http-server.h"
#include "cas-session-manager.h"

G_BEGIN_DECLS

#define CAS_TYPE_SESSION_ROUTES (cas_session_routes_get_type ())
G_DECLARE_FINAL_TYPE (CasSessionRoutes, cas_session_routes, CAS, SESSION_ROUTES, GObject)

CasSessionRoutes *cas_session_routes_new (CasConfig         *config,
                                          CasSessionManager *manager);
void cas_session_routes_register (CasSessionRoutes *self,
                                  CasHttpServer    *http);

/* Streams attached now, over every session. */
guint cas_session_routes_get_stream_count (CasSessionRoutes *self);

G_END_DECLS
