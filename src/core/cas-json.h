/* cas-json.h: the one JSON writer every output goes through, and safe
 * getters for untrusted input.
 *
 * json-glib 1.6.6 writes 1e-08 as "1e-08.0", 0.7 as 0.69999999999999996 and
 * leaves U+001F raw, so serialisation is ours: strings get every control
 * character escaped, invalid UTF-8 repaired (U+FFFD) and non-ASCII kept raw;
 * doubles use the shortest form that reads back to the same value.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Writers: append to @out. A NULL string is written as null; the _len
 * variant takes buffers with NUL bytes (written as \u0000). U+2028 and
 * U+2029 are escaped so the output is also safe inside JavaScript. */
void cas_json_append_string (GString    *out,
                             const char *str);
void cas_json_append_string_len (GString    *out,
                                 const char *str,
                                 gssize      len);
void cas_json_append_double (GString *out,
                             double   value);
void cas_json_append_node (GString  *out,
                           JsonNode *node);

/* Whole-value serialisers; the result is always valid JSON. A NULL node
 * is written as null. */
char *cas_json_node_to_string (JsonNode *node);
char *cas_json_object_to_string (JsonObject *object);

/* Parse untrusted bytes: rejects an empty body, invalid UTF-8 (and NUL
 * bytes), nesting deeper than 128 levels, json-glib's non-JSON extensions
 * ('...' strings, comments) and anything that is not a JSON object at the
 * top level, with a CAS_ERROR_INVALID_ARGUMENT that says why. The result
 * is mutable; free it with json_object_unref(). */
JsonObject *cas_json_parse_object (const char *data,
                                   gsize       length,
                                   GError    **error);

/* Lenient typed getters: return the member if it exists and has exactly
 * that type, else the fallback (never a critical; NULL @object is fine).
 * The int getter takes integers only; the double getter takes integers
 * too. Strings, objects and arrays are borrowed from @object. */
const char *cas_json_get_string (JsonObject *object,
                                 const char *member,
                                 const char *fallback);
gint64 cas_json_get_int (JsonObject *object,
                         const char *member,
                         gint64      fallback);
double cas_json_get_double (JsonObject *object,
                            const char *member,
                            double      fallback);
gboolean cas_json_get_bool (JsonObject *object,
                            const char *member,
                            gboolean    fallback);
JsonObject *cas_json_get_object (JsonObject *object,
                                 const char *member);
JsonArray *cas_json_get_array (JsonObject *object,
                               const char *member);

/* "a string", "a number", "an array", "null"...: for errors that say
 * what a client sent instead of what was expected. */
const char *cas_json_describe_node (JsonNode *node);

G_END_DECLS
