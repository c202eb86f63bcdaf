// Shared set-up of the verbs VM tests: one device, PD and CQ, and a connected
// pair of RC queue pairs in this process over rdma_cm to rxe0's address.
import { readdirSync, readFileSync } from 'node:fs';
import {
  connect,
  listen,
  openDevice,
  type CompletionQueue,
  type Context,
  type ProtectionDomain,
  type QueuePair,
} from '../../src/index.js';

export const HOST = process.env.RDMA_REGCACHE_IP ?? '192.0.2.1';
export const DEVICE = process.env.RDMA_REGCACHE_DEVICE ?? 'rxe0';

export interface Pair {
  ctx: Context;
  pd: ProtectionDomain;
  cq: CompletionQueue;
  client: QueuePair;
  server: QueuePair;
}

/** Opens the device and connects two queue pairs sharing one PD and CQ. */
export async function connectedPair(opts: { depth?: number; maxSendWr?: number; maxRecvWr?: number } = {}): Promise<Pair> {
  const ctx = openDevice(DEVICE);
  const pd = ctx.allocPd();
  const cq = ctx.createCq(opts.depth ?? 1024);
  const qpOpts = { pd, sendCq: cq, maxSendWr: opts.maxSendWr ?? 128, maxRecvWr: opts.maxRecvWr ?? 128 };
  const listener = await listen({ host: HOST });
  try {
    const accepted = listener.accept(qpOpts);
    const client = await connect({ ...qpOpts, host: HOST, port: listener.port });
    const server = await accepted;
    return { ctx, pd, cq, client, server };
  } finally {
    listener.close();
  }
}

/** Open file descriptors of this process. */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Resident set size in KiB. */
export function rssKiB(): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Deterministic pseudo-random bytes. */
export function fill(view: Uint8Array, seed: number): void {
  let x = seed >>> 0 || 1;
  for (let i = 0; i < view.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    view[i] = x & 0xff;
  }
}
