/** Small statistics for benchmark samples: median and the spread between the 10th and 90th percentile. */
export interface Summary {
  median: number;
  p10: number;
  p90: number;
  samples: number;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))] ?? NaN;
  return { median: at(0.5), p10: at(0.1), p90: at(0.9), samples: sorted.length };
}

/** The value at quantile `q` (0.99: p99) of the samples; NaN for none. */
export function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/**
 * Operations per second of `fn`, called in batches of 50 for about `ms`. Imports nothing, so
 * the Deno harness (bench/edge-deno-harness.mjs) times its rounds with it too.
 */
export async function opsPerSecond(fn: () => unknown, ms: number): Promise<number> {
  let count = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 50; i++) await fn();
    count += 50;
    now = performance.now();
  }
  return (count * 1000) / (now - start);
}

/** Runs `fn` repeatedly for about `seconds` and returns operations per second, measured in `rounds` rounds. */
export async function throughput(fn: () => unknown, options: { seconds?: number; rounds?: number } = {}): Promise<Summary> {
  const rounds = options.rounds ?? 5;
  const perRound = ((options.seconds ?? 1) * 1000) / rounds;
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) rates.push(await opsPerSecond(fn, perRound));
  return summarize(rates);
}

/** Times `fn` `times` times (ms each). */
export async function timings(fn: () => unknown, times: number): Promise<Summary> {
  const values: number[] = [];
  for (let i = 0; i < times; i++) {
    const start = performance.now();
    await fn();
    values.push(performance.now() - start);
  }
  return summarize(values);
}
