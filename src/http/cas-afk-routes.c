/* cas-afk-routes.c: GET /api/afk/plan.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-http"

#include "config.h"

#include "cas-afk-routes.h"
#include "cas-dispatch-policy.h"
#include "cas-pending-reply.h"

struct _CasAfkRoutes
{
  GObject parent_instance;

  CasAfkLoop *loop;           /* (owned) */
};

G_DEFINE_FINAL_TYPE (CasAfkRoutes, cas_afk_routes, G_TYPE_OBJECT)

static void
on_plan (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  g_autoptr (CasPendingReply) reply = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (CasDispatchPlan) plan = cas_afk_loop_explain_finish (CAS_AFK_LOOP (source), res,
                                                                  &error);

  if (plan == NULL)
    cas_pending_reply_error (reply, error);
  else
    cas_pending_reply_json (reply, SOUP_STATUS_OK, cas_dispatch_plan_to_json (plan));
}

static void
handle_plan (CasHttpServer     *server,
             SoupServerMessage *msg,
             const char        *path,
             GHashTable        *query,
             gpointer           user_data)
{
  CasAfkRoutes *self = user_data;
  CasPendingReply *reply = cas_pending_reply_new (msg);

  /* The plan asks GitHub: the request waits for it. */
  cas_afk_loop_explain_async (self->loop, cas_pending_reply_get_cancellable (reply), on_plan,
                              reply);
}

static void
cas_afk_routes_finalize (GObject *object)
{
  CasAfkRoutes *self = CAS_AFK_ROUTES (object);

  g_clear_object (&self->loop);

  G_OBJECT_CLASS (cas_afk_routes_parent_class)->finalize (object);
}

static void
cas_afk_routes_class_init (CasAfkRoutesClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_afk_routes_finalize;
}

static void
cas_afk_routes_init (CasAfkRoutes *self)
{
}

CasAfkRoutes *
cas_afk_routes_new (CasAfkLoop *loop)
{
  CasAfkRoutes *self = g_object_new (CAS_TYPE_AFK_ROUTES, NULL);

  self->loop = g_object_ref (loop);
  return self;
}

void
cas_afk_routes_register (CasAfkRoutes  *self,
                         CasHttpServer *http)
{
  cas_http_server_add_route (http, "GET", "/api/afk/plan", CAS_ROUTE_NONE, handle_plan, self);
}
