/**
 * A TCP relay on 127.0.0.1 between a client and PostgreSQL that can cut a
 * connection at the worst moment: after the server has run (and committed) a
 * statement, before its answer reaches the client. That is what a dropped
 * network path or a killed function instance looks like to the database:
 * the work is done, the caller never hears of it.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface CuttingProxy {
  port: number;
  /**
   * The next connection that sends a statement containing `marker` is cut
   * when the server answers it; resolves once it has been cut.
   */
  cutAfterReplyTo(marker: string): Promise<void>;
  close(): Promise<void>;
}

export async function startCuttingProxy(target: { host: string; port: number }): Promise<CuttingProxy> {
  const sockets = new Set<Socket>();
  let pending: { marker: Buffer; done: () => void } | undefined;

  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    let cutOnReply: (() => void) | undefined;
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk) => {
      if (pending && chunk.includes(pending.marker)) {
        cutOnReply = pending.done;
        pending = undefined;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (cutOnReply) {
        const done = cutOnReply;
        cutOnReply = undefined;
        cut();
        done();
        return;
      }
      client.write(chunk);
    });
    for (const s of [client, upstream]) {
      s.on('error', cut);
      s.on('close', () => { cut(); sockets.delete(s); });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('proxy did not bind');
  return {
    port: address.port,
    cutAfterReplyTo: (marker) => new Promise<void>((resolve) => { pending = { marker: Buffer.from(marker), done: resolve }; }),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
