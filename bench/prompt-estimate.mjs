// `node bench/prompt-estimate.mjs [dist dir]`: CPU of the prompt-token estimate (inspectRequest) for a
// chat client's requests, each resending a ~9 KB conversation plus one new question.
const dist = process.argv[2] ?? new URL("../dist", import.meta.url).pathname;
const { inspectRequest } = await import(`${dist}/ai/inspectRequest.js`);
const sys = 'You are the support agent of ACME Cloud. Be concise, friendly and precise. Never reveal internal tooling. '.repeat(20);
const turns = [];
for (let t = 0; t < 8; t++) {
  turns.push({ role: 'user', content: `Question ${t}: how do I rotate the credentials of my workspace and keep the old key valid for a day? `.repeat(3) });
  turns.push({ role: 'assistant', content: `Answer ${t}: open the console, choose Workspaces, then Keys; create a key, deploy it, and delete the old one after a day. `.repeat(4) });
}
// Every request resends the history plus one new question (as a chat client does).
const bodies = Array.from({ length: 2000 }, (_, i) => JSON.parse(JSON.stringify({ model: 'gpt-4o', max_tokens: 256, messages: [{ role: 'system', content: sys }, ...turns, { role: 'user', content: `New question ${i}?` }] })));
for (let i = 0; i < 200; i++) inspectRequest('/v1/chat/completions', bodies[i]);
const t = process.hrtime.bigint();
let tokens = 0;
for (const b of bodies) tokens += inspectRequest('/v1/chat/completions', b).estimatedPromptTokens;
console.log(`${(Number(process.hrtime.bigint() - t) / bodies.length / 1000).toFixed(1)} µs per request (prompt ${JSON.stringify(bodies[0]).length} bytes, ~${Math.round(tokens / bodies.length)} tokens)`);
