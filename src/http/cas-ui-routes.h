/* cas-ui-routes.h: the breakglass web UI, served from a GResource.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-http-server.h"

G_BEGIN_DECLS

#define CAS_TYPE_UI_ROUTES (cas_ui_routes_get_type ())
G_DECLARE_FINAL_TYPE (CasUiRoutes, cas_ui_routes, CAS, UI_ROUTES, GObject)

CasUiRoutes *cas_ui_routes_new (void);
/* GET and HEAD, public, on the exact path of each file (and "/" for
 * index.html): nothing else, so the UI never shadows an API route. */
void cas_ui_routes_register (CasUiRoutes   *self,
                             CasHttpServer *http);

/* Pure: the Content-Type for a file @name, or NULL for a kind of file
 * we do not serve. */
const char *cas_ui_content_type (const char *name);

/* Pure: whether an If-None-Match header value (nullable) matches the
 * strong @etag (quotes included), with the weak comparison RFC 9110
 * asks for: "W/" is ignored, "*" matches. */
gboolean cas_ui_etag_matches (const char *if_none_match,
                              const char *etag);

G_END_DECLS
