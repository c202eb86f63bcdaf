import { constants } from 'node:os';
import { RdmaError } from '../errors.js';
import type { CmChannel, CmEvent } from './channel.js';
import { closedError } from './closed.js';
import { OpKind } from './completion.js';
import { CompletionQueue, type PendingOp } from './cq.js';
import type { RemoteAddress, ScatterEntry } from './mr.js';
import { ProtectionDomain } from './pd.js';
import { Resource } from './resource.js';
import { bytesOf, noChainStats, SendChain, type SendChainStats } from './send-chain.js';
import { checkInstance, checkObject, checkOptionalInteger, describe, U32_MAX } from './validate.js';

/** What a queue pair is built from. */
export interface QueuePairOptions {
  pd: ProtectionDomain;
  /** Completions of WRITE/READ/SEND. */
  sendCq: CompletionQueue;
  /** Completions of RECV (default: sendCq). */
  recvCq?: CompletionQueue;
  /** Bound of the send queue: operations in flight beyond it throw ENOMEM (default 128). */
  maxSendWr?: number;
  /** Receives that can be posted at once (default 128). */
  maxRecvWr?: number;
  /** WRITE/SEND up to this many bytes go inline (copied at post time; default 0). */
  maxInlineData?: number;
  /** queue(): one work request in this many is signaled, and the last of each chain (default 16). */
  signalEvery?: number;
}

/** @internal */
export interface ResolvedQpOptions {
  pd: ProtectionDomain;
  sendCq: CompletionQueue;
  recvCq: CompletionQueue;
  maxSendWr: number;
  maxRecvWr: number;
  maxInlineData: number;
  signalEvery: number;
}

/** @internal Validates QueuePairOptions (TypeError/RangeError). */
export function checkQpOptions(options: unknown): ResolvedQpOptions {
  const o = checkObject(options, 'options');
  const pd = checkInstance(o.pd, ProtectionDomain, 'options.pd');
  const sendCq = checkInstance(o.sendCq, CompletionQueue, 'options.sendCq');
  const recvCq = o.recvCq === undefined ? sendCq : checkInstance(o.recvCq, CompletionQueue, 'options.recvCq');
  if (sendCq.context !== pd.context || recvCq.context !== pd.context)
    throw new RangeError('options.pd, options.sendCq and options.recvCq must come from the same Context');
  return {
    pd,
    sendCq,
    recvCq,
    maxSendWr: checkOptionalInteger(o.maxSendWr, 'options.maxSendWr', 1, 1 << 20, 128),
    maxRecvWr: checkOptionalInteger(o.maxRecvWr, 'options.maxRecvWr', 1, 1 << 20, 128),
    maxInlineData: checkOptionalInteger(o.maxInlineData, 'options.maxInlineData', 0, 1 << 16, 0),
    signalEvery: checkOptionalInteger(o.signalEvery, 'options.signalEvery', 1, 1 << 16, 16),
  };
}

/** @internal Throws ERR_CLOSED if the PD or a CQ of `o` is closed. */
export function assertUsable(o: ResolvedQpOptions): void {
  for (const [r, what] of [[o.pd, 'ProtectionDomain'], [o.sendCq, 'CompletionQueue'], [o.recvCq, 'CompletionQueue']] as const)
    if (r.closed) throw closedError(what);
}

const TWO64 = 1n << 64n;

function checkSge(local: ScatterEntry): void {
  if (typeof local !== 'object' || local === null) throw new TypeError(`local must be a ScatterEntry, got ${describe(local)}`);
  const { address, length, lkey } = local;
  if (typeof address !== 'bigint') throw new TypeError('local.address must be a bigint');
  if (address < 0n || address >= TWO64) throw new RangeError('local.address must be in [0, 2^64)');
  if (typeof length !== 'number') throw new TypeError('local.length must be a number');
  if (!(length >= 0 && length <= U32_MAX && Number.isInteger(length)))
    throw new RangeError(`local.length must be an integer in [0, 2^32), got ${length}`);
  if (typeof lkey !== 'number') throw new TypeError('local.lkey must be a number');
  if (!(lkey >= 0 && lkey <= U32_MAX && Number.isInteger(lkey))) throw new RangeError('local.lkey must be a 32-bit unsigned integer');
}

function checkRemote(remote: RemoteAddress): void {
  if (typeof remote !== 'object' || remote === null) throw new TypeError(`remote must be a RemoteAddress, got ${describe(remote)}`);
  const { address, rkey } = remote;
  if (typeof address !== 'bigint') throw new TypeError('remote.address must be a bigint');
  if (address < 0n || address >= TWO64) throw new RangeError('remote.address must be in [0, 2^64)');
  if (typeof rkey !== 'number') throw new TypeError('remote.rkey must be a number');
  if (!(rkey >= 0 && rkey <= U32_MAX && Number.isInteger(rkey))) throw new RangeError('remote.rkey must be a 32-bit unsigned integer');
}

/**
 * A connected RC queue pair over rdma_cm (made by connect() or by accepting a
 * connection request). Every operation is signalled and returns a promise
 * settled from the completion queue: it resolves on success and rejects with
 * an RdmaError (code 'ECOMM', `status` the ibv_wc_status name) on a failed
 * completion; after such a failure the queue pair is in state 'ERR' (see
 * `state`) and later operations fail with 'IBV_WC_WR_FLUSH_ERR'.
 *
 * Wrong arguments, a closed queue pair and a full queue throw synchronously
 * (TypeError/RangeError, ERR_CLOSED, RdmaError ENOMEM); nothing is posted then.
 * `keepAlive` is held until the completion (pass the view or region whose
 * memory the operation uses).
 */
export class QueuePair extends Resource {
  protected readonly kind = 'QueuePair';
  readonly pd: ProtectionDomain;
  readonly sendCq: CompletionQueue;
  readonly recvCq: CompletionQueue;
  readonly qpNum: number;
  /** Bound of the send queue (WRITE + READ + SEND in flight). */
  readonly maxSendWr: number;
  readonly maxRecvWr: number;
  readonly maxInlineData: number;
  /** Private data from the peer: its connect() data on the passive side, its accept() data on the active side (IB CM pads it). */
  peerPrivateData: Buffer | undefined;
  /** Resolves once the connection is torn down (by either side). */
  readonly disconnected: Promise<void>;
  readonly #ch: CmChannel;
  readonly #signalEvery: number;
  #chain: SendChain | undefined;
  #sends = 0;
  #recvs = 0;
  #isDisconnected = false;
  #disconnectCalled = false;
  #disconnecting: Promise<void> | undefined;
  #markDisconnected!: () => void;

  /** @internal use connect() or ConnectionRequest.accept() */
  constructor(ch: CmChannel, o: ResolvedQpOptions) {
    super([o.pd, o.sendCq, o.recvCq]);
    this.pd = o.pd;
    this.sendCq = o.sendCq;
    this.recvCq = o.recvCq;
    let reservedSend = false;
    let reservedRecv = false;
    try {
      o.sendCq.reserve(o.maxSendWr);
      reservedSend = true;
      o.recvCq.reserve(o.maxRecvWr);
      reservedRecv = true;
      const caps = ch.id.createQp(
        o.pd.native,
        o.sendCq.native,
        o.recvCq.native,
        o.maxSendWr,
        o.maxRecvWr,
        1,
        o.maxInlineData,
      );
      this.qpNum = caps.qpNum;
      this.maxInlineData = caps.maxInlineData;
    } catch (err) {
      if (reservedSend) o.sendCq.unreserve(o.maxSendWr);
      if (reservedRecv) o.recvCq.unreserve(o.maxRecvWr);
      this.abandon();
      throw err;
    }
    this.maxSendWr = o.maxSendWr;
    this.maxRecvWr = o.maxRecvWr;
    this.#signalEvery = o.signalEvery;
    this.#ch = ch;
    this.disconnected = new Promise((resolve) => (this.#markDisconnected = resolve));
    ch.onEvent = (ev) => this.#onEvent(ev);
  }

  /** WRITE/READ/SEND posted and not yet completed. */
  get outstandingSends(): number {
    return this.#sends;
  }

  /** RECVs posted and not yet completed. */
  get outstandingRecvs(): number {
    return this.#recvs;
  }

  /** The QP state from ibv_query_qp: 'RTS' when connected, 'ERR' after a failed completion or disconnect. */
  get state(): string {
    this.assertOpen();
    return this.#ch.id.qpState();
  }

  /** Local and remote IP address and port, and the device name. */
  get addresses(): ReturnType<CmChannel['id']['addresses']> {
    this.assertOpen();
    return this.#ch.id.addresses();
  }

  /** RDMA WRITE of `local` to `remote`. */
  write(local: ScatterEntry, remote: RemoteAddress, keepAlive?: unknown): Promise<void> {
    return this.#post(OpKind.WRITE, local, remote, keepAlive) as Promise<void>;
  }

  /** RDMA READ of `remote` into `local` (local must be registered with LOCAL_WRITE). */
  read(local: ScatterEntry, remote: RemoteAddress, keepAlive?: unknown): Promise<void> {
    return this.#post(OpKind.READ, local, remote, keepAlive) as Promise<void>;
  }

  /** SEND of `local`; it consumes one RECV posted by the peer. */
  send(local: ScatterEntry, keepAlive?: unknown): Promise<void> {
    return this.#post(OpKind.SEND, local, undefined, keepAlive) as Promise<void>;
  }

  /** Posts a RECV into `local`; resolves with the number of bytes received. */
  recv(local: ScatterEntry, keepAlive?: unknown): Promise<number> {
    return this.#post(OpKind.RECV, local, undefined, keepAlive) as Promise<number>;
  }

  /**
   * Queues a WRITE, READ or SEND to be posted at the end of this tick together
   * with the others queued meanwhile: one chain, one ibv_post_send, only one
   * work request in `signalEvery` (and the last of the chain) signaled. A
   * signaled completion settles the unsignaled operations before it; a failed
   * one rejects its operation and those posted after it (flushed), not those
   * before. `local` is registered memory, or (WRITE/SEND only) a view of at
   * most `maxInlineData` bytes sent inline: copied at post time, no
   * registration needed. Wrong arguments, a closed queue pair and a full send
   * queue throw synchronously; a post refused by the provider rejects.
   */
  queue(kind: OpKind, local: ScatterEntry | ArrayBufferView | ArrayBuffer, remote?: RemoteAddress, keepAlive?: unknown): Promise<void> {
    this.assertOpen();
    if (kind !== OpKind.WRITE && kind !== OpKind.READ && kind !== OpKind.SEND)
      throw new RangeError(`kind must be OpKind.WRITE, READ or SEND, got ${describe(kind)}`);
    let bytes: Uint8Array | undefined;
    if (ArrayBuffer.isView(local) || local instanceof ArrayBuffer || local instanceof SharedArrayBuffer) {
      bytes = bytesOf(local);
      if (kind === OpKind.READ) throw new TypeError('a READ needs registered memory (a ScatterEntry)');
      if (bytes.length > this.maxInlineData)
        throw new RangeError(`inline data is at most ${this.maxInlineData} bytes on this queue pair, got ${bytes.length}`);
    } else checkSge(local);
    if (kind !== OpKind.SEND) checkRemote(remote!);
    if (this.#sends >= this.maxSendWr)
      throw new RdmaError(constants.errno.ENOMEM, 'ibv_post_send', `send queue full: ${this.maxSendWr} operations in flight`);
    this.#chain ??= this.#makeChain();
    this.#sends++;
    return this.#chain.queue(kind, bytes === undefined ? (local as ScatterEntry) : undefined, bytes, kind === OpKind.SEND ? undefined : remote, keepAlive);
  }

  /** Counters of queue(): work requests, doorbells, signaled, inline. */
  get chainStats(): SendChainStats {
    return this.#chain ? { ...this.#chain.stats } : noChainStats();
  }

  /** @internal Called after each chain posted by queue() (the poll-mode progress engine hooks here). */
  set onChainPosted(f: (() => void) | undefined) {
    this.#chain ??= this.#makeChain();
    this.#chain.onPosted = f;
  }

  #makeChain(): SendChain {
    return new SendChain(this.#ch.id, this.sendCq, this.#signalEvery, this.maxInlineData, (kind) => this.completed(kind));
  }

  #post(kind: OpKind, local: ScatterEntry, remote: RemoteAddress | undefined, keepAlive: unknown): Promise<number | undefined> {
    this.assertOpen();
    checkSge(local);
    if (kind === OpKind.WRITE || kind === OpKind.READ) checkRemote(remote!);
    const isRecv = kind === OpKind.RECV;
    if (isRecv ? this.#recvs >= this.maxRecvWr : this.#sends >= this.maxSendWr)
      throw new RdmaError(
        constants.errno.ENOMEM,
        isRecv ? 'ibv_post_recv' : 'ibv_post_send',
        `${isRecv ? 'receive' : 'send'} queue full: ${isRecv ? this.maxRecvWr : this.maxSendWr} operations in flight`,
      );
    const cq = isRecv ? this.recvCq : this.sendCq;
    let op!: PendingOp;
    const promise = new Promise<number | undefined>((resolve, reject) => {
      op = { kind, owner: this, resolve, reject, keepAlive };
    });
    const wrId = cq.track(op);
    try {
      if (isRecv) this.#ch.id.postRecv(wrId, local.address, local.length, local.lkey);
      else this.#ch.id.postSend(kind, wrId, local.address, local.length, local.lkey, remote?.address, remote?.rkey);
    } catch (err) {
      cq.untrack(wrId);
      throw err;
    }
    if (isRecv) this.#recvs++;
    else this.#sends++;
    return promise;
  }

  /** @internal called by the completion queue */
  completed(kind: OpKind): void {
    if (kind === OpKind.RECV) this.#recvs--;
    else this.#sends--;
  }

  /**
   * Disconnects (rdma_disconnect: the QP goes to ERR, operations in flight
   * complete with IBV_WC_WR_FLUSH_ERR) and resolves once the peer has
   * acknowledged or the connection timed out. Idempotent; close() afterwards.
   */
  disconnect(): Promise<void> {
    if (this.closed || this.#isDisconnected) return Promise.resolve();
    this.#disconnecting ??= this.#disconnect();
    return this.#disconnecting;
  }

  async #disconnect(): Promise<void> {
    if (!this.#disconnectCalled) {
      this.#disconnectCalled = true;
      try {
        this.#ch.id.disconnect();
      } catch {
        this.#setDisconnected(); // not connected any more
        return;
      }
    }
    try {
      await this.#ch.wait('DISCONNECTED', 'rdma_disconnect');
    } catch {
      /* closed meanwhile */
    }
    this.#setDisconnected();
  }

  #setDisconnected(): void {
    this.#isDisconnected = true;
    this.#markDisconnected();
  }

  #onEvent(ev: CmEvent): void {
    if (ev.type !== 'DISCONNECTED' && ev.type !== 'DEVICE_REMOVAL') return;
    if (!this.#disconnectCalled && !this.closed) {
      // The peer left: move our QP to ERR too so pending operations flush.
      this.#disconnectCalled = true;
      try {
        this.#ch.id.disconnect();
      } catch {
        /* already down */
      }
    }
    this.#setDisconnected();
  }

  protected release(): void {
    const err = () => closedError('QueuePair', 'was closed with the operation in flight');
    this.#chain?.close(err);
    this.sendCq.cancel(this, err);
    if (this.recvCq !== this.sendCq) this.recvCq.cancel(this, err);
    this.#ch.fail(closedError('QueuePair'));
    this.#ch.id.destroyQp();
    this.#ch.close();
    this.sendCq.unreserve(this.maxSendWr);
    this.recvCq.unreserve(this.maxRecvWr);
    this.#sends = this.#recvs = 0;
    this.#setDisconnected();
  }
}
