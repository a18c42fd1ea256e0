/* cas-conversational.c: placeholder until its issue-10 implementation lands. */
#define G_LOG_DOMAIN "cas-http"

#include "config.h"

#include "cas-conversational.h"

struct _CasConversational
{
  GObject parent_instance;
};

G_DEFINE_FINAL_TYPE (CasConversational, cas_conversational, G_TYPE_OBJECT)

static void
cas_conversational_class_init (CasConversationalClass *klass)
{
}

static void
cas_conversational_init (CasConversational *self)
{
}

CasConversational *
cas_conversational_new (CasConfig    *config, CasAdmission *admission, CasAgentSet  *agents, const char   *state_dir, GError      **error)
{
  return g_object_new (CAS_TYPE_CONVERSATIONAL, NULL);
}

void
cas_conversational_register (CasConversational *self, CasHttpServer *http)
{
}
