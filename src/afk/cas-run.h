/* cas-run.h: one AFK run's bookkeeping, as a pure core.
 *
 * A run is one issue handed to one T3 thread, from dispatch to a terminal
 * state. It is a plain struct: the run machine (cas-run-machine.h) reads
 * one and returns the next, the run store writes it to the state dir and
 * the checklist carries a copy on the issue. Its JSON is versioned, and
 * reading it is strict: every field a run needs is type-checked and
 * bounded, an unknown phase or a newer version is an error, never a
 * guess. No I/O and no clock: callers pass the time.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#include "cas-ci-verdict.h"

G_BEGIN_DECLS

#define CAS_RUN_JSON_VERSION 1

/* Bounds on what a run keeps (and accepts from a file or a comment). */
#define CAS_RUN_MAX_ID_LENGTH 128       /* T3 project, thread and turn ids */
#define CAS_RUN_MAX_TITLE_LENGTH 1024   /* bytes; GitHub allows 256 chars */
#define CAS_RUN_MAX_TEXT_LENGTH 4096    /* last_error, the escalation detail */
#define CAS_RUN_MAX_ATTEMPTS 100000

typedef enum {
  /* The turn is started on T3; waiting for the agent to push. */
  CAS_RUN_PHASE_DISPATCHED,
  /* A commit with the AFK-Issue trailer landed; waiting for CI. */
  CAS_RUN_PHASE_PUSHED,
  /* CI was red: fix-forward turns, waiting for a green commit. */
  CAS_RUN_PHASE_FIXING,
  /* Terminal: CI green, the issue closed. */
  CAS_RUN_PHASE_DONE,
  /* Terminal: the agent stopped before pushing, or waits on a person. */
  CAS_RUN_PHASE_NEEDS_HUMAN,
  /* Terminal: CI still red when fix-forward ran out. */
  CAS_RUN_PHASE_FROZEN,
} CasRunPhase;

/* "dispatched", "pushed", "fixing", "done", "needs-human", "frozen". */
const char *cas_run_phase_to_string (CasRunPhase phase);
gboolean cas_run_phase_from_string (const char  *text,
                                    CasRunPhase *phase);
gboolean cas_run_phase_is_terminal (CasRunPhase phase);

/* Why a run ended in needs-human or frozen. */
typedef enum {
  CAS_RUN_REASON_NONE,
  CAS_RUN_REASON_PENDING_USER_INPUT,   /* the agent asked a question */
  CAS_RUN_REASON_PENDING_APPROVAL,     /* the agent waits for an approval */
  CAS_RUN_REASON_STALLED,              /* the turn ended, nothing pushed */
  CAS_RUN_REASON_TURN_FAILED,          /* the turn errored or was interrupted, nothing pushed */
  CAS_RUN_REASON_THREAD_MISSING,       /* the thread is gone from T3 */
  CAS_RUN_REASON_FIX_FORWARD_ATTEMPTS, /* CI red after the last fix-forward turn */
  CAS_RUN_REASON_FIX_FORWARD_TIME,     /* CI red when the fix-forward time ran out */
} CasRunReason;

/* Stable machine strings: "pending-user-input", "pending-approval",
 * "stalled", "turn-failed", "thread-missing", "fix-forward-attempts",
 * "fix-forward-time"; "" for NONE. */
const char *cas_run_reason_to_string (CasRunReason reason);
gboolean cas_run_reason_from_string (const char   *text,
                                     CasRunReason *reason);
/* A sentence for people, translated (doorbell bodies, D-Bus). */
const char *cas_run_reason_describe (CasRunReason reason);

typedef struct {
  char *repo;                 /* owner/name, valid (cas_afk_validate_repo) */
  guint number;               /* the issue */
  char *title;                /* (nullable) the title at dispatch */

  CasRunPhase phase;
  CasRunReason reason;        /* NONE unless needs-human or frozen */

  /* T3. Project and thread ids are ours (minted at dispatch) and go into
   * URLs: letters, digits, '-', '_', '.', ':' only. Turn ids are T3's and
   * only compared. */
  char *project_id;
  char *thread_id;
  char *prev_turn_id;         /* (nullable) latestTurn.turnId when our current turn was started */
  char *turn_id;              /* (nullable) our current turn: the first new turn id seen since */
  gint64 dispatched_us;       /* the first turn's start */
  gint64 turn_started_us;     /* our current turn's start (the first, or a fix-forward) */

  /* GitHub. */
  gboolean labelled;          /* the in-progress label is on */
  char *pushed_sha;           /* (nullable) the newest commit carrying our trailer */
  gint64 pushed_us;           /* when it was first seen */
  CasCiVerdict ci;             /* the last folded verdict seen; NONE: not yet */
  gint64 first_red_us;        /* 0 until CI is first red: the fix-forward clock */
  guint fix_attempts;         /* fix-forward turns started */
  char *fix_sha;              /* (nullable) the commit the last fix-forward turn was started for */
  gint64 checklist_comment_id;/* 0 until the comment exists */

  /* The end. */
  gboolean doorbell_rung;     /* the terminal doorbell is rung or queued: never again */
  char *detail;               /* (nullable) escalation words for the checklist */
  char *last_error;           /* (nullable) the loop's last failed action, for people */

  gint64 created_us;
  gint64 updated_us;
  gint64 finished_us;         /* 0 until terminal */
} CasRun;

/* A new run in phase DISPATCHED, all times @now_us. NULL when @repo is
 * not a valid repository, @number is 0 or above G_MAXINT32, or an id is
 * not valid (see the struct). */
CasRun *cas_run_new (const char *repo,
                     guint       number,
                     const char *title,
                     const char *project_id,
                     const char *thread_id,
                     const char *prev_turn_id,
                     gint64      now_us);
CasRun *cas_run_copy (const CasRun *run);
void cas_run_free (CasRun *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasRun, cas_run_free)

gboolean cas_run_is_terminal (const CasRun *run);
/* "owner/name#12", the run's key in the store and in messages. */
char *cas_run_dup_key (const CasRun *run);

/* T3 project and thread ids as this file accepts them. */
gboolean cas_run_id_is_valid (const char *id);
/* T3 turn ids as this file accepts them: non-empty, at most
 * CAS_RUN_MAX_ID_LENGTH bytes of UTF-8 without control characters (they
 * are T3's, and only ever compared). */
gboolean cas_run_turn_id_is_valid (const char *id);
/* A commit sha: 40 or 64 lowercase hex digits. */
gboolean cas_run_sha_is_valid (const char *sha);

/* Setters for the loop's bookkeeping (text bounded and made valid UTF-8). */
void cas_run_set_last_error (CasRun     *run,
                             const char *message);
void cas_run_set_detail (CasRun     *run,
                         const char *detail);

/* Same state in every field? */
gboolean cas_run_equal (const CasRun *a,
                        const CasRun *b);

/* For D-Bus ListRuns (), RunChanged and Escalated, with the keys of
 * dbus/org.ClaudeAgentService.xml: "repository" s, "issue" u, "phase" s,
 * "thread-url" s (@thread_url, "" when NULL), "attempts" u, "updated" t
 * (Unix seconds) and, once it ended, "outcome" s (done, needs-human,
 * frozen); "reason" s (translated sentence) and "reason-code" s for
 * needs-human and frozen. Also "ci" s, "doorbell-rung" b, "dispatched"
 * t, and when set "title" s, "thread-id" s, "pushed-sha" s, "first-red"
 * t, "finished" t, "detail" s, "last-error" s. Floating. */
GVariant *cas_run_to_variant (const CasRun *run,
                              const char   *thread_url);

/* One JSON object, {"version":1,...}; the same bytes for equal runs. */
char *cas_run_to_json (const CasRun *run);
/* Untrusted bytes (a state file, a checklist comment): a run, or NULL
 * and CAS_ERROR_INVALID_ARGUMENT naming the field that is wrong. Members
 * this version does not know are ignored. */
CasRun *cas_run_from_json (const char *data,
                           gsize       length,
                           GError    **error);

G_END_DECLS
