/* cas-jobs.h: placeholder until its issue-10 implementation lands.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-admission.h"
#include "cas-agents.h"
#include "cas-config.h"
#include "cas-http-server.h"

G_BEGIN_DECLS

#define CAS_TYPE_JOBS (cas_jobs_get_type ())
G_DECLARE_FINAL_TYPE (CasJobs, cas_jobs, CAS, JOBS, GObject)

CasJobs *cas_jobs_new (CasConfig    *config,
                       CasAdmission *admission,
                       CasAgentSet  *agents,
                       const char   *state_dir,
                       GError      **error);
void cas_jobs_register (CasJobs *self,
                       CasHttpServer *http);

G_END_DECLS
