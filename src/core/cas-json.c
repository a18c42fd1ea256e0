/* cas-json.c: our JSON writer and the safe readers for untrusted input.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-json"

#include <math.h>
#include <string.h>

#include "cas-error.h"
#include "cas-json.h"
#include "cas-json-scan.h"

static const char hex_digits[] = "0123456789abcdef";

static void
append_u_escape (GString *out,
                 guint    code)
{
  char buf[6] = { '\\', 'u',
                  hex_digits[(code >> 12) & 0xf], hex_digits[(code >> 8) & 0xf],
                  hex_digits[(code >> 4) & 0xf], hex_digits[code & 0xf] };

  g_string_append_len (out, buf, sizeof buf);
}

/* Length of the well-formed UTF-8 sequence at @p (RFC 3629, table 3-7 of
 * the Unicode standard: no overlongs, no surrogates, nothing past
 * U+10FFFF), or 0 if the bytes there are not one. */
static gsize
utf8_sequence_length (const guchar *p,
                      gsize         avail)
{
  guchar lead = p[0];
  guchar lo = 0x80, hi = 0xbf;
  gsize need;

  if (lead >= 0xc2 && lead <= 0xdf)
    need = 2;
  else if (lead >= 0xe0 && lead <= 0xef)
    {
      need = 3;
      if (lead == 0xe0)
        lo = 0xa0;
      else if (lead == 0xed)
        hi = 0x9f;
    }
  else if (lead >= 0xf0 && lead <= 0xf4)
    {
      need = 4;
      if (lead == 0xf0)
        lo = 0x90;
      else if (lead == 0xf4)
        hi = 0x8f;
    }
  else
    return 0;

  if (avail < need)
    return 0;
  if (p[1] < lo || p[1] > hi)
    return 0;
  for (gsize i = 2; i < need; i++)
    if (p[i] < 0x80 || p[i] > 0xbf)
      return 0;

  return need;
}

static void
append_escaped (GString      *out,
                const guchar *p,
                gsize         len)
{
  const guchar *end = p + len;
  const guchar *run = p;        /* start of bytes that need no escaping */

  g_string_append_c (out, '"');

  while (p < end)
    {
      guchar c = *p;
      const char *shortcut = NULL;
      gsize seq;

      if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80)
        {
          p++;
          continue;
        }

      if (c >= 0x80)
        {
          seq = utf8_sequence_length (p, end - p);
          /* U+2028 and U+2029 are legal JSON but end a line in JavaScript. */
          if (seq == 3 && p[0] == 0xe2 && p[1] == 0x80 &&
              (p[2] == 0xa8 || p[2] == 0xa9))
            {
              g_string_append_len (out, (const char *) run, p - run);
              append_u_escape (out, p[2] == 0xa8 ? 0x2028 : 0x2029);
              p += 3;
              run = p;
            }
          else if (seq > 0)
            {
              p += seq;
            }
          else
            {
              /* One U+FFFD per bad byte, as g_utf8_make_valid does. */
              g_string_append_len (out, (const char *) run, p - run);
              g_string_append (out, "\xef\xbf\xbd");
              p++;
              run = p;
            }
          continue;
        }

      g_string_append_len (out, (const char *) run, p - run);
      switch (c)
        {
        case '"': shortcut = "\\\""; break;
        case '\\': shortcut = "\\\\"; break;
        case '\n': shortcut = "\\n"; break;
        case '\r': shortcut = "\\r"; break;
        case '\t': shortcut = "\\t"; break;
        case '\b': shortcut = "\\b"; break;
        case '\f': shortcut = "\\f"; break;
        default: break;
        }
      if (shortcut != NULL)
        g_string_append (out, shortcut);
      else
        append_u_escape (out, c);
      p++;
      run = p;
    }

  g_string_append_len (out, (const char *) run, p - run);
  g_string_append_c (out, '"');
}

/**
 * cas_json_append_string:
 * @out: where to append
 * @str: (nullable): a NUL-terminated string, in any encoding
 *
 * Appends @str as a JSON string literal; a %NULL @str is written as null.
 */
void
cas_json_append_string (GString    *out,
                        const char *str)
{
  g_return_if_fail (out != NULL);

  cas_json_append_string_len (out, str, -1);
}

/**
 * cas_json_append_string_len:
 * @out: where to append
 * @str: (nullable): the bytes
 * @len: their length, or -1 if @str is NUL-terminated
 *
 * Like cas_json_append_string(), for buffers that may hold NUL bytes
 * (written as \u0000).
 */
void
cas_json_append_string_len (GString    *out,
                            const char *str,
                            gssize      len)
{
  g_return_if_fail (out != NULL);

  if (str == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  if (len < 0)
    len = strlen (str);

  append_escaped (out, (const guchar *) str, (gsize) len);
}

/**
 * cas_json_append_double:
 * @out: where to append
 * @value: the number
 *
 * Appends the shortest decimal form that reads back to exactly @value;
 * NaN and the infinities, which JSON cannot express, become null.
 */
void
cas_json_append_double (GString *out,
                        double   value)
{
  static const char *const formats[] = { "%.15g", "%.16g", "%.17g" };
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_return_if_fail (out != NULL);

  if (!isfinite (value))
    {
      g_string_append (out, "null");
      return;
    }

  for (gsize i = 0; i < G_N_ELEMENTS (formats); i++)
    {
      g_ascii_formatd (buf, sizeof buf, formats[i], value);
      /* %.17g always reads back exactly, so the last round keeps it. */
      if (g_ascii_strtod (buf, NULL) == value)
        break;
    }

  /* Finite doubles in %g never give "inf"/"nan", and the C locale form
   * ("1e-08", "-0", "3", "0.7") is already a valid JSON number. */
  g_string_append (out, buf);
}

static void
append_value (GString  *out,
              JsonNode *node)
{
  GType type = json_node_get_value_type (node);

  if (type == G_TYPE_INT64)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
  else if (type == G_TYPE_DOUBLE)
    cas_json_append_double (out, json_node_get_double (node));
  else if (type == G_TYPE_BOOLEAN)
    g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
  else if (type == G_TYPE_STRING)
    cas_json_append_string (out, json_node_get_string (node));
  else
    g_string_append (out, "null");
}

static void
append_object (GString    *out,
               JsonObject *object)
{
  /* json_object_get_members() keeps insertion order in 1.6;
   * json_object_iter_init() walks the hash table and does not. */
  g_autoptr(GList) members = json_object_get_members (object);
  gboolean first = TRUE;

  g_string_append_c (out, '{');
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;

      if (!first)
        g_string_append_c (out, ',');
      first = FALSE;
      cas_json_append_string (out, name);
      g_string_append_c (out, ':');
      cas_json_append_node (out, json_object_get_member (object, name));
    }
  g_string_append_c (out, '}');
}

static void
append_array (GString   *out,
              JsonArray *array)
{
  guint n = json_array_get_length (array);

  g_string_append_c (out, '[');
  for (guint i = 0; i < n; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      cas_json_append_node (out, json_array_get_element (array, i));
    }
  g_string_append_c (out, ']');
}

/**
 * cas_json_append_node:
 * @out: where to append
 * @node: (nullable): a json-glib tree
 *
 * Appends @node compactly; objects keep their member order.
 */
void
cas_json_append_node (GString  *out,
                      JsonNode *node)
{
  g_return_if_fail (out != NULL);

  if (node == NULL)
    {
      g_string_append (out, "null");
      return;
    }

  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);

        if (object != NULL)
          append_object (out, object);
        else
          g_string_append (out, "null");
      }
      break;

    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        if (array != NULL)
          append_array (out, array);
        else
          g_string_append (out, "null");
      }
      break;

    case JSON_NODE_VALUE:
      append_value (out, node);
      break;

    case JSON_NODE_NULL:
    default:
      g_string_append (out, "null");
      break;
    }
}

char *
cas_json_node_to_string (JsonNode *node)
{
  GString *out = g_string_sized_new (64);

  cas_json_append_node (out, node);
  return g_string_free (out, FALSE);
}

char *
cas_json_object_to_string (JsonObject *object)
{
  GString *out = g_string_sized_new (64);

  if (object != NULL)
    append_object (out, object);
  else
    g_string_append (out, "null");
  return g_string_free (out, FALSE);
}

/* JsonParser recurses per nesting level, and json-glib 1.6 leaks memory
 * on many syntax errors (a client could grow the daemon with broken
 * bodies): only text that passed our own strict check reaches it. */
static gboolean
check_syntax (const char *data,
              gsize       length,
              GError    **error)
{
  gsize offset = 0;
  gboolean too_deep = FALSE;

  if (cas_json_check_syntax (data, length, &offset, &too_deep))
    return TRUE;
  if (too_deep)
    g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                 "request body is not valid JSON: nested deeper than %d levels",
                 CAS_JSON_MAX_DEPTH);
  else
    g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                 "request body is not valid JSON: syntax error at byte %" G_GSIZE_FORMAT,
                 offset);
  return FALSE;
}

/**
 * cas_json_parse_object:
 * @data: (array length=length): untrusted bytes, not necessarily
 *   NUL-terminated
 * @length: their length
 * @error: return location for a CAS_ERROR_INVALID_ARGUMENT
 *
 * Returns: (transfer full): the top-level object, or %NULL with @error set
 */
JsonObject *
cas_json_parse_object (const char *data,
                       gsize       length,
                       GError    **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *bad = NULL;
  JsonNode *root;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (data == NULL || length == 0)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "request body is not valid JSON: the body is empty");
      return NULL;
    }

  /* Also refuses NUL bytes, which would silently cut the text short. */
  if (length > G_MAXSSIZE || !g_utf8_validate_len (data, length, &bad))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "request body is not valid JSON: invalid UTF-8 at byte %"
                   G_GSIZE_FORMAT, (gsize) (bad != NULL ? bad - data : 0));
      return NULL;
    }

  if (!check_syntax (data, length, error))
    return NULL;

  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, data, (gssize) length, &local_error))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "request body is not valid JSON: %s", local_error->message);
      return NULL;
    }

  root = json_parser_get_root (parser);
  if (root == NULL)
    {
      /* Whitespace only: json-glib reports success with no root. */
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "request body is not valid JSON: the body is empty");
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (root) || json_node_get_object (root) == NULL)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "request body must be a JSON object");
      return NULL;
    }

  return json_object_ref (json_node_get_object (root));
}

/* The member if it is a plain value of @type, else NULL. */
static JsonNode *
get_value_member (JsonObject *object,
                  const char *member,
                  GType       type)
{
  JsonNode *node;

  if (object == NULL || member == NULL)
    return NULL;

  node = json_object_get_member (object, member);
  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE)
    return NULL;
  if (json_node_get_value_type (node) != type)
    return NULL;

  return node;
}

const char *
cas_json_get_string (JsonObject *object,
                     const char *member,
                     const char *fallback)
{
  JsonNode *node = get_value_member (object, member, G_TYPE_STRING);
  const char *value = node != NULL ? json_node_get_string (node) : NULL;

  return value != NULL ? value : fallback;
}

gint64
cas_json_get_int (JsonObject *object,
                  const char *member,
                  gint64      fallback)
{
  JsonNode *node = get_value_member (object, member, G_TYPE_INT64);

  return node != NULL ? json_node_get_int (node) : fallback;
}

double
cas_json_get_double (JsonObject *object,
                     const char *member,
                     double      fallback)
{
  JsonNode *node = get_value_member (object, member, G_TYPE_DOUBLE);

  if (node != NULL)
    return json_node_get_double (node);

  /* "temperature": 1 is a number too. */
  node = get_value_member (object, member, G_TYPE_INT64);
  if (node != NULL)
    return (double) json_node_get_int (node);

  return fallback;
}

gboolean
cas_json_get_bool (JsonObject *object,
                   const char *member,
                   gboolean    fallback)
{
  JsonNode *node = get_value_member (object, member, G_TYPE_BOOLEAN);

  return node != NULL ? json_node_get_boolean (node) : fallback;
}

JsonObject *
cas_json_get_object (JsonObject *object,
                     const char *member)
{
  JsonNode *node;

  if (object == NULL || member == NULL)
    return NULL;

  node = json_object_get_member (object, member);
  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_OBJECT)
    return NULL;

  return json_node_get_object (node);
}

JsonArray *
cas_json_get_array (JsonObject *object,
                    const char *member)
{
  JsonNode *node;

  if (object == NULL || member == NULL)
    return NULL;

  node = json_object_get_member (object, member);
  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_ARRAY)
    return NULL;

  return json_node_get_array (node);
}

/* For error messages about untrusted input: "a string", "an array"... */
const char *
cas_json_describe_node (JsonNode *node)
{
  if (node == NULL)
    return "missing";
  if (JSON_NODE_HOLDS_OBJECT (node))
    return "an object";
  if (JSON_NODE_HOLDS_ARRAY (node))
    return "an array";
  if (JSON_NODE_HOLDS_NULL (node))
    return "null";
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_STRING:
      return "a string";
    case G_TYPE_BOOLEAN:
      return "a boolean";
    case G_TYPE_INT64:
    case G_TYPE_DOUBLE:
      return "a number";
    default:
      return "a value";
    }
}
