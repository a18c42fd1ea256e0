/* Admission: slots, FIFO waiting, queue depth, cancellation. */
#include "cas-admission.h"
#include "cas-error.h"

typedef struct {
  CasAdmissionSlot *slot;
  GError *error;
  gboolean done;
} Waiter;

static void
on_acquired (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Waiter *waiter = user_data;

  waiter->slot = cas_admission_acquire_finish (CAS_ADMISSION (source), result, &waiter->error);
  waiter->done = TRUE;
}

static void
iterate (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
test_slots_and_queue (void)
{
  g_autoptr (CasAdmission) admission = cas_admission_new (2, 4);
  Waiter w[5] = { 0 };

  for (guint i = 0; i < 5; i++)
    cas_admission_acquire_async (admission, NULL, on_acquired, &w[i]);
  iterate ();

  g_assert_true (w[0].done && w[0].slot != NULL);
  g_assert_true (w[1].done && w[1].slot != NULL);
  g_assert_false (w[2].done);
  g_assert_false (w[3].done);
  /* active + queued reached the depth: refused at once. */
  g_assert_true (w[4].done);
  g_assert_error (w[4].error, CAS_ERROR, CAS_ERROR_QUEUE_FULL);
  g_clear_error (&w[4].error);
  g_assert_cmpuint (cas_admission_get_active (admission), ==, 2);
  g_assert_cmpuint (cas_admission_get_queued (admission), ==, 2);
  g_assert_cmpuint (cas_admission_get_capacity (admission), ==, 2);

  /* First in, first out. */
  cas_admission_slot_release (g_steal_pointer (&w[1].slot));
  iterate ();
  g_assert_true (w[2].done && w[2].slot != NULL);
  g_assert_false (w[3].done);

  cas_admission_slot_release (g_steal_pointer (&w[0].slot));
  cas_admission_slot_release (g_steal_pointer (&w[2].slot));
  iterate ();
  g_assert_true (w[3].done && w[3].slot != NULL);
  cas_admission_slot_release (g_steal_pointer (&w[3].slot));
  g_assert_cmpuint (cas_admission_get_active (admission), ==, 0);
  g_assert_cmpuint (cas_admission_get_queued (admission), ==, 0);
}

static void
test_cancel_while_waiting (void)
{
  g_autoptr (CasAdmission) admission = cas_admission_new (1, 10);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  Waiter first = { 0 }, second = { 0 }, third = { 0 };

  cas_admission_acquire_async (admission, NULL, on_acquired, &first);
  cas_admission_acquire_async (admission, cancellable, on_acquired, &second);
  cas_admission_acquire_async (admission, NULL, on_acquired, &third);
  iterate ();
  g_assert_cmpuint (cas_admission_get_queued (admission), ==, 2);

  g_cancellable_cancel (cancellable);
  iterate ();
  g_assert_true (second.done);
  g_assert_error (second.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&second.error);
  g_assert_cmpuint (cas_admission_get_queued (admission), ==, 1);

  cas_admission_slot_release (g_steal_pointer (&first.slot));
  iterate ();
  g_assert_nonnull (third.slot);
  cas_admission_slot_release (g_steal_pointer (&third.slot));
}

static void
test_already_cancelled (void)
{
  g_autoptr (CasAdmission) admission = cas_admission_new (1, 10);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  Waiter w = { 0 };

  g_cancellable_cancel (cancellable);
  cas_admission_acquire_async (admission, cancellable, on_acquired, &w);
  iterate ();
  g_assert_error (w.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&w.error);
  g_assert_cmpuint (cas_admission_get_active (admission), ==, 0);
}

static void
test_unclaimed_slot_is_released (void)
{
  g_autoptr (CasAdmission) admission = cas_admission_new (1, 10);

  /* Nobody finishes the task: its slot must still come back. */
  cas_admission_acquire_async (admission, NULL, NULL, NULL);
  iterate ();
  g_assert_cmpuint (cas_admission_get_active (admission), ==, 0);
}

/* Tickets: requests that wait outside the admission's line count toward
 * the depth and the bytes bound, and keep their place when they ask. */
static void
test_tickets (void)
{
  g_autoptr (CasAdmission) admission = cas_admission_new (1, 3);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  CasAdmissionTicket *a, *b, *c;
  Waiter first = { 0 }, second = { 0 }, third = { 0 }, refused = { 0 };

  cas_admission_set_max_queued_bytes (admission, 100);
  cas_admission_acquire_async (admission, NULL, on_acquired, &first);
  iterate ();
  g_assert_nonnull (first.slot);

  a = cas_admission_reserve (admission, 60, &error);
  g_assert_no_error (error);
  /* 60 + 41 would pass the 100 bytes waiting requests may hold. */
  g_assert_null (cas_admission_reserve (admission, 41, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_QUEUE_FULL);
  g_clear_error (&error);
  b = cas_admission_reserve (admission, 40, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (cas_admission_get_queued (admission), ==, 2);
  g_assert_cmpuint (cas_admission_get_queued_bytes (admission), ==, 100);

  /* One running and two places taken: the depth is reached on every way in. */
  g_assert_null (cas_admission_reserve (admission, 0, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_QUEUE_FULL);
  g_clear_error (&error);
  cas_admission_acquire_async (admission, NULL, on_acquired, &refused);
  iterate ();
  g_assert_error (refused.error, CAS_ERROR, CAS_ERROR_QUEUE_FULL);
  g_clear_error (&refused.error);

  /* A ticket's holder waits in its place, not refused. */
  cas_admission_acquire_reserved_async (admission, a, NULL, on_acquired, &second);
  cas_admission_acquire_reserved_async (admission, b, cancellable, on_acquired, &third);
  iterate ();
  g_assert_false (second.done);
  g_assert_cmpuint (cas_admission_get_queued (admission), ==, 2);

  /* Leaving the line gives up the place and the bytes. */
  g_cancellable_cancel (cancellable);
  iterate ();
  g_assert_error (third.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&third.error);
  g_assert_cmpuint (cas_admission_get_queued (admission), ==, 1);
  g_assert_cmpuint (cas_admission_get_queued_bytes (admission), ==, 60);

  /* So does getting a slot. */
  cas_admission_slot_release (g_steal_pointer (&first.slot));
  iterate ();
  g_assert_nonnull (second.slot);
  g_assert_cmpuint (cas_admission_get_queued (admission), ==, 0);
  g_assert_cmpuint (cas_admission_get_queued_bytes (admission), ==, 0);

  /* A ticket given back unused. */
  c = cas_admission_reserve (admission, 100, &error);
  g_assert_no_error (error);
  cas_admission_ticket_release (c);
  g_assert_cmpuint (cas_admission_get_queued (admission), ==, 0);
  g_assert_cmpuint (cas_admission_get_queued_bytes (admission), ==, 0);
  cas_admission_slot_release (g_steal_pointer (&second.slot));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/admission/slots-and-queue", test_slots_and_queue);
  g_test_add_func ("/admission/cancel-while-waiting", test_cancel_while_waiting);
  g_test_add_func ("/admission/already-cancelled", test_already_cancelled);
  g_test_add_func ("/admission/unclaimed-slot", test_unclaimed_slot_is_released);
  g_test_add_func ("/admission/tickets", test_tickets);

  return g_test_run ();
}
