/**
 * `npm run bench -- peer`: rolegate beside Better Auth (a dev-only
 * dependency), in the same run, on the same PostgreSQL, with the same bcrypt
 * cost. Every row's ratio is rolegate ÷ Better Auth, so below 1 is faster for
 * times and above 1 is faster for rates.
 */
import { readFileSync } from 'node:fs';
import { readConfig } from '../../src/core/environment.js';
import { addNote, type Row } from '../report.js';
import { betterAuthVersion } from './better-auth.js';
import { benchPeerCheck } from './check.js';
import { benchPeerSignIn } from './sign-in.js';
import { benchPeerColdStart } from './cold-start.js';
import { benchPeerRenew } from './renew.js';

export async function benchPeer(): Promise<Row[]> {
  const cost = readConfig({ JWT_SECRET: 'bench-secret-0123456789-abcdefghijklmnop', DATABASE_URL: 'postgres://unused' }).auth.bcryptCost;
  const rolegate = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  addNote(`Peer: rolegate ${rolegate.version} (this checkout) beside Better Auth ${betterAuthVersion()} on pg, its own database in the bench's PostgreSQL cluster, tables made by its getMigrations; `
    + `both hash and compare with bcryptjs at rolegate's BCRYPT_COST ${cost} (Better Auth's emailAndPassword.password hash/verify). Ratios are rolegate ÷ Better Auth.`);
  return [
    ...(await benchPeerCheck(cost)),
    ...(await benchPeerSignIn(cost)),
    ...(await benchPeerColdStart(cost)),
    ...(await benchPeerRenew(cost)),
  ];
}
