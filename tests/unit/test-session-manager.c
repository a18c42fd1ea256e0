/* CasSessionManager without HTTP, against the fake claude: create,
 * prompt, turn-ended, the bounds, cancel, delete, stop and load again;
 * and the same through org.ClaudeAgentService.Sessions on a private
 * bus, with the generated proxy. */
#include <glib/gstdio.h>
#include <string.h>

#include "cas-cli-process.h"
#include "cas-dbus-generated.h"
#include "cas-error.h"
#include "cas-session-manager.h"
#include "cas-sessions-control.h"

typedef struct {
  char *dir;
  char *state_dir;
  char *scenario;
  CasConfig *config;
  CasAgentSet *agents;
  CasSessionManager *manager;
  GAsyncResult *result;
  GPtrArray *turn_ends;      /* "<session id> <error or OK>" */
} Fixture;

static gint64
wait_budget_us (void)
{
  const char *multiplier = g_getenv ("CAS_TEST_TIMEOUT_MULTIPLIER");
  gint64 factor = multiplier != NULL ? MAX (g_ascii_strtoll (multiplier, NULL, 10), 1) : 1;

  return 20 * G_USEC_PER_SEC * factor;
}

static gboolean
on_tick (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

static void
wait_until (gboolean (*done) (Fixture *fx),
            Fixture  *fx)
{
  gint64 deadline = g_get_monotonic_time () + wait_budget_us ();
  guint tick = g_timeout_add (10, on_tick, NULL);

  while (!done (fx) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  g_assert_true (done (fx));
}

static void
on_turn_ended (CasSessionManager *manager,
               const char        *id,
               const char        *outcome,
               guint64            last_event,
               const char        *error,
               gpointer           user_data)
{
  Fixture *fx = user_data;
  CasSession *session = cas_session_manager_lookup (manager, id);

  /* the turn_end is the last event, and on disk */
  g_assert_nonnull (session);
  g_assert_cmpuint (last_event + 1, ==, cas_session_get_event_count (session));
  g_assert_true (g_str_equal (outcome, "completed") == (error == NULL));
  g_ptr_array_add (fx->turn_ends, g_strdup_printf ("%s %s", id, outcome));
}

static void
open_manager (Fixture *fx)
{
  g_autoptr (GError) error = NULL;

  fx->manager = cas_session_manager_new (fx->config, fx->agents, fx->state_dir, &error);
  g_assert_no_error (error);
  g_signal_connect (fx->manager, "turn-ended", G_CALLBACK (on_turn_ended), fx);
}

static void
fixture_setup (Fixture      *fx,
               gconstpointer data)
{
  const char *fakes = g_getenv ("CAS_FAKES_DIR");
  const char * const envp[] = { NULL };
  g_autofree char *claude = NULL;
  g_autofree char *keyfile = NULL;
  g_autofree char *log = NULL;
  g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (fakes);
  fx->dir = g_dir_make_tmp ("cas-sessions-XXXXXX", NULL);
  fx->state_dir = g_build_filename (fx->dir, "state", NULL);
  fx->scenario = g_build_filename (fx->dir, "scenario", NULL);
  log = g_build_filename (fx->dir, "fake.log", NULL);
  claude = g_build_filename (fakes, "claude", NULL);
  g_setenv ("FAKE_CLAUDE_SCENARIO", fx->scenario, TRUE);
  g_setenv ("FAKE_CLAUDE_LOG", log, TRUE);
  g_setenv ("HOME", fx->dir, TRUE);
  g_unsetenv ("CLAUDE_CONFIG_DIR");
  g_file_set_contents (fx->scenario, "", 0, NULL);

  keyfile = g_strdup_printf ("[claude]\ncommand=%s\n"
                             "[breakglass]\nmax-concurrent-turns=1\nmax-sessions=3\n", claude);
  fx->config = cas_config_parse (keyfile, strlen (keyfile), "test", envp, &error);
  g_assert_no_error (error);
  fx->agents = cas_agent_set_load_builtin (NULL, problems);
  fx->turn_ends = g_ptr_array_new_with_free_func (g_free);
  open_manager (fx);
}

static gboolean
no_process_left (Fixture *fx)
{
  return cas_cli_process_get_live_count () == 0;
}

static void
fixture_teardown (Fixture      *fx,
                  gconstpointer data)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", fx->dir);

  if (fx->manager != NULL)
    cas_session_manager_stop (fx->manager);
  wait_until (no_process_left, fx);
  g_clear_object (&fx->manager);
  g_clear_pointer (&fx->agents, cas_agent_set_unref);
  g_clear_pointer (&fx->config, cas_config_unref);
  g_clear_pointer (&fx->turn_ends, g_ptr_array_unref);
  g_assert_null (fx->result);
  g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL));
  g_free (fx->dir);
  g_free (fx->state_dir);
  g_free (fx->scenario);
}

static void
on_result (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Fixture *fx = user_data;

  fx->result = g_object_ref (result);
}

static gboolean
have_result (Fixture *fx)
{
  return fx->result != NULL;
}

/* A new session's id, or NULL with @error. */
static char *
create (Fixture *fx,
        GError **error)
{
  char *id;

  cas_session_manager_create_async (fx->manager, NULL, on_result, fx);
  wait_until (have_result, fx);
  id = cas_session_manager_create_finish (fx->manager, fx->result, error);
  g_clear_object (&fx->result);
  return id;
}

static guint wanted_turn_ends;
static CasSession *watched;
static guint64 wanted_events;

static gboolean
have_events (Fixture *fx)
{
  return cas_session_get_event_count (watched) >= wanted_events;
}

static gboolean
have_turn_ends (Fixture *fx)
{
  return fx->turn_ends->len >= wanted_turn_ends;
}

static void
wait_turn_ends (Fixture *fx,
                guint    count)
{
  wanted_turn_ends = count;
  wait_until (have_turn_ends, fx);
}

static void
test_turns (Fixture      *fx,
            gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = create (fx, &error);
  g_autofree char *other = NULL;
  g_autofree char *expected = NULL;
  g_autoptr (GPtrArray) list = NULL;
  CasSessionInfo *info;
  CasSession *session;
  gboolean cancelled = TRUE;

  g_assert_no_error (error);
  g_assert_true (cas_session_id_is_valid (id));
  list = cas_session_manager_list (fx->manager);
  g_assert_cmpuint (list->len, ==, 1);
  info = g_ptr_array_index (list, 0);
  g_assert_cmpstr (info->id, ==, id);
  g_assert_false (info->turn_active);
  g_assert_cmpuint (info->event_count, ==, 0);

  /* bad input never starts anything */
  g_assert_false (cas_session_manager_prompt (fx->manager, id, "", NULL, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (cas_session_manager_prompt (fx->manager, id, "hi", "gpt-4", &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (cas_session_manager_prompt (fx->manager, id, "\xff", NULL, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (cas_session_manager_prompt (fx->manager, "../x", "hi", NULL, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (cas_session_manager_cancel (fx->manager, NULL, &cancelled, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (cas_session_manager_lookup (fx->manager, NULL));

  /* a turn, its end signalled once it is on disk */
  other = create (fx, &error);
  g_assert_no_error (error);
  g_assert_true (cas_session_manager_prompt (fx->manager, id, "hello", NULL, &error));
  g_assert_no_error (error);
  wait_turn_ends (fx, 1);
  expected = g_strdup_printf ("%s completed", id);
  g_assert_cmpstr (g_ptr_array_index (fx->turn_ends, 0), ==, expected);
  session = cas_session_manager_lookup (fx->manager, id);
  g_assert_nonnull (session);
  g_assert_false (cas_session_is_turn_running (session));
  g_assert_cmpuint (cas_session_get_event_count (session), >=, 4);
  g_assert_cmpint (cas_session_get_process_pid (session), >, 0);

  /* one turn per session, max-concurrent-turns across them; cancel ends
   * a turn "cancelled" and keeps the process */
  g_assert_true (g_file_set_contents (fx->scenario, "FAKE_CLAUDE_HANG=1\n", -1, NULL));
  g_assert_true (cas_session_manager_prompt (fx->manager, id, "hang", NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (cas_session_manager_get_active_turns (fx->manager), ==, 1);
  g_assert_false (cas_session_manager_prompt (fx->manager, id, "again", NULL, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFLICT);
  g_clear_error (&error);
  g_assert_false (cas_session_manager_prompt (fx->manager, other, "two", NULL, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_TOO_MANY_REQUESTS);
  g_clear_error (&error);
  /* under way (its user and session events are out): the CLI hears the
   * interrupt */
  watched = session;
  wanted_events = cas_session_get_event_count (session) + 2;
  wait_until (have_events, fx);
  g_assert_true (cas_session_manager_cancel (fx->manager, id, &cancelled, &error));
  g_assert_true (cancelled);
  wait_turn_ends (fx, 2);
  g_free (expected);
  expected = g_strdup_printf ("%s cancelled", id);
  g_assert_cmpstr (g_ptr_array_index (fx->turn_ends, 1), ==, expected);
  g_assert_true (cas_session_manager_cancel (fx->manager, id, &cancelled, &error));
  g_assert_false (cancelled);
  g_assert_cmpint (cas_session_get_process_pid (session), >, 0);

  g_assert_true (g_file_set_contents (fx->scenario, "", -1, NULL));
  g_assert_true (cas_session_manager_prompt (fx->manager, other, "two", NULL, &error));
  g_assert_no_error (error);
  wait_turn_ends (fx, 3);
  g_free (expected);
  expected = g_strdup_printf ("%s completed", other);
  g_assert_cmpstr (g_ptr_array_index (fx->turn_ends, 2), ==, expected);
}

static void
test_bounds_delete_reload (Fixture      *fx,
                           gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *a = create (fx, &error);
  g_autofree char *b = create (fx, &error);
  g_autofree char *c = create (fx, &error);
  g_autofree char *d = NULL;
  g_autofree char *dir = NULL;
  g_autoptr (GString) before = g_string_new (NULL);
  g_autoptr (GString) after = g_string_new (NULL);
  guint64 next = 0;

  g_assert_no_error (error);
  d = create (fx, &error);
  g_assert_null (d);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_TOO_MANY_REQUESTS);
  g_clear_error (&error);

  g_assert_true (cas_session_manager_prompt (fx->manager, a, "keep me", NULL, &error));
  wait_turn_ends (fx, 1);
  g_assert_true (cas_session_read_frames (cas_session_manager_lookup (fx->manager, a), 0,
                                          1 << 20, before, &next, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (next, ==, cas_session_get_event_count (cas_session_manager_lookup (fx->manager, a)));

  dir = g_build_filename (fx->state_dir, "sessions", b, NULL);
  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
  g_assert_true (cas_session_manager_delete (fx->manager, b, &error));
  g_assert_null (cas_session_manager_lookup (fx->manager, b));
  g_assert_false (cas_session_manager_delete (fx->manager, b, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* stop writes everything; a new manager finds what is left */
  cas_session_manager_stop (fx->manager);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  g_clear_object (&fx->manager);
  open_manager (fx);
  g_assert_null (cas_session_manager_lookup (fx->manager, b));
  g_assert_nonnull (cas_session_manager_lookup (fx->manager, c));
  g_assert_true (cas_session_read_frames (cas_session_manager_lookup (fx->manager, a), 0,
                                          1 << 20, after, &next, &error));
  g_assert_cmpstr (after->str, ==, before->str);
}

/* ---- the same sessions over D-Bus ---------------------------------- */

static GTestDBus *test_bus;

static GDBusConnection *
connect_to_test_bus (void)
{
  g_autoptr (GError) error = NULL;
  GDBusConnection *connection =
    g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (test_bus),
                                            G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                              G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                            NULL, NULL, &error);

  g_assert_no_error (error);
  return connection;
}

static void
on_bus_turn_ended (CasDBusSessions *proxy,
                   const char      *id,
                   const char      *outcome,
                   guint            last_event,
                   gpointer         user_data)
{
  GPtrArray *ended = user_data;

  g_ptr_array_add (ended, g_strdup_printf ("%s %s %u", id, outcome, last_event));
}

static GPtrArray *bus_turn_ends;

static gboolean
have_bus_turn_end (Fixture *fx)
{
  return bus_turn_ends->len > 0;
}

static void
test_over_dbus (Fixture      *fx,
                gconstpointer data)
{
  g_autoptr (GDBusConnection) server = connect_to_test_bus ();
  g_autoptr (GDBusConnection) client = connect_to_test_bus ();
  g_autoptr (CasSessionsControl) control = cas_sessions_control_new (fx->manager);
  g_autoptr (CasDBusSessions) proxy = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) sessions = NULL;
  g_autoptr (GVariant) first = NULL;
  g_autofree char *id = NULL;
  g_autofree char *expected = NULL;
  gboolean cancelled = TRUE;
  GVariantDict entry;
  const char *listed_id = NULL;
  guint32 events = 0;

  g_assert_true (cas_sessions_control_export (control, server, "/org/ClaudeAgentService", &error));
  g_assert_no_error (error);
  /* Calls go out async: the daemon's side answers on this thread's loop. */
  proxy = cas_dbus_sessions_proxy_new_sync (client, G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES,
                                            g_dbus_connection_get_unique_name (server),
                                            "/org/ClaudeAgentService", NULL, &error);
  g_assert_no_error (error);
  bus_turn_ends = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (proxy, "turn-ended", G_CALLBACK (on_bus_turn_ended), bus_turn_ends);

  cas_dbus_sessions_call_create_session (proxy, NULL, on_result, fx);
  wait_until (have_result, fx);
  g_assert_true (cas_dbus_sessions_call_create_session_finish (proxy, &id, fx->result, &error));
  g_clear_object (&fx->result);
  g_assert_no_error (error);
  g_assert_nonnull (cas_session_manager_lookup (fx->manager, id));

  cas_dbus_sessions_call_prompt (proxy, id, "over the bus", NULL, on_result, fx);
  wait_until (have_result, fx);
  g_assert_true (cas_dbus_sessions_call_prompt_finish (proxy, fx->result, &error));
  g_clear_object (&fx->result);
  g_assert_no_error (error);
  wait_until (have_bus_turn_end, fx);
  expected = g_strdup_printf ("%s completed %u", id,
                              (guint) cas_session_get_event_count (
                                cas_session_manager_lookup (fx->manager, id)) - 1);
  g_assert_cmpstr (g_ptr_array_index (bus_turn_ends, 0), ==, expected);

  cas_dbus_sessions_call_list_sessions (proxy, NULL, on_result, fx);
  wait_until (have_result, fx);
  g_assert_true (cas_dbus_sessions_call_list_sessions_finish (proxy, &sessions, fx->result,
                                                              &error));
  g_clear_object (&fx->result);
  g_assert_cmpuint (g_variant_n_children (sessions), ==, 1);
  first = g_variant_get_child_value (sessions, 0);
  g_variant_dict_init (&entry, first);
  g_assert_true (g_variant_dict_lookup (&entry, "id", "&s", &listed_id));
  g_assert_cmpstr (listed_id, ==, id);
  g_assert_true (g_variant_dict_lookup (&entry, "events", "u", &events));
  g_assert_cmpuint (events, ==,
                    cas_session_get_event_count (cas_session_manager_lookup (fx->manager, id)));
  g_assert_true (g_variant_dict_contains (&entry, "last-activity"));
  g_variant_dict_clear (&entry);

  cas_dbus_sessions_call_cancel (proxy, id, NULL, on_result, fx);
  wait_until (have_result, fx);
  g_assert_true (cas_dbus_sessions_call_cancel_finish (proxy, &cancelled, fx->result, &error));
  g_clear_object (&fx->result);
  g_assert_false (cancelled);

  /* Named errors come back as the same CAS_ERROR codes. */
  cas_dbus_sessions_call_prompt (proxy, "00000000-0000-4000-8000-000000000000", "hi", NULL,
                                 on_result, fx);
  wait_until (have_result, fx);
  g_assert_false (cas_dbus_sessions_call_prompt_finish (proxy, fx->result, &error));
  g_clear_object (&fx->result);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND);
  g_clear_error (&error);
  cas_dbus_sessions_call_prompt (proxy, id, "", NULL, on_result, fx);
  wait_until (have_result, fx);
  g_assert_false (cas_dbus_sessions_call_prompt_finish (proxy, fx->result, &error));
  g_clear_object (&fx->result);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);

  g_clear_pointer (&bus_turn_ends, g_ptr_array_unref);
}

int
main (int   argc,
      char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);

  g_test_add ("/session-manager/turns", Fixture, NULL, fixture_setup, test_turns,
              fixture_teardown);
  g_test_add ("/session-manager/bounds-delete-reload", Fixture, NULL, fixture_setup,
              test_bounds_delete_reload, fixture_teardown);
  g_test_add ("/session-manager/over-dbus", Fixture, NULL, fixture_setup, test_over_dbus,
              fixture_teardown);

  /* Before any thread: it sets the environment. */
  test_bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (test_bus);
  status = g_test_run ();
  g_test_dbus_down (test_bus);
  g_clear_object (&test_bus);
  return status;
}
