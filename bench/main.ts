/**
 * `npm run bench`: every goal that is about speed lives here, measured
 * against a baseline taken in the same run, never in a timed test.
 * `npm run bench -- verification login` runs only those sections.
 */
import { writeReport, type Row } from './report.js';
import { benchVerify } from './verify.js';
import { benchBcrypt } from './bcrypt.js';
import { benchColdStart } from './cold-start.js';
import { benchEdgeColdStart } from './edge-cold-start.js';
import { benchEdgeDeno } from './edge-deno.js';
import { benchLoginOverhead } from './login-overhead.js';
import { benchLifecycle } from './lifecycle.js';
import { benchRefreshLoad } from './refresh-load.js';
import { benchPeer } from './peer/index.js';
import { benchBackfill } from './backfill.js';
import { benchPoolerLoad } from './pooler-load.js';
import { stopBenchDatabase } from './database.js';

const sections: Record<string, () => Promise<Row[]>> = {
  'cold-start': async () => [...(await benchColdStart()), ...(await benchEdgeColdStart())],
  verification: async () => [...(await benchVerify()), ...(await benchEdgeDeno())],
  login: async () => [...(await benchBcrypt()), ...(await benchLoginOverhead()), ...(await benchLifecycle())],
  'refresh-load': benchRefreshLoad,
  peer: benchPeer,
  backfill: benchBackfill,
  pooler: benchPoolerLoad,
};

const only = process.argv.slice(2);
const unknown = only.filter((name) => !sections[name]);
if (unknown.length) throw new Error(`unknown bench section ${unknown.join(', ')}; sections: ${Object.keys(sections).join(', ')}`);
const rows: Row[] = [];
const benchStarted = performance.now();
try {
  for (const [name, run] of Object.entries(sections)) {
    if (only.length && !only.includes(name)) continue;
    const started = performance.now();
    process.stdout.write(`bench: ${name} … `);
    const result = await run();
    rows.push(...result);
    process.stdout.write(`${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  }
} finally {
  await stopBenchDatabase();
}
writeReport(rows);
for (const row of rows) {
  console.log(`${row.section.padEnd(13)} ${row.name.padEnd(50)} ${row.result.median.toFixed(2).padStart(12)} ${row.unit}${row.ratio === undefined ? '' : `  ratio ${row.ratio.toFixed(3)}`}${row.met === undefined ? '' : row.met ? '  goal met' : '  GOAL MISSED'}`);
}
console.log(`bench: all sections in ${((performance.now() - benchStarted) / 1000).toFixed(1)} s`);
