/**
 * This side of the library's WRITE benchmarks against a peer process
 * (bench/vm/peer.ts), started here or on the other host through `via`
 * (['scripts/vm/vm-rsh', 'node2']), the way perftest's server is: one
 * Endpoint per progress mode ('event', 'poll'), queue depth 128, cache on.
 * Offers message rate / bandwidth with 128 in flight, the two-process
 * ping-pong, and the awaited write (post to completion).
 */
import { Endpoint, type Progress, type RemoteBuffer } from '../../src/index.js';
import { JsonChild } from '../hosts/launch.js';
import { endpointBandwidth, endpointLatency } from './endpoint-write.js';
import { pingPong, resetInbox, type PingPongResult, type PingPongSide } from './pingpong.js';

export interface PeerLinkOptions {
  device: string;
  /** Largest message: the size of each inbox. */
  bytes: number;
  /** Command prefix that runs the peer on another host; none: in this guest. */
  via?: string[];
  /** The address the local peer listens on (default RDMA_REGCACHE_IP); a remote peer uses its own host's. */
  host?: string;
  log: (s: string) => void;
}

export class PeerLink {
  readonly #peer: JsonChild;
  readonly #sides: Map<Progress, PingPongSide>;

  private constructor(peer: JsonChild, sides: Map<Progress, PingPongSide>) {
    this.#peer = peer;
    this.#sides = sides;
  }

  /** Starts the peer and connects one endpoint per mode. */
  static async open(o: PeerLinkOptions): Promise<PeerLink> {
    const via = o.via ?? [];
    const args = ['--import', 'tsx', 'bench/vm/peer.ts', '--bytes', String(o.bytes), '--device', o.device];
    const host = o.host ?? process.env.RDMA_REGCACHE_IP;
    if (!via.length && host) args.push('--host', host);
    const peer = via.length
      ? new JsonChild(via[0]!, [...via.slice(1), 'node', ...args], { stdin: true, timeoutMs: 4 * 3600_000 })
      : new JsonChild(process.execPath, args, { stdin: true, timeoutMs: 4 * 3600_000 });
    const sides = new Map<Progress, PingPongSide>();
    try {
      for (const mode of ['event', 'poll'] as Progress[]) {
        const l = await peer.next((x) => x.op === 'listen' && x.mode === mode, 300_000, `peer: listening (${mode})`);
        const ep = await Endpoint.connect({ device: o.device, host: String(l.host), port: Number(l.port), queueDepth: 128, progress: mode });
        const r = await peer.next((x) => x.op === 'remote' && x.mode === mode, 60_000, `peer: exposing (${mode})`);
        const inbox = new Uint8Array(new SharedArrayBuffer(o.bytes));
        peer.send(`hello ${mode} ${JSON.stringify(ep.expose(inbox))}`);
        sides.set(mode, { ep, inbox, out: new Uint8Array(o.bytes).fill(7), remote: r.remote as RemoteBuffer });
      }
      o.log(`peer process${via.length ? ` on ${via.at(-1)}` : ''} up: one endpoint per progress mode (inline up to ${sides.get('poll')!.ep.qp.maxInlineData} B)`);
      return new PeerLink(peer, sides);
    } catch (err) {
      for (const s of sides.values()) s.ep.close();
      peer.kill();
      throw err;
    }
  }

  #side(mode: Progress): PingPongSide {
    return this.#sides.get(mode)!;
  }

  /** `iters` writes of `size` bytes into the peer's inbox, 128 in flight. */
  rate(mode: Progress, size: number, iters: number): Promise<{ bytesPerSec: number; msgPerSec: number }> {
    const s = this.#side(mode);
    return endpointBandwidth({ client: s.ep, remote: s.remote }, s.out.subarray(0, size), iters);
  }

  /** Mean us of one awaited write of `size` bytes (post to completion). */
  awaited(mode: Progress, size: number, iters: number): Promise<number> {
    const s = this.#side(mode);
    return endpointLatency({ client: s.ep, remote: s.remote }, s.out.subarray(0, size), iters);
  }

  /** Ping-pong with the peer: `iters` timed round trips after `warm` untimed ones. */
  async pingPong(mode: Progress, size: number, iters: number, warm = Math.min(100, iters)): Promise<PingPongResult> {
    const s = this.#side(mode);
    resetInbox(s, size);
    this.#peer.send(`pp ${mode} ${size} ${iters} ${warm}`);
    await this.#peer.next((x) => x.op === 'pp-ready', 120_000, 'peer: ping-pong start');
    const r = await pingPong(s, { size, iters, warm, active: true });
    await this.#peer.next((x) => x.op === 'pp-done', 120_000, 'peer: ping-pong end');
    return r!;
  }

  /**
   * Untimed round trips before any timed ping-pong: the first few hundred run
   * V8's unoptimized code, which under emulation costs several times the
   * optimized code (8 B, 'poll': about 620 us average on the first 500 round
   * trips, 170-330 us from the 2,500th on). A long-running runtime pays the
   * optimized cost.
   */
  async warmPingPong(modes: Progress[], size: number, rounds: number): Promise<void> {
    if (rounds <= 0) return;
    for (const mode of modes) await this.pingPong(mode, size, rounds, 0);
  }

  /** Counters of this side's endpoints (operations, inline, doorbells, signaled, reaped at post). */
  stats(): Record<string, ReturnType<Endpoint['stats']>> {
    return Object.fromEntries([...this.#sides].map(([m, s]) => [m, s.ep.stats()]));
  }

  async close(): Promise<void> {
    this.#peer.send('end');
    const end = await Promise.race([this.#peer.done, new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000))]);
    for (const s of this.#sides.values()) s.ep.close();
    this.#peer.kill();
    if (end === undefined) throw new Error(`peer did not end within 30 s of 'end' (${this.#peer.tail()})`);
    if (end.code !== 0) throw new Error(`peer exited ${end.code ?? end.signal} (${this.#peer.tail()})`);
  }
}
