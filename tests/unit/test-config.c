/* Config parsing: defaults, file, environment, validation messages. */
#include <glib/gstdio.h>

#include "cas-config.h"
#include "cas-error.h"

static CasConfig *
parse (const char         *ini,
       const char * const *envp,
       GError            **error)
{
  return cas_config_parse (ini, ini != NULL ? strlen (ini) : 0, "test.ini", envp, error);
}

static void
test_defaults (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CasConfig) config = parse (NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (config->http_address, ==, "127.0.0.1");
  g_assert_cmpuint (config->http_port, ==, 8080);
  g_assert_cmpuint (config->http_max_body_bytes, ==, 8 * 1024 * 1024);
  g_assert_false (config->http_trust_proxy_user_header);
  g_assert_cmpuint (config->http_header_timeout_seconds, ==, 10);
  g_assert_cmpuint (config->http_body_timeout_seconds, ==, 30);
  g_assert_cmpuint (config->http_idle_timeout_seconds, ==, 60);
  g_assert_cmpuint (config->http_max_connections, ==, 512);
  g_assert_cmpstr (config->claude_command, ==, "claude");
  g_assert_cmpstr (config->claude_default_model, ==, "sonnet");
  g_assert_cmpuint (g_strv_length (config->claude_models), ==, 6);
  g_assert_true (g_strv_contains ((const char * const *) config->claude_models, "claude-opus-4-7"));
  g_assert_cmpuint (config->claude_max_concurrency, ==, 10);
  g_assert_cmpuint (config->claude_max_queue_depth, ==, 100);
  g_assert_cmpuint (config->claude_max_queued_bytes, ==, 64 * 1024 * 1024);
  g_assert_cmpuint (config->conversational_timeout_seconds, ==, 120);
  g_assert_cmpuint (config->conversational_record_ttl_days, ==, 30);
  g_assert_cmpuint (config->jobs_max_record_output_bytes, ==, 1024 * 1024);
  g_assert_cmpuint (config->jobs_max_records_bytes, ==, 512 * 1024 * 1024);
  g_assert_true (config->afk_kill_switch);
  g_assert_cmpuint (g_strv_length (config->afk_allowlist), ==, 0);
  g_assert_true (config->notify_desktop);
  g_assert_cmpuint (config->breakglass_max_log_bytes, ==, 16 * 1024 * 1024);
  g_assert_null (config->http_api_token_file);
  g_assert_cmpint (cas_config_get_source (config, "afk", "kill-switch"), ==, CAS_CONFIG_SOURCE_DEFAULT);
}

static void
test_file_then_env (void)
{
  const char *ini =
    "[http]\nport=9000\naddress = ::1 \n"
    "[claude]\nmax-concurrency=4\nmodels=a, b ;c,,\n"
    "[afk]\nkill-switch=off\nallowlist=me/one;me/two\n";
  const char *envp[] = { "MAX_CONCURRENCY=7", "AFK_ALLOWLIST=x/y, z/w", "UNRELATED=1", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (CasConfig) config = parse (ini, envp, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (config->http_port, ==, 9000);
  g_assert_cmpstr (config->http_address, ==, "::1");
  g_assert_cmpuint (config->claude_max_concurrency, ==, 7);
  g_assert_cmpint (cas_config_get_source (config, "claude", "max-concurrency"), ==, CAS_CONFIG_SOURCE_ENV);
  g_assert_cmpint (cas_config_get_source (config, "http", "port"), ==, CAS_CONFIG_SOURCE_FILE);
  g_assert_false (config->afk_kill_switch);
  g_assert_cmpint (cas_config_get_source (config, "afk", "kill-switch"), ==, CAS_CONFIG_SOURCE_FILE);
  g_assert_cmpuint (g_strv_length (config->claude_models), ==, 3);
  g_assert_cmpstr (config->claude_models[2], ==, "c");
  g_assert_cmpuint (g_strv_length (config->afk_allowlist), ==, 2);
  g_assert_cmpstr (config->afk_allowlist[0], ==, "x/y");
  g_assert_cmpstr (config->afk_allowlist[1], ==, "z/w");
  g_assert_cmpint (cas_config_get_source (config, "nope", "nope"), ==, -1);
}

static void
test_booleans (void)
{
  const char *yes[] = { "1", "true", "YES", "On", " true " };
  const char *no[] = { "0", "false", "no", "OFF" };
  const char *bad[] = { "maybe", "2", "", "tru", "y", "enabled" };

  for (guint i = 0; i < G_N_ELEMENTS (yes); i++)
    {
      g_autofree char *ini = g_strdup_printf ("[afk]\nkill-switch=%s\n", yes[i]);
      g_autoptr (GError) error = NULL;
      g_autoptr (CasConfig) config = parse (ini, NULL, &error);

      g_assert_no_error (error);
      g_assert_true (config->afk_kill_switch);
    }
  for (guint i = 0; i < G_N_ELEMENTS (no); i++)
    {
      const char *envp[] = { NULL, NULL };
      g_autofree char *var = g_strdup_printf ("AFK_KILL_SWITCH=%s", no[i]);
      g_autoptr (GError) error = NULL;
      g_autoptr (CasConfig) config = NULL;

      envp[0] = var;
      config = parse (NULL, envp, &error);
      g_assert_no_error (error);
      g_assert_false (config->afk_kill_switch);
    }
  /* The kill switch is never guessed. */
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *ini = g_strdup_printf ("[afk]\nkill-switch=%s\n", bad[i]);
      g_autoptr (GError) error = NULL;
      g_autoptr (CasConfig) config = parse (ini, NULL, &error);

      g_assert_null (config);
      g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
      g_assert_nonnull (strstr (error->message, "kill-switch"));
      g_assert_nonnull (strstr (error->message, "test.ini"));
      g_assert_nonnull (strstr (error->message, "yes"));
    }
}

static void
test_bad_numbers (void)
{
  const char *cases[][2] = {
    { "[http]\nport=65536\n", "port" },
    { "[http]\nport=-1\n", "port" },
    { "[http]\nport=80a\n", "port" },
    { "[http]\nport=\n", "port" },
    { "[claude]\nmax-concurrency=0\n", "max-concurrency" },
    { "[claude]\nmax-queue-depth=1e3\n", "max-queue-depth" },
    { "[claude]\nmax-queued-bytes=1023\n", "max-queued-bytes" },
    { "[chat]\nbudget-usd=-1\n", "budget-usd" },
    { "[chat]\nbudget-usd=nan\n", "budget-usd" },
    { "[chat]\nbudget-usd=inf\n", "budget-usd" },
    { "[http]\nmax-body-bytes=99999999999999999999999\n", "max-body-bytes" },
    { "[http]\nheader-timeout-seconds=0\n", "header-timeout-seconds" },
    { "[http]\nbody-timeout-seconds=3601\n", "body-timeout-seconds" },
    { "[http]\nidle-timeout-seconds=-5\n", "idle-timeout-seconds" },
    { "[http]\nmax-connections=0\n", "max-connections" },
    { "[conversational]\nrecord-ttl-days=0\n", "record-ttl-days" },
    { "[jobs]\nmax-record-output-bytes=4095\n", "max-record-output-bytes" },
    { "[jobs]\nmax-record-output-bytes=8388609\n", "max-record-output-bytes" },
    { "[jobs]\nmax-records-bytes=1000\n", "max-records-bytes" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CasConfig) config = parse (cases[i][0], NULL, &error);

      g_assert_null (config);
      g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
      g_assert_nonnull (strstr (error->message, cases[i][1]));
    }
}

static void
test_env_error_names_variable (void)
{
  const char *envp[] = { "JOB_TTL_SECONDS=soon", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (CasConfig) config = parse (NULL, envp, &error);

  g_assert_null (config);
  g_assert_nonnull (strstr (error->message, "JOB_TTL_SECONDS"));
  g_assert_nonnull (strstr (error->message, "soon"));
}

static void
test_garbage_file (void)
{
  const char *garbage[] = { "not an ini", "[unterminated\nkey=1", "key-before-group=1\n",
                            "[http]\nport=\xff\n" };

  for (guint i = 0; i < G_N_ELEMENTS (garbage); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CasConfig) config = parse (garbage[i], NULL, &error);

      g_assert_null (config);
      g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
      g_assert_nonnull (strstr (error->message, "test.ini"));
    }
}

static void
test_nul_in_file (void)
{
  static const char data[] = "[http]\0port=1\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (CasConfig) config = cas_config_parse (data, sizeof data - 1, "test.ini", NULL, &error);

  g_assert_null (config);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
}

static void
test_unknown_keys_warn (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CasConfig) config = parse ("[afk]\nkill_switch=false\n[mystery]\nx=1\n", NULL, &error);

  g_assert_no_error (error);
  /* A typo never flips the kill switch. */
  g_assert_true (config->afk_kill_switch);
  g_assert_cmpuint (config->warnings->len, ==, 2);
  g_assert_nonnull (strstr (g_ptr_array_index (config->warnings, 0), "kill_switch"));
}

static void
test_empty_models_rejected (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CasConfig) config = parse ("[claude]\nmodels= , ;\n", NULL, &error);

  g_assert_null (config);
  g_assert_nonnull (strstr (error->message, "models"));
}

static void
test_every_key_documented (void)
{
  const char *srcdir = g_getenv ("CAS_SRCDIR");
  g_autofree char *path = NULL;
  g_autofree char *example = NULL;
  g_autoptr (GError) error = NULL;
  const char *group, *key, *env;
  g_autoptr (CasConfig) config = NULL;

  g_assert_nonnull (srcdir);
  path = g_build_filename (srcdir, "data", "config.ini.example", NULL);
  g_file_get_contents (path, &example, NULL, &error);
  g_assert_no_error (error);

  for (guint i = 0; cas_config_key_at (i, &group, &key, &env); i++)
    {
      g_autofree char *group_line = g_strdup_printf ("[%s]", group);
      g_autofree char *key_line = g_strdup_printf ("\n#%s=", key);
      const char *in_group = strstr (example, group_line);

      g_assert_nonnull (in_group);
      if (strstr (in_group, key_line) == NULL)
        g_error ("config.ini.example does not document [%s] %s", group, key);
      if (env != NULL && strstr (example, env) == NULL)
        g_error ("config.ini.example does not name %s for [%s] %s", env, group, key);
    }

  /* The example itself, uncommented, must parse as it stands. */
  config = parse (example, NULL, &error);
  g_assert_no_error (error);
}

static void
test_secret_sources (void)
{
  g_autofree char *dir = g_dir_make_tmp ("cas-config-XXXXXX", NULL);
  g_autofree char *file = g_build_filename (dir, "t3-token", NULL);
  g_autofree char *empty = g_build_filename (dir, "empty", NULL);
  g_autofree char *creds_var = g_strdup_printf ("CREDENTIALS_DIRECTORY=%s", dir);
  const char *envp[] = { "API_BEARER_TOKEN=  from-env \n", creds_var, NULL };
  g_autoptr (GError) error = NULL;
  char *secret;

  g_file_set_contents (file, "rotating-secret\n\n", -1, &error);
  g_assert_no_error (error);
  g_file_set_contents (empty, " \n", -1, &error);
  g_assert_no_error (error);

  secret = cas_config_read_secret ("API_BEARER_TOKEN", file, "t3-token", envp, &error);
  g_assert_cmpstr (secret, ==, "from-env");
  g_free (secret);

  secret = cas_config_read_secret (NULL, file, NULL, envp, &error);
  g_assert_cmpstr (secret, ==, "rotating-secret");
  g_free (secret);

  secret = cas_config_read_secret (NULL, NULL, "t3-token", envp, &error);
  g_assert_cmpstr (secret, ==, "rotating-secret");
  g_free (secret);

  secret = cas_config_read_secret (NULL, NULL, "absent", envp, &error);
  g_assert_no_error (error);
  g_assert_null (secret);

  secret = cas_config_read_secret (NULL, empty, NULL, envp, &error);
  g_assert_null (secret);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
  g_clear_error (&error);

  secret = cas_config_read_secret (NULL, "/nonexistent/secret", NULL, envp, &error);
  g_assert_null (secret);
  g_assert_nonnull (strstr (error->message, "/nonexistent/secret"));

  g_unlink (file);
  g_unlink (empty);
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/file-then-env", test_file_then_env);
  g_test_add_func ("/config/booleans", test_booleans);
  g_test_add_func ("/config/bad-numbers", test_bad_numbers);
  g_test_add_func ("/config/env-error-names-variable", test_env_error_names_variable);
  g_test_add_func ("/config/garbage-file", test_garbage_file);
  g_test_add_func ("/config/nul-in-file", test_nul_in_file);
  g_test_add_func ("/config/unknown-keys-warn", test_unknown_keys_warn);
  g_test_add_func ("/config/empty-models", test_empty_models_rejected);
  g_test_add_func ("/config/every-key-documented", test_every_key_documented);
  g_test_add_func ("/config/secret-sources", test_secret_sources);

  return g_test_run ();
}
