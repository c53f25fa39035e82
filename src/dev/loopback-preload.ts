/**
 * Loaded with NODE_OPTIONS=--import into `netlify dev` and every Node process it starts
 * (src/dev/netlify-dev-process.ts): makes each server that would listen on every interface
 * listen on 127.0.0.1 (src/dev/loopback-listen.ts says which calls and why), and lets the one
 * on netlify dev's proxy port answer only the front server (src/dev/front-only-guard.ts).
 */
import http from 'node:http';
import net from 'node:net';
import { FRONT_SECRET_ENV, GUARDED_PORT_ENV, guardFrontOnly } from './front-only-guard.js';
import { listenPort, loopbackListenArgs } from './loopback-listen.js';

const guardedPort = Number(process.env[GUARDED_PORT_ENV] ?? NaN);
const frontSecret = process.env[FRONT_SECRET_ENV];

type Listen = (this: net.Server, ...args: unknown[]) => net.Server;

const original = net.Server.prototype.listen as unknown as Listen;
const patched: Listen = function listen(this: net.Server, ...args: unknown[]) {
  const loopbackArgs = loopbackListenArgs(args);
  if (frontSecret && listenPort(loopbackArgs) === guardedPort && this instanceof http.Server) guardFrontOnly(this, frontSecret, 'the address npm start printed');
  return original.apply(this, loopbackArgs);
};
// http.Server and https.Server inherit from net.Server, so one patch covers them all.
net.Server.prototype.listen = patched as unknown as typeof net.Server.prototype.listen;
