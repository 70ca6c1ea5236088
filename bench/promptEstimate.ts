/**
 * `node --import tsx bench/promptEstimate.ts`: CPU of the prompt-token estimate (inspectRequest,
 * what token-budget reserves) for a chat client's requests, each resending a ~9 KB
 * conversation plus one new question; then the worst case, a 32 K-character prompt of rare CJK
 * characters (no spaces, each one several byte-level tokens), different on every request.
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

// The worst case for BPE: rare CJK characters without spaces, a different text each time (so
// neither the count cache nor the encoder's own piece cache helps).
const rare = (seed: number) => Array.from({ length: 32 * 1024 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919 + seed * 104729) % 20000))).join('');
const dense = Array.from({ length: 12 }, (_, i) => ({ model: 'gpt-4o', max_tokens: 256, messages: [{ role: 'user', content: rare(i + 1) }] }));
inspectRequest('/v1/chat/completions', dense[0]);
const denseStarted = process.hrtime.bigint();
let denseTokens = 0;
for (const body of dense.slice(1)) denseTokens += inspectRequest('/v1/chat/completions', body).estimatedPromptTokens;
const denseMs = Number(process.hrtime.bigint() - denseStarted) / (dense.length - 1) / 1e6;
process.stdout.write(`${denseMs.toFixed(1)} ms per request (dense: 32 K rare CJK characters, reserved ~${Math.round(denseTokens / (dense.length - 1))} tokens)\n`);
