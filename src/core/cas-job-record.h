/* cas-job-record.h: the record of one /execute job, as a pure core.
 *
 * No I/O and no clock: callers pass the time and the random bytes. The
 * same JSON serves GET /jobs/{id} and the state file, which adds the
 * fields only the daemon needs (the workspace path).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* As in the Python service: uuid4().hex[:12]. */
#define CAS_JOB_ID_LENGTH 12
#define CAS_JOB_ID_RANDOM_BYTES (CAS_JOB_ID_LENGTH / 2)

#define CAS_JOB_DEFAULT_BUDGET_USD 5.0
#define CAS_JOB_MAX_BUDGET_USD 100000.0
#define CAS_JOB_DEFAULT_TIMEOUT_SECONDS 2700
#define CAS_JOB_MAX_TIMEOUT_SECONDS 86400
#define CAS_JOB_MAX_AGENT_NAME 128

/* What a record keeps of the CLI's stdout and stderr. The first stdout
 * line (the result object callers parse) is kept whole if it fits. */
#define CAS_JOB_MAX_OUTPUT_BYTES (8 * 1024 * 1024)
#define CAS_JOB_MAX_OUTPUT_LINES 10000
#define CAS_JOB_MAX_STDERR_BYTES (64 * 1024)

/* The error of a job that was queued or running when the daemon went
 * away (crash or kill); the words callers see. */
#define CAS_JOB_RESTART_REASON "service restarted during job"

typedef enum {
  CAS_JOB_STATUS_QUEUED,
  CAS_JOB_STATUS_RUNNING,
  CAS_JOB_STATUS_COMPLETED,
  CAS_JOB_STATUS_FAILED,
  CAS_JOB_STATUS_TIMEOUT,
  CAS_JOB_STATUS_ERROR,
} CasJobStatus;

const char *cas_job_status_to_string (CasJobStatus status);
gboolean cas_job_status_from_string (const char   *text,
                                     CasJobStatus *status);
/* Completed, failed, timeout or error. */
gboolean cas_job_status_is_finished (CasJobStatus status);

/* Ids: exactly 12 lowercase hex digits; anything else never reaches the
 * disk. */
gboolean cas_job_id_is_valid (const char *id);
char *cas_job_id_from_bytes (const guint8 bytes[CAS_JOB_ID_RANDOM_BYTES]);

/* Agent names a request may carry: ^[A-Za-z0-9][A-Za-z0-9_-]*$, at most
 * CAS_JOB_MAX_AGENT_NAME bytes. Checked before any lookup, so a name is
 * never a path. */
gboolean cas_job_agent_name_is_valid (const char *name);

/* The `name:` of a Markdown file's `---` frontmatter (quotes removed), or
 * NULL when the text has no frontmatter or no name. */
char *cas_job_frontmatter_name (const char *text,
                                gsize       length);

/* ISO 8601 in UTC with microseconds, as Python's isoformat () writes an
 * aware datetime: 2026-01-02T03:04:05.000006+00:00. */
char *cas_job_format_time (gint64 unix_us);
/* The reverse; FALSE for anything that is not an ISO 8601 time. */
gboolean cas_job_parse_time (const char *text,
                             gint64     *unix_us);

/* A validated POST /execute body. */
typedef struct {
  char *prompt;
  char *agent;
  double max_budget_usd;
  guint timeout_seconds;
  JsonNode *metadata;       /* (owned) (nullable) an object; NULL for null */
} CasJobRequest;

void cas_job_request_free (CasJobRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasJobRequest, cas_job_request_free)

/* Untrusted bytes in; CAS_ERROR_INVALID_ARGUMENT with the reason out. */
CasJobRequest *cas_job_request_parse (const char *body,
                                      gsize       length,
                                      GError    **error);

typedef struct {
  char *id;
  CasJobStatus status;
  char *prompt;             /* as stored: its head when prompt_truncated */
  gboolean prompt_truncated;
  char *agent;
  double max_budget_usd;
  guint timeout_seconds;
  JsonNode *metadata;       /* (owned) (nullable) */
  /* What the record keeps of the prompt and of the output; 0 means
   * CAS_JOB_MAX_OUTPUT_BYTES. */
  gsize max_bytes;

  gint64 created_us;        /* Unix time in µs; 0: not yet */
  gint64 started_us;
  gint64 finished_us;

  gboolean has_exit_code;
  int exit_code;
  GPtrArray *output;        /* (owned) (element-type utf8) raw stdout lines */
  gsize output_bytes;
  gboolean output_truncated;
  char *stderr_text;        /* (owned) (nullable) bounded */
  char *error;              /* (owned) (nullable) */

  /* From the CLI's result object. */
  char *result;             /* (owned) (nullable) */
  JsonNode *usage;          /* (owned) (nullable) */
  gboolean has_total_cost;
  double total_cost_usd;

  char *workspace;          /* (owned) (nullable) state file only */
} CasJobRecord;

CasJobRecord *cas_job_record_new (const char          *id,
                                  const CasJobRequest *request,
                                  gint64               now_us);
void cas_job_record_free (CasJobRecord *record);
/* A copy that shares nothing mutable with @record (JSON values are
 * shared, as json_node_copy () does: records never change them). */
CasJobRecord *cas_job_record_copy (const CasJobRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasJobRecord, cas_job_record_free)

/* Bounds what @record keeps (at most CAS_JOB_MAX_OUTPUT_BYTES): the head
 * of the prompt now, with prompt_truncated, and of the output from now on. */
void cas_job_record_set_max_bytes (CasJobRecord *record,
                                   gsize         max_bytes);

void cas_job_record_set_running (CasJobRecord *record,
                                 gint64        now_us);

/* Keeps a stdout line (repaired to valid UTF-8) while the bounds allow;
 * returns FALSE and marks the output truncated when it does not. A result
 * line too big to keep is kept with the head of its "result" text, so
 * output[0] still parses and the record still has a result. */
gboolean cas_job_record_append_output (CasJobRecord *record,
                                       const char   *line,
                                       gsize         length);

typedef enum {
  /* The CLI ran and exited by itself: the exit code and result decide. */
  CAS_JOB_END_EXITED,
  /* The CLI was stopped at the job's timeout. */
  CAS_JOB_END_TIMED_OUT,
  /* Nothing ran to the end: no workspace, no CLI, the service stopping.
   * @message says what. */
  CAS_JOB_END_ERROR,
} CasJobEnd;

/* Sets the final status. completed needs exit 0 and a result that is not
 * is_error (SPEC 4: a turn with is_error failed even when it exits 0);
 * failed otherwise; timeout; error. @message is the run's words (timeout,
 * error); failed builds "exit N: <first stderr line>" itself, falling back
 * to the result text when stderr is empty. */
void cas_job_record_finish (CasJobRecord *record,
                            CasJobEnd     end,
                            int           exit_status,
                            const char   *message,
                            const char   *stderr_text,
                            gint64        now_us);

/* After a restart: a job that was queued or running is now an error with
 * CAS_JOB_RESTART_REASON. Returns TRUE when the record changed. */
gboolean cas_job_record_mark_interrupted (CasJobRecord *record,
                                          gint64        now_us);

/* A finished record older than @ttl_seconds is expired; a clock that went
 * backwards expires nothing. */
gboolean cas_job_finished_is_expired (gint64 finished_us,
                                      gint64 now_us,
                                      guint  ttl_seconds);
gboolean cas_job_record_is_expired (const CasJobRecord *record,
                                    gint64              now_us,
                                    guint               ttl_seconds);

typedef enum {
  CAS_JOB_RECORD_FORMAT_API,
  CAS_JOB_RECORD_FORMAT_STATE,
} CasJobRecordFormat;

char *cas_job_record_to_json (const CasJobRecord *record,
                              CasJobRecordFormat  format);

/* Reads a state file (untrusted: every field is type-checked and
 * bounded); CAS_ERROR_INVALID_ARGUMENT says what is wrong. */
CasJobRecord *cas_job_record_from_json (const char *data,
                                        gsize       length,
                                        GError    **error);

G_END_DECLS
