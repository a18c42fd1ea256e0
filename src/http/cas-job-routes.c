/* cas-job-routes.c: POST /execute and GET /jobs/{id}: parse, ask the job
 * queue, format. The queue answers later, so each request is paused
 * until it does.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-jobs"

#include "config.h"

#include "cas-error.h"
#include "cas-job-routes.h"
#include "cas-pending-reply.h"
#include "cas-json.h"

struct _CasJobRoutes
{
  GObject parent_instance;

  CasJobQueue *queue;         /* (owned) */
};

G_DEFINE_FINAL_TYPE (CasJobRoutes, cas_job_routes, G_TYPE_OBJECT)

static void
on_submitted (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr (CasPendingReply) reply = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *id = cas_job_queue_submit_finish (CAS_JOB_QUEUE (source), result, &error);
  GString *out;

  if (id == NULL)
    {
      cas_pending_reply_error (reply, error);
      return;
    }
  out = g_string_new ("{\"job_id\":");
  cas_json_append_string (out, id);
  g_string_append (out, ",\"status\":\"queued\"}");
  cas_pending_reply_json (reply, SOUP_STATUS_ACCEPTED, g_string_free (out, FALSE));
}

static void
handle_execute (CasHttpServer     *server,
                SoupServerMessage *msg,
                const char        *path,
                GHashTable        *query,
                gpointer           user_data)
{
  CasJobRoutes *self = user_data;
  g_autoptr (GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autoptr (CasJobRequest) request = NULL;
  g_autoptr (GError) error = NULL;
  CasPendingReply *reply;
  gsize length;
  const char *data = g_bytes_get_data (body, &length);

  request = cas_job_request_parse (data, length, &error);
  if (request == NULL)
    {
      cas_http_reply_error (msg, error);
      return;
    }
  reply = cas_pending_reply_new (msg);
  cas_job_queue_submit_async (self->queue, request, cas_pending_reply_get_cancellable (reply), on_submitted, reply);
}

static void
on_looked_up (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr (CasPendingReply) reply = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (CasJobRecord) record = cas_job_queue_lookup_finish (CAS_JOB_QUEUE (source), result,
                                                                 &error);

  if (record == NULL)
    cas_pending_reply_error (reply, error);
  else
    cas_pending_reply_json (reply, SOUP_STATUS_OK,
                        cas_job_record_to_json (record, CAS_JOB_RECORD_FORMAT_API));
}

static void
handle_get_job (CasHttpServer     *server,
                SoupServerMessage *msg,
                const char        *path,
                GHashTable        *query,
                gpointer           user_data)
{
  CasJobRoutes *self = user_data;
  CasPendingReply *reply = cas_pending_reply_new (msg);

  /* The queue checks the id: it is the one that touches the disk. */
  cas_job_queue_lookup_async (self->queue, path + strlen ("/jobs/"), cas_pending_reply_get_cancellable (reply),
                              on_looked_up, reply);
}

static void
cas_job_routes_finalize (GObject *object)
{
  CasJobRoutes *self = CAS_JOB_ROUTES (object);

  g_clear_object (&self->queue);

  G_OBJECT_CLASS (cas_job_routes_parent_class)->finalize (object);
}

static void
cas_job_routes_class_init (CasJobRoutesClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_job_routes_finalize;
}

static void
cas_job_routes_init (CasJobRoutes *self)
{
}

CasJobRoutes *
cas_job_routes_new (CasJobQueue *queue)
{
  CasJobRoutes *self = g_object_new (CAS_TYPE_JOB_ROUTES, NULL);

  self->queue = g_object_ref (queue);
  return self;
}

void
cas_job_routes_register (CasJobRoutes  *self,
                         CasHttpServer *http)
{
  cas_http_server_add_route (http, "POST", "/execute", CAS_ROUTE_NONE, handle_execute, self);
  cas_http_server_add_route (http, "GET", "/jobs/", CAS_ROUTE_PREFIX, handle_get_job, self);
}
