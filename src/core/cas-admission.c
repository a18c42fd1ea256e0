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
  guint reserved;          /* tickets: every waiter holds one */
  guint64 max_queued_bytes;
  guint64 queued_bytes;    /* held by the tickets */
  GQueue waiters; /* (element-type GTask) (owned) */
};

struct _CasAdmissionSlot
{
  CasAdmission *admission; /* (owned) */
};

struct _CasAdmissionTicket
{
  CasAdmission *admission; /* (owned) */
  guint64 bytes;
};

/* A waiting task's data. */
typedef struct {
  gulong cancelled_id;
  CasAdmissionTicket *ticket; /* (owned) (nullable) */
} Waiter;

G_DEFINE_FINAL_TYPE (CasAdmission, cas_admission, G_TYPE_OBJECT)

static void
cas_admission_dispose (GObject *object)
{
  CasAdmission *self = CAS_ADMISSION (object);
  GTask *task;

  while ((task = g_queue_pop_head (&self->waiters)) != NULL)
    {
      Waiter *waiter = g_task_get_task_data (task);

      g_clear_pointer (&waiter->ticket, cas_admission_ticket_release);
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
  self->max_queued_bytes = G_MAXUINT64;
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
      Waiter *waiter = g_task_get_task_data (task);

      g_cancellable_disconnect (g_task_get_cancellable (task), waiter->cancelled_id);
      /* Its place in the queue goes with the wait, not with the task. */
      g_clear_pointer (&waiter->ticket, cas_admission_ticket_release);
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
  Waiter *waiter;

  if (link == NULL)
    return;
  g_queue_delete_link (&self->waiters, link);
  waiter = g_task_get_task_data (task);
  g_clear_pointer (&waiter->ticket, cas_admission_ticket_release);
  g_task_return_error_if_cancelled (task);
  g_object_unref (task);
}

void
cas_admission_set_max_queued_bytes (CasAdmission *self,
                                    guint64       max_bytes)
{
  self->max_queued_bytes = max_bytes;
}

CasAdmissionTicket *
cas_admission_reserve (CasAdmission *self,
                       guint64       bytes,
                       GError      **error)
{
  CasAdmissionTicket *ticket;

  if (self->active + self->reserved >= self->max_depth)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_QUEUE_FULL, "queue full");
      return NULL;
    }
  if (bytes > self->max_queued_bytes - self->queued_bytes)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_QUEUE_FULL,
                           "queue full: too many bytes waiting");
      return NULL;
    }
  ticket = g_new0 (CasAdmissionTicket, 1);
  ticket->admission = g_object_ref (self);
  ticket->bytes = bytes;
  self->reserved++;
  self->queued_bytes += bytes;
  return ticket;
}

void
cas_admission_ticket_release (CasAdmissionTicket *ticket)
{
  g_autoptr (CasAdmission) self = NULL;

  if (ticket == NULL)
    return;
  self = g_steal_pointer (&ticket->admission);
  g_return_if_fail (self->reserved > 0 && self->queued_bytes >= ticket->bytes);
  self->reserved--;
  self->queued_bytes -= ticket->bytes;
  g_free (ticket);
}

static void
waiter_free (gpointer data)
{
  Waiter *waiter = data;

  g_clear_pointer (&waiter->ticket, cas_admission_ticket_release);
  g_free (waiter);
}

/* Takes @ticket: a slot at once when one is free, else a place in line. */
static void
acquire (CasAdmission       *self,
         GTask              *task,
         CasAdmissionTicket *ticket)
{
  GCancellable *cancellable = g_task_get_cancellable (task);
  Waiter *waiter;

  if (g_task_return_error_if_cancelled (task))
    {
      cas_admission_ticket_release (ticket);
      return;
    }
  if (self->active < self->max_active)
    {
      cas_admission_ticket_release (ticket);
      g_task_return_pointer (task, slot_new (self), slot_free);
      return;
    }

  waiter = g_new0 (Waiter, 1);
  waiter->ticket = ticket;
  g_task_set_task_data (task, waiter, waiter_free);
  g_queue_push_tail (&self->waiters, g_object_ref (task));
  if (cancellable != NULL)
    waiter->cancelled_id = g_cancellable_connect (cancellable,
                                                  G_CALLBACK (on_waiter_cancelled),
                                                  task, NULL);
}

void
cas_admission_acquire_async (CasAdmission       *self,
                             GCancellable       *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  GError *error = NULL;
  CasAdmissionTicket *ticket;

  g_task_set_source_tag (task, cas_admission_acquire_async);
  ticket = cas_admission_reserve (self, 0, &error);
  if (ticket == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  acquire (self, task, ticket);
}

void
cas_admission_acquire_reserved_async (CasAdmission       *self,
                                      CasAdmissionTicket *ticket,
                                      GCancellable       *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_return_if_fail (ticket != NULL && ticket->admission == self);
  g_task_set_source_tag (task, cas_admission_acquire_async);
  acquire (self, task, ticket);
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

/* Waiters and requests that wait elsewhere (a conversation's lane): all
 * hold a ticket. */
guint
cas_admission_get_queued (CasAdmission *self)
{
  return self->reserved;
}

guint64
cas_admission_get_queued_bytes (CasAdmission *self)
{
  return self->queued_bytes;
}

guint
cas_admission_get_capacity (CasAdmission *self)
{
  return self->max_active;
}
