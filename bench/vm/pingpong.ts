/**
 * One side of a ping-pong over RDMA WRITE through Endpoint, the way
 * ib_write_lat does it between two processes: each side writes `size` bytes
 * into the other's exposed inbox, whose last byte carries the round's value;
 * the other side spins on that byte (Atomics.load on a SharedArrayBuffer, so
 * the load is never hoisted) until it arrives, then writes back. The active
 * side times the round trips. Both sides run this with the same size and
 * iteration count (bench/vm/peer.ts is the passive side).
 */
import type { Endpoint, RemoteBuffer } from '../../src/index.js';

export interface PingPongSide {
  ep: Endpoint;
  /** What the peer writes into: a view of a SharedArrayBuffer this side exposed. */
  inbox: Uint8Array;
  /** What this side writes from (its first `size` bytes). */
  out: Uint8Array;
  /** The peer's inbox. */
  remote: RemoteBuffer;
}

export interface PingPongRun {
  size: number;
  /** Timed round trips (after `warm` untimed ones). */
  iters: number;
  warm: number;
  active: boolean;
  /** Give up when nothing arrives for this long (the peer died). */
  stallMs?: number;
}

export interface PingPongResult {
  /** Mean round trip, us. */
  avgUs: number;
  /** Median round trip, us. */
  medianUs: number;
}

/** Spins until inbox[at] === v; throws once `stallMs` pass without it. */
function spinFor(inbox: Uint8Array, at: number, v: number, stallMs: number): void {
  if (Atomics.load(inbox, at) === v) return;
  const deadline = performance.now() + stallMs;
  for (let n = 1; ; n++) {
    if (Atomics.load(inbox, at) === v) return;
    if ((n & 0xfffff) === 0 && performance.now() > deadline) throw new Error(`ping-pong: nothing arrived for ${stallMs} ms (the peer stopped?)`);
  }
}

/** Clears the inbox's first `size` bytes: a value left by an earlier run must not pass for this run's first. */
export function resetInbox(side: PingPongSide, size: number): void {
  side.inbox.fill(0, 0, size);
}

/** Runs the loop; the active side returns its round trips (the passive side: undefined). */
export async function pingPong(side: PingPongSide, run: PingPongRun): Promise<PingPongResult | undefined> {
  const { ep, inbox, remote } = side;
  const { size, iters, warm, active } = run;
  const stallMs = run.stallMs ?? 60_000;
  if (size < 1 || size > inbox.length || size > side.out.length || size > remote.length) throw new RangeError(`ping-pong: size ${size} does not fit the buffers`);
  const out = side.out.subarray(0, size); // one view for the whole run: a cache hit on the same view
  const last = size - 1;
  const rtt = new Float64Array(iters);
  let t = 0n;
  let t0 = 0n;
  for (let i = 0; i < warm + iters; i++) {
    const v = (i % 255) + 1; // never 0 (a cleared inbox), never the previous round's
    if (active) {
      if (i === warm) t0 = process.hrtime.bigint();
      t = process.hrtime.bigint();
    } else {
      spinFor(inbox, last, v, stallMs);
    }
    out[last] = v;
    await ep.write(out, remote);
    if (active) {
      spinFor(inbox, last, v, stallMs);
      if (i >= warm) rtt[i - warm] = Number(process.hrtime.bigint() - t);
    }
  }
  if (!active) return undefined;
  const total = Number(process.hrtime.bigint() - t0);
  const sorted = rtt.slice().sort();
  return { avgUs: total / iters / 1000, medianUs: sorted[iters >> 1]! / 1000 };
}
