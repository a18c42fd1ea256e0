/* The AFK run store: file names, round trips through the disk, the
 * store's repo lock, and hostile files in the runs directory (corrupt,
 * oversized, wrong-typed, renamed, not regular) set aside, never fatal. */
#include <string.h>

#include <glib/gstdio.h>

#include "cas-afk-parse.h"
#include "cas-error.h"
#include "cas-run-store.h"

#define T0 G_GINT64_CONSTANT (1767322800123456)

typedef struct {
  char *state;
  char *runs;
} Fixture;

static void
fixture_set_up (Fixture *fx, gconstpointer data)
{
  fx->state = g_dir_make_tmp ("test-run-store-XXXXXX", NULL);
  g_assert_nonnull (fx->state);
  fx->runs = g_build_filename (fx->state, "afk", "runs", NULL);
}

static void
remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    while ((name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *child = g_build_filename (path, name, NULL);

        if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
          remove_tree (child);
        else
          g_unlink (child);
      }
  g_rmdir (path);
}

static void
fixture_tear_down (Fixture *fx, gconstpointer data)
{
  remove_tree (fx->state);
  g_free (fx->state);
  g_free (fx->runs);
}

static void
on_saved (GObject *source, GAsyncResult *res, gpointer user_data)
{
  gboolean *done = user_data;
  g_autoptr (GError) error = NULL;

  g_assert_true (cas_run_store_save_finish (CAS_RUN_STORE (source), res, &error));
  g_assert_no_error (error);
  *done = TRUE;
}

static void
save (CasRunStore *store, const CasRun *run)
{
  gboolean done = FALSE;

  cas_run_store_save_async (store, run, on_saved, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static CasRunStore *
open_store (Fixture *fx)
{
  g_autoptr (GError) error = NULL;
  CasRunStore *store = cas_run_store_new (fx->state, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

static void
test_file_names (void)
{
  g_autofree char *a = cas_run_store_file_name ("Owner/My_Repo.x", 12);

  g_assert_cmpstr (a, ==, "owner__my_repo.x__12.json");
  g_assert_null (cas_run_store_file_name ("owner/..", 1));
  g_assert_null (cas_run_store_file_name ("../etc", 1));
  g_assert_null (cas_run_store_file_name ("owner/name/extra", 1));
  g_assert_null (cas_run_store_file_name ("owner/name", 0));
  g_assert_null (cas_run_store_file_name ("owner/name", (guint) G_MAXINT32 + 1));
  g_assert_null (cas_run_store_file_name (NULL, 1));
  g_assert_null (cas_run_store_file_name ("", 1));
}

static void
test_round_trip_and_locks (Fixture *fx, gconstpointer data)
{
  g_autoptr (CasRunStore) store = open_store (fx);
  g_autoptr (CasRunStore) again = NULL;
  g_autoptr (CasRun) a = cas_run_new ("owner/repo", 12, "A", "p1", "t1", NULL, T0);
  g_autoptr (CasRun) b = cas_run_new ("other/repo", 3, "B", "p2", "t2", "turn-0", T0 + 1);
  g_autoptr (GPtrArray) locks = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_issue_ref_free);
  g_autoptr (GPtrArray) list = NULL;
  const CasRun *found;

  g_assert_null (cas_run_store_lookup (store, "owner/repo", 12));
  save (store, a);
  save (store, b);
  g_assert_true (cas_run_store_repo_is_locked (store, "OWNER/Repo"));
  g_assert_false (cas_run_store_repo_is_locked (store, "owner/elsewhere"));
  cas_run_store_add_locks (store, locks);
  g_assert_cmpuint (locks->len, ==, 2);

  /* A terminal run releases its repo. */
  b->phase = CAS_RUN_PHASE_NEEDS_HUMAN;
  b->reason = CAS_RUN_REASON_STALLED;
  b->finished_us = T0 + 2;
  save (store, b);
  g_assert_false (cas_run_store_repo_is_locked (store, "other/repo"));

  again = open_store (fx);
  found = cas_run_store_lookup (again, "Owner/Repo", 12);
  g_assert_nonnull (found);
  g_assert_true (cas_run_equal (found, a));
  found = cas_run_store_lookup (again, "other/repo", 3);
  g_assert_true (cas_run_equal (found, b));
  list = cas_run_store_list (again);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpstr (((CasRun *) g_ptr_array_index (list, 0))->repo, ==, "owner/repo");
}

static void
on_refused (GObject *source, GAsyncResult *res, gpointer user_data)
{
  gboolean *done = user_data;
  g_autoptr (GError) error = NULL;

  g_assert_false (cas_run_store_save_finish (CAS_RUN_STORE (source), res, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  *done = TRUE;
}

/* A run that would not read back is not written, nor kept. */
static void
test_inconsistent_run_refused (Fixture *fx, gconstpointer data)
{
  g_autoptr (CasRunStore) store = open_store (fx);
  g_autoptr (CasRun) run = cas_run_new ("owner/repo", 5, "x", "p1", "t1", NULL, T0);
  gboolean done = FALSE;

  run->phase = CAS_RUN_PHASE_DONE;  /* without a pushed commit */
  cas_run_store_save_async (store, run, on_refused, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_null (cas_run_store_lookup (store, "owner/repo", 5));
  g_assert_false (cas_run_store_repo_is_locked (store, "owner/repo"));
}

static void
write_file (Fixture *fx, const char *name, const char *contents, gssize length)
{
  g_autofree char *path = g_build_filename (fx->runs, name, NULL);

  g_assert_cmpint (g_mkdir_with_parents (fx->runs, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, contents, length, NULL));
}

static gboolean
exists (Fixture *fx, const char *name)
{
  g_autofree char *path = g_build_filename (fx->runs, name, NULL);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static void
test_hostile_files (Fixture *fx, gconstpointer data)
{
  g_autoptr (CasRun) good = cas_run_new ("owner/repo", 1, "ok", "p1", "t1", NULL, T0);
  g_autofree char *good_json = cas_run_to_json (good);
  g_autofree char *huge = g_strnfill (CAS_RUN_STORE_MAX_FILE_BYTES + 1, ' ');
  g_autoptr (CasRunStore) store = NULL;
  g_autofree char *link_path = NULL;

  write_file (fx, "owner__repo__1.json", good_json, -1);
  write_file (fx, "owner__repo__2.json", "{not json", -1);
  write_file (fx, "owner__repo__3.json", "{\"version\":1,\"repo\":42}", -1);
  write_file (fx, "owner__repo__4.json", "[]", -1);
  write_file (fx, "owner__repo__5.json", "\xff\xfe\0\0garbage", 12);
  write_file (fx, "owner__repo__6.json", huge, -1);
  /* The run of #1 under another issue's name must not shadow it. */
  write_file (fx, "owner__repo__7.json", good_json, -1);
  write_file (fx, "notes.txt", "ignored", -1);
  link_path = g_build_filename (fx->runs, "owner__repo__8.json", NULL);
  g_assert_cmpint (symlink ("/etc/passwd", link_path), ==, 0);

  for (int i = 0; i < 6; i++)
    g_test_expect_message ("cas-afk", G_LOG_LEVEL_MESSAGE, "*not valid*set aside*");
  store = open_store (fx);
  g_test_assert_expected_messages ();

  g_assert_nonnull (cas_run_store_lookup (store, "owner/repo", 1));
  for (guint n = 2; n <= 8; n++)
    g_assert_null (cas_run_store_lookup (store, "owner/repo", n));
  g_assert_true (exists (fx, "owner__repo__2.json.corrupt"));
  g_assert_true (exists (fx, "owner__repo__6.json.corrupt"));
  g_assert_true (exists (fx, "owner__repo__7.json.corrupt"));
  g_assert_false (exists (fx, "owner__repo__2.json"));
  g_assert_true (exists (fx, "notes.txt"));
  /* A symlink is not followed, nor moved. */
  g_assert_true (exists (fx, "owner__repo__8.json"));
}

static void
test_unusable_dir (Fixture *fx, gconstpointer data)
{
  g_autofree char *afk = g_build_filename (fx->state, "afk", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (CasRunStore) store = NULL;

  /* "runs" is a file: an error, not a crash. */
  g_assert_cmpint (g_mkdir_with_parents (afk, 0700), ==, 0);
  g_assert_true (g_file_set_contents (fx->runs, "x", 1, NULL));
  store = cas_run_store_new (fx->state, &error);
  g_assert_null (store);
  g_assert_nonnull (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/run-store/file-names", test_file_names);
  g_test_add ("/run-store/round-trip-and-locks", Fixture, NULL, fixture_set_up,
              test_round_trip_and_locks, fixture_tear_down);
  g_test_add ("/run-store/inconsistent-run-refused", Fixture, NULL, fixture_set_up,
              test_inconsistent_run_refused, fixture_tear_down);
  g_test_add ("/run-store/hostile-files", Fixture, NULL, fixture_set_up, test_hostile_files,
              fixture_tear_down);
  g_test_add ("/run-store/unusable-dir", Fixture, NULL, fixture_set_up, test_unusable_dir,
              fixture_tear_down);
  return g_test_run ();
}
