/* cas-checklist.c: render and read back the AFK run's checklist comment.
 *
 * The comment is English and deliberately not marked for translation: it
 * is read on GitHub by the repository's people, not by whoever runs the
 * daemon, and the daemon's locale says nothing about their language. The
 * words also stay the same whichever machine rebuilt the comment, so
 * edits in place do not flip its language. (Doorbells and D-Bus, which
 * the operator reads, are translated.)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-afk"

#include "config.h"

#include <string.h>

#include "cas-afk-parse.h"
#include "cas-checklist.h"
#include "cas-error.h"
#include "cas-job-record.h"

/* What the comment shows of outside text, in characters. */
#define MAX_SHOWN_TITLE 256
#define MAX_SHOWN_TEXT 1000

/* Outside text as one safe line of Markdown: control characters and line
 * breaks become spaces; HTML is escaped so nothing can open or close a
 * comment or a tag; Markdown's inline punctuation is backslash-escaped;
 * "@" becomes an entity so nobody is mentioned at every edit. */
static void
append_escaped (GString    *out,
                const char *text,
                guint       max_chars)
{
  g_autofree char *valid = NULL;
  const char *p;
  guint shown = 0;

  if (text == NULL)
    return;
  valid = g_utf8_make_valid (text, -1);
  for (p = valid; *p != '\0' && shown < max_chars; p = g_utf8_next_char (p), shown++)
    {
      gunichar c = g_utf8_get_char (p);

      if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == 0x2028 || c == 0x2029)
        g_string_append_c (out, ' ');
      else if (c == '<')
        g_string_append (out, "&lt;");
      else if (c == '>')
        g_string_append (out, "&gt;");
      else if (c == '&')
        g_string_append (out, "&amp;");
      else if (c == '@')
        g_string_append (out, "&#64;");
      else if (c < 0x80 && strchr ("\\`*_[]|~!", (int) c) != NULL)
        {
          g_string_append_c (out, '\\');
          g_string_append_c (out, (char) c);
        }
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
    }
  if (*p != '\0')
    g_string_append (out, "…");
}

/* A link we are willing to put in Markdown: http(s), printable ASCII
 * without spaces, quotes, angle brackets or parentheses. */
static gboolean
link_is_plain (const char *link)
{
  if (link == NULL ||
      (!g_str_has_prefix (link, "https://") && !g_str_has_prefix (link, "http://")) ||
      strlen (link) > 2048)
    return FALSE;
  for (const char *p = link; *p != '\0'; p++)
    if (*p <= 0x20 || *p >= 0x7f || strchr ("\"'<>()[]`\\", *p) != NULL)
      return FALSE;
  return TRUE;
}

static void
append_time (GString    *out,
             gint64      unix_us)
{
  g_autoptr (GDateTime) time = g_date_time_new_from_unix_utc (unix_us / G_USEC_PER_SEC);
  g_autofree char *text = time != NULL ? g_date_time_format (time, "%Y-%m-%d %H:%M UTC") : NULL;

  g_string_append (out, text != NULL ? text : "?");
}

static void
append_item (GString    *out,
             char        mark,
             const char *text)
{
  g_string_append_printf (out, "- [%c] %s", mark, text);
}

/* Why the run stopped, as the checklist says it (English, see above). */
static const char *
reason_words (CasRunReason reason)
{
  switch (reason)
    {
    case CAS_RUN_REASON_PENDING_USER_INPUT:
      return "The agent asked a question in its T3 thread and is waiting for an answer.";
    case CAS_RUN_REASON_PENDING_APPROVAL:
      return "The agent is waiting for an approval in its T3 thread.";
    case CAS_RUN_REASON_STALLED:
      return "The agent stopped without pushing a commit for this issue.";
    case CAS_RUN_REASON_TURN_FAILED:
      return "The agent's turn failed or was interrupted before anything was pushed.";
    case CAS_RUN_REASON_THREAD_MISSING:
      return "The run's T3 thread is gone.";
    case CAS_RUN_REASON_FIX_FORWARD_ATTEMPTS:
      return "CI is still red after the last fix-forward attempt.";
    case CAS_RUN_REASON_FIX_FORWARD_TIME:
      return "CI is still red and the time for fixing forward is up.";
    case CAS_RUN_REASON_NONE:
    default:
      return "";
    }
}

char *
cas_checklist_render (const CasRun *run,
                      const char   *thread_link)
{
  GString *out = g_string_sized_new (2048);
  g_autofree char *json = cas_run_to_json (run);
  g_autofree char *state = g_base64_encode ((const guchar *) json, strlen (json));
  gboolean pushed = run->pushed_sha != NULL;
  gboolean terminal = cas_run_is_terminal (run);
  g_autofree char *short_sha = pushed ? g_strndup (run->pushed_sha, 12) : NULL;

  g_string_append_printf (out, "### AFK run: %s#%u\n\n", run->repo, run->number);
  if (run->title != NULL && *run->title != '\0')
    {
      g_string_append (out, "**");
      append_escaped (out, run->title, MAX_SHOWN_TITLE);
      g_string_append (out, "**\n\n");
    }

  append_item (out, 'x', "Dispatched to T3");
  g_string_append (out, " (");
  append_time (out, run->dispatched_us);
  if (link_is_plain (thread_link))
    g_string_append_printf (out, ", [thread](%s)", thread_link);
  g_string_append (out, ")\n");

  if (pushed)
    {
      append_item (out, 'x', "Pushed to the default branch: ");
      g_string_append_printf (out, "`%s`\n", short_sha);
    }
  else
    append_item (out, terminal ? ' ' : '~', "Pushed to the default branch\n");

  if (run->phase == CAS_RUN_PHASE_DONE)
    append_item (out, 'x', "CI green\n");
  else if (pushed && run->ci == CAS_CI_VERDICT_RED)
    append_item (out, terminal ? ' ' : '~', "CI green (red now)\n");
  else if (pushed && !terminal)
    append_item (out, '~', "CI green (waiting)\n");
  else
    append_item (out, ' ', "CI green\n");

  append_item (out, run->phase == CAS_RUN_PHASE_DONE ? 'x' : ' ', "Issue closed\n");

  if (run->first_red_us != 0)
    {
      g_string_append_printf (out, "\n_Fix-forward: %u attempt%s since CI first went red at ",
                              run->fix_attempts, run->fix_attempts == 1 ? "" : "s");
      append_time (out, run->first_red_us);
      g_string_append (out, "._\n");
    }

  switch (run->phase)
    {
    case CAS_RUN_PHASE_DONE:
      g_string_append (out, "\n**Done.** CI is green; the issue is closed.\n");
      break;
    case CAS_RUN_PHASE_NEEDS_HUMAN:
      g_string_append_printf (out, "\n**Needs a human.** %s The issue is labelled for a person; "
                              "put the ready label back to hand it to the agent again.\n",
                              reason_words (run->reason));
      break;
    case CAS_RUN_PHASE_FROZEN:
      g_string_append_printf (out, "\n**Frozen.** %s The broken commit stays on the default branch; "
                              "the issue is labelled for a person.\n",
                              reason_words (run->reason));
      break;
    case CAS_RUN_PHASE_DISPATCHED:
    case CAS_RUN_PHASE_PUSHED:
    case CAS_RUN_PHASE_FIXING:
    default:
      break;
    }
  if (run->detail != NULL && *run->detail != '\0')
    {
      g_string_append (out, "\n> ");
      append_escaped (out, run->detail, MAX_SHOWN_TEXT);
      g_string_append_c (out, '\n');
    }
  if (run->last_error != NULL && *run->last_error != '\0')
    {
      g_string_append (out, "\n_Last error: ");
      append_escaped (out, run->last_error, MAX_SHOWN_TEXT);
      g_string_append (out, "_\n");
    }

  g_string_append_printf (out, "\n" CAS_CHECKLIST_MARKER "%s" CAS_CHECKLIST_MARKER_END "\n", state);
  return g_string_free (out, FALSE);
}

/* The start of the last marker in [@body, @body + @len), or NULL. */
static const char *
find_last_marker (const char *body,
                  gsize       len)
{
  gsize n = strlen (CAS_CHECKLIST_MARKER);

  if (body == NULL || len < n)
    return NULL;
  for (gsize i = len - n + 1; i > 0; i--)
    if (body[i - 1] == '<' && memcmp (body + i - 1, CAS_CHECKLIST_MARKER, n) == 0)
      return body + i - 1;
  return NULL;
}

gboolean
cas_checklist_has_marker (const char *body,
                          gssize      length)
{
  return find_last_marker (body, body == NULL ? 0 : length < 0 ? strlen (body) : (gsize) length) != NULL;
}

static gboolean
is_base64 (char c)
{
  return g_ascii_isalnum (c) || c == '+' || c == '/' || c == '=';
}

/* Canonical padded base64 of a bounded size: "=" only as the last one or
 * two characters. */
static gboolean
base64_is_valid (const char *text,
                 gsize       n)
{
  if (n == 0 || n > CAS_CHECKLIST_MAX_STATE_BYTES || n % 4 != 0)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (text[i] == '=' && (i < n - 2 || (i == n - 2 && text[n - 1] != '=')))
      return FALSE;
  return TRUE;
}

CasRun *
cas_checklist_parse (const char *body,
                     gssize      length,
                     const char *repo,
                     guint       number,
                     GError    **error)
{
  gsize len = body == NULL ? 0 : length < 0 ? strlen (body) : (gsize) length;
  const char *marker = find_last_marker (body, len);
  const char *start, *end, *limit = body + len;
  g_autofree char *encoded = NULL;
  g_autofree guchar *decoded = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autoptr (CasRun) run = NULL;
  gsize decoded_len = 0, n;

  if (marker == NULL)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "no AFK run marker in the comment");
      return NULL;
    }
  start = marker + strlen (CAS_CHECKLIST_MARKER);
  for (end = start; end < limit && is_base64 (*end) &&
       (gsize) (end - start) <= CAS_CHECKLIST_MAX_STATE_BYTES; end++)
    ;
  n = end - start;
  if (!base64_is_valid (start, n) ||
      (gsize) (limit - end) < strlen (CAS_CHECKLIST_MARKER_END) ||
      memcmp (end, CAS_CHECKLIST_MARKER_END, strlen (CAS_CHECKLIST_MARKER_END)) != 0)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "the AFK run marker does not hold base64 state");
      return NULL;
    }

  encoded = g_strndup (start, n);
  decoded = g_base64_decode (encoded, &decoded_len);
  run = cas_run_from_json ((const char *) decoded, decoded_len, &local_error);
  if (run == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (repo != NULL && (!cas_afk_repo_equal (run->repo, repo) || run->number != number))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "the AFK run marker is for %s#%u, not %s#%u",
                   run->repo, run->number, repo, number);
      return NULL;
    }
  return g_steal_pointer (&run);
}
