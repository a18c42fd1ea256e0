/* cas-chat-routes.h: the OpenAI-compatible routes, GET /v1/models and
 * POST /v1/chat/completions (SPEC 3.1), the HTTP side of
 * CasCompletions.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-completions.h"
#include "cas-config.h"
#include "cas-http-server.h"

G_BEGIN_DECLS

#define CAS_TYPE_CHAT_ROUTES (cas_chat_routes_get_type ())
G_DECLARE_FINAL_TYPE (CasChatRoutes, cas_chat_routes, CAS, CHAT_ROUTES, GObject)

CasChatRoutes *cas_chat_routes_new (CasConfig      *config,
                                    CasCompletions *completions);
void cas_chat_routes_register (CasChatRoutes *self,
                              CasHttpServer *http);

G_END_DECLS
