/* cas-notification.c: what a doorbell is.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-notify"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cas-error.h"
#include "cas-json.h"
#include "cas-notification.h"

#define MAX_RUN_ID 128
#define MAX_REPO 200

static const char *const kind_names[] = {
  [CAS_NOTIFICATION_DONE] = "done",
  [CAS_NOTIFICATION_NEEDS_HUMAN] = "needs-human",
  [CAS_NOTIFICATION_FROZEN] = "frozen",
};

const char *
cas_notification_kind_to_string (CasNotificationKind kind)
{
  if ((guint) kind >= G_N_ELEMENTS (kind_names))
    return NULL;
  return kind_names[kind];
}

gboolean
cas_notification_kind_from_string (const char          *text,
                                   CasNotificationKind *kind)
{
  for (guint i = 0; i < G_N_ELEMENTS (kind_names); i++)
    if (g_strcmp0 (text, kind_names[i]) == 0)
      {
        *kind = (CasNotificationKind) i;
        return TRUE;
      }
  return FALSE;
}

gboolean
cas_notification_kind_is_escalation (CasNotificationKind kind)
{
  return kind == CAS_NOTIFICATION_NEEDS_HUMAN || kind == CAS_NOTIFICATION_FROZEN;
}

static gboolean
is_name_char (char c)
{
  return g_ascii_isalnum (c) || c == '.' || c == '_' || c == '-';
}

static gboolean
is_name (const char *text,
         gsize       length)
{
  if (length == 0)
    return FALSE;
  if ((length == 1 && text[0] == '.') || (length == 2 && text[0] == '.' && text[1] == '.'))
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!is_name_char (text[i]))
      return FALSE;
  return TRUE;
}

static gboolean
repo_is_valid (const char *repo)
{
  const char *slash;
  gsize length;

  if (repo == NULL)
    return FALSE;
  length = strlen (repo);
  slash = strchr (repo, '/');
  if (length > MAX_REPO || slash == NULL)
    return FALSE;
  return is_name (repo, slash - repo) && is_name (slash + 1, length - (slash + 1 - repo));
}

/* A run id may be a T3 thread id, which may hold ':' too. */
static gboolean
run_id_is_valid (const char *run_id)
{
  gsize length = run_id != NULL ? strlen (run_id) : 0;

  if (length == 0 || length > MAX_RUN_ID || strcmp (run_id, ".") == 0 || strcmp (run_id, "..") == 0)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!is_name_char (run_id[i]) && run_id[i] != ':')
      return FALSE;
  return TRUE;
}

gboolean
cas_notification_link_is_valid (const char *text)
{
  g_autoptr (GUri) uri = NULL;
  const char *scheme;

  if (text == NULL || strlen (text) > CAS_NOTIFICATION_MAX_LINK ||
      !g_str_is_ascii (text))
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (g_ascii_iscntrl (*p) || *p == ' ')
      return FALSE;
  uri = g_uri_parse (text, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL)
    return FALSE;
  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "https") != 0 && g_ascii_strcasecmp (scheme, "http") != 0)
    return FALSE;
  return g_uri_get_host (uri) != NULL && *g_uri_get_host (uri) != '\0';
}

/* Valid UTF-8, cut to @max_bytes at a character boundary; control
 * characters become spaces (newlines too unless @keep_newlines). */
static char *
clean_text (const char *text,
            gsize       max_bytes,
            gboolean    keep_newlines)
{
  g_autofree char *valid = g_utf8_make_valid (text != NULL ? text : "", -1);
  GString *out = g_string_sized_new (MIN (strlen (valid), max_bytes) + 1);

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      const char *next = g_utf8_next_char (p);

      if (out->len + (next - p) > max_bytes)
        break;
      if (c == '\n' && keep_newlines)
        g_string_append_c (out, '\n');
      else if (g_unichar_iscntrl (c) || c == 0x2028 || c == 0x2029)
        g_string_append_c (out, ' ');
      else
        g_string_append_len (out, p, next - p);
    }
  return g_string_free (out, FALSE);
}

CasNotification *
cas_notification_new (CasNotificationKind kind,
                      const char         *repo,
                      guint64             issue,
                      const char         *issue_title,
                      const char         *reason,
                      const char         *link,
                      const char         *run_id,
                      GError            **error)
{
  CasNotification *self;

  if (cas_notification_kind_to_string (kind) == NULL)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "unknown notification kind");
      return NULL;
    }
  if (!repo_is_valid (repo))
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "repo is not owner/name");
      return NULL;
    }
  if (issue == 0 || issue > G_MAXINT64)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "issue is not a positive number");
      return NULL;
    }
  if (!run_id_is_valid (run_id))
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "run id is not 1-128 of [A-Za-z0-9._:-]");
      return NULL;
    }
  if (link != NULL && !cas_notification_link_is_valid (link))
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "link is not an http(s) URI");
      return NULL;
    }

  self = g_atomic_rc_box_new0 (CasNotification);
  self->kind = kind;
  self->repo = g_strdup (repo);
  self->issue = issue;
  self->issue_title = clean_text (issue_title, CAS_NOTIFICATION_MAX_TITLE, FALSE);
  self->reason = reason != NULL ? clean_text (reason, CAS_NOTIFICATION_MAX_REASON, TRUE) : NULL;
  self->link = g_strdup (link);
  self->run_id = g_strdup (run_id);
  self->id = g_strdup_printf ("%s#%" G_GUINT64_FORMAT ":%s:%s", repo, issue,
                              cas_notification_kind_to_string (kind), run_id);
  return self;
}

CasNotification *
cas_notification_ref (CasNotification *self)
{
  return g_atomic_rc_box_acquire (self);
}

static void
notification_clear (gpointer data)
{
  CasNotification *self = data;

  g_free (self->id);
  g_free (self->repo);
  g_free (self->issue_title);
  g_free (self->reason);
  g_free (self->link);
  g_free (self->run_id);
}

void
cas_notification_unref (CasNotification *self)
{
  g_atomic_rc_box_release_full (self, notification_clear);
}

gboolean
cas_notification_is_escalation (const CasNotification *self)
{
  return cas_notification_kind_is_escalation (self->kind);
}

char *
cas_notification_dup_subject (const CasNotification *self)
{
  return g_strdup_printf ("%s#%" G_GUINT64_FORMAT, self->repo, self->issue);
}

char *
cas_notification_dup_title (const CasNotification *self)
{
  g_autofree char *subject = cas_notification_dup_subject (self);

  switch (self->kind)
    {
    case CAS_NOTIFICATION_DONE:
      /* TRANSLATORS: %s is an issue, "owner/repo#12" */
      return g_strdup_printf (_("Done: %s"), subject);
    case CAS_NOTIFICATION_NEEDS_HUMAN:
      /* TRANSLATORS: %s is an issue, "owner/repo#12" */
      return g_strdup_printf (_("Needs you: %s"), subject);
    case CAS_NOTIFICATION_FROZEN:
      /* TRANSLATORS: %s is an issue, "owner/repo#12" */
      return g_strdup_printf (_("Frozen: %s"), subject);
    default:
      return g_steal_pointer (&subject);
    }
}

static const char *
default_reason (CasNotificationKind kind)
{
  switch (kind)
    {
    case CAS_NOTIFICATION_DONE:
      return _("Pushed, CI is green and the issue is closed.");
    case CAS_NOTIFICATION_NEEDS_HUMAN:
      return _("The run is stuck and needs a person.");
    case CAS_NOTIFICATION_FROZEN:
      return _("Fix-forward gave up; the broken commit is left in place.");
    default:
      return "";
    }
}

char *
cas_notification_dup_body (const CasNotification *self)
{
  const char *reason = self->reason != NULL && *self->reason != '\0'
                         ? self->reason
                         : default_reason (self->kind);

  if (*self->issue_title == '\0')
    return g_strdup (reason);
  return g_strdup_printf ("%s\n%s", self->issue_title, reason);
}

void
cas_notification_append_json (const CasNotification *self,
                              GString               *out)
{
  g_string_append (out, "{\"id\":");
  cas_json_append_string (out, self->id);
  g_string_append (out, ",\"kind\":");
  cas_json_append_string (out, cas_notification_kind_to_string (self->kind));
  g_string_append (out, ",\"repo\":");
  cas_json_append_string (out, self->repo);
  g_string_append_printf (out, ",\"issue\":%" G_GUINT64_FORMAT ",\"title\":", self->issue);
  cas_json_append_string (out, self->issue_title);
  g_string_append (out, ",\"reason\":");
  cas_json_append_string (out, self->reason);
  g_string_append (out, ",\"link\":");
  cas_json_append_string (out, self->link);
  g_string_append (out, ",\"run_id\":");
  cas_json_append_string (out, self->run_id);
  g_string_append_c (out, '}');
}

/* A string member, NULL when absent or null; FALSE for another type. */
static gboolean
get_optional_string (JsonObject  *object,
                     const char  *member,
                     const char **value)
{
  JsonNode *node = json_object_get_member (object, member);

  *value = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return FALSE;
  *value = json_node_get_string (node);
  return TRUE;
}

CasNotification *
cas_notification_from_json (JsonObject *object,
                            GError    **error)
{
  CasNotificationKind kind;
  const char *title;
  const char *reason;
  const char *link;
  gint64 issue;
  g_autoptr (CasNotification) self = NULL;

  if (object == NULL)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "notification is not an object");
      return NULL;
    }
  if (!cas_notification_kind_from_string (cas_json_get_string (object, "kind", NULL), &kind))
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "kind is not done, needs-human or frozen");
      return NULL;
    }
  issue = cas_json_get_int (object, "issue", 0);
  if (!get_optional_string (object, "title", &title) ||
      !get_optional_string (object, "reason", &reason) ||
      !get_optional_string (object, "link", &link))
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "title, reason or link is not a string");
      return NULL;
    }
  self = cas_notification_new (kind, cas_json_get_string (object, "repo", NULL),
                               issue > 0 ? (guint64) issue : 0, title, reason, link,
                               cas_json_get_string (object, "run_id", NULL), error);
  if (self == NULL)
    return NULL;
  /* The id is derived; a stored one that differs was not written by us. */
  if (g_strcmp0 (cas_json_get_string (object, "id", NULL), self->id) != 0)
    {
      g_set_error_literal (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT,
                           "id does not match the notification");
      return NULL;
    }
  return g_steal_pointer (&self);
}
