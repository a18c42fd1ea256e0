/* cas-job-queue.h: the job queue: named agents run on a prompt in a
 * throwaway workspace, each job's record kept on disk.
 *
 * The service behind POST /execute and GET /jobs/{id}; D-Bus methods are
 * to call the same functions. Call everything from the main thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "cas-admission.h"
#include "cas-agents.h"
#include "cas-config.h"
#include "cas-job-record.h"

G_BEGIN_DECLS

/* Past this many stored records (live or finished, until they expire),
 * a submission is refused. */
#define CAS_JOB_QUEUE_MAX_RECORDS 10000

#define CAS_TYPE_JOB_QUEUE (cas_job_queue_get_type ())
G_DECLARE_FINAL_TYPE (CasJobQueue, cas_job_queue, CAS, JOB_QUEUE, GObject)

/* Loads the records under @state_dir/jobs: a job that was queued or
 * running when the daemon went away becomes an error with a reason, and
 * expired records are removed. @agents may be NULL.
 *
 * Signal "job-changed" (const char *id, int status, a CasJobStatus):
 * a job was queued or started, or its final record is on disk (so a
 * lookup from then on reads it there). */
CasJobQueue *cas_job_queue_new (CasConfig    *config,
                                CasAdmission *admission,
                                CasAgentSet  *agents,
                                const char   *state_dir,
                                GError      **error);

/* Queues a job for @request, whose syntax the caller has checked
 * (cas_job_request_parse ()); @request is copied. Completes once the
 * job's first record is on disk, so an id a caller was given survives a
 * crash. Errors: CAS_ERROR_INVALID_ARGUMENT (an agent that is neither
 * ours nor the user's), CAS_ERROR_TOO_MANY_REQUESTS (queue full, too
 * many records), CAS_ERROR_CANCELLED (the queue is stopping),
 * CAS_ERROR_FAILED (the record cannot be stored). Cancelled before the
 * record is stored: G_IO_ERROR_CANCELLED, and there is no job. */
void cas_job_queue_submit_async (CasJobQueue         *self,
                                 const CasJobRequest *request,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data);
/* The new job's id. */
char *cas_job_queue_submit_finish (CasJobQueue  *self,
                                   GAsyncResult *result,
                                   GError      **error);

/* A job's record: queued and running jobs (and finished ones whose last
 * write is still on its way) from memory, finished ones from their file,
 * read in a worker thread. */
void cas_job_queue_lookup_async (CasJobQueue        *self,
                                 const char         *id,
                                 GCancellable       *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer            user_data);
/* A copy, or NULL with CAS_ERROR_INVALID_ARGUMENT (not a job id) or
 * CAS_ERROR_NOT_FOUND (unknown, expired or unreadable). */
CasJobRecord *cas_job_queue_lookup_finish (CasJobQueue  *self,
                                           GAsyncResult *result,
                                           GError      **error);

/* Ends every queued or running job with "service stopped during job",
 * refuses new ones, and returns once every record write has landed,
 * iterating the main context it was created in meanwhile. Call it before
 * the last unref; calling it again does nothing more. */
void cas_job_queue_stop (CasJobQueue *self);

G_END_DECLS
