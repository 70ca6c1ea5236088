/** What a connection remembers in one memo slot: its last input and the result computed from it. */
interface Remembered<T> {
  input: string;
  result: T;
}

/**
 * A per-connection memo of one pure function of a string: `f(input)`, except that a connection
 * (the client socket) that repeats its last input, as a keep-alive client repeats its headers,
 * gets the remembered result after a string comparison. `slot` names the memo (one symbol per
 * function). The input is held by its own connection only, until it sends another or closes.
 */
export function memoOnConnection<T>(connection: object, slot: symbol, input: string, f: (input: string) => T): T {
  const holder = connection as Record<symbol, Remembered<T> | undefined>;
  const last = holder[slot];
  if (last !== undefined && last.input === input) return last.result;
  const result = f(input);
  holder[slot] = { input, result };
  return result;
}
