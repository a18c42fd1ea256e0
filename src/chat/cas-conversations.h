/* cas-conversations.h: multi-turn conversations kept in the CLI's own
 * sessions (the service behind POST /v1/conversational).
 *
 * Every turn runs in one pinned working directory,
 * <state_dir>/conversational (the CLI keys transcripts by cwd); what the
 * service knows about each conversation is persisted in
 * <state_dir>/conversations/ so a restart keeps --resume working. Turns
 * of one conversation run one after the other, in arrival order (a
 * "lane"). A conversation keeps its long-lived claude process between
 * turns, and a new one starts on a spare process started ahead of need
 * with an id of its own (kept in the record).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-admission.h"
#include "cas-agents.h"
#include "cas-config.h"
#include "cas-conversation-plan.h"
#include "cas-turn.h"

G_BEGIN_DECLS

#define CAS_TYPE_CONVERSATIONS (cas_conversations_get_type ())
G_DECLARE_FINAL_TYPE (CasConversations, cas_conversations, CAS, CONVERSATIONS, GObject)

/* Creates the pinned working directory and the record directory (both
 * 0700). @agents may be NULL: the configured agent is then the user's
 * own (passed as --agent alone). Fails when a directory cannot be made,
 * or our agent's definition does not fit in one argument. */
CasConversations *cas_conversations_new (CasConfig    *config,
                                         CasAdmission *admission,
                                         CasAgentSet  *agents,
                                         const char   *state_dir,
                                         GError      **error);

/* Starts the spare process a new conversation takes (when the pool is
 * on). Call once the daemon is up. */
void cas_conversations_prewarm (CasConversations *self);

/* Runs one turn of @request (copied) on @turn, which must be new: connect
 * to its "began" and "text" signals to follow the reply. The turn waits
 * behind earlier turns of its conversation and for an admission slot;
 * cancelling @cancellable takes it out of the queue, or cancels it
 * (cas_turn_cancel()) when it runs. The callback comes once the turn has
 * ended and, on success, its record is saved; the turn's getters say what
 * it produced.
 *
 * Errors: CAS_ERROR_QUEUE_FULL (the conversation's lane is full),
 * CAS_ERROR_CANCELLED, and the turn's own (cas_turn_get_error()). */
void cas_conversations_run_turn_async (CasConversations             *self,
                                       const CasConversationRequest *request,
                                       CasTurn                      *turn,
                                       GCancellable                 *cancellable,
                                       GAsyncReadyCallback           callback,
                                       gpointer                      user_data);
gboolean cas_conversations_run_turn_finish (CasConversations *self,
                                            GAsyncResult     *result,
                                            GError          **error);

/* Ends every waiting turn (CAS_ERROR_CANCELLED), cancels the running
 * ones, ends the processes, and waits for records being written. */
void cas_conversations_stop (CasConversations *self);

/* The pinned working directory (canonical), for tests and logs. */
const char *cas_conversations_get_work_dir (CasConversations *self);

G_END_DECLS
