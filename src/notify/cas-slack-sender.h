/* cas-slack-sender.h: the doorbell as a Slack incoming-webhook message.
 *
 * The webhook URL is a secret (whoever has it can post to the channel):
 * it is read from [notify] slack-webhook-file or the systemd credential
 * "slack-webhook" at every send and never logged.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-notify-sender.h"

G_BEGIN_DECLS

/* Pure: {"text": "..."} in Slack's mrkdwn, the title in bold and the
 * link as <url|Open thread>; &, < and > in our text escaped as Slack
 * asks. */
char *cas_slack_payload (CasNotification *notification);

/* Pure: the request (nothing is sent). Errors never contain the URL. */
SoupMessage *cas_slack_build_message (const char      *webhook_url,
                                      CasNotification *notification,
                                      GError         **error);

#define CAS_TYPE_SLACK_SENDER (cas_slack_sender_get_type ())
G_DECLARE_FINAL_TYPE (CasSlackSender, cas_slack_sender, CAS, SLACK_SENDER, GObject)

/* @webhook_file may be NULL (then only the credential is looked at). */
CasSlackSender *cas_slack_sender_new (const char         *webhook_file,
                                      const char * const *envp);

/* Whether a webhook is configured at all: the file is named, or the
 * credential exists. */
gboolean cas_slack_sender_is_configured (const char         *webhook_file,
                                         const char * const *envp);

G_END_DECLS
