/**
 * Loaded with NODE_OPTIONS=--import into `netlify dev` and every Node process it starts
 * (src/dev/netlify-dev-process.ts): makes each server that would listen on every interface
 * listen on 127.0.0.1 (src/dev/loopback-listen.ts says which calls and why).
 */
import net from 'node:net';
import { loopbackListenArgs } from './loopback-listen.js';

type Listen = (this: net.Server, ...args: unknown[]) => net.Server;

const original = net.Server.prototype.listen as unknown as Listen;
const patched: Listen = function listen(this: net.Server, ...args: unknown[]) {
  return original.apply(this, loopbackListenArgs(args));
};
// http.Server and https.Server inherit from net.Server, so one patch covers them all.
net.Server.prototype.listen = patched as unknown as typeof net.Server.prototype.listen;
