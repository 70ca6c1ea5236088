import type { UsageAccumulator } from './usageAccumulator.js';
import { recordField, recordsOf, stringField, type JsonRecord } from './jsonAccess.js';

/** Readers of Anthropic Messages API bodies and stream events. */

function readContentBlock(acc: UsageAccumulator, block: JsonRecord): void {
  if (block.type === 'tool_use' || block.type === 'server_tool_use') {
    acc.addTool(block.name);
    const input = recordField(block, 'input');
    if (input !== null && Object.keys(input).length > 0) acc.addGenerated(JSON.stringify(input));
    return;
  }
  acc.addGenerated(block.text);
  acc.addGenerated(block.thinking);
}

/** A whole `message` body. */
export function readAnthropicMessage(acc: UsageAccumulator, message: JsonRecord): void {
  acc.setModel(message.model);
  const usage = recordField(message, 'usage');
  if (usage !== null) acc.readAnthropicUsage(usage, true);
  for (const block of recordsOf(message, 'content')) readContentBlock(acc, block);
}

/**
 * One stream event: `message_start` (model, input usage), `content_block_start` (tool_use
 * names), `content_block_delta` (generated text and tool input JSON), `message_delta`
 * (cumulative output usage).
 */
export function readAnthropicEvent(acc: UsageAccumulator, event: JsonRecord): void {
  switch (stringField(event, 'type')) {
    case 'message_start': {
      // Its output_tokens is a placeholder (1 or 2): only message_delta's count is final, so a
      // stream cut before it is estimated from the text seen instead of charged 2 tokens.
      const message = recordField(event, 'message');
      const usage = message === null ? null : recordField(message, 'usage');
      acc.setModel(message?.model);
      if (usage !== null) acc.readAnthropicUsage(usage, false);
      break;
    }
    case 'content_block_start': {
      const block = recordField(event, 'content_block');
      if (block !== null) readContentBlock(acc, block);
      break;
    }
    case 'content_block_delta': {
      const delta = recordField(event, 'delta');
      if (delta !== null) acc.addGenerated(delta.text ?? delta.partial_json ?? delta.thinking);
      break;
    }
    case 'message_delta': {
      const usage = recordField(event, 'usage');
      if (usage !== null) acc.readAnthropicUsage(usage, true);
      break;
    }
  }
}
