/* cas-conversation-plan.h: the pure decisions of a conversational turn.
 *
 * Multi-turn context lives in the CLI's own session. Whether a turn opens
 * it (--session-id) or continues it (--resume) is decided from what is on
 * disk (the CLI's transcript, the daemon's record), and the two refusals
 * the CLI gives when that guess is wrong are recovered from with one
 * retry. No I/O, no clock: callers pass what they found.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* A validated POST /v1/conversational body. */
typedef struct {
  char *session_id; /* a valid id, in lower case */
  char *message;    /* non-empty */
  char *model;      /* the request's, or the default; one of the models */
  gboolean stream;
} CasConversationRequest;

void cas_conversation_request_free (CasConversationRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasConversationRequest, cas_conversation_request_free)

/* Validates {session_id, message, model?, stream?}; unknown members are
 * ignored, null optional members mean "absent". Fails with
 * CAS_ERROR_INVALID_ARGUMENT and words a client can act on; an unknown
 * model gives "unsupported model ...; supported models: a, b" (the
 * Python service's words, as /v1/chat/completions says them). */
CasConversationRequest *cas_conversation_request_parse (JsonObject         *body,
                                                        const char         *default_model,
                                                        const char * const *models,
                                                        GError            **error);

/* The CLI's own rule for --session-id (claude-cli.md section 7):
 * /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.
 * Upper case passes (the CLI keeps it verbatim); version and variant
 * bits are not checked. NULL is invalid. */
gboolean cas_conversation_id_is_valid (const char *id);

typedef enum {
  CAS_CONVERSATION_OPEN,   /* --session-id: a new CLI session */
  CAS_CONVERSATION_RESUME, /* --resume: continue the existing one */
} CasConversationStart;

/* A transcript on disk, or a record saying an earlier turn succeeded,
 * means the session exists: resume it. Either may be gone on its own (a
 * deleted state file, a cleaned ~/.claude); the retry plan covers a wrong
 * guess. */
CasConversationStart cas_conversation_plan_start (gboolean transcript_exists,
                                                  gboolean record_started);

typedef enum {
  CAS_CONVERSATION_RETRY_NONE,
  CAS_CONVERSATION_RETRY_OPEN,   /* run again with --session-id */
  CAS_CONVERSATION_RETRY_RESUME, /* run again with --resume */
} CasConversationRetry;

/* What to do after a failed attempt: @used is how it started,
 * @attempt counts from 0, @turn_began says whether the turn got under
 * way (stdout beyond the error result the CLI refuses with),
 * @stderr_text is the CLI's stderr (nullable).
 * "Session ID X is already in use" after --session-id -> retry with
 * --resume; "No conversation found with session ID: X" after --resume
 * -> retry with --session-id. Only once, and only for a refusal that came
 * before the turn began (the CLI checks its arguments first). */
CasConversationRetry cas_conversation_plan_retry (CasConversationStart used,
                                                  guint                attempt,
                                                  int                  exit_status,
                                                  gboolean             turn_began,
                                                  const char          *stderr_text);

/* The CLI's directory name for @cwd under <config>/projects: every
 * UTF-16 unit other than [A-Za-z0-9] becomes '-'. Past
 * CAS_CONVERSATION_MAX_PROJECT_NAME characters the CLI cuts the name and
 * appends "-<hash>"; the hash is the CLI's own, so then the result is the
 * cut prefix and *@hashed is set: the directory is "<prefix>-<something>". */
#define CAS_CONVERSATION_MAX_PROJECT_NAME 200
char *cas_conversation_project_name (const char *cwd,
                                     gboolean   *hashed);

/* Whether @entry (a name under <config>/projects) is the directory for
 * @project_name as returned above with @hashed. */
gboolean cas_conversation_project_dir_matches (const char *entry,
                                               const char *project_name,
                                               gboolean    hashed);

/* <config>/projects, where <config> is $CLAUDE_CONFIG_DIR if set and
 * non-empty, else $HOME/.claude. */
char *cas_conversation_projects_dir (const char *claude_config_dir,
                                     const char *home);

/* The transcript "<projects>/<project name>/<id>.jsonl"; NULL when the
 * project name is hashed (look it up with
 * cas_conversation_project_dir_matches instead). */
char *cas_conversation_transcript_path (const char *projects_dir,
                                        const char *cwd,
                                        const char *id);

G_END_DECLS
