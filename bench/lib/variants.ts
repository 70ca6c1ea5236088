import type { BenchConfig } from './policy.js';

/** A bench variant: the full policy set (`full`), no plugins (`none`), or the full set's entries named in `a+b+…`. */
export function variantConfig(variant: string, full: BenchConfig): BenchConfig {
  if (variant === 'full') return full;
  const wanted = variant === 'none' ? [] : variant.split('+');
  return { ...full, plugins: full.plugins.filter((p) => wanted.includes(p.instance_name ?? p.name) || wanted.includes(p.name)) };
}
