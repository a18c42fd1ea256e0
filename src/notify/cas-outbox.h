/* cas-outbox.h: the doorbells not yet delivered, and the ids already
 * rung. Pure: values in, values out; CasNotifier keeps it on disk.
 *
 * Each entry is one notification with the senders ("desktop", "ntfy",
 * "slack") that have still to deliver it. An entry with none left stays
 * as a memory of its id, so that ringing it again is a no-op, until it
 * is older than CAS_OUTBOX_REMEMBER_SECONDS.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#include "cas-notification.h"

G_BEGIN_DECLS

/* Ids are remembered this long after they were rung. */
#define CAS_OUTBOX_REMEMBER_SECONDS (30 * 24 * 3600)
/* A doorbell a sender could not deliver for this long is given up. */
#define CAS_OUTBOX_PENDING_SECONDS (7 * 24 * 3600)
/* At most this many entries; past it the oldest go, delivered ones first. */
#define CAS_OUTBOX_MAX_ENTRIES 1000
/* The largest outbox file read. */
#define CAS_OUTBOX_MAX_FILE_BYTES (4 * 1024 * 1024)

typedef struct {
  CasNotification *notification; /* (owned) */
  gint64 rung_at;                 /* Unix seconds */
  GPtrArray *pending;             /* (owned) (element-type utf8) sender names */
} CasOutboxEntry;

typedef struct _CasOutbox CasOutbox;

CasOutbox *cas_outbox_new (void);
void cas_outbox_free (CasOutbox *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasOutbox, cas_outbox_free)

/* Entries, oldest first; borrowed, valid until the next change. */
GPtrArray *cas_outbox_get_entries (CasOutbox *self);

CasOutboxEntry *cas_outbox_lookup (CasOutbox  *self,
                                   const char *id);

/* Adds @notification, pending for each of @senders (NULL-terminated, may
 * be empty). FALSE, and no change, when its id is already known. */
gboolean cas_outbox_add (CasOutbox          *self,
                         CasNotification    *notification,
                         const char * const *senders,
                         gint64              now);

/* The pair (@id, @sender) is delivered: FALSE if it was not pending. */
gboolean cas_outbox_mark_delivered (CasOutbox  *self,
                                    const char *id,
                                    const char *sender);

/* Forgets what is past its time, pending pairs of senders not in
 * @senders (no longer configured) and entries past the cap. Returns the
 * number of pending pairs given up (the caller logs them); *@changed
 * says whether anything changed. */
guint cas_outbox_prune (CasOutbox          *self,
                        const char * const *senders,
                        gint64              now,
                        gboolean           *changed);

guint cas_outbox_count_pending (CasOutbox *self);

/* The file's text: {"version":1,"entries":[...]}. */
char *cas_outbox_to_json (CasOutbox *self);

/* Reads what cas_outbox_to_json wrote. A file that is not that (not
 * JSON, wrong top-level shape or version, too big) fails with
 * CAS_ERROR_INVALID_ARGUMENT; entries that are malformed on their own
 * are skipped and counted in *@n_skipped (may be NULL), as are
 * duplicates and entries past the cap. Never a critical. */
CasOutbox *cas_outbox_from_json (const char *data,
                                 gsize       length,
                                 guint      *n_skipped,
                                 GError    **error);

G_END_DECLS
