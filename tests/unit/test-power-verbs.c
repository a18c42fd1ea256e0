/* The PVE power verbs' pure core: the allowlist, the ssh argv, the
 * bodies, the [pve] host and user checks. */
#include <json-glib/json-glib.h>

#include "cas-error.h"
#include "cas-power-verbs.h"

static JsonObject *
parse (const char *json)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static void
test_allowlist (void)
{
  const char *known[] = { "status", "forensics", "reset", "stop", "start", "cycle" };
  const char *hostile[] = { "", "STATUS", "Status", "status ", " status", "status\n",
                            "status;reboot", "status 103", "$(reboot)", "../status",
                            "status\xff", "stat", "statuss", "verbs", "-oProxyCommand=x",
                            "\xd1\x81tatus" /* Cyrillic es */ };

  for (guint i = 0; i < G_N_ELEMENTS (known); i++)
    g_assert_true (cas_power_verb_is_known (known[i]));
  for (guint i = 0; i < G_N_ELEMENTS (hostile); i++)
    {
      g_assert_false (cas_power_verb_is_known (hostile[i]));
      g_assert_false (cas_power_verb_is_mutating (hostile[i]));
    }
  g_assert_false (cas_power_verb_is_known (NULL));
  g_assert_false (cas_power_verb_is_mutating ("status"));
  g_assert_false (cas_power_verb_is_mutating ("forensics"));
  g_assert_true (cas_power_verb_is_mutating ("reset"));
  g_assert_true (cas_power_verb_is_mutating ("cycle"));
}

static void
test_listing (void)
{
  g_autofree char *json = cas_power_verbs_to_json ();

  g_assert_cmpstr (json, ==,
                   "{\"verbs\":[\"cycle\",\"forensics\",\"reset\",\"start\",\"status\",\"stop\"],"
                   "\"mutating\":[\"cycle\",\"reset\",\"start\",\"stop\"]}");
}

static void
test_argv (void)
{
  g_auto (GStrv) full = cas_power_build_argv ("/usr/bin/ssh", "pve.example", "root",
                                              "/keys/pve", 120, "reset");
  g_auto (GStrv) bare = cas_power_build_argv ("ssh", "192.0.2.7", NULL, "", 3, "status");
  g_auto (GStrv) no_user = cas_power_build_argv ("ssh", "::1", "", NULL, 0, "stop");
  g_autofree char *full_joined = NULL;
  g_autofree char *bare_joined = NULL;

  full_joined = g_strjoinv (" ", full);
  g_assert_cmpstr (full_joined, ==,
                   "/usr/bin/ssh -o BatchMode=yes -o ConnectTimeout=10 "
                   "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                   "-o LogLevel=ERROR -i /keys/pve -o IdentitiesOnly=yes root@pve.example reset");
  /* The connect timeout never outlasts the verb's. */
  bare_joined = g_strjoinv (" ", bare);
  g_assert_cmpstr (bare_joined, ==,
                   "ssh -o BatchMode=yes -o ConnectTimeout=3 "
                   "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                   "-o LogLevel=ERROR 192.0.2.7 status");
  g_assert_cmpuint (g_strv_length (no_user), ==, 13);
  g_assert_cmpstr (no_user[11], ==, "::1");
  g_assert_cmpstr (no_user[12], ==, "stop");
  g_assert_cmpstr (no_user[4], ==, "ConnectTimeout=1");

  /* Nothing but an allowed verb, and never without a host. */
  g_assert_null (cas_power_build_argv ("ssh", "pve", "root", NULL, 10, "status;reboot"));
  g_assert_null (cas_power_build_argv ("ssh", "pve", "root", NULL, 10, ""));
  g_assert_null (cas_power_build_argv ("ssh", "pve", "root", NULL, 10, NULL));
  g_assert_null (cas_power_build_argv ("ssh", NULL, "root", NULL, 10, "status"));
  g_assert_null (cas_power_build_argv ("ssh", "", "root", NULL, 10, "status"));
}

static void
test_target_checks (void)
{
  const char *good_hosts[] = { "pve", "pve.example.org", "192.168.1.127", "fe80::1%eth0",
                               "pve-01_a" };
  const char *bad_hosts[] = { "", "-oProxyCommand=x", "pve example", "root@pve", "pve;reboot",
                              "pve\n", "$(x)", "pve/x", "\xd0\xbf" };
  const char *bad_users[] = { "-l", "ro ot", "root@", "a:b", "a%b", "$USER" };

  for (guint i = 0; i < G_N_ELEMENTS (good_hosts); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_true (cas_power_check_target (good_hosts[i], "root", &error));
      g_assert_no_error (error);
    }
  g_assert_true (cas_power_check_target (NULL, NULL, NULL));
  g_assert_true (cas_power_check_target ("pve", "", NULL));
  g_assert_true (cas_power_check_target ("pve", "break.glass-1_x", NULL));
  for (guint i = 0; i < G_N_ELEMENTS (bad_hosts); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_false (cas_power_check_target (bad_hosts[i], "root", &error));
      g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
      g_assert_nonnull (strstr (error->message, "[pve] host"));
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_users); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_false (cas_power_check_target ("pve", bad_users[i], &error));
      g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
      g_assert_nonnull (strstr (error->message, "[pve] user"));
    }
}

static void
test_result_body (void)
{
  static const char out[] = "a\0b\xff\n";
  g_autofree char *ok = cas_power_format_result ("status", 0, "running\n", 8, "", 0, FALSE);
  g_autofree char *timeout = cas_power_format_result ("cycle", -1, NULL, 0,
                                                      "timeout after 5s talking to PVE host",
                                                      36, FALSE);
  g_autofree char *binary = cas_power_format_result ("status", 1, out, sizeof out - 1,
                                                     "\x1b[2J", 4, FALSE);
  g_autoptr (JsonObject) parsed = NULL;

  g_assert_cmpstr (ok, ==, "{\"verb\":\"status\",\"exit_code\":0,\"stdout\":\"running\\n\","
                           "\"stderr\":\"\",\"rejected\":false}");
  g_assert_cmpstr (timeout, ==, "{\"verb\":\"cycle\",\"exit_code\":null,\"stdout\":\"\","
                                "\"stderr\":\"timeout after 5s talking to PVE host\","
                                "\"rejected\":false}");
  /* NULs, invalid UTF-8 and controls still make valid JSON. */
  parsed = parse (binary);
  g_assert_cmpint (json_object_get_int_member (parsed, "exit_code"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (parsed, "stderr"), ==, "\x1b[2J");
}

static void
test_rejection_body (void)
{
  g_autofree char *plain = cas_power_format_rejection ("destroy");
  g_autofree char *long_verb = g_strnfill (10240, 'x');
  g_autofree char *long_body = cas_power_format_rejection (long_verb);
  g_autoptr (GString) many = g_string_new (NULL);
  g_autofree char *cut_body = NULL;
  g_autofree char *hostile = cas_power_format_rejection ("\"},\"rejected\":false,\"x\":\"\n\xff");
  g_autoptr (JsonObject) parsed = NULL;
  const char *shown;

  g_assert_cmpstr (plain, ==,
                   "{\"error\":\"unknown_verb\",\"detail\":\"unknown verb 'destroy'\","
                   "\"verb\":\"destroy\",\"exit_code\":null,\"stdout\":\"\",\"stderr\":\"\","
                   "\"rejected\":true}");

  parsed = parse (long_body);
  shown = json_object_get_string_member (parsed, "verb");
  g_assert_cmpuint (strlen (shown), ==, CAS_POWER_ECHO_MAX_BYTES + strlen ("…"));
  g_clear_pointer (&parsed, json_object_unref);

  /* Cut between characters, never inside one. */
  for (guint i = 0; i < 100; i++)
    g_string_append (many, "я");
  cut_body = cas_power_format_rejection (many->str);
  parsed = parse (cut_body);
  shown = json_object_get_string_member (parsed, "verb");
  g_assert_true (g_utf8_validate (shown, -1, NULL));
  g_assert_true (g_str_has_suffix (shown, "я…"));
  g_clear_pointer (&parsed, json_object_unref);

  /* Quotes cannot break out of the string. */
  parsed = parse (hostile);
  g_assert_true (json_object_get_boolean_member (parsed, "rejected"));
  g_assert_false (json_object_has_member (parsed, "x"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/power-verbs/allowlist", test_allowlist);
  g_test_add_func ("/power-verbs/listing", test_listing);
  g_test_add_func ("/power-verbs/argv", test_argv);
  g_test_add_func ("/power-verbs/target-checks", test_target_checks);
  g_test_add_func ("/power-verbs/result-body", test_result_body);
  g_test_add_func ("/power-verbs/rejection-body", test_rejection_body);

  return g_test_run ();
}
