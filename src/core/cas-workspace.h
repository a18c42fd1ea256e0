/* cas-workspace.h: throwaway working directories for jobs and the
 * workspace chat agent.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Every directory made here is named "<prefix>XXXXXX". */
#define CAS_WORKSPACE_NAME_PREFIX "cas-workspace-"

/* Makes a fresh directory (mode 0700) under @parent_dir (NULL: the
 * temporary directory; created if missing):
 *
 * - @base_repo NULL: an empty directory.
 * - else a `git clone --local` of @base_repo whose origin is re-pointed to
 *   the base's own origin URL, unlocked with `git-crypt unlock
 *   @git_crypt_key_file` when that file is set and exists (a failed unlock
 *   fails the call). Before cloning, the base is refreshed with
 *   `git fetch origin --prune` and `git reset --hard origin/<default
 *   branch>`, at most once per @fetch_debounce_seconds per repository;
 *   refresh failures are logged and tolerated. The base is treated as a
 *   mirror: local changes in it are discarded. Setups of one base run one
 *   at a time, so a clone never sees a half-done reset.
 *
 * git runs as a list argv (no shell) with terminal prompts off. Call from
 * the main thread. */
void cas_workspace_prepare_async (const char         *base_repo,
                                  const char         *parent_dir,
                                  const char         *git_crypt_key_file,
                                  guint               fetch_debounce_seconds,
                                  GCancellable       *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer            user_data);
/* The new directory's absolute path, or NULL with CAS_ERROR_FAILED
 * (G_IO_ERROR_CANCELLED when cancelled) saying which step failed. */
char *cas_workspace_prepare_finish (GAsyncResult *result,
                                    GError      **error);

/* Removes @path and everything under it in a worker thread, and the
 * folder the claude CLI keeps for @path as a working directory
 * (~/.claude/projects/<@path, non-alphanumerics as '-'>). Symlinks are
 * removed, never followed, so nothing outside those two is touched. */
void cas_workspace_remove (const char *path);
/* Only that folder of the CLI's (its transcripts of sessions run in
 * @path), for a working directory someone else removes. Call it while
 * @path still exists: the CLI named the folder after its real path. */
void cas_workspace_remove_cli_folder (const char *path);

G_END_DECLS
