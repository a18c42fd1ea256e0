/* cas-admission.c: a counting semaphore with a bounded FIFO of GTasks.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-admission"

#include "config.h"


#include "cas-admission.h"
#include "cas-error.h"

struct _CasAdmission
{
  GObject parent_instance;

  guint max_active;
  guint max_depth;
  guint active;
  GQueue waiters; /* (element-type GTask) (owned) */
};

struct _CasAdmissionSlot
{
  CasAdmission *admission; /* (owned) */
};

G_DEFINE_FINAL_TYPE (CasAdmission, cas_admission, G_TYPE_OBJECT)

static void
cas_admission_dispose (GObject *object)
{
  CasAdmission *self = CAS_ADMISSION (object);
  GTask *task;

  while ((task = g_queue_pop_head (&self->waiters)) != NULL)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_CANCELLED,
                               "the service is shutting down");
      g_object_unref (task);
    }

  G_OBJECT_CLASS (cas_admission_parent_class)->dispose (object);
}

static void
cas_admission_class_init (CasAdmissionClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cas_admission_dispose;
}

static void
cas_admission_init (CasAdmission *self)
{
  g_queue_init (&self->waiters);
}

CasAdmission *
cas_admission_new (guint max_active,
                   guint max_depth)
{
  CasAdmission *self = g_object_new (CAS_TYPE_ADMISSION, NULL);

  self->max_active = MAX (max_active, 1);
  self->max_depth = MAX (max_depth, 1);
  return self;
}

static CasAdmissionSlot *
slot_new (CasAdmission *self)
{
  CasAdmissionSlot *slot = g_new0 (CasAdmissionSlot, 1);

  self->active++;
  slot->admission = g_object_ref (self);
  return slot;
}

static void
slot_free (gpointer data)
{
  cas_admission_slot_release (data);
}

static void
grant_waiters (CasAdmission *self)
{
  while (self->active < self->max_active && !g_queue_is_empty (&self->waiters))
    {
      g_autoptr (GTask) task = g_queue_pop_head (&self->waiters);
      GCancellable *cancellable = g_task_get_cancellable (task);

      if (cancellable != NULL)
        g_cancellable_disconnect (cancellable,
                                  GPOINTER_TO_SIZE (g_task_get_task_data (task)));
      g_task_set_task_data (task, NULL, NULL);
      g_task_return_pointer (task, slot_new (self), slot_free);
    }
}

void
cas_admission_slot_release (CasAdmissionSlot *slot)
{
  g_autoptr (CasAdmission) self = NULL;

  if (slot == NULL)
    return;
  self = g_steal_pointer (&slot->admission);
  g_free (slot);

  g_return_if_fail (self->active > 0);
  self->active--;
  grant_waiters (self);
}

/* Runs in the main context (connected with g_cancellable_connect from it,
 * and every cancel in this daemon happens there). */
static void
on_waiter_cancelled (GCancellable *cancellable,
                     gpointer      user_data)
{
  GTask *task = user_data;
  CasAdmission *self = g_task_get_source_object (task);
  GList *link = g_queue_find (&self->waiters, task);

  if (link == NULL)
    return;
  g_queue_delete_link (&self->waiters, link);
  g_task_return_error_if_cancelled (task);
  g_object_unref (task);
}

void
cas_admission_acquire_async (CasAdmission       *self,
                             GCancellable       *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  gulong handler;

  g_task_set_source_tag (task, cas_admission_acquire_async);

  if (self->active + g_queue_get_length (&self->waiters) >= self->max_depth)
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_QUEUE_FULL, "queue full");
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;
  if (self->active < self->max_active)
    {
      g_task_return_pointer (task, slot_new (self), slot_free);
      return;
    }

  g_queue_push_tail (&self->waiters, g_object_ref (task));
  if (cancellable != NULL)
    {
      /* The handler id rides in the task data so a grant can disconnect it. */
      handler = g_cancellable_connect (cancellable, G_CALLBACK (on_waiter_cancelled),
                                       task, NULL);
      g_task_set_task_data (task, GSIZE_TO_POINTER (handler), NULL);
    }
}

CasAdmissionSlot *
cas_admission_acquire_finish (CasAdmission *self,
                              GAsyncResult *result,
                              GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

guint
cas_admission_get_active (CasAdmission *self)
{
  return self->active;
}

guint
cas_admission_get_queued (CasAdmission *self)
{
  return g_queue_get_length (&self->waiters);
}

guint
cas_admission_get_capacity (CasAdmission *self)
{
  return self->max_active;
}
