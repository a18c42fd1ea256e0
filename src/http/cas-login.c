/* cas-login.c: session cookies for the web UI (an EventSource cannot
 * send an Authorization header), and the growing wait of wrong tokens.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-http"

#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/random.h>

#include "cas-error.h"
#include "cas-json.h"
#include "cas-login.h"

#define SESSION_BYTES 32
#define SESSION_HEX_LEN (2 * SESSION_BYTES)
#define MAX_COOKIE_HEADER 8192
#define MAX_COOKIE_VALUES 4
/* Addresses remembered at most; past it the quiet ones are forgotten. */
#define MAX_PEERS 4096

typedef struct {
  guint failures;
  gint64 last_failure_us;
  gint64 next_answer_us;    /* answers to this address wait until then */
} Peer;

struct _CasLogin
{
  GObject parent_instance;

  /* SHA-256 of a session value (hex) -> its end (gint64 us, boxed): the
   * value itself is not kept, and a lookup by hash tells nothing by its
   * timing. */
  GHashTable *sessions;
  GHashTable *peers;        /* address -> Peer */
};

G_DEFINE_FINAL_TYPE (CasLogin, cas_login, G_TYPE_OBJECT)

static void
cas_login_finalize (GObject *object)
{
  CasLogin *self = CAS_LOGIN (object);

  g_hash_table_unref (self->sessions);
  g_hash_table_unref (self->peers);

  G_OBJECT_CLASS (cas_login_parent_class)->finalize (object);
}

static void
cas_login_class_init (CasLoginClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_login_finalize;
}

static void
cas_login_init (CasLogin *self)
{
  self->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->peers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

CasLogin *
cas_login_new (void)
{
  return g_object_new (CAS_TYPE_LOGIN, NULL);
}

static char *
session_key (const char *value)
{
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, value, -1);
}

static void
drop_expired (CasLogin *self,
              gint64    now_us)
{
  GHashTableIter iter;
  gpointer end;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &end))
    if (*(gint64 *) end <= now_us)
      g_hash_table_iter_remove (&iter);
}

static void
drop_nearest_end (CasLogin *self)
{
  GHashTableIter iter;
  gpointer key, end;
  gpointer nearest = NULL;
  gint64 nearest_end = G_MAXINT64;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, &key, &end))
    if (*(gint64 *) end < nearest_end)
      {
        nearest = key;
        nearest_end = *(gint64 *) end;
      }
  if (nearest != NULL)
    g_hash_table_remove (self->sessions, nearest);
}

char *
cas_login_open_session (CasLogin *self,
                        gint64    now_us)
{
  guint8 bytes[SESSION_BYTES];
  GString *value;
  gint64 *end;

  /* It does not fail for 32 bytes once the pool is ready; if it did, no
   * session rather than a guessable one. */
  if (getrandom (bytes, sizeof bytes, 0) != sizeof bytes)
    return NULL;
  value = g_string_sized_new (SESSION_HEX_LEN);
  end = g_new (gint64, 1);
  for (guint i = 0; i < sizeof bytes; i++)
    g_string_append_printf (value, "%02x", bytes[i]);
  explicit_bzero (bytes, sizeof bytes);

  drop_expired (self, now_us);
  while (g_hash_table_size (self->sessions) >= CAS_LOGIN_MAX_SESSIONS)
    drop_nearest_end (self);
  *end = now_us + (gint64) CAS_LOGIN_SESSION_SECONDS * G_USEC_PER_SEC;
  g_hash_table_insert (self->sessions, session_key (value->str), end);
  return g_string_free (value, FALSE);
}

/* 64 lower-case hex digits: a session value, and the SHA-256 of one as
 * g_compute_checksum_for_string () writes it. */
static gboolean
is_hex_64 (const char *value,
           gsize       len)
{
  if (len != SESSION_HEX_LEN)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isdigit (value[i]) && !(value[i] >= 'a' && value[i] <= 'f'))
      return FALSE;
  return TRUE;
}

GStrv
cas_login_cookie_values (const char *cookie_header)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  const char *p = cookie_header;
  guint found = 0;

  if (cookie_header == NULL || strlen (cookie_header) > MAX_COOKIE_HEADER)
    return g_strv_builder_end (builder);
  /* "name=value; name=value" (RFC 6265 5.4), read leniently: pairs split
   * at ';', blanks around them dropped; only our name and a well-formed
   * value count. */
  while (*p != '\0' && found < MAX_COOKIE_VALUES)
    {
      const char *end = strchr (p, ';');
      const char *pair_end = end != NULL ? end : p + strlen (p);
      const char *eq;
      gsize name_len;

      while (p < pair_end && (*p == ' ' || *p == '\t'))
        p++;
      eq = memchr (p, '=', pair_end - p);
      if (eq != NULL)
        {
          const char *value = eq + 1;
          const char *value_end = pair_end;

          name_len = eq - p;
          while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t'))
            value_end--;
          if (name_len == strlen (CAS_LOGIN_COOKIE_NAME) &&
              memcmp (p, CAS_LOGIN_COOKIE_NAME, name_len) == 0 &&
              is_hex_64 (value, value_end - value))
            {
              g_autofree char *found_value = g_strndup (value, value_end - value);

              g_strv_builder_add (builder, found_value);
              found++;
            }
        }
      if (end == NULL)
        break;
      p = end + 1;
    }
  return g_strv_builder_end (builder);
}

gboolean
cas_login_check_cookie_header (CasLogin   *self,
                               const char *cookie_header,
                               gint64      now_us)
{
  g_auto (GStrv) values = cas_login_cookie_values (cookie_header);

  for (guint i = 0; values[i] != NULL; i++)
    {
      g_autofree char *key = session_key (values[i]);
      gint64 *end = g_hash_table_lookup (self->sessions, key);

      if (end == NULL)
        continue;
      if (*end > now_us)
        return TRUE;
      g_hash_table_remove (self->sessions, key);
    }
  return FALSE;
}

guint
cas_login_close_cookie_header (CasLogin   *self,
                               const char *cookie_header)
{
  g_auto (GStrv) values = cas_login_cookie_values (cookie_header);
  guint closed = 0;

  for (guint i = 0; values[i] != NULL; i++)
    {
      g_autofree char *key = session_key (values[i]);

      closed += g_hash_table_remove (self->sessions, key);
    }
  return closed;
}

guint
cas_login_get_session_count (CasLogin *self)
{
  return g_hash_table_size (self->sessions);
}

char *
cas_login_sessions_to_json (CasLogin *self,
                            gint64    now_us)
{
  GString *out = g_string_new ("{\"sessions\":[");
  GHashTableIter iter;
  gpointer key, end;
  gboolean first = TRUE;

  drop_expired (self, now_us);
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, &key, &end))
    {
      g_string_append (out, first ? "{\"hash\":" : ",{\"hash\":");
      cas_json_append_string (out, key);
      g_string_append_printf (out, ",\"expires_us\":%" G_GINT64_FORMAT "}", *(gint64 *) end);
      first = FALSE;
    }
  g_string_append (out, "]}\n");
  return g_string_free (out, FALSE);
}

guint
cas_login_restore_sessions (CasLogin   *self,
                            const char *json,
                            gsize       length,
                            gint64      now_us,
                            GError    **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  JsonNode *root;
  JsonNode *list;
  JsonArray *array;
  gint64 latest_end = now_us + (gint64) CAS_LOGIN_SESSION_SECONDS * G_USEC_PER_SEC;
  guint restored = 0;

  if (length > CAS_LOGIN_MAX_SAVED_BYTES)
    {
      g_set_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                   "%" G_GSIZE_FORMAT " bytes is too large for a list of sessions", length);
      return 0;
    }
  if (!json_parser_load_from_data (parser, json, length, error))
    return 0;
  root = json_parser_get_root (parser);
  list = root != NULL && JSON_NODE_HOLDS_OBJECT (root)
         ? json_object_get_member (json_node_get_object (root), "sessions") : NULL;
  if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "not a list of sessions");
      return 0;
    }
  array = json_node_get_array (list);
  /* What does not look like ours is left out, one entry at a time. */
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonObject *entry = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
      JsonNode *hash = entry != NULL ? json_object_get_member (entry, "hash") : NULL;
      JsonNode *end = entry != NULL ? json_object_get_member (entry, "expires_us") : NULL;
      gint64 *kept_end;

      if (g_hash_table_size (self->sessions) >= CAS_LOGIN_MAX_SESSIONS)
        break;
      if (hash == NULL || json_node_get_value_type (hash) != G_TYPE_STRING ||
          end == NULL || json_node_get_value_type (end) != G_TYPE_INT64 ||
          !is_hex_64 (json_node_get_string (hash), strlen (json_node_get_string (hash))) ||
          json_node_get_int (end) <= now_us)
        continue;
      kept_end = g_new (gint64, 1);
      /* Never longer than a new session: a clock set back, or an edited
       * file, does not stretch one. */
      *kept_end = MIN (json_node_get_int (end), latest_end);
      if (!g_hash_table_contains (self->sessions, json_node_get_string (hash)))
        restored++;
      g_hash_table_insert (self->sessions, g_strdup (json_node_get_string (hash)), kept_end);
    }
  return restored;
}

static gboolean
peer_is_quiet (Peer   *peer,
               gint64  now_us)
{
  return peer->next_answer_us <= now_us &&
         now_us - peer->last_failure_us > (gint64) CAS_LOGIN_FAILURE_MEMORY_SECONDS * G_USEC_PER_SEC;
}

static void
forget_quiet_peers (CasLogin *self,
                    gint64    now_us)
{
  GHashTableIter iter;
  gpointer peer;

  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, NULL, &peer))
    if (peer_is_quiet (peer, now_us))
      g_hash_table_iter_remove (&iter);
  /* Thousands of addresses all failing at once: start again rather than
   * grow without end. */
  if (g_hash_table_size (self->peers) >= MAX_PEERS)
    g_hash_table_remove_all (self->peers);
}

gint64
cas_login_plan_answer (CasLogin   *self,
                       const char *peer_address,
                       gboolean    right,
                       gint64      now_us,
                       guint      *failures)
{
  Peer *peer = g_hash_table_lookup (self->peers, peer_address != NULL ? peer_address : "");
  gint64 from;
  gint64 step_ms;

  if (failures != NULL)
    *failures = 0;
  if (peer == NULL)
    {
      if (right)
        return 0;
      if (g_hash_table_size (self->peers) >= MAX_PEERS)
        forget_quiet_peers (self, now_us);
      peer = g_new0 (Peer, 1);
      g_hash_table_insert (self->peers, g_strdup (peer_address != NULL ? peer_address : ""),
                           peer);
    }
  if (peer_is_quiet (peer, now_us))
    peer->failures = 0;
  if (peer->next_answer_us - now_us > (gint64) CAS_LOGIN_MAX_QUEUED_MS * 1000)
    {
      if (failures != NULL)
        *failures = peer->failures;
      return -1;
    }
  from = MAX (now_us, peer->next_answer_us);
  if (right)
    {
      /* Still after the wrong ones queued before it: a right guess among
       * many sent at once is not told apart any sooner. */
      peer->failures = 0;
      return (from - now_us) / 1000;
    }
  peer->failures = MIN (peer->failures + 1, 64);
  step_ms = MIN ((gint64) CAS_LOGIN_BASE_DELAY_MS << MIN (peer->failures - 1, 16),
                 (gint64) CAS_LOGIN_MAX_DELAY_MS);
  peer->last_failure_us = now_us;
  peer->next_answer_us = from + step_ms * 1000;
  if (failures != NULL)
    *failures = peer->failures;
  return (peer->next_answer_us - now_us) / 1000;
}

char *
cas_login_format_set_cookie (const char *value,
                             gboolean    secure)
{
  /* Path=/api: the cookie is for the API the UI calls, and nothing
   * outside /api/ accepts it anyway. */
  if (value == NULL)
    return g_strdup_printf (CAS_LOGIN_COOKIE_NAME "=; Path=/api; Max-Age=0; HttpOnly; "
                            "SameSite=Strict%s", secure ? "; Secure" : "");
  return g_strdup_printf (CAS_LOGIN_COOKIE_NAME "=%s; Path=/api; Max-Age=%u; HttpOnly; "
                          "SameSite=Strict%s", value, (guint) CAS_LOGIN_SESSION_SECONDS,
                          secure ? "; Secure" : "");
}
