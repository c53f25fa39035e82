/**
 * A Better Auth login function written as a site would write one for Netlify
 * (a Lambda-style handler, like rolegate's generated login function): the
 * event becomes a Request for auth.handler and its Response the answer. Only
 * bundled and started by the cold-start bench, never imported by it.
 */
import pg from 'pg';
import { betterAuth } from 'better-auth';
import { peerOptions, PEER_SITE } from './options.js';

interface NetlifyEvent {
  httpMethod: string;
  path: string;
  headers: Record<string, string>;
  body?: string | null;
}

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
// PEER_VALIDATE_SCHEMA=false turns off the check of its tables that Better Auth makes on an instance's first request.
const validateSchema = process.env.PEER_VALIDATE_SCHEMA === 'false' ? { validateSchema: false } : {};
const auth = betterAuth(peerOptions({ pool, cost: Number(process.env.BCRYPT_COST ?? 11), ...validateSchema }));

export async function handler(event: NetlifyEvent) {
  const hasBody = event.httpMethod !== 'GET' && event.httpMethod !== 'HEAD';
  const response = await auth.handler(new Request(new URL(event.path.replace('/.netlify/functions/login', '/api/auth/sign-in/email'), PEER_SITE), {
    method: event.httpMethod,
    headers: event.headers,
    ...(hasBody ? { body: event.body ?? '' } : {}),
  }));
  return {
    statusCode: response.status,
    headers: Object.fromEntries([...response.headers].filter(([name]) => name !== 'set-cookie')),
    multiValueHeaders: { 'Set-Cookie': response.headers.getSetCookie() },
    body: await response.text(),
  };
}
