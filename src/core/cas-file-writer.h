/* cas-file-writer.h: small state files written off the main loop, in
 * the order they were asked for, each replaced atomically.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CAS_TYPE_FILE_WRITER (cas_file_writer_get_type ())
G_DECLARE_FINAL_TYPE (CasFileWriter, cas_file_writer, CAS, FILE_WRITER, GObject)

/* One worker thread of its own: the writes of one writer land in order. */
CasFileWriter *cas_file_writer_new (GError **error);

/* Writes @contents (taken; NULL removes the file) to @path, beside it and
 * renamed over with fsync, mode 0600: a crash leaves the old file or the
 * new one, never half of one. @callback runs on the caller's main
 * context once the file is on disk. */
void cas_file_writer_replace_async (CasFileWriter      *self,
                                    const char         *path,
                                    char               *contents,
                                    GAsyncReadyCallback callback,
                                    gpointer            user_data);
gboolean cas_file_writer_replace_finish (CasFileWriter *self,
                                         GAsyncResult  *result,
                                         GError       **error);

G_END_DECLS
