/* The CI verdict: stable strings, one GitHub check run, the GitHub stage
 * from many runs (and from none), Woodpecker statuses, rollout exit
 * statuses, and the fold of the stages, exhaustively against a model
 * written as the seed states its rules. */
#include <string.h>

#include "cas-ci-verdict.h"

static void
test_strings (void)
{
  static const struct {
    CasCiVerdict verdict;
    const char *name;
  } names[] = {
    { CAS_CI_VERDICT_NONE, "none" },
    { CAS_CI_VERDICT_PENDING, "pending" },
    { CAS_CI_VERDICT_GREEN, "green" },
    { CAS_CI_VERDICT_RED, "red" },
    { CAS_CI_VERDICT_SKIPPED, "skipped" },
  };
  static const char *const not_verdicts[] = {
    "", "GREEN", "Green", "green ", " red", "success", "failure", "unknown", "r", "redd",
    "\xff\xfe", "green\n",
  };
  CasCiVerdict verdict;

  g_assert_cmpuint (G_N_ELEMENTS (names), ==, CAS_CI_VERDICT_LAST + 1);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      /* The values are stored in run records: they must not move. */
      g_assert_cmpint (names[i].verdict, ==, (CasCiVerdict) i);
      g_assert_cmpstr (cas_ci_verdict_to_string (names[i].verdict), ==, names[i].name);
      verdict = CAS_CI_VERDICT_RED;
      g_assert_true (cas_ci_verdict_from_string (names[i].name, &verdict));
      g_assert_cmpint (verdict, ==, names[i].verdict);
    }
  g_assert_cmpstr (cas_ci_verdict_to_string (CAS_CI_VERDICT_LAST + 1), ==, "unknown");
  g_assert_cmpstr (cas_ci_verdict_to_string ((CasCiVerdict) -1), ==, "unknown");
  g_assert_cmpstr (cas_ci_verdict_to_string ((CasCiVerdict) G_MAXINT), ==, "unknown");

  for (guint i = 0; i < G_N_ELEMENTS (not_verdicts); i++)
    {
      verdict = CAS_CI_VERDICT_SKIPPED;
      g_assert_false (cas_ci_verdict_from_string (not_verdicts[i], &verdict));
      g_assert_cmpint (verdict, ==, CAS_CI_VERDICT_SKIPPED);
    }
  g_assert_false (cas_ci_verdict_from_string (NULL, &verdict));
}

/* Every status GitHub documents, with every conclusion it documents, and
 * words it does not. */
static const char *const statuses[] = {
  "queued", "in_progress", "completed", "waiting", "requested", "pending",
  NULL, "", "COMPLETED", "Completed", "completed ", "done", "\xc3\x28",
};
static const char *const conclusions[] = {
  "success", "failure", "neutral", "cancelled", "skipped", "timed_out",
  "action_required", "stale", "startup_failure",
  NULL, "", "SUCCESS", "Success", "success ", "passed", "failed", "\xc3\x28",
};

static CasCiVerdict
expected_run (const char *status,
              const char *conclusion)
{
  if (g_strcmp0 (status, "completed") != 0 || conclusion == NULL)
    return CAS_CI_VERDICT_PENDING;
  if (g_str_equal (conclusion, "success") || g_str_equal (conclusion, "neutral") ||
      g_str_equal (conclusion, "skipped"))
    return CAS_CI_VERDICT_GREEN;
  if (g_str_equal (conclusion, "failure") || g_str_equal (conclusion, "timed_out") ||
      g_str_equal (conclusion, "cancelled") || g_str_equal (conclusion, "action_required") ||
      g_str_equal (conclusion, "startup_failure") || g_str_equal (conclusion, "stale"))
    return CAS_CI_VERDICT_RED;
  return CAS_CI_VERDICT_PENDING;
}

static void
test_check_run (void)
{
  for (guint s = 0; s < G_N_ELEMENTS (statuses); s++)
    for (guint c = 0; c < G_N_ELEMENTS (conclusions); c++)
      {
        CasCiCheckRun run = { "build", statuses[s], conclusions[c] };

        g_test_message ("status #%u, conclusion #%u", s, c);
        g_assert_cmpint (cas_ci_verdict_from_check_run (&run), ==,
                         expected_run (statuses[s], conclusions[c]));
      }

  /* Spot checks of the table above, so a mistake in the model shows. */
  {
    CasCiCheckRun green = { NULL, "completed", "success" };
    CasCiCheckRun red = { NULL, "completed", "failure" };
    CasCiCheckRun running = { NULL, "in_progress", NULL };
    CasCiCheckRun queued_but_failure = { NULL, "queued", "failure" };

    g_assert_cmpint (cas_ci_verdict_from_check_run (&green), ==, CAS_CI_VERDICT_GREEN);
    g_assert_cmpint (cas_ci_verdict_from_check_run (&red), ==, CAS_CI_VERDICT_RED);
    g_assert_cmpint (cas_ci_verdict_from_check_run (&running), ==, CAS_CI_VERDICT_PENDING);
    /* Only a completed run has a conclusion that counts. */
    g_assert_cmpint (cas_ci_verdict_from_check_run (&queued_but_failure), ==,
                     CAS_CI_VERDICT_PENDING);
  }
  g_assert_cmpint (cas_ci_verdict_from_check_run (NULL), ==, CAS_CI_VERDICT_PENDING);
}

static CasCiCheckRun
make_run (CasCiVerdict kind)
{
  CasCiCheckRun run = { "job", "completed", "success" };

  if (kind == CAS_CI_VERDICT_RED)
    run.conclusion = "failure";
  else if (kind == CAS_CI_VERDICT_PENDING)
    {
      run.status = "in_progress";
      run.conclusion = NULL;
    }
  return run;
}

static void
test_check_runs (void)
{
  static const CasCiVerdict kinds[] = {
    CAS_CI_VERDICT_GREEN, CAS_CI_VERDICT_PENDING, CAS_CI_VERDICT_RED
  };
  gsize deciding = 99;

  /* Zero runs: nothing yet, unless a later stage can speak for a
   * repository without GitHub CI. */
  g_assert_cmpint (cas_ci_verdict_from_check_runs (NULL, 0, FALSE, &deciding), ==,
                   CAS_CI_VERDICT_NONE);
  g_assert_cmpuint (deciding, ==, 0);
  g_assert_cmpint (cas_ci_verdict_from_check_runs (NULL, 0, TRUE, &deciding), ==,
                   CAS_CI_VERDICT_SKIPPED);
  g_assert_cmpuint (deciding, ==, 0);
  g_assert_cmpint (cas_ci_verdict_from_check_runs (NULL, 5, TRUE, NULL), ==,
                   CAS_CI_VERDICT_SKIPPED);

  /* Every list of one to four runs of three kinds, in every order. */
  for (guint n = 1; n <= 4; n++)
    {
      guint combinations = 1;

      for (guint i = 0; i < n; i++)
        combinations *= G_N_ELEMENTS (kinds);
      for (guint code = 0; code < combinations; code++)
        {
          CasCiCheckRun runs[4];
          gsize first_red = n, first_pending = n;
          CasCiVerdict expected;
          guint rest = code;

          for (guint i = 0; i < n; i++)
            {
              CasCiVerdict kind = kinds[rest % G_N_ELEMENTS (kinds)];

              rest /= G_N_ELEMENTS (kinds);
              runs[i] = make_run (kind);
              if (kind == CAS_CI_VERDICT_RED && first_red == n)
                first_red = i;
              if (kind == CAS_CI_VERDICT_PENDING && first_pending == n)
                first_pending = i;
            }
          expected = first_red < n ? CAS_CI_VERDICT_RED
                     : first_pending < n ? CAS_CI_VERDICT_PENDING
                     : CAS_CI_VERDICT_GREEN;
          for (int later = 0; later <= 1; later++)
            {
              deciding = 99;
              g_assert_cmpint (cas_ci_verdict_from_check_runs (runs, n, later, &deciding), ==,
                               expected);
              g_assert_cmpuint (deciding, ==,
                                expected == CAS_CI_VERDICT_RED ? first_red
                                : expected == CAS_CI_VERDICT_PENDING ? first_pending
                                : n);
            }
        }
    }

  /* A failure anywhere wins over runs still going: it will not turn. */
  {
    CasCiCheckRun runs[] = {
      { "lint", "queued", NULL },
      { "test", "in_progress", NULL },
      { "build", "completed", "timed_out" },
      { "docs", "completed", "success" },
    };

    g_assert_cmpint (cas_ci_verdict_from_check_runs (runs, G_N_ELEMENTS (runs), FALSE, &deciding),
                     ==, CAS_CI_VERDICT_RED);
    g_assert_cmpuint (deciding, ==, 2);
  }
  /* Neutral and skipped runs pass; a stage of only those is green. */
  {
    CasCiCheckRun runs[] = {
      { "optional", "completed", "neutral" },
      { "deploy-preview", "completed", "skipped" },
    };

    g_assert_cmpint (cas_ci_verdict_from_check_runs (runs, G_N_ELEMENTS (runs), TRUE, &deciding),
                     ==, CAS_CI_VERDICT_GREEN);
    g_assert_cmpuint (deciding, ==, 2);
  }
  /* Hostile runs: every field missing. */
  {
    CasCiCheckRun runs[] = { { NULL, NULL, NULL }, { NULL, "completed", NULL } };

    g_assert_cmpint (cas_ci_verdict_from_check_runs (runs, G_N_ELEMENTS (runs), TRUE, &deciding),
                     ==, CAS_CI_VERDICT_PENDING);
    g_assert_cmpuint (deciding, ==, 0);
  }
}

static void
test_woodpecker_status (void)
{
  static const struct {
    const char *status;
    CasCiVerdict verdict;
  } cases[] = {
    { "success", CAS_CI_VERDICT_GREEN },
    { "skipped", CAS_CI_VERDICT_GREEN },
    { "failure", CAS_CI_VERDICT_RED },
    { "error", CAS_CI_VERDICT_RED },
    { "killed", CAS_CI_VERDICT_RED },
    { "declined", CAS_CI_VERDICT_RED },
    { "pending", CAS_CI_VERDICT_PENDING },
    { "running", CAS_CI_VERDICT_PENDING },
    { "blocked", CAS_CI_VERDICT_PENDING },
    { NULL, CAS_CI_VERDICT_NONE },
    /* Words Woodpecker does not use: never green, never red. */
    { "", CAS_CI_VERDICT_PENDING },
    { "SUCCESS", CAS_CI_VERDICT_PENDING },
    { "Success", CAS_CI_VERDICT_PENDING },
    { "success ", CAS_CI_VERDICT_PENDING },
    { "successful", CAS_CI_VERDICT_PENDING },
    { "FAILURE", CAS_CI_VERDICT_PENDING },
    { "created", CAS_CI_VERDICT_PENDING },
    { "\xc3\x28", CAS_CI_VERDICT_PENDING },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("case #%u", i);
      g_assert_cmpint (cas_ci_verdict_from_woodpecker_status (cases[i].status), ==,
                       cases[i].verdict);
    }
}

static void
test_rollout_exit (void)
{
  g_assert_cmpint (cas_ci_verdict_from_rollout_exit (0), ==, CAS_CI_VERDICT_GREEN);
  g_assert_cmpint (cas_ci_verdict_from_rollout_exit (CAS_CI_ROLLOUT_EXIT_PENDING), ==,
                   CAS_CI_VERDICT_PENDING);
  g_assert_cmpint (CAS_CI_ROLLOUT_EXIT_PENDING, ==, 75);
  for (int status = -1; status < 300; status++)
    if (status != 0 && status != 75)
      g_assert_cmpint (cas_ci_verdict_from_rollout_exit (status), ==, CAS_CI_VERDICT_RED);
  g_assert_cmpint (cas_ci_verdict_from_rollout_exit (G_MININT), ==, CAS_CI_VERDICT_RED);
  g_assert_cmpint (cas_ci_verdict_from_rollout_exit (G_MAXINT), ==, CAS_CI_VERDICT_RED);
}

/* The seed's rule, stage by stage: FAILURE decides RED, NONE or PENDING
 * decides PENDING, SUCCESS lets the next stage speak; a stage that is not
 * there is passed over; GREEN at the end only if something succeeded. */
static CasCiVerdict
model_fold (const CasCiVerdict *stages,
            gsize               n,
            gsize              *deciding)
{
  gboolean succeeded = FALSE;

  for (gsize i = 0; i < n; i++)
    switch (stages[i])
      {
      case CAS_CI_VERDICT_RED:
        *deciding = i;
        return CAS_CI_VERDICT_RED;
      case CAS_CI_VERDICT_GREEN:
        succeeded = TRUE;
        break;
      case CAS_CI_VERDICT_SKIPPED:
        break;
      case CAS_CI_VERDICT_NONE:
      case CAS_CI_VERDICT_PENDING:
      default:
        *deciding = i;
        return CAS_CI_VERDICT_PENDING;
      }
  *deciding = n;
  return succeeded ? CAS_CI_VERDICT_GREEN : CAS_CI_VERDICT_PENDING;
}

static void
test_fold_exhaustive (void)
{
  const guint n_values = CAS_CI_VERDICT_LAST + 1;

  /* Every sequence of zero to four stages over every value. */
  for (guint n = 0; n <= 4; n++)
    {
      guint combinations = 1;

      for (guint i = 0; i < n; i++)
        combinations *= n_values;
      for (guint code = 0; code < combinations; code++)
        {
          CasCiVerdict stages[4];
          gsize deciding = 99, model_deciding = 99;
          CasCiVerdict verdict, expected;
          guint rest = code;

          for (guint i = 0; i < n; i++)
            {
              stages[i] = (CasCiVerdict) (rest % n_values);
              rest /= n_values;
            }
          verdict = cas_ci_verdict_fold (stages, n, &deciding);
          expected = model_fold (stages, n, &model_deciding);
          g_assert_cmpint (verdict, ==, expected);
          g_assert_cmpuint (deciding, ==, model_deciding);
          /* The folded verdict is one of three. */
          g_assert_true (verdict == CAS_CI_VERDICT_PENDING || verdict == CAS_CI_VERDICT_GREEN ||
                         verdict == CAS_CI_VERDICT_RED);
          /* The lazy loop stops where the fold says it decided. */
          for (gsize i = 0; i < n; i++)
            {
              if (cas_ci_verdict_is_decisive (stages[i]))
                {
                  g_assert_cmpuint (deciding, ==, i);
                  break;
                }
              g_assert_cmpuint (deciding, >, i);
            }
        }
    }
}

static void
test_fold_cases (void)
{
  gsize deciding = 99;

  {
    /* The seed's tests, with its three stages. */
    const CasCiVerdict all_green[] = { CAS_CI_VERDICT_GREEN, CAS_CI_VERDICT_GREEN, CAS_CI_VERDICT_GREEN };
    const CasCiVerdict build_red[] = { CAS_CI_VERDICT_RED, CAS_CI_VERDICT_GREEN, CAS_CI_VERDICT_GREEN };
    const CasCiVerdict build_pending[] = { CAS_CI_VERDICT_PENDING, CAS_CI_VERDICT_RED, CAS_CI_VERDICT_RED };
    const CasCiVerdict deploy_none[] = { CAS_CI_VERDICT_GREEN, CAS_CI_VERDICT_NONE, CAS_CI_VERDICT_GREEN };
    const CasCiVerdict rollout_red[] = { CAS_CI_VERDICT_GREEN, CAS_CI_VERDICT_GREEN, CAS_CI_VERDICT_RED };
    const CasCiVerdict no_rollout[] = { CAS_CI_VERDICT_GREEN, CAS_CI_VERDICT_GREEN, CAS_CI_VERDICT_SKIPPED };

    g_assert_cmpint (cas_ci_verdict_fold (all_green, 3, &deciding), ==, CAS_CI_VERDICT_GREEN);
    g_assert_cmpuint (deciding, ==, 3);
    g_assert_cmpint (cas_ci_verdict_fold (build_red, 3, &deciding), ==, CAS_CI_VERDICT_RED);
    g_assert_cmpuint (deciding, ==, 0);
    /* A pending build decides: the deploy stage is not asked. */
    g_assert_cmpint (cas_ci_verdict_fold (build_pending, 3, &deciding), ==, CAS_CI_VERDICT_PENDING);
    g_assert_cmpuint (deciding, ==, 0);
    g_assert_cmpint (cas_ci_verdict_fold (deploy_none, 3, &deciding), ==, CAS_CI_VERDICT_PENDING);
    g_assert_cmpuint (deciding, ==, 1);
    g_assert_cmpint (cas_ci_verdict_fold (rollout_red, 3, &deciding), ==, CAS_CI_VERDICT_RED);
    g_assert_cmpuint (deciding, ==, 2);
    g_assert_cmpint (cas_ci_verdict_fold (no_rollout, 3, &deciding), ==, CAS_CI_VERDICT_GREEN);
    g_assert_cmpuint (deciding, ==, 3);
  }
  {
    /* A repository with no GitHub CI goes green through Woodpecker. */
    CasCiVerdict stages[2];

    stages[0] = cas_ci_verdict_from_check_runs (NULL, 0, TRUE, NULL);
    stages[1] = cas_ci_verdict_from_woodpecker_status ("success");
    g_assert_cmpint (cas_ci_verdict_fold (stages, 2, &deciding), ==, CAS_CI_VERDICT_GREEN);
    stages[1] = cas_ci_verdict_from_woodpecker_status (NULL);
    g_assert_cmpint (cas_ci_verdict_fold (stages, 2, &deciding), ==, CAS_CI_VERDICT_PENDING);
    g_assert_cmpuint (deciding, ==, 1);
    stages[1] = cas_ci_verdict_from_woodpecker_status ("killed");
    g_assert_cmpint (cas_ci_verdict_fold (stages, 2, &deciding), ==, CAS_CI_VERDICT_RED);
  }
  {
    /* Nothing there at all never goes green. */
    const CasCiVerdict nothing[] = { CAS_CI_VERDICT_SKIPPED, CAS_CI_VERDICT_SKIPPED };

    g_assert_cmpint (cas_ci_verdict_fold (nothing, 2, &deciding), ==, CAS_CI_VERDICT_PENDING);
    g_assert_cmpuint (deciding, ==, 2);
    g_assert_cmpint (cas_ci_verdict_fold (NULL, 0, &deciding), ==, CAS_CI_VERDICT_PENDING);
    g_assert_cmpuint (deciding, ==, 0);
    g_assert_cmpint (cas_ci_verdict_fold (NULL, 3, NULL), ==, CAS_CI_VERDICT_PENDING);
  }
  {
    /* Values out of range (a corrupt record) hold the verdict back. */
    const CasCiVerdict corrupt[] = { CAS_CI_VERDICT_GREEN, (CasCiVerdict) 42, CAS_CI_VERDICT_RED };

    g_assert_cmpint (cas_ci_verdict_fold (corrupt, 3, &deciding), ==, CAS_CI_VERDICT_PENDING);
    g_assert_cmpuint (deciding, ==, 1);
    g_assert_true (cas_ci_verdict_is_decisive ((CasCiVerdict) 42));
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ci-verdict/strings", test_strings);
  g_test_add_func ("/ci-verdict/check-run", test_check_run);
  g_test_add_func ("/ci-verdict/check-runs", test_check_runs);
  g_test_add_func ("/ci-verdict/woodpecker-status", test_woodpecker_status);
  g_test_add_func ("/ci-verdict/rollout-exit", test_rollout_exit);
  g_test_add_func ("/ci-verdict/fold-exhaustive", test_fold_exhaustive);
  g_test_add_func ("/ci-verdict/fold-cases", test_fold_cases);
  return g_test_run ();
}
