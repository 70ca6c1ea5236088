import { cpus } from 'node:os';
import { execFileSync } from 'node:child_process';

/**
 * CPU pinning: the process under test gets core 0, the load generator (and the upstream when
 * it is not itself measured) the last core, so they do not steal each other's cycles.
 * Without taskset or with one core, commands run unpinned (the table says so).
 */
const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return cpus().length > 1;
  } catch {
    return false;
  }
})();

export const PINNING = hasTaskset ? `proxy on core 0, load + upstream on core ${cpus().length - 1}` : 'unpinned';

export function pinned(role: 'proxy' | 'load', argv: string[]): string[] {
  if (!hasTaskset) return argv;
  const core = role === 'proxy' ? '0' : String(cpus().length - 1);
  return ['taskset', '-c', core, ...argv];
}
