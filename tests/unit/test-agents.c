/* test-agents.c: agent files parse strictly and always give valid
 * `--agents` JSON. The agents built into the daemon are checked too, and
 * how a file in the override directory replaces one.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "cas-agents.h"
#include "cas-error.h"

static CasAgent *
parse_ok (const char *text)
{
  g_autoptr(GError) error = NULL;
  CasAgent *agent = cas_agent_parse_markdown (text, strlen (text), &error);

  g_assert_no_error (error);
  g_assert_nonnull (agent);
  return agent;
}

static void
assert_parse_fails (const char *text,
                    gssize      len,
                    const char *message_part)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CasAgent) agent = NULL;

  agent = cas_agent_parse_markdown (text, len < 0 ? strlen (text) : (gsize) len, &error);
  g_assert_null (agent);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
  if (strstr (error->message, message_part) == NULL)
    g_error ("\"%s\" does not contain \"%s\"", error->message, message_part);
}

/* Parses @json with json-glib; the root must be an object. */
static JsonNode *
parse_json (const char *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (g_utf8_validate (json, -1, NULL));
  json_parser_load_from_data (parser, json, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_node_copy (json_parser_get_root (parser));
}

/* ---- parsing ---- */

static void
test_parse_good (void)
{
  g_autoptr(CasAgent) agent = parse_ok (
    "---\n"
    "name: repair-bot\n"
    "description: Fixes things: carefully.\n"
    "tools: Bash, Read, Grep, Glob\n"
    "model: sonnet\n"
    "color: blue\n"
    "hooks:\n"
    "  PreToolUse: [whatever: {}]\n"
    "# a comment\n"
    "\n"
    "---\n"
    "\n"
    "\n"
    "  You repair things.\n"
    "\n"
    "Second paragraph.\n"
    "\n\n");

  g_assert_cmpstr (agent->name, ==, "repair-bot");
  g_assert_cmpstr (agent->description, ==, "Fixes things: carefully.");
  g_assert_cmpstr (agent->tools, ==, "Bash, Read, Grep, Glob");
  g_assert_cmpstr (agent->model, ==, "sonnet");
  g_assert_cmpstr (agent->prompt, ==, "  You repair things.\n\nSecond paragraph.");
}

static void
test_parse_quoted (void)
{
  g_autoptr(CasAgent) a = parse_ok (
    "---\n"
    "name: \"quoted\"   # trailing comment\n"
    "description: 'It''s # not a comment'\n"
    "tools: \"\"\n"
    "model: \"opus \\\"4\\\" \\u0436\"\n"
    "---\n"
    "Body.\n");
  g_autoptr(CasAgent) b = parse_ok (
    "---\n"
    "name: plain\n"
    "description: C# and F# helper # this part is a comment\n"
    "tools:\n"
    "model: ~\n"
    "---\n"
    "Body.");

  g_assert_cmpstr (a->name, ==, "quoted");
  g_assert_cmpstr (a->description, ==, "It's # not a comment");
  g_assert_cmpstr (a->tools, ==, "");
  g_assert_cmpstr (a->model, ==, "opus \"4\" ж");
  g_assert_cmpstr (a->prompt, ==, "Body.");

  g_assert_cmpstr (b->description, ==, "C# and F# helper");
  g_assert_null (b->tools);       /* YAML null: the CLI's default tools */
  g_assert_null (b->model);
}

static void
test_parse_tool_lists (void)
{
  g_autoptr(CasAgent) flow = parse_ok (
    "---\nname: flow\ndescription: d\ntools: [Read, \"Bash\", 'Grep']\n---\nx\n");
  g_autoptr(CasAgent) block = parse_ok (
    "---\nname: block\ndescription: d\ntools:\n  - Read\n  - \"Web Fetch\"\n"
    "model: haiku\n---\nx\n");
  g_autoptr(CasAgent) rules = parse_ok (
    "---\nname: rules\ndescription: d\ntools: Bash(git log:*, git diff:*), Read ,, \n---\nx\n");
  g_autoptr(CasAgent) none = parse_ok (
    "---\nname: none\ndescription: d\ntools: ''\n---\nx\n");
  g_autoptr(CasAgent) unset = parse_ok (
    "---\nname: unset\ndescription: d\n---\nx\n");
  g_auto(GStrv) flow_list = cas_agent_dup_tool_list (flow);
  g_auto(GStrv) block_list = cas_agent_dup_tool_list (block);
  g_auto(GStrv) rules_list = cas_agent_dup_tool_list (rules);
  g_auto(GStrv) none_list = cas_agent_dup_tool_list (none);
  g_auto(GStrv) unset_list = cas_agent_dup_tool_list (unset);
  const char *const flow_expected[] = { "Read", "Bash", "Grep", NULL };
  const char *const block_expected[] = { "Read", "Web Fetch", NULL };
  const char *const rules_expected[] = { "Bash(git log:*, git diff:*)", "Read", NULL };

  g_assert_true (g_strv_equal ((const char *const *) flow_list, flow_expected));
  g_assert_true (g_strv_equal ((const char *const *) block_list, block_expected));
  g_assert_cmpstr (block->model, ==, "haiku");
  g_assert_true (g_strv_equal ((const char *const *) rules_list, rules_expected));
  g_assert_nonnull (none_list);
  g_assert_cmpuint (g_strv_length (none_list), ==, 0);
  g_assert_null (unset_list);
}

static void
test_parse_errors (void)
{
  assert_parse_fails ("", 0, "no frontmatter");
  assert_parse_fails (NULL, 0, "no frontmatter");
  assert_parse_fails ("You are an agent.\n", -1, "no frontmatter");
  assert_parse_fails ("\n---\nname: x\ndescription: d\n---\nbody", -1, "no frontmatter");
  assert_parse_fails ("---\nname: x\ndescription: d\nbody\n", -1, "line 4");
  assert_parse_fails ("---\nname: x\ndescription: d\n", -1, "no closing '---'");
  assert_parse_fails ("---\ndescription: d\n---\nbody", -1, "no 'name'");
  assert_parse_fails ("---\nname:\ndescription: d\n---\nbody", -1, "no 'name'");
  assert_parse_fails ("---\nname: x\n---\nbody", -1, "no 'description'");
  assert_parse_fails ("---\nname: x\ndescription: \"\"\n---\nbody", -1, "no 'description'");
  assert_parse_fails ("---\nname: x\ndescription: d\n---\n\n  \n", -1, "no prompt");
  assert_parse_fails ("---\nname: x\nname: y\ndescription: d\n---\nb", -1, "given twice");
  assert_parse_fails ("---\nname: \"x\ndescription: d\n---\nb", -1, "no closing");
  assert_parse_fails ("---\nname: 'x' y\ndescription: d\n---\nb", -1, "unexpected text");
  assert_parse_fails ("---\nname: x\ndescription: \"\\q\"\n---\nb", -1, "unsupported escape");
  assert_parse_fails ("---\nname: x\ndescription: >\n  folded\n---\nb", -1, "not support");
  assert_parse_fails ("---\nname: x\ndescription: d\n  more\n---\nb", -1, "indented");
  assert_parse_fails ("---\nname: x\ndescription: d\ntools: [Read\n---\nb", -1, "[a, b]");
  assert_parse_fails ("---\nname: x\ndescription: d\nno colon here\n---\nb", -1, "key: value");
  assert_parse_fails ("---\nname: x\ndescription: d\nurl:http://x\n---\nb", -1, "key: value");
  assert_parse_fails ("---\nname: x\ndescription: \xff\n---\nb", -1, "UTF-8");
  assert_parse_fails ("---\nname: x\0y\ndescription: d\n---\nb", 30, "UTF-8");
}

static void
test_parse_bad_names (void)
{
  const char *bad[] = {
    "Foo", "-lead", "a_b", "a b", "a.b", "ü", "a/b", "x\\\"y",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 65 */
  };
  const char *good[] = { "a", "0", "issue-implementer", "a-", "x9-y",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }; /* 64 */

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *text = g_strdup_printf (
        "---\nname: \"%s\"\ndescription: d\n---\nbody\n", bad[i]);

      g_assert_false (cas_agent_name_is_valid (bad[i]));
      assert_parse_fails (text, -1, "is not valid");
    }

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autofree char *text = g_strdup_printf (
        "---\nname: %s\ndescription: d\n---\nbody\n", good[i]);
      g_autoptr(CasAgent) agent = parse_ok (text);

      g_assert_true (cas_agent_name_is_valid (good[i]));
      g_assert_cmpstr (agent->name, ==, good[i]);
    }

  g_assert_false (cas_agent_name_is_valid (NULL));
  g_assert_false (cas_agent_name_is_valid (""));
}

static void
test_parse_crlf (void)
{
  g_autoptr(CasAgent) agent = parse_ok (
    "\xef\xbb\xbf---\r\n"
    "name: crlf\r\n"
    "description: \"Windows line ends\"\r\n"
    "tools: Read, Grep\r\n"
    "---  \r\n"
    "\r\n"
    "Line one.\r\n"
    "Line two.\r\n");

  g_assert_cmpstr (agent->name, ==, "crlf");
  g_assert_cmpstr (agent->description, ==, "Windows line ends");
  g_assert_cmpstr (agent->tools, ==, "Read, Grep");
  g_assert_cmpstr (agent->prompt, ==, "Line one.\nLine two.");
}

static void
test_parse_huge (void)
{
  gsize len = CAS_AGENT_MAX_FILE_SIZE + 1;
  g_autofree char *text = g_malloc (len + 1);
  const char *head = "---\nname: big\ndescription: d\n---\n";
  g_autoptr(CasAgent) fits = NULL;
  g_autoptr(GError) error = NULL;

  memset (text, 'x', len);
  text[len] = '\0';
  memcpy (text, head, strlen (head));
  assert_parse_fails (text, len, "too large");

  /* Exactly at the cap is fine. */
  fits = cas_agent_parse_markdown (text, len - 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (fits->prompt), ==, len - 1 - strlen (head));
}

/* Garbage never crashes; whatever parses gives valid JSON. */
static void
test_parse_garbage (void)
{
  const char *pieces[] = {
    "---", "\n", "\r\n", "name", "description", "tools", "model", ":", " ",
    "\"", "'", "\\", "[", "]", "-", "#", "x", "ж", "\t", "\\u00", "ok-name",
  };

  for (guint round = 0; round < 3000; round++)
    {
      g_autoptr(GString) text = g_string_new (round % 2 ? "---\n" : "");
      g_autoptr(CasAgent) agent = NULL;
      g_autoptr(GError) error = NULL;
      guint n = g_test_rand_int_range (0, 40);

      for (guint i = 0; i < n; i++)
        g_string_append (text, pieces[g_test_rand_int_range (0, G_N_ELEMENTS (pieces))]);

      agent = cas_agent_parse_markdown (text->str, text->len, &error);
      g_assert_true ((agent == NULL) != (error == NULL));
      if (agent != NULL)
        {
          g_autoptr(CasAgentSet) set = cas_agent_set_new ();
          g_autofree char *json = NULL;
          g_autoptr(JsonNode) root = NULL;

          g_assert_true (cas_agent_set_add (set, g_steal_pointer (&agent), &error));
          g_assert_no_error (error);
          json = cas_agent_set_to_cli_json (set);
          root = parse_json (json);
        }
    }
}

/* ---- the set ---- */

static CasAgent *
make_agent (const char *name,
            const char *description,
            const char *tools,
            const char *model,
            const char *prompt)
{
  CasAgent *agent = g_new0 (CasAgent, 1);

  agent->name = g_strdup (name);
  agent->description = g_strdup (description);
  agent->tools = g_strdup (tools);
  agent->model = g_strdup (model);
  agent->prompt = g_strdup (prompt);
  return agent;
}

static void
test_set_hostile_values (void)
{
  const char *description = "quote \" backslash \\ ctl \x01\x1f\x7f nl \n sep \xe2\x80\xa8 "
                            "кирилица 😀 </script>";
  const char *prompt = "{\"injected\":true}\",\"model\":\"evil";
  g_autoptr(CasAgentSet) set = cas_agent_set_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  g_autofree char *one = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonNode) one_root = NULL;
  JsonObject *agent;
  JsonArray *tools;

  g_assert_true (cas_agent_set_add (set, make_agent ("hostile", description,
                                                     " \"Read\" , Ba\\sh,", "m\"x",
                                                     prompt), &error));
  g_assert_no_error (error);
  g_assert_true (cas_agent_set_add (set, make_agent ("plain", "d", NULL, NULL, "p"),
                                    &error));
  g_assert_no_error (error);

  /* Names are checked on the way in, so they can never break the JSON
   * or the argv. */
  g_assert_false (cas_agent_set_add (set, make_agent ("a\",\"b", "d", NULL, NULL, "p"),
                                     &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
  g_clear_error (&error);
  g_assert_false (cas_agent_set_add (set, make_agent ("plain", "d", NULL, NULL, "p"),
                                     &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
  g_clear_error (&error);
  g_assert_false (cas_agent_set_add (set, make_agent ("noprompt", "d", NULL, NULL, NULL),
                                     &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
  g_clear_error (&error);
  g_assert_false (cas_agent_set_add (set, make_agent ("nodesc", NULL, NULL, NULL, "p"),
                                     &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
  g_clear_error (&error);
  g_assert_cmpuint (cas_agent_set_get_size (set), ==, 2);

  json = cas_agent_set_to_cli_json (set);
  root = parse_json (json);
  g_assert_cmpuint (json_object_get_size (json_node_get_object (root)), ==, 2);
  agent = json_object_get_object_member (json_node_get_object (root), "hostile");
  g_assert_cmpstr (json_object_get_string_member (agent, "description"), ==, description);
  g_assert_cmpstr (json_object_get_string_member (agent, "prompt"), ==, prompt);
  g_assert_cmpstr (json_object_get_string_member (agent, "model"), ==, "m\"x");
  tools = json_object_get_array_member (agent, "tools");
  g_assert_cmpuint (json_array_get_length (tools), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (tools, 0), ==, "\"Read\"");
  g_assert_cmpstr (json_array_get_string_element (tools, 1), ==, "Ba\\sh");

  /* Unset tools and model are left out. */
  agent = json_object_get_object_member (json_node_get_object (root), "plain");
  g_assert_false (json_object_has_member (agent, "tools"));
  g_assert_false (json_object_has_member (agent, "model"));
  g_assert_true (g_str_has_suffix (json, ",\"plain\":{\"description\":\"d\",\"prompt\":\"p\"}}"));

  one = cas_agent_set_to_cli_json_for (set, "plain", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (one, ==, "{\"plain\":{\"description\":\"d\",\"prompt\":\"p\"}}");
  one_root = parse_json (one);

  g_assert_null (cas_agent_set_to_cli_json_for (set, "nope\"", &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (cas_agent_set_to_cli_json_for (set, NULL, &error));
  g_assert_error (error, CAS_ERROR, CAS_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (cas_agent_set_lookup (set, NULL));
}

static void
test_set_refcount (void)
{
  CasAgentSet *set = cas_agent_set_new ();
  g_auto(GStrv) names = NULL;
  g_autofree char *json = NULL;

  g_assert_true (cas_agent_set_ref (set) == set);
  cas_agent_set_unref (set);

  names = cas_agent_set_names (set);
  g_assert_cmpuint (g_strv_length (names), ==, 0);
  json = cas_agent_set_to_cli_json (set);
  g_assert_cmpstr (json, ==, "{}");
  cas_agent_set_unref (set);
}

static void
test_set_too_large_for_argv (void)
{
  g_autoptr(CasAgentSet) set = cas_agent_set_new ();
  g_autofree char *prompt = g_strnfill (200 * 1024, '\x01'); /* 6x when escaped */
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;

  g_assert_true (cas_agent_set_add (set, make_agent ("big", "d", NULL, NULL, prompt),
                                    &error));
  json = cas_agent_set_to_cli_json_for (set, "big", &error);
  g_assert_null (json);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "too large"));
  g_clear_error (&error);

  /* Ours but too large: an error, not the user's agent. */
  g_assert_false (cas_agent_set_cli_json_if_ours (set, "big", &json, &error));
  g_assert_null (json);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
}

static void
test_set_cli_json_if_ours (void)
{
  g_autoptr(CasAgentSet) set = cas_agent_set_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;

  g_assert_true (cas_agent_set_add (set, make_agent ("ours", "d", NULL, NULL, "p"), &error));
  g_assert_true (cas_agent_set_cli_json_if_ours (set, "ours", &json, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (json, ==, "{\"ours\":{\"description\":\"d\",\"prompt\":\"p\"}}");
  g_clear_pointer (&json, g_free);

  /* Not ours (no set, no name, another name): the user's, by --agent alone. */
  g_assert_true (cas_agent_set_cli_json_if_ours (set, "theirs", &json, &error));
  g_assert_null (json);
  g_assert_true (cas_agent_set_cli_json_if_ours (set, NULL, &json, &error));
  g_assert_null (json);
  g_assert_true (cas_agent_set_cli_json_if_ours (NULL, "ours", &json, &error));
  g_assert_null (json);
  g_assert_no_error (error);
}

/* ---- directories ---- */

static void
write_file (const char *dir,
            const char *name,
            const char *contents,
            gssize      len)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, len, &error);
  g_assert_no_error (error);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
test_load_dir (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("cas-agents-XXXXXX", &error);
  g_autofree char *subdir = NULL;
  g_autoptr(CasAgentSet) set = NULL;
  g_auto(GStrv) names = NULL;
  g_autofree char *huge = NULL;
  const char *const expected[] = { "alpha", "beta", NULL };

  g_assert_no_error (error);
  write_file (dir, "b.md", "---\nname: beta\ndescription: B\n---\nBeta.\n", -1);
  write_file (dir, "a.md", "---\nname: alpha\ndescription: A\ntools: \"\"\n---\nAlpha.\n", -1);
  write_file (dir, "notes.txt", "not an agent", -1);
  write_file (dir, "README", "not an agent either", -1);
  write_file (dir, ".hidden.md", "garbage", -1);
  subdir = g_build_filename (dir, "folder.md", NULL);
  g_assert_cmpint (g_mkdir (subdir, 0700), ==, 0);

  set = cas_agent_set_load_dir (dir, &error);
  g_assert_no_error (error);
  names = cas_agent_set_names (set);
  g_assert_true (g_strv_equal ((const char *const *) names, expected));
  g_assert_cmpstr (cas_agent_set_lookup (set, "alpha")->prompt, ==, "Alpha.");
  g_assert_null (cas_agent_set_lookup (set, "a"));
  g_clear_pointer (&set, cas_agent_set_unref);

  /* Two files, one name: the error names both. */
  write_file (dir, "c.md", "---\nname: alpha\ndescription: again\n---\nAgain.\n", -1);
  set = cas_agent_set_load_dir (dir, &error);
  g_assert_null (set);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "c.md"));
  g_assert_nonnull (strstr (error->message, "a.md"));
  g_clear_error (&error);

  /* A bad file fails the load and is named. */
  write_file (dir, "c.md", "---\nname: Bad Name\ndescription: d\n---\nx\n", -1);
  set = cas_agent_set_load_dir (dir, &error);
  g_assert_null (set);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "c.md"));
  g_assert_nonnull (strstr (error->message, "not valid"));
  g_clear_error (&error);

  /* So does a file over the cap, before it is read. */
  huge = g_strnfill (CAS_AGENT_MAX_FILE_SIZE + 10, 'x');
  write_file (dir, "c.md", huge, -1);
  set = cas_agent_set_load_dir (dir, &error);
  g_assert_null (set);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "too large"));
  g_clear_error (&error);

  remove_tree (dir);

  set = cas_agent_set_load_dir (dir, &error);
  g_assert_null (set);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "agents directory"));
}

/* ---- the shipped agents ---- */

static void
test_shipped_agents (void)
{
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  const char *const expected[] = {
    "breakglass", "conversational", "issue-implementer", "workspace", NULL
  };
  const char *const breakglass_tools[] = { "Bash", "Read", NULL };
  /* The tools claude 2.1.332 has (its init line): it drops names it does
   * not know without a word, so an agent naming one would silently lose
   * that tool. */
  const char *const cli_tools[] = {
    "Task", "Bash", "CronCreate", "CronDelete", "CronList", "DesignSync", "Edit",
    "EnterWorktree", "ExitWorktree", "ListAgents", "Monitor", "NotebookEdit", "Read",
    "ReportFindings", "ScheduleWakeup", "SendMessage", "Skill", "TaskStop", "ToolSearch",
    "WebFetch", "WebSearch", "Workflow", "Write", NULL
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(CasAgentSet) set = NULL;
  g_auto(GStrv) names = NULL;
  g_auto(GStrv) tools = NULL;
  g_autofree char *all = NULL;
  g_autofree char *conv = NULL;
  g_autoptr(JsonNode) all_root = NULL;
  g_autoptr(JsonNode) conv_root = NULL;
  const CasAgent *implementer;
  JsonObject *agent;

  set = cas_agent_set_load_builtin (NULL, problems);
  g_assert_cmpuint (problems->len, ==, 0);
  names = cas_agent_set_names (set);
  g_assert_cmpuint (g_strv_length (names), ==, G_N_ELEMENTS (expected) - 1);
  for (gsize i = 0; expected[i] != NULL; i++)
    g_assert_true (g_strv_contains ((const char *const *) names, expected[i]));

  /* The voice agent has no tools at all. */
  g_assert_cmpstr (cas_agent_set_lookup (set, "conversational")->tools, ==, "");
  conv = cas_agent_set_to_cli_json_for (set, "conversational", &error);
  g_assert_no_error (error);
  conv_root = parse_json (conv);
  g_assert_cmpuint (json_object_get_size (json_node_get_object (conv_root)), ==, 1);
  agent = json_object_get_object_member (json_node_get_object (conv_root), "conversational");
  g_assert_nonnull (agent);
  g_assert_cmpuint (strlen (json_object_get_string_member (agent, "description")), >, 0);
  g_assert_cmpuint (strlen (json_object_get_string_member (agent, "prompt")), >, 0);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (json_object_get_member (agent, "tools")));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (agent, "tools")), ==, 0);

  tools = cas_agent_dup_tool_list (cas_agent_set_lookup (set, "breakglass"));
  g_assert_true (g_strv_equal ((const char *const *) tools, breakglass_tools));

  for (gsize i = 0; names[i] != NULL; i++)
    {
      g_auto(GStrv) named = cas_agent_dup_tool_list (cas_agent_set_lookup (set, names[i]));

      for (gsize j = 0; named != NULL && named[j] != NULL; j++)
        if (!g_strv_contains (cli_tools, named[j]))
          g_error ("agent %s names tool %s, which the CLI does not have", names[i], named[j]);
    }

  /* The implementer is told about the trailer the daemon looks for. */
  implementer = cas_agent_set_lookup (set, "issue-implementer");
  g_assert_nonnull (strstr (implementer->prompt, "AFK-Issue: #N"));

  /* Everything together still fits in one argv string. */
  all = cas_agent_set_to_cli_json (set);
  all_root = parse_json (all);
  g_assert_cmpuint (strlen (all), <=, CAS_AGENT_MAX_CLI_JSON);
  for (gsize i = 0; expected[i] != NULL; i++)
    {
      g_autofree char *one = cas_agent_set_to_cli_json_for (set, expected[i], &error);
      g_autoptr(JsonNode) one_root = NULL;

      g_assert_no_error (error);
      one_root = parse_json (one);
      agent = json_object_get_object_member (json_node_get_object (one_root), expected[i]);
      g_assert_true (json_object_has_member (agent, "description"));
      g_assert_true (json_object_has_member (agent, "prompt"));
    }
}

static void
test_builtin_overrides (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("cas-agents-XXXXXX", &error);
  g_autofree char *folder = NULL;
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(CasAgentSet) set = NULL;
  g_autoptr(CasAgentSet) builtin = cas_agent_set_load_builtin (NULL, problems);
  g_autofree char *huge = g_strnfill (CAS_AGENT_MAX_FILE_SIZE + 10, 'x');

  g_assert_no_error (error);

  /* A missing directory, or one with nothing of ours in it, changes nothing. */
  set = cas_agent_set_load_builtin ("/nonexistent/agents", problems);
  g_assert_cmpuint (cas_agent_set_get_size (set), ==, cas_agent_set_get_size (builtin));
  g_clear_pointer (&set, cas_agent_set_unref);
  write_file (dir, "mine.md", "---\nname: mine\ndescription: M\n---\nMine.\n", -1);
  set = cas_agent_set_load_builtin (dir, problems);
  g_assert_null (cas_agent_set_lookup (set, "mine"));
  g_assert_cmpuint (problems->len, ==, 0);
  g_clear_pointer (&set, cas_agent_set_unref);

  /* A file of the same name replaces the built-in agent. */
  write_file (dir, "conversational.md",
              "---\nname: conversational\ndescription: Mine\ntools: \"\"\n---\nSpeak Bulgarian.\n", -1);
  set = cas_agent_set_load_builtin (dir, problems);
  g_assert_cmpuint (problems->len, ==, 0);
  g_assert_cmpstr (cas_agent_set_lookup (set, "conversational")->prompt, ==, "Speak Bulgarian.");
  g_assert_cmpstr (cas_agent_set_lookup (set, "workspace")->prompt, ==,
                   cas_agent_set_lookup (builtin, "workspace")->prompt);
  g_clear_pointer (&set, cas_agent_set_unref);

  /* One that cannot be used keeps the built-in and says why. */
  write_file (dir, "conversational.md", "---\nname: conversational\n---\nNo description.\n", -1);
  write_file (dir, "workspace.md", "---\nname: breakglass\ndescription: d\n---\nWrong name.\n", -1);
  write_file (dir, "breakglass.md", huge, -1);
  folder = g_build_filename (dir, "issue-implementer.md", NULL);
  g_assert_cmpint (g_mkdir (folder, 0700), ==, 0);
  set = cas_agent_set_load_builtin (dir, problems);
  g_assert_cmpuint (problems->len, ==, 4);
  for (guint i = 0; i < problems->len; i++)
    g_assert_nonnull (strstr (g_ptr_array_index (problems, i), dir));
  g_assert_cmpuint (cas_agent_set_get_size (set), ==, cas_agent_set_get_size (builtin));
  g_assert_cmpstr (cas_agent_set_lookup (set, "conversational")->prompt, ==,
                   cas_agent_set_lookup (builtin, "conversational")->prompt);
  g_assert_cmpstr (cas_agent_set_lookup (set, "workspace")->prompt, ==,
                   cas_agent_set_lookup (builtin, "workspace")->prompt);

  remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/agents/parse/good", test_parse_good);
  g_test_add_func ("/agents/parse/quoted", test_parse_quoted);
  g_test_add_func ("/agents/parse/tool-lists", test_parse_tool_lists);
  g_test_add_func ("/agents/parse/errors", test_parse_errors);
  g_test_add_func ("/agents/parse/bad-names", test_parse_bad_names);
  g_test_add_func ("/agents/parse/crlf", test_parse_crlf);
  g_test_add_func ("/agents/parse/huge", test_parse_huge);
  g_test_add_func ("/agents/parse/garbage", test_parse_garbage);
  g_test_add_func ("/agents/set/hostile-values", test_set_hostile_values);
  g_test_add_func ("/agents/set/refcount", test_set_refcount);
  g_test_add_func ("/agents/set/too-large-for-argv", test_set_too_large_for_argv);
  g_test_add_func ("/agents/set/cli-json-if-ours", test_set_cli_json_if_ours);
  g_test_add_func ("/agents/load-dir", test_load_dir);
  g_test_add_func ("/agents/shipped", test_shipped_agents);
  g_test_add_func ("/agents/builtin-overrides", test_builtin_overrides);

  return g_test_run ();
}
