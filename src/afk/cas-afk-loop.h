/* cas-afk-loop.h: the AFK loop, the service that owns the tracker, the T3
 * client, the CI stages, the run store and the notifier, and ticks.
 *
 * A tick runs every [afk] poll-interval-seconds while the settings say
 * armed (the timer follows CasAfkSettings:armed), and on demand. While
 * disarmed a tick does no network I/O at all. An armed tick: for each
 * allowlisted repository, gather the policy's facts and dispatch each
 * winner into T3 (labelled in-progress only after T3 accepted the turn);
 * then watch every active run and apply what the run machine decides
 * (cas-run-machine.h); then flush the notifier's outbox. Network
 * failures are logged and retried at the next tick.
 *
 * Signals: "run-changed" (GVariant a{sv}, cas_run_to_variant) when a run
 * moves to another phase or is created; "escalated" (the same) once when
 * a run ends in needs-human or frozen. Property "last-tick" (guint64,
 * Unix seconds; 0 before the first tick).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "cas-afk-settings.h"
#include "cas-agents.h"
#include "cas-config.h"
#include "cas-dispatch-policy.h"

G_BEGIN_DECLS

/* A turn we started that T3 still does not show after this long failed. */
#define CAS_AFK_LOOP_TURN_START_TIMEOUT_SECONDS (30 * 60)

#define CAS_TYPE_AFK_LOOP (cas_afk_loop_get_type ())
G_DECLARE_FINAL_TYPE (CasAfkLoop, cas_afk_loop, CAS, AFK_LOOP, GObject)

/* Builds every part from @config; @envp for the credentials. Fails with
 * CAS_ERROR_CONFIG for a [github], [t3], [ci] or [notify] value that is
 * set but unusable, and when the run store cannot be opened. An unset
 * [t3] base-url is not an error: the loop then dispatches nothing and
 * says so in each armed tick. */
CasAfkLoop *cas_afk_loop_new (CasConfig          *config,
                              CasAfkSettings     *settings,
                              CasAgentSet        *agents,
                              const char         *state_dir,
                              const char * const *envp,
                              GError            **error);

CasAfkSettings *cas_afk_loop_get_settings (CasAfkLoop *self);
guint64 cas_afk_loop_get_last_tick (CasAfkLoop *self);

/* One tick now (after the running one, if any). Finish: the report of
 * D-Bus Tick (): "armed" b, "dispatched" aa{sv}, "runs" aa{sv},
 * "message" s. Never fails but for cancellation. */
void cas_afk_loop_tick_async (CasAfkLoop         *self,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data);
GVariant *cas_afk_loop_tick_finish (CasAfkLoop   *self,
                                    GAsyncResult *result,
                                    GError      **error);

/* The dry run: the policy's verdict for every ready issue of the
 * allowlisted repositories. Asks GitHub even while disarmed; changes
 * nothing. Finish: the plan. */
void cas_afk_loop_explain_async (CasAfkLoop         *self,
                                 GCancellable       *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer            user_data);
CasDispatchPlan *cas_afk_loop_explain_finish (CasAfkLoop   *self,
                                              GAsyncResult *result,
                                              GError      **error);

/* Every run the store holds, as aa{sv} (cas_run_to_variant). Floating. */
GVariant *cas_afk_loop_list_runs (CasAfkLoop *self);

/* Stops the timer, cancels what is in flight, then waits (iterating the
 * default main context, at most CAS_AFK_LOOP_STOP_SECONDS) until the
 * runs and the notifier's outbox are on disk. */
#define CAS_AFK_LOOP_STOP_SECONDS 5
void cas_afk_loop_stop (CasAfkLoop *self);

G_END_DECLS
