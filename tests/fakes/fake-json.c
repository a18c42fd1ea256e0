/* fake-json.c: a strict JSON reader (RFC 8259) for the fake CLI.
 *
 * It accepts what JSON.parse accepts, so the fake refuses a stdin line the
 * real CLI would refuse.  On top of that it wants valid UTF-8 (as json-glib
 * did), refuses lone surrogates, which have no UTF-8 form, and stops at
 * FJ_MAX_DEPTH levels of nesting.
 */

#include "fake-json.h"

#include <string.h>

typedef struct
{
  const char *p;
  int depth;
} Reader;

static FjNode *read_value (Reader *r);

static FjNode *
node_new (FjType type)
{
  FjNode *node = g_new0 (FjNode, 1);

  node->type = type;
  return node;
}

void
fj_free (FjNode *node)
{
  if (node == NULL)
    return;
  g_free (node->name);
  g_free (node->text);
  if (node->items)
    g_ptr_array_unref (node->items);
  g_free (node);
}

static void
skip_ws (Reader *r)
{
  while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
    r->p++;
}

/* -1 unless p starts with four hex digits (a NUL stops it early). */
static int
read_hex4 (const char *p)
{
  int v = 0;

  for (int i = 0; i < 4; i++)
    {
      int d = g_ascii_xdigit_value (p[i]);

      if (d < 0)
        return -1;
      v = v * 16 + d;
    }
  return v;
}

/* r->p is on the opening quote.  NULL for an unterminated string, a raw
 * control character or a bad escape. */
static char *
read_string (Reader *r)
{
  g_autoptr(GString) out = g_string_new (NULL);
  const char *p = r->p + 1;

  for (;;)
    {
      guchar c = (guchar) *p++;
      int u, low;

      if (c == '"')
        break;
      if (c < 0x20)   /* also the end of the text */
        return NULL;
      if (c != '\\')
        {
          g_string_append_c (out, (char) c);
          continue;
        }
      switch (*p++)
        {
        case '"': g_string_append_c (out, '"'); break;
        case '\\': g_string_append_c (out, '\\'); break;
        case '/': g_string_append_c (out, '/'); break;
        case 'b': g_string_append_c (out, '\b'); break;
        case 'f': g_string_append_c (out, '\f'); break;
        case 'n': g_string_append_c (out, '\n'); break;
        case 'r': g_string_append_c (out, '\r'); break;
        case 't': g_string_append_c (out, '\t'); break;
        case 'u':
          if ((u = read_hex4 (p)) < 0)
            return NULL;
          p += 4;
          if (u >= 0xD800 && u < 0xDC00 && p[0] == '\\' && p[1] == 'u'
              && (low = read_hex4 (p + 2)) >= 0xDC00 && low < 0xE000)
            {
              u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
              p += 6;
            }
          if (u >= 0xD800 && u < 0xE000)
            return NULL;
          /* \u0000 is kept, so C-string users see the text end there */
          g_string_append_unichar (out, (gunichar) u);
          break;
        default:
          return NULL;
        }
    }
  r->p = p;
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static gboolean
skip_digits (const char **p)
{
  const char *start = *p;

  while (g_ascii_isdigit (**p))
    (*p)++;
  return *p > start;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? and nothing looser. */
static FjNode *
read_number (Reader *r)
{
  const char *p = r->p;
  FjNode *node;

  if (*p == '-')
    p++;
  if (*p == '0')
    p++;
  else if (!skip_digits (&p))
    return NULL;
  if (*p == '.')
    {
      p++;
      if (!skip_digits (&p))
        return NULL;
    }
  if (*p == 'e' || *p == 'E')
    {
      p++;
      if (*p == '+' || *p == '-')
        p++;
      if (!skip_digits (&p))
        return NULL;
    }
  node = node_new (FJ_NUMBER);
  node->text = g_strndup (r->p, (gsize) (p - r->p));
  node->number = g_ascii_strtod (node->text, NULL);
  r->p = p;
  return node;
}

static FjNode *
read_literal (Reader *r, const char *word, FjType type, gboolean value)
{
  FjNode *node;

  if (strncmp (r->p, word, strlen (word)) != 0)
    return NULL;
  r->p += strlen (word);
  node = node_new (type);
  node->boolean = value;
  return node;
}

/* A repeated name keeps its first place and takes the last value, as with
 * JSON.parse and json-glib. */
static void
add_member (FjNode *object, FjNode *member)
{
  for (guint i = 0; i < object->items->len; i++)
    if (strcmp (((FjNode *) object->items->pdata[i])->name, member->name) == 0)
      {
        fj_free (object->items->pdata[i]);
        object->items->pdata[i] = member;
        return;
      }
  g_ptr_array_add (object->items, member);
}

/* An object or array; r->p is on its opening bracket. */
static FjNode *
read_container (Reader *r)
{
  gboolean is_object = *r->p == '{';
  char close = is_object ? '}' : ']';
  g_autoptr(FjNode) node = node_new (is_object ? FJ_OBJECT : FJ_ARRAY);

  if (++r->depth > FJ_MAX_DEPTH)
    return NULL;
  node->items = g_ptr_array_new_with_free_func ((GDestroyNotify) fj_free);
  r->p++;
  skip_ws (r);
  if (*r->p != close)
    for (;;)
      {
        g_autofree char *name = NULL;
        FjNode *item;

        if (is_object)
          {
            skip_ws (r);
            if (*r->p != '"' || (name = read_string (r)) == NULL)
              return NULL;
            skip_ws (r);
            if (*r->p != ':')
              return NULL;
            r->p++;
          }
        if ((item = read_value (r)) == NULL)
          return NULL;
        item->name = g_steal_pointer (&name);
        if (is_object)
          add_member (node, item);
        else
          g_ptr_array_add (node->items, item);
        skip_ws (r);
        if (*r->p == close)
          break;
        if (*r->p != ',')
          return NULL;
        r->p++;
      }
  r->p++;
  r->depth--;
  return g_steal_pointer (&node);
}

static FjNode *
read_value (Reader *r)
{
  char *s;
  FjNode *node;

  skip_ws (r);
  switch (*r->p)
    {
    case '{':
    case '[':
      return read_container (r);
    case '"':
      if ((s = read_string (r)) == NULL)
        return NULL;
      node = node_new (FJ_STRING);
      node->text = s;
      return node;
    case 't':
      return read_literal (r, "true", FJ_BOOL, TRUE);
    case 'f':
      return read_literal (r, "false", FJ_BOOL, FALSE);
    case 'n':
      return read_literal (r, "null", FJ_NULL, FALSE);
    default:
      return read_number (r);
    }
}

/* One JSON document and nothing after it but whitespace; NULL if the text
 * is not that (an empty text included). */
FjNode *
fj_parse (const char *text)
{
  Reader r = { text, 0 };
  g_autoptr(FjNode) root = NULL;

  if (text == NULL || !g_utf8_validate (text, -1, NULL))
    return NULL;
  if ((root = read_value (&r)) == NULL)
    return NULL;
  skip_ws (&r);
  return *r.p == '\0' ? g_steal_pointer (&root) : NULL;
}

/* NULL when object is NULL, not an object or has no such member. */
FjNode *
fj_member (const FjNode *object, const char *name)
{
  if (object == NULL || object->type != FJ_OBJECT)
    return NULL;
  for (guint i = 0; i < object->items->len; i++)
    {
      FjNode *member = object->items->pdata[i];

      if (strcmp (member->name, name) == 0)
        return member;
    }
  return NULL;
}

const char *
fj_string (const FjNode *node)
{
  return (node && node->type == FJ_STRING) ? node->text : NULL;
}

const char *
fj_string_member (const FjNode *object, const char *name)
{
  return fj_string (fj_member (object, name));
}

static void
write_string (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (const guchar *p = (const guchar *) s; *p; p++)
    switch (*p)
      {
      case '"': g_string_append (out, "\\\""); break;
      case '\\': g_string_append (out, "\\\\"); break;
      case '\b': g_string_append (out, "\\b"); break;
      case '\f': g_string_append (out, "\\f"); break;
      case '\n': g_string_append (out, "\\n"); break;
      case '\r': g_string_append (out, "\\r"); break;
      case '\t': g_string_append (out, "\\t"); break;
      default:
        if (*p < 0x20)
          g_string_append_printf (out, "\\u%04x", *p);
        else
          g_string_append_c (out, (char) *p);
      }
  g_string_append_c (out, '"');
}

static void
write_node (GString *out, const FjNode *node)
{
  switch (node->type)
    {
    case FJ_NULL:
      g_string_append (out, "null");
      break;
    case FJ_BOOL:
      g_string_append (out, node->boolean ? "true" : "false");
      break;
    case FJ_NUMBER:
      g_string_append (out, node->text);
      break;
    case FJ_STRING:
      write_string (out, node->text);
      break;
    case FJ_ARRAY:
    case FJ_OBJECT:
      g_string_append_c (out, node->type == FJ_ARRAY ? '[' : '{');
      for (guint i = 0; i < node->items->len; i++)
        {
          const FjNode *item = node->items->pdata[i];

          if (i > 0)
            g_string_append_c (out, ',');
          if (node->type == FJ_OBJECT)
            {
              write_string (out, item->name);
              g_string_append_c (out, ':');
            }
          write_node (out, item);
        }
      g_string_append_c (out, node->type == FJ_ARRAY ? ']' : '}');
      break;
    }
}

/* Compact, with JSON.stringify's escapes; a number keeps its literal. */
char *
fj_to_string (const FjNode *node)
{
  GString *out = g_string_new (NULL);

  write_node (out, node);
  return g_string_free (out, FALSE);
}
