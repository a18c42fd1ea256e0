/* cas-afk-settings.c: the AFK loop's two gates and where each comes from.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-afk"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "cas-afk-parse.h"
#include "cas-afk-settings.h"
#include "cas-error.h"
#include "cas-json.h"

#define MAX_SETTINGS_FILE_BYTES (256 * 1024)

struct _CasAfkSettings {
  GObject parent_instance;

  CasConfig *config;
  char *path;                   /* the persisted layer */

  gboolean has_persisted_kill_switch;
  gboolean persisted_kill_switch;
  gboolean has_persisted_allowlist;
  GStrv persisted_allowlist;

  CasAfkSettingsResolved resolved;
};

enum {
  PROP_0,
  PROP_KILL_SWITCH,
  PROP_ALLOWLIST,
  PROP_ARMED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (CasAfkSettings, cas_afk_settings, G_TYPE_OBJECT)

static const char * const empty_list[] = { NULL };

void
cas_afk_settings_resolve (const CasAfkSettingsLayers *layers,
                          CasAfkSettingsResolved     *resolved)
{
  gboolean locked = layers->kill_switch &&
                    (layers->kill_switch_source == CAS_CONFIG_SOURCE_FILE ||
                     layers->kill_switch_source == CAS_CONFIG_SOURCE_ENV);

  memset (resolved, 0, sizeof *resolved);
  resolved->kill_switch_locked = locked;
  resolved->locked_by = locked ? layers->kill_switch_source : CAS_CONFIG_SOURCE_DEFAULT;
  if (locked)
    resolved->kill_switch = TRUE;
  else if (layers->has_persisted_kill_switch)
    resolved->kill_switch = layers->persisted_kill_switch;
  else
    resolved->kill_switch = layers->kill_switch;

  if (layers->has_persisted_allowlist && layers->persisted_allowlist != NULL)
    resolved->allowlist = layers->persisted_allowlist;
  else if (layers->allowlist != NULL)
    resolved->allowlist = layers->allowlist;
  else
    resolved->allowlist = empty_list;

  resolved->armed = !resolved->kill_switch && resolved->allowlist[0] != NULL;
}

static void
update (CasAfkSettings *self)
{
  CasAfkSettingsResolved before = self->resolved;
  CasAfkSettingsLayers layers = {
    .kill_switch = self->config->afk_kill_switch,
    .kill_switch_source = cas_config_get_source (self->config, "afk", "kill-switch"),
    .allowlist = (const char * const *) self->config->afk_allowlist,
    .has_persisted_kill_switch = self->has_persisted_kill_switch,
    .persisted_kill_switch = self->persisted_kill_switch,
    .has_persisted_allowlist = self->has_persisted_allowlist,
    .persisted_allowlist = (const char * const *) self->persisted_allowlist,
  };

  cas_afk_settings_resolve (&layers, &self->resolved);
  if (before.kill_switch != self->resolved.kill_switch)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_KILL_SWITCH]);
  if (before.allowlist == NULL ||
      !g_strv_equal ((const char * const *) before.allowlist,
                     (const char * const *) self->resolved.allowlist))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ALLOWLIST]);
  if (before.armed != self->resolved.armed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ARMED]);
}

/* The persisted layer: {"kill-switch": bool, "allowlist": [...]}, each
 * key present only once it was set over D-Bus. */
static gboolean
parse_persisted (CasAfkSettings *self,
                 const char     *data,
                 gsize           length,
                 GError        **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *object;
  JsonNode *node;

  if (!json_parser_load_from_data (parser, data, length, error))
    return FALSE;
  node = json_parser_get_root (parser);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    goto wrong_shape;
  object = json_node_get_object (node);

  node = json_object_get_member (object, "kill-switch");
  if (node != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
        goto wrong_shape;
      self->has_persisted_kill_switch = TRUE;
      self->persisted_kill_switch = json_node_get_boolean (node);
    }

  node = json_object_get_member (object, "allowlist");
  if (node != NULL)
    {
      g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
      JsonArray *array;
      g_auto (GStrv) list = NULL;

      if (!JSON_NODE_HOLDS_ARRAY (node))
        goto wrong_shape;
      array = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *item = json_array_get_element (array, i);

          if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_STRING)
            goto wrong_shape;
          g_strv_builder_add (builder, json_node_get_string (item));
        }
      list = g_strv_builder_end (builder);
      if (!cas_afk_validate_allowlist ((const char * const *) list, error))
        return FALSE;
      self->has_persisted_allowlist = TRUE;
      g_strfreev (self->persisted_allowlist);
      self->persisted_allowlist = g_steal_pointer (&list);
    }
  return TRUE;

wrong_shape:
  g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                       _("not an object with a boolean “kill-switch” and a list “allowlist”"));
  return FALSE;
}

static void
load_persisted (CasAfkSettings *self)
{
  g_autofree char *data = NULL;
  gsize length = 0;
  g_autoptr (GError) error = NULL;

  if (!g_file_get_contents (self->path, &data, &length, &error))
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_message (_("Cannot read %s: %s; the AFK loop stays disarmed"),
                   self->path, error->message);
      else
        return;
    }
  else if (length <= MAX_SETTINGS_FILE_BYTES && parse_persisted (self, data, length, &error))
    return;

  /* Whatever was persisted is unknown: fail safe (disarmed) and keep the
   * file for a person to look at. */
  if (data != NULL)
    {
      g_autofree char *aside = g_strconcat (self->path, ".corrupt", NULL);

      g_message (_("%s is not valid (%s); set aside as %s, and the AFK loop stays disarmed"),
                 self->path, error != NULL ? error->message : _("too large"), aside);
      g_rename (self->path, aside);
    }
  self->has_persisted_kill_switch = TRUE;
  self->persisted_kill_switch = TRUE;
  self->has_persisted_allowlist = FALSE;
  g_clear_pointer (&self->persisted_allowlist, g_strfreev);
}

/* A file of a few hundred bytes, written when a person changes a setting
 * over D-Bus: written at once, with fsync, so that a "disarm" that was
 * answered survives a crash. */
static gboolean
save_persisted (CasAfkSettings *self,
                GError        **error)
{
  g_autoptr (GString) out = g_string_new ("{");
  g_autofree char *dir = g_path_get_dirname (self->path);

  if (self->has_persisted_kill_switch)
    g_string_append_printf (out, "\"kill-switch\":%s",
                            self->persisted_kill_switch ? "true" : "false");
  if (self->has_persisted_allowlist)
    {
      if (self->has_persisted_kill_switch)
        g_string_append_c (out, ',');
      g_string_append (out, "\"allowlist\":[");
      for (guint i = 0; self->persisted_allowlist[i] != NULL; i++)
        {
          if (i > 0)
            g_string_append_c (out, ',');
          cas_json_append_string (out, self->persisted_allowlist[i]);
        }
      g_string_append_c (out, ']');
    }
  g_string_append (out, "}\n");

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   _("Cannot create %s: %s"), dir, g_strerror (saved_errno));
      return FALSE;
    }
  return g_file_set_contents_full (self->path, out->str, out->len,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

CasAfkSettings *
cas_afk_settings_new (CasConfig  *config,
                      const char *state_dir,
                      GError    **error)
{
  g_autoptr (CasAfkSettings) self = NULL;
  g_autoptr (GError) local_error = NULL;

  if (!cas_afk_validate_allowlist ((const char * const *) config->afk_allowlist, &local_error))
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG, _("Invalid [afk] allowlist: %s"),
                   local_error->message);
      return NULL;
    }

  self = g_object_new (CAS_TYPE_AFK_SETTINGS, NULL);
  self->config = cas_config_ref (config);
  self->path = g_build_filename (state_dir, "afk", "settings.json", NULL);
  load_persisted (self);
  update (self);
  return g_steal_pointer (&self);
}

gboolean
cas_afk_settings_get_kill_switch (CasAfkSettings *self)
{
  g_return_val_if_fail (CAS_IS_AFK_SETTINGS (self), TRUE);
  return self->resolved.kill_switch;
}

const char * const *
cas_afk_settings_get_allowlist (CasAfkSettings *self)
{
  g_return_val_if_fail (CAS_IS_AFK_SETTINGS (self), empty_list);
  return self->resolved.allowlist;
}

gboolean
cas_afk_settings_get_armed (CasAfkSettings *self)
{
  g_return_val_if_fail (CAS_IS_AFK_SETTINGS (self), FALSE);
  return self->resolved.armed;
}

gboolean
cas_afk_settings_set_kill_switch (CasAfkSettings *self,
                                  gboolean        enabled,
                                  GError        **error)
{
  gboolean had = self->has_persisted_kill_switch;
  gboolean was = self->persisted_kill_switch;

  g_return_val_if_fail (CAS_IS_AFK_SETTINGS (self), FALSE);

  if (!enabled && self->resolved.kill_switch_locked)
    {
      if (self->resolved.locked_by == CAS_CONFIG_SOURCE_ENV)
        g_set_error (error, CAS_ERROR, CAS_ERROR_KILL_SWITCH_LOCKED,
                     _("The kill switch is on in the environment (AFK_KILL_SWITCH); "
                       "remove it there and restart the service first"));
      else
        g_set_error (error, CAS_ERROR, CAS_ERROR_KILL_SWITCH_LOCKED,
                     _("The kill switch is on in the config file ([afk] kill-switch); "
                       "turn it off there and restart the service first"));
      return FALSE;
    }

  self->has_persisted_kill_switch = TRUE;
  self->persisted_kill_switch = enabled;
  if (!save_persisted (self, error))
    {
      self->has_persisted_kill_switch = had;
      self->persisted_kill_switch = was;
      return FALSE;
    }
  update (self);
  return TRUE;
}

gboolean
cas_afk_settings_set_allowlist (CasAfkSettings     *self,
                                const char * const *repositories,
                                GError            **error)
{
  gboolean had = self->has_persisted_allowlist;
  g_auto (GStrv) previous = NULL;

  g_return_val_if_fail (CAS_IS_AFK_SETTINGS (self), FALSE);

  if (!cas_afk_validate_allowlist (repositories, error))
    return FALSE;
  previous = g_steal_pointer (&self->persisted_allowlist);
  self->has_persisted_allowlist = TRUE;
  self->persisted_allowlist = g_strdupv ((char **) (repositories != NULL ? repositories
                                                                         : empty_list));
  if (!save_persisted (self, error))
    {
      g_strfreev (self->persisted_allowlist);
      self->persisted_allowlist = g_steal_pointer (&previous);
      self->has_persisted_allowlist = had;
      return FALSE;
    }
  /* @previous is freed only after update () compared against it. */
  update (self);
  return TRUE;
}

static void
cas_afk_settings_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  CasAfkSettings *self = CAS_AFK_SETTINGS (object);

  switch (prop_id)
    {
    case PROP_KILL_SWITCH:
      g_value_set_boolean (value, self->resolved.kill_switch);
      break;
    case PROP_ALLOWLIST:
      g_value_set_boxed (value, self->resolved.allowlist);
      break;
    case PROP_ARMED:
      g_value_set_boolean (value, self->resolved.armed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cas_afk_settings_finalize (GObject *object)
{
  CasAfkSettings *self = CAS_AFK_SETTINGS (object);

  g_clear_pointer (&self->config, cas_config_unref);
  g_free (self->path);
  g_strfreev (self->persisted_allowlist);

  G_OBJECT_CLASS (cas_afk_settings_parent_class)->finalize (object);
}

static void
cas_afk_settings_class_init (CasAfkSettingsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = cas_afk_settings_get_property;
  object_class->finalize = cas_afk_settings_finalize;

  properties[PROP_KILL_SWITCH] =
    g_param_spec_boolean ("kill-switch", NULL, NULL, TRUE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_ALLOWLIST] =
    g_param_spec_boxed ("allowlist", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_ARMED] =
    g_param_spec_boolean ("armed", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cas_afk_settings_init (CasAfkSettings *self)
{
}
