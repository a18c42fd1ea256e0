/* cas-json-scan.h: pick a few strings out of one JSON text, no tree built.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Deeper texts are refused (json-glib's parser recurses once per level);
 * real request bodies and CLI lines nest a few dozen levels. */
#define CAS_JSON_MAX_DEPTH 128

/* Walks @text (one JSON object, RFC 8259, nesting at most
 * CAS_JSON_MAX_DEPTH deep) and sets values[i] to the string at paths[i],
 * a dotted chain of member names such as "event.delta.text". As in json-glib, the last of
 * duplicate members wins; a value that is not a string (or sits under a
 * member that is not an object) gives NULL.
 *
 * Returns FALSE, with every value NULL, for anything it does not decide
 * exactly as json-glib would: text that is not valid UTF-8 or not strict
 * JSON, a root that is not an object, too deep a nesting, a "\u0000" or a
 * lone surrogate in a string. Callers then fall back to json-glib. */
gboolean cas_json_scan_strings (const char        *text,
                                gsize              len,
                                const char *const *paths,
                                char             **values);

/* Whether @text is one JSON value by RFC 8259's grammar, nested at most
 * CAS_JSON_MAX_DEPTH deep. @text must already be valid UTF-8. On failure, @error_offset
 * is where reading stopped and @too_deep says whether the nesting was the
 * reason. json-glib 1.6 leaks memory on many syntax errors, so text goes
 * to it only once this has passed. */
gboolean cas_json_check_syntax (const char *text,
                                gsize       len,
                                gsize      *error_offset,
                                gboolean   *too_deep);

G_END_DECLS
