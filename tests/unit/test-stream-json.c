/* test-stream-json.c: stream-json lines to CasStreamEvent, using the
 * transcripts of claude-cli.md (sections 4 and 5) and hostile input.
 *
 * Set CAS_TEST_SAMPLE_JSONL to a stream-json file (such as
 * claude-stream-json-sample.jsonl) to also run it through the splitter.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <json-glib/json-glib.h>

#include "cas-error.h"
#include "cas-line-splitter.h"
#include "cas-stream-json.h"

/* claude-stream-json-sample.jsonl, claude-cli.md 4.1: a text-only reply. */
static const char *const sample_lines[] = {
  "{\"type\":\"system\",\"subtype\":\"init\",\"cwd\":\"/home/dev/project\",\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"tools\":[\"Task\",\"Bash\",\"CronCreate\",\"CronDelete\",\"CronList\",\"Edit\",\"EnterWorktree\",\"ExitWorktree\",\"NotebookEdit\",\"Read\",\"ReportFindings\",\"ScheduleWakeup\",\"SendMessage\",\"Skill\",\"TaskCreate\",\"TaskGet\",\"TaskList\",\"TaskOutput\",\"TaskStop\",\"TaskUpdate\",\"WebFetch\",\"WebSearch\",\"Workflow\",\"Write\"],\"mcp_servers\":[],\"model\":\"claude-opus-4-8[1m]\",\"permissionMode\":\"default\",\"slash_commands\":[\"deep-research\",\"update-config\",\"verify\",\"debug\",\"code-review\",\"simplify\",\"batch\",\"fewer-permission-prompts\",\"loop\",\"claude-api\",\"run\",\"run-skill-generator\",\"clear\",\"compact\",\"config\",\"context\",\"heapdump\",\"init\",\"reload-skills\",\"review\",\"security-review\",\"usage\",\"insights\",\"goal\",\"team-onboarding\"],\"apiKeySource\":\"ANTHROPIC_API_KEY\",\"claude_code_version\":\"2.1.197\",\"output_style\":\"default\",\"agents\":[\"claude\",\"Explore\",\"general-purpose\",\"Plan\",\"statusline-setup\"],\"skills\":[\"deep-research\",\"update-config\",\"verify\",\"debug\",\"code-review\",\"simplify\",\"batch\",\"fewer-permission-prompts\",\"loop\",\"claude-api\",\"run\",\"run-skill-generator\"],\"plugins\":[],\"analytics_disabled\":true,\"product_feedback_disabled\":true,\"uuid\":\"6513270e-269e-4d37-b2a7-4de452e6b438\",\"memory_paths\":{\"auto\":\"/home/dev/.claude/projects/-home-dev-project/memory/\"},\"fast_mode_state\":\"off\"}",
  "{\"type\":\"system\",\"subtype\":\"status\",\"status\":\"requesting\",\"uuid\":\"d23f0824-128b-4f33-8c5c-7fd0a6a3a450\",\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_start\",\"message\":{\"id\":\"msg_013wWD25RQ4F5ZR3qa7yEeeb\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-opus-4-8\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":3,\"cache_creation_input_tokens\":1024,\"cache_read_input_tokens\":17408,\"cache_creation\":{\"ephemeral_5m_input_tokens\":1024,\"ephemeral_1h_input_tokens\":0},\"output_tokens\":1,\"service_tier\":\"standard\"}}},\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"parent_tool_use_id\":null,\"uuid\":\"9531985d-5d9d-49f8-9818-e811892f902b\",\"ttft_ms\":963}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}},\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"parent_tool_use_id\":null,\"uuid\":\"0cb1e29c-658c-4a14-95e6-0af593bd04cf\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello! How can I\"}},\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"parent_tool_use_id\":null,\"uuid\":\"8e81973e-0bec-47b0-b898-d190f9ebdacc\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" help you today?\"}},\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"parent_tool_use_id\":null,\"uuid\":\"6b4cb242-4a23-4596-a217-beaddbc496cb\"}",
  "{\"type\":\"assistant\",\"message\":{\"id\":\"msg_013wWD25RQ4F5ZR3qa7yEeeb\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-opus-4-8\",\"content\":[{\"type\":\"text\",\"text\":\"Hello! How can I help you today?\"}],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":3,\"cache_creation_input_tokens\":1024,\"cache_read_input_tokens\":17408,\"cache_creation\":{\"ephemeral_5m_input_tokens\":1024,\"ephemeral_1h_input_tokens\":0},\"output_tokens\":1,\"service_tier\":\"standard\"},\"context_management\":null},\"parent_tool_use_id\":null,\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"uuid\":\"92276658-1e27-41c0-8a6a-63ec24ede6a4\",\"request_id\":\"req_011CVJZqhB6baeCN6Zj4a3d\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_stop\",\"index\":0},\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"parent_tool_use_id\":null,\"uuid\":\"881ed162-ae2e-4154-bf15-052434b9b5df\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":12}},\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"parent_tool_use_id\":null,\"uuid\":\"7731af10-506b-42ef-86f8-77186d76b07e\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_stop\"},\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"parent_tool_use_id\":null,\"uuid\":\"5c90a958-7403-4430-ac66-a78795e761d1\"}",
  "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"api_error_status\":null,\"duration_ms\":2874,\"duration_api_ms\":2311,\"ttft_ms\":1391,\"ttft_stream_ms\":1208,\"time_to_request_ms\":183,\"num_turns\":1,\"result\":\"Hello! How can I help you today?\",\"stop_reason\":\"end_turn\",\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"total_cost_usd\":0.015419,\"usage\":{\"input_tokens\":3,\"cache_creation_input_tokens\":1024,\"cache_read_input_tokens\":17408,\"output_tokens\":12,\"server_tool_use\":{\"web_search_requests\":0,\"web_fetch_requests\":0},\"service_tier\":\"standard\",\"cache_creation\":{\"ephemeral_1h_input_tokens\":0,\"ephemeral_5m_input_tokens\":1024},\"inference_geo\":\"\",\"iterations\":[],\"speed\":\"standard\"},\"modelUsage\":{\"claude-opus-4-8[1m]\":{\"inputTokens\":3,\"outputTokens\":12,\"cacheReadInputTokens\":17408,\"cacheCreationInputTokens\":1024,\"webSearchRequests\":0,\"costUSD\":0.015419,\"contextWindow\":1000000,\"maxOutputTokens\":64000}},\"permission_denials\":[],\"terminal_reason\":\"completed\",\"fast_mode_state\":\"off\",\"uuid\":\"2e05319a-cb5c-4427-bf98-e2774cbd87ad\"}",
};

/* claude-cli.md 4.2 without its init line: a turn that runs `echo hello`. */
static const char *const tool_lines[] = {
  "{\"type\":\"system\",\"subtype\":\"status\",\"status\":\"requesting\",\"uuid\":\"7ebff206-8673-4721-8cdd-2055930d6eaf\",\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_start\",\"message\":{\"id\":\"msg_01Ic47WQAmL9xVQ2zg4mZaou\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-opus-4-8\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":3,\"cache_creation_input_tokens\":1024,\"cache_read_input_tokens\":17408,\"cache_creation\":{\"ephemeral_5m_input_tokens\":1024,\"ephemeral_1h_input_tokens\":0},\"output_tokens\":1,\"service_tier\":\"standard\"}}},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"72e6cc3a-babc-4d20-97ee-05cde00902c7\",\"ttft_ms\":1221}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"98289fcd-59a5-4a7b-b1fe-e08f57124242\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"I'll run th\"}},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"74c9df6a-cc01-4cdd-9474-031b7f26144b\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"at command.\"}},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"f1d69ed6-17f5-4837-9708-20fe119a72d1\"}",
  "{\"type\":\"assistant\",\"message\":{\"id\":\"msg_01Ic47WQAmL9xVQ2zg4mZaou\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-opus-4-8\",\"content\":[{\"type\":\"text\",\"text\":\"I'll run that command.\"}],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":3,\"cache_creation_input_tokens\":1024,\"cache_read_input_tokens\":17408,\"cache_creation\":{\"ephemeral_5m_input_tokens\":1024,\"ephemeral_1h_input_tokens\":0},\"output_tokens\":1,\"service_tier\":\"standard\"},\"context_management\":null},\"parent_tool_use_id\":null,\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"uuid\":\"aa05e11a-b271-4945-b95e-8229451abd81\",\"request_id\":\"req_011CV43kiJfahqSIjOugM1y\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_stop\",\"index\":0},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"9c653938-2b05-47e6-9aff-b2297631a992\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01nI8lFPPwtV5ASPZHu8qRtZ\",\"name\":\"Bash\",\"input\":{}}},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"37dc76fb-0f17-4300-be62-aa0a1df9fd78\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"fc891b4a-6a50-4f4d-b4d6-6a3a47469a4d\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"command\\\": \\\"ec\"}},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"616499c9-e25a-4605-aec6-f0245bd86d40\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"ho hello\\\", \\\"des\"}},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"153e7c2a-26a2-40bd-bb12-87fff52ddf5d\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"cription\\\": \\\"Pri\"}},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"a8948c89-3b61-4676-a6bb-7dbd2d1c9af0\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"nt hello\\\"}\"}},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"d4c28c2e-7c26-447f-8316-909e3bbbe9ea\"}",
  "{\"type\":\"assistant\",\"message\":{\"id\":\"msg_01Ic47WQAmL9xVQ2zg4mZaou\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-opus-4-8\",\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_01nI8lFPPwtV5ASPZHu8qRtZ\",\"name\":\"Bash\",\"input\":{\"command\":\"echo hello\",\"description\":\"Print hello\"}}],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":3,\"cache_creation_input_tokens\":1024,\"cache_read_input_tokens\":17408,\"cache_creation\":{\"ephemeral_5m_input_tokens\":1024,\"ephemeral_1h_input_tokens\":0},\"output_tokens\":1,\"service_tier\":\"standard\"},\"context_management\":null},\"parent_tool_use_id\":null,\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"uuid\":\"482c9cbc-4343-4cc5-aeae-05cf96d0cc5f\",\"request_id\":\"req_011CV43kiJfahqSIjOugM1y\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_stop\",\"index\":1},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"570dc195-1c24-42f9-a98c-b3a570ccec31\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":78}},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"000f49c8-1a35-4ca0-8d75-985d99c94309\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_stop\"},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"19f9919c-895f-47b3-a6b9-4c7f9118bb16\"}",
  "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":[{\"tool_use_id\":\"toolu_01nI8lFPPwtV5ASPZHu8qRtZ\",\"type\":\"tool_result\",\"content\":\"hello\",\"is_error\":false}]},\"parent_tool_use_id\":null,\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"uuid\":\"068739fa-9d1d-42a0-9d15-8a2ff2ee4e45\",\"timestamp\":\"2026-11-24T14:20:31.512Z\",\"tool_use_result\":{\"stdout\":\"hello\",\"stderr\":\"\",\"interrupted\":false,\"isImage\":false,\"noOutputExpected\":false}}",
  "{\"type\":\"system\",\"subtype\":\"status\",\"status\":\"requesting\",\"uuid\":\"9d33a01c-353c-431c-9fd4-3f371200339d\",\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_start\",\"message\":{\"id\":\"msg_01zMcNU77sVTUUJ596lLlGUr\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-opus-4-8\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":3,\"cache_creation_input_tokens\":1024,\"cache_read_input_tokens\":17408,\"cache_creation\":{\"ephemeral_5m_input_tokens\":1024,\"ephemeral_1h_input_tokens\":0},\"output_tokens\":1,\"service_tier\":\"standard\"}}},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"4093f6de-a268-4a87-a607-679d6050914a\",\"ttft_ms\":1065}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"f373ca53-3488-4876-85e9-99f3842e7fc2\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"The command pr\"}},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"2587be6b-5c9b-4f35-873b-e078f3b7a50d\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"inted `hello`.\"}},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"06ec41ad-ea05-4543-8b0d-590bb0a844e5\"}",
  "{\"type\":\"assistant\",\"message\":{\"id\":\"msg_01zMcNU77sVTUUJ596lLlGUr\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-opus-4-8\",\"content\":[{\"type\":\"text\",\"text\":\"The command printed `hello`.\"}],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":3,\"cache_creation_input_tokens\":1024,\"cache_read_input_tokens\":17408,\"cache_creation\":{\"ephemeral_5m_input_tokens\":1024,\"ephemeral_1h_input_tokens\":0},\"output_tokens\":1,\"service_tier\":\"standard\"},\"context_management\":null},\"parent_tool_use_id\":null,\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"uuid\":\"fa7f0eab-4c4f-4b06-8732-2e25c215a82a\",\"request_id\":\"req_011CVft5isGXNwAMnEYYnWL\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_stop\",\"index\":0},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"cfbf3360-9cfc-4652-b919-4242a2eddbbd\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":12}},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"da45e18a-c221-4b02-bc24-1d0bc9d488b1\"}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_stop\"},\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"parent_tool_use_id\":null,\"uuid\":\"d17e4497-3d48-42a5-8e5b-2a9231f51707\"}",
  "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"api_error_status\":null,\"duration_ms\":6120,\"duration_api_ms\":5032,\"ttft_ms\":1391,\"ttft_stream_ms\":1208,\"time_to_request_ms\":183,\"num_turns\":2,\"result\":\"The command printed `hello`.\",\"stop_reason\":\"end_turn\",\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\",\"total_cost_usd\":0.032488,\"usage\":{\"input_tokens\":6,\"cache_creation_input_tokens\":2048,\"cache_read_input_tokens\":34816,\"output_tokens\":90,\"server_tool_use\":{\"web_search_requests\":0,\"web_fetch_requests\":0},\"service_tier\":\"standard\",\"cache_creation\":{\"ephemeral_1h_input_tokens\":0,\"ephemeral_5m_input_tokens\":2048},\"inference_geo\":\"\",\"iterations\":[],\"speed\":\"standard\"},\"modelUsage\":{\"claude-opus-4-8[1m]\":{\"inputTokens\":6,\"outputTokens\":90,\"cacheReadInputTokens\":34816,\"cacheCreationInputTokens\":2048,\"webSearchRequests\":0,\"costUSD\":0.032488,\"contextWindow\":1000000,\"maxOutputTokens\":64000}},\"permission_denials\":[],\"terminal_reason\":\"completed\",\"fast_mode_state\":\"off\",\"uuid\":\"3a0b9965-cda6-46fd-bd68-516766934036\"}",
};

/* claude-cli.md 5.1: no credentials. */
static const char *const not_logged_in_lines[] = {
  "{\"type\":\"system\",\"subtype\":\"init\",\"cwd\":\"/tmp/claude-work\",\"session_id\":\"c30ac092-2161-4c10-b9a7-dbdb3ce0d194\",\"tools\":[\"Task\",\"Bash\",\"CronCreate\",\"CronDelete\",\"CronList\",\"DesignSync\",\"Edit\",\"EnterWorktree\",\"ExitWorktree\",\"NotebookEdit\",\"Read\",\"ReportFindings\",\"ScheduleWakeup\",\"SendMessage\",\"Skill\",\"TaskCreate\",\"TaskGet\",\"TaskList\",\"TaskOutput\",\"TaskStop\",\"TaskUpdate\",\"ToolSearch\",\"WebFetch\",\"WebSearch\",\"Workflow\",\"Write\"],\"mcp_servers\":[],\"model\":\"claude-opus-4-8[1m]\",\"permissionMode\":\"default\",\"slash_commands\":[\"deep-research\",\"design-sync\",\"update-config\",\"verify\",\"debug\",\"code-review\",\"simplify\",\"batch\",\"fewer-permission-prompts\",\"loop\",\"claude-api\",\"run\",\"run-skill-generator\",\"clear\",\"compact\",\"config\",\"context\",\"heapdump\",\"init\",\"reload-skills\",\"review\",\"security-review\",\"usage\",\"insights\",\"goal\",\"team-onboarding\"],\"apiKeySource\":\"none\",\"claude_code_version\":\"2.1.197\",\"output_style\":\"default\",\"agents\":[\"claude\",\"Explore\",\"general-purpose\",\"Plan\",\"statusline-setup\"],\"skills\":[\"deep-research\",\"design-sync\",\"update-config\",\"verify\",\"debug\",\"code-review\",\"simplify\",\"batch\",\"fewer-permission-prompts\",\"loop\",\"claude-api\",\"run\",\"run-skill-generator\"],\"plugins\":[],\"analytics_disabled\":false,\"product_feedback_disabled\":false,\"uuid\":\"8d933192-d6f6-4ccb-a392-e0173df85c8e\",\"memory_paths\":{\"auto\":\"/tmp/claude-home/.claude/projects/-tmp-claude-work/memory/\"},\"fast_mode_state\":\"off\"}",
  "{\"type\":\"assistant\",\"message\":{\"id\":\"16f68d50-84ba-4397-a3f5-1e100f6b4bec\",\"container\":null,\"model\":\"<synthetic>\",\"role\":\"assistant\",\"stop_details\":null,\"stop_reason\":\"stop_sequence\",\"stop_sequence\":\"\",\"type\":\"message\",\"usage\":{\"input_tokens\":0,\"output_tokens\":0,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"server_tool_use\":{\"web_search_requests\":0,\"web_fetch_requests\":0},\"service_tier\":null,\"cache_creation\":{\"ephemeral_1h_input_tokens\":0,\"ephemeral_5m_input_tokens\":0},\"inference_geo\":null,\"iterations\":null,\"speed\":null},\"content\":[{\"type\":\"text\",\"text\":\"Not logged in · Please run /login\"}],\"context_management\":null},\"parent_tool_use_id\":null,\"session_id\":\"c30ac092-2161-4c10-b9a7-dbdb3ce0d194\",\"uuid\":\"f6692ad7-d4a0-4a0d-97e5-b209b18406d4\",\"error\":\"authentication_failed\"}",
  "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"api_error_status\":null,\"duration_ms\":131,\"duration_api_ms\":0,\"num_turns\":1,\"result\":\"Not logged in · Please run /login\",\"stop_reason\":\"stop_sequence\",\"session_id\":\"c30ac092-2161-4c10-b9a7-dbdb3ce0d194\",\"total_cost_usd\":0,\"usage\":{\"input_tokens\":0,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":0,\"server_tool_use\":{\"web_search_requests\":0,\"web_fetch_requests\":0},\"service_tier\":\"standard\",\"cache_creation\":{\"ephemeral_1h_input_tokens\":0,\"ephemeral_5m_input_tokens\":0},\"inference_geo\":\"\",\"iterations\":[],\"speed\":\"standard\"},\"modelUsage\":{},\"permission_denials\":[],\"terminal_reason\":\"completed\",\"fast_mode_state\":\"off\",\"uuid\":\"9b33c024-2fa0-4d52-8edd-88e4ec7f4378\"}",
};

static CasStreamEvent *
parse_ok (const char *line)
{
  g_autoptr(GError) error = NULL;
  CasStreamEvent *event = cas_stream_event_parse (line, strlen (line), &error);

  g_assert_no_error (error);
  g_assert_nonnull (event);
  return event;
}

static void
assert_parse_fails (const char *line,
                    gsize       len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CasStreamEvent) event = cas_stream_event_parse (line, len, &error);

  g_assert_null (event);
  g_assert_error (error, CAS_ERROR, CAS_ERROR_INVALID_ARGUMENT);
}

static CasStreamEventKind
kind_of (const char *line)
{
  g_autoptr(CasStreamEvent) event = parse_ok (line);

  return event->kind;
}

/* Lines through a splitter into a parser, as the driver will do it. */
typedef struct {
  GPtrArray *events;  /* (element-type CasStreamEvent) */
  guint errors;
  guint oversized;
} Sink;

static void
sink_line (const char *line,
           gsize       len,
           gboolean    oversized,
           gpointer    user_data)
{
  Sink *sink = user_data;
  g_autoptr(GError) error = NULL;
  CasStreamEvent *event;

  if (oversized)
    {
      sink->oversized++;
      return;
    }

  event = cas_stream_event_parse (line, len, &error);
  if (event != NULL)
    g_ptr_array_add (sink->events, event);
  else
    sink->errors++;
}

static void
sink_init (Sink *sink)
{
  sink->events = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_stream_event_free);
  sink->errors = 0;
  sink->oversized = 0;
}

static void
sink_clear (Sink *sink)
{
  g_clear_pointer (&sink->events, g_ptr_array_unref);
}

/* Feed @data in pieces of @chunk bytes, then finish. */
static void
sink_feed (Sink       *sink,
           const char *data,
           gsize       len,
           gsize       chunk)
{
  g_autoptr(CasLineSplitter) splitter = cas_line_splitter_new (1024 * 1024, sink_line, sink);

  for (gsize off = 0; off < len; off += chunk)
    cas_line_splitter_feed (splitter, (const guint8 *) data + off, MIN (chunk, len - off));
  cas_line_splitter_finish (splitter);
}

static CasStreamEvent *
event_at (Sink *sink,
          guint index)
{
  return g_ptr_array_index (sink->events, index);
}

static void
check_sample_events (GPtrArray *events)
{
  static const CasStreamEventKind kinds[] = {
    CAS_STREAM_EVENT_INIT,
    CAS_STREAM_EVENT_NONE,           /* system/status */
    CAS_STREAM_EVENT_NONE,           /* message_start */
    CAS_STREAM_EVENT_NONE,           /* content_block_start */
    CAS_STREAM_EVENT_TEXT_DELTA,
    CAS_STREAM_EVENT_TEXT_DELTA,
    CAS_STREAM_EVENT_ASSISTANT_TEXT,
    CAS_STREAM_EVENT_NONE,           /* content_block_stop */
    CAS_STREAM_EVENT_NONE,           /* message_delta */
    CAS_STREAM_EVENT_NONE,           /* message_stop */
    CAS_STREAM_EVENT_RESULT,
  };
  CasStreamEvent *event;

  g_assert_cmpuint (events->len, ==, G_N_ELEMENTS (kinds));
  for (guint i = 0; i < events->len; i++)
    {
      event = g_ptr_array_index (events, i);
      g_assert_cmpint (event->kind, ==, kinds[i]);
      g_assert_cmpstr (event->session_id, ==, "8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a");
      g_assert_null (event->parent_tool_use_id);
      g_assert_false (cas_stream_event_is_not_logged_in (event));
    }

  event = g_ptr_array_index (events, 0);
  g_assert_cmpstr (event->type, ==, "system");
  g_assert_cmpstr (event->subtype, ==, "init");
  g_assert_cmpstr (event->model, ==, "claude-opus-4-8[1m]");

  event = g_ptr_array_index (events, 1);
  g_assert_cmpstr (event->subtype, ==, "status");
  g_assert_null (event->text);

  event = g_ptr_array_index (events, 4);
  g_assert_cmpstr (event->text, ==, "Hello! How can I");
  event = g_ptr_array_index (events, 5);
  g_assert_cmpstr (event->text, ==, " help you today?");

  event = g_ptr_array_index (events, 6);
  g_assert_cmpstr (event->text, ==, "Hello! How can I help you today?");
  g_assert_null (event->error_code);

  event = g_ptr_array_index (events, 10);
  g_assert_cmpstr (event->subtype, ==, "success");
  g_assert_false (event->is_error);
  g_assert_cmpstr (event->text, ==, "Hello! How can I help you today?");
  g_assert_cmpint (event->input_tokens, ==, 3);
  g_assert_cmpint (event->output_tokens, ==, 12);
  g_assert_cmpint (event->cache_read_input_tokens, ==, 17408);
  g_assert_cmpint (event->cache_creation_input_tokens, ==, 1024);
  g_assert_cmpfloat_with_epsilon (event->total_cost_usd, 0.015419, 1e-12);
  g_assert_cmpint (event->num_turns, ==, 1);
  g_assert_cmpint (event->duration_ms, ==, 2874);
  g_assert_cmpint (event->api_error_status, ==, 0);
}

static void
test_sample (void)
{
  g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_stream_event_free);

  for (guint i = 0; i < G_N_ELEMENTS (sample_lines); i++)
    g_ptr_array_add (events, parse_ok (sample_lines[i]));

  check_sample_events (events);
}

static void
test_sample_through_splitter (void)
{
  static const gsize chunks[] = { 1, 7, 100, 4096, G_MAXSIZE };
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (sample_lines); i++)
    g_string_append_printf (text, "%s\n", sample_lines[i]);

  for (guint i = 0; i < G_N_ELEMENTS (chunks); i++)
    {
      Sink sink;

      sink_init (&sink);
      sink_feed (&sink, text->str, text->len, chunks[i]);
      g_assert_cmpuint (sink.errors, ==, 0);
      g_assert_cmpuint (sink.oversized, ==, 0);
      check_sample_events (sink.events);
      sink_clear (&sink);
    }
}

/* CRLF line ends, and a last line with no '\n' at all. */
static void
test_sample_crlf (void)
{
  g_autoptr(GString) text = g_string_new (NULL);
  Sink sink;

  for (guint i = 0; i < G_N_ELEMENTS (sample_lines); i++)
    {
      if (i > 0)
        g_string_append (text, "\r\n");
      g_string_append (text, sample_lines[i]);
    }

  sink_init (&sink);
  sink_feed (&sink, text->str, text->len, 13);
  g_assert_cmpuint (sink.errors, ==, 0);
  check_sample_events (sink.events);
  sink_clear (&sink);
}

static void
test_sample_file (void)
{
  const char *path = g_getenv ("CAS_TEST_SAMPLE_JSONL");
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len;
  Sink sink;

  if (path == NULL)
    {
      g_test_skip ("CAS_TEST_SAMPLE_JSONL is not set");
      return;
    }

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);

  sink_init (&sink);
  sink_feed (&sink, contents, len, 4096);
  g_assert_cmpuint (sink.errors, ==, 0);
  check_sample_events (sink.events);
  sink_clear (&sink);
}

static void
test_tool_transcript (void)
{
  static const CasStreamEventKind kinds[] = {
    CAS_STREAM_EVENT_NONE,           /* system/status */
    CAS_STREAM_EVENT_NONE,           /* message_start */
    CAS_STREAM_EVENT_NONE,           /* content_block_start text */
    CAS_STREAM_EVENT_TEXT_DELTA,
    CAS_STREAM_EVENT_TEXT_DELTA,
    CAS_STREAM_EVENT_ASSISTANT_TEXT,
    CAS_STREAM_EVENT_NONE,           /* content_block_stop */
    CAS_STREAM_EVENT_NONE,           /* content_block_start tool_use */
    CAS_STREAM_EVENT_NONE,           /* input_json_delta x5 */
    CAS_STREAM_EVENT_NONE,
    CAS_STREAM_EVENT_NONE,
    CAS_STREAM_EVENT_NONE,
    CAS_STREAM_EVENT_NONE,
    CAS_STREAM_EVENT_TOOL_USE,
    CAS_STREAM_EVENT_NONE,           /* content_block_stop */
    CAS_STREAM_EVENT_NONE,           /* message_delta */
    CAS_STREAM_EVENT_NONE,           /* message_stop */
    CAS_STREAM_EVENT_TOOL_RESULT,
    CAS_STREAM_EVENT_NONE,           /* system/status */
    CAS_STREAM_EVENT_NONE,           /* message_start */
    CAS_STREAM_EVENT_NONE,           /* content_block_start */
    CAS_STREAM_EVENT_TEXT_DELTA,
    CAS_STREAM_EVENT_TEXT_DELTA,
    CAS_STREAM_EVENT_ASSISTANT_TEXT,
    CAS_STREAM_EVENT_NONE,           /* content_block_stop */
    CAS_STREAM_EVENT_NONE,           /* message_delta */
    CAS_STREAM_EVENT_NONE,           /* message_stop */
    CAS_STREAM_EVENT_RESULT,
  };
  g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func ((GDestroyNotify) cas_stream_event_free);
  g_autoptr(JsonNode) input = NULL;
  g_autoptr(GError) error = NULL;
  CasStreamEvent *event;
  JsonObject *object;

  G_STATIC_ASSERT (G_N_ELEMENTS (kinds) == G_N_ELEMENTS (tool_lines));

  for (guint i = 0; i < G_N_ELEMENTS (tool_lines); i++)
    {
      event = parse_ok (tool_lines[i]);
      g_assert_cmpint (event->kind, ==, kinds[i]);
      g_ptr_array_add (events, event);
    }

  event = g_ptr_array_index (events, 5);
  g_assert_cmpstr (event->text, ==, "I'll run that command.");

  event = g_ptr_array_index (events, 13);
  g_assert_cmpstr (event->tool_name, ==, "Bash");
  g_assert_cmpstr (event->tool_id, ==, "toolu_01nI8lFPPwtV5ASPZHu8qRtZ");
  g_assert_null (event->text);
  g_assert_nonnull (strstr (event->tool_input_json, "echo hello"));
  input = json_from_string (event->tool_input_json, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (input));
  object = json_node_get_object (input);
  g_assert_cmpstr (json_object_get_string_member (object, "command"), ==, "echo hello");
  g_assert_cmpstr (json_object_get_string_member (object, "description"), ==, "Print hello");

  event = g_ptr_array_index (events, 17);
  g_assert_cmpstr (event->text, ==, "hello");
  g_assert_cmpstr (event->tool_id, ==, "toolu_01nI8lFPPwtV5ASPZHu8qRtZ");
  g_assert_false (event->is_error);

  event = g_ptr_array_index (events, 23);
  g_assert_cmpstr (event->text, ==, "The command printed `hello`.");

  event = g_ptr_array_index (events, 27);
  g_assert_false (event->is_error);
  g_assert_cmpstr (event->text, ==, "The command printed `hello`.");
  g_assert_cmpint (event->num_turns, ==, 2);
  g_assert_cmpint (event->input_tokens, ==, 6);
  g_assert_cmpint (event->output_tokens, ==, 90);
  g_assert_cmpfloat_with_epsilon (event->total_cost_usd, 0.032488, 1e-12);
}

static void
test_not_logged_in (void)
{
  g_autoptr(CasStreamEvent) init = parse_ok (not_logged_in_lines[0]);
  g_autoptr(CasStreamEvent) assistant = parse_ok (not_logged_in_lines[1]);
  g_autoptr(CasStreamEvent) result = parse_ok (not_logged_in_lines[2]);

  g_assert_cmpint (init->kind, ==, CAS_STREAM_EVENT_INIT);
  g_assert_cmpstr (init->session_id, ==, "c30ac092-2161-4c10-b9a7-dbdb3ce0d194");
  g_assert_false (cas_stream_event_is_not_logged_in (init));

  g_assert_cmpint (assistant->kind, ==, CAS_STREAM_EVENT_ASSISTANT_TEXT);
  g_assert_cmpstr (assistant->text, ==, "Not logged in · Please run /login");
  g_assert_cmpstr (assistant->error_code, ==, "authentication_failed");
  g_assert_true (cas_stream_event_is_not_logged_in (assistant));

  g_assert_cmpint (result->kind, ==, CAS_STREAM_EVENT_RESULT);
  g_assert_true (result->is_error);
  g_assert_cmpstr (result->subtype, ==, "success");
  g_assert_cmpstr (result->text, ==, "Not logged in · Please run /login");
  g_assert_cmpint (result->api_error_status, ==, 0);
  g_assert_cmpfloat (result->total_cost_usd, ==, 0.0);
  g_assert_cmpint (result->duration_ms, ==, 131);
  g_assert_true (cas_stream_event_is_not_logged_in (result));

  g_assert_false (cas_stream_event_is_not_logged_in (NULL));
}

/* claude-cli.md 5.2 and 5.3: a bad key is a login problem, a server
 * error is not, and retries alone decide nothing. */
static void
test_auth_and_api_errors (void)
{
  g_autoptr(CasStreamEvent) bad_key = parse_ok (
    "{\"type\":\"assistant\",\"message\":{\"id\":\"0b7e\",\"model\":\"<synthetic>\",\"role\":\"assistant\","
    "\"content\":[{\"type\":\"text\",\"text\":\"Invalid API key · Fix external API key\"}]},"
    "\"parent_tool_use_id\":null,\"session_id\":\"s\",\"error\":\"authentication_failed\",\"request_id\":\"req_1\"}");
  g_autoptr(CasStreamEvent) bad_key_result = parse_ok (
    "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"api_error_status\":401,"
    "\"result\":\"Invalid API key · Fix external API key\",\"session_id\":\"s\"}");
  g_autoptr(CasStreamEvent) server = parse_ok (
    "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"API Error: 500\"}]},"
    "\"error\":\"server_error\"}");
  g_autoptr(CasStreamEvent) server_result = parse_ok (
    "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"api_error_status\":500,"
    "\"result\":\"API Error: 500 Internal server error.\"}");
  g_autoptr(CasStreamEvent) retry = parse_ok (
    "{\"type\":\"system\",\"subtype\":\"api_retry\",\"attempt\":1,\"max_retries\":10,"
    "\"retry_delay_ms\":621.2164882292593,\"error_status\":401,\"error\":\"authentication_failed\","
    "\"session_id\":\"s\",\"uuid\":\"u\"}");

  g_assert_true (cas_stream_event_is_not_logged_in (bad_key));
  g_assert_true (cas_stream_event_is_not_logged_in (bad_key_result));
  g_assert_cmpint (bad_key_result->api_error_status, ==, 401);

  g_assert_cmpstr (server->error_code, ==, "server_error");
  g_assert_false (cas_stream_event_is_not_logged_in (server));
  g_assert_false (cas_stream_event_is_not_logged_in (server_result));

  g_assert_cmpint (retry->kind, ==, CAS_STREAM_EVENT_API_RETRY);
  g_assert_false (cas_stream_event_is_not_logged_in (retry));
}

static void
test_api_retry (void)
{
  g_autoptr(CasStreamEvent) event = parse_ok (
    "{\"type\":\"system\",\"subtype\":\"api_retry\",\"attempt\":3,\"max_retries\":10,"
    "\"retry_delay_ms\":621.2164882292593,\"error_status\":529,\"error\":\"overloaded\","
    "\"session_id\":\"8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a\",\"uuid\":\"u\"}");
  g_autoptr(CasStreamEvent) refused = parse_ok (
    "{\"type\":\"system\",\"subtype\":\"api_retry\",\"attempt\":2,\"max_retries\":2,"
    "\"retry_delay_ms\":1200,\"error_status\":null,\"error\":\"unknown\"}");

  g_assert_cmpint (event->kind, ==, CAS_STREAM_EVENT_API_RETRY);
  g_assert_cmpint (event->attempt, ==, 3);
  g_assert_cmpint (event->max_retries, ==, 10);
  g_assert_cmpfloat_with_epsilon (event->retry_delay_ms, 621.2164882292593, 1e-9);
  g_assert_cmpint (event->api_error_status, ==, 529);
  g_assert_cmpstr (event->error_code, ==, "overloaded");
  g_assert_cmpstr (event->session_id, ==, "8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a");

  g_assert_cmpint (refused->kind, ==, CAS_STREAM_EVENT_API_RETRY);
  g_assert_cmpint (refused->attempt, ==, 2);
  g_assert_cmpfloat (refused->retry_delay_ms, ==, 1200.0);
  g_assert_cmpint (refused->api_error_status, ==, 0);
  g_assert_cmpstr (refused->error_code, ==, "unknown");
}

/* claude-cli.md 5.4, 5.5 and 5.7: the error form has "errors", no "result". */
static void
test_error_results (void)
{
  g_autoptr(CasStreamEvent) max_turns = parse_ok (
    "{\"type\":\"result\",\"subtype\":\"error_max_turns\",\"duration_ms\":428,\"duration_api_ms\":321,"
    "\"is_error\":true,\"num_turns\":2,\"stop_reason\":\"tool_use\",\"session_id\":\"d41e7b09-5c2a-4f38-9b1e-6a7c0e2f8d13\","
    "\"total_cost_usd\":0.000425,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":0,"
    "\"cache_read_input_tokens\":0,\"output_tokens\":12},\"modelUsage\":{},\"permission_denials\":[],"
    "\"terminal_reason\":\"max_turns\",\"fast_mode_state\":\"off\",\"uuid\":\"u\","
    "\"errors\":[\"Reached maximum number of turns (1)\"]}");
  g_autoptr(CasStreamEvent) joined = parse_ok (
    "{\"type\":\"result\",\"subtype\":\"error_during_execution\",\"is_error\":true,"
    "\"errors\":[\"first\",5,null,{\"type\":\"text\",\"text\":\"no\"},\"second\"]}");
  g_autoptr(CasStreamEvent) no_flag = parse_ok (
    "{\"type\":\"result\",\"subtype\":\"error_max_budget_usd\",\"errors\":[]}");

  g_assert_cmpint (max_turns->kind, ==, CAS_STREAM_EVENT_RESULT);
  g_assert_true (max_turns->is_error);
  g_assert_cmpstr (max_turns->subtype, ==, "error_max_turns");
  g_assert_cmpstr (max_turns->text, ==, "Reached maximum number of turns (1)");
  g_assert_cmpint (max_turns->num_turns, ==, 2);
  g_assert_cmpint (max_turns->input_tokens, ==, 25);
  g_assert_cmpint (max_turns->output_tokens, ==, 12);
  g_assert_cmpfloat_with_epsilon (max_turns->total_cost_usd, 0.000425, 1e-12);
  g_assert_false (cas_stream_event_is_not_logged_in (max_turns));

  g_assert_cmpstr (joined->text, ==, "first; second");

  /* An error_* subtype is an error even without is_error. */
  g_assert_true (no_flag->is_error);
  g_assert_cmpstr (no_flag->text, ==, "");
}

static void
test_tool_result_shapes (void)
{
  g_autoptr(CasStreamEvent) parts = parse_ok (
    "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
    "\"tool_use_id\":\"toolu_1\",\"content\":[{\"type\":\"text\",\"text\":\"line 1\"},"
    "{\"type\":\"image\",\"source\":{}},{\"type\":\"text\",\"text\":\"line 2\"}]}]}}");
  g_autoptr(CasStreamEvent) denied = parse_ok (
    "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
    "\"content\":\"This command requires approval\",\"is_error\":true,\"tool_use_id\":\"toolu_2\"}]},"
    "\"parent_tool_use_id\":null,\"session_id\":\"s\",\"tool_use_result\":\"Error: This command requires approval\"}");
  g_autoptr(CasStreamEvent) empty = parse_ok (
    "{\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_3\"}]},"
    "\"parent_tool_use_id\":\"toolu_task\"}");

  g_assert_cmpint (parts->kind, ==, CAS_STREAM_EVENT_TOOL_RESULT);
  g_assert_cmpstr (parts->text, ==, "line 1\nline 2");
  g_assert_cmpstr (parts->tool_id, ==, "toolu_1");
  g_assert_false (parts->is_error);

  g_assert_cmpint (denied->kind, ==, CAS_STREAM_EVENT_TOOL_RESULT);
  g_assert_cmpstr (denied->text, ==, "This command requires approval");
  g_assert_true (denied->is_error);

  g_assert_cmpint (empty->kind, ==, CAS_STREAM_EVENT_TOOL_RESULT);
  g_assert_cmpstr (empty->text, ==, "");
  g_assert_cmpstr (empty->parent_tool_use_id, ==, "toolu_task");
}

/* Valid lines the driver does not need. */
static void
test_ignored (void)
{
  static const char *const lines[] = {
    "{}",
    "{\"type\":5}",
    "{\"type\":null}",
    "{\"type\":\"rate_limit_event\",\"info\":{}}",
    "{\"type\":\"control_response\",\"response\":{\"subtype\":\"success\",\"request_id\":\"req-int-1\"}}",
    "{\"type\":\"system\",\"subtype\":\"status\",\"status\":\"requesting\"}",
    "{\"type\":\"system\",\"subtype\":\"thinking_tokens\",\"estimated_tokens\":7}",
    "{\"type\":\"system\",\"subtype\":\"compact_boundary\"}",
    "{\"type\":\"system\"}",
    "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"hm\"}}}",
    "{\"type\":\"stream_event\",\"event\":{\"type\":\"ping\"}}",
    "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"thinking\",\"thinking\":\"hm\",\"signature\":\"x\"}]}}",
    "{\"type\":\"assistant\",\"message\":{\"content\":[]}}",
    "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"[Request interrupted by user]\"}]}}",
    "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":\"hi\"},\"isReplay\":true}",
    "  {\"type\":\"result\" , \"unknown\":{\"deep\":[1,2,{}]}}  ",
  };

  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    {
      g_autoptr(CasStreamEvent) event = parse_ok (lines[i]);

      /* The last one is a result with every field absent. */
      if (i == G_N_ELEMENTS (lines) - 1)
        {
          g_assert_cmpint (event->kind, ==, CAS_STREAM_EVENT_RESULT);
          g_assert_false (event->is_error);
          g_assert_cmpstr (event->text, ==, "");
        }
      else
        {
          g_assert_cmpint (event->kind, ==, CAS_STREAM_EVENT_NONE);
        }
    }
}

/* The first text or tool_use block wins; thinking is skipped. */
static void
test_block_choice (void)
{
  g_assert_cmpint (kind_of ("{\"type\":\"assistant\",\"message\":{\"content\":["
                            "{\"type\":\"thinking\",\"thinking\":\"hm\"},"
                            "{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"Read\",\"input\":{}},"
                            "{\"type\":\"text\",\"text\":\"x\"}]}}"),
                   ==, CAS_STREAM_EVENT_TOOL_USE);
  g_assert_cmpint (kind_of ("{\"type\":\"assistant\",\"message\":{\"content\":["
                            "{\"type\":\"redacted_thinking\"},{\"type\":\"text\",\"text\":\"x\"}]}}"),
                   ==, CAS_STREAM_EVENT_ASSISTANT_TEXT);
}

static void
test_garbage (void)
{
  static const char *const lines[] = {
    "",
    "   ",
    "not json",
    "[1,2]",
    "\"str\"",
    "42",
    "null",
    "true",
    "{\"type\":\"result\"",
    "{\"type\":\"result\"}}",
    "{\"type\":\"result\"} trailing",
    "{\"type\":\"result\",}",
    "{\"type\":NaN}",
    "{\"type\":\"caf\xff\"}",
  };
  static const char with_nul[] = "{\"type\":\"re\0sult\"}";
  static const struct {
    const char *open;
    const char *close;
  } deep_units[] = {
    { "[", "]" },
    { "{\"a\":", "}" },
    { "[{\"a\":", "}]" },
  };
  static const gsize depths[] = { 129, 10000, 200000 };

  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    assert_parse_fails (lines[i], strlen (lines[i]));

  assert_parse_fails (with_nul, sizeof with_nul - 1);
  assert_parse_fails (NULL, 0);

  /* json-glib 1.6 recurses once per level and would overflow the stack. */
  for (guint i = 0; i < G_N_ELEMENTS (deep_units); i++)
    {
      for (guint j = 0; j < G_N_ELEMENTS (depths); j++)
        {
          g_autoptr(GString) line = g_string_new ("{\"type\":\"x\",\"v\":");

          for (gsize k = 0; k < depths[j]; k++)
            g_string_append (line, deep_units[i].open);
          /* Unclosed, then closed so that only the depth is wrong. */
          assert_parse_fails (line->str, line->len);
          g_string_append (line, "1");
          for (gsize k = 0; k < depths[j]; k++)
            g_string_append (line, deep_units[i].close);
          g_string_append (line, "}");
          assert_parse_fails (line->str, line->len);
        }
    }
}

/* Nesting that stays under the limit, and brackets inside strings. */
static void
test_depth_within_limit (void)
{
  g_autoptr(GString) line = g_string_new ("{\"type\":\"assistant\",\"message\":{\"content\":"
                                          "[{\"type\":\"tool_use\",\"name\":\"x\",\"input\":");
  g_autoptr(GString) text = g_string_new ("{\"type\":\"stream_event\",\"event\":{\"type\":"
                                          "\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"\\\"");
  g_autoptr(CasStreamEvent) tool = NULL;
  g_autoptr(CasStreamEvent) delta = NULL;

  /* 4 levels of wrapper + 120 = 124, under the shared limit of 128. */
  for (guint i = 0; i < 120; i++)
    g_string_append_c (line, '[');
  for (guint i = 0; i < 120; i++)
    g_string_append_c (line, ']');
  g_string_append (line, "}]}}");
  tool = parse_ok (line->str);
  g_assert_cmpint (tool->kind, ==, CAS_STREAM_EVENT_TOOL_USE);
  g_assert_cmpuint (strlen (tool->tool_input_json), ==, 240);

  for (guint i = 0; i < 100000; i++)
    g_string_append (text, "[{");
  g_string_append (text, "\\\\\"}}}");
  delta = parse_ok (text->str);
  g_assert_cmpint (delta->kind, ==, CAS_STREAM_EVENT_TEXT_DELTA);
  g_assert_cmpuint (strlen (delta->text), ==, 200002);
}

/* Wrong-typed fields count as absent: no crash, no critical. */
static void
test_wrong_types (void)
{
  g_autoptr(CasStreamEvent) result = parse_ok (
    "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":\"yes\",\"usage\":\"x\",\"errors\":5,"
    "\"result\":7,\"total_cost_usd\":\"1\",\"num_turns\":1.5,\"duration_ms\":\"9\","
    "\"api_error_status\":\"401\",\"session_id\":7,\"parent_tool_use_id\":[]}");
  g_autoptr(CasStreamEvent) usage = parse_ok (
    "{\"type\":\"result\",\"subtype\":[\"error\"],\"usage\":{\"input_tokens\":\"3\",\"output_tokens\":null,"
    "\"cache_read_input_tokens\":[1],\"cache_creation_input_tokens\":{}},"
    "\"api_error_status\":99999999999,\"result\":null,\"errors\":[[\"x\"]]}");
  g_autoptr(CasStreamEvent) assistant = parse_ok (
    "{\"type\":\"assistant\",\"error\":5,\"message\":{\"content\":[5,null,\"x\",[],{\"type\":7},"
    "{\"type\":\"tool_use\",\"name\":5,\"id\":null}]}}");
  g_autoptr(CasStreamEvent) text = parse_ok (
    "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":{\"a\":1}}]}}");
  g_autoptr(CasStreamEvent) string_input = parse_ok (
    "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"tool_use\",\"input\":\"str\"}]}}");
  g_autoptr(CasStreamEvent) tool_result = parse_ok (
    "{\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"tool_result\",\"content\":{\"a\":1},"
    "\"is_error\":\"true\",\"tool_use_id\":5}]}}");
  g_autoptr(CasStreamEvent) odd_parts = parse_ok (
    "{\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"tool_result\",\"content\":"
    "[1,\"raw\",{\"type\":\"text\"},{\"type\":\"text\",\"text\":\"ok\"},null]}]}}");
  g_autoptr(CasStreamEvent) delta = parse_ok (
    "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":5}}}");
  g_autoptr(CasStreamEvent) init = parse_ok (
    "{\"type\":\"system\",\"subtype\":\"init\",\"model\":[\"x\"],\"session_id\":{}}");
  g_autoptr(CasStreamEvent) retry = parse_ok (
    "{\"type\":\"system\",\"subtype\":\"api_retry\",\"attempt\":\"1\",\"max_retries\":-3,"
    "\"retry_delay_ms\":\"x\",\"error_status\":\"401\",\"error\":{}}");
  static const char *const none_lines[] = {
    "{\"type\":[\"assistant\"]}",
    "{\"type\":\"assistant\",\"message\":\"x\"}",
    "{\"type\":\"assistant\",\"message\":{\"content\":\"x\"}}",
    "{\"type\":\"assistant\",\"message\":{\"content\":{\"type\":\"text\"}}}",
    "{\"type\":\"user\",\"message\":[1]}",
    "{\"type\":\"user\",\"message\":{\"content\":[{\"type\":[\"tool_result\"]}]}}",
    "{\"type\":\"stream_event\",\"event\":[1]}",
    "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"delta\":\"x\"}}",
    "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"delta\":{\"type\":5,\"text\":\"x\"}}}",
    "{\"type\":\"system\",\"subtype\":5}",
  };

  g_assert_cmpint (result->kind, ==, CAS_STREAM_EVENT_RESULT);
  g_assert_false (result->is_error);
  g_assert_cmpstr (result->text, ==, "");
  g_assert_cmpint (result->input_tokens, ==, 0);
  g_assert_cmpfloat (result->total_cost_usd, ==, 0.0);
  g_assert_cmpint (result->num_turns, ==, 0);
  g_assert_cmpint (result->duration_ms, ==, 0);
  g_assert_cmpint (result->api_error_status, ==, 0);
  g_assert_null (result->session_id);
  g_assert_null (result->parent_tool_use_id);

  g_assert_cmpint (usage->kind, ==, CAS_STREAM_EVENT_RESULT);
  g_assert_null (usage->subtype);
  g_assert_false (usage->is_error);
  g_assert_cmpstr (usage->text, ==, "");
  g_assert_cmpint (usage->input_tokens, ==, 0);
  g_assert_cmpint (usage->output_tokens, ==, 0);
  g_assert_cmpint (usage->cache_read_input_tokens, ==, 0);
  g_assert_cmpint (usage->cache_creation_input_tokens, ==, 0);
  g_assert_cmpint (usage->api_error_status, ==, 0);

  g_assert_cmpint (assistant->kind, ==, CAS_STREAM_EVENT_TOOL_USE);
  g_assert_null (assistant->error_code);
  g_assert_null (assistant->tool_name);
  g_assert_null (assistant->tool_id);
  g_assert_cmpstr (assistant->tool_input_json, ==, "{}");

  g_assert_cmpint (text->kind, ==, CAS_STREAM_EVENT_ASSISTANT_TEXT);
  g_assert_cmpstr (text->text, ==, "");

  g_assert_cmpstr (string_input->tool_input_json, ==, "\"str\"");

  g_assert_cmpint (tool_result->kind, ==, CAS_STREAM_EVENT_TOOL_RESULT);
  g_assert_cmpstr (tool_result->text, ==, "");
  g_assert_false (tool_result->is_error);
  g_assert_null (tool_result->tool_id);

  g_assert_cmpstr (odd_parts->text, ==, "raw\nok");

  g_assert_cmpint (delta->kind, ==, CAS_STREAM_EVENT_TEXT_DELTA);
  g_assert_cmpstr (delta->text, ==, "");

  g_assert_cmpint (init->kind, ==, CAS_STREAM_EVENT_INIT);
  g_assert_null (init->model);
  g_assert_null (init->session_id);

  g_assert_cmpint (retry->kind, ==, CAS_STREAM_EVENT_API_RETRY);
  g_assert_cmpint (retry->attempt, ==, 0);
  g_assert_cmpint (retry->max_retries, ==, 0);
  g_assert_cmpfloat (retry->retry_delay_ms, ==, 0.0);
  g_assert_cmpint (retry->api_error_status, ==, 0);
  g_assert_null (retry->error_code);

  for (guint i = 0; i < G_N_ELEMENTS (none_lines); i++)
    g_assert_cmpint (kind_of (none_lines[i]), ==, CAS_STREAM_EVENT_NONE);
}

static void
test_invalid_utf8_via_splitter (void)
{
  static const char input[] =
    "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\","
    "\"delta\":{\"type\":\"text_delta\",\"text\":\"caf\xff!\"}}}\n"
    "{\"type\":\"result\"}\xfe\n";
  Sink sink;

  sink_init (&sink);
  sink_feed (&sink, input, strlen (input), 5);

  /* Repaired inside a string: still parses. Outside one: an error line. */
  g_assert_cmpuint (sink.events->len, ==, 1);
  g_assert_cmpint (event_at (&sink, 0)->kind, ==, CAS_STREAM_EVENT_TEXT_DELTA);
  g_assert_cmpstr (event_at (&sink, 0)->text, ==, "caf\xef\xbf\xbd!");
  g_assert_cmpuint (sink.errors, ==, 1);
  sink_clear (&sink);
}

static void
test_huge_line (void)
{
  const gsize max = 1024 * 1024;
  const gsize huge = 10 * 1024 * 1024;
  const gsize chunk = 64 * 1024;
  static const char prefix[] =
    "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\","
    "\"delta\":{\"type\":\"text_delta\",\"text\":\"";
  static const char good[] =
    "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\","
    "\"delta\":{\"type\":\"text_delta\",\"text\":\"still here\"}}}\n";
  g_autofree char *big = g_malloc (chunk);
  Sink sink;

  memset (big, 'x', chunk);

  /* Fed in pieces: the buffer never passes the limit. */
  {
    g_autoptr(CasLineSplitter) splitter = NULL;

    sink_init (&sink);
    splitter = cas_line_splitter_new (max, sink_line, &sink);
    cas_line_splitter_feed (splitter, (const guint8 *) prefix, strlen (prefix));
    for (gsize off = 0; off < huge; off += chunk)
      {
        cas_line_splitter_feed (splitter, (const guint8 *) big, chunk);
        g_assert_cmpuint (cas_line_splitter_get_buffer_size (splitter), <=, max + 1);
      }
    cas_line_splitter_feed (splitter, (const guint8 *) "\"}}}\n", 5);
    cas_line_splitter_feed (splitter, (const guint8 *) good, strlen (good));
    cas_line_splitter_finish (splitter);

    g_assert_cmpuint (sink.oversized, ==, 1);
    g_assert_cmpuint (cas_line_splitter_get_oversized_count (splitter), ==, 1);
    g_assert_cmpuint (sink.errors, ==, 0);
    g_assert_cmpuint (sink.events->len, ==, 1);
    g_assert_cmpstr (event_at (&sink, 0)->text, ==, "still here");
    sink_clear (&sink);
  }

  /* In one piece, with the good line in the same chunk. */
  {
    g_autoptr(CasLineSplitter) splitter = NULL;
    g_autofree char *all = g_malloc (huge + sizeof good);

    memset (all, 'y', huge);
    all[huge - 1] = '\n';
    memcpy (all + huge, good, sizeof good);

    sink_init (&sink);
    splitter = cas_line_splitter_new (max, sink_line, &sink);
    cas_line_splitter_feed (splitter, (const guint8 *) all, huge + strlen (good));
    g_assert_cmpuint (cas_line_splitter_get_buffer_size (splitter), <=, max + 1);
    cas_line_splitter_finish (splitter);

    g_assert_cmpuint (sink.oversized, ==, 1);
    g_assert_cmpuint (sink.events->len, ==, 1);
    g_assert_cmpint (event_at (&sink, 0)->kind, ==, CAS_STREAM_EVENT_TEXT_DELTA);
    sink_clear (&sink);
  }
}

/* A short transcript cut at every byte gives the same events. */
static void
test_every_chunk_boundary (void)
{
  static const char input[] =
    "{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s\",\"model\":\"m\"}\n"
    "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"h\xc3\xa9\"}}}\r\n"
    "garbage\n"
    "\n"
    "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"h\xc3\xa9\"}";
  static const CasStreamEventKind kinds[] = {
    CAS_STREAM_EVENT_INIT,
    CAS_STREAM_EVENT_TEXT_DELTA,
    CAS_STREAM_EVENT_RESULT,
  };
  gsize len = strlen (input);

  for (gsize cut = 0; cut <= len; cut++)
    {
      g_autoptr(CasLineSplitter) splitter = NULL;
      Sink sink;

      sink_init (&sink);
      splitter = cas_line_splitter_new (1024, sink_line, &sink);
      cas_line_splitter_feed (splitter, (const guint8 *) input, cut);
      cas_line_splitter_feed (splitter, (const guint8 *) input + cut, len - cut);
      cas_line_splitter_finish (splitter);

      g_assert_cmpuint (sink.errors, ==, 2);  /* "garbage" and the empty line */
      g_assert_cmpuint (sink.events->len, ==, G_N_ELEMENTS (kinds));
      for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
        g_assert_cmpint (event_at (&sink, i)->kind, ==, kinds[i]);
      g_assert_cmpstr (event_at (&sink, 1)->text, ==, "h\xc3\xa9");
      g_assert_cmpstr (event_at (&sink, 2)->text, ==, "h\xc3\xa9");
      sink_clear (&sink);
    }
}

static void
test_format_input_lines (void)
{
  const char *texts[] = { "hi", "", "Здравей \"свят\"\n\t\x01 {\"type\":\"x\"}", "\xf0\x9f\x98\x80" };

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autofree char *line = cas_stream_json_format_user_message (texts[i]);
      g_autoptr (JsonParser) parser = json_parser_new ();
      g_autoptr (GError) error = NULL;
      JsonObject *root, *message, *block;

      /* One line: the CLI reads one JSON object per line. */
      g_assert_true (g_str_has_suffix (line, "}\n"));
      g_assert_true (strchr (line, '\n') == line + strlen (line) - 1);
      json_parser_load_from_data (parser, line, -1, &error);
      g_assert_no_error (error);
      root = json_node_get_object (json_parser_get_root (parser));
      g_assert_cmpstr (json_object_get_string_member (root, "type"), ==, "user");
      message = json_object_get_object_member (root, "message");
      g_assert_cmpstr (json_object_get_string_member (message, "role"), ==, "user");
      block = json_array_get_object_element (json_object_get_array_member (message, "content"), 0);
      g_assert_cmpstr (json_object_get_string_member (block, "type"), ==, "text");
      g_assert_cmpstr (json_object_get_string_member (block, "text"), ==, texts[i]);
    }

  {
    g_autofree char *line = cas_stream_json_format_interrupt ("cas-interrupt-1");

    g_assert_cmpstr (line, ==, "{\"type\":\"control_request\",\"request_id\":\"cas-interrupt-1\","
                               "\"request\":{\"subtype\":\"interrupt\"}}\n");
  }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/stream-json/sample", test_sample);
  g_test_add_func ("/stream-json/sample-through-splitter", test_sample_through_splitter);
  g_test_add_func ("/stream-json/sample-crlf", test_sample_crlf);
  g_test_add_func ("/stream-json/sample-file", test_sample_file);
  g_test_add_func ("/stream-json/tool-transcript", test_tool_transcript);
  g_test_add_func ("/stream-json/not-logged-in", test_not_logged_in);
  g_test_add_func ("/stream-json/auth-and-api-errors", test_auth_and_api_errors);
  g_test_add_func ("/stream-json/api-retry", test_api_retry);
  g_test_add_func ("/stream-json/error-results", test_error_results);
  g_test_add_func ("/stream-json/tool-result-shapes", test_tool_result_shapes);
  g_test_add_func ("/stream-json/ignored", test_ignored);
  g_test_add_func ("/stream-json/block-choice", test_block_choice);
  g_test_add_func ("/stream-json/garbage", test_garbage);
  g_test_add_func ("/stream-json/depth-within-limit", test_depth_within_limit);
  g_test_add_func ("/stream-json/wrong-types", test_wrong_types);
  g_test_add_func ("/stream-json/invalid-utf8-via-splitter", test_invalid_utf8_via_splitter);
  g_test_add_func ("/stream-json/huge-line", test_huge_line);
  g_test_add_func ("/stream-json/every-chunk-boundary", test_every_chunk_boundary);
  g_test_add_func ("/stream-json/format-input-lines", test_format_input_lines);

  return g_test_run ();
}
