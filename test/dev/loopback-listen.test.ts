import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loopbackListenArgs } from '../../src/dev/loopback-listen.js';
import { withLoopbackPreload } from '../../src/dev/netlify-dev-process.js';
import { loopbackPreloadPath } from '../../src/dev/start.js';

describe('the loopback preload', () => {
  it('gives every listen call without a host (or with a wildcard one) the host 127.0.0.1', () => {
    const cb = () => {};
    expect(loopbackListenArgs([{ port: 8888 }])).toEqual([{ port: 8888, host: '127.0.0.1' }]);
    expect(loopbackListenArgs([{ port: 1, host: '0.0.0.0' }, cb])).toEqual([{ port: 1, host: '127.0.0.1' }, cb]);
    expect(loopbackListenArgs([{ port: 1, host: '::' }])).toEqual([{ port: 1, host: '127.0.0.1' }]);
    expect(loopbackListenArgs([3000])).toEqual([3000, '127.0.0.1']);
    expect(loopbackListenArgs(['3000', cb])).toEqual(['3000', '127.0.0.1', cb]);
    expect(loopbackListenArgs([3000, 511, cb])).toEqual([3000, '127.0.0.1', 511, cb]);
    expect(loopbackListenArgs([3000, '0.0.0.0', cb])).toEqual([3000, '127.0.0.1', cb]);
    expect(loopbackListenArgs([])).toEqual([{ port: 0, host: '127.0.0.1' }]);
    expect(loopbackListenArgs([cb])).toEqual([{ port: 0, host: '127.0.0.1' }, cb]);
  });

  it('leaves a chosen host, a Unix socket and an inherited handle alone', () => {
    expect(loopbackListenArgs([3000, 'localhost'])).toEqual([3000, 'localhost']);
    expect(loopbackListenArgs([{ port: 1, host: '::1' }])).toEqual([{ port: 1, host: '::1' }]);
    expect(loopbackListenArgs(['/tmp/x.sock'])).toEqual(['/tmp/x.sock']);
    expect(loopbackListenArgs([{ path: '/tmp/x.sock' }])).toEqual([{ path: '/tmp/x.sock' }]);
    expect(loopbackListenArgs([{ fd: 3 }])).toEqual([{ fd: 3 }]);
  });

  it('binds the servers of a Node process that asks for every interface to 127.0.0.1, as netlify-cli does', () => {
    const preload = loopbackPreloadPath();
    expect(existsSync(preload), 'dist/dev-loopback.js (npm run build)').toBe(true);
    const script = `
      const http = require('node:http'), net = require('node:net');
      const calls = [(s, cb) => s.listen({ port: 0 }, cb), (s, cb) => s.listen(0, cb), (s, cb) => s.listen(cb), (s, cb) => s.listen(0, '0.0.0.0', cb), (s, cb) => s.listen({ port: 0, host: '::' }, cb)];
      Promise.all(calls.map((call, i) => new Promise((resolve) => { const s = i % 2 ? net.createServer() : http.createServer(); call(s, () => { resolve(s.address().address); s.close(); }); })))
        .then((addresses) => console.log(JSON.stringify(addresses)));`;
    const run = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, NODE_OPTIONS: withLoopbackPreload(process.env.NODE_OPTIONS, preload) }, encoding: 'utf8', cwd: join(import.meta.dirname) });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual(Array(5).fill('127.0.0.1'));
  });
});
