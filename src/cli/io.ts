/**
 * What a CLI command may touch, passed in so tests run commands in-process
 * with their own streams and environment.
 */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  /** Whole standard input, read on demand (for --password-stdin and piped files). */
  readStdin(): Promise<string>;
  stdinIsTTY: boolean;
  /**
   * Asks for a secret on the terminal without echoing it (only used when
   * stdinIsTTY). Absent when no terminal can be driven.
   */
  promptSecret?(prompt: string): Promise<string>;
  /** Asks a question on the terminal and returns the line typed (only used when stdinIsTTY). */
  prompt?(question: string): Promise<string>;
  env: Record<string, string | undefined>;
  cwd: string;
}

/** A mistake in how the command was called or in its input: printed as one line, exit code 1. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliError';
  }
}

/** The command line itself is wrong (unknown command, missing option): printed with a pointer to the help. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 1);
    this.name = 'UsageError';
  }
}
