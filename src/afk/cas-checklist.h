/* cas-checklist.h: the one progress comment of an AFK run, both ways.
 *
 * Each run keeps one comment on its issue, edited in place (SPEC 6): a
 * Markdown checklist people read, escalation details included (the run
 * writes no other comment), and at its end the run's whole state in a
 * hidden marker,
 *
 *   <!-- claude-agent-service:afk-run v1 <base64 of the run's JSON> -->
 *
 * so a lost state file can be rebuilt from the issue. Base64 has no "--"
 * or ">", so the marker stays one HTML comment, which Markdown leaves
 * alone and GitHub does not show. Text from outside (the title, error
 * words) is escaped so it can neither end the comment, fake a marker nor
 * mention anyone.
 *
 * The loop trusts only comments written by the service's own login;
 * parsing is still total on any body, someone else's imitation included.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cas-run.h"

G_BEGIN_DECLS

#define CAS_CHECKLIST_MARKER "<!-- claude-agent-service:afk-run v1 "
#define CAS_CHECKLIST_MARKER_END " -->"
/* The longest base64 state we read back (GitHub comments hold 65536
 * characters). */
#define CAS_CHECKLIST_MAX_STATE_BYTES (64 * 1024)

/* The comment's Markdown. @thread_link (nullable) is the T3 link of the
 * run's thread; shown only when it is a plain http(s) URL. */
char *cas_checklist_render (const CasRun *run,
                            const char   *thread_link);

/* Does @body carry a marker (of any run)? */
gboolean cas_checklist_has_marker (const char *body,
                                   gssize      length);

/* The run in the last marker of @body, or NULL with
 * CAS_ERROR_INVALID_ARGUMENT: no marker, a marker that is not base64,
 * state that is not a run (cas_run_from_json), or, when @repo is given,
 * a run of another issue than @repo#@number. */
CasRun *cas_checklist_parse (const char *body,
                             gssize      length,
                             const char *repo,
                             guint       number,
                             GError    **error);

G_END_DECLS
