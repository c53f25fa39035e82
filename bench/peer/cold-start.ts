/**
 * Cold start and size of a login function, rolegate's and Better Auth's,
 * bundled the same way: esbuild, one CommonJS file, minified, twice: with
 * every package inside, and with netlify.toml's external_node_modules beside
 * it (pg and bcryptjs, which both use, among them), as Netlify would ship
 * either from this project. Each is started in a fresh `node` process,
 * round-robin, and timed from loading the bundle to its answer to a
 * malformed sign-in form, which both answer 400.
 */
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generatedFunctionSource } from '../../src/gates/functions-build.js';
import { benchDatabaseUrl } from '../database.js';
import { summarize, type Summary } from '../stats.js';
import { addNote, type Row } from '../report.js';
import { peerDatabaseUrl } from './better-auth.js';
import { PEER_SITE } from './options.js';

const RUNS = 15;
const MALFORMED_FORM = {
  httpMethod: 'POST', path: '/.netlify/functions/login',
  headers: { 'content-type': 'application/json', origin: PEER_SITE }, body: '{"email":',
};

interface Target {
  bundle: string;
  env: Record<string, string>;
}

function coldStartOnce({ bundle, env }: Target): number {
  // The bundle's path is an argument: see bench/cold-start.ts for why it is not in the script.
  const script = `
    const t0 = performance.now();
    const { handler } = require(process.argv[1]);
    Promise.resolve(handler(${JSON.stringify(MALFORMED_FORM)}, {})).then((response) => {
      const elapsed = performance.now() - t0;
      if (!response || response.statusCode !== 400) throw new Error('unexpected answer ' + JSON.stringify(response));
      process.stdout.write(String(elapsed));
      process.exit(0);
    });`;
  const r = spawnSync(process.execPath, ['-e', script, bundle], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cold start of ${bundle} failed: ${r.stderr}`);
  return Number(r.stdout);
}

/** netlify.toml `[functions] external_node_modules`, read as bench/cold-start.ts reads it. */
function netlifyExternals(): string[] {
  const match = /^\s*external_node_modules\s*=\s*\[([^\]]*)\]/m.exec(readFileSync('netlify.toml', 'utf8'));
  return match ? [...match[1]!.matchAll(/"([^"]+)"/g)].map((m) => m[1]!) : [];
}

const PACKAGING = { all: 'every package bundled', shipped: "netlify.toml's external_node_modules beside it" } as const;
type Packaging = keyof typeof PACKAGING;

async function bundle(entry: string, outfile: string, packaging: Packaging): Promise<number> {
  const external = packaging === 'shipped' ? netlifyExternals() : [];
  await build({ entryPoints: [entry], outfile, bundle: true, platform: 'node', format: 'cjs', target: 'node22', minify: true, external, logLevel: 'error' });
  return statSync(outfile).size / 1024;
}

export async function benchPeerColdStart(cost: number): Promise<Row[]> {
  // Inside the project, so the packages left beside a bundle resolve from its node_modules.
  mkdirSync('bench/.functions', { recursive: true });
  const dir = mkdtempSync(join('bench/.functions', 'peer-'));
  try {
    const rolegateEntry = join(dir, 'login.mjs');
    writeFileSync(rolegateEntry, generatedFunctionSource('login', JSON.parse(readFileSync('rolegate.config.json', 'utf8')) as unknown));
    const rolegateEnv = { JWT_SECRET: 'bench-secret-0123456789-abcdefghijklmnop', SITE_URL: PEER_SITE, DATABASE_URL: await benchDatabaseUrl(), BCRYPT_COST: String(cost) };
    // No database for this answer on either side: Better Auth's first-request check of its tables off, its database refusing.
    const peerEnv = { DATABASE_URL: 'postgres://bench@127.0.0.1:1/none', BCRYPT_COST: String(cost), PEER_VALIDATE_SCHEMA: 'false' };
    const sizes: Record<string, number> = {};
    const targets: Record<string, Target> = {};
    for (const packaging of Object.keys(PACKAGING) as Packaging[]) {
      for (const [side, entry, env] of [['rolegate', rolegateEntry, rolegateEnv], ['peer', 'bench/peer/login-function.ts', peerEnv]] as const) {
        const outfile = resolve(dir, `${side}-${packaging}.cjs`);
        sizes[`${side} ${packaging}`] = await bundle(entry, outfile, packaging);
        targets[`${side} ${packaging}`] = { bundle: outfile, env };
      }
    }
    // Better Auth as configured by default: its first request checks its tables in its (real, local) database.
    targets['peer shipped, schema check'] = { bundle: targets['peer shipped']!.bundle, env: { DATABASE_URL: await peerDatabaseUrl(), BCRYPT_COST: String(cost) } };
    return coldStartRows(sizes, coldStarts(targets));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Each round starts every target once, each round at another one, so load from elsewhere lands on all alike. */
function coldStarts(targets: Record<string, Target>): Record<string, number[]> {
  const names = Object.keys(targets);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < RUNS; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length]!;
      samples[name]!.push(coldStartOnce(targets[name]!));
    }
  }
  return samples;
}

function coldStartRows(sizes: Record<string, number>, samples: Record<string, number[]>): Row[] {
  const section = 'peer';
  const rows: Row[] = [];
  const spreads: string[] = [];
  const compare = (label: string, rolegateName: string, peerName: string, guard: boolean) => {
    const rolegate = summarize(samples[rolegateName]!);
    const peer: Summary = summarize(samples[peerName]!);
    const ratio = rolegate.median / peer.median;
    rows.push(
      { section, name: `login cold start (load + first answer), ${label}: Better Auth`, unit: 'ms', result: peer },
      { section, name: `login cold start (load + first answer), ${label}: rolegate (ratio rolegate ÷ Better Auth)`, unit: 'ms', result: rolegate,
        baseline: { name: 'Better Auth', result: peer }, ratio, ...(guard ? { goal: '≤ 0.05 (Better Auth ≥ 20× slower; a guard)', met: ratio <= 0.05 } : {}) },
    );
    const perRound = summarize(samples[rolegateName]!.map((ms, i) => samples[peerName]![i]! / ms));
    spreads.push(`${label} ${perRound.median.toFixed(1)}× (p10–p90 ${perRound.p10.toFixed(1)}–${perRound.p90.toFixed(1)})`);
  };
  for (const packaging of Object.keys(PACKAGING) as Packaging[]) {
    const [rolegateKb, peerKb] = [sizes[`rolegate ${packaging}`]!, sizes[`peer ${packaging}`]!];
    rows.push(
      { section, name: `login function, minified, ${PACKAGING[packaging]}: Better Auth`, unit: 'KB', result: summarize([peerKb]) },
      { section, name: `login function, minified, ${PACKAGING[packaging]}: rolegate (ratio rolegate ÷ Better Auth)`, unit: 'KB', result: summarize([rolegateKb]),
        baseline: { name: 'Better Auth', result: summarize([peerKb]) }, ratio: rolegateKb / peerKb },
    );
    compare(`${PACKAGING[packaging]}, no database contacted`, `rolegate ${packaging}`, `peer ${packaging}`, true);
  }
  compare("externals beside it, Better Auth's default first-request schema check", 'rolegate shipped', 'peer shipped, schema check', false);
  addNote(`Peer cold start: ${RUNS} round-robin rounds, each a fresh node process per target, timed from require() of the bundle to the handler's answer to a malformed JSON sign-in (400 on both sides). `
    + `Every bundle is esbuild, CommonJS, node22, minified; once with every package inside, once with netlify.toml's external_node_modules (${netlifyExternals().join(', ')}) left beside it for both sides, as Netlify would ship either function from this project. `
    + "rolegate's is the login function `rolegate gates build` generates; Better Auth's is bench/peer/login-function.ts, a Lambda-style handler around auth.handler with the bench's options. "
    + 'rolegate answers without the database; Better Auth is timed with its first-request schema check off and its database refusing connections (no database contacted, like rolegate), and, shipped, with its defaults against its real local database. '
    + `Better Auth ÷ rolegate per round: ${spreads.join('; ')}.`);
  return rows;
}
