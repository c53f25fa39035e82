/**
 * TEST STAND-IN for the admin users listing of Netlify Identity (GoTrue),
 * following netlify/gotrue's own code, since Identity cannot run here:
 *
 * - `GET /admin/users` with `Authorization: Bearer <admin token>`; no or a
 *   wrong token is `401 {"code":401,"msg":...}` (GoTrue's error body).
 * - `page` (from 1) and `per_page` (default 50) query parameters; a value
 *   that is not an unsigned integer is `400` "Bad Pagination Parameters"
 *   (api/pagination.go).
 * - `sort=<field> [asc|desc]`, only `created_at`, default `created_at desc`;
 *   another field or direction is 400 "Bad Sort Parameters" (api/sorting.go).
 * - Body `{"aud": "", "users": [...]}`; headers `X-Total-Count` and a `Link`
 *   with rel="next" while pages remain and rel="last" (addPaginationHeaders).
 *
 * Tests can make a page fail (`failPage`) to interrupt a backfill.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GotrueAdminStandin {
  /** The Identity URL (what `/.netlify/identity` is on a site). */
  url: string;
  users: Record<string, unknown>[];
  /** Pages requested, in order. */
  requests: { page: number; perPage: number }[];
  /** Answer 503 for this page until cleared. */
  failPage: number | null;
  close(): Promise<void>;
}

export async function startGotrueAdminStandin(options: { token: string; users: Record<string, unknown>[] }): Promise<GotrueAdminStandin> {
  const state: Omit<GotrueAdminStandin, 'url' | 'close'> = { users: options.users, requests: [], failPage: null };
  const server = createServer((req, res) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    const url = new URL(req.url ?? '/', 'http://standin');
    if (url.pathname !== '/admin/users' || req.method !== 'GET') return send(404, { code: 404, msg: 'Not Found' });
    if (req.headers.authorization !== `Bearer ${options.token}`) return send(401, { code: 401, msg: 'Invalid token: signature is invalid' });
    const pageText = url.searchParams.get('page') ?? '';
    const perPageText = url.searchParams.get('per_page') ?? '';
    if ((pageText && !/^\d+$/.test(pageText)) || (perPageText && !/^\d+$/.test(perPageText))) {
      return send(400, { code: 400, msg: 'Bad Pagination Parameters: strconv.ParseUint: parsing: invalid syntax' });
    }
    const page = pageText ? Number(pageText) : 1;
    const perPage = perPageText ? Number(perPageText) : 50;
    let direction = 'desc';
    const sort = url.searchParams.get('sort');
    if (sort !== null) {
      const [field, dir] = sort.split(' ');
      if (field !== 'created_at') return send(400, { code: 400, msg: `Bad Sort Parameters: bad field for sort '${field}'` });
      if (dir !== undefined) {
        if (!['asc', 'desc'].includes(dir.toLowerCase())) return send(400, { code: 400, msg: `Bad Sort Parameters: bad direction for sort '${dir}', only 'asc' and 'desc' allowed` });
        direction = dir.toLowerCase();
      }
    }
    state.requests.push({ page, perPage });
    if (state.failPage === page) return send(503, { code: 503, msg: 'Service Unavailable' });
    const sorted = [...state.users].sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)) * (direction === 'asc' ? 1 : -1));
    const offset = (Math.max(page, 1) - 1) * perPage;
    const totalPages = perPage > 0 ? Math.ceil(sorted.length / perPage) : 0;
    const link = (p: number) => {
      const u = new URL(url.toString());
      u.searchParams.set('page', String(p));
      return `<${u.pathname}${u.search}>`;
    };
    const linkHeader = `${totalPages > page ? `${link(page + 1)}; rel="next", ` : ''}${link(totalPages)}; rel="last"`;
    return send(200, { aud: '', users: sorted.slice(offset, offset + perPage) }, { 'x-total-count': String(sorted.length), link: linkHeader });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const standin = state as GotrueAdminStandin;
  standin.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  standin.close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return standin;
}

/**
 * `n` Identity users as the admin API lists them, created a minute apart in
 * order (so oldest-first paging is deterministic), every tenth an admin.
 */
export function identityUsers(n: number, email: (i: number) => string = (i) => `member-${i}@example.com`): Record<string, unknown>[] {
  const start = Date.parse('2025-01-01T00:00:00Z');
  return Array.from({ length: n }, (_, i) => ({
    id: randomUUID(),
    aud: '',
    role: '',
    email: email(i),
    app_metadata: { provider: 'email', roles: i % 10 === 0 ? ['admin'] : ['member'] },
    user_metadata: { full_name: `Member ${i}` },
    created_at: new Date(start + i * 60_000).toISOString(),
    updated_at: new Date(start + i * 60_000 + 1000).toISOString(),
  }));
}
