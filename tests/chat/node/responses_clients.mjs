// Node clients of the Responses API: `node responses_clients.mjs <base url ending in /v1> <model> [greedy]`.
// Prints one JSON line per check: {"client", "check", "ok", "detail"}. Unchanged clients: base URL, key, model only;
// `greedy` adds temperature 0 and an 8-token limit, so a real engine answers the same text twice.
import OpenAI from "openai";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, jsonSchema, stepCountIs, streamText, tool } from "ai";

const [baseURL, model, mode] = process.argv.slice(2);
const greedy = mode === "greedy" ? { temperature: 0, max_output_tokens: 8 } : {};
const greedySdk = mode === "greedy" ? { temperature: 0, maxOutputTokens: 8 } : {};
const report = (client, check, ok, detail) => console.log(JSON.stringify({ client, check, ok, detail }));

async function check(client, name, fn) {
  try {
    report(client, name, true, await fn());
  } catch (error) {
    report(client, name, false, String(error?.message ?? error));
  }
}

const openai = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0 });
await check("openai", "create", async () => (await openai.responses.create({ model, input: "Hi", ...greedy })).output_text);
await check("openai", "stream", async () => {
  let text = "";
  const stream = await openai.responses.create({ model, input: "Hi", stream: true, ...greedy });
  for await (const event of stream) if (event.type === "response.output_text.delta") text += event.delta;
  return text;
});

// The AI SDK's default OpenAI provider: `provider(model)` speaks the Responses API.
const provider = createOpenAI({ baseURL, apiKey: "unused" });
await check("ai-sdk", "generateText", async () => (await generateText({ model: provider(model), prompt: "Hi", ...greedySdk })).text);
await check("ai-sdk", "streamText", async () => {
  let text = "";
  for await (const piece of streamText({ model: provider(model), prompt: "Hi", ...greedySdk }).textStream) text += piece;
  return text;
});
await check("ai-sdk", "tool round trip", async () => {
  const calls = [];
  const result = await generateText({
    model: provider(model),
    prompt: "Weather in Paris?",
    ...greedySdk,
    tools: {
      get_weather: tool({
        description: "The weather in a city",
        inputSchema: jsonSchema({ type: "object", properties: { city: { type: "string" } }, required: ["city"] }),
        execute: async ({ city }) => {
          calls.push(city);
          return `Sunny in ${city}`;
        },
      }),
    },
    stopWhen: stepCountIs(3),
  });
  return { text: result.text, calls };
});
