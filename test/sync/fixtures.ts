/**
 * Identity payloads as Netlify sends them. The shape is GoTrue's hook payload
 * `{event, instance_id, user}` (Netlify docs, "Functions and Identity" →
 * "Trigger functions on Identity events",
 * https://docs.netlify.com/functions/functions-and-identity/; the user fields
 * are GoTrue's user model, netlify/gotrue models/user.go, as its JSON tags
 * name them). Values here are invented.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { HandlerEvent } from '@netlify/functions';
import { uniqueEmail } from '../store/contract.js';

export const INSTANCE_ID = '5ab1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d';
export const WEBHOOK_SECRET = 'identity-webhook-secret-for-tests-0123456789';

export interface GotrueUser {
  id: string;
  aud: string;
  role: string;
  email: string;
  confirmed_at?: string;
  confirmation_sent_at?: string;
  app_metadata: Record<string, unknown>;
  user_metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  [key: string]: unknown;
}

export function gotrueUser(over: Partial<GotrueUser> = {}): GotrueUser {
  return {
    id: randomUUID(),
    aud: '',
    role: '',
    email: uniqueEmail('identity'),
    confirmation_sent_at: '2026-11-20T09:59:00Z',
    app_metadata: { provider: 'email' },
    user_metadata: { full_name: 'Ada Lovelace' },
    created_at: '2026-11-20T09:59:00Z',
    updated_at: '2026-11-20T10:00:00Z',
    ...over,
  };
}

export function payload(event: 'validate' | 'signup' | 'login', user: GotrueUser): string {
  return JSON.stringify({ event, instance_id: INSTANCE_ID, user });
}

export function postEvent(body: string, headers: Record<string, string> = {}, method = 'POST'): HandlerEvent {
  const all = { 'content-type': 'application/json', ...headers };
  return {
    rawUrl: 'https://site.example/.netlify/functions/identity-signup',
    rawQuery: '',
    path: '/.netlify/functions/identity-signup',
    httpMethod: method,
    headers: all,
    multiValueHeaders: Object.fromEntries(Object.entries(all).map(([k, v]) => [k, [v]])),
    queryStringParameters: {},
    multiValueQueryStringParameters: null,
    body,
    isBase64Encoded: false,
  };
}

/** X-Webhook-Signature as GoTrue makes it: HS256 over {iat, sub, iss: "gotrue", sha256}. */
export async function webhookSignature(body: string, options: {
  secret?: string; iat?: number; sub?: string; iss?: string; sha256?: string; alg?: string;
} = {}): Promise<string> {
  const { createHash } = await import('node:crypto');
  const claims = {
    sha256: options.sha256 ?? createHash('sha256').update(body).digest('hex'),
  };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' })
    .setIssuedAt(options.iat ?? Math.floor(Date.now() / 1000))
    .setSubject(options.sub ?? INSTANCE_ID)
    .setIssuer(options.iss ?? 'gotrue')
    .sign(new TextEncoder().encode(options.secret ?? WEBHOOK_SECRET));
}
