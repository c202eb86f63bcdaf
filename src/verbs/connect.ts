import { CmChannel } from './channel.js';
import { assertUsable, checkQpOptions, QueuePair, type QueuePairOptions } from './qp.js';
import { checkInteger, checkObject, checkOptionalInteger, checkString, describe } from './validate.js';

/** Options of connect(): where to, and the queue pair to build. */
export interface ConnectOptions extends QueuePairOptions {
  /** The listener's IP address (e.g. the rxe device's address) or host name (looked up synchronously). */
  host: string;
  port: number;
  /** Source address to resolve from (default: chosen by the routing table). */
  localHost?: string;
  /** Up to 56 bytes the listener sees in its ConnectionRequest. */
  privateData?: Uint8Array;
  /** Address and route resolution timeout each (default 5000 ms). */
  timeoutMs?: number;
  /** RDMA READs the peer may have in flight against us (default 16, clamped to the device). */
  responderResources?: number;
  /** RDMA READs we may have in flight (default 16, clamped to the device). */
  initiatorDepth?: number;
  /** Transport retries (0-7, default 7). */
  retryCount?: number;
  /** RNR retries when the peer has no RECV posted (0-7, default 7 = forever). */
  rnrRetryCount?: number;
}

/** @internal Validates optional private data against the rdma_cm limit for its message. */
export function checkPrivateData(data: unknown, name: string, max: number): Uint8Array | undefined {
  if (data === undefined) return undefined;
  if (!(data instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array or Buffer, got ${describe(data)}`);
  if (data.byteLength > max) throw new RangeError(`${name} is ${data.byteLength} bytes; at most ${max} fit`);
  return data.byteLength === 0 ? undefined : data;
}

/**
 * Connects an RC queue pair to a listener over rdma_cm: resolves the address
 * and route, creates the queue pair on the device that route uses (the PD and
 * CQs must belong to it), connects and resolves once established. Wrong
 * options throw synchronously; connection failures reject with RdmaError
 * (ECONNREFUSED when rejected or nobody listens, ETIMEDOUT when unreachable).
 */
export function connect(options: ConnectOptions): Promise<QueuePair> {
  const o = checkObject(options, 'options');
  const qpOptions = checkQpOptions(options);
  const host = checkString(o.host, 'options.host');
  const port = checkInteger(o.port, 'options.port', 1, 65535);
  const localHost = o.localHost === undefined ? undefined : checkString(o.localHost, 'options.localHost');
  const privateData = checkPrivateData(o.privateData, 'options.privateData', 56);
  const timeoutMs = checkOptionalInteger(o.timeoutMs, 'options.timeoutMs', 1, 0x7fff_ffff, 5000);
  const responder = checkOptionalInteger(o.responderResources, 'options.responderResources', 0, 255, 16);
  const initiator = checkOptionalInteger(o.initiatorDepth, 'options.initiatorDepth', 0, 255, 16);
  const retry = checkOptionalInteger(o.retryCount, 'options.retryCount', 0, 7, 7);
  const rnrRetry = checkOptionalInteger(o.rnrRetryCount, 'options.rnrRetryCount', 0, 7, 7);
  assertUsable(qpOptions);
  return (async () => {
    const ch = new CmChannel();
    let qp: QueuePair | undefined;
    try {
      ch.id.resolveAddr(host, port, timeoutMs, localHost);
      await ch.wait('ADDR_RESOLVED', 'rdma_resolve_addr');
      ch.id.resolveRoute(timeoutMs);
      await ch.wait('ROUTE_RESOLVED', 'rdma_resolve_route');
      qp = new QueuePair(ch, qpOptions);
      ch.id.connect(privateData, responder, initiator, retry, rnrRetry);
      const ev = await ch.wait('ESTABLISHED', 'rdma_connect');
      qp.peerPrivateData = ev.privateData;
      return qp;
    } catch (err) {
      if (qp) qp.close();
      else ch.close();
      throw err;
    }
  })();
}
