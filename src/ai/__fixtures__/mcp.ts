/** MCP JSON-RPC messages (Streamable HTTP transport). */

export const mcpToolCall = {
  jsonrpc: '2.0',
  id: 7,
  method: 'tools/call',
  params: { name: 'calculator', arguments: { expression: '2 + 2' } },
};

export const mcpBatch = [
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'search', arguments: { query: 'tollgate' } } },
  { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } },
  { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'calculator', arguments: { expression: '1+1' } } },
  { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'search', arguments: { query: 'again' } } },
];

export const mcpToolResultSse =
  'event: message\ndata: {"result":{"content":[{"type":"text","text":"4"}]},"jsonrpc":"2.0","id":7}\n\n';
