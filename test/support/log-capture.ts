/**
 * Records everything this process writes to its logs — every console method
 * and every direct write to process.stdout / process.stderr — while still
 * passing it through, so a suite can scan what the functions would have put
 * in Netlify's function log for secrets.
 */
import { format } from 'node:util';

export interface LogCapture {
  /** Everything written since the capture started. */
  text(): string;
  /** Puts the original methods back. */
  stop(): void;
}

const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir'] as const;

export function captureLogs(): LogCapture {
  const chunks: string[] = [];
  const restore: Array<() => void> = [];

  for (const method of CONSOLE_METHODS) {
    const original = console[method] as (...args: unknown[]) => void;
    (console as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      chunks.push(format(...args));
      original.apply(console, args);
    };
    restore.push(() => { (console as unknown as Record<string, unknown>)[method] = original; });
  }
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write;
    stream.write = function write(this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return (original as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof stream.write;
    restore.push(() => { stream.write = original; });
  }
  return {
    text: () => chunks.join('\n'),
    stop: () => { for (const undo of restore.splice(0)) undo(); },
  };
}

/**
 * The labels of the secrets that occur in `text`. Each secret is looked for
 * as it is and in the encodings a careless log line would use (percent-,
 * base64- and JSON-escaped), so `password=hunter2%21` still counts.
 */
export function leakedSecrets(text: string, secrets: ReadonlyMap<string, string>): string[] {
  const found: string[] = [];
  for (const [label, value] of secrets) {
    if (value.length < 8) throw new Error(`secret ${label} is too short to scan for without false alarms`);
    const forms = new Set([value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1), Buffer.from(value).toString('base64')]);
    if ([...forms].some((form) => text.includes(form))) found.push(label);
  }
  return found;
}
