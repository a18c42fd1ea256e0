/* cas-power.h: runs one PVE power verb over ssh, with its timeout.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "cas-config.h"

G_BEGIN_DECLS

/* Verbs running at once, at most; more are refused (CAS_ERROR_TOO_MANY_REQUESTS). */
#define CAS_POWER_MAX_RUNNING 4
/* Each of stdout and stderr is kept up to this many bytes. */
#define CAS_POWER_MAX_OUTPUT_BYTES (1024 * 1024)

typedef struct {
  char *verb;
  int exit_code;          /* -1: none (timed out, could not start, stopped) */
  GString *stdout_text;   /* may hold NUL bytes */
  GString *stderr_text;
} CasPowerResult;

void cas_power_result_free (CasPowerResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasPowerResult, cas_power_result_free)

/* The POST /api/pve/{verb} body. */
char *cas_power_result_to_json (const CasPowerResult *result);

#define CAS_TYPE_POWER (cas_power_get_type ())
G_DECLARE_FINAL_TYPE (CasPower, cas_power, CAS, POWER, GObject)

/* NULL, with CAS_ERROR_CONFIG, when [pve] host or user could be read as
 * something other than a destination. */
CasPower *cas_power_new (CasConfig *config,
                         GError   **error);

/* Whether [pve] host is set: without it no verb runs. */
gboolean cas_power_is_configured (CasPower *self);
guint cas_power_get_running (CasPower *self);

/* Runs @verb. Refused at once, spawning nothing: a verb not in the
 * allowlist (CAS_ERROR_INVALID_ARGUMENT), no host (CAS_ERROR_CONFIG),
 * CAS_POWER_MAX_RUNNING verbs already running (TOO_MANY_REQUESTS). Once
 * started, it ends with a result whatever happens, and runs to its end
 * even if nobody waits for it any more: a power verb is not left half
 * done. Main thread only. */
void cas_power_run_async (CasPower            *self,
                          const char          *verb,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data);
CasPowerResult *cas_power_run_finish (CasPower      *self,
                                      GAsyncResult  *result,
                                      GError       **error);

G_END_DECLS
