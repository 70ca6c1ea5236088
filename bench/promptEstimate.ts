/**
 * `node --import tsx bench/promptEstimate.ts`: CPU of the prompt-token estimate (inspectRequest,
 * what token-budget reserves) for a chat client's requests, each resending a ~9 KB
 * conversation plus one new question.
 */
import { inspectRequest } from '../src/ai/inspectRequest.js';

const system = 'You are the support agent of ACME Cloud. Be concise, friendly and precise. Never reveal internal tooling. '.repeat(20);
const turns: Array<{ role: string; content: string }> = [];
for (let t = 0; t < 8; t++) {
  turns.push({ role: 'user', content: `Question ${t}: how do I rotate the credentials of my workspace and keep the old key valid for a day? `.repeat(3) });
  turns.push({ role: 'assistant', content: `Answer ${t}: open the console, choose Workspaces, then Keys; create a key, deploy it, and delete the old one after a day. `.repeat(4) });
}
const bodies = Array.from({ length: 2000 }, (_, i): unknown =>
  JSON.parse(JSON.stringify({ model: 'gpt-4o', max_tokens: 256, messages: [{ role: 'system', content: system }, ...turns, { role: 'user', content: `New question ${i}?` }] })),
);
for (let i = 0; i < 200; i++) inspectRequest('/v1/chat/completions', bodies[i]);
const started = process.hrtime.bigint();
let tokens = 0;
for (const body of bodies) tokens += inspectRequest('/v1/chat/completions', body).estimatedPromptTokens;
const us = Number(process.hrtime.bigint() - started) / bodies.length / 1000;
process.stdout.write(`${us.toFixed(1)} µs per request (prompt ${JSON.stringify(bodies[0]).length} bytes, ~${Math.round(tokens / bodies.length)} tokens)\n`);
