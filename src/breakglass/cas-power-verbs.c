/* cas-power-verbs.c: the PVE power verbs, pure.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "cas-error.h"
#include "cas-json.h"
#include "cas-power-verbs.h"

/* Sorted, as the listing shows them. The host's forced command honours
 * these and nothing else; ours is the first fence, not the only one. */
static const struct {
  const char *name;
  gboolean mutating;
} verbs[] = {
  { "cycle", TRUE },      /* stop, then start: a fresh QEMU process */
  { "forensics", FALSE },
  { "reset", TRUE },      /* warm */
  { "start", TRUE },
  { "status", FALSE },
  { "stop", TRUE },
};

static int
find_verb (const char *verb)
{
  if (verb == NULL)
    return -1;
  for (guint i = 0; i < G_N_ELEMENTS (verbs); i++)
    if (g_str_equal (verb, verbs[i].name))
      return (int) i;
  return -1;
}

gboolean
cas_power_verb_is_known (const char *verb)
{
  return find_verb (verb) >= 0;
}

gboolean
cas_power_verb_is_mutating (const char *verb)
{
  int i = find_verb (verb);

  return i >= 0 && verbs[i].mutating;
}

static void
append_names (GString  *out,
              gboolean  mutating_only)
{
  gboolean first = TRUE;

  g_string_append_c (out, '[');
  for (guint i = 0; i < G_N_ELEMENTS (verbs); i++)
    {
      if (mutating_only && !verbs[i].mutating)
        continue;
      if (!first)
        g_string_append_c (out, ',');
      cas_json_append_string (out, verbs[i].name);
      first = FALSE;
    }
  g_string_append_c (out, ']');
}

char *
cas_power_verbs_to_json (void)
{
  GString *out = g_string_new ("{\"verbs\":");

  append_names (out, FALSE);
  g_string_append (out, ",\"mutating\":");
  append_names (out, TRUE);
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

static gboolean
check_part (const char  *value,
            const char  *key,
            const char  *extra_chars,
            GError     **error)
{
  gboolean ok = value[0] != '\0' && value[0] != '-';

  for (const char *p = value; ok && *p != '\0'; p++)
    ok = g_ascii_isalnum (*p) || strchr (extra_chars, *p) != NULL;
  if (!ok)
    g_set_error (error, CAS_ERROR, CAS_ERROR_CONFIG,
                 _("Invalid value “%s” for [pve] %s: expected a name of letters, digits "
                   "and “%s”, not starting with “-”"), value, key, extra_chars);
  return ok;
}

gboolean
cas_power_check_target (const char *host,
                        const char *user,
                        GError    **error)
{
  if (host != NULL && !check_part (host, "host", ".-_:%", error))
    return FALSE;
  if (user != NULL && *user != '\0' && !check_part (user, "user", ".-_", error))
    return FALSE;
  return TRUE;
}

GStrv
cas_power_build_argv (const char *ssh_program,
                      const char *host,
                      const char *user,
                      const char *key_file,
                      guint       verb_timeout_seconds,
                      const char *verb)
{
  g_autoptr (GStrvBuilder) builder = NULL;
  g_autofree char *connect_timeout = NULL;
  g_autofree char *destination = NULL;

  if (!cas_power_verb_is_known (verb) || host == NULL || *host == '\0')
    return NULL;
  builder = g_strv_builder_new ();
  connect_timeout = g_strdup_printf ("ConnectTimeout=%u",
                                     CLAMP (verb_timeout_seconds, 1,
                                            CAS_POWER_CONNECT_TIMEOUT_SECONDS));
  destination = user != NULL && *user != '\0' ? g_strdup_printf ("%s@%s", user, host)
                                              : g_strdup (host);
  g_strv_builder_add (builder, ssh_program);
  /* Never a prompt: a console that waits for "yes" or a passphrase
   * helps nobody. Host keys are not checked, as in the Python service:
   * a rebuilt host has new ones, and this is the tool for the day
   * things are broken. What a man in the middle gets is little: the
   * key authenticates this session only, and the host's forced command
   * honours six words. */
  g_strv_builder_addv (builder, (const char *[]) {
    "-o", "BatchMode=yes",
    "-o", connect_timeout,
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    NULL });
  if (key_file != NULL && *key_file != '\0')
    g_strv_builder_addv (builder, (const char *[]) {
      "-i", key_file, "-o", "IdentitiesOnly=yes", NULL });
  g_strv_builder_add (builder, destination);
  g_strv_builder_add (builder, verb);
  return g_strv_builder_end (builder);
}

static void
append_verb_shape (GString    *out,
                   const char *verb,
                   int         exit_code,
                   const char *stdout_text,
                   gsize       stdout_len,
                   const char *stderr_text,
                   gsize       stderr_len,
                   gboolean    rejected)
{
  g_string_append (out, "\"verb\":");
  cas_json_append_string (out, verb);
  if (exit_code >= 0)
    g_string_append_printf (out, ",\"exit_code\":%d", exit_code);
  else
    g_string_append (out, ",\"exit_code\":null");
  g_string_append (out, ",\"stdout\":");
  cas_json_append_string_len (out, stdout_text != NULL ? stdout_text : "", stdout_len);
  g_string_append (out, ",\"stderr\":");
  cas_json_append_string_len (out, stderr_text != NULL ? stderr_text : "", stderr_len);
  g_string_append_printf (out, ",\"rejected\":%s", rejected ? "true" : "false");
}

char *
cas_power_format_result (const char *verb,
                          int         exit_code,
                          const char *stdout_text,
                          gsize       stdout_len,
                          const char *stderr_text,
                          gsize       stderr_len,
                          gboolean    rejected)
{
  GString *out = g_string_sized_new (128 + stdout_len + stderr_len);

  g_string_append_c (out, '{');
  append_verb_shape (out, verb, exit_code, stdout_text, stdout_len,
                     stderr_text, stderr_len, rejected);
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

/* @text cut to @max_bytes, never inside a character; invalid UTF-8 is
 * left to the JSON writer, which repairs it. */
static char *
cut_utf8 (const char *text,
          gsize       max_bytes)
{
  gsize len = strlen (text);
  const char *end;

  if (len <= max_bytes)
    return g_strdup (text);
  end = text + max_bytes;
  /* Back to the start of the character the cut falls in. */
  while (end > text && ((guint8) *end & 0xc0) == 0x80)
    end--;
  return g_strdup_printf ("%.*s…", (int) (end - text), text);
}

char *
cas_power_format_rejection (const char *verb)
{
  g_autofree char *shown = cut_utf8 (verb != NULL ? verb : "", CAS_POWER_ECHO_MAX_BYTES);
  g_autofree char *detail = g_strdup_printf ("unknown verb '%s'", shown);
  GString *out = g_string_new ("{\"error\":\"unknown_verb\",\"detail\":");

  cas_json_append_string (out, detail);
  g_string_append_c (out, ',');
  append_verb_shape (out, shown, -1, "", 0, "", 0, TRUE);
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}
