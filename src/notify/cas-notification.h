/* cas-notification.h: what a doorbell is. Pure: no I/O, no clock.
 *
 * A notification says that one run of the AFK loop reached a terminal
 * state. Its id, "owner/repo#N:<kind>:<run id>", is the same every time
 * the same run reaches the same state, so ringing it twice (also across
 * a restart) is one doorbell. Title and body are made when it is shown,
 * in the language of that moment; the fields are what is stored.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
  CAS_NOTIFICATION_DONE,
  CAS_NOTIFICATION_NEEDS_HUMAN,
  CAS_NOTIFICATION_FROZEN,
} CasNotificationKind;

/* Longest stored issue title and reason, in bytes (longer ones are cut
 * at a character boundary). */
#define CAS_NOTIFICATION_MAX_TITLE 512
#define CAS_NOTIFICATION_MAX_REASON 2048
#define CAS_NOTIFICATION_MAX_LINK 2048

/* Immutable and reference counted; every field is owned. */
typedef struct {
  char *id;
  CasNotificationKind kind;
  char *repo;        /* owner/name */
  guint64 issue;     /* > 0 */
  char *issue_title; /* valid UTF-8, no control characters; may be "" */
  char *reason;      /* (nullable) valid UTF-8; newlines kept */
  char *link;        /* (nullable) an absolute http(s) URI: the T3 thread */
  char *run_id;
} CasNotification;

/* "done", "needs-human", "frozen"; NULL for a value out of range. */
const char *cas_notification_kind_to_string (CasNotificationKind kind);
/* FALSE for anything else. */
gboolean cas_notification_kind_from_string (const char          *text,
                                            CasNotificationKind *kind);

/* Needs-human and frozen: a person must act (critical urgency). */
gboolean cas_notification_kind_is_escalation (CasNotificationKind kind);

/* Checks and copies: @repo must be owner/name ([A-Za-z0-9._-], neither
 * part "." or ".."), @issue > 0, @run_id 1-128 of [A-Za-z0-9._:-] (a T3
 * thread id will do), not "." or "..",
 * @link (nullable) an absolute http or https URI with a host. The title
 * and reason are repaired (invalid UTF-8, control characters) and cut to
 * length, never refused. Fails with CAS_ERROR_INVALID_ARGUMENT. */
CasNotification *cas_notification_new (CasNotificationKind kind,
                                       const char         *repo,
                                       guint64             issue,
                                       const char         *issue_title,
                                       const char         *reason,
                                       const char         *link,
                                       const char         *run_id,
                                       GError            **error);

CasNotification *cas_notification_ref (CasNotification *self);
void cas_notification_unref (CasNotification *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasNotification, cas_notification_unref)

gboolean cas_notification_is_escalation (const CasNotification *self);

/* "owner/repo#N". */
char *cas_notification_dup_subject (const CasNotification *self);

/* Translated, one line: "Needs you: owner/repo#12". */
char *cas_notification_dup_title (const CasNotification *self);

/* Translated: the issue title, then the reason (or a sentence for the
 * kind when there is none). Plain text. */
char *cas_notification_dup_body (const CasNotification *self);

/* Appends the stored fields as a JSON object (through cas-json). */
void cas_notification_append_json (const CasNotification *self,
                                   GString               *out);

/* Reads what cas_notification_append_json wrote; NULL (never a critical)
 * with CAS_ERROR_INVALID_ARGUMENT for anything else. */
CasNotification *cas_notification_from_json (JsonObject *object,
                                             GError    **error);

/* Whether @text is an absolute http(s) URI with a host, of sane length:
 * the only links opened or sent. */
gboolean cas_notification_link_is_valid (const char *text);

G_END_DECLS
