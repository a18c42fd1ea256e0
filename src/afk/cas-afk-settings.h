/* cas-afk-settings.h: whether the AFK loop may run (the kill switch and
 * the allowlist), from the config, the environment and what was set over
 * D-Bus, which is persisted in the state directory.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "cas-config.h"

G_BEGIN_DECLS

/* Pure: the effective settings from what each layer says.
 *
 * Lowest first: the config (defaults, file, environment), then the state
 * persisted by SetKillSwitch/SetAllowlist. One exception keeps a person
 * able to stop the loop: a kill switch on in the config file or the
 * environment wins over everything, and is then "locked". */
typedef struct {
  gboolean kill_switch;
  CasConfigSource kill_switch_source;  /* of the config's value */
  const char * const *allowlist;        /* never NULL */
  /* The persisted layer; has_* FALSE where nothing was set. */
  gboolean has_persisted_kill_switch;
  gboolean persisted_kill_switch;
  gboolean has_persisted_allowlist;
  const char * const *persisted_allowlist;
} CasAfkSettingsLayers;

typedef struct {
  gboolean kill_switch;
  /* Set when the config file or the environment holds the kill switch
   * on: SetKillSwitch(FALSE) must then fail. */
  gboolean kill_switch_locked;
  CasConfigSource locked_by;
  const char * const *allowlist;  /* points into the layers */
  gboolean armed;
} CasAfkSettingsResolved;

void cas_afk_settings_resolve (const CasAfkSettingsLayers *layers,
                               CasAfkSettingsResolved     *resolved);

#define CAS_TYPE_AFK_SETTINGS (cas_afk_settings_get_type ())
G_DECLARE_FINAL_TYPE (CasAfkSettings, cas_afk_settings, CAS, AFK_SETTINGS, GObject)

/* Reads the persisted layer from @state_dir/afk/settings.json. A corrupt
 * file is set aside with a warning and the loop stays disarmed; an
 * invalid allowlist entry in the config is an error. */
CasAfkSettings *cas_afk_settings_new (CasConfig  *config,
                                      const char *state_dir,
                                      GError    **error);

gboolean cas_afk_settings_get_kill_switch (CasAfkSettings *self);
const char * const *cas_afk_settings_get_allowlist (CasAfkSettings *self);
gboolean cas_afk_settings_get_armed (CasAfkSettings *self);

/* Both persist the change before they return (a small file written
 * atomically) and notify the properties that changed. */
gboolean cas_afk_settings_set_kill_switch (CasAfkSettings *self,
                                           gboolean        enabled,
                                           GError        **error);
gboolean cas_afk_settings_set_allowlist (CasAfkSettings     *self,
                                         const char * const *repositories,
                                         GError            **error);

G_END_DECLS
