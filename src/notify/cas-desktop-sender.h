/* cas-desktop-sender.h: the doorbell as a desktop notification
 * (libnotify), with "Open thread" and "Disarm AFK" buttons.
 *
 * Before any libnotify call it asks the session bus whether
 * org.freedesktop.Notifications has an owner or can be activated: with
 * none, libnotify logs its own warning (fatal in tests), and a headless
 * machine is normal. No server is one warning in the log, and the
 * notification waits for the next try.
 *
 * Signal "disarm-requested" (const char *notification_id): the "Disarm
 * AFK" button was pressed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-notify-sender.h"

G_BEGIN_DECLS

#define CAS_TYPE_DESKTOP_SENDER (cas_desktop_sender_get_type ())
G_DECLARE_FINAL_TYPE (CasDesktopSender, cas_desktop_sender, CAS, DESKTOP_SENDER, GObject)

CasDesktopSender *cas_desktop_sender_new (void);

G_END_DECLS
