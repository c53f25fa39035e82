/**
 * Counts database round trips: every pg Client.query, which both rolegate's
 * store and Better Auth's Kysely dialect go through (a pool's query is a
 * client's). One call is one round trip, even rolegate's multi-statement
 * script, which pg sends as one simple-protocol message.
 */
import pg from 'pg';

export interface RoundTrips {
  count: number;
  stop(): void;
}

export function countRoundTrips(): RoundTrips {
  const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const query = prototype.query;
  const counter: RoundTrips = {
    count: 0,
    stop: () => {
      prototype.query = query;
    },
  };
  prototype.query = function countedQuery(this: unknown, ...args: unknown[]) {
    counter.count += 1;
    return query.apply(this, args);
  };
  return counter;
}
