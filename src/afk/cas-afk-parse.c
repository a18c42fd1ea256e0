/* cas-afk-parse.c: references, priorities, T3 states, trailers and
 * allowlist entries, read from untrusted text byte by byte.
 *
 * Everything scans ASCII bytes only, so text that is not UTF-8 or has NUL
 * bytes inside a counted buffer is simply text without matches; what we
 * return (repository names, numbers) is always plain ASCII.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-afk"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cas-afk-parse.h"
#include "cas-error.h"

CasIssueRef *
cas_issue_ref_new (const char *repo,
                   guint       number)
{
  CasIssueRef *ref = g_new0 (CasIssueRef, 1);

  ref->repo = g_strdup (repo);
  ref->number = number;
  return ref;
}

CasIssueRef *
cas_issue_ref_copy (const CasIssueRef *ref)
{
  return cas_issue_ref_new (ref->repo, ref->number);
}

void
cas_issue_ref_free (CasIssueRef *ref)
{
  if (ref == NULL)
    return;
  g_free (ref->repo);
  g_free (ref);
}

char *
cas_issue_ref_to_string (const CasIssueRef *ref)
{
  return g_strdup_printf ("%s#%u", ref->repo != NULL ? ref->repo : "", ref->number);
}

gboolean
cas_afk_repo_equal (const char *a,
                    const char *b)
{
  return a != NULL && b != NULL && g_ascii_strcasecmp (a, b) == 0;
}

gboolean
cas_issue_ref_matches (const CasIssueRef *ref,
                       const char        *own_repo,
                       const char        *repo,
                       guint              number)
{
  const char *ref_repo;

  if (ref == NULL || ref->number != number)
    return FALSE;
  ref_repo = ref->repo != NULL ? ref->repo : own_repo;
  return cas_afk_repo_equal (ref_repo, repo);
}

static gsize
text_length (const char *text,
             gssize      length)
{
  if (text == NULL)
    return 0;
  return length < 0 ? strlen (text) : (gsize) length;
}

static gboolean
is_word (char c)
{
  return g_ascii_isalnum (c) || c == '_';
}

static gboolean
is_owner_char (char c)
{
  return g_ascii_isalnum (c) || c == '-';
}

static gboolean
is_name_char (char c)
{
  return g_ascii_isalnum (c) || c == '.' || c == '_' || c == '-';
}

/* Owner and name rules of cas_afk_validate_repo; 0 when valid, else which
 * part is wrong (1 owner, 2 name). */
static int
check_owner (const char *owner,
             gsize       length)
{
  if (length == 0 || length > CAS_AFK_MAX_OWNER_LENGTH ||
      owner[0] == '-' || owner[length - 1] == '-')
    return 1;
  for (gsize i = 0; i < length; i++)
    if (!is_owner_char (owner[i]))
      return 1;
  return 0;
}

static int
check_name (const char *name,
            gsize       length)
{
  if (length == 0 || length > CAS_AFK_MAX_NAME_LENGTH)
    return 2;
  for (gsize i = 0; i < length; i++)
    {
      if (!is_name_char (name[i]))
        return 2;
      if (name[i] == '.' && i + 1 < length && name[i + 1] == '.')
        return 2;
    }
  if (length == 1 && name[0] == '.')
    return 2;
  return 0;
}

/* Up to 10 significant digits from @pos; the number, or 0 when there is
 * none, it overflows, or a word character follows it. */
static guint
scan_number (const char *text,
             gsize       end,
             gsize       pos,
             gsize      *after)
{
  guint64 value = 0;
  gboolean overflow = FALSE;
  gsize start = pos;

  for (; pos < end && g_ascii_isdigit (text[pos]); pos++)
    {
      value = value * 10 + (guint64) (text[pos] - '0');
      if (value > CAS_AFK_MAX_ISSUE_NUMBER)
        {
          overflow = TRUE;
          value = 0;
        }
    }
  *after = pos;
  if (pos == start || (pos < end && is_word (text[pos])) || overflow || value == 0)
    return 0;
  return (guint) value;
}

/* A reference whose '#' is at @hash, within [@start, @end): its repo
 * (NULL for "#N"), and the number (0: not a reference). */
static guint
scan_ref (const char *text,
          gsize       start,
          gsize       end,
          gsize       hash,
          char      **repo,
          gsize      *after)
{
  gsize name_start = hash, owner_start;
  guint number;

  *repo = NULL;
  number = scan_number (text, end, hash + 1, after);
  if (number == 0)
    return 0;
  if (hash == start || (!is_name_char (text[hash - 1]) && text[hash - 1] != '/'))
    return number;

  /* owner/name#N: walk back over the name, the slash and the owner. */
  while (name_start > start && is_name_char (text[name_start - 1]))
    name_start--;
  if (name_start == start || text[name_start - 1] != '/')
    return 0;
  owner_start = name_start - 1;
  while (owner_start > start && is_owner_char (text[owner_start - 1]))
    owner_start--;
  if (owner_start > start &&
      (is_name_char (text[owner_start - 1]) || text[owner_start - 1] == '/'))
    return 0;
  if (check_owner (text + owner_start, name_start - 1 - owner_start) != 0 ||
      check_name (text + name_start, hash - name_start) != 0)
    return 0;
  *repo = g_strndup (text + owner_start, hash - owner_start);
  return number;
}

static gboolean
refs_contain (GPtrArray  *refs,
              const char *repo,
              guint       number)
{
  for (guint i = 0; i < refs->len; i++)
    {
      CasIssueRef *ref = g_ptr_array_index (refs, i);

      if (ref->number == number &&
          ((ref->repo == NULL && repo == NULL) || cas_afk_repo_equal (ref->repo, repo)))
        return TRUE;
    }
  return FALSE;
}

/* Adds a reference unless it is there; FALSE when the array is full. */
static gboolean
refs_add (GPtrArray *refs,
          char      *repo,
          guint      number)
{
  CasIssueRef *ref;

  if (refs_contain (refs, repo, number))
    {
      g_free (repo);
      return TRUE;
    }
  if (refs->len >= CAS_AFK_MAX_BLOCKERS)
    {
      g_free (repo);
      return FALSE;
    }
  ref = g_new0 (CasIssueRef, 1);
  ref->repo = repo;
  ref->number = number;
  g_ptr_array_add (refs, ref);
  return TRUE;
}

static gboolean
has_word_ci (const char *text,
             gsize       end,
             gsize       pos,
             const char *word)
{
  gsize n = strlen (word);

  return pos + n <= end && g_ascii_strncasecmp (text + pos, word, n) == 0;
}

/* Where the references of a "blocked by" clause start on the line
 * [@start, @end), or @end when the line has no such clause. */
static gsize
find_blocked_by (const char *text,
                 gsize       start,
                 gsize       end)
{
  for (gsize i = start; i < end; i++)
    {
      gsize pos;

      if ((i > start && is_word (text[i - 1])) || !has_word_ci (text, end, i, "blocked"))
        continue;
      pos = i + strlen ("blocked");
      if (pos >= end || (text[pos] != ' ' && text[pos] != '\t'))
        continue;
      while (pos < end && (text[pos] == ' ' || text[pos] == '\t'))
        pos++;
      if (!has_word_ci (text, end, pos, "by"))
        continue;
      pos += strlen ("by");
      if (pos < end && is_word (text[pos]))
        continue;
      return pos;
    }
  return end;
}

GPtrArray *
cas_afk_parse_blocked_by (const char *body,
                          gssize      length,
                          gboolean   *truncated)
{
  GPtrArray *refs = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_issue_ref_free);
  gsize len = text_length (body, length);
  gboolean full = FALSE;

  for (gsize line = 0; line < len;)
    {
      const char *nl = memchr (body + line, '\n', len - line);
      gsize end = nl != NULL ? (gsize) (nl - body) : len;
      gsize pos = find_blocked_by (body, line, end);

      while (pos < end)
        {
          const char *hash = memchr (body + pos, '#', end - pos);
          char *repo;
          gsize after;
          guint number;

          if (hash == NULL)
            break;
          number = scan_ref (body, line, end, hash - body, &repo, &after);
          if (number != 0 && !refs_add (refs, repo, number))
            full = TRUE;
          pos = MAX (after, (gsize) (hash - body) + 1);
        }
      line = end + 1;
    }
  if (truncated != NULL)
    *truncated = full;
  return refs;
}

gboolean
cas_afk_parse_priority (const char *const *labels,
                        guint             *priority)
{
  gboolean found = FALSE;
  guint best = 0;

  for (gsize i = 0; labels != NULL && labels[i] != NULL; i++)
    {
      const char *digits;
      guint64 value = 0;
      gsize n;

      if (g_ascii_strncasecmp (labels[i], "priority:", strlen ("priority:")) != 0)
        continue;
      digits = labels[i] + strlen ("priority:");
      for (n = 0; g_ascii_isdigit (digits[n]); n++)
        if (value <= CAS_AFK_MAX_ISSUE_NUMBER)
          value = value * 10 + (guint64) (digits[n] - '0');
      if (n == 0 || digits[n] != '\0' || value > G_MAXINT32)
        continue;
      if (!found || value < best)
        best = (guint) value;
      found = TRUE;
    }
  if (found)
    *priority = best;
  return found;
}

static const char *const turn_state_names[] = {
  [CAS_AFK_TURN_UNKNOWN] = "unknown",
  [CAS_AFK_TURN_RUNNING] = "running",
  [CAS_AFK_TURN_INTERRUPTED] = "interrupted",
  [CAS_AFK_TURN_COMPLETED] = "completed",
  [CAS_AFK_TURN_ERROR] = "error",
};

CasAfkTurnState
cas_afk_parse_turn_state (const char *state)
{
  if (state == NULL)
    return CAS_AFK_TURN_UNKNOWN;
  for (guint i = CAS_AFK_TURN_RUNNING; i < G_N_ELEMENTS (turn_state_names); i++)
    if (strcmp (state, turn_state_names[i]) == 0)
      return (CasAfkTurnState) i;
  return CAS_AFK_TURN_UNKNOWN;
}

const char *
cas_afk_turn_state_to_string (CasAfkTurnState state)
{
  if ((guint) state >= G_N_ELEMENTS (turn_state_names))
    return "unknown";
  return turn_state_names[state];
}

CasAfkSessionStatus
cas_afk_parse_session_status (const char *status)
{
  static const char *const names[] = {
    [CAS_AFK_SESSION_UNKNOWN] = NULL,
    [CAS_AFK_SESSION_IDLE] = "idle",
    [CAS_AFK_SESSION_STARTING] = "starting",
    [CAS_AFK_SESSION_RUNNING] = "running",
    [CAS_AFK_SESSION_READY] = "ready",
    [CAS_AFK_SESSION_INTERRUPTED] = "interrupted",
    [CAS_AFK_SESSION_STOPPED] = "stopped",
    [CAS_AFK_SESSION_ERROR] = "error",
  };

  if (status == NULL)
    return CAS_AFK_SESSION_UNKNOWN;
  for (guint i = CAS_AFK_SESSION_IDLE; i < G_N_ELEMENTS (names); i++)
    if (strcmp (status, names[i]) == 0)
      return (CasAfkSessionStatus) i;
  return CAS_AFK_SESSION_UNKNOWN;
}

typedef struct {
  gsize start;
  gsize end;   /* without the "\n" and a "\r" before it */
} Line;

static gboolean
line_is_blank (const char *text,
               const Line *line)
{
  for (gsize i = line->start; i < line->end; i++)
    if (text[i] != ' ' && text[i] != '\t')
      return FALSE;
  return TRUE;
}

/* The length of the key of a trailer line, or 0 when it is none. */
static gsize
trailer_key_length (const char *text,
                    const Line *line)
{
  gsize i;

  for (i = line->start; i < line->end && (g_ascii_isalnum (text[i]) || text[i] == '-'); i++)
    ;
  if (i == line->start || i >= line->end || text[i] != ':')
    return 0;
  return i - line->start;
}

/* One reference and nothing else, spaces around it allowed. */
static guint
parse_single_ref (const char *value,
                  char      **repo)
{
  gsize len = strlen (value), start = 0, end = len, hash, after;
  guint number;

  *repo = NULL;
  while (start < end && (value[start] == ' ' || value[start] == '\t'))
    start++;
  while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
    end--;
  for (hash = start; hash < end && value[hash] != '#'; hash++)
    ;
  if (hash >= end)
    return 0;
  number = scan_ref (value, start, end, hash, repo, &after);
  if (number == 0 || after != end || (*repo == NULL && hash != start))
    {
      g_clear_pointer (repo, g_free);
      return 0;
    }
  /* "owner/name#N" must start the value: nothing before the owner. */
  if (*repo != NULL && hash - strlen (*repo) != start)
    {
      g_clear_pointer (repo, g_free);
      return 0;
    }
  return number;
}

GPtrArray *
cas_afk_parse_trailers (const char *message,
                        gssize      length)
{
  GPtrArray *refs = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_issue_ref_free);
  g_autoptr (GArray) lines = g_array_new (FALSE, FALSE, sizeof (Line));
  gsize len = text_length (message, length);
  gssize first = -1, last = -1, para;

  for (gsize pos = 0; pos < len;)
    {
      const char *nl = memchr (message + pos, '\n', len - pos);
      Line line = { pos, nl != NULL ? (gsize) (nl - message) : len };

      pos = line.end + 1;
      if (line.end > line.start && message[line.end - 1] == '\r')
        line.end--;
      g_array_append_val (lines, line);
    }

  for (guint i = 0; i < lines->len; i++)
    if (!line_is_blank (message, &g_array_index (lines, Line, i)))
      {
        if (first < 0)
          first = i;
        last = i;
      }
  if (last < 0)
    return refs;
  for (para = last; para > 0 && !line_is_blank (message, &g_array_index (lines, Line, para - 1)); para--)
    ;
  /* The subject's paragraph is never a trailer block. */
  if (para <= first)
    return refs;

  for (gssize i = para; i <= last; i++)
    {
      Line *line = &g_array_index (lines, Line, i);
      char c = message[line->start];

      if (c == ' ' || c == '\t')
        {
          if (i == para)
            return refs;
          continue;
        }
      if (trailer_key_length (message, line) == 0)
        return refs;
    }

  for (gssize i = para; i <= last; i++)
    {
      Line *line = &g_array_index (lines, Line, i);
      gsize key = trailer_key_length (message, line);
      g_autoptr (GString) value = NULL;
      g_autofree char *repo = NULL;
      guint number;

      if (key != strlen ("AFK-Issue") ||
          g_ascii_strncasecmp (message + line->start, "AFK-Issue", key) != 0)
        continue;
      value = g_string_new_len (message + line->start + key + 1,
                                line->end - line->start - key - 1);
      for (gssize j = i + 1; j <= last; j++)
        {
          Line *more = &g_array_index (lines, Line, j);

          if (message[more->start] != ' ' && message[more->start] != '\t')
            break;
          g_string_append_c (value, ' ');
          g_string_append_len (value, message + more->start, more->end - more->start);
        }
      /* A NUL inside the value makes it no reference. */
      if (strlen (value->str) != value->len)
        continue;
      number = parse_single_ref (value->str, &repo);
      if (number != 0)
        refs_add (refs, g_steal_pointer (&repo), number);
    }
  return refs;
}

gboolean
cas_afk_message_has_trailer (const char *message,
                             gssize      length,
                             const char *repo,
                             guint       number)
{
  g_autoptr (GPtrArray) refs = cas_afk_parse_trailers (message, length);

  for (guint i = 0; i < refs->len; i++)
    if (cas_issue_ref_matches (g_ptr_array_index (refs, i), repo, repo, number))
      return TRUE;
  return FALSE;
}

/* @entry as a message may quote it: at most 64 bytes of it, control
 * characters and bytes of text that is not UTF-8 as \xNN. */
static char *
quote_entry (const char *entry)
{
  GString *out = g_string_new (NULL);
  gboolean utf8 = g_utf8_validate (entry, -1, NULL);
  gsize len = strlen (entry), i;

  for (i = 0; i < len && out->len < 64; i++)
    {
      guchar c = entry[i];

      if (c >= 0x20 && c < 0x7f)
        g_string_append_c (out, c);
      else if (c >= 0x80 && utf8)
        {
          gsize n = g_utf8_next_char (entry + i) - (entry + i);

          g_string_append_len (out, entry + i, n);
          i += n - 1;
        }
      else
        g_string_append_printf (out, "\\x%02x", c);
    }
  if (i < len)
    g_string_append (out, "…");
  return g_string_free (out, FALSE);
}

gboolean
cas_afk_validate_repo (const char *entry,
                       GError    **error)
{
  g_autofree char *quoted = NULL;
  const char *slash;

  if (entry == NULL || *entry == '\0')
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           _("A repository is empty: expected owner/name"));
      return FALSE;
    }
  slash = strchr (entry, '/');
  if (slash == NULL || strchr (slash + 1, '/') != NULL)
    {
      quoted = quote_entry (entry);
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not a repository: expected owner/name"), quoted);
      return FALSE;
    }
  if (check_owner (entry, slash - entry) != 0)
    {
      quoted = quote_entry (entry);
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   _("“%s”: the owner must be 1 to 39 letters, digits or hyphens, "
                     "not starting or ending with a hyphen"), quoted);
      return FALSE;
    }
  if (check_name (slash + 1, strlen (slash + 1)) != 0)
    {
      quoted = quote_entry (entry);
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   _("“%s”: the name must be 1 to 100 letters, digits, “.”, “_” or “-”, "
                     "and may not be “.” or contain “..”"), quoted);
      return FALSE;
    }
  return TRUE;
}

gboolean
cas_afk_validate_allowlist (const char *const *entries,
                            GError           **error)
{
  gsize n = entries != NULL ? g_strv_length ((char **) entries) : 0;

  if (n > CAS_AFK_MAX_ALLOWLIST)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   _("The allowlist has more than %d entries"), CAS_AFK_MAX_ALLOWLIST);
      return FALSE;
    }
  for (gsize i = 0; i < n; i++)
    {
      if (!cas_afk_validate_repo (entries[i], error))
        return FALSE;
      for (gsize j = 0; j < i; j++)
        if (cas_afk_repo_equal (entries[i], entries[j]))
          {
            g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                         _("“%s” is in the allowlist twice"), entries[i]);
            return FALSE;
          }
    }
  return TRUE;
}

gboolean
cas_afk_allowlist_contains (const char *const *allowlist,
                            const char        *repo)
{
  for (gsize i = 0; allowlist != NULL && allowlist[i] != NULL; i++)
    if (cas_afk_repo_equal (allowlist[i], repo))
      return TRUE;
  return FALSE;
}
