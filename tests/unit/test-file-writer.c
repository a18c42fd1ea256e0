/* CasFileWriter: writes land in order, off the calling thread, and a
 * failed write is reported to its own caller. */
#include <glib/gstdio.h>

#include "cas-file-writer.h"

typedef struct {
  guint done;
  guint failed;
  GPtrArray *order;   /* the user_data of each callback, as they came */
} Counts;

static void
on_written (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Counts *counts = g_object_get_data (source, "counts");
  g_autoptr (GError) error = NULL;

  if (!cas_file_writer_replace_finish (CAS_FILE_WRITER (source), result, &error))
    counts->failed++;
  counts->done++;
  g_ptr_array_add (counts->order, user_data);
}

static void
test_in_order (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("cas-file-writer-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "record.json", NULL);
  g_autofree char *missing = g_build_filename (dir, "no", "such", "dir", NULL);
  g_autoptr (CasFileWriter) writer = cas_file_writer_new (&error);
  g_autofree char *contents = NULL;
  Counts counts = { 0, 0, g_ptr_array_new () };
  GStatBuf st;

  g_assert_no_error (error);
  g_object_set_data (G_OBJECT (writer), "counts", &counts);
  for (guint i = 0; i < 200; i++)
    cas_file_writer_replace_async (writer, path, g_strdup_printf ("version %u", i),
                                   on_written, GUINT_TO_POINTER (i));
  cas_file_writer_replace_async (writer, missing, g_strdup ("x"), on_written,
                                 GUINT_TO_POINTER (200));
  while (counts.done < 201)
    g_main_context_iteration (NULL, TRUE);

  g_assert_cmpuint (counts.failed, ==, 1);
  for (guint i = 0; i < counts.order->len; i++)
    g_assert_cmpuint (GPOINTER_TO_UINT (g_ptr_array_index (counts.order, i)), ==, i);
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "version 199");
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 0777, ==, 0600);

  /* NULL removes; removing what is gone is fine. */
  cas_file_writer_replace_async (writer, path, NULL, on_written, GUINT_TO_POINTER (201));
  cas_file_writer_replace_async (writer, path, NULL, on_written, GUINT_TO_POINTER (202));
  while (counts.done < 203)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (counts.failed, ==, 1);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  g_ptr_array_unref (counts.order);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/file-writer/in-order", test_in_order);
  return g_test_run ();
}
