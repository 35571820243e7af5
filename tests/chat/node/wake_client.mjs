// The node openai client streaming a chat through a wake-up: `node wake_client.mjs <base url ending in /v1> <model>`.
// Prints the answer's text as one JSON line; the API's ": waking the model" comments must not reach it.
import OpenAI from "openai";

const [baseURL, model] = process.argv.slice(2);
const openai = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0 });
let text = "";
const stream = await openai.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], stream: true });
for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
console.log(JSON.stringify({ text }));
