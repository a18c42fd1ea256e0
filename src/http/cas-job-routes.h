/* cas-job-routes.h: POST /execute and GET /jobs/{id} over the job queue.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-http-server.h"
#include "cas-job-queue.h"

G_BEGIN_DECLS

#define CAS_TYPE_JOB_ROUTES (cas_job_routes_get_type ())
G_DECLARE_FINAL_TYPE (CasJobRoutes, cas_job_routes, CAS, JOB_ROUTES, GObject)

CasJobRoutes *cas_job_routes_new (CasJobQueue *queue);
void cas_job_routes_register (CasJobRoutes  *self,
                              CasHttpServer *http);

G_END_DECLS
