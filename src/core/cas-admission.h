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

guint cas_admission_get_active (CasAdmission *self);
guint cas_admission_get_queued (CasAdmission *self);
guint cas_admission_get_capacity (CasAdmission *self);

G_END_DECLS
