import { IdentityPayloadError, toIdentityUser, type IdentityUser } from '../core/identity-user.js';
import type { IdentityAdminSource } from './identity-admin.js';
import { addReports, emptyReport, isSinkOutage, type IdentitySink, type SinkReport } from './sink.js';

export interface BackfillCursor {
  page: number;
  perPage: number;
}

export interface CursorStore {
  get(): Promise<BackfillCursor | null>;
  set(cursor: BackfillCursor | null): Promise<void>;
}

export interface BackfillOptions {
  source: IdentityAdminSource;
  sinks: IdentitySink[];
  cursor: CursorStore;
  perPage: number;
  /** Users per upsert; 1 is the one-by-one baseline the benchmark compares against. */
  batchSize?: number;
  /** Ignore a saved cursor and start from the first page. */
  restart?: boolean;
  instanceId?: string | null;
  /** The clock that stamps each page's users as read (their observedAt). */
  now?: () => Date;
  onProgress?(progress: { done: number; total: number | null; page: number }): void;
}

export interface BackfillSummary {
  /** Per sink, what the upserts did. */
  sinks: Record<string, SinkReport>;
  /** Users that could not be read or written, with why (ids only, never personal data). */
  failed: { id: string | null; reason: string }[];
  pages: number;
  users: number;
  resumedFromPage: number | null;
  /** Things the person running it should know, such as fewer distinct users read than Identity reports. */
  warnings: string[];
}

/** The backfill stopped part-way (the database or the API went away); the cursor says where to resume. */
export class BackfillInterrupted extends Error {
  constructor(message: string, readonly summary: BackfillSummary, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackfillInterrupted';
  }
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Copies every Identity user into the sinks, a page at a time, saving a
 * cursor after each page so an interrupted run resumes where it stopped.
 * Safe to re-run: sinks are idempotent and ordered by updated_at. A resumed
 * run re-reads the page before the cursor, in case users were deleted
 * meanwhile and the pages shifted.
 */
export async function backfillIdentityUsers(options: BackfillOptions): Promise<BackfillSummary> {
  const saved = options.restart ? null : await options.cursor.get();
  const usable = saved && saved.perPage === options.perPage ? saved : null;
  let page = usable ? Math.max(1, usable.page - 1) : 1;
  const summary: BackfillSummary = {
    sinks: Object.fromEntries(options.sinks.map((s) => [s.name, emptyReport()])),
    failed: [],
    pages: 0,
    users: 0,
    resumedFromPage: usable ? page : null,
    warnings: [],
  };
  // GoTrue pages by offset over created_at (one-second precision): users created
  // or deleted meanwhile shift the pages, so count what was really seen.
  const seen = new Set<string>();
  let total: number | null = null;
  const batchSize = Math.max(1, options.batchSize ?? options.perPage);
  let done = usable ? (page - 1) * options.perPage : 0;

  for (;;) {
    const observedAt = (options.now?.() ?? new Date()).toISOString();
    let fetched;
    try {
      fetched = await options.source.fetchPage(page, options.perPage);
    } catch (error) {
      throw new BackfillInterrupted(`stopped at page ${page}: ${(error as Error).message}`, summary, { cause: error });
    }
    if (fetched.users.length === 0) break;

    const users: IdentityUser[] = [];
    for (const raw of fetched.users) {
      try {
        const user = toIdentityUser(raw, { observedAt, instanceId: options.instanceId ?? null });
        users.push(user);
        seen.add(user.id);
      } catch (error) {
        const id = typeof (raw as { id?: unknown })?.id === 'string' ? (raw as { id: string }).id : null;
        summary.failed.push({ id, reason: error instanceof IdentityPayloadError ? error.message : 'unreadable user' });
      }
    }
    for (const sink of options.sinks) {
      for (const batch of chunks(users, batchSize)) {
        summary.sinks[sink.name] = addReports(summary.sinks[sink.name]!, await upsertOrIsolate(sink, batch, summary, page));
      }
    }

    total = fetched.total ?? total;
    summary.pages += 1;
    summary.users += fetched.users.length;
    done += fetched.users.length;
    options.onProgress?.({ done, total: fetched.total, page });
    if (fetched.users.length < options.perPage) break;
    page += 1;
    await options.cursor.set({ page, perPage: options.perPage });
  }
  await options.cursor.set(null);
  // Only a run from the first page has seen everything it should have.
  if (!usable && total !== null && seen.size + summary.failed.length < total) {
    summary.warnings.push(`Identity reports ${total} users, but ${seen.size + summary.failed.length} distinct ones were read: users created or deleted during the run shift the pages. Run it again.`);
  }
  return summary;
}

/**
 * One batch; if the sink refuses it for its content (not an outage), each
 * user is tried alone so one bad row costs one user, not the batch.
 */
async function upsertOrIsolate(sink: IdentitySink, batch: IdentityUser[], summary: BackfillSummary, page: number): Promise<SinkReport> {
  try {
    return await sink.upsert(batch);
  } catch (error) {
    if (isSinkOutage(error)) {
      throw new BackfillInterrupted(`stopped at page ${page}: ${sink.name} is unavailable (${(error as Error).message.slice(0, 200)})`, summary, { cause: error });
    }
    if (batch.length === 1) {
      summary.failed.push({ id: batch[0]!.id, reason: `${sink.name}: ${(error as Error).message.slice(0, 200)}` });
      return emptyReport();
    }
    let report = emptyReport();
    for (const user of batch) report = addReports(report, await upsertOrIsolate(sink, [user], summary, page));
    return report;
  }
}
