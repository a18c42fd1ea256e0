/* cas-conversation-store.h: what the daemon remembers about each
 * /v1/conversational session, one file per conversation in
 * <state_dir>/conversations/<id>.json, so a restart keeps its decisions.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Largest record file we read; anything bigger is not ours. */
#define CAS_CONVERSATION_RECORD_MAX_BYTES (64 * 1024)

typedef struct {
  char *session_id;  /* (owned) as the client sent it (case kept) */
  gboolean started;  /* a turn succeeded: the CLI session exists */
  guint64 turns;     /* successful turns */
  gint64 created_at; /* Unix seconds of the first successful turn */
  gint64 last_used;  /* Unix seconds of the last successful turn */
  char *model;       /* (owned) (nullable) the last turn's model */
  /* (owned) (nullable) the CLI's own session id, when the conversation
   * started on a warm process that was given its id before anyone asked */
  char *cli_session_id;
} CasConversationRecord;

void cas_conversation_record_free (CasConversationRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasConversationRecord, cas_conversation_record_free)

/* Pure: the record as JSON (through the one writer), with times as
 * ISO 8601 UTC strings. */
char *cas_conversation_record_to_json (const CasConversationRecord *record);

/* Pure: parses a record and checks it belongs to @expected_id (nullable:
 * no check). Fails with CAS_ERROR_INVALID_ARGUMENT saying what is wrong. */
CasConversationRecord *cas_conversation_record_from_json (const char *data,
                                                          gsize       length,
                                                          const char *expected_id,
                                                          GError    **error);

#define CAS_TYPE_CONVERSATION_STORE (cas_conversation_store_get_type ())
G_DECLARE_FINAL_TYPE (CasConversationStore, cas_conversation_store, CAS, CONVERSATION_STORE, GObject)

/* Creates @dir (mode 0700) if needed. */
CasConversationStore *cas_conversation_store_new (const char *dir,
                                                  GError    **error);

const char *cas_conversation_store_get_dir (CasConversationStore *self);

/* Reads the record from disk every time (it is small, and the decision
 * must not rest on memory). Returns NULL with no error when there is
 * none, and also when the file is unreadable or corrupt (logged: a bad
 * file must not stop the conversation). Fails only for an id that is not
 * a valid session id (CAS_ERROR_INVALID_ARGUMENT). */
CasConversationRecord *cas_conversation_store_load (CasConversationStore *self,
                                                    const char           *id,
                                                    GError              **error);

/* After a successful turn: started = TRUE, turns + 1, last_used = @now
 * (created_at too for the first one), model = @model, and
 * cli_session_id = @cli_session_id when it is not NULL. Written
 * atomically (and synced), mode 0600: blocking, so the daemon calls the
 * async form. Writes of one id must not overlap (a conversation's turns
 * run one after the other). */
gboolean cas_conversation_store_record_turn (CasConversationStore *self,
                                             const char           *id,
                                             const char           *model,
                                             const char           *cli_session_id,
                                             gint64                now,
                                             GError              **error);
/* The same in a worker thread: the sync stalls no one else's stream. */
void cas_conversation_store_record_turn_async (CasConversationStore *self,
                                               const char           *id,
                                               const char           *model,
                                               const char           *cli_session_id,
                                               gint64                now,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
gboolean cas_conversation_store_record_turn_finish (CasConversationStore *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);

/* Removes the records whose last_used is before @cutoff (Unix seconds),
 * except those of @keep (nullable: lowercase id -> anything; the
 * conversations that have a turn or a process). Only regular files named
 * <id>.json that parse as records go, never through a link. Blocking:
 * returns how many went. */
guint cas_conversation_store_sweep (CasConversationStore *self,
                                    gint64                cutoff,
                                    GHashTable           *keep);
/* The same in a worker thread; @keep is taken. */
void cas_conversation_store_sweep_async (CasConversationStore *self,
                                         gint64                cutoff,
                                         GHashTable           *keep,
                                         GAsyncReadyCallback   callback,
                                         gpointer              user_data);
guint cas_conversation_store_sweep_finish (CasConversationStore *self,
                                           GAsyncResult         *result,
                                           GError              **error);

G_END_DECLS
