/* cas-conversation-routes.h: POST /v1/conversational (SPEC 3.2), the HTTP
 * side of CasConversations.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-config.h"
#include "cas-conversations.h"
#include "cas-http-server.h"

G_BEGIN_DECLS

#define CAS_TYPE_CONVERSATION_ROUTES (cas_conversation_routes_get_type ())
G_DECLARE_FINAL_TYPE (CasConversationRoutes, cas_conversation_routes, CAS, CONVERSATION_ROUTES, GObject)

CasConversationRoutes *cas_conversation_routes_new (CasConfig        *config,
                                                    CasConversations *conversations);
void cas_conversation_routes_register (CasConversationRoutes *self,
                                       CasHttpServer         *http);

G_END_DECLS
