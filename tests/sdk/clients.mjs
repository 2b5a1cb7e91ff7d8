// The official SDKs as a sandbox's agent would use them, for km's metering tests
// (tests/integration/sdk_metering_test.sh). Usage: node clients.mjs CASE [N]
// Prints one JSON line: what the SDK returned (the usage it read) or the error it raised.
// The SDKs reach the providers' real host names; inside a sandbox km's proxy catches them
// (transparent port) and its CA is trusted through NODE_EXTRA_CA_CERTS.
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import {
  BedrockRuntimeClient, InvokeModelCommand, InvokeModelWithResponseStreamCommand, ConverseCommand,
  ConverseStreamCommand,
} from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";

const [, , which, countArg] = process.argv;
const headers = JSON.parse(process.env.FAKE_HEADERS || "{}");  // X-Fake-* for the fake providers
const anthropic = new Anthropic({ apiKey: "sk-ant-fake", maxRetries: 0, defaultHeaders: headers });
const openai = new OpenAI({ apiKey: "sk-fake", maxRetries: 0, defaultHeaders: headers });
// HTTP/1.1: the Bedrock Runtime client speaks only HTTP/2 by default, which km's intercepting
// proxy does not offer (docs/metering.md, Limits).
const bedrock = new BedrockRuntimeClient({
  region: "us-east-1", maxAttempts: 1, requestHandler: new NodeHttpHandler(),
  credentials: { accessKeyId: "AKIAFAKEFAKEFAKEFAKE", secretAccessKey: "fake/secret" },
});
// The fake's headers on Bedrock requests too.
bedrock.middlewareStack.add((next) => async (args) => {
  for (const [k, v] of Object.entries(headers)) args.request.headers[k] = v;
  return next(args);
}, { step: "build", name: "fakeHeaders" });
const MODEL = process.env.MODEL || "claude-sonnet-4-5";
const BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const user = [{ role: "user", content: "Say a few words." }];
// Bedrock cases: $MAX_TOKENS (default 200) and $PAD bytes of padding in the prompt (default 0).
const bedrockMax = Number(process.env.MAX_TOKENS || 200);
const bedrockUser = [{ role: "user", content: "Say a few words." + "x".repeat(Number(process.env.PAD || 0)) }];
const decoder = new TextDecoder();

const cases = {
  "anthropic-json": async () => {
    const m = await anthropic.messages.create({ model: MODEL, max_tokens: 200, messages: user });
    return { id: m.id, usage: m.usage };
  },
  "anthropic-stream": async () => {
    const s = anthropic.messages.stream({ model: MODEL, max_tokens: 200, messages: user });
    let events = 0;
    for await (const _ of s) events++;
    const m = await s.finalMessage();
    return { id: m.id, usage: m.usage, events };
  },
  "anthropic-count": async () => {
    const c = await anthropic.messages.countTokens({ model: MODEL, messages: user });
    return { input_tokens: c.input_tokens };
  },
  "openai-chat-json": async () => {
    const c = await openai.chat.completions.create({ model: "gpt-4o", max_completion_tokens: 200, messages: user });
    return { id: c.id, usage: c.usage };
  },
  "openai-chat-stream": async () => {
    // No stream_options: km asks for the usage chunk itself.
    const s = await openai.chat.completions.create({ model: "gpt-4o", max_completion_tokens: 200, messages: user, stream: true });
    let usage = null, chunks = 0;
    for await (const c of s) { chunks++; if (c.usage) usage = c.usage; }
    return { usage, chunks };
  },
  "openai-responses-json": async () => {
    const r = await openai.responses.create({ model: "gpt-5", max_output_tokens: 200, input: "Say a few words." });
    return { id: r.id, usage: r.usage };
  },
  "openai-responses-stream": async () => {
    const s = await openai.responses.create({ model: "gpt-5", max_output_tokens: 200, input: "Say a few words.", stream: true });
    let usage = null, events = 0;
    for await (const e of s) { events++; if (e.type === "response.completed") usage = e.response.usage; }
    return { usage, events };
  },
  "bedrock-invoke": async () => {
    const r = await bedrock.send(new InvokeModelCommand({
      modelId: BEDROCK_MODEL, contentType: "application/json", accept: "application/json",
      body: JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: bedrockMax, messages: bedrockUser }),
    }));
    return { usage: JSON.parse(decoder.decode(r.body)).usage };
  },
  "bedrock-invoke-stream": async () => {
    const r = await bedrock.send(new InvokeModelWithResponseStreamCommand({
      modelId: BEDROCK_MODEL, contentType: "application/json", accept: "application/json",
      body: JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: bedrockMax, messages: bedrockUser }),
    }));
    let metrics = null, events = 0;
    for await (const e of r.body) {
      if (!e.chunk) continue;
      events++;
      const ev = JSON.parse(decoder.decode(e.chunk.bytes));
      if (ev["amazon-bedrock-invocationMetrics"]) metrics = ev["amazon-bedrock-invocationMetrics"];
    }
    return { usage: metrics && { input_tokens: metrics.inputTokenCount, output_tokens: metrics.outputTokenCount }, events };
  },
  "bedrock-converse": async () => {
    const r = await bedrock.send(new ConverseCommand({
      modelId: BEDROCK_MODEL, messages: [{ role: "user", content: [{ text: bedrockUser[0].content }] }],
      inferenceConfig: { maxTokens: bedrockMax },
    }));
    return { usage: { input_tokens: r.usage.inputTokens, output_tokens: r.usage.outputTokens } };
  },
  "bedrock-converse-stream": async () => {
    const r = await bedrock.send(new ConverseStreamCommand({
      modelId: BEDROCK_MODEL, messages: [{ role: "user", content: [{ text: bedrockUser[0].content }] }],
      inferenceConfig: { maxTokens: bedrockMax },
    }));
    let usage = null, events = 0;
    for await (const e of r.stream) {
      events++;
      if (e.metadata) usage = { input_tokens: e.metadata.usage.inputTokens, output_tokens: e.metadata.usage.outputTokens };
    }
    return { usage, events };
  },
  // N streamed Anthropic calls at once (max_tokens from $MAX_TOKENS, default 64000), near a
  // small budget's ceiling: how many were served and how many refused, with the refusals'
  // messages.
  "anthropic-parallel": async () => {
    const n = Number(countArg || 100);
    const maxTokens = Number(process.env.MAX_TOKENS || 64000);
    const one = async () => {
      try {
        const s = anthropic.messages.stream({ model: MODEL, max_tokens: maxTokens, messages: user });
        const m = await s.finalMessage();
        return { ok: true, output: m.usage.output_tokens };
      } catch (e) {
        return { ok: false, status: e.status, message: String(e.message).slice(0, 300) };
      }
    };
    const all = await Promise.all(Array.from({ length: n }, one));
    const served = all.filter((r) => r.ok);
    const refused = all.filter((r) => !r.ok);
    return {
      served: served.length, refused: refused.length,
      statuses: [...new Set(refused.map((r) => r.status))],
      sample: refused.slice(0, 2).map((r) => r.message),
    };
  },
};

const run = cases[which];
if (!run) {
  console.log(JSON.stringify({ error: `unknown case ${which}; cases: ${Object.keys(cases).join(", ")}` }));
  process.exit(2);
}
try {
  console.log(JSON.stringify({ ok: true, ...(await run()) }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, status: e.status ?? e.$metadata?.httpStatusCode, name: e.name, message: String(e.message).slice(0, 500) }));
  process.exit(1);
}
