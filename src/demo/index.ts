import { startAgentRouter } from './agentRouter.js';
import { startMcpServer } from './mcpServer.js';
import { startOpenAiServer } from './openaiServer.js';
import type { DemoServer, ListenOptions } from './demoHttp.js';

export { startOpenAiServer } from './openaiServer.js';
export { startAgentRouter, DEFAULT_AGENT_TOOLS } from './agentRouter.js';
export { startMcpServer, buildDemoMcpServer, MCP_PATH } from './mcpServer.js';
export { DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDING_MODEL, DEMO_MODELS } from './demoModel.js';
export type { DemoServer, ListenOptions } from './demoHttp.js';
export type { RecordedRequest } from './lastRequest.js';

/** The three demo upstreams of `tollgate demo` (and of the test suite). */
export interface DemoUpstreams {
  /** OpenAI/Anthropic-compatible LLM service base URL. */
  openai: string;
  /** Agent Router stand-in base URL. */
  agentRouter: string;
  /** MCP server base URL (the endpoint is `${mcp}/mcp`). */
  mcp: string;
  servers: { openai: DemoServer; agentRouter: DemoServer; mcp: DemoServer };
  close(): Promise<void>;
}

export interface DemoUpstreamsOptions {
  /** Listen address for all three (default 127.0.0.1); ports are ephemeral unless given. */
  host?: string;
  openai?: ListenOptions;
  agentRouter?: ListenOptions;
  mcp?: ListenOptions;
}

export async function startDemoUpstreams(options: DemoUpstreamsOptions = {}): Promise<DemoUpstreams> {
  const withHost = (own: ListenOptions | undefined): ListenOptions => ({ host: options.host, ...own });
  const started = await Promise.allSettled([
    startOpenAiServer(withHost(options.openai)),
    startAgentRouter(withHost(options.agentRouter)),
    startMcpServer(withHost(options.mcp)),
  ]);
  const servers = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failure = started.find((result) => result.status === 'rejected');
  if (failure !== undefined) {
    await Promise.all(servers.map((server) => server.close()));
    throw failure.reason;
  }
  const [openai, agentRouter, mcp] = servers;
  return {
    openai: openai.url,
    agentRouter: agentRouter.url,
    mcp: mcp.url,
    servers: { openai, agentRouter, mcp },
    close: async () => {
      await Promise.all(servers.map((server) => server.close()));
    },
  };
}
