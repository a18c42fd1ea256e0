/* cas-admission.h: at most N CLI runs at once, at most M waiting or running.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CAS_TYPE_ADMISSION (cas_admission_get_type ())
G_DECLARE_FINAL_TYPE (CasAdmission, cas_admission, CAS, ADMISSION, GObject)

/* A granted slot; freeing it lets the next waiter in. */
typedef struct _CasAdmissionSlot CasAdmissionSlot;

/* A place in the queue and the bytes its request holds while it waits:
 * taken when a request starts to wait (a conversation's turn behind an
 * earlier one, a completion), given up when it gets its slot or leaves. */
typedef struct _CasAdmissionTicket CasAdmissionTicket;

CasAdmission *cas_admission_new (guint max_active,
                                 guint max_depth);

/* Completes at once with CAS_ERROR_QUEUE_FULL when active + queued has
 * reached the depth, with G_IO_ERROR_CANCELLED when @cancellable fires
 * while waiting, else when a slot is free. */
void cas_admission_acquire_async (CasAdmission       *self,
                                  GCancellable       *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer            user_data);
CasAdmissionSlot *cas_admission_acquire_finish (CasAdmission *self,
                                                GAsyncResult *result,
                                                GError      **error);
void cas_admission_slot_release (CasAdmissionSlot *slot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasAdmissionSlot, cas_admission_slot_release)

/* The bound on the bytes waiting requests hold (default: none). */
void cas_admission_set_max_queued_bytes (CasAdmission *self,
                                         guint64       max_bytes);

/* NULL with CAS_ERROR_QUEUE_FULL when active + queued has reached the
 * depth, or when @bytes would take the bytes held by waiting requests
 * past their bound. */
CasAdmissionTicket *cas_admission_reserve (CasAdmission *self,
                                           guint64       bytes,
                                           GError      **error);
void cas_admission_ticket_release (CasAdmissionTicket *ticket);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasAdmissionTicket, cas_admission_ticket_release)

/* As cas_admission_acquire_async, in the place @ticket (transfer full)
 * holds: never refused for a full queue. The ticket goes when the slot
 * is granted or the wait ends. */
void cas_admission_acquire_reserved_async (CasAdmission       *self,
                                           CasAdmissionTicket *ticket,
                                           GCancellable       *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer            user_data);

guint cas_admission_get_active (CasAdmission *self);
guint cas_admission_get_queued (CasAdmission *self);
guint cas_admission_get_capacity (CasAdmission *self);
guint64 cas_admission_get_queued_bytes (CasAdmission *self);

G_END_DECLS
