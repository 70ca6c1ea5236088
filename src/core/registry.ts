import type { PluginDefinition } from './plugin.js';
import { PRIORITIES } from './priorities.js';

export interface RegisteredPlugin<C = unknown> extends PluginDefinition<C> {
  priority: number;
}

/** The set of plugins this build knows, keyed by name, each with its priority from the table. */
export class PluginRegistry {
  private readonly plugins = new Map<string, RegisteredPlugin>();

  constructor(definitions: readonly PluginDefinition<unknown>[] = []) {
    for (const def of definitions) this.register(def);
  }

  register(def: PluginDefinition): void {
    const priority = PRIORITIES[def.name];
    if (priority === undefined) {
      throw new Error(`plugin '${def.name}' has no priority in src/core/priorities.ts; add it to the table`);
    }
    if (this.plugins.has(def.name)) throw new Error(`plugin '${def.name}' is registered twice`);
    this.plugins.set(def.name, { ...def, priority });
  }

  get(name: string): RegisteredPlugin | undefined {
    return this.plugins.get(name);
  }

  names(): string[] {
    return [...this.plugins.keys()].sort();
  }
}
