/* cas-ci-watcher.h: the CI verdict of one pushed commit, asked stage by
 * stage: GitHub's check runs, then the Woodpecker pipeline, then the
 * rollout command, folded as cas-ci-verdict.h says.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "cas-ci-verdict.h"
#include "cas-rollout-check.h"
#include "cas-tracker.h"
#include "cas-woodpecker.h"

G_BEGIN_DECLS

#define CAS_TYPE_CI_WATCHER (cas_ci_watcher_get_type ())
G_DECLARE_FINAL_TYPE (CasCiWatcher, cas_ci_watcher, CAS, CI_WATCHER, GObject)

CasCiWatcher *cas_ci_watcher_new (CasTracker      *tracker,
                                  CasWoodpecker   *woodpecker,
                                  CasRolloutCheck *rollout);

/* A later stage is asked only while the earlier ones passed: a red or
 * unfinished stage decides. A stage that cannot be asked (network,
 * garbage) fails the call: CI is then not known this time. */
void cas_ci_watcher_verdict_async (CasCiWatcher       *self,
                                   const char         *repo,
                                   const char         *sha,
                                   GCancellable       *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer            user_data);
gboolean cas_ci_watcher_verdict_finish (CasCiWatcher  *self,
                                        GAsyncResult  *result,
                                        CasCiVerdict  *verdict,
                                        GError       **error);

G_END_DECLS
