import { constants } from 'node:os';
import { RdmaError } from '../errors.js';
import { native } from '../native.js';
import type { NativeCmId, NativeConnectionRequest } from '../native.js';

/** One rdma_cm event, as delivered to an id's owner. */
export interface CmEvent {
  /** 'ADDR_RESOLVED', 'ROUTE_RESOLVED', 'CONNECT_REQUEST', 'ESTABLISHED', 'DISCONNECTED', ... */
  type: string;
  status: number;
  privateData: Buffer | undefined;
  request: NativeConnectionRequest | undefined;
  responderResources: number;
  initiatorDepth: number;
}

const { errno } = constants;

/** The RdmaError an unexpected or failed rdma_cm event stands for. */
export function cmEventError(ev: CmEvent, syscall: string): RdmaError {
  const neg = ev.status < 0 ? -ev.status : 0;
  let err: RdmaError;
  switch (ev.type) {
    case 'ADDR_ERROR':
      err = new RdmaError(neg || errno.EHOSTUNREACH, 'rdma_resolve_addr', 'address resolution failed');
      break;
    case 'ROUTE_ERROR':
      err = new RdmaError(neg || errno.ENETUNREACH, 'rdma_resolve_route', 'route resolution failed');
      break;
    case 'UNREACHABLE':
      err = new RdmaError(neg || errno.ETIMEDOUT, syscall, `peer unreachable (status ${ev.status})`);
      break;
    case 'REJECTED':
      err = new RdmaError(errno.ECONNREFUSED, syscall, `rejected by the peer (reason ${ev.status})`);
      break;
    case 'DEVICE_REMOVAL':
      err = new RdmaError(errno.ENODEV, syscall, 'the RDMA device was removed');
      break;
    case 'DISCONNECTED':
      err = new RdmaError(errno.ECONNRESET, syscall, 'disconnected');
      break;
    default:
      err = new RdmaError(neg || errno.ECONNABORTED, syscall, `${ev.type} (status ${ev.status})`);
  }
  if (ev.privateData) (err as RdmaError & { privateData?: Buffer }).privateData = ev.privateData;
  return err;
}

const FAILURES = new Set([
  'ADDR_ERROR',
  'ROUTE_ERROR',
  'CONNECT_ERROR',
  'UNREACHABLE',
  'REJECTED',
  'DEVICE_REMOVAL',
  'DISCONNECTED',
]);

/**
 * @internal An rdma_cm id and its event channel. A caller waits for one
 * expected event at a time (the id keeps the loop alive meanwhile); every
 * other event goes to `onEvent`.
 */
export class CmChannel {
  readonly id: NativeCmId;
  onEvent: ((ev: CmEvent) => void) | undefined;
  #waiter: { want: string; syscall: string; resolve(ev: CmEvent): void; reject(err: Error): void } | undefined;
  #closed = false;

  constructor(request?: NativeConnectionRequest) {
    this.id = new native.CmId(
      (type, status, privateData, req, params) =>
        this.#handle({ type, status, privateData, request: req, ...params }),
      request,
    );
  }

  /** Resolves with the next `want` event; rejects on a failure event. */
  wait(want: string, syscall: string): Promise<CmEvent> {
    if (this.#waiter) throw new Error(`already waiting for ${this.#waiter.want}`);
    this.id.ref();
    return new Promise<CmEvent>((resolve, reject) => {
      this.#waiter = { want, syscall, resolve, reject };
    });
  }

  /** Rejects the current waiter, if any. */
  fail(err: Error): void {
    const w = this.#take();
    w?.reject(err);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.id.close();
  }

  #take() {
    const w = this.#waiter;
    this.#waiter = undefined;
    if (w && !this.#closed) this.id.unref();
    return w;
  }

  #handle(ev: CmEvent): void {
    const w = this.#waiter;
    if (w && ev.type === w.want) this.#take()!.resolve(ev);
    else if (w && FAILURES.has(ev.type)) this.#take()!.reject(cmEventError(ev, w.syscall));
    else this.onEvent?.(ev);
  }
}
