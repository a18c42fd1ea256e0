/* cas-job-record.c: job records, requests, ids and their JSON.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-jobs"

#include "config.h"

#include <math.h>
#include <string.h>

#include "cas-cli-process.h"
#include "cas-error.h"
#include "cas-job-record.h"
#include "cas-json.h"

/* The longest error text taken from stderr or a result. */
#define MAX_ERROR_LINE_BYTES 1000

static const char *const status_names[] = {
  [CAS_JOB_STATUS_QUEUED] = "queued",
  [CAS_JOB_STATUS_RUNNING] = "running",
  [CAS_JOB_STATUS_COMPLETED] = "completed",
  [CAS_JOB_STATUS_FAILED] = "failed",
  [CAS_JOB_STATUS_TIMEOUT] = "timeout",
  [CAS_JOB_STATUS_ERROR] = "error",
};

const char *
cas_job_status_to_string (CasJobStatus status)
{
  if ((guint) status >= G_N_ELEMENTS (status_names))
    return "error";
  return status_names[status];
}

gboolean
cas_job_status_from_string (const char   *text,
                            CasJobStatus *status)
{
  if (text == NULL)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (status_names); i++)
    if (g_str_equal (text, status_names[i]))
      {
        *status = (CasJobStatus) i;
        return TRUE;
      }
  return FALSE;
}

gboolean
cas_job_status_is_finished (CasJobStatus status)
{
  return status != CAS_JOB_STATUS_QUEUED && status != CAS_JOB_STATUS_RUNNING;
}

gboolean
cas_job_id_is_valid (const char *id)
{
  if (id == NULL)
    return FALSE;
  for (guint i = 0; i < CAS_JOB_ID_LENGTH; i++)
    if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
      return FALSE;
  return id[CAS_JOB_ID_LENGTH] == '\0';
}

char *
cas_job_id_from_bytes (const guint8 bytes[CAS_JOB_ID_RANDOM_BYTES])
{
  static const char hex[] = "0123456789abcdef";
  char *id = g_malloc (CAS_JOB_ID_LENGTH + 1);

  for (guint i = 0; i < CAS_JOB_ID_RANDOM_BYTES; i++)
    {
      id[2 * i] = hex[bytes[i] >> 4];
      id[2 * i + 1] = hex[bytes[i] & 0xf];
    }
  id[CAS_JOB_ID_LENGTH] = '\0';
  return id;
}

gboolean
cas_job_agent_name_is_valid (const char *name)
{
  gsize i;

  if (name == NULL || !g_ascii_isalnum (name[0]))
    return FALSE;
  for (i = 1; name[i] != '\0'; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '_' && name[i] != '-')
      return FALSE;
  return i <= CAS_JOB_MAX_AGENT_NAME;
}

/* One line of @text from @start, without its "\n" or "\r\n". */
static gsize
line_end (const char *text,
          gsize       length,
          gsize       start,
          gsize      *next)
{
  const char *nl = memchr (text + start, '\n', length - start);
  gsize end = nl != NULL ? (gsize) (nl - text) : length;

  *next = nl != NULL ? end + 1 : length;
  if (end > start && text[end - 1] == '\r')
    end--;
  return end;
}

char *
cas_job_frontmatter_name (const char *text,
                          gsize       length)
{
  gsize pos = 0, next, end;

  if (text == NULL)
    return NULL;
  if (length >= 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0)
    pos = 3;

  end = line_end (text, length, pos, &next);
  if (end - pos != 3 || memcmp (text + pos, "---", 3) != 0)
    return NULL;

  for (pos = next; pos < length; pos = next)
    {
      g_autofree char *line = NULL;
      char *value;
      gsize value_len;

      end = line_end (text, length, pos, &next);
      line = g_strndup (text + pos, end - pos);
      if (g_str_equal (g_strchomp (line), "---"))
        return NULL;
      if (!g_str_has_prefix (line, "name:"))
        continue;

      value = g_strstrip (line + strlen ("name:"));
      value_len = strlen (value);
      if (value_len >= 2 &&
          ((value[0] == '"' && value[value_len - 1] == '"') ||
           (value[0] == '\'' && value[value_len - 1] == '\'')))
        {
          value[value_len - 1] = '\0';
          value++;
        }
      return *value != '\0' ? g_strdup (value) : NULL;
    }
  return NULL;
}

char *
cas_job_format_time (gint64 unix_us)
{
  gint64 seconds = unix_us / G_USEC_PER_SEC;
  gint64 micro = unix_us % G_USEC_PER_SEC;
  g_autoptr (GDateTime) time = NULL;
  g_autofree char *base = NULL;

  if (micro < 0)
    {
      micro += G_USEC_PER_SEC;
      seconds--;
    }
  time = g_date_time_new_from_unix_utc (seconds);
  if (time == NULL)
    return NULL;
  base = g_date_time_format (time, "%Y-%m-%dT%H:%M:%S");
  return g_strdup_printf ("%s.%06d+00:00", base, (int) micro);
}

gboolean
cas_job_parse_time (const char *text,
                    gint64     *unix_us)
{
  g_autoptr (GDateTime) time = NULL;

  /* No default zone: a time without an offset is refused. */
  if (text == NULL || (time = g_date_time_new_from_iso8601 (text, NULL)) == NULL)
    return FALSE;
  *unix_us = g_date_time_to_unix (time) * G_USEC_PER_SEC + g_date_time_get_microsecond (time);
  return TRUE;
}

void
cas_job_request_free (CasJobRequest *request)
{
  if (request == NULL)
    return;
  g_free (request->prompt);
  g_free (request->agent);
  g_clear_pointer (&request->metadata, json_node_unref);
  g_free (request);
}

static gboolean
node_is_value_of (JsonNode *node,
                  GType     type)
{
  return node != NULL && JSON_NODE_TYPE (node) == JSON_NODE_VALUE &&
         json_node_get_value_type (node) == type;
}

static gboolean
node_is_null (JsonNode *node)
{
  return node == NULL || JSON_NODE_TYPE (node) == JSON_NODE_NULL;
}

/* A JSON number (integer or not), never a boolean or a string. */
static gboolean
node_get_number (JsonNode *node,
                 double   *value)
{
  if (node_is_value_of (node, G_TYPE_DOUBLE))
    *value = json_node_get_double (node);
  else if (node_is_value_of (node, G_TYPE_INT64))
    *value = (double) json_node_get_int (node);
  else
    return FALSE;
  return TRUE;
}

static gboolean
invalid (GError    **error,
         const char *message)
{
  g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT, message);
  return FALSE;
}

static gboolean
parse_string_field (JsonObject *object,
                    const char *member,
                    char      **out,
                    GError    **error)
{
  JsonNode *node = json_object_get_member (object, member);
  g_autofree char *message = NULL;

  if (node_is_null (node))
    message = g_strdup_printf ("%s is required", member);
  else if (!node_is_value_of (node, G_TYPE_STRING))
    message = g_strdup_printf ("%s must be a string", member);
  if (message != NULL)
    return invalid (error, message);
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

CasJobRequest *
cas_job_request_parse (const char *body,
                       gsize       length,
                       GError    **error)
{
  g_autoptr (JsonObject) object = cas_json_parse_object (body, length, error);
  g_autoptr (CasJobRequest) request = NULL;
  g_autofree char *stripped = NULL;
  JsonNode *node;
  double number;

  if (object == NULL)
    return NULL;

  request = g_new0 (CasJobRequest, 1);
  if (!parse_string_field (object, "prompt", &request->prompt, error))
    return NULL;
  stripped = g_strstrip (g_strdup (request->prompt));
  if (*stripped == '\0')
    {
      invalid (error, "prompt must not be empty");
      return NULL;
    }

  if (!parse_string_field (object, "agent", &request->agent, error))
    return NULL;
  if (!cas_job_agent_name_is_valid (request->agent))
    {
      g_autofree char *message =
        g_strdup_printf ("agent must be a name matching ^[A-Za-z0-9][A-Za-z0-9_-]*$ "
                         "(at most %d characters)", CAS_JOB_MAX_AGENT_NAME);

      invalid (error, message);
      return NULL;
    }

  request->max_budget_usd = CAS_JOB_DEFAULT_BUDGET_USD;
  node = json_object_get_member (object, "max_budget_usd");
  if (!node_is_null (node))
    {
      if (!node_get_number (node, &number) || !isfinite (number) || number <= 0 ||
          number > CAS_JOB_MAX_BUDGET_USD)
        {
          g_autofree char *message =
            g_strdup_printf ("max_budget_usd must be a number greater than 0 "
                             "and at most %g", CAS_JOB_MAX_BUDGET_USD);

          invalid (error, message);
          return NULL;
        }
      request->max_budget_usd = number;
    }

  request->timeout_seconds = CAS_JOB_DEFAULT_TIMEOUT_SECONDS;
  node = json_object_get_member (object, "timeout_seconds");
  if (!node_is_null (node))
    {
      /* 60.0 is an integer too; 1.5 is not. */
      if (!node_get_number (node, &number) || !isfinite (number) ||
          number < 1 || number > CAS_JOB_MAX_TIMEOUT_SECONDS ||
          number != (double) (guint) number)
        {
          g_autofree char *message =
            g_strdup_printf ("timeout_seconds must be an integer from 1 to %d",
                             CAS_JOB_MAX_TIMEOUT_SECONDS);

          invalid (error, message);
          return NULL;
        }
      request->timeout_seconds = (guint) number;
    }

  node = json_object_get_member (object, "metadata");
  if (!node_is_null (node))
    {
      if (JSON_NODE_TYPE (node) != JSON_NODE_OBJECT)
        {
          invalid (error, "metadata must be an object or null");
          return NULL;
        }
      request->metadata = json_node_copy (node);
    }

  return g_steal_pointer (&request);
}

static CasJobRecord *
record_alloc (void)
{
  CasJobRecord *record = g_new0 (CasJobRecord, 1);

  record->output = g_ptr_array_new_with_free_func (g_free);
  return record;
}

CasJobRecord *
cas_job_record_new (const char          *id,
                    const CasJobRequest *request,
                    gint64               now_us)
{
  CasJobRecord *record = record_alloc ();

  record->id = g_strdup (id);
  record->status = CAS_JOB_STATUS_QUEUED;
  record->prompt = g_strdup (request->prompt);
  record->agent = g_strdup (request->agent);
  record->max_budget_usd = request->max_budget_usd;
  record->timeout_seconds = request->timeout_seconds;
  record->metadata = request->metadata != NULL ? json_node_copy (request->metadata) : NULL;
  record->created_us = now_us;
  return record;
}

void
cas_job_record_free (CasJobRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->id);
  g_free (record->prompt);
  g_free (record->agent);
  g_clear_pointer (&record->metadata, json_node_unref);
  g_ptr_array_unref (record->output);
  g_free (record->stderr_text);
  g_free (record->error);
  g_free (record->result);
  g_clear_pointer (&record->usage, json_node_unref);
  g_free (record->workspace);
  g_free (record);
}

CasJobRecord *
cas_job_record_copy (const CasJobRecord *record)
{
  CasJobRecord *copy = record_alloc ();

  copy->id = g_strdup (record->id);
  copy->status = record->status;
  copy->prompt = g_strdup (record->prompt);
  copy->prompt_truncated = record->prompt_truncated;
  copy->max_bytes = record->max_bytes;
  copy->agent = g_strdup (record->agent);
  copy->max_budget_usd = record->max_budget_usd;
  copy->timeout_seconds = record->timeout_seconds;
  copy->metadata = record->metadata != NULL ? json_node_copy (record->metadata) : NULL;
  copy->created_us = record->created_us;
  copy->started_us = record->started_us;
  copy->finished_us = record->finished_us;
  copy->has_exit_code = record->has_exit_code;
  copy->exit_code = record->exit_code;
  for (guint i = 0; i < record->output->len; i++)
    g_ptr_array_add (copy->output, g_strdup (g_ptr_array_index (record->output, i)));
  copy->output_bytes = record->output_bytes;
  copy->output_truncated = record->output_truncated;
  copy->stderr_text = g_strdup (record->stderr_text);
  copy->error = g_strdup (record->error);
  copy->result = g_strdup (record->result);
  copy->usage = record->usage != NULL ? json_node_copy (record->usage) : NULL;
  copy->has_total_cost = record->has_total_cost;
  copy->total_cost_usd = record->total_cost_usd;
  copy->workspace = g_strdup (record->workspace);
  return copy;
}

/* At most @max bytes of @text, cut at a character boundary. */
static char *
utf8_head (const char *text,
           gsize       max)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  gsize len = strlen (valid);
  const char *cut;

  if (len <= max)
    return g_steal_pointer (&valid);
  cut = g_utf8_find_prev_char (valid, valid + max + 1);
  return g_strndup (valid, cut != NULL ? (gsize) (cut - valid) : 0);
}

static gsize
record_max_bytes (const CasJobRecord *record)
{
  if (record->max_bytes == 0)
    return CAS_JOB_MAX_OUTPUT_BYTES;
  return MIN (record->max_bytes, CAS_JOB_MAX_OUTPUT_BYTES);
}

void
cas_job_record_set_max_bytes (CasJobRecord *record,
                              gsize         max_bytes)
{
  record->max_bytes = MIN (max_bytes, CAS_JOB_MAX_OUTPUT_BYTES);
  if (record->prompt != NULL && strlen (record->prompt) > record_max_bytes (record))
    {
      char *head = utf8_head (record->prompt, record_max_bytes (record));

      g_free (record->prompt);
      record->prompt = head;
      record->prompt_truncated = TRUE;
    }
}

/* A CLI result line that does not fit in @room, rebuilt with as much of
 * its "result" text as fits; NULL for any other line, or if even an empty
 * text does not fit. */
static char *
cut_result_line (const char *line,
                 gsize       length,
                 gsize       room)
{
  g_autoptr (JsonObject) object = NULL;
  g_autofree char *text = NULL;
  g_autofree char *best = NULL;
  gsize low = 0, high;

  if (g_strstr_len (line, (gssize) length, "\"result\"") == NULL)
    return NULL;
  object = cas_json_parse_object (line, length, NULL);
  if (object == NULL || g_strcmp0 (cas_json_get_string (object, "type", NULL), "result") != 0 ||
      cas_json_get_string (object, "result", NULL) == NULL)
    return NULL;
  text = g_strdup (cas_json_get_string (object, "result", NULL));
  /* No head longer than the room fits, escaped or not. */
  high = MIN (strlen (text), room);

  /* The longest head whose line fits: escaping makes it more than a sum. */
  while (low <= high)
    {
      gsize middle = low + (high - low) / 2;
      g_autofree char *head = utf8_head (text, middle);
      g_autofree char *candidate = NULL;

      json_object_set_string_member (object, "result", head);
      candidate = cas_json_object_to_string (object);
      if (strlen (candidate) <= room)
        {
          g_free (best);
          best = g_steal_pointer (&candidate);
          low = middle + 1;
        }
      else if (middle == 0)
        break;
      else
        high = middle - 1;
    }
  return g_steal_pointer (&best);
}

gboolean
cas_job_record_append_output (CasJobRecord *record,
                              const char   *line,
                              gsize         length)
{
  gsize max = record_max_bytes (record);
  g_autofree char *cut = NULL;

  if (record->output->len >= CAS_JOB_MAX_OUTPUT_LINES)
    {
      record->output_truncated = TRUE;
      return FALSE;
    }
  if (record->output_bytes > max || length > max - record->output_bytes)
    {
      record->output_truncated = TRUE;
      cut = cut_result_line (line, length, max - MIN (max, record->output_bytes));
      if (cut == NULL)
        return FALSE;
      record->output_bytes += strlen (cut);
      g_ptr_array_add (record->output, g_steal_pointer (&cut));
      return FALSE;
    }
  g_ptr_array_add (record->output, g_utf8_make_valid (line, (gssize) length));
  record->output_bytes += length;
  return TRUE;
}

void
cas_job_record_set_running (CasJobRecord *record,
                            gint64        now_us)
{
  record->status = CAS_JOB_STATUS_RUNNING;
  record->started_us = now_us;
}

/* The first non-blank line of @text, bounded; NULL if there is none. */
static char *
first_line (const char *text)
{
  g_auto (GStrv) lines = NULL;

  if (text == NULL)
    return NULL;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (*g_strstrip (lines[i]) != '\0')
      return utf8_head (lines[i], MAX_ERROR_LINE_BYTES);
  return NULL;
}

/* The CLI's result object: "result", or the "errors" of limit results. */
static void
take_result (CasJobRecord *record,
             JsonObject   *object,
             gboolean     *is_error)
{
  JsonArray *errors = cas_json_get_array (object, "errors");
  JsonNode *node;
  const char *text = cas_json_get_string (object, "result", NULL);
  const char *subtype = cas_json_get_string (object, "subtype", NULL);
  double cost;

  g_clear_pointer (&record->result, g_free);
  if (text != NULL)
    record->result = g_strdup (text);
  else if (errors != NULL)
    {
      g_autoptr (GString) joined = g_string_new (NULL);

      for (guint i = 0; i < json_array_get_length (errors); i++)
        {
          JsonNode *item = json_array_get_element (errors, i);

          if (!node_is_value_of (item, G_TYPE_STRING))
            continue;
          if (joined->len > 0)
            g_string_append (joined, "; ");
          g_string_append (joined, json_node_get_string (item));
        }
      record->result = g_strdup (joined->str);
    }

  *is_error = cas_json_get_bool (object, "is_error", FALSE) ||
              (subtype != NULL && g_str_has_prefix (subtype, "error"));

  g_clear_pointer (&record->usage, json_node_unref);
  node = json_object_get_member (object, "usage");
  if (node != NULL && JSON_NODE_TYPE (node) == JSON_NODE_OBJECT)
    record->usage = json_node_copy (node);

  node = json_object_get_member (object, "total_cost_usd");
  record->has_total_cost = node_get_number (node, &cost) && isfinite (cost);
  record->total_cost_usd = record->has_total_cost ? cost : 0;
}

/* Finds the last result line; returns whether one was found. */
static gboolean
parse_result (CasJobRecord *record,
              gboolean     *is_error)
{
  for (guint i = record->output->len; i > 0; i--)
    {
      const char *line = g_ptr_array_index (record->output, i - 1);
      g_autoptr (JsonObject) object = NULL;

      if (strstr (line, "\"result\"") == NULL)
        continue;
      object = cas_json_parse_object (line, strlen (line), NULL);
      if (object == NULL || g_strcmp0 (cas_json_get_string (object, "type", NULL), "result") != 0)
        continue;
      take_result (record, object, is_error);
      return TRUE;
    }
  return FALSE;
}

void
cas_job_record_finish (CasJobRecord *record,
                       CasJobEnd     end,
                       int           exit_status,
                       const char   *message,
                       const char   *stderr_text,
                       gint64        now_us)
{
  gboolean is_error = FALSE;
  gboolean have_result;

  record->finished_us = now_us;
  g_clear_pointer (&record->stderr_text, g_free);
  if (stderr_text != NULL)
    record->stderr_text = utf8_head (stderr_text, CAS_JOB_MAX_STDERR_BYTES);
  g_clear_pointer (&record->error, g_free);
  record->has_exit_code = FALSE;
  record->exit_code = 0;
  g_clear_pointer (&record->result, g_free);
  g_clear_pointer (&record->usage, json_node_unref);
  record->has_total_cost = FALSE;
  record->total_cost_usd = 0;

  have_result = parse_result (record, &is_error);

  switch (end)
    {
    case CAS_JOB_END_EXITED:
      record->has_exit_code = TRUE;
      record->exit_code = exit_status;
      if (exit_status == 0 && !is_error)
        {
          record->status = CAS_JOB_STATUS_COMPLETED;
          break;
        }
      record->status = CAS_JOB_STATUS_FAILED;
      {
        g_autofree char *line = first_line (stderr_text);
        g_autofree char *result_line = have_result ? first_line (record->result) : NULL;

        if (exit_status == 0)
          record->error = g_strdup_printf ("the CLI reported an error: %s",
                                           result_line != NULL ? result_line : "(no text)");
        else
          record->error = cas_cli_describe_exit (exit_status,
                                                 line != NULL ? line : result_line);
      }
      break;

    case CAS_JOB_END_TIMED_OUT:
      record->status = CAS_JOB_STATUS_TIMEOUT;
      record->error = message != NULL
                        ? g_strdup (message)
                        : g_strdup_printf ("agent timed out after %u s", record->timeout_seconds);
      break;

    case CAS_JOB_END_ERROR:
    default:
      record->status = CAS_JOB_STATUS_ERROR;
      record->error = g_strdup (message != NULL ? message : "job failed");
      break;
    }
}

gboolean
cas_job_record_mark_interrupted (CasJobRecord *record,
                                 gint64        now_us)
{
  if (cas_job_status_is_finished (record->status))
    return FALSE;
  record->status = CAS_JOB_STATUS_ERROR;
  g_free (record->error);
  record->error = g_strdup (CAS_JOB_RESTART_REASON);
  record->finished_us = now_us;
  return TRUE;
}

gboolean
cas_job_finished_is_expired (gint64 finished_us,
                             gint64 now_us,
                             guint  ttl_seconds)
{
  if (finished_us <= 0 || now_us < finished_us)
    return FALSE;
  return now_us - finished_us >= (gint64) ttl_seconds * G_USEC_PER_SEC;
}

gboolean
cas_job_record_is_expired (const CasJobRecord *record,
                           gint64              now_us,
                           guint               ttl_seconds)
{
  return cas_job_status_is_finished (record->status) &&
         cas_job_finished_is_expired (record->finished_us, now_us, ttl_seconds);
}

static void
append_key (GString    *out,
            const char *key)
{
  if (out->len > 1)
    g_string_append_c (out, ',');
  cas_json_append_string (out, key);
  g_string_append_c (out, ':');
}

static void
append_time (GString    *out,
             const char *key,
             gint64      unix_us)
{
  g_autofree char *text = unix_us != 0 ? cas_job_format_time (unix_us) : NULL;

  append_key (out, key);
  cas_json_append_string (out, text);
}

char *
cas_job_record_to_json (const CasJobRecord *record,
                        CasJobRecordFormat  format)
{
  GString *out = g_string_sized_new (512 + record->output_bytes);

  g_string_append_c (out, '{');
  append_key (out, "job_id");
  cas_json_append_string (out, record->id);
  append_key (out, "status");
  cas_json_append_string (out, cas_job_status_to_string (record->status));
  append_key (out, "agent");
  cas_json_append_string (out, record->agent);
  append_key (out, "prompt");
  cas_json_append_string (out, record->prompt);
  append_key (out, "prompt_truncated");
  g_string_append (out, record->prompt_truncated ? "true" : "false");
  append_time (out, "created_at", record->created_us);
  append_time (out, "started_at", record->started_us);
  append_time (out, "finished_at", record->finished_us);
  append_key (out, "finished_epoch");
  if (record->finished_us != 0)
    cas_json_append_double (out, record->finished_us / (double) G_USEC_PER_SEC);
  else
    g_string_append (out, "null");
  append_key (out, "exit_code");
  if (record->has_exit_code)
    g_string_append_printf (out, "%d", record->exit_code);
  else
    g_string_append (out, "null");

  append_key (out, "output");
  g_string_append_c (out, '[');
  for (guint i = 0; i < record->output->len; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      cas_json_append_string (out, g_ptr_array_index (record->output, i));
    }
  g_string_append_c (out, ']');
  append_key (out, "output_truncated");
  g_string_append (out, record->output_truncated ? "true" : "false");
  append_key (out, "stderr");
  cas_json_append_string (out, record->stderr_text);
  append_key (out, "error");
  cas_json_append_string (out, record->error);

  append_key (out, "result");
  cas_json_append_string (out, record->result);
  append_key (out, "usage");
  cas_json_append_node (out, record->usage);
  append_key (out, "total_cost_usd");
  if (record->has_total_cost)
    cas_json_append_double (out, record->total_cost_usd);
  else
    g_string_append (out, "null");

  append_key (out, "metadata");
  cas_json_append_node (out, record->metadata);
  append_key (out, "max_budget_usd");
  cas_json_append_double (out, record->max_budget_usd);
  append_key (out, "timeout_seconds");
  g_string_append_printf (out, "%u", record->timeout_seconds);

  if (format == CAS_JOB_RECORD_FORMAT_STATE)
    {
      append_key (out, "workspace");
      cas_json_append_string (out, record->workspace);
    }
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

/* Optional string member: absent or null gives NULL. */
static gboolean
read_optional_string (JsonObject *object,
                      const char *member,
                      char      **out,
                      GError    **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node_is_null (node))
    return TRUE;
  if (!node_is_value_of (node, G_TYPE_STRING))
    {
      g_autofree char *message = g_strdup_printf ("%s must be a string or null", member);

      return invalid (error, message);
    }
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static gboolean
read_optional_time (JsonObject *object,
                    const char *member,
                    gint64     *out,
                    GError    **error)
{
  g_autofree char *text = NULL;

  if (!read_optional_string (object, member, &text, error))
    return FALSE;
  if (text != NULL && !cas_job_parse_time (text, out))
    {
      g_autofree char *message = g_strdup_printf ("%s is not an ISO 8601 time", member);

      return invalid (error, message);
    }
  return TRUE;
}

static gboolean
read_optional_object (JsonObject *object,
                      const char *member,
                      JsonNode  **out,
                      GError    **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node_is_null (node))
    return TRUE;
  if (JSON_NODE_TYPE (node) != JSON_NODE_OBJECT)
    {
      g_autofree char *message = g_strdup_printf ("%s must be an object or null", member);

      return invalid (error, message);
    }
  *out = json_node_copy (node);
  return TRUE;
}

static gboolean
read_record (CasJobRecord *record,
             JsonObject   *object,
             GError      **error)
{
  JsonNode *node;
  JsonArray *output;
  g_autofree char *status = NULL;
  g_autofree char *stderr_text = NULL;
  double number;

  if (!read_optional_string (object, "job_id", &record->id, error))
    return FALSE;
  if (!cas_job_id_is_valid (record->id))
    return invalid (error, "job_id is not a job id");
  if (!read_optional_string (object, "status", &status, error))
    return FALSE;
  if (!cas_job_status_from_string (status, &record->status))
    return invalid (error, "status is not a job status");
  if (!parse_string_field (object, "prompt", &record->prompt, error) ||
      !parse_string_field (object, "agent", &record->agent, error))
    return FALSE;

  if (!read_optional_time (object, "created_at", &record->created_us, error) ||
      !read_optional_time (object, "started_at", &record->started_us, error) ||
      !read_optional_time (object, "finished_at", &record->finished_us, error))
    return FALSE;
  if (record->created_us == 0)
    return invalid (error, "created_at is required");
  /* Expiry counts from the end; a finished record always has one. */
  if (cas_job_status_is_finished (record->status) && record->finished_us == 0)
    record->finished_us = MAX (record->started_us, record->created_us);

  node = json_object_get_member (object, "exit_code");
  if (node_is_value_of (node, G_TYPE_INT64))
    {
      gint64 code = json_node_get_int (node);

      if (code < G_MININT || code > G_MAXINT)
        return invalid (error, "exit_code is out of range");
      record->has_exit_code = TRUE;
      record->exit_code = (int) code;
    }
  else if (!node_is_null (node))
    return invalid (error, "exit_code must be an integer or null");

  output = cas_json_get_array (object, "output");
  node = json_object_get_member (object, "output");
  if (output == NULL && !node_is_null (node))
    return invalid (error, "output must be an array of strings");
  for (guint i = 0; output != NULL && i < json_array_get_length (output); i++)
    {
      JsonNode *item = json_array_get_element (output, i);
      const char *line;

      if (!node_is_value_of (item, G_TYPE_STRING))
        return invalid (error, "output must be an array of strings");
      line = json_node_get_string (item);
      cas_job_record_append_output (record, line, strlen (line));
    }
  if (cas_json_get_bool (object, "output_truncated", FALSE))
    record->output_truncated = TRUE;
  record->prompt_truncated = cas_json_get_bool (object, "prompt_truncated", FALSE);

  if (!read_optional_string (object, "stderr", &stderr_text, error) ||
      !read_optional_string (object, "error", &record->error, error) ||
      !read_optional_string (object, "result", &record->result, error) ||
      !read_optional_string (object, "workspace", &record->workspace, error) ||
      !read_optional_object (object, "usage", &record->usage, error) ||
      !read_optional_object (object, "metadata", &record->metadata, error))
    return FALSE;
  if (stderr_text != NULL)
    record->stderr_text = utf8_head (stderr_text, CAS_JOB_MAX_STDERR_BYTES);

  node = json_object_get_member (object, "total_cost_usd");
  if (node_get_number (node, &number) && isfinite (number))
    {
      record->has_total_cost = TRUE;
      record->total_cost_usd = number;
    }

  record->max_budget_usd = CAS_JOB_DEFAULT_BUDGET_USD;
  node = json_object_get_member (object, "max_budget_usd");
  if (node_get_number (node, &number) && isfinite (number) && number > 0)
    record->max_budget_usd = number;
  record->timeout_seconds = CAS_JOB_DEFAULT_TIMEOUT_SECONDS;
  node = json_object_get_member (object, "timeout_seconds");
  if (node_is_value_of (node, G_TYPE_INT64) && json_node_get_int (node) >= 1 &&
      json_node_get_int (node) <= CAS_JOB_MAX_TIMEOUT_SECONDS)
    record->timeout_seconds = (guint) json_node_get_int (node);

  return TRUE;
}

CasJobRecord *
cas_job_record_from_json (const char *data,
                          gsize       length,
                          GError    **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (JsonObject) object = cas_json_parse_object (data, length, &local_error);
  g_autoptr (CasJobRecord) record = NULL;

  if (object == NULL)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "not a job record: %s", local_error->message);
      return NULL;
    }

  record = record_alloc ();
  if (!read_record (record, object, &local_error))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "not a job record: %s", local_error->message);
      return NULL;
    }
  return g_steal_pointer (&record);
}
