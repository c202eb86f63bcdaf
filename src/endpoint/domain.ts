import { RegistrationCache, type RegistrationCacheOptions } from '../cache/index.js';
import { openDevice, type CompletionQueue, type Context, type ProtectionDomain } from '../verbs/index.js';
import { RegisterPerOperation } from './per-operation.js';
import { Poller, checkProgressOptions, type Progress } from './progress.js';

export interface DomainOptions {
  /** RDMA device name (default: the first device). */
  device?: string;
  /** Options of the domain's one RegistrationCache (default `{}`: monitor 'auto'), or 'per-operation'. */
  cache?: RegistrationCacheOptions | 'per-operation';
  /**
   * Completions the shared CQ holds (default 4096, at most the device's
   * maxCqe). Every endpoint reserves room for its send and receive queues.
   */
  cqDepth?: number;
  /** 'event' (default) or 'poll', for every endpoint of the domain (see EndpointConnectOptions). */
  progress?: Progress;
  /** 'poll' mode: microseconds without a completion before spinning stops (default 250). */
  spinUs?: number;
}

function checkDomainOptions(options: unknown): DomainOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const o = options as DomainOptions;
  if (o.device !== undefined && typeof o.device !== 'string') throw new TypeError('options.device must be a string');
  if (o.cqDepth !== undefined && (!Number.isInteger(o.cqDepth) || o.cqDepth < 1 || o.cqDepth > 4194304))
    throw new RangeError(`options.cqDepth must be an integer from 1 to 4194304, got ${String(o.cqDepth)}`);
  checkProgressOptions(o);
  if (o.cache !== undefined && o.cache !== 'per-operation' && (typeof o.cache !== 'object' || o.cache === null))
    throw new TypeError("options.cache must be cache options or 'per-operation'");
  return o;
}

/**
 * One device stack shared by many connections (libfabric's domain, UCX's
 * worker): a device context, a protection domain, one completion queue, one
 * registration cache and its one memory monitor. Endpoints opened with
 * `{ domain }` add only a queue pair each, so N peers do not mean N caches,
 * N monitors and every buffer pinned N times. `World` makes one per process.
 *
 * close() closes the endpoints still using it first (their pending
 * operations reject with ERR_CLOSED), then the cache, CQ, PD and device.
 */
export class Domain implements Disposable {
  readonly context: Context;
  readonly pd: ProtectionDomain;
  readonly cq: CompletionQueue;
  /** The registrations every endpoint of the domain shares. */
  readonly cache: RegistrationCache | RegisterPerOperation;
  readonly progress: Progress;
  /** @internal the one 'poll' engine of the shared CQ */
  readonly poller: Poller | undefined;
  readonly #users = new Set<{ close(): void }>();
  #closed = false;

  private constructor(context: Context, pd: ProtectionDomain, cq: CompletionQueue, cache: RegistrationCache | RegisterPerOperation, o: DomainOptions) {
    this.context = context;
    this.pd = pd;
    this.cq = cq;
    this.cache = cache;
    this.progress = o.progress ?? 'event';
    this.poller = this.progress === 'poll' ? new Poller(cq, o.spinUs ?? 250) : undefined;
  }

  /** Opens the device and builds the shared PD, CQ and cache; on failure nothing is left open. */
  static open(options: DomainOptions = {}): Domain {
    const o = checkDomainOptions(options);
    const context = openDevice(o.device);
    try {
      const pd = context.allocPd();
      const depth = Math.min(o.cqDepth ?? 4096, context.queryDevice().maxCqe);
      const cq = context.createCq(depth);
      const cache = o.cache === 'per-operation' ? new RegisterPerOperation(pd) : new RegistrationCache(pd, o.cache ?? {});
      return new Domain(context, pd, cq, cache, o);
    } catch (err) {
      context.close();
      throw err;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** @internal an endpoint starts using the domain */
  attach(user: { close(): void }): void {
    if (this.#closed) throw new TypeError('the domain is closed');
    this.#users.add(user);
  }

  /** @internal an endpoint closed */
  detach(user: { close(): void }): void {
    this.#users.delete(user);
  }

  /** Closes every endpoint still on the domain, then the cache, CQ, PD and device. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const user of [...this.#users].reverse()) user.close();
    this.#users.clear();
    this.poller?.stop();
    this.cache.close();
    this.cq.close();
    this.context.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
