/* cas-cli-pool.h: claude processes started ahead of need.
 *
 * A request that finds a warm process only writes its message: the CLI's
 * start-up (0.7-0.8 s for the real one) is already paid. Processes are
 * long-lived (--input-format=stream-json) and kept per key, their argv
 * and working directory. Each serves one caller and is then retired,
 * never handed to another: no context crosses callers. Bounded by the
 * size per key, an idle time after which a key nobody asked for is
 * dropped with its processes, and a cap on every claude child together.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-cli-process.h"

G_BEGIN_DECLS

#define CAS_TYPE_CLI_POOL (cas_cli_pool_get_type ())
G_DECLARE_FINAL_TYPE (CasCliPool, cas_cli_pool, CAS, CLI_POOL, GObject)

typedef struct {
  guint size;            /* idle processes kept per key; 0: no pool */
  guint idle_seconds;    /* a key nobody asked for this long is dropped */
  guint max_processes;   /* no refill while this many claude children live */
  guint kill_grace_seconds;
  gsize max_line_bytes;
} CasCliPoolLimits;

typedef struct {
  guint warm;       /* started and waiting for a caller */
  guint busy;       /* taken by a caller, not yet ended */
  guint retired;    /* served their caller and were ended */
  guint fallbacks;  /* requests that ran cold: none warm, or a warm one failed */
} CasCliPoolStats;

CasCliPool *cas_cli_pool_new (const CasCliPoolLimits *limits);

/* Keeps @argv (with --input-format=stream-json) in @cwd (nullable) warm
 * from now on, as if a caller had asked: processes start when the main
 * loop is idle. */
void cas_cli_pool_prewarm (CasCliPool         *self,
                           const char * const *argv,
                           const char         *cwd);

/* A started, idle process for @argv in @cwd, now the caller's alone, or
 * NULL when none is ready (the caller runs cold; counted as a fallback).
 * Either way the key is kept warm: a replacement starts when the main
 * loop is idle. Give the process back with cas_cli_pool_retire(). */
CasCliProcess *cas_cli_pool_take (CasCliPool         *self,
                                  const char * const *argv,
                                  const char         *cwd);

/* Ends a process a caller took: stdin closed, so the CLI exits by itself,
 * and stopped after the grace period if it has not. */
void cas_cli_pool_retire (CasCliPool    *self,
                          CasCliProcess *process);

/* A warm process failed its caller before the first byte (it died, wrote
 * garbage or did not answer), which then ran cold. */
void cas_cli_pool_note_fallback (CasCliPool *self);

void cas_cli_pool_get_stats (CasCliPool      *self,
                             CasCliPoolStats *stats);

/* Stops every idle process and starts no more: the daemon is stopping. */
void cas_cli_pool_shutdown (CasCliPool *self);

G_END_DECLS
