import { hostname as osHostname } from 'node:os';
import type { CacheableMemory, RegistrationCache, RegistrationCacheOptions } from '../cache/index.js';
import { Domain } from '../endpoint/domain.js';
import { Endpoint, type EndpointListener } from '../endpoint/endpoint.js';
import { Exposures } from '../endpoint/exposures.js';
import type { RegisterPerOperation } from '../endpoint/per-operation.js';
import type { Progress } from '../endpoint/progress.js';
import type { RemoteBuffer } from '../endpoint/remote-buffer.js';
import { closedError } from '../verbs/index.js';
import { deviceAddress } from './address.js';
import { joinJob, type JobClient } from './job.js';

export interface WorldOptions {
  /** RDMA device (default: the first one). */
  device?: string;
  /** Address to listen on (default: the IPv4 address of the device's network interface). */
  host?: string;
  /** 'event' (default) or 'poll' for every connection (see Endpoint). */
  progress?: Progress;
  /** 'poll' mode: microseconds without a completion before spinning stops (default 250). */
  spinUs?: number;
  /** Operations in flight per connection (default 128). */
  queueDepth?: number;
  /** Options of the process's one RegistrationCache, or 'per-operation' (no cache: the baseline). */
  cache?: RegistrationCacheOptions | 'per-operation';
  /** How long World.init() waits for every peer to connect (default 120 s). */
  timeoutMs?: number;
}

const ADDRESS_KEY = 'rdma-regcache.address';
const EXPOSE_KEY = 'rdma-regcache.expose.';
/** Connection private data: magic 'RRCW' and the connecting rank (little endian). */
const MAGIC = 0x57435252;

function checkWorldOptions(options: unknown): WorldOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const o = options as WorldOptions;
  if (o.device !== undefined && typeof o.device !== 'string') throw new TypeError('options.device must be a string');
  if (o.host !== undefined && typeof o.host !== 'string') throw new TypeError('options.host must be a string');
  if (o.queueDepth !== undefined && (!Number.isInteger(o.queueDepth) || o.queueDepth < 1 || o.queueDepth > 16384))
    throw new RangeError(`options.queueDepth must be an integer from 1 to 16384, got ${String(o.queueDepth)}`);
  if (o.timeoutMs !== undefined && !(Number.isInteger(o.timeoutMs) && o.timeoutMs > 0 && o.timeoutMs < 2 ** 31))
    throw new RangeError(`options.timeoutMs must be a positive integer, got ${String(o.timeoutMs)}`);
  return o;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what())), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function rankOf(data: Buffer | undefined): number | undefined {
  if (data === undefined || data.length < 8 || data.readUInt32LE(0) !== MAGIC) return undefined;
  return data.readUInt32LE(4);
}

/**
 * The ranks of a job started by a PMIx launcher (`mpirun`, `srun --mpi=pmix`),
 * connected to one another by RDMA. A process has one device context, PD, CQ,
 * memory monitor and RegistrationCache (its {@link Domain}), shared by every
 * connection; a buffer is registered and pinned once whatever the number of
 * peers. A process started without a launcher is a world of one.
 *
 *     const world = await World.init();
 *     const remotes = await world.exposeAll(heap);        // collective
 *     await world.write((world.rank + 1) % world.size, data, remotes[next]);
 *     await world.barrier();
 *     world.close();
 *
 * Every operation starts with the cache's generation check, as on an Endpoint.
 * When a peer dies, operations to it (pending and later) reject with an
 * RdmaError ECONNRESET naming the rank.
 */
export class World implements Disposable {
  readonly rank: number;
  readonly size: number;
  /** Rank among the processes of this host. */
  readonly localRank: number;
  readonly hostname: string;
  /** The process's one device stack. */
  readonly domain: Domain;
  readonly #job: JobClient | undefined;
  readonly #listener: EndpointListener;
  /** Connection to each rank (index = rank; our own is a loopback connection). */
  readonly #peers: Endpoint[];
  readonly #exposures: Exposures;
  #exposeRound = 0;
  #closed = false;

  private constructor(
    job: JobClient | undefined,
    info: { rank: number; size: number; localRank: number; hostname: string },
    domain: Domain,
    listener: EndpointListener,
    peers: Endpoint[],
  ) {
    this.#job = job;
    this.rank = info.rank;
    this.size = info.size;
    this.localRank = info.localRank;
    this.hostname = info.hostname;
    this.domain = domain;
    this.#listener = listener;
    this.#peers = peers;
    this.#exposures = new Exposures(domain.cache);
  }

  /**
   * Joins the job: PMIx init (when started by a launcher), the device stack,
   * a listener whose address is published through PMIx, a fence, then one
   * connection to every rank (rank r connects to ranks <= r and accepts the
   * others). Resolves once every connection is up.
   */
  static async init(options: WorldOptions = {}): Promise<World> {
    const o = checkWorldOptions(options);
    const job = await joinJob();
    const rank = job?.rank ?? 0;
    const size = job?.size ?? 1;
    const info = { rank, size, localRank: job?.localRank ?? 0, hostname: job?.hostname ?? osHostname() };
    const queueDepth = o.queueDepth ?? 128;
    let domain: Domain | undefined;
    let listener: EndpointListener | undefined;
    const endpoints: Endpoint[] = [];
    try {
      domain = Domain.open({
        device: o.device,
        cache: o.cache,
        progress: o.progress,
        spinUs: o.spinUs,
        // Each connection reserves its send and receive queue; one extra for our own loopback's other side.
        cqDepth: (size + 1) * 2 * queueDepth,
      });
      const host = o.host ?? deviceAddress(domain.context.name);
      if (host === undefined)
        throw new Error(`World.init: device ${domain.context.name} has no network interface with an IPv4 address; pass options.host`);
      listener = await Endpoint.listen({ domain, host, queueDepth });
      if (job !== undefined) {
        job.put(ADDRESS_KEY, JSON.stringify({ host, port: listener.port }));
        job.commit();
        await job.fence(true);
      }
      const addresses = await Promise.all(
        Array.from({ length: rank + 1 }, async (_, p) =>
          p === rank ? { host, port: listener!.port } : (JSON.parse((await job!.get(p, ADDRESS_KEY)).toString('utf8')) as { host: string; port: number }),
        ),
      );
      const peers: (Endpoint | undefined)[] = new Array(size);
      const hello = Buffer.alloc(8);
      hello.writeUInt32LE(MAGIC, 0);
      hello.writeUInt32LE(rank, 4);
      const d = domain;
      const l = listener;
      const connecting = addresses.map(async (a, p) => {
        const ep = await Endpoint.connect({ domain: d, host: a.host, port: a.port, queueDepth, privateData: hello, peerName: `rank ${p}` });
        endpoints.push(ep);
        peers[p] = ep;
      });
      // Ranks rank..size-1 connect to us (our own loopback included).
      const accepting = (async () => {
        for (let n = 0; n < size - rank; n++) {
          const ep = await l.accept();
          endpoints.push(ep);
          const p = rankOf(ep.peerPrivateData);
          if (p === undefined || p < rank || p >= size) throw new Error(`World.init: a connection from ${ep.peerName} is not from a rank of this job`);
          ep.peerName = `rank ${p}`;
          if (p !== rank) peers[p] = ep;
        }
      })();
      const timeoutMs = o.timeoutMs ?? 120_000;
      await withTimeout(Promise.all([...connecting, accepting]), timeoutMs, () => {
        const missing = peers.flatMap((ep, p) => (ep === undefined ? [p] : []));
        return `World.init: rank ${rank} timed out after ${timeoutMs} ms waiting for the connection with rank(s) ${missing.join(', ') || '?'}`;
      });
      return new World(job, info, domain, listener, peers as Endpoint[]);
    } catch (err) {
      for (const ep of endpoints) ep.close();
      listener?.close();
      domain?.close();
      job?.finalize();
      throw err;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The process's one registration cache (every connection uses it). */
  get cache(): RegistrationCache | RegisterPerOperation {
    return this.domain.cache;
  }

  /** The connection to `peer` (our own rank: a loopback connection). */
  endpoint(peer: number): Endpoint {
    this.#assertOpen();
    if (!Number.isInteger(peer)) throw new TypeError(`peer must be an integer rank, got ${String(peer)}`);
    if (peer < 0 || peer >= this.size) throw new RangeError(`peer ${peer} is not a rank of this world (size ${this.size})`);
    return this.#peers[peer]!;
  }

  /**
   * Collective: every rank exposes its `view` and gets every rank's
   * description (index = rank). Exposing the same view again returns the same
   * description unless the memory changed mapping meanwhile (then a new rkey).
   */
  async exposeAll(view: CacheableMemory): Promise<RemoteBuffer[]> {
    this.#assertOpen();
    const mine = this.#exposures.expose(view);
    const job = this.#job;
    if (job === undefined) return [mine];
    const key = EXPOSE_KEY + String(this.#exposeRound++);
    job.put(key, JSON.stringify(mine));
    job.commit();
    await job.fence(true);
    return Promise.all(
      Array.from({ length: this.size }, async (_, p) =>
        p === this.rank ? mine : (JSON.parse((await job.get(p, key)).toString('utf8')) as RemoteBuffer),
      ),
    );
  }

  /** Ends this rank's exposure of `view` (peers' later accesses fail). */
  unexpose(view: CacheableMemory): void {
    this.#exposures.unexpose(view);
  }

  /** RDMA WRITE of all of `view` into `remote` (a buffer of rank `peer`) at `offset`. */
  write(peer: number, view: CacheableMemory, remote: RemoteBuffer, offset?: number): Promise<void> {
    try {
      return this.endpoint(peer).write(view, remote, offset);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** RDMA READ from `remote` (a buffer of rank `peer`) at `offset` into all of `view`. */
  read(peer: number, view: CacheableMemory, remote: RemoteBuffer, offset?: number): Promise<void> {
    try {
      return this.endpoint(peer).read(view, remote, offset);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Resolves once every rank has called barrier() (a PMIx fence). */
  async barrier(): Promise<void> {
    this.#assertOpen();
    // A data-collecting fence, though there is nothing new to collect: Slurm
    // 22.05's PMIx plugin, with its default settings, ended a fence without
    // data on each node as soon as that node's own ranks had arrived (seen on
    // the two-host VM); a collecting fence waited for every rank everywhere.
    await this.#job?.fence(true);
  }

  /**
   * Closes every connection (pending operations reject with ERR_CLOSED), the
   * listener and the device stack, and finalizes PMIx. Idempotent; process
   * exit finalizes PMIx too.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#exposures.clear();
    this.#listener.close();
    this.domain.close();
    this.#job?.finalize();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError('World');
  }
}
