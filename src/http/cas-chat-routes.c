/* cas-chat-routes.c: placeholder until its issue-10 implementation lands. */
#define G_LOG_DOMAIN "cas-http"

#include "config.h"

#include "cas-chat-routes.h"

struct _CasChatRoutes
{
  GObject parent_instance;
};

G_DEFINE_FINAL_TYPE (CasChatRoutes, cas_chat_routes, G_TYPE_OBJECT)

static void
cas_chat_routes_class_init (CasChatRoutesClass *klass)
{
}

static void
cas_chat_routes_init (CasChatRoutes *self)
{
}

CasChatRoutes *
cas_chat_routes_new (CasConfig    *config, CasAdmission *admission, CasAgentSet  *agents)
{
  return g_object_new (CAS_TYPE_CHAT_ROUTES, NULL);
}

void
cas_chat_routes_register (CasChatRoutes *self, CasHttpServer *http)
{
}
