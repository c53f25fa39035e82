/**
 * The rule of the loopback preload (src/dev/loopback-preload.ts, loaded into `netlify dev` and
 * every Node process it starts), kept apart from the patch so that tests can check it without
 * patching their own process: a server that asks to listen on every interface listens on
 * 127.0.0.1 instead. netlify-cli calls `listen({ port })` with no host for its proxy and
 * functions servers and has no flag to choose one, so without this the local site, its gates'
 * holes and its functions reach the whole LAN.
 *
 * Every form of `net.Server#listen` (https://nodejs.org/api/net.html#serverlisten) is covered:
 * `listen()`, `listen(cb)`, `listen(port[, host][, backlog][, cb])` and `listen(options[, cb])`.
 * A wildcard host (`0.0.0.0`, `::`, empty) counts as no host. Unix sockets (`path`) and
 * inherited handles are left alone: they are not reachable over the network.
 */
export const LOOPBACK_HOST = '127.0.0.1';

const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::', '[::]', '::0']);

function isWildcard(host: unknown): boolean {
  return host === undefined || host === null || (typeof host === 'string' && WILDCARD_HOSTS.has(host));
}

function isPort(value: unknown): boolean {
  return typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value));
}

/** The same `listen` arguments with a wildcard or missing host replaced by 127.0.0.1. */
export function loopbackListenArgs(args: unknown[]): unknown[] {
  const [first, ...rest] = args;
  if (first === undefined || typeof first === 'function') return [{ port: 0, host: LOOPBACK_HOST }, ...(typeof first === 'function' ? [first] : [])];
  if (isPort(first)) {
    const [second, ...after] = rest;
    if (typeof second === 'string' || second === null || second === undefined) {
      return isWildcard(second) ? [first, LOOPBACK_HOST, ...after] : args;
    }
    // listen(port, backlog, cb) or listen(port, cb): no host given.
    return [first, LOOPBACK_HOST, ...rest];
  }
  if (typeof first === 'object' && first !== null) {
    const options = first as { port?: unknown; host?: unknown; path?: unknown; handle?: unknown; fd?: unknown; _handle?: unknown };
    const isNetworkPort = options.path === undefined && options.handle === undefined && options.fd === undefined && options._handle === undefined;
    if (isNetworkPort && isWildcard(options.host)) return [{ ...options, host: LOOPBACK_HOST }, ...rest];
  }
  return args;
}


/** The TCP port a `listen` call asks for, or undefined (a Unix socket, a handle). */
export function listenPort(args: unknown[]): number | undefined {
  const [first] = args;
  if (isPort(first)) return Number(first);
  if (typeof first === 'object' && first !== null && isPort((first as { port?: unknown }).port)) return Number((first as { port: unknown }).port);
  return undefined;
}
