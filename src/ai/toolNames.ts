/**
 * The upstream `X-Tools-Used` header (agent services reporting the tools they ran):
 * comma-separated names, trimmed, empty ones and duplicates dropped, order kept. Several header
 * lines count as one list.
 */
export function parseToolsHeader(value: string | readonly string[] | null | undefined): string[] {
  if (value == null) return [];
  const joined = typeof value === 'string' ? value : value.join(',');
  return mergeToolNames(joined.split(',').map((name) => name.trim()));
}

/** Concatenates name lists keeping first-seen order, without duplicates or empty names. */
export function mergeToolNames(...lists: ReadonlyArray<readonly string[]>): string[] {
  const seen = new Set<string>();
  for (const list of lists) {
    for (const name of list) if (name !== '') seen.add(name);
  }
  return [...seen];
}
