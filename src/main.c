/* main.c: options, i18n, signals, the bus name and the main loop.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-main"

#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "cas-daemon.h"

typedef struct {
  GMainLoop *loop;
  CasDaemon *daemon;
  int exit_status;
  gboolean name_acquired;
} AppState;

static gboolean
on_quit_signal (gpointer user_data)
{
  AppState *state = user_data;

  g_message (_("Stopping"));
  g_main_loop_quit (state->loop);
  return G_SOURCE_CONTINUE;
}

static void
on_bus_acquired (GDBusConnection *connection,
                 const char      *name,
                 gpointer         user_data)
{
  AppState *state = user_data;

  cas_daemon_export (state->daemon, connection);
}

static void
on_name_acquired (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  AppState *state = user_data;

  state->name_acquired = TRUE;
  g_debug ("Owning %s", name);
}

static void
on_name_lost (GDBusConnection *connection,
              const char      *name,
              gpointer         user_data)
{
  AppState *state = user_data;

  if (connection == NULL)
    {
      /* HTTP is the main job; the bus only adds the control surface. */
      g_warning (_("No session bus: the D-Bus control surface is off, HTTP keeps working"));
      return;
    }

  if (state->name_acquired)
    g_message (_("Replaced by another instance on the bus; stopping"));
  else
    g_printerr (_("Another instance owns %s; stop it first or start with --replace\n"), name);
  state->exit_status = EXIT_FAILURE;
  g_main_loop_quit (state->loop);
}

/* Every local user can open connections: the soft descriptor limit
 * (often 1024) would be the first thing to run out, so take the hard
 * one, which is ours to take. */
static void
raise_descriptor_limit (void)
{
  struct rlimit limit;
  rlim_t soft;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max)
    return;
  soft = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit (RLIMIT_NOFILE, &limit) == 0)
    g_debug ("Descriptor limit raised from %lu to %lu",
             (unsigned long) soft, (unsigned long) limit.rlim_max);
  else
    g_debug ("Descriptor limit stays %lu: %s", (unsigned long) soft, g_strerror (errno));
}

static void
setup_i18n (void)
{
  const char *localedir = g_getenv ("CAS_LOCALEDIR");

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *config_path = NULL;
  gboolean replace = FALSE;
  gboolean verbose = FALSE;
  gboolean version = FALSE;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (CasConfig) config = NULL;
  g_autoptr (CasDaemon) daemon = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  AppState state = { 0 };
  guint owner_id;

  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      N_("Read settings from FILE instead of the default config.ini"), N_("FILE") },
    { "replace", 'r', 0, G_OPTION_ARG_NONE, &replace,
      N_("Replace a running instance on the session bus"), NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      N_("Log debug messages"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version,
      N_("Print the version and exit"), NULL },
    { NULL }
  };

  setup_i18n ();

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
                                _("Puts the Claude Code CLI to work for programs and for its owner."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return EXIT_FAILURE;
    }
  if (version)
    {
      g_print ("claude-agent-service %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }
  if (verbose)
    g_log_set_debug_enabled (TRUE);
  raise_descriptor_limit ();

  config = cas_config_load (config_path, &error);
  if (config == NULL)
    {
      g_printerr ("%s\n", error->message);
      return EXIT_FAILURE;
    }
  for (guint i = 0; i < config->warnings->len; i++)
    g_message ("%s", (const char *) g_ptr_array_index (config->warnings, i));

  /* Before the port opens: a stop asked for as soon as we answer must
   * be a clean one, not the default action of the signal. */
  loop = g_main_loop_new (NULL, FALSE);
  state.loop = loop;
  state.exit_status = EXIT_SUCCESS;
  g_unix_signal_add (SIGTERM, on_quit_signal, &state);
  g_unix_signal_add (SIGINT, on_quit_signal, &state);

  daemon = cas_daemon_new (config, &error);
  if (daemon == NULL || !cas_daemon_start (daemon, &error))
    {
      g_printerr ("%s\n", error->message);
      return EXIT_FAILURE;
    }
  state.daemon = daemon;

  owner_id = g_bus_own_name (G_BUS_TYPE_SESSION, BUS_NAME,
                             G_BUS_NAME_OWNER_FLAGS_ALLOW_REPLACEMENT |
                               (replace ? G_BUS_NAME_OWNER_FLAGS_REPLACE : 0),
                             on_bus_acquired, on_name_acquired, on_name_lost,
                             &state, NULL);

  g_main_loop_run (loop);

  cas_daemon_stop (daemon);
  g_bus_unown_name (owner_id);
  return state.exit_status;
}
