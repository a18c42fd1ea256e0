/* fake-json.h: the fake CLI's own strict JSON reader.
 *
 * A tiny DOM, so the fake needs neither json-glib nor anything from src/
 * (the fake must not share code with what it tests).
 */

#pragma once

#include <glib.h>

typedef enum
{
  FJ_NULL, FJ_BOOL, FJ_NUMBER, FJ_STRING, FJ_ARRAY, FJ_OBJECT
} FjType;

typedef struct _FjNode FjNode;
struct _FjNode
{
  FjType type;
  char *name;        /* member name when the node is an object's member */
  char *text;        /* FJ_STRING: unescaped UTF-8; FJ_NUMBER: the literal */
  double number;
  gboolean boolean;
  GPtrArray *items;  /* FJ_ARRAY elements, FJ_OBJECT members: FjNode, in order */
};

/* Nesting deeper than this is rejected rather than recursed into. */
#define FJ_MAX_DEPTH 256

FjNode *fj_parse (const char *text);
void fj_free (FjNode *node);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FjNode, fj_free)

FjNode *fj_member (const FjNode *object, const char *name);
const char *fj_string (const FjNode *node);
const char *fj_string_member (const FjNode *object, const char *name);
char *fj_to_string (const FjNode *node);
