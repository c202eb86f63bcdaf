/**
 * RDMA WRITE through Endpoint (cache on, pre-warmed): bandwidth and message
 * rate with `depth` writes in flight, and the latency of one awaited write
 * (post to completion). The target is a buffer the peer exposed: in another
 * process (bench/vm/peer-link.ts) or, with endpointPair, in this one.
 */
import { Endpoint, type RemoteBuffer } from '../../src/index.js';

/** Where writes go: a connected endpoint and a buffer its peer exposed. */
export interface WriteTarget {
  client: Endpoint;
  remote: RemoteBuffer;
}

export interface EndpointPair extends WriteTarget {
  server: Endpoint;
  close(): void;
}

/** Connects a pair with the default cache (monitor 'auto': ummunotify in the VM); the server exposes `targetSize` bytes. */
export async function endpointPair(device: string | undefined, host: string, targetSize: number, queueDepth = 128): Promise<EndpointPair> {
  const listener = await Endpoint.listen({ device, host, port: 0, queueDepth });
  const [server, client] = await Promise.all([listener.accept(), Endpoint.connect({ device, host, port: listener.port, queueDepth })]);
  listener.close();
  const target = Buffer.alloc(targetSize);
  const remote = server.expose(target);
  return {
    client,
    server,
    remote,
    close() {
      client.close();
      server.close();
    },
  };
}

/** Bytes and messages per second of `iters` writes of `source`, `depth` in flight. */
export async function endpointBandwidth(p: WriteTarget, source: Uint8Array, iters: number, depth = 128): Promise<{ bytesPerSec: number; msgPerSec: number }> {
  await p.client.write(source, p.remote); // pre-warm: the registration is cached from here on
  let left = iters;
  const pump = async () => {
    while (left > 0) {
      left--;
      await p.client.write(source, p.remote);
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: Math.min(depth, iters) }, pump));
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  return { bytesPerSec: (iters * source.length) / sec, msgPerSec: iters / sec };
}

/** Average microseconds of one awaited write (post to completion: a round trip to the peer's NIC). */
export async function endpointLatency(p: WriteTarget, source: Uint8Array, iters: number): Promise<number> {
  for (let i = 0; i < Math.min(20, iters); i++) await p.client.write(source, p.remote);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) await p.client.write(source, p.remote);
  return Number(process.hrtime.bigint() - t0) / 1e3 / iters;
}
