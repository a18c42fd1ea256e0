/* cas-jobs.c: placeholder until its issue-10 implementation lands. */
#define G_LOG_DOMAIN "cas-http"

#include "config.h"

#include "cas-jobs.h"

struct _CasJobs
{
  GObject parent_instance;
};

G_DEFINE_FINAL_TYPE (CasJobs, cas_jobs, G_TYPE_OBJECT)

static void
cas_jobs_class_init (CasJobsClass *klass)
{
}

static void
cas_jobs_init (CasJobs *self)
{
}

CasJobs *
cas_jobs_new (CasConfig    *config, CasAdmission *admission, CasAgentSet  *agents, const char   *state_dir, GError      **error)
{
  return g_object_new (CAS_TYPE_JOBS, NULL);
}

void
cas_jobs_register (CasJobs *self, CasHttpServer *http)
{
}
