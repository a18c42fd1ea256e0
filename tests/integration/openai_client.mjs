// A real OpenAI client against the daemon: the official `openai` npm
// package, used the way Pipecat's OpenAILLMService and other SDK callers
// use it. Driven by test_chat.py: CAS_PORT and CAS_TOKEN name the daemon,
// argv[2] the scenario; prints one JSON object with what it saw.
//
// SPDX-License-Identifier: GPL-3.0-or-later
import OpenAI from 'openai';

const baseURL = `http://127.0.0.1:${process.env.CAS_PORT}/v1`;
const client = new OpenAI({ baseURL, apiKey: process.env.CAS_TOKEN, maxRetries: 0, timeout: 30000 });

// A dialogue with everything Pipecat may send: a developer message,
// content parts, an assistant tool call with null content, a tool result.
const messages = [
  { role: 'system', content: 'You are a voice assistant.' },
  { role: 'developer', content: [{ type: 'text', text: 'Answer briefly.' }] },
  { role: 'user', content: [{ type: 'text', text: 'What is the weather in Sofia?' }] },
  {
    role: 'assistant',
    content: null,
    tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Sofia"}' } }],
  },
  { role: 'tool', tool_call_id: 'call_1', content: '22 degrees' },
];
const tools = [{
  type: 'function',
  function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
}];

function describeError(err) {
  return {
    class: err?.constructor?.name ?? typeof err,
    isBadRequest: err instanceof OpenAI.BadRequestError,
    isAuthentication: err instanceof OpenAI.AuthenticationError,
    isAPIError: err instanceof OpenAI.APIError,
    status: err?.status ?? null,
    message: String(err?.message ?? err),
  };
}

async function stream() {
  const chunks = [];
  const response = await client.chat.completions.create({
    model: 'haiku',
    messages,
    tools,
    tool_choice: 'auto',
    temperature: 0.7,
    max_completion_tokens: 256,
    stream: true,
    stream_options: { include_usage: true },
  });
  for await (const chunk of response)
    chunks.push(chunk);
  return {
    content: chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''),
    roles: chunks.map((c) => c.choices[0]?.delta?.role ?? null).filter((r) => r !== null),
    finish: chunks.map((c) => c.choices[0]?.finish_reason ?? null).filter((f) => f !== null),
    usage: chunks.at(-1)?.usage ?? null,
    ids: [...new Set(chunks.map((c) => c.id))],
    objects: [...new Set(chunks.map((c) => c.object))],
    models: [...new Set(chunks.map((c) => c.model))],
    count: chunks.length,
  };
}

async function complete() {
  const completion = await client.chat.completions.create({ model: 'sonnet', messages, tools });
  return {
    content: completion.choices[0].message.content,
    role: completion.choices[0].message.role,
    finish: completion.choices[0].finish_reason,
    usage: completion.usage,
    object: completion.object,
    id: completion.id,
  };
}

async function expectError(promise) {
  try {
    const response = await promise;
    if (response && typeof response[Symbol.asyncIterator] === 'function')
      for await (const _ of response) { /* drain */ }
    return { error: null };
  } catch (err) {
    return { error: describeError(err) };
  }
}

async function main() {
  const scenario = process.argv[2] ?? 'all';
  const out = {};
  if (scenario === 'all') {
    out.models = (await client.models.list()).data.map((m) => m.id);
    out.stream = await stream();
    out.complete = await complete();
    out.unknownModel = await expectError(client.chat.completions.create({
      model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true,
    }));
    const badToken = new OpenAI({ baseURL, apiKey: 'wrong-token', maxRetries: 0 });
    out.badToken = await expectError(badToken.chat.completions.create({
      model: 'haiku', messages: [{ role: 'user', content: 'hi' }],
    }));
  } else if (scenario === 'stream-error') {
    out.streamError = await expectError(client.chat.completions.create({
      model: 'haiku', messages, stream: true, stream_options: { include_usage: true },
    }));
  } else {
    throw new Error(`unknown scenario ${scenario}`);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ fatal: describeError(err) }) + '\n');
  process.exit(1);
});
