/* cas-workspace.c: per-job directories: a debounced refresh of the base
 * repository, a local clone, and removal that never leaves the tree.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-workspace"
/* O_PATH */
#define _GNU_SOURCE

#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cas-cli-process.h"
#include "cas-conversation-plan.h"
#include "cas-error.h"
#include "cas-workspace.h"

#define DIR_TEMPLATE CAS_WORKSPACE_NAME_PREFIX "XXXXXX"

/* A fetch may cross a slow network; the rest is local. */
#define FETCH_TIMEOUT_SECONDS 300
#define CLONE_TIMEOUT_SECONDS 600
#define LOCAL_TIMEOUT_SECONDS 60

/* Deeper trees are left in place (and logged): each level holds a
 * descriptor while its children go. */
#define MAX_REMOVE_DEPTH 256

/* Module state per base repository, for the life of the process. Touched
 * from the main thread only. */
typedef struct {
  char *path;            /* (owned) canonical */
  GQueue pending;        /* (element-type GTask) (owned) setups waiting their turn */
  gboolean busy;
  gint64 last_fetch_us;  /* monotonic; 0: never */
} RepoState;

static GHashTable *repos; /* (element-type utf8 RepoState) */

typedef struct {
  RepoState *repo;       /* (unowned) */
  char *base;            /* (owned) absolute */
  char *parent;          /* (owned) absolute */
  char *key_file;        /* (owned) (nullable) absolute */
  guint debounce_seconds;
  char *dir;             /* (owned) (nullable) the new directory, once made */
} Prepare;

typedef void (*CommandDone) (GTask      *task,
                             gboolean    ok,
                             const char *out,
                             const char *err);

typedef struct {
  GTask *task;           /* (owned) */
  GSubprocess *process;  /* (owned) */
  CommandDone done;
  char *what;            /* (owned) for messages: "git fetch" */
  guint timeout_id;
  gboolean timed_out;
} Command;

static void process_next (RepoState *repo);

static void
prepare_free (gpointer data)
{
  Prepare *p = data;

  g_free (p->base);
  g_free (p->parent);
  g_free (p->key_file);
  g_free (p->dir);
  g_free (p);
}

/* The first non-blank line, for messages. */
static char *
first_line (const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text != NULL ? text : "", "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    if (*g_strstrip (lines[i]) != '\0')
      return g_strdup (lines[i]);
  return g_strdup ("no error message");
}

static void
command_free (Command *command)
{
  g_clear_handle_id (&command->timeout_id, g_source_remove);
  g_clear_object (&command->task);
  g_clear_object (&command->process);
  g_free (command->what);
  g_free (command);
}

static gboolean
on_command_timeout (gpointer user_data)
{
  Command *command = user_data;

  command->timeout_id = 0;
  command->timed_out = TRUE;
  g_subprocess_force_exit (command->process);
  return G_SOURCE_REMOVE;
}

static char *
bytes_to_text (GBytes *bytes)
{
  gsize size = 0;
  const char *data = bytes != NULL ? g_bytes_get_data (bytes, &size) : NULL;

  return size > 0 ? g_utf8_make_valid (data, (gssize) size) : g_strdup ("");
}

static void
on_command_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Command *command = user_data;
  g_autoptr (GBytes) out = NULL;
  g_autoptr (GBytes) err = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *out_text = NULL;
  g_autofree char *err_text = NULL;
  gboolean ok;

  ok = g_subprocess_communicate_finish (command->process, result, &out, &err, &error) &&
       g_subprocess_get_successful (command->process);
  out_text = bytes_to_text (out);
  if (command->timed_out)
    err_text = g_strdup_printf ("%s timed out", command->what);
  else if (error != NULL)
    err_text = g_strdup (error->message);
  else
    err_text = bytes_to_text (err);

  command->done (command->task, ok, out_text, err_text);
  command_free (command);
}

/* Runs @argv (a list, never a shell) and calls @done from the main loop. */
static void
run_command (GTask              *task,
             const char         *cwd,
             guint               timeout_seconds,
             CommandDone         done,
             const char * const *argv)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GError) error = NULL;
  Command *command;

  /* stdin stays /dev/null, GSubprocess's default. */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  /* A daemon has nobody to type a password: fail instead of waiting. */
  g_subprocess_launcher_setenv (launcher, "GIT_TERMINAL_PROMPT", "0", TRUE);
  g_subprocess_launcher_setenv (launcher, "GIT_ASKPASS", "/bin/false", TRUE);
  g_subprocess_launcher_setenv (launcher, "SSH_ASKPASS", "/bin/false", TRUE);
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C", TRUE);
  if (cwd != NULL)
    g_subprocess_launcher_set_cwd (launcher, cwd);

  command = g_new0 (Command, 1);
  command->task = g_object_ref (task);
  command->done = done;
  command->what = g_strjoin (" ", argv[0], g_str_equal (argv[1], "-C") ? argv[3] : argv[1], NULL);
  command->process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  if (command->process == NULL)
    {
      g_autofree char *message = g_strdup_printf ("cannot run %s: %s", argv[0], error->message);

      done (task, FALSE, "", message);
      command_free (command);
      return;
    }
  command->timeout_id = g_timeout_add_seconds (timeout_seconds, on_command_timeout, command);
  g_subprocess_communicate_async (command->process, NULL, NULL, on_command_done, command);
}

static void
release_repo (Prepare *p)
{
  RepoState *repo = g_steal_pointer (&p->repo);

  if (repo == NULL)
    return;
  repo->busy = FALSE;
  /* From an idle: the next setup must not start inside this one's
   * completion. */
  g_idle_add_once ((GSourceOnceFunc) process_next, repo);
}

static void
fail (GTask      *task,
      GError     *error /* (transfer full) */)
{
  Prepare *p = g_task_get_task_data (task);

  if (p->dir != NULL)
    cas_workspace_remove (p->dir);
  g_clear_pointer (&p->dir, g_free);
  release_repo (p);
  g_task_return_error (task, error);
}

static void
fail_step (GTask      *task,
           const char *what,
           const char *stderr_text)
{
  g_autofree char *line = first_line (stderr_text);

  fail (task, g_error_new (CAS_ERROR, CAS_ERROR_FAILED,
                           "cannot prepare the workspace: %s failed: %s", what, line));
}

/* Checked between steps: a cancelled setup stops and cleans up. */
static gboolean
stopped_if_cancelled (GTask *task)
{
  GError *error = NULL;

  if (!g_cancellable_set_error_if_cancelled (g_task_get_cancellable (task), &error))
    return FALSE;
  fail (task, error);
  return TRUE;
}

static void
succeed (GTask *task)
{
  Prepare *p = g_task_get_task_data (task);

  if (stopped_if_cancelled (task))
    return;
  release_repo (p);
  g_task_return_pointer (task, g_steal_pointer (&p->dir), g_free);
}

static void
on_unlocked (GTask      *task,
             gboolean    ok,
             const char *out,
             const char *err)
{
  if (!ok)
    {
      fail_step (task, "git-crypt unlock", err);
      return;
    }
  succeed (task);
}

static void
step_unlock (GTask *task)
{
  Prepare *p = g_task_get_task_data (task);

  if (stopped_if_cancelled (task))
    return;
  if (p->key_file == NULL || !g_file_test (p->key_file, G_FILE_TEST_EXISTS))
    {
      if (p->key_file != NULL)
        g_debug ("no git-crypt key at %s; not unlocking", p->key_file);
      succeed (task);
      return;
    }
  run_command (task, p->dir, LOCAL_TIMEOUT_SECONDS, on_unlocked,
               (const char * const[]) { "git-crypt", "unlock", p->key_file, NULL });
}

static void
on_origin_set (GTask      *task,
               gboolean    ok,
               const char *out,
               const char *err)
{
  Prepare *p = g_task_get_task_data (task);

  if (!ok)
    {
      g_autofree char *line = first_line (err);

      g_message (_("Could not point the origin of %s at the base’s origin: %s"),
                 p->dir, line);
    }
  step_unlock (task);
}

static void
on_origin_url (GTask      *task,
               gboolean    ok,
               const char *out,
               const char *err)
{
  Prepare *p = g_task_get_task_data (task);
  g_autofree char *url = g_strstrip (g_strdup (out));

  if (stopped_if_cancelled (task))
    return;
  /* A base without an origin leaves the clone's origin at the base. */
  if (!ok || *url == '\0')
    {
      step_unlock (task);
      return;
    }
  run_command (task, NULL, LOCAL_TIMEOUT_SECONDS, on_origin_set,
               (const char * const[]) { "git", "-C", p->dir, "remote", "set-url", "origin",
                                        url, NULL });
}

static void
on_cloned (GTask      *task,
           gboolean    ok,
           const char *out,
           const char *err)
{
  Prepare *p = g_task_get_task_data (task);

  if (!ok)
    {
      fail_step (task, "git clone", err);
      return;
    }
  if (stopped_if_cancelled (task))
    return;
  run_command (task, NULL, LOCAL_TIMEOUT_SECONDS, on_origin_url,
               (const char * const[]) { "git", "-C", p->base, "remote", "get-url", "origin",
                                        NULL });
}

static gboolean
make_dir (Prepare *p,
          GError **error)
{
  g_autofree char *template = g_build_filename (p->parent, DIR_TEMPLATE, NULL);
  int saved_errno;

  if (g_mkdir_with_parents (p->parent, 0700) != 0)
    {
      saved_errno = errno;
      g_set_error (error, CAS_ERROR, CAS_ERROR_FAILED,
                   "cannot prepare the workspace: cannot create %s: %s",
                   p->parent, g_strerror (saved_errno));
      return FALSE;
    }
  if (g_mkdtemp_full (template, 0700) == NULL)
    {
      saved_errno = errno;
      g_set_error (error, CAS_ERROR, CAS_ERROR_FAILED,
                   "cannot prepare the workspace: cannot create a directory in %s: %s",
                   p->parent, g_strerror (saved_errno));
      return FALSE;
    }
  p->dir = g_steal_pointer (&template);
  return TRUE;
}

static void
step_clone (GTask *task)
{
  Prepare *p = g_task_get_task_data (task);
  GError *error = NULL;

  if (stopped_if_cancelled (task))
    return;
  if (!make_dir (p, &error))
    {
      fail (task, error);
      return;
    }
  /* git clones into an existing directory when it is empty. */
  run_command (task, NULL, CLONE_TIMEOUT_SECONDS, on_cloned,
               (const char * const[]) { "git", "clone", "--local", "--quiet", "--",
                                        p->base, p->dir, NULL });
}

static void
on_reset (GTask      *task,
          gboolean    ok,
          const char *out,
          const char *err)
{
  Prepare *p = g_task_get_task_data (task);

  if (!ok)
    {
      g_autofree char *line = first_line (err);

      g_message (_("Could not reset %s to its origin (new workspaces use it as it is): %s"),
                 p->base, line);
    }
  step_clone (task);
}

static void
reset_to (GTask      *task,
          const char *ref)
{
  Prepare *p = g_task_get_task_data (task);

  if (ref[0] == '-' || ref[0] == '\0')
    {
      step_clone (task);
      return;
    }
  /* The trailing "--" keeps the ref from being read as a path. */
  run_command (task, NULL, LOCAL_TIMEOUT_SECONDS, on_reset,
               (const char * const[]) { "git", "-C", p->base, "reset", "--hard", "--quiet",
                                        ref, "--", NULL });
}

static void
on_local_head (GTask      *task,
               gboolean    ok,
               const char *out,
               const char *err)
{
  Prepare *p = g_task_get_task_data (task);
  g_autofree char *branch = g_strstrip (g_strdup (out));
  g_autofree char *ref = NULL;

  if (!ok || *branch == '\0')
    {
      g_message (_("Could not tell the default branch of %s; not resetting it"), p->base);
      step_clone (task);
      return;
    }
  ref = g_strconcat ("origin/", branch, NULL);
  reset_to (task, ref);
}

static void
on_origin_head (GTask      *task,
                gboolean    ok,
                const char *out,
                const char *err)
{
  Prepare *p = g_task_get_task_data (task);
  g_autofree char *ref = g_strstrip (g_strdup (out));

  if (ok && *ref != '\0')
    {
      reset_to (task, ref);
      return;
    }
  /* No origin/HEAD (a base made with git init, not clone): the branch
   * the base has checked out is its default. */
  run_command (task, NULL, LOCAL_TIMEOUT_SECONDS, on_local_head,
               (const char * const[]) { "git", "-C", p->base, "symbolic-ref", "--quiet",
                                        "--short", "HEAD", NULL });
}

static void
on_fetched (GTask      *task,
            gboolean    ok,
            const char *out,
            const char *err)
{
  Prepare *p = g_task_get_task_data (task);

  if (!ok)
    {
      g_autofree char *line = first_line (err);

      g_message (_("Could not refresh %s (new workspaces use it as it is): git fetch: %s"),
                 p->base, line);
      step_clone (task);
      return;
    }
  if (stopped_if_cancelled (task))
    return;
  run_command (task, NULL, LOCAL_TIMEOUT_SECONDS, on_origin_head,
               (const char * const[]) { "git", "-C", p->base, "symbolic-ref", "--quiet",
                                        "--short", "refs/remotes/origin/HEAD", NULL });
}

static void
step_refresh (GTask *task)
{
  Prepare *p = g_task_get_task_data (task);
  gint64 now = g_get_monotonic_time ();

  if (stopped_if_cancelled (task))
    return;
  if (p->repo->last_fetch_us != 0 &&
      now - p->repo->last_fetch_us < (gint64) p->debounce_seconds * G_USEC_PER_SEC)
    {
      step_clone (task);
      return;
    }
  /* Counted from the attempt, so a failing remote is not hammered. */
  p->repo->last_fetch_us = now;
  run_command (task, NULL, FETCH_TIMEOUT_SECONDS, on_fetched,
               (const char * const[]) { "git", "-C", p->base, "fetch", "--quiet", "origin",
                                        "--prune", NULL });
}

static void
process_next (RepoState *repo)
{
  while (!repo->busy && !g_queue_is_empty (&repo->pending))
    {
      g_autoptr (GTask) task = g_queue_pop_head (&repo->pending);
      Prepare *p = g_task_get_task_data (task);
      GError *error = NULL;

      if (g_cancellable_set_error_if_cancelled (g_task_get_cancellable (task), &error))
        {
          g_task_return_error (task, error);
          continue;
        }
      repo->busy = TRUE;
      p->repo = repo;
      step_refresh (task);
    }
}

static RepoState *
repo_state_for (const char *path)
{
  RepoState *repo;

  if (repos == NULL)
    repos = g_hash_table_new (g_str_hash, g_str_equal);
  repo = g_hash_table_lookup (repos, path);
  if (repo == NULL)
    {
      repo = g_new0 (RepoState, 1);
      repo->path = g_strdup (path);
      g_queue_init (&repo->pending);
      g_hash_table_insert (repos, repo->path, repo);
    }
  return repo;
}

void
cas_workspace_prepare_async (const char         *base_repo,
                             const char         *parent_dir,
                             const char         *git_crypt_key_file,
                             guint               fetch_debounce_seconds,
                             GCancellable       *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  Prepare *p = g_new0 (Prepare, 1);
  GError *error = NULL;

  g_task_set_source_tag (task, cas_workspace_prepare_async);
  /* Cancellation is ours to check, so a made directory is never dropped
   * on the floor. */
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, p, prepare_free);

  p->parent = g_canonicalize_filename (parent_dir != NULL && *parent_dir != '\0'
                                         ? parent_dir : g_get_tmp_dir (), NULL);
  p->debounce_seconds = fetch_debounce_seconds;
  if (git_crypt_key_file != NULL && *git_crypt_key_file != '\0')
    p->key_file = g_canonicalize_filename (git_crypt_key_file, NULL);

  if (base_repo == NULL || *base_repo == '\0')
    {
      if (!make_dir (p, &error))
        g_task_return_error (task, error);
      else
        g_task_return_pointer (task, g_steal_pointer (&p->dir), g_free);
      return;
    }

  p->base = g_canonicalize_filename (base_repo, NULL);
  if (!g_file_test (p->base, G_FILE_TEST_IS_DIR))
    {
      g_task_return_new_error (task, CAS_ERROR, CAS_ERROR_FAILED,
                               "cannot prepare the workspace: the base repository %s "
                               "is not a directory", p->base);
      return;
    }
  g_queue_push_tail (&repo_state_for (p->base)->pending, g_object_ref (task));
  process_next (repo_state_for (p->base));
}

char *
cas_workspace_prepare_finish (GAsyncResult *result,
                              GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Removes @name in @dirfd and, for a directory, everything in it, without
 * following any symlink. */
static gboolean
remove_at (int         dirfd,
           const char *name,
           guint       depth)
{
  struct stat st;
  g_autoptr (GPtrArray) names = NULL;
  struct dirent *entry;
  gboolean ok = TRUE;
  DIR *dir;
  int fd;

  if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT;
  if (!S_ISDIR (st.st_mode))
    return unlinkat (dirfd, name, 0) == 0 || errno == ENOENT;
  if (depth >= MAX_REMOVE_DEPTH)
    return FALSE;

  fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == EACCES)
    {
      /* A directory a tool made unreadable: make it ours again through a
       * descriptor, which (unlike a path) cannot have become a symlink. */
      int path_fd = openat (dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

      if (path_fd >= 0)
        {
          g_autofree char *proc = g_strdup_printf ("/proc/self/fd/%d", path_fd);

          if (chmod (proc, 0700) != 0)
            g_debug ("chmod %s: %s", name, g_strerror (errno));
          close (path_fd);
          fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
    }
  if (fd < 0)
    return FALSE;
  /* Removing entries needs write and search permission here. */
  if ((st.st_mode & 0700) != 0700 && fchmod (fd, (st.st_mode & 07777) | 0700) != 0)
    g_debug ("fchmod %s: %s", name, g_strerror (errno));

  dir = fdopendir (fd);
  if (dir == NULL)
    {
      close (fd);
      return FALSE;
    }
  /* Read the whole listing first: removing while reading may skip some. */
  names = g_ptr_array_new_with_free_func (g_free);
  while ((entry = readdir (dir)) != NULL)
    if (!g_str_equal (entry->d_name, ".") && !g_str_equal (entry->d_name, ".."))
      g_ptr_array_add (names, g_strdup (entry->d_name));
  for (guint i = 0; i < names->len; i++)
    if (!remove_at (fd, g_ptr_array_index (names, i), depth + 1))
      ok = FALSE;
  closedir (dir);

  if (unlinkat (dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
    ok = FALSE;
  return ok;
}

/* Removes @path; a parent that is gone means there is nothing to do. */
static void
remove_path (const char *path)
{
  g_autofree char *parent = g_path_get_dirname (path);
  g_autofree char *name = g_path_get_basename (path);
  int parent_fd = open (parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (parent_fd < 0 && errno == ENOENT)
    return;
  if (parent_fd < 0 || !remove_at (parent_fd, name, 0))
    g_message (_("Could not remove all of the workspace %s"), path);
  if (parent_fd >= 0)
    close (parent_fd);
}

static void
remove_in_thread (GTask        *task,
                  gpointer      source_object,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  for (char **path = task_data; *path != NULL; path++)
    remove_path (*path);
  g_task_return_boolean (task, TRUE);
}

/* The folder the CLI keeps for a working directory under
 * <config>/projects (2.1.332 makes its auto-memory folder there even with
 * --no-session-persistence); NULL when the CLI hashes a long name. The
 * CLI names it after its cwd as getcwd() says it, links resolved. */
static char *
cli_project_dir (const char *workspace)
{
  g_autofree char *real = realpath (workspace, NULL);
  g_autofree char *projects = NULL;
  g_autofree char *name = NULL;
  gboolean hashed = FALSE;

  name = cas_conversation_project_name (real != NULL ? real : workspace, &hashed);
  if (hashed)
    return NULL;
  projects = cas_cli_projects_dir ();
  return g_build_filename (projects, name, NULL);
}

static void
remove_workspace (const char *path,
                  gboolean    with_workspace)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GStrvBuilder) paths = g_strv_builder_new ();
  g_autofree char *canonical = NULL;
  g_autofree char *project = NULL;

  if (path == NULL || !g_path_is_absolute (path))
    return;
  canonical = g_canonicalize_filename (path, NULL);
  /* Never the root, nor anything whose last part is not a name. */
  if (g_str_equal (canonical, "/"))
    return;

  project = cli_project_dir (canonical);
  if (with_workspace)
    g_strv_builder_add (paths, canonical);
  if (project != NULL)
    g_strv_builder_add (paths, project);

  task = g_task_new (NULL, NULL, NULL, NULL);
  g_task_set_source_tag (task, remove_workspace);
  g_task_set_task_data (task, g_strv_builder_end (paths), (GDestroyNotify) g_strfreev);
  g_task_run_in_thread (task, remove_in_thread);
}

void
cas_workspace_remove (const char *path)
{
  remove_workspace (path, TRUE);
}

void
cas_workspace_remove_cli_folder (const char *path)
{
  remove_workspace (path, FALSE);
}
