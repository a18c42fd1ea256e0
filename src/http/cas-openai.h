/* cas-openai.h: the OpenAI chat-completions wire format, as a pure core.
 *
 * Parsing validates an untrusted request body into a CasChatRequest;
 * flattening turns the dialogue into the one prompt the CLI reads on
 * stdin; the formatters write chat.completion.chunk frames, the
 * non-streaming chat.completion body and the /v1/models list. Everything
 * is written with cas-json (never JsonGenerator): control characters
 * escaped, non-ASCII raw. No I/O, no clock.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
  CAS_CHAT_ROLE_SYSTEM,
  CAS_CHAT_ROLE_DEVELOPER,
  CAS_CHAT_ROLE_USER,
  CAS_CHAT_ROLE_ASSISTANT,
  CAS_CHAT_ROLE_TOOL,
} CasChatRole;

typedef struct {
  char *id;        /* (nullable) */
  char *name;      /* (nullable) function name */
  char *arguments; /* (nullable) function arguments, as sent (a JSON text) */
} CasChatToolCall;

typedef struct {
  CasChatRole role;
  char *content;         /* (nullable) text parts joined with "\n"; NULL when
                          * content was null, absent or had no text part */
  char *name;            /* (nullable) */
  char *tool_call_id;    /* (nullable) */
  GPtrArray *tool_calls; /* (element-type CasChatToolCall) (owned), maybe empty */
} CasChatMessage;

typedef struct {
  char *model;           /* the request's model, or the default */
  GPtrArray *messages;   /* (element-type CasChatMessage) (owned), never empty */
  gboolean stream;
  gboolean include_usage; /* stream_options.include_usage */
} CasChatRequest;

void cas_chat_request_free (CasChatRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasChatRequest, cas_chat_request_free)

/* Validates @body. Fails with CAS_ERROR_INVALID_ARGUMENT and a message a
 * client can act on: messages missing, empty or not an array, a message
 * that is not an object, an unknown role, a field of the wrong type, or
 * a model not in @models ("unsupported model: 'x'; supported: a, b").
 * Unknown fields and sampling parameters are accepted and ignored. */
CasChatRequest *cas_chat_request_parse (JsonObject         *body,
                                        const char         *default_model,
                                        const char * const *models,
                                        GError            **error);

/* The dialogue as one prompt: system and developer texts first (joined
 * by blank lines), then "User: ...", "Assistant: ..." (with its tool
 * calls as "Assistant called tool NAME with arguments: ...") and
 * "Tool: ..." lines in order, separated by blank lines. */
char *cas_chat_request_flatten_prompt (const CasChatRequest *request);

/* "chatcmpl-" + 24 lowercase hex digits (from g_random). */
char *cas_openai_new_completion_id (void);

/* Formats the frames of one streamed completion. The constant part of
 * every chunk (id, object, created, model) is formatted once. */
typedef struct _CasChunkFormat CasChunkFormat;

CasChunkFormat *cas_chunk_format_new (const char *id,
                                      const char *model,
                                      gint64      created);
void cas_chunk_format_free (CasChunkFormat *format);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CasChunkFormat, cas_chunk_format_free)

const char *cas_chunk_format_get_id (const CasChunkFormat *format);
const char *cas_chunk_format_get_model (const CasChunkFormat *format);
gint64 cas_chunk_format_get_created (const CasChunkFormat *format);

/* Each appends one whole SSE frame, "data: <json>\n\n", to @out. */
/* delta {"role":"assistant"}, finish_reason null */
void cas_chunk_format_append_role (const CasChunkFormat *format,
                                   GString              *out);
/* delta {"content":<text>}; @len -1 for NUL-terminated */
void cas_chunk_format_append_content (const CasChunkFormat *format,
                                      GString              *out,
                                      const char           *text,
                                      gssize                len);
/* delta {}, finish_reason @finish_reason ("stop") */
void cas_chunk_format_append_finish (const CasChunkFormat *format,
                                     GString              *out,
                                     const char           *finish_reason);
/* choices [] and usage {prompt_tokens, completion_tokens, total_tokens} */
void cas_chunk_format_append_usage (const CasChunkFormat *format,
                                    GString              *out,
                                    gint64                prompt_tokens,
                                    gint64                completion_tokens);

/* data: {"error":{"message","type","param":null,"code"}} */
void cas_openai_append_error_frame (GString    *out,
                                    const char *message,
                                    const char *type,
                                    const char *code);
/* data: [DONE] */
void cas_openai_append_done_frame (GString *out);

/* The non-streaming chat.completion body. */
char *cas_openai_format_completion (const char *id,
                                    const char *model,
                                    gint64      created,
                                    const char *text,
                                    gint64      prompt_tokens,
                                    gint64      completion_tokens);

/* {"object":"list","data":[{"id","object":"model","created","owned_by":"anthropic"}]} */
char *cas_openai_format_models (const char * const *models,
                                gint64              created);

G_END_DECLS
