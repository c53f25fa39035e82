import type { IdentityUser } from '../core/identity-user.js';
import type { IdentitySink } from './sink.js';

export interface DeliveryOutcome {
  delivered: string[];
  failed: { sink: string; error: string }[];
}

class DeadlineExceeded extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'DeadlineExceeded';
  }
}

/** `promise`, or DeadlineExceeded after `ms`; the timer never outlives the answer. */
export function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(ms)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Upserts into every sink at once and waits at most `deadlineMs`: Identity
 * waits for the event function (GoTrue gives a hook 5 s), so a slow or dead
 * sink must become a recorded failure, never a failed sign-in. A late sink
 * is aborted through its signal.
 */
export async function deliverToSinks(sinks: IdentitySink[], users: IdentityUser[], deadlineMs: number): Promise<DeliveryOutcome> {
  const outcomes = await Promise.all(sinks.map(async (sink) => {
    const controller = new AbortController();
    try {
      await within(deadlineMs, sink.upsert(users, controller.signal));
      return { sink: sink.name, error: null };
    } catch (error) {
      if (error instanceof DeadlineExceeded) controller.abort();
      return { sink: sink.name, error: describeFailure(error) };
    }
  }));
  return {
    delivered: outcomes.filter((o) => o.error === null).map((o) => o.sink),
    failed: outcomes.filter((o): o is { sink: string; error: string } => o.error !== null),
  };
}

/** One line for logs and audit rows: class and message, never a stack, capped. */
export function describeFailure(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, 300);
}
