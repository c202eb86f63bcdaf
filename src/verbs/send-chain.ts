import { RdmaError } from '../errors.js';
import type { NativeCmId } from '../native.js';
import { completionError, OpKind } from './completion.js';
import { maySettleWithoutTurn } from './loop-turn.js';
import { ROUTE_BASE, ROUTE_SPAN, type CompletionQueue, type CompletionRouter } from './cq.js';
import type { RemoteAddress, ScatterEntry } from './mr.js';

/** The native CmId's chain methods (native/verbs/cm.cc). */
interface ChainCmId {
  /**
   * Posts entries [0, count) of sendList() as one chain, one doorbell. Returns
   * count, or [posted, errno] when the provider refused entry `posted`.
   */
  postSendList(count: number): number | [number, number];
  /** The descriptor buffer of postSendList (layout in native/verbs/cm.h); undefined before createQp. */
  sendList(): ArrayBuffer | undefined;
}

/** Entries of the native descriptor buffer (CmId::kListMax) and their size. */
const LIST_MAX = 128;
const STRIDE = 48;
const SIGNALED = 1 << 8;
const STAGED = 1 << 9;
const WR_FLUSH_ERR = 5;

interface ChainOp {
  kind: OpKind;
  /** Registered memory, or undefined for inline data (`bytes`). */
  local: ScatterEntry | undefined;
  bytes: Uint8Array | undefined;
  remote: RemoteAddress | undefined;
  keepAlive: unknown;
  resolve(): void;
  reject(err: Error): void;
  wrId: number;
}

/** Counters of a send chain. */
export interface SendChainStats {
  /** Work requests posted. */
  posted: number;
  /** ibv_post_send calls (doorbells): one per chain of operations issued in the same tick. */
  doorbells: number;
  /** Work requests posted with IBV_SEND_SIGNALED (the others produce no completion on success). */
  signaled: number;
  /** Work requests whose data went inline (copied at post time, no registration). */
  inline: number;
  /** Completions reaped right after a post of this chain (rxe often completes during the post). */
  reapedAtPost: number;
}

/** Counters of a queue pair that has posted nothing yet. */
export function noChainStats(): SendChainStats {
  return { posted: 0, doorbells: 0, signaled: 0, inline: 0, reapedAtPost: 0 };
}

/**
 * @internal The batched send path of a queue pair: operations queued in one
 * tick are posted at its end as one linked list with one ibv_post_send; only
 * every `signalEvery`-th work request and the last of each chain are
 * signaled. A send queue completes in order, so a successful signaled
 * completion settles every unsignaled operation posted before it; an error
 * completion (the provider reports the failing work request even when
 * unsignaled) rejects that operation, and the ones posted after it (which the
 * queue pair, now in error, flushes) reject with IBV_WC_WR_FLUSH_ERR. Those
 * before it resolve: they completed.
 */
export class SendChain implements CompletionRouter {
  readonly #id: ChainCmId;
  readonly #cq: CompletionQueue;
  readonly #tag: number;
  readonly #signalEvery: number;
  readonly #maxInline: number;
  readonly #onSettle: (kind: OpKind) => void;
  #big!: BigUint64Array;
  #f64!: Float64Array;
  #u32!: Uint32Array;
  #u8!: Uint8Array;
  /** Posted, not yet settled, in post order from #head. */
  #fifo: ChainOp[] = [];
  #head = 0;
  #queued: ChainOp[] = [];
  #scheduled = false;
  #sinceSignal = 0;
  #seq = 0;
  #closed: (() => Error) | undefined;
  /** Called after each flush that posted something (the poll-mode progress engine). */
  onPosted: (() => void) | undefined;
  readonly stats: SendChainStats = noChainStats();

  constructor(id: NativeCmId, cq: CompletionQueue, signalEvery: number, maxInline: number, onSettle: (kind: OpKind) => void) {
    this.#id = id as unknown as ChainCmId;
    this.#cq = cq;
    this.#signalEvery = signalEvery;
    this.#maxInline = maxInline;
    this.#onSettle = onSettle;
    const buf = this.#id.sendList();
    if (buf === undefined) throw new Error('unreachable: the queue pair has no descriptor buffer');
    this.#big = new BigUint64Array(buf, 0, LIST_MAX * (STRIDE / 8));
    this.#f64 = new Float64Array(buf, 0, LIST_MAX * (STRIDE / 8));
    this.#u32 = new Uint32Array(buf, 0, LIST_MAX * (STRIDE / 4));
    this.#u8 = new Uint8Array(buf);
    this.#tag = cq.route(this);
  }

  get outstanding(): number {
    return this.#fifo.length - this.#head + this.#queued.length;
  }

  /** Queues one operation; it is posted at the end of this tick. `bytes` (inline data) replaces `local`. */
  queue(kind: OpKind, local: ScatterEntry | undefined, bytes: Uint8Array | undefined, remote: RemoteAddress | undefined, keepAlive: unknown): Promise<void> {
    let op!: ChainOp;
    const p = new Promise<void>((resolve, reject) => {
      op = { kind, local, bytes, remote, keepAlive, resolve, reject, wrId: 0 };
    });
    this.#queued.push(op);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
    return p;
  }

  #flush = (): void => {
    this.#scheduled = false;
    if (this.#closed) return;
    const all = this.#queued;
    this.#queued = [];
    const wasIdle = this.#head === this.#fifo.length;
    let postedAny = false;
    for (let start = 0; start < all.length; start += LIST_MAX) {
      const chunk = all.length - start < LIST_MAX ? all.length - start : LIST_MAX;
      if (this.#postChunk(all, start, chunk)) postedAny = true;
    }
    if (!postedAny) return;
    // A post to an idle queue is someone waiting on it (a round trip, an
    // awaited write): reap at once. rxe (and a fast NIC for a small message)
    // often completes during ibv_post_send, and settling now spares the caller
    // a trip through the event loop ('event') or a tick ('poll'). With
    // operations already in flight the usual path reaps in bigger batches
    // (a same-boot A/B had the 4 KiB 'poll' rate at 0.72x ib_write_bw with
    // the reap on every post, 0.81x without).
    if (wasIdle && !this.#cq.closed && maySettleWithoutTurn()) {
      try {
        this.stats.reapedAtPost += this.#cq.poll(32);
      } catch {
        // ibv_poll_cq failed: the channel or the poller polls again and reports it.
      }
    }
    this.onPosted?.();
  };

  // Posts all[start, start + n) as one chain; returns whether any went out.
  #postChunk(all: ChainOp[], start: number, n: number): boolean {
    const big = this.#big;
    const f64 = this.#f64;
    const u32 = this.#u32;
    const stagingBase = LIST_MAX * STRIDE;
    let signaled = 0;
    let inline = 0;
    for (let i = 0; i < n; i++) {
      const op = all[start + i]!;
      const w = i * (STRIDE / 8);
      const h = i * (STRIDE / 4);
      op.wrId = ROUTE_BASE + this.#tag * ROUTE_SPAN + this.#seq;
      this.#seq = this.#seq + 1 === ROUTE_SPAN ? 0 : this.#seq + 1;
      let flags: number = op.kind;
      if (op.bytes !== undefined) {
        this.#u8.set(op.bytes, stagingBase + i * this.#maxInline);
        big[w] = 0n;
        u32[h + 6] = op.bytes.length;
        u32[h + 7] = 0;
        flags |= STAGED;
        inline++;
      } else {
        big[w] = op.local!.address;
        u32[h + 6] = op.local!.length;
        u32[h + 7] = op.local!.lkey;
      }
      if (op.remote !== undefined) {
        big[w + 1] = op.remote.address;
        u32[h + 8] = op.remote.rkey;
      } else {
        big[w + 1] = 0n;
        u32[h + 8] = 0;
      }
      if (++this.#sinceSignal >= this.#signalEvery || i === n - 1) {
        flags |= SIGNALED;
        this.#sinceSignal = 0;
        signaled++;
      }
      f64[w + 2] = op.wrId;
      u32[h + 9] = flags;
    }
    let posted = n;
    let errno = 0;
    try {
      const r = this.#id.postSendList(n);
      if (typeof r !== 'number') [posted, errno] = r;
    } catch (err) {
      posted = 0;
      for (let i = 0; i < n; i++) this.#settle(all[start + i]!, err as Error);
      return false;
    }
    for (let i = 0; i < posted; i++) this.#fifo.push(all[start + i]!);
    if (posted > 0) {
      this.stats.doorbells++;
      this.stats.posted += posted;
      this.stats.signaled += signaled; // approximate when the post failed part way
      this.stats.inline += inline;
    }
    for (let i = posted; i < n; i++)
      this.#settle(all[start + i]!, new RdmaError(errno, 'ibv_post_send', `work request ${i} of a chain of ${n} refused`));
    return posted > 0;
  }

  #settle(op: ChainOp, err: Error | undefined): void {
    this.#onSettle(op.kind);
    op.keepAlive = undefined;
    if (err === undefined) op.resolve();
    else op.reject(err);
  }

  complete(wrId: number, status: number, _byteLen: number, vendorErr: number): void {
    const fifo = this.#fifo;
    let k = this.#head;
    while (k < fifo.length && fifo[k]!.wrId !== wrId) k++;
    if (k === fifo.length) return; // already settled (flushed after an error, or cancelled)
    for (let i = this.#head; i < k; i++) this.#settle(fifo[i]!, undefined);
    const op = fifo[k]!;
    if (status === 0) {
      this.#head = k + 1;
      this.#settle(op, undefined);
    } else {
      this.#head = fifo.length;
      this.#settle(op, completionError(op.kind, status, vendorErr));
      for (let i = k + 1; i < fifo.length; i++) this.#settle(fifo[i]!, completionError(fifo[i]!.kind, WR_FLUSH_ERR, 0));
    }
    if (this.#head === fifo.length) {
      this.#fifo = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > fifo.length) {
      this.#fifo = fifo.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Rejects everything posted or queued (the queue pair closes) and detaches from the CQ. */
  close(err: () => Error): void {
    if (this.#closed) return;
    this.#closed = err;
    const ops = [...this.#fifo.slice(this.#head), ...this.#queued];
    this.#fifo = [];
    this.#head = 0;
    this.#queued = [];
    for (const op of ops) this.#settle(op, err());
    this.#cq.unroute(this.#tag);
  }
}

/** A Uint8Array over the bytes of `view` (no copy). */
export function bytesOf(view: ArrayBufferView | ArrayBuffer | SharedArrayBuffer): Uint8Array {
  if (view instanceof Uint8Array) return view;
  if (ArrayBuffer.isView(view)) return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  return new Uint8Array(view);
}
