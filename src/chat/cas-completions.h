/* cas-completions.h: stateless completions (the service behind
 * POST /v1/chat/completions).
 *
 * The voice path (streaming) runs the no-tools conversational agent on
 * the flattened dialogue, on a warm process from the pool when there is
 * one. Other requests do the same, unless [chat] agent names another
 * agent: then they run it in a throwaway workspace with its tools.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-admission.h"
#include "cas-agents.h"
#include "cas-cli-pool.h"
#include "cas-config.h"
#include "cas-turn.h"

G_BEGIN_DECLS

typedef struct {
  const char *model;   /* one of the configured models */
  const char *prompt;  /* the whole dialogue, flattened */
  gboolean streaming;  /* a voice client waits for each word */
} CasCompletionRequest;

#define CAS_TYPE_COMPLETIONS (cas_completions_get_type ())
G_DECLARE_FINAL_TYPE (CasCompletions, cas_completions, CAS, COMPLETIONS, GObject)

/* @agents may be NULL: the configured agents are then taken to be the
 * user's own, passed by name only. */
CasCompletions *cas_completions_new (CasConfig    *config,
                                     CasAdmission *admission,
                                     CasAgentSet  *agents,
                                     CasCliPool   *pool);

/* Starts warm processes for the voice path: the conversational agent on
 * the default model. */
void cas_completions_prewarm (CasCompletions *self);

/* Runs @request (copied) on @turn, which must be new: connect to its
 * "began" and "text" signals to follow the reply. Waits for an admission
 * slot (and a workspace); cancelling @cancellable gives up the place in
 * the queue, or cancels the running turn. Errors: CAS_ERROR_QUEUE_FULL,
 * a cancellation, a workspace that could not be made
 * (CAS_ERROR_CLI_FAILED) and the turn's own (cas_turn_get_error()). */
void cas_completions_run_async (CasCompletions             *self,
                                const CasCompletionRequest *request,
                                CasTurn                    *turn,
                                GCancellable               *cancellable,
                                GAsyncReadyCallback         callback,
                                gpointer                    user_data);
gboolean cas_completions_run_finish (CasCompletions *self,
                                     GAsyncResult   *result,
                                     GError        **error);

G_END_DECLS
