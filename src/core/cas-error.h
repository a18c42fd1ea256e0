/* cas-error.h: the CAS_ERROR domain, shared by HTTP and D-Bus.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CAS_ERROR (cas_error_quark ())

/* Messages of errors that reach HTTP clients stay English and stable
 * ("queue full", "agent timed out after N s", "exit N: ..."): existing
 * callers match on the Python service's words. Log lines, start-up errors
 * and D-Bus messages are translated.
 *
 * Keep in step with the table in cas-error.c: each code has one D-Bus
 * name (org.ClaudeAgentService.Error.*) and one HTTP status. */
typedef enum {
  CAS_ERROR_FAILED,
  CAS_ERROR_INVALID_ARGUMENT,
  CAS_ERROR_UNAUTHORIZED,
  CAS_ERROR_NOT_FOUND,
  CAS_ERROR_METHOD_NOT_ALLOWED,
  CAS_ERROR_CONFLICT,
  CAS_ERROR_PAYLOAD_TOO_LARGE,
  CAS_ERROR_TOO_MANY_REQUESTS,
  CAS_ERROR_QUEUE_FULL,
  CAS_ERROR_CLI_NOT_FOUND,
  CAS_ERROR_CLI_FAILED,
  CAS_ERROR_NOT_LOGGED_IN,
  CAS_ERROR_TIMED_OUT,
  CAS_ERROR_CANCELLED,
  CAS_ERROR_CONFIG,
  CAS_ERROR_KILL_SWITCH_LOCKED,
} CasError;

#define CAS_ERROR_LAST CAS_ERROR_KILL_SWITCH_LOCKED

GQuark cas_error_quark (void);

/* HTTP status for an error of any domain (500 for foreign domains). */
guint cas_error_to_http_status (const GError *error);

/* Short machine name ("invalid_argument"), used as the "code" of
 * OpenAI-shaped errors. */
const char *cas_error_to_code_name (const GError *error);

/* D-Bus error name for @code. */
const char *cas_error_to_dbus_name (CasError code);

G_END_DECLS
