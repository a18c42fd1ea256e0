/* cas-power-routes.c: GET /api/pve/verbs and POST /api/pve/{verb}: check
 * the verb, ask CasPower, format. 200 when ssh exited 0, 502 otherwise
 * (a timeout too), with the same body; a verb not allowed is 400 and
 * runs nothing; no [pve] host is 503.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-http"

#include "config.h"

#include "cas-error.h"
#include "cas-pending-reply.h"
#include "cas-power-routes.h"
#include "cas-power-verbs.h"

#define VERB_PREFIX "/api/pve/"

struct _CasPowerRoutes
{
  GObject parent_instance;

  CasPower *power;            /* (owned) */
};

G_DEFINE_FINAL_TYPE (CasPowerRoutes, cas_power_routes, G_TYPE_OBJECT)

static void
handle_list (CasHttpServer     *server,
             SoupServerMessage *msg,
             const char        *path,
             GHashTable        *query,
             gpointer           user_data)
{
  cas_http_reply_json (msg, SOUP_STATUS_OK, cas_power_verbs_to_json ());
}

static void
on_verb_done (GObject      *source,
              GAsyncResult *res,
              gpointer      user_data)
{
  g_autoptr (CasPendingReply) reply = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (CasPowerResult) result = cas_power_run_finish (CAS_POWER (source), res, &error);

  if (result == NULL)
    cas_pending_reply_error (reply, error);
  else
    cas_pending_reply_json (reply,
                            result->exit_code == 0 ? SOUP_STATUS_OK : SOUP_STATUS_BAD_GATEWAY,
                            cas_power_result_to_json (result));
}

static void
handle_verb (CasHttpServer     *server,
             SoupServerMessage *msg,
             const char        *path,
             GHashTable        *query,
             gpointer           user_data)
{
  CasPowerRoutes *self = user_data;
  const char *verb = path + strlen (VERB_PREFIX);

  /* libsoup has percent-decoded the path ("%2F" too): what is left must
   * be one of the verbs, byte for byte. */
  if (!cas_power_verb_is_known (verb))
    {
      cas_http_reply_json (msg, SOUP_STATUS_BAD_REQUEST, cas_power_format_rejection (verb));
      return;
    }
  if (!cas_power_is_configured (self->power))
    {
      cas_http_reply_error_status (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "not_configured",
                                   "power verbs are not configured: set [pve] host "
                                   "(or BREAKGLASS_PVE_HOST)");
      return;
    }

  /* The verb runs on if the client goes: then there is nobody to answer. */
  cas_power_run_async (self->power, verb, on_verb_done, cas_pending_reply_new (msg));
}

static void
cas_power_routes_finalize (GObject *object)
{
  CasPowerRoutes *self = CAS_POWER_ROUTES (object);

  g_clear_object (&self->power);

  G_OBJECT_CLASS (cas_power_routes_parent_class)->finalize (object);
}

static void
cas_power_routes_class_init (CasPowerRoutesClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cas_power_routes_finalize;
}

static void
cas_power_routes_init (CasPowerRoutes *self)
{
}

CasPowerRoutes *
cas_power_routes_new (CasPower *power)
{
  CasPowerRoutes *self = g_object_new (CAS_TYPE_POWER_ROUTES, NULL);

  self->power = g_object_ref (power);
  return self;
}

void
cas_power_routes_register (CasPowerRoutes *self,
                           CasHttpServer  *http)
{
  /* The exact route first: "POST /api/pve/verbs" then falls through to
   * the prefix, which refuses "verbs" as a verb. */
  cas_http_server_add_route (http, "GET", "/api/pve/verbs", CAS_ROUTE_NONE, handle_list, self);
  cas_http_server_add_route (http, "POST", VERB_PREFIX, CAS_ROUTE_PREFIX, handle_verb, self);
}
