/* cas-fd-mux.h: many file descriptors watched through one epoll fd.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A source that sits in a main context and hands readiness of the file
 * descriptors it watches to sources made with cas_fd_mux_create_source().
 * Its reference is a GSource reference. */
typedef struct _CasFdMux CasFdMux;

/* Attaches a new multiplexer to @context (NULL: the default one). */
CasFdMux *cas_fd_mux_new (GMainContext *context,
                          GError      **error);
CasFdMux *cas_fd_mux_ref (CasFdMux *self);
void      cas_fd_mux_unref (CasFdMux *self);

/* Detaches @self: its sources never dispatch again. */
void      cas_fd_mux_destroy (CasFdMux *self);

/* A source that dispatches, with a GSourceFunc callback, while @fd has
 * @condition (G_IO_IN, G_IO_OUT or both), has hung up or has failed: the
 * same level-triggered rule as g_unix_fd_source_new(). It carries no file
 * descriptor of its own, so attaching, dispatching and destroying it
 * never touch the main context's poll set. Several sources may watch one
 * descriptor. @fd must stay open while the source is attached. */
GSource  *cas_fd_mux_create_source (CasFdMux    *self,
                                    int          fd,
                                    GIOCondition condition);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasFdMux, cas_fd_mux_unref)

G_END_DECLS
