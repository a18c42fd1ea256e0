/* cas-run-store.h: the AFK runs the loop knows of, persisted one file a
 * run under <state_dir>/afk/runs/, written in order off the main loop.
 *
 * The store holds the repo lock: a run that is not terminal locks its
 * repository (as the in-progress label does on GitHub), so an issue
 * closed or relabelled by hand mid-run does not open the repo to a
 * second dispatch. Call everything from the main thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "cas-run.h"

G_BEGIN_DECLS

/* Run files larger than this are corrupt. */
#define CAS_RUN_STORE_MAX_FILE_BYTES (256 * 1024)

#define CAS_TYPE_RUN_STORE (cas_run_store_get_type ())
G_DECLARE_FINAL_TYPE (CasRunStore, cas_run_store, CAS, RUN_STORE, GObject)

/* Creates <@state_dir>/afk/runs (0700) and loads every run in it. A file
 * that is not a run is set aside as NAME.corrupt with a warning; only a
 * directory that cannot be made or read is an error. */
CasRunStore *cas_run_store_new (const char *state_dir,
                                GError    **error);

/* The file of a run: "<owner>__<name>__<number>.json", lower case. NULL
 * for a repository or number cas_run_new () would refuse. Pure. */
char *cas_run_store_file_name (const char *repo,
                               guint       number);

/* (nullable) (transfer none) The run of @repo#@number (repository
 * without case), valid until the next save of that issue. */
const CasRun *cas_run_store_lookup (CasRunStore *self,
                                    const char  *repo,
                                    guint        number);

/* (element-type CasRun) (transfer container) Every run, oldest first;
 * the runs are borrowed. */
GPtrArray *cas_run_store_list (CasRunStore *self);

/* Appends a CasIssueRef (repository set) for every run that is not
 * terminal: the locks of cas_dispatch_policy_decide (). */
void cas_run_store_add_locks (CasRunStore *self,
                              GPtrArray   *locks);

/* Whether a run that is not terminal holds @repo. */
gboolean cas_run_store_repo_is_locked (CasRunStore *self,
                                       const char  *repo);

/* Keeps a copy of @run (replacing the one of its issue) and writes it;
 * completes once the file is on disk. */
void cas_run_store_save_async (CasRunStore        *self,
                               const CasRun       *run,
                               GAsyncReadyCallback callback,
                               gpointer            user_data);
gboolean cas_run_store_save_finish (CasRunStore  *self,
                                    GAsyncResult *result,
                                    GError      **error);

/* Saves asked for and not yet on disk. */
guint cas_run_store_get_pending (CasRunStore *self);

G_END_DECLS
