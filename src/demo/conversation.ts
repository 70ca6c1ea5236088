import type { AiApi } from '../ai/types.js';
import { arrayField, isRecord, recordField, stringField, type JsonRecord } from '../ai/jsonAccess.js';

/** A tool the caller offered: its name and JSON-schema parameters. */
export interface OfferedTool {
  name: string;
  parameters: JsonRecord | null;
}

/** What the demo model needs to know about a conversation to answer it. */
export interface Conversation {
  /** Text of the last user turn ('' when none). */
  userText: string;
  /** Text of the latest tool result (tool message, tool_result block, function_call_output). */
  toolResult: string | null;
  tools: OfferedTool[];
  /** `tool_choice: "none"` (OpenAI) / `{type: "none"}` (Anthropic). */
  toolsDisabled: boolean;
}

/** The text parts of a content value (string, parts array, or a part), joined by spaces. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map(contentText).filter((text) => text !== '').join(' ');
  if (!isRecord(content)) return '';
  return stringField(content, 'text') ?? stringField(content, 'output') ?? contentText(content.content);
}

/** Tool definitions in the OpenAI chat, responses-API and Anthropic shapes. */
function offeredTools(body: JsonRecord): OfferedTool[] {
  const tools: OfferedTool[] = [];
  for (const tool of arrayField(body, 'tools')) {
    if (!isRecord(tool)) continue;
    const fn = recordField(tool, 'function') ?? tool;
    const name = stringField(fn, 'name');
    if (name === null) continue;
    tools.push({ name, parameters: recordField(fn, 'parameters') ?? recordField(fn, 'input_schema') });
  }
  return tools;
}

function toolsDisabled(body: JsonRecord): boolean {
  const choice = body.tool_choice;
  return choice === 'none' || (isRecord(choice) && choice.type === 'none');
}

/** Reads the turns: which is the last user text, and whether a tool result came back yet. */
function readTurns(api: AiApi, body: JsonRecord): Pick<Conversation, 'userText' | 'toolResult'> {
  let userText = '';
  let toolResult: string | null = null;
  const turns = api === 'openai-responses' ? body.input : body.messages;
  if (typeof turns === 'string') return { userText: turns, toolResult };
  for (const turn of Array.isArray(turns) ? turns : []) {
    if (!isRecord(turn)) continue;
    if (turn.role === 'tool' || turn.type === 'function_call_output') {
      toolResult = contentText(turn.content ?? turn.output);
    } else if (turn.role === 'user') {
      const blocks = Array.isArray(turn.content) ? turn.content.filter(isRecord) : [];
      const results = blocks.filter((block) => block.type === 'tool_result');
      if (results.length > 0) toolResult = contentText(results.map((block) => block.content));
      const text = contentText(blocks.length > 0 ? blocks.filter((block) => block.type !== 'tool_result') : turn.content);
      if (text !== '') userText = text;
    }
  }
  return { userText, toolResult };
}

export function readConversation(api: AiApi, body: JsonRecord): Conversation {
  return { ...readTurns(api, body), tools: offeredTools(body), toolsDisabled: toolsDisabled(body) };
}
