/**
 * Suffixes under which unrelated parties own sibling names, so a cookie set
 * for the suffix would be sent to strangers' sites. Browsers refuse such
 * cookies (Public Suffix List), which would silently break sign-in; rolegate
 * refuses them at config time instead. This is the slice of the list that
 * matters for sites hosted on Netlify and its neighbours, plus common
 * two-label country suffixes; every single-label name is also refused.
 */
const PUBLIC_SUFFIXES = new Set([
  'netlify.app', 'netlify.com', 'vercel.app', 'github.io', 'gitlab.io', 'pages.dev', 'workers.dev',
  'herokuapp.com', 'web.app', 'firebaseapp.com', 'azurewebsites.net', 'cloudfront.net',
  'onrender.com', 'fly.dev', 'surge.sh', 'glitch.me', 'supabase.co', 'appspot.com',
  'co.uk', 'org.uk', 'ac.uk', 'gov.uk', 'com.au', 'net.au', 'org.au', 'co.nz', 'co.jp', 'co.za',
  'com.br', 'com.cn', 'com.mx', 'co.in', 'co.kr', 'com.tr', 'com.sg',
]);

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * Checks a cookie `Domain` for subdomain single sign-on. Returns a reason when
 * it is unusable, or undefined when it is fine.
 *
 * @example
 * checkCookieDomain('example.com', 'docs.example.com'); // undefined
 * checkCookieDomain('netlify.app', 'x.netlify.app');    // 'is a public suffix …'
 */
export function checkCookieDomain(domain: string, siteHostname: string): string | undefined {
  const d = domain.replace(/^\./, '').toLowerCase();
  const host = siteHostname.toLowerCase();
  if (!HOSTNAME.test(d)) return 'is not a valid domain name';
  if (!d.includes('.') || PUBLIC_SUFFIXES.has(d)) {
    return `"${d}" is a public suffix: browsers refuse cookies for it; use your own domain, e.g. example.com`;
  }
  if (host !== d && !host.endsWith(`.${d}`)) {
    return `"${d}" does not cover the site's host "${host}" (SITE_URL): the browser would refuse the cookie`;
  }
  return undefined;
}
