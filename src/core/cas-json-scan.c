/* cas-json-scan.c: a strict JSON walker that keeps only wanted strings.
 *
 * json-glib builds a tree of nodes and hash tables for every line, and a
 * streamed reply is mostly small "text_delta" lines: parsing them was
 * over half of the daemon's CPU time while relaying. This walker checks
 * the whole text as strictly as RFC 8259 asks and copies out only the
 * strings asked for. Whatever it is unsure of, it leaves to json-glib.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "cas-json-scan.h"

#define MAX_PATH 128

typedef struct {
  const char *p;
  const char *end;
  const char *const *paths;
  char **values;
  guint n_paths;
  char path[MAX_PATH];
  guint depth;
  gboolean too_deep;
  /* Picking: also refuse what json-glib might read differently. */
  gboolean exact;
} Scan;

static void
skip_ws (Scan *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

static int
hex_digit (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static gboolean
read_hex4 (Scan    *s,
           gunichar *out)
{
  gunichar value = 0;

  if (s->end - s->p < 4)
    return FALSE;
  for (guint i = 0; i < 4; i++)
    {
      int digit = hex_digit (s->p[i]);

      if (digit < 0)
        return FALSE;
      value = value * 16 + (gunichar) digit;
    }
  s->p += 4;
  *out = value;
  return TRUE;
}

/* A string, after its opening quote. With @out, its decoded value is
 * appended there. */
static gboolean
scan_string (Scan    *s,
             GString *out)
{
  while (s->p < s->end)
    {
      const char *run = s->p;
      gunichar c;

      /* The text is valid UTF-8 (checked up front): copy plain runs. */
      while (s->p < s->end && *s->p != '"' && *s->p != '\\' && (guchar) *s->p >= 0x20)
        s->p++;
      if (out != NULL && s->p > run)
        g_string_append_len (out, run, s->p - run);
      if (s->p >= s->end || (guchar) *s->p < 0x20)
        return FALSE;
      if (*s->p++ == '"')
        return TRUE;

      if (s->p >= s->end)
        return FALSE;
      switch (*s->p++)
        {
        case '"': c = '"'; break;
        case '\\': c = '\\'; break;
        case '/': c = '/'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u':
          if (!read_hex4 (s, &c))
            return FALSE;
          if (!s->exact)
            continue;  /* checking only: the value is not kept */
          if (c == 0 || (c >= 0xDC00 && c <= 0xDFFF))
            return FALSE;
          if (c >= 0xD800 && c <= 0xDBFF)
            {
              gunichar low;

              if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
                return FALSE;
              s->p += 2;
              if (!read_hex4 (s, &low) || low < 0xDC00 || low > 0xDFFF)
                return FALSE;
              c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
            }
          break;
        default:
          return FALSE;
        }
      if (out != NULL)
        g_string_append_unichar (out, c);
    }
  return FALSE;
}

static gboolean
scan_digits (Scan *s)
{
  const char *start = s->p;

  while (s->p < s->end && g_ascii_isdigit (*s->p))
    s->p++;
  return s->p > start;
}

/* When picking, only numbers json-glib surely reads the same way: no
 * exponent and at most 15 characters, so no overflow. */
#define MAX_NUMBER_LEN 15

static gboolean
scan_number (Scan *s)
{
  const char *start = s->p;

  if (s->p < s->end && *s->p == '-')
    s->p++;
  if (s->p < s->end && *s->p == '0')
    s->p++;
  else if (!scan_digits (s))
    return FALSE;
  if (s->p < s->end && *s->p == '.')
    {
      s->p++;
      if (!scan_digits (s))
        return FALSE;
    }
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E'))
    {
      if (s->exact)
        return FALSE;
      s->p++;
      if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
        s->p++;
      if (!scan_digits (s))
        return FALSE;
    }
  return !s->exact || s->p - start <= MAX_NUMBER_LEN;
}

static gboolean
scan_word (Scan       *s,
           const char *word)
{
  gsize len = strlen (word);

  if ((gsize) (s->end - s->p) < len || memcmp (s->p, word, len) != 0)
    return FALSE;
  s->p += len;
  return TRUE;
}

/* Which wanted path @path is (or -1), and whether any lies below it. */
static int
match_path (Scan       *s,
            const char *path,
            gsize       path_len,
            gboolean   *has_below)
{
  int found = -1;

  *has_below = FALSE;
  for (guint i = 0; i < s->n_paths; i++)
    {
      const char *wanted = s->paths[i];

      if (strncmp (wanted, path, path_len) != 0)
        continue;
      if (wanted[path_len] == '\0')
        found = (int) i;
      else if (wanted[path_len] == '.')
        *has_below = TRUE;
    }
  return found;
}

/* A member is set again (or for the first time): what an earlier one of
 * the same name left at or below it no longer holds. */
static void
forget_below (Scan       *s,
              const char *path,
              gsize       path_len)
{
  for (guint i = 0; i < s->n_paths; i++)
    {
      const char *wanted = s->paths[i];

      if (strncmp (wanted, path, path_len) == 0 &&
          (wanted[path_len] == '\0' || wanted[path_len] == '.'))
        g_clear_pointer (&s->values[i], g_free);
    }
}

static gboolean scan_value (Scan *s, gssize path_len);

typedef enum { ITEM_NEXT, ITEM_END, ITEM_BAD } ItemEnd;

/* After a member or an element: ',' goes on, @close ends the container.
 * On ITEM_BAD the position stays on the offending byte. */
static ItemEnd
end_of_item (Scan *s,
             char  close)
{
  skip_ws (s);
  if (s->p >= s->end || (*s->p != ',' && *s->p != close))
    return ITEM_BAD;
  return *s->p++ == ',' ? ITEM_NEXT : ITEM_END;
}

/* An object, after its '{'. @path_len is the length of its path in
 * s->path, or -1 when nothing wanted lies inside it. */
static gboolean
scan_object (Scan   *s,
             gssize  path_len)
{
  g_autoptr (GString) key = path_len >= 0 ? g_string_sized_new (32) : NULL;

  skip_ws (s);
  if (s->p < s->end && *s->p == '}')
    {
      s->p++;
      return TRUE;
    }
  for (;;)
    {
      gssize member_path_len = -1;
      int slot = -1;

      skip_ws (s);
      if (s->p >= s->end || *s->p != '"')
        return FALSE;
      s->p++;
      if (key != NULL)
        g_string_truncate (key, 0);
      if (!scan_string (s, key))
        return FALSE;
      skip_ws (s);
      if (s->p >= s->end || *s->p != ':')
        return FALSE;
      s->p++;
      skip_ws (s);

      if (key != NULL && (gsize) path_len + 1 + key->len < MAX_PATH &&
          memchr (key->str, '.', key->len) == NULL)
        {
          gsize len = (gsize) path_len;
          gboolean has_below;

          if (len > 0)
            s->path[len++] = '.';
          memcpy (s->path + len, key->str, key->len);
          len += key->len;
          s->path[len] = '\0';
          slot = match_path (s, s->path, len, &has_below);
          if (slot >= 0 || has_below)
            forget_below (s, s->path, len);
          if (has_below)
            member_path_len = (gssize) len;
        }

      if (slot >= 0 && s->p < s->end && *s->p == '"')
        {
          g_autoptr (GString) value = g_string_new (NULL);

          s->p++;
          if (!scan_string (s, value))
            return FALSE;
          s->values[slot] = g_string_free (g_steal_pointer (&value), FALSE);
        }
      else if (!scan_value (s, member_path_len))
        return FALSE;

      switch (end_of_item (s, '}'))
        {
        case ITEM_NEXT: break;
        case ITEM_END: return TRUE;
        case ITEM_BAD: default: return FALSE;
        }
    }
}

static gboolean
scan_array (Scan *s)
{
  skip_ws (s);
  if (s->p < s->end && *s->p == ']')
    {
      s->p++;
      return TRUE;
    }
  for (;;)
    {
      /* Nothing wanted lies inside arrays. */
      if (!scan_value (s, -1))
        return FALSE;
      switch (end_of_item (s, ']'))
        {
        case ITEM_NEXT: break;
        case ITEM_END: return TRUE;
        case ITEM_BAD: default: return FALSE;
        }
    }
}

static gboolean
scan_value (Scan  *s,
            gssize path_len)
{
  gboolean ok;

  skip_ws (s);
  if (s->p >= s->end)
    return FALSE;
  switch (*s->p)
    {
    case '{':
    case '[':
      if (++s->depth > CAS_JSON_MAX_DEPTH)
        {
          s->too_deep = TRUE;
          return FALSE;
        }
      ok = *s->p++ == '{' ? scan_object (s, path_len) : scan_array (s);
      s->depth--;
      return ok;
    case '"':
      s->p++;
      return scan_string (s, NULL);
    case 't':
      return scan_word (s, "true");
    case 'f':
      return scan_word (s, "false");
    case 'n':
      return scan_word (s, "null");
    default:
      return scan_number (s);
    }
}

/* The whole text: one value (an object if @object_root), and nothing
 * but whitespace around it. */
static gboolean
scan_document (Scan    *s,
               gboolean object_root)
{
  skip_ws (s);
  if (object_root && (s->p >= s->end || *s->p != '{'))
    return FALSE;
  /* With no paths wanted, member names need not even be decoded. */
  if (!scan_value (s, s->n_paths > 0 ? 0 : -1))
    return FALSE;
  skip_ws (s);
  return s->p == s->end;
}

gboolean
cas_json_scan_strings (const char        *text,
                       gsize              len,
                       const char *const *paths,
                       char             **values)
{
  Scan s = { 0 };

  g_return_val_if_fail (text != NULL || len == 0, FALSE);

  s.p = text;
  s.end = text + len;
  s.paths = paths;
  s.values = values;
  s.n_paths = g_strv_length ((char **) paths);
  s.exact = TRUE;
  for (guint i = 0; i < s.n_paths; i++)
    values[i] = NULL;

  if (g_utf8_validate_len (text, len, NULL) && scan_document (&s, TRUE))
    return TRUE;
  for (guint i = 0; i < s.n_paths; i++)
    g_clear_pointer (&values[i], g_free);
  return FALSE;
}

gboolean
cas_json_check_syntax (const char *text,
                       gsize       len,
                       gsize      *error_offset,
                       gboolean   *too_deep)
{
  Scan s = { 0 };

  g_return_val_if_fail (text != NULL || len == 0, FALSE);

  s.p = text;
  s.end = text + len;
  if (scan_document (&s, FALSE))
    return TRUE;
  if (error_offset != NULL)
    *error_offset = (gsize) (s.p - text);
  if (too_deep != NULL)
    *too_deep = s.too_deep;
  return FALSE;
}
