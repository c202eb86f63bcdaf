import { RegistrationCache, type CacheableMemory, type RegistrationCacheOptions } from '../cache/index.js';
import {
  DEFAULT_ACCESS,
  closedError,
  connect,
  listen,
  openDevice,
  type CompletionQueue,
  type Context,
  type Listener,
  type ProtectionDomain,
  type QueuePair,
} from '../verbs/index.js';
import { OpKind } from '../verbs/completion.js';
import { RdmaError } from '../errors.js';
import { Domain } from './domain.js';
import { Exposures } from './exposures.js';
import { Poller, checkProgressOptions, type Progress } from './progress.js';
import { RegisterPerOperation, type RegistrationSource } from './per-operation.js';
import { checkRemoteRange, remoteAddress, type RemoteBuffer } from './remote-buffer.js';
import { SlotQueue } from './slots.js';

/** How an endpoint gets its registrations. */
export type EndpointRegistrations =
  /** A cache to share with other endpoints; it must register with `pd`. */
  | RegistrationCache
  /** Options for the endpoint's own cache (the default: `{}`, monitor 'auto'). */
  | RegistrationCacheOptions
  /** Register and deregister around every operation: the no-cache baseline. */
  | 'per-operation';

interface EndpointResourceOptions {
  /**
   * A device stack to share (see {@link Domain}): the endpoint then adds only
   * its queue pair, and uses the domain's CQ, cache and progress mode.
   * Excludes `device`, `cache`, `pd` and `progress`.
   */
  domain?: Domain;
  /** RDMA device name (default: the first device). Must be the device that owns `host`'s address. */
  device?: string;
  /** Where registrations come from; see {@link EndpointRegistrations}. */
  cache?: EndpointRegistrations;
  /** The protection domain of a shared `cache` (required with one, refused otherwise). */
  pd?: ProtectionDomain;
  /** Operations in flight at once; further ones wait in order (default 128). */
  queueDepth?: number;
  /**
   * 'event' (default): completions arrive through the completion channel on
   * libuv; an idle or waiting process sleeps. 'poll': while operations are in
   * flight the CQ is polled without sleeping (bounded by `spinUs` without a
   * completion, yielding to the event loop every millisecond), then back to
   * the channel: lower latency and higher message rate for a busy core.
   */
  progress?: Progress;
  /** 'poll' mode: microseconds without a completion before spinning stops (default 250). */
  spinUs?: number;
  /**
   * WRITEs and SENDs up to this many bytes go inline: copied into the work
   * request at post time, no registration, no cache (default 256; 0 turns it
   * off; the device may grant less: see `endpoint.qp.maxInlineData`).
   */
  inline?: number;
  /** One work request in this many is signaled (and the last of each chain); default 16. */
  signalEvery?: number;
}

export interface EndpointConnectOptions extends EndpointResourceOptions {
  /** The listener's address (its RDMA device's IP). */
  host: string;
  port: number;
  /** Up to 56 bytes the accepting side sees as `endpoint.peerPrivateData` (e.g. who is connecting). */
  privateData?: Uint8Array;
  /** Names the peer in errors ('rank 3 on node2'); default 'host:port'. */
  peerName?: string;
}

export interface EndpointListenOptions extends EndpointResourceOptions {
  /** Address to listen on: the RDMA device's IP. */
  host: string;
  /** 0 (default) picks a free port: see `listener.port`. */
  port?: number;
}

interface Resources {
  context: Context;
  pd: ProtectionDomain;
  cq: CompletionQueue;
  registrations: RegistrationSource;
  ownsRegistrations: boolean;
  /** Set when the stack belongs to a Domain: the endpoint owns only its QP. */
  domain: Domain | undefined;
  queueDepth: number;
  progress: Progress;
  spinUs: number;
  inline: number;
  signalEvery: number;
}

/** Endpoint counters (see {@link Endpoint.stats}). */
export interface EndpointStats {
  /** WRITE/READ/SEND posted (RECVs not counted). */
  operations: number;
  /** Of those, WRITEs and SENDs sent inline: no registration, the cache was not consulted. */
  inline: number;
  /** ibv_post_send calls: one per chain of operations issued in the same tick. */
  doorbells: number;
  /** Work requests posted signaled (each one completion to poll). */
  signaled: number;
  /**
   * Completions reaped right after a post, before any trip through the event
   * loop: on rxe the whole exchange often happens inside ibv_post_send.
   */
  reapedAtPost: number;
}

function checkOptions(options: unknown): EndpointResourceOptions & Record<string, unknown> {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const o = options as EndpointResourceOptions & Record<string, unknown>;
  if (o.device !== undefined && typeof o.device !== 'string') throw new TypeError('options.device must be a string');
  if (o.queueDepth !== undefined && (!Number.isInteger(o.queueDepth) || o.queueDepth < 1 || o.queueDepth > 16384))
    throw new RangeError(`options.queueDepth must be an integer from 1 to 16384, got ${String(o.queueDepth)}`);
  checkProgressOptions(o);
  if (o.inline !== undefined && (!Number.isInteger(o.inline) || o.inline < 0 || o.inline > 4096))
    throw new RangeError(`options.inline must be an integer from 0 to 4096, got ${String(o.inline)}`);
  if (o.signalEvery !== undefined && (!Number.isInteger(o.signalEvery) || o.signalEvery < 1 || o.signalEvery > 65536))
    throw new RangeError(`options.signalEvery must be an integer from 1 to 65536, got ${String(o.signalEvery)}`);
  if (o.domain !== undefined) {
    if (!(o.domain instanceof Domain)) throw new TypeError('options.domain must be a Domain');
    for (const k of ['device', 'cache', 'pd', 'progress', 'spinUs'] as const)
      if (o[k] !== undefined) throw new TypeError(`options.${k} cannot be given with options.domain: the domain decides it`);
    if (o.domain.closed) throw new TypeError('options.domain is closed');
  }
  if (o.cache instanceof RegistrationCache) {
    if (o.pd === undefined) throw new TypeError('options.pd is required with a shared cache: the PD that cache registers with');
  } else if (o.pd !== undefined) {
    throw new TypeError('options.pd is only for a shared cache; without one the endpoint makes its own PD');
  }
  if (o.cache !== undefined && o.cache !== 'per-operation' && (typeof o.cache !== 'object' || o.cache === null))
    throw new TypeError("options.cache must be a RegistrationCache, cache options or 'per-operation'");
  return o;
}

// Opens the device (or takes the shared cache's PD) and builds the CQ and the
// registration source; on failure nothing is left open.
function openResources(o: EndpointResourceOptions): Resources {
  const queueDepth = o.queueDepth ?? 128;
  const d = o.domain;
  if (d !== undefined) {
    return {
      context: d.context,
      pd: d.pd,
      cq: d.cq,
      registrations: d.cache,
      ownsRegistrations: false,
      domain: d,
      queueDepth,
      progress: d.progress,
      spinUs: 0,
      inline: o.inline ?? 256,
      signalEvery: o.signalEvery ?? 16,
    };
  }
  const shared = o.cache instanceof RegistrationCache;
  const context = shared ? o.pd!.context : openDevice(o.device);
  try {
    const pd = shared ? o.pd! : context.allocPd();
    // SEND/WRITE/READ and RECV completions share the CQ: room for both queues.
    const cq = context.createCq(2 * queueDepth);
    let registrations: RegistrationSource;
    if (o.cache instanceof RegistrationCache) registrations = o.cache;
    else if (o.cache === 'per-operation') registrations = new RegisterPerOperation(pd);
    else registrations = new RegistrationCache(pd, o.cache ?? {});
    return {
      context,
      pd,
      cq,
      registrations,
      ownsRegistrations: !shared,
      domain: undefined,
      queueDepth,
      progress: o.progress ?? 'event',
      spinUs: o.spinUs ?? 250,
      inline: o.inline ?? 256,
      signalEvery: o.signalEvery ?? 16,
    };
  } catch (err) {
    if (!shared) context.close();
    throw err;
  }
}

function qpOptions(r: Resources) {
  return { maxSendWr: r.queueDepth, maxRecvWr: r.queueDepth, maxInlineData: r.inline, signalEvery: r.signalEvery };
}

function closeResources(r: Resources): void {
  if (r.domain !== undefined) return; // the domain's owner closes it
  if (r.ownsRegistrations) r.registrations.close();
  r.cq.close();
  // A shared cache's PD and device belong to its owner.
  if (r.ownsRegistrations) r.context.close();
}

/**
 * One side of a reliable RDMA connection (rdma_cm, RC queue pair) with a
 * registration cache. Every operation starts with the cache's generation
 * check (one load of the kernel's counter; drain and evict only when it
 * moved), takes the registration from the cache, posts, and releases it at
 * completion, so a buffer freed and reallocated at the same address is never
 * sent to the NIC with the old pages.
 *
 * Operations return promises. At most `queueDepth` are in flight; the rest
 * wait in order. A failed operation rejects with the error that caused it
 * (RdmaError with `status` for a failed completion), or with ECONNRESET when
 * the connection goes down within a second of a completion error the peer's
 * side can cause (its process died); close() rejects pending ones with an
 * ERR_CLOSED error.
 */
export class Endpoint implements Disposable {
  /** The endpoint's registrations: its RegistrationCache, or the per-operation baseline. */
  readonly cache: RegistrationSource;
  readonly context: Context;
  readonly pd: ProtectionDomain;
  readonly cq: CompletionQueue;
  readonly qp: QueuePair;
  readonly #resources: Resources;
  readonly #sends: SlotQueue;
  readonly #recvs: SlotQueue;
  readonly #exposed: Exposures;
  readonly #poller: Poller | undefined;
  /** WRITE/SEND up to this many bytes go inline (what the device granted). */
  readonly #inline: number;
  /** Names the peer in errors. */
  peerName: string;
  /** What the peer passed at connection set-up (connect()'s privateData as the acceptor sees it, padded by the CM). */
  readonly peerPrivateData: Buffer | undefined;
  #operations = 0;
  #inlined = 0;
  #closed = false;
  /** The connection went down without our close(): the peer closed it, or its process died. */
  #peerGone = false;

  private constructor(resources: Resources, qp: QueuePair, peerName: string, peerPrivateData: Buffer | undefined) {
    this.peerName = peerName;
    this.#exposed = new Exposures(resources.registrations);
    this.peerPrivateData = peerPrivateData;
    this.#resources = resources;
    this.cache = resources.registrations;
    this.context = resources.context;
    this.pd = resources.pd;
    this.cq = resources.cq;
    this.qp = qp;
    this.#sends = new SlotQueue(qp.maxSendWr);
    this.#recvs = new SlotQueue(qp.maxRecvWr);
    this.#inline = Math.min(resources.inline, qp.maxInlineData);
    if (resources.domain !== undefined) {
      const poller = resources.domain.poller;
      if (poller !== undefined) qp.onChainPosted = () => poller.kick();
      resources.domain.attach(this);
    } else if (resources.progress === 'poll') {
      const poller = new Poller(resources.cq, resources.spinUs);
      this.#poller = poller;
      qp.onChainPosted = () => poller.kick();
    }
    void qp.disconnected.then(() => {
      if (!this.#closed) this.#peerGone = true;
    });
  }

  /** True once the connection went down without close(): the peer closed it or died. */
  get peerGone(): boolean {
    return this.#peerGone;
  }

  // What a pending or later operation rejects with once the connection is down.
  #connectionDown(cause?: unknown): RdmaError {
    const err = new RdmaError(ECONNRESET, 'rdma_cm', `the connection to ${this.peerName} is down: the peer closed it or its process died`);
    if (cause !== undefined) (err as Error & { cause?: unknown }).cause = cause;
    return err;
  }

  /**
   * What a failed operation rejects with. A peer that dies shows first as a
   * completion error here and only then as the CM's disconnect: the dying
   * process's memory registrations can go before its connection, so a WRITE
   * in flight meets IBV_WC_REM_ACCESS_ERR (seen across two guests), and a
   * peer whose queue pair is gone leaves IBV_WC_RETRY_EXC_ERR. An error the
   * peer's side can cause therefore waits up to PEER_GONE_GRACE_MS for the
   * connection to go down, and then rejects with ECONNRESET (the completion
   * error as its `cause`), as documented for World; a live peer's error
   * arrives that much later, unchanged.
   */
  async #failed(err: unknown): Promise<never> {
    if (this.#peerGone) throw this.#connectionDown(err);
    const status = (err as { status?: unknown } | null)?.status;
    if (this.#closed || typeof status !== 'string' || !PEER_SIDE_STATUSES.has(status)) throw err;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, PEER_GONE_GRACE_MS)));
    await Promise.race([this.qp.disconnected, grace]);
    clearTimeout(timer);
    throw this.#peerGone ? this.#connectionDown(err) : err;
  }

  /** 'event' or 'poll' (see the option). */
  get progress(): Progress {
    return this.#resources.progress;
  }

  /**
   * Counters: operations posted, how many went inline (bypassing the cache:
   * they appear in no cache statistic), doorbells (chains posted) and
   * signaled work requests.
   */
  stats(): EndpointStats {
    const c = this.qp.chainStats;
    return { operations: this.#operations, inline: this.#inlined, doorbells: c.doorbells, signaled: c.signaled, reapedAtPost: c.reapedAtPost };
  }

  /** Connects to an {@link EndpointListener} at host:port. */
  static async connect(options: EndpointConnectOptions): Promise<Endpoint> {
    const o = checkOptions(options) as EndpointConnectOptions & Record<string, unknown>;
    if (typeof o.host !== 'string') throw new TypeError('options.host must be a string');
    if (o.peerName !== undefined && typeof o.peerName !== 'string') throw new TypeError('options.peerName must be a string');
    const r = openResources(o);
    try {
      const qp = await connect({
        pd: r.pd,
        sendCq: r.cq,
        host: o.host,
        port: o.port as number,
        privateData: o.privateData,
        ...qpOptions(r),
      });
      return new Endpoint(r, qp, o.peerName ?? `${o.host}:${String(o.port)}`, qp.peerPrivateData);
    } catch (err) {
      closeResources(r);
      throw err;
    }
  }

  /** Listens on host:port; `accept()` yields one Endpoint per connection. */
  static async listen(options: EndpointListenOptions): Promise<EndpointListener> {
    const o = checkOptions(options);
    if (typeof o.host !== 'string') throw new TypeError('options.host must be a string');
    return new EndpointListener(await listen({ host: o.host, port: (o.port as number | undefined) ?? 0 }), o);
  }

  /** @internal used by EndpointListener.accept() */
  static async accepted(listener: Listener, o: EndpointResourceOptions): Promise<Endpoint> {
    const request = await listener.nextRequest();
    const r = openResources(o);
    try {
      const qp = await request.accept({ pd: r.pd, sendCq: r.cq, ...qpOptions(r) });
      let peer = 'the connecting peer';
      try {
        const { remote } = qp.addresses;
        peer = `${remote.host}:${String(remote.port)}`;
      } catch {
        /* only for messages */
      }
      return new Endpoint(r, qp, peer, request.privateData);
    } catch (err) {
      closeResources(r);
      throw err;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Operations posted and not completed, and operations waiting for room. */
  get pending(): { inFlight: number; waiting: number } {
    return {
      inFlight: this.#sends.inFlight + this.#recvs.inFlight,
      waiting: this.#sends.waiting + this.#recvs.waiting,
    };
  }

  /**
   * Makes `view` reachable by the peer's write() and read(): registers it
   * (through the cache, held until unexpose() or close()) and returns what the
   * peer needs. The view is kept alive meanwhile. Exposing the same view again
   * returns the same description, unless the memory behind it changed
   * mapping meanwhile (munmap, mremap, ...): the cache then revoked the old
   * registration (the peer's next access with the old description fails with
   * a remote access error, never reaching the old pages) and this registers
   * the view afresh, with a new rkey.
   */
  expose(view: CacheableMemory): RemoteBuffer {
    this.#assertOpen();
    return this.#exposed.expose(view);
  }

  /** Ends an exposure made by expose(); the registration returns to the cache. */
  unexpose(view: CacheableMemory): void {
    this.#exposed.unexpose(view);
  }

  /** RDMA WRITE of all of `view` into `remote` at `offset`. */
  write(view: CacheableMemory, remote: RemoteBuffer, offset?: number): Promise<void> {
    return this.#rdma(true, view, remote, offset);
  }

  /** RDMA READ from `remote` at `offset` into all of `view`. */
  read(view: CacheableMemory, remote: RemoteBuffer, offset?: number): Promise<void> {
    return this.#rdma(false, view, remote, offset);
  }

  /** SEND of `view`; the peer must have a recv() pending. */
  send(view: CacheableMemory): Promise<void> {
    return this.#start(this.#sends, view, (local) => this.qp.queue(OpKind.SEND, local, undefined, view), true) as Promise<void>;
  }

  /** Receives one SEND into `view`; resolves with the number of bytes received. */
  recv(view: CacheableMemory): Promise<number> {
    return this.#start(this.#recvs, view, (local) => this.qp.recv(local as Local, view)) as Promise<number>;
  }

  #rdma(isWrite: boolean, view: CacheableMemory, remote: RemoteBuffer, offset: number | undefined): Promise<void> {
    let address: bigint;
    try {
      address = remoteAddress(remote) + BigInt(checkRemoteRange(remote, offset, byteLength(view)));
    } catch (err) {
      return Promise.reject(err);
    }
    const target = { address, rkey: remote.rkey };
    return this.#start(this.#sends, view, (local) => this.qp.queue(isWrite ? OpKind.WRITE : OpKind.READ, local, target, view), isWrite) as Promise<void>;
  }

  // Waits for room if the queue is full, then posts.
  #start<T>(slots: SlotQueue, view: CacheableMemory, post: (local: Local | ArrayBufferView | ArrayBuffer) => Promise<T>, mayInline = false): Promise<T> {
    if (this.#closed) return Promise.reject(closedError('Endpoint'));
    if (this.#peerGone) return Promise.reject(this.#connectionDown());
    const wait = slots.acquire();
    if (wait === undefined) return this.#post(slots, view, post, mayInline);
    return wait.then(() => this.#post(slots, view, post, mayInline));
  }

  // The generation check happens inside acquire(): its first step is one load
  // of the kernel's counter, compared with the last value seen. Data small
  // enough to go inline needs no registration: it skips the cache.
  #post<T>(slots: SlotQueue, view: CacheableMemory, post: (local: Local | ArrayBufferView | ArrayBuffer) => Promise<T>, mayInline: boolean): Promise<T> {
    let reg: ReturnType<RegistrationSource['acquire']>;
    let done: Promise<T>;
    if (mayInline && this.#inline > 0 && !this.#closed) {
      const n = byteLength(view);
      if (n <= this.#inline) {
        try {
          done = post(view as ArrayBufferView | ArrayBuffer);
        } catch (err) {
          slots.release();
          return Promise.reject(err);
        }
        this.#operations++;
        this.#inlined++;
        return done.then(
          (value) => {
            slots.release();
            return value;
          },
          (err: unknown) => {
            slots.release();
            return this.#failed(err);
          },
        );
      }
    }
    try {
      if (this.#closed) throw closedError('Endpoint');
      reg = this.cache.acquire(view, DEFAULT_ACCESS);
    } catch (err) {
      slots.release();
      return Promise.reject(err);
    }
    try {
      done = post(reg);
    } catch (err) {
      reg.release();
      slots.release();
      return Promise.reject(err);
    }
    if (slots === this.#sends) this.#operations++;
    return done.then(
      (value) => {
        reg.release();
        slots.release();
        return value;
      },
      (err: unknown) => {
        reg.release();
        slots.release();
        return this.#failed(err);
      },
    );
  }

  /**
   * Closes the connection and frees everything: operations waiting for room
   * and in flight reject with an ERR_CLOSED error, exposures end, and the
   * endpoint's own cache, CQ, PD and device close. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#poller?.stop();
    const err = closedError('Endpoint', 'was closed with the operation pending');
    this.#sends.close(err);
    this.#recvs.close(err);
    // The QP goes first: nothing may still use a registration deregistered below.
    this.qp.close();
    this.#exposed.clear();
    this.#resources.domain?.detach(this);
    closeResources(this.#resources);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError('Endpoint');
  }
}

type Local = { address: bigint; length: number; lkey: number };

const ECONNRESET = 104;

/** How long a completion error the peer's side can cause waits for the connection to go down (see #failed). */
export const PEER_GONE_GRACE_MS = 1000;

/** Completion statuses a dying peer leaves (remote errors, transport retries, and the flush of what followed them). */
const PEER_SIDE_STATUSES = new Set([
  'IBV_WC_REM_ACCESS_ERR',
  'IBV_WC_REM_INV_REQ_ERR',
  'IBV_WC_REM_OP_ERR',
  'IBV_WC_REM_ABORT_ERR',
  'IBV_WC_RETRY_EXC_ERR',
  'IBV_WC_RNR_RETRY_EXC_ERR',
  'IBV_WC_RESP_TIMEOUT_ERR',
  'IBV_WC_WR_FLUSH_ERR',
]);

function byteLength(view: CacheableMemory): number {
  if (ArrayBuffer.isView(view) || view instanceof ArrayBuffer || view instanceof SharedArrayBuffer) return view.byteLength;
  throw new TypeError('view must be a Buffer, TypedArray, DataView, ArrayBuffer or SharedArrayBuffer');
}

/** Accepts connections made by Endpoint.connect(). */
export class EndpointListener implements Disposable {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  readonly host: string;
  readonly #listener: Listener;
  readonly #options: EndpointResourceOptions;

  /** @internal use Endpoint.listen() */
  constructor(listener: Listener, options: EndpointResourceOptions) {
    this.#listener = listener;
    this.#options = options;
    this.port = listener.port;
    this.host = listener.host;
  }

  /** Waits for the next connection and accepts it, with the resources `Endpoint.listen()` was given. */
  accept(): Promise<Endpoint> {
    return Endpoint.accepted(this.#listener, this.#options);
  }

  /** Stops listening; endpoints already accepted stay open. Idempotent. */
  close(): void {
    this.#listener.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
