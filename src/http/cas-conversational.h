/* cas-conversational.h: POST /v1/conversational (SPEC 3.2), multi-turn
 * conversations kept in the CLI's own sessions.
 *
 * Every turn runs in one pinned working directory,
 * <state_dir>/conversational (the CLI keys transcripts by cwd); what the
 * daemon knows about each conversation is persisted in
 * <state_dir>/conversations/ so a restart keeps --resume working. Turns
 * of one conversation run one after the other, in arrival order.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-admission.h"
#include "cas-agents.h"
#include "cas-config.h"
#include "cas-http-server.h"

G_BEGIN_DECLS

#define CAS_TYPE_CONVERSATIONAL (cas_conversational_get_type ())
G_DECLARE_FINAL_TYPE (CasConversational, cas_conversational, CAS, CONVERSATIONAL, GObject)

/* Creates the pinned working directory and the record directory (both
 * 0700). @agents may be NULL: the configured agent is then the user's
 * own (passed as --agent alone). Fails when a directory cannot be made,
 * or our agent's definition does not fit in one argument. */
CasConversational *cas_conversational_new (CasConfig    *config,
                                           CasAdmission *admission,
                                           CasAgentSet  *agents,
                                           const char   *state_dir,
                                           GError      **error);
void cas_conversational_register (CasConversational *self,
                                  CasHttpServer     *http);

/* The pinned working directory (canonical), for tests and logs. */
const char *cas_conversational_get_work_dir (CasConversational *self);

G_END_DECLS
