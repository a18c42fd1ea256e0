/* cas-agents.c: read the agent files (agents/NAME.md) and turn them into
 * `--agents` JSON.
 *
 * The files are ours, built into the daemon, but an override (or a broken
 * or hostile file) must still end in a clear error, never a crash or
 * invalid JSON.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-agents"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "cas-agents.h"
#include "cas-error.h"
#include "cas-json.h"

#define MAX_NAME_LENGTH 64

void
cas_agent_free (CasAgent *agent)
{
  if (agent == NULL)
    return;

  g_free (agent->name);
  g_free (agent->description);
  g_free (agent->tools);
  g_free (agent->model);
  g_free (agent->prompt);
  g_free (agent);
}

gboolean
cas_agent_name_is_valid (const char *name)
{
  gsize i;

  if (name == NULL || !(g_ascii_islower (name[0]) || g_ascii_isdigit (name[0])))
    return FALSE;

  for (i = 1; name[i] != '\0'; i++)
    {
      char c = name[i];

      if (!(g_ascii_islower (c) || g_ascii_isdigit (c) || c == '-'))
        return FALSE;
    }

  return i <= MAX_NAME_LENGTH;
}

/* ---- frontmatter ---- */

/* The frontmatter keys we use; everything else is ignored. */
typedef enum {
  KEY_NAME,
  KEY_DESCRIPTION,
  KEY_TOOLS,
  KEY_MODEL,
  N_KEYS,
  KEY_UNKNOWN = N_KEYS,
} Key;

static const char *const key_names[N_KEYS] = { "name", "description", "tools", "model" };

typedef struct {
  char *values[N_KEYS];
  gboolean seen[N_KEYS];
  Key current;              /* key of the last top-level line */
  GPtrArray *tools_items;   /* `tools:` followed by `- item` lines */
} Frontmatter;

static void
frontmatter_clear (Frontmatter *fm)
{
  for (guint i = 0; i < N_KEYS; i++)
    g_free (fm->values[i]);
  g_clear_pointer (&fm->tools_items, g_ptr_array_unref);
}

static gboolean
is_blank (const char *s)
{
  for (; *s != '\0'; s++)
    if (*s != ' ' && *s != '\t')
      return FALSE;
  return TRUE;
}

static gboolean
is_delimiter_line (const char *line)
{
  return g_str_has_prefix (line, "---") && is_blank (line + 3);
}

/* After a closing quote only spaces and a `# comment` may follow. */
static gboolean
rest_is_empty (const char *s)
{
  while (*s == ' ' || *s == '\t')
    s++;
  return *s == '\0' || *s == '#';
}

static gboolean
parse_double_quoted (const char *s,      /* just past the opening quote */
                     guint       lineno,
                     const char *key,
                     char      **out,
                     GError    **error)
{
  g_autoptr(GString) value = g_string_new (NULL);

  for (; *s != '\0'; s++)
    {
      if (*s == '"')
        {
          if (!rest_is_empty (s + 1))
            {
              g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                           "line %u: unexpected text after the quoted value of '%s'",
                           lineno, key);
              return FALSE;
            }
          *out = g_string_free (g_steal_pointer (&value), FALSE);
          return TRUE;
        }
      if (*s != '\\')
        {
          g_string_append_c (value, *s);
          continue;
        }

      s++;
      switch (*s)
        {
        case '"': g_string_append_c (value, '"'); break;
        case '\\': g_string_append_c (value, '\\'); break;
        case '/': g_string_append_c (value, '/'); break;
        case 'n': g_string_append_c (value, '\n'); break;
        case 't': g_string_append_c (value, '\t'); break;
        case 'r': g_string_append_c (value, '\r'); break;
        case 'u':
          {
            guint code = 0;

            for (int i = 1; i <= 4; i++)
              {
                int digit = g_ascii_xdigit_value (s[i]);

                if (digit < 0)
                  {
                    code = G_MAXUINT;
                    break;
                  }
                code = code * 16 + digit;
              }
            /* No surrogate pairs: a lone surrogate is not a character. */
            if (code == G_MAXUINT || code == 0 ||
                (code >= 0xd800 && code <= 0xdfff))
              {
                g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                             "line %u: bad \\u escape in the value of '%s'",
                             lineno, key);
                return FALSE;
              }
            g_string_append_unichar (value, code);
            s += 4;
          }
          break;
        case '\0':
          s--;  /* let the loop end and report the missing quote */
          break;
        default:
          g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                       "line %u: unsupported escape '\\%c' in the value of '%s'",
                       lineno, g_ascii_isprint (*s) ? *s : '?', key);
          return FALSE;
        }
    }

  g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
               "line %u: the quoted value of '%s' has no closing '\"'",
               lineno, key);
  return FALSE;
}

static gboolean
parse_single_quoted (const char *s,      /* just past the opening quote */
                     guint       lineno,
                     const char *key,
                     char      **out,
                     GError    **error)
{
  g_autoptr(GString) value = g_string_new (NULL);

  for (; *s != '\0'; s++)
    {
      if (*s != '\'')
        {
          g_string_append_c (value, *s);
          continue;
        }
      if (s[1] == '\'')
        {
          /* YAML writes a quote inside '...' as ''. */
          g_string_append_c (value, '\'');
          s++;
          continue;
        }
      if (!rest_is_empty (s + 1))
        {
          g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                       "line %u: unexpected text after the quoted value of '%s'",
                       lineno, key);
          return FALSE;
        }
      *out = g_string_free (g_steal_pointer (&value), FALSE);
      return TRUE;
    }

  g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
               "line %u: the quoted value of '%s' has no closing \"'\"",
               lineno, key);
  return FALSE;
}

/* A plain or quoted scalar; *out stays NULL for YAML's null (empty, ~,
 * null). */
static gboolean
parse_scalar (const char *s,
              guint       lineno,
              const char *key,
              char      **out,
              GError    **error)
{
  g_autofree char *plain = NULL;
  char *hash;

  *out = NULL;
  while (*s == ' ' || *s == '\t')
    s++;

  if (*s == '"')
    return parse_double_quoted (s + 1, lineno, key, out, error);
  if (*s == '\'')
    return parse_single_quoted (s + 1, lineno, key, out, error);
  if (*s != '\0' && strchr ("|>[]{}&*!%@`", *s) != NULL)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   "line %u: the value of '%s' uses YAML this reader does "
                   "not support; write it on one line, quoted if needed",
                   lineno, key);
      return FALSE;
    }

  plain = g_strdup (s);
  /* In YAML a comment starts at a '#' after whitespace. */
  for (hash = plain; (hash = strchr (hash, '#')) != NULL; hash++)
    if (hash == plain || hash[-1] == ' ' || hash[-1] == '\t')
      {
        *hash = '\0';
        break;
      }
  g_strstrip (plain);

  if (*plain == '\0' || g_str_equal (plain, "~") ||
      g_str_equal (plain, "null") || g_str_equal (plain, "Null") ||
      g_str_equal (plain, "NULL"))
    return TRUE;

  *out = g_steal_pointer (&plain);
  return TRUE;
}

/* tools: [Read, "Bash"] */
static gboolean
parse_flow_list (const char *s,
                 guint       lineno,
                 const char *key,
                 char      **out,
                 GError    **error)
{
  g_autofree char *copy = g_strstrip (g_strdup (s));
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) parts = NULL;
  gsize len = strlen (copy);

  if (len < 2 || copy[0] != '[' || copy[len - 1] != ']')
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   "line %u: the list in '%s' must be written on one line as [a, b]",
                   lineno, key);
      return FALSE;
    }
  copy[len - 1] = '\0';

  parts = g_strsplit (copy + 1, ",", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      char *item = NULL;

      if (is_blank (parts[i]))
        continue;
      if (!parse_scalar (parts[i], lineno, key, &item, error))
        return FALSE;
      if (item != NULL)
        g_ptr_array_add (items, item);
    }
  g_ptr_array_add (items, NULL);

  *out = g_strjoinv (", ", (char **) items->pdata);
  return TRUE;
}

static Key
lookup_key (const char *key)
{
  for (guint i = 0; i < N_KEYS; i++)
    if (g_str_equal (key, key_names[i]))
      return i;
  return KEY_UNKNOWN;
}

/* Ends a `tools:` block list, if one is open. */
static void
frontmatter_finish_tools (Frontmatter *fm)
{
  if (fm->tools_items != NULL && fm->tools_items->len > 0)
    {
      g_ptr_array_add (fm->tools_items, NULL);
      g_free (fm->values[KEY_TOOLS]);
      fm->values[KEY_TOOLS] = g_strjoinv (", ", (char **) fm->tools_items->pdata);
    }
  g_clear_pointer (&fm->tools_items, g_ptr_array_unref);
}

static gboolean
parse_frontmatter_line (Frontmatter *fm,
                        const char  *line,
                        guint        lineno,
                        GError     **error)
{
  g_autofree char *key = NULL;
  const char *colon;
  const char *value;
  Key k;

  if (is_blank (line) || line[0] == '#')
    return TRUE;

  /* Indented: part of the previous key's value. Only `tools:` followed by
   * `- item` lines is understood; under unknown keys anything goes. */
  if (line[0] == ' ' || line[0] == '\t')
    {
      const char *item = line;
      char *text = NULL;

      if (fm->current == KEY_UNKNOWN)
        return TRUE;

      while (*item == ' ' || *item == '\t')
        item++;
      if (fm->tools_items == NULL || item[0] != '-' ||
          (item[1] != ' ' && item[1] != '\t' && item[1] != '\0'))
        {
          g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                       "line %u: unexpected indented line in the value of '%s'",
                       lineno, key_names[fm->current]);
          return FALSE;
        }
      if (!parse_scalar (item + 1, lineno, key_names[fm->current], &text, error))
        return FALSE;
      if (text != NULL)
        g_ptr_array_add (fm->tools_items, text);
      return TRUE;
    }

  colon = strchr (line, ':');
  if (colon == NULL || colon == line ||
      (colon[1] != '\0' && colon[1] != ' ' && colon[1] != '\t'))
    goto bad_line;

  key = g_strndup (line, colon - line);
  for (const char *p = key; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-')
      goto bad_line;

  frontmatter_finish_tools (fm);
  k = lookup_key (key);
  fm->current = k;
  if (k == KEY_UNKNOWN)
    return TRUE;

  if (fm->seen[k])
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   "line %u: '%s' is given twice", lineno, key);
      return FALSE;
    }
  fm->seen[k] = TRUE;

  value = colon + 1;
  while (*value == ' ' || *value == '\t')
    value++;

  if (k == KEY_TOOLS && *value == '[')
    return parse_flow_list (value, lineno, key, &fm->values[k], error);

  if (!parse_scalar (value, lineno, key, &fm->values[k], error))
    return FALSE;

  /* `tools:` with nothing after it may open a block list. */
  if (k == KEY_TOOLS && rest_is_empty (value))
    fm->tools_items = g_ptr_array_new_with_free_func (g_free);

  return TRUE;

bad_line:
  g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
               "line %u: expected 'key: value' in the frontmatter", lineno);
  return FALSE;
}

/* Next line of @buf from *@pos (LF-terminated or last), or NULL at the
 * end. */
static char *
next_line (const char *buf,
           gsize      *pos)
{
  const char *start = buf + *pos;
  const char *nl;

  if (*start == '\0')
    return NULL;

  nl = strchr (start, '\n');
  if (nl == NULL)
    {
      *pos += strlen (start);
      return g_strdup (start);
    }
  *pos += (nl - start) + 1;
  return g_strndup (start, nl - start);
}

/* A copy with CRLF turned into LF and a leading BOM dropped. */
static char *
normalise_text (const char *text,
                gsize       len)
{
  GString *out = g_string_sized_new (len + 1);
  gsize i = 0;

  if (len >= 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0)
    i = 3;

  for (; i < len; i++)
    {
      if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
        continue;
      g_string_append_c (out, text[i]);
    }

  return g_string_free (out, FALSE);
}

static gboolean
check_agent (const CasAgent *agent,
             GError        **error)
{
  if (agent->name == NULL)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_CONFIG,
                           "the frontmatter has no 'name'");
      return FALSE;
    }
  if (!cas_agent_name_is_valid (agent->name))
    {
      g_autofree char *shown = g_strescape (agent->name, NULL);

      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   "agent name \"%s\" is not valid: use lower-case letters, "
                   "digits and '-', starting with a letter or digit, at most "
                   "%d characters", shown, MAX_NAME_LENGTH);
      return FALSE;
    }
  if (agent->description == NULL || is_blank (agent->description))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   "agent '%s' has no 'description' in its frontmatter",
                   agent->name);
      return FALSE;
    }
  if (agent->prompt == NULL || agent->prompt[0] == '\0')
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   "agent '%s' has no prompt: write it after the closing '---'",
                   agent->name);
      return FALSE;
    }
  return TRUE;
}

CasAgent *
cas_agent_parse_markdown (const char *text,
                          gsize       len,
                          GError    **error)
{
  g_autofree char *buf = NULL;
  g_autofree char *line = NULL;
  g_autoptr(CasAgent) agent = NULL;
  Frontmatter fm = { { NULL }, { FALSE }, KEY_UNKNOWN, NULL };
  const char *bad = NULL;
  const char *body;
  gboolean closed = FALSE;
  guint lineno = 1;
  gsize pos = 0;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (text == NULL)
    len = 0;

  if (len > CAS_AGENT_MAX_FILE_SIZE)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   "the file is too large (%" G_GSIZE_FORMAT " bytes, at most %d)",
                   len, CAS_AGENT_MAX_FILE_SIZE);
      return NULL;
    }
  /* Also refuses NUL bytes, which would cut the prompt short. */
  if (len > 0 && !g_utf8_validate_len (text, len, &bad))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   "the file is not valid UTF-8 text (byte %" G_GSIZE_FORMAT ")",
                   (gsize) (bad - text));
      return NULL;
    }

  buf = normalise_text (text != NULL ? text : "", len);

  line = next_line (buf, &pos);
  if (line == NULL || !is_delimiter_line (line))
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_CONFIG,
                           "no frontmatter: the file must start with a '---' line");
      return NULL;
    }

  g_clear_pointer (&line, g_free);
  while ((line = next_line (buf, &pos)) != NULL)
    {
      lineno++;
      if (is_delimiter_line (line))
        {
          closed = TRUE;
          break;
        }
      if (!parse_frontmatter_line (&fm, line, lineno, error))
        {
          frontmatter_clear (&fm);
          return NULL;
        }
      g_clear_pointer (&line, g_free);
    }

  if (!closed)
    {
      frontmatter_clear (&fm);
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_CONFIG,
                           "the frontmatter has no closing '---' line");
      return NULL;
    }
  frontmatter_finish_tools (&fm);

  agent = g_new0 (CasAgent, 1);
  agent->name = g_steal_pointer (&fm.values[KEY_NAME]);
  agent->description = g_steal_pointer (&fm.values[KEY_DESCRIPTION]);
  agent->tools = g_steal_pointer (&fm.values[KEY_TOOLS]);
  agent->model = g_steal_pointer (&fm.values[KEY_MODEL]);
  frontmatter_clear (&fm);

  /* The prompt: the body without the blank lines around it. */
  body = buf + pos;
  for (;;)
    {
      const char *p = body;

      while (*p == ' ' || *p == '\t')
        p++;
      if (*p != '\n')
        break;
      body = p + 1;
    }
  agent->prompt = g_strchomp (g_strdup (body));

  if (!check_agent (agent, error))
    return NULL;

  return g_steal_pointer (&agent);
}

char **
cas_agent_dup_tool_list (const CasAgent *agent)
{
  g_autoptr(GStrvBuilder) builder = NULL;
  const char *start;
  int parens = 0;

  g_return_val_if_fail (agent != NULL, NULL);

  if (agent->tools == NULL)
    return NULL;

  builder = g_strv_builder_new ();
  start = agent->tools;
  /* Commas inside a rule such as Bash(git log:*, git diff:*) do not
   * separate tools. */
  for (const char *p = agent->tools; ; p++)
    {
      if (*p == '(')
        parens++;
      else if (*p == ')' && parens > 0)
        parens--;
      else if ((*p == ',' && parens == 0) || *p == '\0')
        {
          g_autofree char *item = g_strstrip (g_strndup (start, p - start));

          if (*item != '\0')
            g_strv_builder_add (builder, item);
          if (*p == '\0')
            break;
          start = p + 1;
        }
    }

  return g_strv_builder_end (builder);
}

/* ---- the set ---- */

struct _CasAgentSet {
  grefcount ref_count;
  GHashTable *agents;   /* name -> CasAgent, owned */
};

CasAgentSet *
cas_agent_set_new (void)
{
  CasAgentSet *set = g_new0 (CasAgentSet, 1);

  g_ref_count_init (&set->ref_count);
  set->agents = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                       (GDestroyNotify) cas_agent_free);
  return set;
}

CasAgentSet *
cas_agent_set_ref (CasAgentSet *set)
{
  g_return_val_if_fail (set != NULL, NULL);

  g_ref_count_inc (&set->ref_count);
  return set;
}

void
cas_agent_set_unref (CasAgentSet *set)
{
  g_return_if_fail (set != NULL);

  if (!g_ref_count_dec (&set->ref_count))
    return;

  g_hash_table_unref (set->agents);
  g_free (set);
}

gboolean
cas_agent_set_add (CasAgentSet *set,
                   CasAgent    *agent,
                   GError     **error)
{
  g_autoptr(CasAgent) owned = agent;

  g_return_val_if_fail (set != NULL, FALSE);
  g_return_val_if_fail (agent != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_agent (owned, error))
    return FALSE;
  if (g_hash_table_contains (set->agents, owned->name))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   "there is already an agent named '%s'", owned->name);
      return FALSE;
    }

  /* The key is the agent's own name string. */
  g_hash_table_insert (set->agents, owned->name, owned);
  g_steal_pointer (&owned);
  return TRUE;
}

static gint
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Parses the agent file @path: a regular file of at most
 * CAS_AGENT_MAX_FILE_SIZE bytes. NULL with @error naming the file;
 * *@not_regular is set (and no error) for anything else, such as a
 * directory. */
static CasAgent *
load_file (const char *path,
           gboolean   *not_regular,
           GError    **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree char *contents = NULL;
  CasAgent *agent;
  GStatBuf st;
  gsize len = 0;

  *not_regular = FALSE;
  if (g_stat (path, &st) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG, "%s: %s", path, g_strerror (saved_errno));
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      *not_regular = TRUE;
      return NULL;
    }
  /* Check before reading, so a huge file is never loaded. */
  if (st.st_size > CAS_AGENT_MAX_FILE_SIZE)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   "%s: the file is too large (%" G_GINT64_FORMAT " bytes, at most %d)",
                   path, (gint64) st.st_size, CAS_AGENT_MAX_FILE_SIZE);
      return NULL;
    }
  if (!g_file_get_contents (path, &contents, &len, &local_error))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG, "%s", local_error->message);
      return NULL;
    }
  agent = cas_agent_parse_markdown (contents, len, error);
  if (agent == NULL)
    g_prefix_error (error, "%s: ", path);
  return agent;
}

CasAgentSet *
cas_agent_set_load_dir (const char *dir,
                        GError    **error)
{
  g_autoptr(CasAgentSet) set = cas_agent_set_new ();
  g_autoptr(GHashTable) origin = NULL;
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GDir) d = NULL;
  const char *entry;

  g_return_val_if_fail (dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  d = g_dir_open (dir, 0, &local_error);
  if (d == NULL)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   "cannot read the agents directory: %s", local_error->message);
      return NULL;
    }

  while ((entry = g_dir_read_name (d)) != NULL)
    if (entry[0] != '.' && g_str_has_suffix (entry, ".md"))
      g_ptr_array_add (files, g_strdup (entry));
  /* Load order decides which of two same-named files is reported. */
  g_ptr_array_sort (files, compare_strings);

  /* agent name -> the file that defined it, for duplicate errors */
  origin = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < files->len; i++)
    {
      const char *file = files->pdata[i];
      g_autofree char *path = g_build_filename (dir, file, NULL);
      g_autoptr(CasAgent) agent = NULL;
      gboolean not_regular;

      agent = load_file (path, &not_regular, error);
      if (not_regular)
        {
          g_debug ("skipping %s: not a regular file", path);
          continue;
        }
      if (agent == NULL)
        return NULL;

      if (g_hash_table_contains (origin, agent->name))
        {
          g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                       "%s: agent '%s' is already defined in %s",
                       path, agent->name,
                       (const char *) g_hash_table_lookup (origin, agent->name));
          return NULL;
        }
      g_hash_table_insert (origin, g_strdup (agent->name), (gpointer) file);

      if (!cas_agent_set_add (set, g_steal_pointer (&agent), error))
        {
          g_prefix_error (error, "%s: ", path);
          return NULL;
        }
    }

  return g_steal_pointer (&set);
}

/* gnome.compile_resources (agents/meson.build) */
GResource *cas_agents_get_resource (void);

#define BUILTIN_PREFIX "/org/ClaudeAgentService/agents/"

/* @override_dir/@file when it is there and defines the agent @name. */
static CasAgent *
load_override (const char *override_dir,
               const char *file,
               const char *name,
               GPtrArray  *problems)
{
  g_autofree char *path = g_build_filename (override_dir, file, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (CasAgent) agent = NULL;
  gboolean not_regular;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return NULL;
  agent = load_file (path, &not_regular, &error);
  if (agent == NULL)
    {
      g_ptr_array_add (problems, not_regular ? g_strdup_printf ("%s: not a regular file", path)
                                             : g_strdup (error->message));
      return NULL;
    }
  if (!g_str_equal (agent->name, name))
    {
      g_ptr_array_add (problems, g_strdup_printf ("%s: it names the agent '%s', not '%s'",
                                                  path, agent->name, name));
      return NULL;
    }
  return g_steal_pointer (&agent);
}

CasAgentSet *
cas_agent_set_load_builtin (const char *override_dir,
                            GPtrArray  *problems)
{
  g_autoptr (CasAgentSet) set = cas_agent_set_new ();
  GResource *resource = cas_agents_get_resource ();
  g_auto (GStrv) files = g_resource_enumerate_children (resource, BUILTIN_PREFIX, 0, NULL);

  g_return_val_if_fail (problems != NULL, NULL);

  for (guint i = 0; files != NULL && files[i] != NULL; i++)
    {
      g_autofree char *resource_path = g_strconcat (BUILTIN_PREFIX, files[i], NULL);
      g_autofree char *name = g_strndup (files[i], strlen (files[i]) - strlen (".md"));
      g_autoptr (GBytes) bytes = NULL;
      g_autoptr (CasAgent) agent = NULL;
      g_autoptr (GError) error = NULL;

      if (!g_str_has_suffix (files[i], ".md"))
        continue;
      if (override_dir != NULL)
        agent = load_override (override_dir, files[i], name, problems);
      if (agent == NULL)
        {
          bytes = g_resource_lookup_data (resource, resource_path, 0, NULL);
          agent = cas_agent_parse_markdown (g_bytes_get_data (bytes, NULL),
                                            g_bytes_get_size (bytes), &error);
        }
      /* Ours, and checked by a unit test: a failure here is a build gone wrong. */
      if (agent == NULL || !cas_agent_set_add (set, g_steal_pointer (&agent), &error))
        g_ptr_array_add (problems, g_strdup_printf ("%s: %s", resource_path, error->message));
    }
  return g_steal_pointer (&set);
}

const CasAgent *
cas_agent_set_lookup (CasAgentSet *set,
                      const char  *name)
{
  g_return_val_if_fail (set != NULL, NULL);

  if (name == NULL)
    return NULL;

  return g_hash_table_lookup (set->agents, name);
}

guint
cas_agent_set_get_size (CasAgentSet *set)
{
  g_return_val_if_fail (set != NULL, 0);

  return g_hash_table_size (set->agents);
}

char **
cas_agent_set_names (CasAgentSet *set)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  g_return_val_if_fail (set != NULL, NULL);

  g_hash_table_iter_init (&iter, set->agents);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (names, g_strdup (key));
  g_ptr_array_sort (names, compare_strings);
  g_ptr_array_add (names, NULL);

  return (char **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

/* "name":{...} */
static void
append_agent_json (GString        *out,
                   const CasAgent *agent)
{
  g_auto(GStrv) tools = cas_agent_dup_tool_list (agent);

  cas_json_append_string (out, agent->name);
  g_string_append (out, ":{\"description\":");
  cas_json_append_string (out, agent->description);
  g_string_append (out, ",\"prompt\":");
  cas_json_append_string (out, agent->prompt);

  if (tools != NULL)
    {
      g_string_append (out, ",\"tools\":[");
      for (guint i = 0; tools[i] != NULL; i++)
        {
          if (i > 0)
            g_string_append_c (out, ',');
          cas_json_append_string (out, tools[i]);
        }
      g_string_append_c (out, ']');
    }

  if (agent->model != NULL)
    {
      g_string_append (out, ",\"model\":");
      cas_json_append_string (out, agent->model);
    }

  g_string_append_c (out, '}');
}

char *
cas_agent_set_to_cli_json (CasAgentSet *set)
{
  g_auto(GStrv) names = NULL;
  GString *out;

  g_return_val_if_fail (set != NULL, NULL);

  names = cas_agent_set_names (set);
  out = g_string_new ("{");
  for (guint i = 0; names[i] != NULL; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      append_agent_json (out, g_hash_table_lookup (set->agents, names[i]));
    }
  g_string_append_c (out, '}');

  return g_string_free (out, FALSE);
}

char *
cas_agent_set_to_cli_json_for (CasAgentSet *set,
                               const char  *name,
                               GError     **error)
{
  const CasAgent *agent;
  g_autoptr(GString) out = NULL;

  g_return_val_if_fail (set != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  agent = cas_agent_set_lookup (set, name);
  if (agent == NULL)
    {
      g_autofree char *shown = g_strescape (name != NULL ? name : "", NULL);

      g_set_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND,
                   "unknown agent \"%s\"", shown);
      return NULL;
    }

  out = g_string_new ("{");
  append_agent_json (out, agent);
  g_string_append_c (out, '}');

  if (out->len > CAS_AGENT_MAX_CLI_JSON)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                   "agent '%s' is too large to pass to the CLI (%" G_GSIZE_FORMAT
                   " bytes of JSON, at most %d)",
                   name, out->len, CAS_AGENT_MAX_CLI_JSON);
      return NULL;
    }

  return g_string_free (g_steal_pointer (&out), FALSE);
}

gboolean
cas_agent_set_cli_json_if_ours (CasAgentSet *set,
                                const char  *name,
                                char       **json,
                                GError     **error)
{
  g_return_val_if_fail (json != NULL, FALSE);

  *json = NULL;
  if (set == NULL || name == NULL || cas_agent_set_lookup (set, name) == NULL)
    return TRUE;
  *json = cas_agent_set_to_cli_json_for (set, name, error);
  return *json != NULL;
}
