/* cas-woodpecker.h: the Woodpecker CI stage, the pipeline a commit
 * started, read over Woodpecker's REST API (v2/v3).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "cas-ci-verdict.h"
#include "cas-config.h"

G_BEGIN_DECLS

/* A bound on every response body, and on how far back to look. */
#define CAS_WOODPECKER_MAX_BODY_BYTES (8 * 1024 * 1024)
#define CAS_WOODPECKER_PER_PAGE 50
#define CAS_WOODPECKER_MAX_PAGES 5

/* One pipeline as the list of a repository's pipelines gives it. */
typedef struct {
  gint64 number;
  char *status;   /* (owned) StatusValue: success, failure, running, ... */
  char *event;    /* (owned) (nullable) push, pull_request, manual, ... */
  char *commit;   /* (owned) the sha */
  char *branch;   /* (owned) (nullable) */
  char *link;     /* (owned) its page: <url>/repos/<id>/pipeline/<number> */
} CasWoodpeckerPipeline;

void cas_woodpecker_pipeline_free (CasWoodpeckerPipeline *pipeline);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasWoodpeckerPipeline, cas_woodpecker_pipeline_free)

#define CAS_TYPE_WOODPECKER (cas_woodpecker_get_type ())
G_DECLARE_FINAL_TYPE (CasWoodpecker, cas_woodpecker, CAS, WOODPECKER, GObject)

/* From `[ci] woodpecker-url` and the token in `woodpecker-token-file` (or
 * the systemd credential "woodpecker-token"). No URL: not configured (no
 * Woodpecker stage). CAS_ERROR_CONFIG for a URL that is not http(s), or
 * a URL without a token. */
CasWoodpecker *cas_woodpecker_new (const CasConfig    *config,
                                   const char * const *envp,
                                   GError            **error);
/* The same from the values themselves; @base_url NULL or "" is not
 * configured. The token is sent as "Authorization: Bearer", never logged. */
CasWoodpecker *cas_woodpecker_new_for_url (const char *base_url,
                                           const char *token,
                                           GError    **error);

/* Whether there is a Woodpecker stage at all. */
gboolean cas_woodpecker_is_configured (CasWoodpecker *self);

/* Looks up @repository (owner/name) once (GET /api/repos/lookup/{owner}/{name},
 * the id is kept), then pages through GET /api/repos/{id}/pipelines
 * (newest first, CAS_WOODPECKER_PER_PAGE a page, at most
 * CAS_WOODPECKER_MAX_PAGES) for the newest pipeline of @commit (a full
 * hex sha), of @event only when it is not NULL ("push"). */
void cas_woodpecker_get_pipeline_async (CasWoodpecker       *self,
                                        const char          *repository,
                                        const char          *commit,
                                        const char          *event,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data);
/* TRUE with the stage's verdict: SKIPPED when not configured, NONE when
 * the commit has no pipeline (yet), else from the pipeline's status, which
 * goes to @pipeline (nullable; NULL when there is none). FALSE with
 * CAS_ERROR_INVALID_ARGUMENT (bad repository or sha), CAS_ERROR_UNAUTHORIZED
 * (401/403: the token), CAS_ERROR_NOT_FOUND (the repository is not in
 * Woodpecker), CAS_ERROR_TIMED_OUT, CAS_ERROR_CANCELLED, or CAS_ERROR_FAILED
 * (network, other HTTP statuses, a body too big or of the wrong shape). */
gboolean cas_woodpecker_get_pipeline_finish (CasWoodpecker          *self,
                                             GAsyncResult           *result,
                                             CasCiVerdict           *verdict,
                                             CasWoodpeckerPipeline **pipeline,
                                             GError                **error);

G_END_DECLS
