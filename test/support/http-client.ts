/**
 * A tiny browser-like HTTP client for end-to-end suites: a cookie jar that
 * honours Set-Cookie deletions, and redirect following with a hard cap so a
 * redirect loop fails the test instead of hanging it.
 */

export interface Hop {
  status: number;
  url: string;
  location?: string;
}

export interface Followed {
  status: number;
  url: string;
  body: string;
  hops: Hop[];
  headers: Headers;
}

export class CookieJar {
  readonly cookies = new Map<string, string>();

  /** Applies every Set-Cookie of a response: a past Expires or Max-Age<=0 deletes. */
  absorb(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';').map((p) => p.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const expired = attributes.some((a) => {
        const [key = '', v = ''] = a.split('=');
        if (key.toLowerCase() === 'max-age') return Number(v) <= 0;
        if (key.toLowerCase() === 'expires') return Date.parse(v) <= Date.now();
        return false;
      });
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

export async function request(jar: CookieJar, url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (jar.cookies.size) headers.set('cookie', jar.header());
  const response = await fetch(url, { ...init, headers, redirect: 'manual' });
  jar.absorb(response.headers);
  return response;
}

/** GETs `url` and follows redirects like a browser, at most `maxRedirects` times. */
export async function follow(jar: CookieJar, url: string, maxRedirects = 5): Promise<Followed> {
  const hops: Hop[] = [];
  let current = url;
  for (let i = 0; i <= maxRedirects; i++) {
    const response = await request(jar, current);
    const location = response.headers.get('location') ?? undefined;
    hops.push({ status: response.status, url: current, location });
    if (response.status >= 300 && response.status < 400 && location) {
      await response.arrayBuffer();
      current = new URL(location, current).toString();
      continue;
    }
    return { status: response.status, url: current, body: await response.text(), hops, headers: response.headers };
  }
  throw new Error(`more than ${maxRedirects} redirects: ${hops.map((h) => `${h.status} ${h.url}`).join(' → ')}`);
}
