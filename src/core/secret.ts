import { inspect } from 'node:util';

/**
 * A secret value that cannot leak by accident: printing, logging, string
 * interpolation and JSON all show `[redacted]`. Read it with `.reveal()`.
 *
 * @example
 * const s = new Secret(process.env.JWT_SECRET!);
 * console.log({ s }); // { s: [redacted] }
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  /** The UTF-8 bytes, as jose and node:crypto want them for HMAC keys. */
  bytes(): Uint8Array<ArrayBuffer> {
    return new TextEncoder().encode(this.#value);
  }

  toString(): string {
    return '[redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return '[redacted]';
  }
}
