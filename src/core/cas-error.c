/* cas-error.c: one table from error codes to D-Bus names and HTTP statuses.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-error"

#include "config.h"

#include <gio/gio.h>

#include "cas-error.h"

typedef struct {
  CasError code;
  const char *dbus_name;
  const char *code_name;
  guint http_status;
} CasErrorInfo;

#define DBUS_PREFIX "org.ClaudeAgentService.Error."

/* Indexed by CasError. */
static const CasErrorInfo error_table[] = {
  { CAS_ERROR_FAILED, DBUS_PREFIX "Failed", "internal_error", 500 },
  { CAS_ERROR_INVALID_ARGUMENT, DBUS_PREFIX "InvalidArgument", "invalid_request", 400 },
  { CAS_ERROR_UNAUTHORIZED, DBUS_PREFIX "Unauthorized", "unauthorized", 401 },
  { CAS_ERROR_NOT_FOUND, DBUS_PREFIX "NotFound", "not_found", 404 },
  { CAS_ERROR_METHOD_NOT_ALLOWED, DBUS_PREFIX "MethodNotAllowed", "method_not_allowed", 405 },
  { CAS_ERROR_CONFLICT, DBUS_PREFIX "Conflict", "conflict", 409 },
  { CAS_ERROR_PAYLOAD_TOO_LARGE, DBUS_PREFIX "PayloadTooLarge", "payload_too_large", 413 },
  { CAS_ERROR_TOO_MANY_REQUESTS, DBUS_PREFIX "TooManyRequests", "too_many_requests", 429 },
  { CAS_ERROR_QUEUE_FULL, DBUS_PREFIX "QueueFull", "queue_full", 503 },
  { CAS_ERROR_CLI_NOT_FOUND, DBUS_PREFIX "CliNotFound", "cli_not_found", 503 },
  { CAS_ERROR_CLI_FAILED, DBUS_PREFIX "CliFailed", "execution_failed", 503 },
  { CAS_ERROR_NOT_LOGGED_IN, DBUS_PREFIX "NotLoggedIn", "not_logged_in", 503 },
  { CAS_ERROR_TIMED_OUT, DBUS_PREFIX "TimedOut", "timeout", 503 },
  { CAS_ERROR_CANCELLED, DBUS_PREFIX "Cancelled", "cancelled", 503 },
  { CAS_ERROR_CONFIG, DBUS_PREFIX "Config", "config_error", 500 },
  /* The kill switch cannot be turned off where it was asked: it is on in
   * the config file or the environment. */
  { CAS_ERROR_KILL_SWITCH_LOCKED, DBUS_PREFIX "KillSwitchLocked", "kill_switch_locked", 409 },
};

G_STATIC_ASSERT (G_N_ELEMENTS (error_table) == CAS_ERROR_LAST + 1);

GQuark
cas_error_quark (void)
{
  static gsize quark = 0;
  static gsize entries_ready = 0;
  static GDBusErrorEntry entries[G_N_ELEMENTS (error_table)];

  /* Its own guard: register_error_domain runs a once-guard on @quark. */
  if (g_once_init_enter (&entries_ready))
    {
      for (gsize i = 0; i < G_N_ELEMENTS (error_table); i++)
        {
          entries[i].error_code = error_table[i].code;
          entries[i].dbus_error_name = error_table[i].dbus_name;
        }
      g_once_init_leave (&entries_ready, 1);
    }
  g_dbus_error_register_error_domain ("cas-error-quark", &quark,
                                      entries, G_N_ELEMENTS (entries));
  return (GQuark) quark;
}

static const CasErrorInfo *
lookup (const GError *error)
{
  if (error == NULL || error->domain != CAS_ERROR)
    return NULL;
  if (error->code < 0 || error->code > CAS_ERROR_LAST)
    return NULL;
  return &error_table[error->code];
}

guint
cas_error_to_http_status (const GError *error)
{
  const CasErrorInfo *info = lookup (error);

  return info != NULL ? info->http_status : 500;
}

const char *
cas_error_to_code_name (const GError *error)
{
  const CasErrorInfo *info = lookup (error);

  return info != NULL ? info->code_name : "internal_error";
}

const char *
cas_error_to_dbus_name (CasError code)
{
  if ((int) code < 0 || code > CAS_ERROR_LAST)
    return error_table[CAS_ERROR_FAILED].dbus_name;
  return error_table[code].dbus_name;
}
