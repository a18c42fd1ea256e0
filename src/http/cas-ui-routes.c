/* cas-ui-routes.c: the breakglass web UI (data/ui/, built in as a
 * GResource): each file on its exact path with its type, an ETag from
 * its content (304 when the browser has it) and headers that keep the
 * page to itself. The page carries no secret: these routes are public.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-http"

#include "config.h"

#include <string.h>

#include "cas-ui-routes.h"

#define UI_PREFIX "/org/ClaudeAgentService/ui/"
/* Hex digits of the SHA-256 in an ETag: plenty to tell versions apart. */
#define ETAG_HEX 32

/* Everything from this origin, nothing inline, no frames, no plugins. */
#define CONTENT_SECURITY_POLICY \
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " \
  "connect-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; " \
  "form-action 'self'; frame-ancestors 'none'"

/* gnome.compile_resources (data/ui/meson.build) */
GResource *cas_ui_get_resource (void);

typedef struct {
  GBytes *data;              /* (owned) */
  const char *content_type;  /* (unowned) static */
  char *etag;                /* (owned) with its quotes */
} UiFile;

struct _CasUiRoutes
{
  GObject parent_instance;

  /* URL path to file; "/" and "/index.html" share one. */
  GHashTable *files;         /* (owned) (element-type utf8 UiFile) */
};

G_DEFINE_FINAL_TYPE (CasUiRoutes, cas_ui_routes, G_TYPE_OBJECT)

static void
ui_file_unref (gpointer data)
{
  UiFile *file = data;

  g_bytes_unref (file->data);
  g_free (file->etag);
}

static UiFile *
ui_file_ref (UiFile *file)
{
  return g_atomic_rc_box_acquire (file);
}

static void
ui_file_release (gpointer data)
{
  g_atomic_rc_box_release_full (data, ui_file_unref);
}

static const struct {
  const char *suffix;
  const char *content_type;
} content_types[] = {
  { ".html", "text/html; charset=utf-8" },
  { ".css", "text/css; charset=utf-8" },
  { ".js", "text/javascript; charset=utf-8" },
  { ".webmanifest", "application/manifest+json" },
  { ".svg", "image/svg+xml" },
  { ".png", "image/png" },
};

const char *
cas_ui_content_type (const char *name)
{
  if (name == NULL)
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (content_types); i++)
    if (g_str_has_suffix (name, content_types[i].suffix) &&
        strlen (name) > strlen (content_types[i].suffix))
      return content_types[i].content_type;
  return NULL;
}

gboolean
cas_ui_etag_matches (const char *if_none_match,
                     const char *etag)
{
  g_auto (GStrv) tags = NULL;

  if (if_none_match == NULL || etag == NULL)
    return FALSE;
  /* Headers repeated by the client arrive joined with ", " (libsoup). */
  tags = g_strsplit (if_none_match, ",", -1);
  for (char **tag = tags; *tag != NULL; tag++)
    {
      const char *t = g_strstrip (*tag);

      if (g_str_equal (t, "*"))
        return TRUE;
      if (g_str_has_prefix (t, "W/"))
        t += 2;
      if (g_str_equal (t, etag))
        return TRUE;
    }
  return FALSE;
}

static void
add_security_headers (SoupMessageHeaders *headers)
{
  soup_message_headers_replace (headers, "Content-Security-Policy", CONTENT_SECURITY_POLICY);
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (headers, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (headers, "X-Frame-Options", "DENY");
}

static void
handle_file (CasHttpServer     *server,
             SoupServerMessage *msg,
             const char        *path,
             GHashTable        *query,
             gpointer           user_data)
{
  CasUiRoutes *self = user_data;
  UiFile *file = g_hash_table_lookup (self->files, path);
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *response = soup_server_message_get_response_headers (msg);

  /* Only registered paths get here; this is the belt to those braces. */
  if (file == NULL)
    {
      cas_http_reply_error_status (msg, 404, "not_found", "no such route");
      return;
    }
  add_security_headers (response);
  /* Always revalidated: a new daemon serves a new UI at once, and an
   * unchanged one costs a 304. */
  soup_message_headers_replace (response, "Cache-Control", "no-cache");
  soup_message_headers_replace (response, "ETag", file->etag);
  if (cas_ui_etag_matches (soup_message_headers_get_list (request, "If-None-Match"), file->etag))
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_MODIFIED, NULL);
      /* Else libsoup says "Content-Length: 0", which a 304 must not. */
      soup_message_headers_set_encoding (response, SOUP_ENCODING_NONE);
      return;
    }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_replace (response, "Content-Type", file->content_type);
  /* For HEAD libsoup sends the headers (Content-Length too) and no body. */
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg), file->data);
}

static void
cas_ui_routes_finalize (GObject *object)
{
  CasUiRoutes *self = CAS_UI_ROUTES (object);

  g_clear_pointer (&self->files, g_hash_table_unref);

  G_OBJECT_CLASS (cas_ui_routes_parent_class)->finalize (object);
}

static void
cas_ui_routes_class_init (CasUiRoutesClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_ui_routes_finalize;
}

static void
cas_ui_routes_init (CasUiRoutes *self)
{
  self->files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, ui_file_release);
}

CasUiRoutes *
cas_ui_routes_new (void)
{
  CasUiRoutes *self = g_object_new (CAS_TYPE_UI_ROUTES, NULL);
  GResource *resource = cas_ui_get_resource ();
  g_auto (GStrv) names = g_resource_enumerate_children (resource, UI_PREFIX, 0, NULL);

  /* The files are whatever data/ui/ui.gresource.xml lists, flat; a kind
   * of file without a known type is not served. */
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    {
      g_autofree char *resource_path = g_strconcat (UI_PREFIX, names[i], NULL);
      const char *content_type = cas_ui_content_type (names[i]);
      g_autoptr (GBytes) data = NULL;
      g_autofree char *digest = NULL;
      UiFile *file;

      if (content_type == NULL || strchr (names[i], '/') != NULL)
        continue;
      data = g_resource_lookup_data (resource, resource_path, 0, NULL);
      if (data == NULL)
        continue;
      digest = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, data);
      file = g_atomic_rc_box_new0 (UiFile);
      file->data = g_steal_pointer (&data);
      file->content_type = content_type;
      file->etag = g_strdup_printf ("\"%.*s\"", ETAG_HEX, digest);
      if (g_str_equal (names[i], "index.html"))
        g_hash_table_insert (self->files, g_strdup ("/"), ui_file_ref (file));
      g_hash_table_insert (self->files, g_strconcat ("/", names[i], NULL), file);
    }
  return self;
}

void
cas_ui_routes_register (CasUiRoutes   *self,
                        CasHttpServer *http)
{
  GHashTableIter iter;
  gpointer path;

  g_hash_table_iter_init (&iter, self->files);
  while (g_hash_table_iter_next (&iter, &path, NULL))
    {
      cas_http_server_add_route (http, "GET", path, CAS_ROUTE_PUBLIC, handle_file, self);
      cas_http_server_add_route (http, "HEAD", path, CAS_ROUTE_PUBLIC, handle_file, self);
    }
}
