/* cas-power-verbs.h: the PVE power verbs, pure: the allowlist, the ssh
 * argv that runs one, and the JSON bodies that answer it. No I/O.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* ssh's own -o ConnectTimeout, at most: the verb's timeout covers the
 * rest. */
#define CAS_POWER_CONNECT_TIMEOUT_SECONDS 10

/* A hostile verb is echoed back in a 400 cut to this many bytes. */
#define CAS_POWER_ECHO_MAX_BYTES 64

/* Whether @verb is exactly one of the allowed verbs (NULL: no). */
gboolean cas_power_verb_is_known (const char *verb);
gboolean cas_power_verb_is_mutating (const char *verb);

/* The GET /api/pve/verbs body: {"verbs":[sorted],"mutating":[sorted]}. */
char *cas_power_verbs_to_json (void);

/* Whether [pve] host and user (nullable) can stand in an ssh destination:
 * a host of letters, digits, '.', '-', '_', ':' (IPv6) or '%' (a scope),
 * a user of letters, digits, '.', '-' and '_', neither starting with '-'
 * (which ssh would read as an option). The error names the key. */
gboolean cas_power_check_target (const char *host,
                                 const char *user,
                                 GError    **error);

/* The argv that runs @verb (an allowed one) on @host: @ssh_program first,
 * batch mode, no host-key prompts (see the .c), @key_file (nullable) as
 * the only identity, then [user@]host and the bare verb, which the host's
 * forced command reads. NULL if @verb is not allowed. */
GStrv cas_power_build_argv (const char *ssh_program,
                            const char *host,
                            const char *user,
                            const char *key_file,
                            guint       verb_timeout_seconds,
                            const char *verb);

/* The POST /api/pve/{verb} body: {verb, exit_code (null when
 * @exit_code < 0), stdout, stderr, rejected}. @stdout_text and
 * @stderr_text may hold NUL bytes and invalid UTF-8 (written repaired). */
char *cas_power_format_result (const char *verb,
                                int         exit_code,
                                const char *stdout_text,
                                gsize       stdout_len,
                                const char *stderr_text,
                                gsize       stderr_len,
                                gboolean    rejected);

/* The 400 body for a verb that is not allowed: the error shape of the
 * other routes ({"error":"unknown_verb","detail":"unknown verb '<v>'"})
 * and the verb shape with "rejected": true, exit_code null and empty
 * output, <v> cut to CAS_POWER_ECHO_MAX_BYTES. */
char *cas_power_format_rejection (const char *verb);

G_END_DECLS
