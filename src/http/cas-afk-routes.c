/* cas-afk-routes.c: GET /api/afk/plan.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-http"

#include "config.h"

#include "cas-afk-routes.h"
#include "cas-dispatch-policy.h"

struct _CasAfkRoutes
{
  GObject parent_instance;

  CasAfkLoop *loop;           /* (owned) */
};

G_DEFINE_FINAL_TYPE (CasAfkRoutes, cas_afk_routes, G_TYPE_OBJECT)

/* A paused request waiting for GitHub; the client may go meanwhile. */
typedef struct {
  SoupServerMessage *msg;     /* (owned) */
  gboolean gone;
  gulong finished_id;
  gulong disconnected_id;
} PendingReply;

static void
on_msg_finished (SoupServerMessage *msg,
                 gpointer           user_data)
{
  PendingReply *reply = user_data;

  reply->gone = TRUE;
}

static void
pending_reply_free (PendingReply *reply)
{
  g_clear_signal_handler (&reply->finished_id, reply->msg);
  g_clear_signal_handler (&reply->disconnected_id, reply->msg);
  g_clear_object (&reply->msg);
  g_free (reply);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PendingReply, pending_reply_free)

static void
on_plan (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  g_autoptr (PendingReply) reply = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (CasDispatchPlan) plan = cas_afk_loop_explain_finish (CAS_AFK_LOOP (source), res,
                                                                  &error);

  /* After "finished", unpausing would be a critical. */
  if (reply->gone)
    return;
  if (plan == NULL)
    cas_http_reply_error (reply->msg, error);
  else
    cas_http_reply_json (reply->msg, SOUP_STATUS_OK, cas_dispatch_plan_to_json (plan));
  soup_server_message_unpause (reply->msg);
}

static void
handle_plan (CasHttpServer     *server,
             SoupServerMessage *msg,
             const char        *path,
             GHashTable        *query,
             gpointer           user_data)
{
  CasAfkRoutes *self = user_data;
  PendingReply *reply = g_new0 (PendingReply, 1);

  reply->msg = g_object_ref (msg);
  reply->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (on_msg_finished), reply);
  reply->disconnected_id = g_signal_connect (msg, "disconnected", G_CALLBACK (on_msg_finished),
                                             reply);
  soup_server_message_pause (msg);
  cas_afk_loop_explain_async (self->loop, NULL, on_plan, reply);
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
