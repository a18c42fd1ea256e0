/* cas-line-splitter.h: turn a byte stream into bounded, valid UTF-8 lines.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * CasLineFunc:
 * @line: (nullable): the line without its '\n' (and without a '\r' before
 *   it), valid UTF-8 and NUL-terminated; %NULL when @oversized
 * @len: length of @line in bytes (up to three times the limit once
 *   repaired); for an oversized line, the bytes seen when it went over
 * @oversized: %TRUE when the line was longer than the limit and dropped
 * @user_data: the data given to cas_line_splitter_new()
 *
 * @line is only valid during the call. The callback must not feed, finish
 * or free the splitter that called it.
 */
typedef void (*CasLineFunc) (const char *line,
                             gsize       len,
                             gboolean    oversized,
                             gpointer    user_data);

typedef struct _CasLineSplitter CasLineSplitter;

CasLineSplitter *cas_line_splitter_new (gsize       max_line_bytes,
                                        CasLineFunc func,
                                        gpointer    user_data);
void cas_line_splitter_free (CasLineSplitter *self);

void cas_line_splitter_feed (CasLineSplitter *self,
                             const guint8    *data,
                             gsize            len);
void cas_line_splitter_finish (CasLineSplitter *self);

guint64 cas_line_splitter_get_oversized_count (CasLineSplitter *self);
guint64 cas_line_splitter_get_repaired_count (CasLineSplitter *self);
gsize cas_line_splitter_get_buffer_size (CasLineSplitter *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasLineSplitter, cas_line_splitter_free)

G_END_DECLS
