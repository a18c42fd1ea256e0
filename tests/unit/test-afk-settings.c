/* The AFK loop's gates: precedence of config, environment and the
 * persisted D-Bus layer; the locked kill switch; the persisted file,
 * including hostile ones. */
#include <glib/gstdio.h>

#include "cas-afk-settings.h"
#include "cas-config.h"
#include "cas-error.h"

static const char * const one_repo[] = { "owner/repo", NULL };
static const char * const other_repo[] = { "someone/else", NULL };
static const char * const none[] = { NULL };

typedef struct {
  const char *name;
  gboolean kill_switch;
  CasConfigSource source;
  const char * const *allowlist;
  gboolean has_persisted_kill_switch, persisted_kill_switch;
  gboolean has_persisted_allowlist;
  const char * const *persisted_allowlist;
  /* expected */
  gboolean kill, locked, armed;
  const char *first_repo;   /* NULL: empty allowlist */
} ResolveCase;

static const ResolveCase resolve_cases[] = {
  { "defaults: disarmed", TRUE, CAS_CONFIG_SOURCE_DEFAULT, NULL, FALSE, FALSE, FALSE, NULL,
    TRUE, FALSE, FALSE, NULL },
  { "config arms", FALSE, CAS_CONFIG_SOURCE_FILE, one_repo, FALSE, FALSE, FALSE, NULL,
    FALSE, FALSE, TRUE, "owner/repo" },
  { "switch off, empty allowlist: disarmed", FALSE, CAS_CONFIG_SOURCE_FILE, none, FALSE, FALSE, FALSE, NULL,
    FALSE, FALSE, FALSE, NULL },
  { "switch on in the file is locked", TRUE, CAS_CONFIG_SOURCE_FILE, one_repo, TRUE, FALSE, FALSE, NULL,
    TRUE, TRUE, FALSE, "owner/repo" },
  { "switch on in the environment is locked", TRUE, CAS_CONFIG_SOURCE_ENV, one_repo, TRUE, FALSE, FALSE, NULL,
    TRUE, TRUE, FALSE, "owner/repo" },
  { "default switch on yields to D-Bus", TRUE, CAS_CONFIG_SOURCE_DEFAULT, one_repo, TRUE, FALSE, FALSE, NULL,
    FALSE, FALSE, TRUE, "owner/repo" },
  { "disarmed over D-Bus beats the config", FALSE, CAS_CONFIG_SOURCE_FILE, one_repo, TRUE, TRUE, FALSE, NULL,
    TRUE, FALSE, FALSE, "owner/repo" },
  { "persisted allowlist wins", FALSE, CAS_CONFIG_SOURCE_FILE, one_repo, FALSE, FALSE, TRUE, other_repo,
    FALSE, FALSE, TRUE, "someone/else" },
  { "persisted empty allowlist disarms", FALSE, CAS_CONFIG_SOURCE_FILE, one_repo, FALSE, FALSE, TRUE, none,
    FALSE, FALSE, FALSE, NULL },
};

static void
test_resolve (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (resolve_cases); i++)
    {
      const ResolveCase *c = &resolve_cases[i];
      CasAfkSettingsLayers layers = {
        .kill_switch = c->kill_switch,
        .kill_switch_source = c->source,
        .allowlist = c->allowlist,
        .has_persisted_kill_switch = c->has_persisted_kill_switch,
        .persisted_kill_switch = c->persisted_kill_switch,
        .has_persisted_allowlist = c->has_persisted_allowlist,
        .persisted_allowlist = c->persisted_allowlist,
      };
      CasAfkSettingsResolved resolved;

      g_test_message ("%s", c->name);
      cas_afk_settings_resolve (&layers, &resolved);
      g_assert_cmpint (resolved.kill_switch, ==, c->kill);
      g_assert_cmpint (resolved.kill_switch_locked, ==, c->locked);
      g_assert_cmpint (resolved.armed, ==, c->armed);
      g_assert_nonnull (resolved.allowlist);
      g_assert_cmpstr (resolved.allowlist[0], ==, c->first_repo);
    }
}

typedef struct {
  char *state_dir;
  char *path;
} Fixture;

static void
fixture_set_up (Fixture      *f,
                gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->state_dir = g_dir_make_tmp ("cas-afk-settings-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->state_dir, "afk", "settings.json", NULL);
}

static void
fixture_tear_down (Fixture      *f,
                   gconstpointer data)
{
  g_autofree char *dir = g_path_get_dirname (f->path);
  g_autofree char *corrupt = g_strconcat (f->path, ".corrupt", NULL);

  g_unlink (f->path);
  g_unlink (corrupt);
  g_rmdir (dir);
  g_rmdir (f->state_dir);
  g_free (f->path);
  g_free (f->state_dir);
}

static CasConfig *
config_from (const char         *ini,
             const char * const *envp)
{
  g_autoptr (GError) error = NULL;
  CasConfig *config = cas_config_parse (ini, ini != NULL ? strlen (ini) : 0, "test.ini",
                                        envp, &error);

  g_assert_no_error (error);
  return config;
}

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           gpointer    user_data)
{
  GPtrArray *names = user_data;

  g_ptr_array_add (names, g_strdup (pspec->name));
}

static void
test_persisted_across_restart (Fixture      *f,
                               gconstpointer data)
{
  g_autoptr (CasConfig) config = config_from ("[afk]\nallowlist=owner/repo\n", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) notified = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (CasAfkSettings) settings = cas_afk_settings_new (config, f->state_dir, &error);
  const char * const two[] = { "a/b", "c/d", NULL };

  g_assert_no_error (error);
  /* The default kill switch is on, and not locked. */
  g_assert_true (cas_afk_settings_get_kill_switch (settings));
  g_assert_false (cas_afk_settings_get_armed (settings));
  g_signal_connect (settings, "notify", G_CALLBACK (on_notify), notified);

  g_assert_true (cas_afk_settings_set_kill_switch (settings, FALSE, &error));
  g_assert_no_error (error);
  g_assert_true (cas_afk_settings_get_armed (settings));
  g_assert_cmpuint (notified->len, ==, 2);   /* kill-switch, armed */

  g_assert_true (cas_afk_settings_set_allowlist (settings, two, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (notified->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (notified, 2), ==, "allowlist");
  /* The same list again changes nothing. */
  g_assert_true (cas_afk_settings_set_allowlist (settings, two, &error));
  g_assert_cmpuint (notified->len, ==, 3);
  g_clear_object (&settings);

  /* A restart keeps both, whatever the config says. */
  settings = cas_afk_settings_new (config, f->state_dir, &error);
  g_assert_no_error (error);
  g_assert_true (cas_afk_settings_get_armed (settings));
  g_assert_true (g_strv_equal (cas_afk_settings_get_allowlist (settings), two));

  /* Disarmed over D-Bus stays disarmed, even with a config that arms. */
  g_assert_true (cas_afk_settings_set_kill_switch (settings, TRUE, &error));
  g_clear_object (&settings);
  {
    g_autoptr (CasConfig) arming = config_from ("[afk]\nkill-switch=false\nallowlist=owner/repo\n", NULL);

    settings = cas_afk_settings_new (arming, f->state_dir, &error);
    g_assert_no_error (error);
    g_assert_false (cas_afk_settings_get_armed (settings));
  }
}

static void
test_locked_kill_switch (Fixture      *f,
                         gconstpointer data)
{
  const char *envp[] = { "AFK_KILL_SWITCH=yes", "AFK_ALLOWLIST=owner/repo", NULL };
  g_autoptr (CasConfig) from_env = config_from (NULL, envp);
  g_autoptr (CasConfig) from_file = config_from ("[afk]\nkill-switch=true\nallowlist=o/r\n", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (CasAfkSettings) settings = cas_afk_settings_new (from_env, f->state_dir, &error);

  g_assert_no_error (error);
  g_assert_false (cas_afk_settings_set_kill_switch (settings, FALSE, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_KILL_SWITCH_LOCKED);
  g_assert_nonnull (strstr (error->message, "AFK_KILL_SWITCH"));
  g_clear_error (&error);
  /* Turning it on is always allowed. */
  g_assert_true (cas_afk_settings_set_kill_switch (settings, TRUE, &error));
  g_assert_no_error (error);
  g_clear_object (&settings);

  settings = cas_afk_settings_new (from_file, f->state_dir, &error);
  g_assert_false (cas_afk_settings_set_kill_switch (settings, FALSE, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_KILL_SWITCH_LOCKED);
  g_assert_nonnull (strstr (error->message, "config file"));
  g_assert_true (cas_afk_settings_get_kill_switch (settings));
}

static void
test_invalid_allowlist (Fixture      *f,
                        gconstpointer data)
{
  g_autoptr (CasConfig) config = config_from (NULL, NULL);
  g_autoptr (CasConfig) bad = config_from ("[afk]\nallowlist=owner/repo,../../etc\n", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (CasAfkSettings) settings = cas_afk_settings_new (config, f->state_dir, &error);
  const char * const hostile[] = { "owner/repo", "owner/repo; rm -rf /", NULL };
  g_autoptr (GPtrArray) many = g_ptr_array_new_with_free_func (g_free);

  g_assert_no_error (error);
  g_assert_false (cas_afk_settings_set_allowlist (settings, hostile, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (cas_afk_settings_get_allowlist (settings)[0]);
  g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));

  for (guint i = 0; i < 1000; i++)
    g_ptr_array_add (many, g_strdup_printf ("o/r%u", i));
  g_ptr_array_add (many, NULL);
  g_assert_false (cas_afk_settings_set_allowlist (settings, (const char * const *) many->pdata,
                                                  &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_null (cas_afk_settings_new (bad, f->state_dir, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "../../etc"));
}

static void
test_hostile_file (Fixture      *f,
                   gconstpointer data)
{
  const char *contents[] = {
    "", "not json", "[]", "{\"kill-switch\": \"false\"}", "{\"kill-switch\": 0}",
    "{\"allowlist\": \"a/b\"}", "{\"allowlist\": [1]}", "{\"allowlist\": [\"../x\"]}",
    "{\"kill-switch\": false, \"allowlist\": [\"a/b\", null]}", "\xff\xfe",
  };
  g_autoptr (CasConfig) config = config_from ("[afk]\nkill-switch=false\nallowlist=owner/repo\n", NULL);
  g_autofree char *dir = g_path_get_dirname (f->path);
  g_autofree char *corrupt = g_strconcat (f->path, ".corrupt", NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (contents); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CasAfkSettings) settings = NULL;

      g_test_message ("%s", contents[i]);
      g_assert_true (g_file_set_contents (f->path, contents[i], -1, NULL));
      g_test_expect_message ("cas-afk", G_LOG_LEVEL_MESSAGE, "*set aside*");
      settings = cas_afk_settings_new (config, f->state_dir, &error);
      g_test_assert_expected_messages ();
      g_assert_no_error (error);
      /* Unknown persisted state: fail safe. */
      g_assert_false (cas_afk_settings_get_armed (settings));
      g_assert_true (g_file_test (corrupt, G_FILE_TEST_EXISTS));
      g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/afk-settings/resolve", test_resolve);
  g_test_add ("/afk-settings/persisted-across-restart", Fixture, NULL,
              fixture_set_up, test_persisted_across_restart, fixture_tear_down);
  g_test_add ("/afk-settings/locked-kill-switch", Fixture, NULL,
              fixture_set_up, test_locked_kill_switch, fixture_tear_down);
  g_test_add ("/afk-settings/invalid-allowlist", Fixture, NULL,
              fixture_set_up, test_invalid_allowlist, fixture_tear_down);
  g_test_add ("/afk-settings/hostile-file", Fixture, NULL,
              fixture_set_up, test_hostile_file, fixture_tear_down);
  return g_test_run ();
}
