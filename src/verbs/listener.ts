import { CmChannel, cmEventError, type CmEvent } from './channel.js';
import { closedError } from './closed.js';
import { checkPrivateData } from './connect.js';
import type { NativeConnectionRequest } from '../native.js';
import { assertUsable, checkQpOptions, QueuePair, type QueuePairOptions } from './qp.js';
import { Resource } from './resource.js';
import { checkInteger, checkObject, checkOptionalInteger, checkString } from './validate.js';

/** Options of listen(). */
export interface ListenOptions {
  /** Address to bind: the RDMA device's IP (binds the listener to that device). Default: all addresses. */
  host?: string;
  /** Port; 0 (default) picks a free one (see Listener.port). */
  port?: number;
  /** Connection requests the kernel queues before they are taken (default 64). */
  backlog?: number;
}

/** Options of ConnectionRequest.accept(). */
export interface AcceptOptions extends QueuePairOptions {
  /** Up to 196 bytes the connecting side gets as `peerPrivateData`. */
  privateData?: Uint8Array;
  /** RDMA READs the peer may have in flight against us (default 16, clamped to what it asked and the device). */
  responderResources?: number;
  /** RDMA READs we may have in flight (default 16, clamped likewise). */
  initiatorDepth?: number;
}

/**
 * An rdma_cm listener. Requests arrive in order; take them with
 * nextRequest() (inspect the private data, then accept or reject) or accept()
 * (take the next and accept it). A pending nextRequest()/accept() keeps the
 * process alive; an idle listener does not. close() rejects pending waits and
 * refuses requests not yet taken. Connections already accepted are independent.
 */
export class Listener extends Resource {
  protected readonly kind = 'Listener';
  /** Bound address and the port actually used. */
  readonly host: string;
  readonly port: number;
  /** Device the listener is bound to (undefined when bound to all addresses). */
  readonly device: string | undefined;
  readonly #ch: CmChannel;
  readonly #queue: ConnectionRequest[] = [];
  readonly #waiters: { resolve(r: ConnectionRequest): void; reject(e: Error): void }[] = [];

  /** @internal use listen() */
  constructor(host: string | undefined, port: number, backlog: number) {
    super([]);
    const ch = new CmChannel();
    try {
      ch.id.bind(host, port);
      ch.id.listen(backlog);
    } catch (err) {
      ch.close();
      this.abandon();
      throw err;
    }
    this.#ch = ch;
    const a = ch.id.addresses();
    this.host = a.local.host;
    this.port = a.local.port;
    this.device = a.device;
    ch.onEvent = (ev) => this.#onEvent(ev);
  }

  /** The next connection request (queued ones first). */
  nextRequest(): Promise<ConnectionRequest> {
    this.assertOpen();
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#waiters.length === 0) this.#ch.id.ref();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Takes the next request and accepts it with `options`. */
  accept(options: AcceptOptions): Promise<QueuePair> {
    this.assertOpen();
    checkAcceptOptions(options);
    return this.nextRequest().then((req) => req.accept(options));
  }

  #onEvent(ev: CmEvent): void {
    if (ev.type === 'CONNECT_REQUEST' && ev.request) {
      const req = new ConnectionRequest(this, ev);
      const w = this.#waiters.shift();
      if (this.#waiters.length === 0 && w) this.#ch.id.unref();
      if (w) w.resolve(req);
      else this.#queue.push(req);
    } else if (ev.type === 'DEVICE_REMOVAL') {
      const err = cmEventError(ev, 'rdma_listen');
      for (const w of this.#waiters.splice(0)) w.reject(err);
      this.#ch.id.unref();
    }
  }

  protected release(): void {
    for (const w of this.#waiters.splice(0)) w.reject(closedError('Listener'));
    this.#queue.length = 0; // children: already refused by Resource.close()
    this.#ch.close();
  }
}

function checkAcceptOptions(options: unknown) {
  const o = checkObject(options, 'options');
  const qp = checkQpOptions(options);
  return {
    qp,
    privateData: checkPrivateData(o.privateData, 'options.privateData', 196),
    responder: checkOptionalInteger(o.responderResources, 'options.responderResources', 0, 255, 16),
    initiator: checkOptionalInteger(o.initiatorDepth, 'options.initiatorDepth', 0, 255, 16),
  };
}

/** A connection request taken from a Listener: accept it or reject it. Closing it refuses it. */
export class ConnectionRequest extends Resource {
  protected readonly kind = 'ConnectionRequest';
  /** What the connecting side passed as privateData (IB CM pads it to 56 bytes with zeros). */
  readonly privateData: Buffer | undefined;
  /** READs the peer wants to have in flight against us / lets us have against it. */
  readonly initiatorDepth: number;
  readonly responderResources: number;
  #request: NativeConnectionRequest | undefined;

  /** @internal */
  constructor(listener: Listener, ev: CmEvent) {
    super([listener]);
    this.#request = ev.request;
    this.privateData = ev.privateData;
    this.initiatorDepth = ev.initiatorDepth;
    this.responderResources = ev.responderResources;
  }

  /**
   * Accepts: builds the queue pair (PD and CQs must be on the listener's
   * device) and resolves once the connection is established.
   */
  accept(options: AcceptOptions): Promise<QueuePair> {
    this.assertOpen();
    const o = checkAcceptOptions(options);
    assertUsable(o.qp);
    const ch = this.#adopt();
    let qp: QueuePair;
    try {
      qp = new QueuePair(ch, o.qp);
    } catch (err) {
      ch.close();
      return Promise.reject(err);
    }
    return (async () => {
      try {
        ch.id.accept(o.privateData, Math.min(o.responder, this.initiatorDepth), Math.min(o.initiator, this.responderResources));
        await ch.wait('ESTABLISHED', 'rdma_accept');
        return qp;
      } catch (err) {
        qp.close();
        throw err;
      }
    })();
  }

  /** Rejects the request; the connecting side's connect() fails with ECONNREFUSED. */
  reject(privateData?: Uint8Array): void {
    this.assertOpen();
    const data = checkPrivateData(privateData, 'privateData', 148);
    const ch = this.#adopt();
    try {
      ch.id.reject(data);
    } finally {
      ch.close();
    }
  }

  // Moves the request onto its own rdma_cm channel; this object is done after.
  #adopt(): CmChannel {
    const ch = new CmChannel(this.#request);
    this.#request = undefined;
    this.close();
    return ch;
  }

  protected release(): void {
    if (!this.#request) return;
    // Never taken: refuse it (destroying an unaccepted id sends a reject).
    const ch = new CmChannel(this.#request);
    this.#request = undefined;
    ch.close();
  }
}

/**
 * Listens for rdma_cm connections on host:port. Bind to the RDMA device's IP
 * address so the listener (and every accepted connection) uses that device.
 */
export function listen(options: ListenOptions = {}): Promise<Listener> {
  const o = checkObject(options, 'options');
  const host = o.host === undefined ? undefined : checkString(o.host, 'options.host');
  const port = checkOptionalInteger(o.port, 'options.port', 0, 65535, 0);
  const backlog = checkOptionalInteger(o.backlog, 'options.backlog', 1, 0x7fff_ffff, 64);
  try {
    return Promise.resolve(new Listener(host, port, backlog));
  } catch (err) {
    return Promise.reject(err);
  }
}
