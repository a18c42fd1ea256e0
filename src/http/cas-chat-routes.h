/* cas-chat-routes.h: the OpenAI-compatible routes, GET /v1/models and
 * POST /v1/chat/completions (SPEC 3.1).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-admission.h"
#include "cas-agents.h"
#include "cas-cli-pool.h"
#include "cas-config.h"
#include "cas-http-server.h"

G_BEGIN_DECLS

#define CAS_TYPE_CHAT_ROUTES (cas_chat_routes_get_type ())
G_DECLARE_FINAL_TYPE (CasChatRoutes, cas_chat_routes, CAS, CHAT_ROUTES, GObject)

/* @agents may be NULL: the configured agents are then taken to be the
 * user's own, passed by name only. Conversational runs take a warm
 * process from @pool when it has one. */
CasChatRoutes *cas_chat_routes_new (CasConfig    *config,
                                    CasAdmission *admission,
                                    CasAgentSet  *agents,
                                    CasCliPool   *pool);
/* Starts warm processes for the voice path: the conversational agent on
 * the default model. */
void cas_chat_routes_prewarm (CasChatRoutes *self);
void cas_chat_routes_register (CasChatRoutes *self,
                              CasHttpServer *http);

G_END_DECLS
