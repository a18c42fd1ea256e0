/* cas-jobs.h: POST /execute and GET /jobs/{id}: named agents run on a
 * prompt in a throwaway workspace, their records kept on disk.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-admission.h"
#include "cas-agents.h"
#include "cas-config.h"
#include "cas-http-server.h"

G_BEGIN_DECLS

/* Past this many stored records (running or finished, until they
 * expire), /execute answers 429. */
#define CAS_JOBS_MAX_RECORDS 10000

#define CAS_TYPE_JOBS (cas_jobs_get_type ())
G_DECLARE_FINAL_TYPE (CasJobs, cas_jobs, CAS, JOBS, GObject)

/* Loads the records under @state_dir/jobs: a job that was queued or
 * running when the daemon went away becomes an error with a reason, and
 * expired records are removed. @agents may be NULL. */
CasJobs *cas_jobs_new (CasConfig    *config,
                       CasAdmission *admission,
                       CasAgentSet  *agents,
                       const char   *state_dir,
                       GError      **error);
void cas_jobs_register (CasJobs       *self,
                        CasHttpServer *http);

G_END_DECLS
