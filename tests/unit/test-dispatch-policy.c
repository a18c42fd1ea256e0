/* The AFK dispatch policy: each gate of SPEC 6 refusing on its own and in
 * order, failing closed on what is not known, one winner per repo by
 * priority then number, the locks, and the JSON and GVariant shapes the
 * plan is shown in. */
#include <string.h>

#include "cas-dispatch-policy.h"
#include "cas-json.h"

static const char *const allowlist[] = { "owner/repo", "owner/other", NULL };

static const CasDispatchSettings settings = {
  .allowlist = allowlist,
  .self_login = "afk-bot",
  .ready_label = "ready-for-agent",
  .in_progress_label = "agent-in-progress",
  .paused_label = "paused",
};

/* A candidate that passes every gate. */
static CasCandidate *
good (const char *repo,
      guint       number,
      const char *extra_label)
{
  CasCandidate *candidate = cas_candidate_new (repo, number, "Title");
  const char *labels[] = { "ready-for-agent", extra_label, NULL };

  cas_candidate_set_labels (candidate, labels);
  cas_candidate_set_labeller (candidate, "alice", CAS_PERMISSION_WRITE);
  return candidate;
}

static CasDispatchPlan *
decide (GPtrArray *candidates,
        GPtrArray *locks)
{
  return cas_dispatch_policy_decide (candidates, &settings, locks);
}

static CasDispatchVerdict *
verdict_at (CasDispatchPlan *plan,
            guint            i)
{
  return g_ptr_array_index (plan->verdicts, i);
}

/* Decide one candidate alone; its reason, and the message checked. */
static CasDispatchReason
decide_one (CasCandidate *candidate,
            const char   *words)
{
  g_autoptr (GPtrArray) candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_candidate_free);
  g_autoptr (CasDispatchPlan) plan = NULL;
  CasDispatchVerdict *verdict;

  g_ptr_array_add (candidates, candidate);
  plan = decide (candidates, NULL);
  g_assert_cmpuint (plan->verdicts->len, ==, 1);
  verdict = verdict_at (plan, 0);
  g_assert_nonnull (verdict->message);
  g_assert_true (g_utf8_validate (verdict->message, -1, NULL));
  if (words != NULL && strstr (verdict->message, words) == NULL)
    g_error ("“%s” does not mention “%s”", verdict->message, words);
  g_assert_cmpuint (plan->winners->len, ==, verdict->reason == CAS_DISPATCH_WIN ? 1 : 0);
  return verdict->reason;
}

static void
test_each_gate (void)
{
  CasCandidate *c;

  g_assert_cmpint (decide_one (good ("owner/repo", 1, NULL), "goes first"), ==, CAS_DISPATCH_WIN);
  /* Repos compare without case. */
  g_assert_cmpint (decide_one (good ("Owner/Repo", 1, NULL), NULL), ==, CAS_DISPATCH_WIN);

  g_assert_cmpint (decide_one (good ("owner/elsewhere", 1, NULL), "owner/elsewhere"), ==,
                   CAS_DISPATCH_NOT_ALLOWLISTED);
  g_assert_cmpint (decide_one (good ("not a repo", 1, NULL), NULL), ==, CAS_DISPATCH_NOT_ALLOWLISTED);
  g_assert_cmpint (decide_one (good (NULL, 1, NULL), NULL), ==, CAS_DISPATCH_NOT_ALLOWLISTED);
  g_assert_cmpint (decide_one (good ("owner/repo\xff", 1, NULL), NULL), ==, CAS_DISPATCH_NOT_ALLOWLISTED);

  c = good ("owner/repo", 2, NULL);
  c->is_pull_request = TRUE;
  g_assert_cmpint (decide_one (c, "pull request"), ==, CAS_DISPATCH_NOT_AN_ISSUE);

  c = good ("owner/repo", 3, NULL);
  c->open = FALSE;
  g_assert_cmpint (decide_one (c, "closed"), ==, CAS_DISPATCH_NOT_READY);
  c = good ("owner/repo", 0, NULL);
  g_assert_cmpint (decide_one (c, NULL), ==, CAS_DISPATCH_NOT_READY);
  c = good ("owner/repo", 3, NULL);
  cas_candidate_set_labels (c, NULL);
  g_assert_cmpint (decide_one (c, "ready-for-agent"), ==, CAS_DISPATCH_NOT_READY);
  c = good ("owner/repo", 3, NULL);
  {
    const char *labels[] = { "READY-FOR-AGENT", NULL };

    cas_candidate_set_labels (c, labels);
  }
  g_assert_cmpint (decide_one (c, NULL), ==, CAS_DISPATCH_WIN);

  c = good ("owner/repo", 4, NULL);
  cas_candidate_set_labeller (c, NULL, CAS_PERMISSION_ADMIN);
  g_assert_cmpint (decide_one (c, "not known"), ==, CAS_DISPATCH_LABELLER_UNKNOWN);
  c = good ("owner/repo", 4, NULL);
  cas_candidate_set_labeller (c, "", CAS_PERMISSION_ADMIN);
  g_assert_cmpint (decide_one (c, NULL), ==, CAS_DISPATCH_LABELLER_UNKNOWN);
  c = good ("owner/repo", 4, NULL);
  cas_candidate_set_labeller (c, "alice", CAS_PERMISSION_UNKNOWN);
  g_assert_cmpint (decide_one (c, "alice"), ==, CAS_DISPATCH_LABELLER_UNKNOWN);

  for (CasPermission p = CAS_PERMISSION_NONE; p <= CAS_PERMISSION_ADMIN; p++)
    {
      CasDispatchReason expected = p >= CAS_PERMISSION_WRITE ? CAS_DISPATCH_WIN
                                                              : CAS_DISPATCH_UNTRUSTED_LABELLER;

      c = good ("owner/repo", 5, NULL);
      cas_candidate_set_labeller (c, "mallory", p);
      g_assert_cmpint (decide_one (c, expected == CAS_DISPATCH_WIN ? NULL : "mallory"), ==, expected);
    }

  c = good ("owner/repo", 6, NULL);
  cas_candidate_set_labeller (c, "AFK-Bot", CAS_PERMISSION_ADMIN);
  g_assert_cmpint (decide_one (c, "AFK-Bot"), ==, CAS_DISPATCH_LABELLED_BY_SELF);

  c = good ("owner/repo", 7, "Paused");
  g_assert_cmpint (decide_one (c, "paused"), ==, CAS_DISPATCH_PAUSED);

  c = good ("owner/repo", 8, NULL);
  cas_candidate_add_blocker (c, NULL, 3, CAS_BLOCKER_CLOSED);
  cas_candidate_add_blocker (c, "owner/other", 4, CAS_BLOCKER_CLOSED);
  g_assert_cmpint (decide_one (c, NULL), ==, CAS_DISPATCH_WIN);
  c = good ("owner/repo", 8, NULL);
  cas_candidate_add_blocker (c, NULL, 3, CAS_BLOCKER_CLOSED);
  cas_candidate_add_blocker (c, "x/y", 4, CAS_BLOCKER_OPEN);
  g_assert_cmpint (decide_one (c, "x/y#4, which is still open"), ==, CAS_DISPATCH_BLOCKED);
  c = good ("owner/repo", 8, NULL);
  cas_candidate_add_blocker (c, NULL, 3, CAS_BLOCKER_UNKNOWN);
  g_assert_cmpint (decide_one (c, "#3, whose state is not known"), ==, CAS_DISPATCH_BLOCKED);
  c = good ("owner/repo", 8, NULL);
  c->blockers_truncated = TRUE;
  g_assert_cmpint (decide_one (c, "more than"), ==, CAS_DISPATCH_BLOCKED);

  c = good ("owner/repo", 9, "agent-in-progress");
  g_assert_cmpint (decide_one (c, "#9"), ==, CAS_DISPATCH_REPO_LOCKED);
}

static void
test_gate_order (void)
{
  /* Every gate fails at once: the first one in SPEC 6's order names it;
   * then take them away one by one. */
  static const CasDispatchReason order[] = {
    CAS_DISPATCH_NOT_ALLOWLISTED, CAS_DISPATCH_NOT_AN_ISSUE, CAS_DISPATCH_NOT_READY,
    CAS_DISPATCH_LABELLER_UNKNOWN, CAS_DISPATCH_UNTRUSTED_LABELLER, CAS_DISPATCH_LABELLED_BY_SELF,
    CAS_DISPATCH_PAUSED, CAS_DISPATCH_BLOCKED, CAS_DISPATCH_REPO_LOCKED, CAS_DISPATCH_WIN,
  };

  for (guint fixed = 0; fixed < G_N_ELEMENTS (order); fixed++)
    {
      CasCandidate *c = cas_candidate_new (fixed > 0 ? "owner/repo" : "owner/nope", 5, NULL);
      g_autoptr (GPtrArray) labels = g_ptr_array_new ();

      c->is_pull_request = fixed <= 1;
      if (fixed > 2)
        g_ptr_array_add (labels, "ready-for-agent");
      if (fixed <= 6)
        g_ptr_array_add (labels, "paused");
      if (fixed <= 8)
        g_ptr_array_add (labels, "agent-in-progress");
      g_ptr_array_add (labels, NULL);
      cas_candidate_set_labels (c, (const char *const *) labels->pdata);
      if (fixed > 3)
        cas_candidate_set_labeller (c, fixed <= 4 ? "eve" : fixed <= 5 ? "afk-bot" : "alice",
                                    fixed <= 4 ? CAS_PERMISSION_READ : CAS_PERMISSION_ADMIN);
      if (fixed <= 7)
        cas_candidate_add_blocker (c, NULL, 1, CAS_BLOCKER_OPEN);

      g_assert_cmpstr (cas_dispatch_reason_to_string (decide_one (c, NULL)), ==,
                       cas_dispatch_reason_to_string (order[fixed]));
    }
}

static void
test_fail_closed_settings (void)
{
  CasDispatchSettings s = settings;
  g_autoptr (GPtrArray) candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_candidate_free);
  g_autoptr (CasDispatchPlan) p1 = NULL;
  g_autoptr (CasDispatchPlan) p2 = NULL;
  g_autoptr (CasDispatchPlan) p3 = NULL;
  g_autoptr (CasDispatchPlan) p4 = NULL;
  g_autoptr (CasDispatchPlan) p5 = NULL;

  g_ptr_array_add (candidates, good ("owner/repo", 1, "paused"));

  s.self_login = NULL;
  p1 = cas_dispatch_policy_decide (candidates, &s, NULL);
  g_assert_cmpint (verdict_at (p1, 0)->reason, ==, CAS_DISPATCH_SELF_UNKNOWN);
  s.self_login = "";
  p2 = cas_dispatch_policy_decide (candidates, &s, NULL);
  g_assert_cmpint (verdict_at (p2, 0)->reason, ==, CAS_DISPATCH_SELF_UNKNOWN);

  s = settings;
  s.ready_label = NULL;
  p3 = cas_dispatch_policy_decide (candidates, &s, NULL);
  g_assert_cmpint (verdict_at (p3, 0)->reason, ==, CAS_DISPATCH_NOT_READY);

  /* No paused label configured: that gate is off. */
  s = settings;
  s.paused_label = NULL;
  p4 = cas_dispatch_policy_decide (candidates, &s, NULL);
  g_assert_cmpint (verdict_at (p4, 0)->reason, ==, CAS_DISPATCH_WIN);

  /* An empty allowlist dispatches nothing. */
  s = settings;
  s.allowlist = NULL;
  p5 = cas_dispatch_policy_decide (candidates, &s, NULL);
  g_assert_cmpint (verdict_at (p5, 0)->reason, ==, CAS_DISPATCH_NOT_ALLOWLISTED);
}

static void
test_priority_order (void)
{
  g_autoptr (GPtrArray) candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_candidate_free);
  g_autoptr (CasDispatchPlan) plan = NULL;
  g_autofree char *json = NULL;

  /* owner/repo: #5 unlabelled, #9 priority:2, #7 priority:1 and
   * priority:3 (lowest wins), #3 priority:1 (ties by number),
   * #2 priority:high (not a priority). owner/other: #20 unlabelled,
   * #10 unlabelled. */
  g_ptr_array_add (candidates, good ("owner/repo", 5, NULL));
  g_ptr_array_add (candidates, good ("owner/repo", 9, "priority:2"));
  {
    CasCandidate *c = cas_candidate_new ("owner/repo", 7, "Seven");
    const char *labels[] = { "priority:3", "ready-for-agent", "priority:1", NULL };

    cas_candidate_set_labels (c, labels);
    cas_candidate_set_labeller (c, "alice", CAS_PERMISSION_ADMIN);
    g_ptr_array_add (candidates, c);
  }
  g_ptr_array_add (candidates, good ("owner/repo", 3, "priority:1"));
  g_ptr_array_add (candidates, good ("owner/repo", 2, "priority:high"));
  g_ptr_array_add (candidates, good ("owner/other", 20, NULL));
  g_ptr_array_add (candidates, good ("Owner/Other", 10, NULL));

  plan = decide (candidates, NULL);
  g_assert_cmpuint (plan->verdicts->len, ==, 7);
  /* Verdicts keep the candidates' order. */
  g_assert_cmpuint (verdict_at (plan, 0)->number, ==, 5);
  g_assert_cmpuint (verdict_at (plan, 2)->priority, ==, 1);
  g_assert_true (verdict_at (plan, 2)->has_priority);
  g_assert_false (verdict_at (plan, 4)->has_priority);

  g_assert_cmpint (verdict_at (plan, 3)->reason, ==, CAS_DISPATCH_WIN);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_cmpint (verdict_at (plan, i)->reason, ==, CAS_DISPATCH_LOST_TO_HIGHER_PRIORITY);
      g_assert_nonnull (strstr (verdict_at (plan, i)->message, "owner/repo#3"));
    }
  g_assert_cmpint (verdict_at (plan, 4)->reason, ==, CAS_DISPATCH_LOST_TO_HIGHER_PRIORITY);
  g_assert_cmpint (verdict_at (plan, 5)->reason, ==, CAS_DISPATCH_LOST_TO_HIGHER_PRIORITY);
  g_assert_cmpint (verdict_at (plan, 6)->reason, ==, CAS_DISPATCH_WIN);

  /* Winners in dispatch order: the prioritised one first. */
  g_assert_cmpuint (plan->winners->len, ==, 2);
  g_assert_cmpuint (((CasDispatchVerdict *) g_ptr_array_index (plan->winners, 0))->number, ==, 3);
  g_assert_cmpuint (((CasDispatchVerdict *) g_ptr_array_index (plan->winners, 1))->number, ==, 10);

  json = cas_dispatch_plan_to_json (plan);
  g_assert_nonnull (strstr (json, "{\"repository\":\"owner/repo\",\"issue\":3,\"title\":\"Title\","
                                  "\"priority\":1,\"dispatch\":true,\"gate\":\"\",\"reason\":\"Passes"));
  g_assert_nonnull (strstr (json, "\"issue\":5,\"title\":\"Title\",\"priority\":null,"
                                  "\"dispatch\":false,\"gate\":\"lost-to-higher-priority\",\"reason\":\""));
}

static void
test_refused_do_not_compete (void)
{
  g_autoptr (GPtrArray) candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_candidate_free);
  g_autoptr (CasDispatchPlan) plan = NULL;
  CasCandidate *blocked = good ("owner/repo", 1, "priority:0");

  /* The most urgent issue is blocked: the next one wins. */
  cas_candidate_add_blocker (blocked, NULL, 99, CAS_BLOCKER_OPEN);
  g_ptr_array_add (candidates, blocked);
  g_ptr_array_add (candidates, good ("owner/repo", 2, NULL));
  plan = decide (candidates, NULL);
  g_assert_cmpint (verdict_at (plan, 0)->reason, ==, CAS_DISPATCH_BLOCKED);
  g_assert_cmpint (verdict_at (plan, 1)->reason, ==, CAS_DISPATCH_WIN);
}

static void
test_locks (void)
{
  g_autoptr (GPtrArray) candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_candidate_free);
  g_autoptr (GPtrArray) locks = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_issue_ref_free);
  g_autoptr (CasDispatchPlan) plan = NULL;
  g_autoptr (CasDispatchPlan) unlocked = NULL;
  CasCandidate *held;

  g_ptr_array_add (candidates, good ("owner/repo", 1, NULL));
  g_ptr_array_add (candidates, good ("owner/other", 2, NULL));
  /* An open issue of owner/other with the in-progress label and also
   * paused: still a lock. A closed one is not. */
  held = good ("owner/other", 3, "agent-in-progress");
  {
    const char *labels[] = { "agent-in-progress", "paused", NULL };

    cas_candidate_set_labels (held, labels);
  }
  g_ptr_array_add (candidates, held);
  held = good ("owner/repo", 4, "agent-in-progress");
  held->open = FALSE;
  g_ptr_array_add (candidates, held);

  /* The run store holds owner/repo with a run of #40 (the issue closed
   * by hand, relabelled: no label says so any more). */
  g_ptr_array_add (locks, cas_issue_ref_new ("OWNER/REPO", 40));
  plan = decide (candidates, locks);
  g_assert_cmpint (verdict_at (plan, 0)->reason, ==, CAS_DISPATCH_REPO_LOCKED);
  g_assert_nonnull (strstr (verdict_at (plan, 0)->message, "#40"));
  g_assert_cmpint (verdict_at (plan, 1)->reason, ==, CAS_DISPATCH_REPO_LOCKED);
  g_assert_nonnull (strstr (verdict_at (plan, 1)->message, "#3"));
  g_assert_cmpint (verdict_at (plan, 2)->reason, ==, CAS_DISPATCH_NOT_READY);
  g_assert_cmpint (verdict_at (plan, 3)->reason, ==, CAS_DISPATCH_NOT_READY);
  g_assert_cmpuint (plan->winners->len, ==, 0);

  /* A lock whose issue is not known. */
  g_ptr_array_set_size (locks, 0);
  g_ptr_array_add (locks, cas_issue_ref_new ("owner/repo", 0));
  g_ptr_array_add (locks, cas_issue_ref_new (NULL, 5));
  g_ptr_array_remove_range (candidates, 1, 3);
  unlocked = decide (candidates, locks);
  g_assert_cmpint (verdict_at (unlocked, 0)->reason, ==, CAS_DISPATCH_REPO_LOCKED);
  g_assert_nonnull (strstr (verdict_at (unlocked, 0)->message, "another run"));
}

static void
test_empty_and_hostile (void)
{
  g_autoptr (CasDispatchPlan) none = decide (NULL, NULL);
  g_autoptr (GPtrArray) candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_candidate_free);
  g_autoptr (CasDispatchPlan) plan = NULL;
  g_autofree char *json = NULL;
  g_autofree char *long_login = g_strnfill (100000, 'm');
  g_autoptr (JsonObject) parsed = NULL;
  CasCandidate *c;

  g_assert_cmpuint (none->verdicts->len, ==, 0);
  g_assert_cmpuint (none->winners->len, ==, 0);
  {
    g_autofree char *empty = cas_dispatch_plan_to_json (none);

    g_assert_cmpstr (empty, ==, "[]");
  }

  c = cas_candidate_new ("owner/repo", 1, "bad \xff title \"quoted\"\n");
  {
    const char *labels[] = { "ready-for-agent", "\xff\xfe", "priority:\xff", NULL };

    cas_candidate_set_labels (c, labels);
  }
  cas_candidate_set_labeller (c, long_login, CAS_PERMISSION_READ);
  g_ptr_array_add (candidates, c);
  c = cas_candidate_new ("owner/\xff", 2, NULL);
  g_ptr_array_add (candidates, c);
  plan = decide (candidates, NULL);

  g_assert_cmpint (verdict_at (plan, 0)->reason, ==, CAS_DISPATCH_UNTRUSTED_LABELLER);
  g_assert_true (g_utf8_validate (verdict_at (plan, 0)->title, -1, NULL));
  g_assert_cmpuint (strlen (verdict_at (plan, 0)->message), <, 1000);
  g_assert_true (g_utf8_validate (verdict_at (plan, 1)->repo, -1, NULL));
  g_assert_null (verdict_at (plan, 1)->title);

  /* The JSON is valid whatever came in. */
  json = cas_dispatch_plan_to_json (plan);
  {
    g_autofree char *wrapped = g_strdup_printf ("{\"plan\":%s}", json);
    g_autoptr (GError) error = NULL;

    parsed = cas_json_parse_object (wrapped, strlen (wrapped), &error);
    g_assert_no_error (error);
  }

  /* And so is the GVariant. */
  for (guint i = 0; i < plan->verdicts->len; i++)
    {
      g_autoptr (GVariant) v = g_variant_ref_sink (cas_dispatch_verdict_to_variant (verdict_at (plan, i)));
      g_autoptr (GVariantDict) dict = g_variant_dict_new (v);
      const char *gate = NULL;
      const char *reason = NULL;
      gint32 priority = 0;

      g_assert_true (g_variant_is_of_type (v, G_VARIANT_TYPE_VARDICT));
      g_assert_true (g_variant_dict_lookup (dict, "gate", "&s", &gate));
      g_assert_cmpstr (gate, ==, i == 0 ? "untrusted-labeller" : "not-allowlisted");
      g_assert_true (g_variant_dict_lookup (dict, "reason", "&s", &reason));
      g_assert_true (g_utf8_validate (reason, -1, NULL));
      g_assert_true (g_variant_dict_lookup (dict, "priority", "i", &priority));
      g_assert_cmpint (priority, ==, -1);
      g_assert_true (g_variant_dict_contains (dict, "repository"));
      g_assert_true (g_variant_dict_contains (dict, "issue"));
      g_assert_true (g_variant_dict_contains (dict, "title"));
    }
}

static void
test_variant_winner (void)
{
  g_autoptr (GPtrArray) candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_candidate_free);
  g_autoptr (CasDispatchPlan) plan = NULL;
  g_autoptr (GVariant) v = NULL;
  g_autofree char *text = NULL;

  g_ptr_array_add (candidates, good ("owner/repo", 12, "priority:4"));
  plan = decide (candidates, NULL);
  v = g_variant_ref_sink (cas_dispatch_verdict_to_variant (verdict_at (plan, 0)));
  text = g_variant_print (v, FALSE);
  g_assert_nonnull (strstr (text, "'repository': <'owner/repo'>"));
  g_assert_nonnull (strstr (text, "'issue': <uint32 12>"));
  g_assert_nonnull (strstr (text, "'priority': <4>"));
  g_assert_nonnull (strstr (text, "'dispatch': <true>"));
  g_assert_nonnull (strstr (text, "'gate': <''>"));
  g_assert_nonnull (strstr (text, "'reason': <'Passes every gate"));
}

static void
test_names (void)
{
  g_assert_cmpint (cas_permission_from_string ("admin"), ==, CAS_PERMISSION_ADMIN);
  g_assert_cmpint (cas_permission_from_string ("maintain"), ==, CAS_PERMISSION_MAINTAIN);
  g_assert_cmpint (cas_permission_from_string ("write"), ==, CAS_PERMISSION_WRITE);
  g_assert_cmpint (cas_permission_from_string ("triage"), ==, CAS_PERMISSION_TRIAGE);
  g_assert_cmpint (cas_permission_from_string ("read"), ==, CAS_PERMISSION_READ);
  g_assert_cmpint (cas_permission_from_string ("none"), ==, CAS_PERMISSION_NONE);
  g_assert_cmpint (cas_permission_from_string ("Admin"), ==, CAS_PERMISSION_UNKNOWN);
  g_assert_cmpint (cas_permission_from_string ("unknown"), ==, CAS_PERMISSION_UNKNOWN);
  g_assert_cmpint (cas_permission_from_string (NULL), ==, CAS_PERMISSION_UNKNOWN);
  g_assert_cmpstr (cas_permission_to_string ((CasPermission) 99), ==, "unknown");

  for (guint i = CAS_DISPATCH_WIN; i <= CAS_DISPATCH_LOST_TO_HIGHER_PRIORITY; i++)
    g_assert_cmpstr (cas_dispatch_reason_to_string (i), !=, "unknown");
  g_assert_cmpstr (cas_dispatch_reason_to_string (CAS_DISPATCH_REPO_LOCKED), ==, "repo-locked");
  g_assert_cmpstr (cas_dispatch_reason_to_string ((CasDispatchReason) 99), ==, "unknown");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/dispatch-policy/each-gate", test_each_gate);
  g_test_add_func ("/dispatch-policy/gate-order", test_gate_order);
  g_test_add_func ("/dispatch-policy/fail-closed-settings", test_fail_closed_settings);
  g_test_add_func ("/dispatch-policy/priority-order", test_priority_order);
  g_test_add_func ("/dispatch-policy/refused-do-not-compete", test_refused_do_not_compete);
  g_test_add_func ("/dispatch-policy/locks", test_locks);
  g_test_add_func ("/dispatch-policy/empty-and-hostile", test_empty_and_hostile);
  g_test_add_func ("/dispatch-policy/variant-winner", test_variant_winner);
  g_test_add_func ("/dispatch-policy/names", test_names);

  return g_test_run ();
}
