import type { CliIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/main.js';

export interface FakeIoOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  stdin?: string;
  /** Answers typed at the no-echo prompt, in order; makes stdin a terminal. */
  typed?: string[];
}

/** A CliIo that records what a command printed and what it asked for. */
export function fakeIo(options: FakeIoOptions = {}) {
  const out = { stdout: '', stderr: '', prompts: [] as string[] };
  const typed = options.typed ? [...options.typed] : undefined;
  const io: CliIo = {
    stdout: { write: (text: string) => (out.stdout += text) },
    stderr: { write: (text: string) => (out.stderr += text) },
    readStdin: async () => options.stdin ?? '',
    stdinIsTTY: typed !== undefined,
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    ...(typed
      ? {
          promptSecret: async (prompt: string) => {
            out.prompts.push(prompt);
            const answer = typed.shift();
            if (answer === undefined) throw new Error(`unexpected prompt ${prompt}`);
            return answer;
          },
        }
      : {}),
  };
  return { io, out };
}

/** Runs `rolegate ...argv` in-process. */
export async function rolegate(argv: string[], options: FakeIoOptions = {}) {
  const { io, out } = fakeIo(options);
  const code = await runCli(argv, io);
  return { code, ...out };
}
