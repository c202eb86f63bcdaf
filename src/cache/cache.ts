import { LRUCache } from 'lru-cache';
import { ClosedError, RdmaError } from '../errors.js';
import { MemoryMonitor, type MonitorClient } from '../monitor/monitor.js';
import { native } from '../native.js';
import { Entry, Ghost, type Registrar } from './entry.js';
import { IntervalIndex } from './interval-index.js';
import { memlockLimit } from './memlock.js';
import { Registration, type Releaser } from './registration.js';

/** IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ */
const DEFAULT_ACCESS = 1 | 2 | 4;
const PAGE = native.pageSize;
const GHOSTS = 1024;
const RACE_RETRIES = 3;
const EIO = 5;
const EAGAIN = 11;
const ENOMEM = 12;
const ENOSPC = 28;

/** Memory the cache accepts: any view of an ArrayBuffer or SharedArrayBuffer, or the buffer itself. */
export type CacheableMemory = ArrayBufferView | ArrayBuffer | SharedArrayBuffer;

/** Options of {@link RegistrationCache}. */
export interface RegistrationCacheOptions {
  /**
   * Tells the cache when memory changes its mapping. Default: a monitor opened
   * with `{ backend: 'auto' }` and owned (closed) by the cache. A monitor serves
   * one cache (its drain consumes the reports).
   */
  monitor?: MemoryMonitor;
  /** Most registrations kept (in use ones are never evicted, so this can be exceeded by them). Default 16384. */
  maxEntries?: number;
  /** Most bytes kept pinned (same caveat). Default: no limit beyond RLIMIT_MEMLOCK. */
  maxBytes?: number;
  /** Override of the RLIMIT_MEMLOCK soft limit (default read from /proc/self/limits). */
  memlockLimit?: number;
  /** Access flags used when acquire() gets none. Default LOCAL_WRITE | REMOTE_WRITE | REMOTE_READ. */
  defaultAccess?: number;
}

/** Counters of a cache, from {@link RegistrationCache.stats}. */
export interface CacheStats {
  /** The monitor backend ('none' means hits are unverified). */
  backend: string;
  hits: number;
  misses: number;
  /** Unused registrations dropped to respect maxEntries / maxBytes / RLIMIT_MEMLOCK. */
  evictions: number;
  /** Registrations dropped because their memory changed mapping. */
  invalidations: number;
  /** Lookups that found no entry where an invalidated one would have matched: stale uses prevented. */
  staleAvoided: number;
  /** Hits that no monitor vouched for (backend 'none'). */
  unverifiedHits: number;
  /** Bytes pinned by live registrations (page-rounded). */
  bytesPinned: number;
  /** Registrations alive at the registrar (cached, in use, or invalidated but still in use). */
  liveRegistrations: number;
  /** Entries findable in the index. */
  entries: number;
  /** Entries with at least one Registration not yet released. */
  inUse: number;
  /** Generation changes handled (each one drain). */
  drains: number;
  /** Misses registered again because the memory changed while it was being registered. */
  raceRetries: number;
  /** Registrations that hit ENOMEM and were retried after evicting. */
  enomemRetries: number;
  /** Watches refused at the module's registration limit (ENOSPC) and retried after evicting. */
  watchLimitRetries: number;
  /** Holds from acquireRevocable() revoked because their memory changed. */
  revocations: number;
  /**
   * Drains that could not finish (the monitor lost reports it had consumed):
   * each one invalidated every entry, since any of them may have changed.
   */
  drainFailures: number;
  /** The RLIMIT_MEMLOCK bound in force (Infinity: unlimited). */
  memlockLimit: number;
}

interface BufferInfo {
  /** Address of the buffer's first byte. */
  base: number;
  /** The entry of the last acquire through this buffer, and what it was for. */
  entry: Entry | null;
  off: number;
  len: number;
  access: number;
  addr: bigint;
}


/**
 * A cache of RDMA memory registrations keyed by page-rounded address range
 * and access flags, kept correct by a {@link MemoryMonitor}.
 *
 * - `acquire(view)` returns a {@link Registration} whose lkey/rkey cover the
 *   view: from a cached registration containing it (O(log n) lookup, O(1) when
 *   the same view is acquired again), or from a new one (watch the range,
 *   register it, re-check the generation, then publish it).
 * - Registrations in use are reference counted and never evicted; unused ones
 *   wait in an LRU (lru-cache) bounded by maxEntries, maxBytes and
 *   RLIMIT_MEMLOCK. To keep the hit path free of LRU bookkeeping, a release
 *   only stamps the entry; an entry reaching the LRU's old end with a newer
 *   stamp gets a second chance at the recent end (LRU with lazy promotion).
 * - The cache remembers each buffer's address in a non-enumerable symbol
 *   property on the ArrayBuffer (a WeakMap for non-extensible ones).
 * - Whenever the monitor's generation has moved (checked with one load at
 *   every acquire, or by {@link checkGeneration}), the reports are drained and
 *   every entry overlapping changed memory leaves the index: unused ones are
 *   deregistered right away (outside any callback), in-use ones at their last
 *   release.
 * - Registration that fails with ENOMEM evicts the unused entries and retries
 *   once, then throws an RdmaError saying what is pinned.
 * - In a fork()ed child the cache refuses to work (the registrations are the
 *   parent's) and never deregisters them.
 *
 * The registration covers whole pages, so its rkey also reaches the rest of
 * the first and last page of a view.
 */
export class RegistrationCache implements Releaser {
  readonly #registrar: Registrar;
  readonly #monitor: MemoryMonitor;
  readonly #ownsMonitor: boolean;
  readonly #gen: Uint32Array;
  #seen: number;
  readonly #pidCell = new Int32Array(native.pidCell);
  readonly #pid: number;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #memlock: number;
  readonly #defaultAccess: number;

  readonly #indexes = new Map<number, IntervalIndex<Entry>>();
  readonly #byId = new Map<number, Entry>();
  readonly #lru: LRUCache<number, Entry>;
  /**
   * Always in the LRU, so it never becomes empty: lru-cache clears all its
   * slot arrays (O(maxEntries)) when its last item goes, which made every
   * invalidation of a lone unused entry cost that much.
   */
  readonly #sentinel = new Entry(0, 0, 0, 0);
  #sentinelOut = false;
  /** Per-buffer state lives in a property under this symbol on the buffer itself (WeakMap for frozen ones). */
  readonly #tag = Symbol('rdma-regcache.buffer');
  #bufs = new WeakMap<object, BufferInfo>();
  /** Entries to give a second chance: used since they were last put at the LRU's recent end. */
  readonly #promote: Entry[] = [];
  #tick = 0;
  readonly #dead: Entry[] = [];
  /** Invalidated while in use: deregistered at last release (or close). */
  readonly #limbo = new Set<Entry>();
  readonly #ghosts = new IntervalIndex<Ghost>();
  readonly #ghostQueue: Ghost[] = [];
  readonly #scratch: Entry[] = [];
  #closed = false;
  #orphaned = false;

  #hits = 0;
  #misses = 0;
  #evictions = 0;
  #invalidations = 0;
  #staleAvoided = 0;
  #bytesPinned = 0;
  #live = 0;
  #entries = 0;
  #inUse = 0;
  #drains = 0;
  #raceRetries = 0;
  #enomemRetries = 0;
  #drainFailures = 0;
  #watchLimitRetries = 0;
  #revocations = 0;
  /** Whether the monitor's readability wakes this cache (revocable holds exist). */
  #woken = false;
  /** This cache as the monitor's client (the methods are declared below). */
  readonly #client: MonitorClient = {
    onReport: (cookie, start, end) => this.#onReport(cookie, start, end),
    onLost: () => this.#lost(),
  };

  /**
   * @param registrar registers ranges: a `ProtectionDomain`, or anything with
   *   `registerRange(address, length, access) -> { lkey, rkey, deregister() }`.
   */
  constructor(registrar: Registrar, options: RegistrationCacheOptions = {}) {
    if (registrar === null || typeof registrar !== 'object' || typeof registrar.registerRange !== 'function') {
      throw new TypeError('registrar must have a registerRange(address, length, access) method (a ProtectionDomain)');
    }
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    const maxEntries = options.maxEntries ?? 16384;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1 || maxEntries > 2 ** 30) {
      throw new RangeError('maxEntries must be an integer from 1 to 2^30');
    }
    const maxBytes = options.maxBytes ?? Infinity;
    if (typeof maxBytes !== 'number' || !(maxBytes > 0)) throw new RangeError('maxBytes must be a positive number');
    const memlock = options.memlockLimit ?? memlockLimit();
    if (typeof memlock !== 'number' || !(memlock > 0)) throw new RangeError('memlockLimit must be a positive number');
    const defaultAccess = options.defaultAccess ?? DEFAULT_ACCESS;
    checkAccess(defaultAccess);
    if (options.monitor !== undefined && !(options.monitor instanceof MemoryMonitor)) {
      throw new TypeError('monitor must be a MemoryMonitor');
    }
    const monitor = options.monitor ?? MemoryMonitor.open({ backend: 'auto' });
    if (monitor.closed) throw new ClosedError('MemoryMonitor', 'is closed (RegistrationCache needs an open one)');
    // Several caches may share one monitor: it routes each report to the
    // cache that watched its cookie.
    monitor.attach(this.#client);

    this.#registrar = registrar;
    this.#monitor = monitor;
    this.#ownsMonitor = options.monitor === undefined;
    this.#gen = monitor.counter;
    this.#seen = monitor.lastSeen;
    this.#pid = this.#pidCell[0]!;
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
    this.#memlock = memlock;
    this.#defaultAccess = defaultAccess;
    this.#lru = new LRUCache<number, Entry>({
      max: maxEntries + 1, // + the sentinel
      // Runs inside lru-cache: only unlink here; deregistration waits for #flushDead.
      dispose: (entry, _id, reason) => {
        entry.inLru = false;
        if (entry === this.#sentinel) {
          this.#sentinelOut = reason === 'evict'; // back in at the recent end by #settle
          return;
        }
        if (reason !== 'evict' || entry.refs !== 0 || !entry.valid) return;
        if (entry.stamp !== entry.lruStamp) this.#promote.push(entry);
        else this.#evict(entry);
      },
    });
    this.#lru.set(0, this.#sentinel);
  }

  /** The monitor this cache drains. */
  get monitor(): MemoryMonitor {
    return this.#monitor;
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * A registration covering `view` with `access` (ibv_access_flags). Release
   * it when the operation using it has completed.
   * @throws TypeError for a non-buffer, RangeError for a zero-length or detached one,
   *   RdmaError from the registrar (ENOMEM after eviction, EFAULT...), or EIO in a fork()ed child.
   */
  acquire(view: CacheableMemory, access: number = this.#defaultAccess): Registration {
    if (this.#gen[0] !== this.#seen) this.#sync();
    if (this.#pidCell[0] !== this.#pid) this.#forked();
    let buf: object;
    let off: number;
    let len: number;
    if (ArrayBuffer.isView(view)) {
      buf = view.buffer;
      off = view.byteOffset;
      len = view.byteLength;
    } else if (view instanceof ArrayBuffer || view instanceof SharedArrayBuffer) {
      buf = view;
      off = 0;
      len = view.byteLength;
    } else {
      throw new TypeError('view must be a Buffer, TypedArray, DataView, ArrayBuffer or SharedArrayBuffer');
    }
    if (len === 0) throw new RangeError('view is zero-length or detached');
    let info = (buf as Record<symbol, BufferInfo | undefined>)[this.#tag];
    if (info === undefined) info = this.#learn(view, buf);
    let entry = info.entry;
    if (entry !== null && entry.valid && info.off === off && info.len === len && info.access === access) {
      this.#hits++;
      if (entry.refs++ === 0) this.#inUse++;
    } else {
      entry = this.#lookup(info, off, len, access);
    }
    return new Registration(this, entry, info.addr, len);
  }

  /**
   * {@link acquire} for memory handed to a peer (Endpoint.expose): a hold that
   * may last indefinitely. When the memory behind it changes, the cache does
   * not wait for its release: it revokes it (`registration.revoked` becomes
   * true) and deregisters the registration as soon as no operation of this
   * process still uses it, so the peer's next access fails with a remote
   * access error instead of reaching the old pages. With the ummunotify
   * monitor the cache notices at once (it polls the monitor's file on the
   * event loop while revocable holds exist); with other backends, at the next
   * generation check.
   */
  acquireRevocable(view: CacheableMemory, access: number = this.#defaultAccess): Registration {
    const reg = this.acquire(view, access);
    const e = reg.entry!;
    (e.revocable ??= new Set()).add(reg);
    if (!this.#woken) this.#woken = this.#monitor.onChange(this.#onMonitorReadable, true);
    return reg;
  }

  /** The monitor has reports: bring the cache up to date now (revocations). */
  readonly #onMonitorReadable = (): void => {
    try {
      if (!this.#closed) this.checkGeneration();
    } catch {
      // Reported by the next operation's own generation check.
    }
    // Closed, or the drain failed: stop, so a readable file cannot make the
    // loop spin.
    if (this.#closed || this.#monitor.changed) this.#stopWaking();
  };

  /** Stops listening for the monitor's readability (revocations). */
  #stopWaking(): void {
    if (!this.#woken) return;
    this.#woken = false;
    try {
      this.#monitor.onChange(this.#onMonitorReadable, false);
    } catch {
      // The monitor is closed already.
    }
  }

  /**
   * The generation check every RDMA operation starts with: one typed-array
   * load compared with the last value seen. Only when it moved: drain the
   * monitor and drop what changed. Returns whether it moved.
   */
  checkGeneration(): boolean {
    if (this.#gen[0] === this.#seen) return false;
    this.#sync();
    return true;
  }

  /** Counters; see {@link CacheStats}. */
  stats(): CacheStats {
    return {
      backend: this.#monitor.backend,
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      invalidations: this.#invalidations,
      staleAvoided: this.#staleAvoided,
      unverifiedHits: this.#monitor.verified ? 0 : this.#hits,
      bytesPinned: this.#bytesPinned,
      liveRegistrations: this.#live,
      entries: this.#entries,
      inUse: this.#inUse,
      drains: this.#drains,
      raceRetries: this.#raceRetries,
      enomemRetries: this.#enomemRetries,
      drainFailures: this.#drainFailures,
      watchLimitRetries: this.#watchLimitRetries,
      revocations: this.#revocations,
      memlockLimit: this.#memlock,
    };
  }

  /**
   * Deregisters every registration (in-use ones too: their Registrations
   * become inert) and, if the cache opened its monitor, closes it. Idempotent.
   * In a fork()ed child nothing is deregistered (it all belongs to the parent).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#seen = NaN; // every later acquire/checkGeneration reaches #sync, which reports the closure
    this.#stopWaking();
    const forked = this.#orphaned || this.#pidCell[0] !== this.#pid;
    if (!forked) {
      for (const index of this.#indexes.values()) {
        for (const e of index.toArray()) {
          e.valid = false;
          this.#unwatch(e);
          this.#dead.push(e);
        }
      }
      for (const e of this.#limbo) this.#dead.push(e);
      for (const e of this.#byId.values()) this.#unwatch(e);
      this.#flushDead();
    }
    this.#monitor.detach(this.#client);
    this.#forget();
    if (this.#ownsMonitor) this.#monitor.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** @internal called by Registration.release */
  releaseEntry(e: Entry): void {
    if (--e.refs !== 0) return;
    this.#inUse--;
    if (this.#closed) return;
    if (e.valid) {
      // The LRU is refreshed lazily: a release only stamps the entry; an entry
      // found at the LRU's old end with a newer stamp goes back to the recent end
      // (see #settle). Only an entry not in the LRU is inserted here.
      e.stamp = ++this.#tick;
      if (!e.inLru) {
        e.inLru = true;
        e.lruStamp = e.stamp;
        this.#lru.set(e.id, e); // may push the least recent out
        this.#settle();
      }
      if (this.#bytesPinned > this.#maxBytes || this.#bytesPinned > this.#memlock) this.#trim(0);
    } else if (this.#limbo.delete(e)) {
      this.#dead.push(e);
      this.#flushDead();
    }
  }

  // ---- slow paths ----

  #learn(view: CacheableMemory, buf: object): BufferInfo {
    const known = this.#bufs.get(buf);
    if (known !== undefined) return known;
    const address = ArrayBuffer.isView(view)
      ? native.addressOf(view) - BigInt(view.byteOffset)
      : native.addressOf(new Uint8Array(buf as ArrayBuffer));
    const info: BufferInfo = { base: Number(address), entry: null, off: 0, len: 0, access: 0, addr: 0n };
    // A hidden property makes the next lookup one inline-cached load instead of a WeakMap probe.
    if (Object.isExtensible(buf)) Object.defineProperty(buf, this.#tag, { value: info, writable: true });
    else this.#bufs.set(buf, info);
    return info;
  }

  #lookup(info: BufferInfo, off: number, len: number, access: number): Entry {
    checkAccess(access);
    const addr = info.base + off;
    const start = Math.floor(addr / PAGE) * PAGE;
    const end = Math.ceil((addr + len) / PAGE) * PAGE;
    let entry = this.#indexes.get(access)?.findContaining(start, end);
    if (entry !== undefined) {
      this.#hits++;
      if (entry.refs++ === 0) this.#inUse++;
    } else {
      const ghost = this.#ghosts.findContaining(start, end);
      if (ghost !== undefined && ghost.access === access) this.#staleAvoided++;
      entry = this.#miss(start, end, access);
      this.#misses++;
    }
    info.entry = entry;
    info.off = off;
    info.len = len;
    info.access = access;
    info.addr = BigInt(addr);
    return entry;
  }

  /** Watch, register, re-check the generation, publish. Returns the entry with one reference taken. */
  #miss(start: number, end: number, access: number): Entry {
    const length = end - start;
    for (let attempt = 0; ; attempt++) {
      // Ids are the monitor's cookies: distinct across every cache sharing it.
      const entry = new Entry(this.#monitor.nextCookie(), start, end, access);
      if (this.#monitor.verified) {
        this.#watch(entry);
        entry.watched = true;
        this.#byId.set(entry.id, entry);
      }
      this.#trim(length);
      try {
        entry.mr = this.#register(entry);
      } catch (err) {
        this.#unwatch(entry);
        throw err;
      }
      entry.lkey = entry.mr.lkey;
      entry.rkey = entry.mr.rkey;
      this.#bytesPinned += length;
      this.#live++;
      // Anything that changed the range after watch() has moved the generation by now.
      if (this.#gen[0] !== this.#seen) this.#sync();
      if (entry.watched || !this.#monitor.verified) {
        entry.refs = 1;
        this.#inUse++;
        entry.valid = true;
        this.#indexFor(access).insert(entry);
        this.#entries++;
        if (this.#entries > this.#maxEntries) this.#trim(0);
        return entry;
      }
      // Invalidated while being registered: the registration may hold old pages.
      this.#dead.push(entry);
      this.#flushDead();
      this.#raceRetries++;
      if (attempt >= RACE_RETRIES) {
        throw new RdmaError(EAGAIN, 'acquire', 'the memory kept changing its mapping while being registered');
      }
    }
  }

  /**
   * Watches the entry's range. At the module's registration limit (ENOSPC:
   * per user, max_user_registrations, or per file, max_registrations) unused
   * entries are evicted, giving their watches back, and it tries once more.
   */
  #watch(entry: Entry): void {
    try {
      this.#monitor.watchFor(this.#client, entry.start, entry.end, entry.id);
      return;
    } catch (err) {
      if ((err as { code?: unknown })?.code !== 'ENOSPC') throw err;
    }
    const evicted = this.#lru.size - 1;
    this.#trim(Infinity);
    this.#flushDead();
    this.#watchLimitRetries++;
    try {
      this.#monitor.watchFor(this.#client, entry.start, entry.end, entry.id);
    } catch (err) {
      if ((err as { code?: unknown })?.code !== 'ENOSPC') throw err;
      throw new RdmaError(
        ENOSPC,
        'watch',
        `/dev/ummunotify refused a registration even after evicting ${evicted} unused entries; ` +
          `${this.#byId.size} watches stay in use by this cache. The module limits registrations per user ` +
          `(all processes of this user together) and per file: raise ` +
          `/sys/module/ummunotify/parameters/max_user_registrations (or max_registrations) as root, ` +
          `or release registrations`,
      );
    }
  }

  #register(entry: Entry) {
    const address = BigInt(entry.start);
    try {
      return this.#registrar.registerRange(address, entry.length, entry.access);
    } catch (err) {
      if ((err as { code?: unknown })?.code !== 'ENOMEM') throw err;
    }
    const evicted = this.#lru.size - 1;
    this.#trim(Infinity);
    this.#enomemRetries++;
    try {
      return this.#registrar.registerRange(address, entry.length, entry.access);
    } catch (err) {
      if ((err as { code?: unknown })?.code !== 'ENOMEM') throw err;
      throw new RdmaError(
        ENOMEM,
        'registerRange',
        `pinning ${entry.length} bytes failed even after evicting ${evicted} unused registrations; ` +
          `${this.#bytesPinned} bytes stay pinned by ${this.#inUse} registrations in use ` +
          `(RLIMIT_MEMLOCK ${this.#memlock}): raise \`ulimit -l\` or release registrations`,
      );
    }
  }

  /** Evicts unused entries until `incoming` more bytes (Infinity: all) fit the limits. */
  #trim(incoming: number): void {
    const byteCap = Math.min(this.#maxBytes, this.#memlock);
    while (
      this.#lru.size > 1 &&
      (this.#entries > this.#maxEntries || this.#bytesPinned + incoming > byteCap || incoming === Infinity)
    ) {
      this.#lru.pop(); // its dispose evicts the entry if unused; an in-use one just leaves the LRU
      this.#settle();
    }
  }

  /** After lru-cache calls: second chances for entries used since they were queued, then deregistrations. */
  #settle(): void {
    const promote = this.#promote;
    // Each set() may push another item out, queueing more work here.
    while (this.#sentinelOut || promote.length !== 0) {
      if (this.#sentinelOut) {
        this.#sentinelOut = false;
        this.#lru.set(0, this.#sentinel);
        continue;
      }
      const e = promote.pop()!;
      if (e.inLru || !e.valid) continue;
      e.inLru = true;
      e.lruStamp = e.stamp;
      this.#lru.set(e.id, e);
    }
    if (this.#dead.length !== 0) this.#flushDead();
  }

  #evict(e: Entry): void {
    this.#unindex(e);
    this.#unwatch(e);
    this.#evictions++;
    this.#dead.push(e);
  }

  #sync(): void {
    if (this.#closed) throw new ClosedError('RegistrationCache');
    if (this.#pidCell[0] !== this.#pid) this.#forked();
    // Routes every report to its cache (this one's to #onReport). If the
    // drain failed, each cache's #lost ran; lastSeen stayed behind, so the
    // next check drains again.
    this.#monitor.dispatch();
    this.#seen = this.#monitor.lastSeen;
    this.#drains++;
    this.#flushDead();
  }

  /** The monitor lost reports it had consumed: any entry may be stale. */
  #lost(): void {
    this.#drainFailures++;
    for (const e of [...this.#byId.values()]) this.#invalidate(e);
  }

  /** One report of a drain: its own entry, and every entry overlapping what changed, leave the index. */
  readonly #onReport = (cookie: number, start: number, end: number): void => {
    const own = this.#byId.get(cookie);
    if (own !== undefined) this.#invalidate(own);
    const hit = this.#scratch;
    for (const index of this.#indexes.values()) index.collectOverlapping(start, end, hit);
    for (const e of hit) this.#invalidate(e);
    hit.length = 0;
  };

  #invalidate(e: Entry): void {
    if (!e.watched && !e.valid) return; // already dropped
    this.#invalidations++;
    this.#unwatch(e);
    this.#remember(e);
    if (!e.valid) return; // a miss in progress: it registers again
    this.#unindex(e);
    if (e.revocable !== null) {
      // Exposed to a peer: revoke now rather than wait for a release that
      // may never come, so the peer's rkey stops reaching the old pages.
      for (const hold of e.revocable) {
        hold.revoke();
        e.refs--;
        this.#revocations++;
      }
      e.revocable = null;
      if (e.refs === 0) this.#inUse--;
    }
    if (e.refs === 0) {
      if (e.inLru) this.#lru.delete(e.id);
      this.#dead.push(e);
    } else {
      if (e.inLru) this.#lru.delete(e.id);
      this.#limbo.add(e);
    }
  }

  #unindex(e: Entry): void {
    e.valid = false;
    this.#indexes.get(e.access)!.remove(e);
    this.#entries--;
  }

  #unwatch(e: Entry): void {
    if (!e.watched) return;
    e.watched = false;
    this.#byId.delete(e.id);
    try {
      this.#monitor.unwatchFor(e.id);
    } catch {
      // The monitor may already be closed; the watch dies with it.
    }
  }

  /** Deregisters what was dropped, after every structure is consistent again. */
  #flushDead(): void {
    const dead = this.#dead;
    while (dead.length !== 0) {
      const e = dead.pop()!;
      const mr = e.mr;
      if (mr === null) continue;
      e.mr = null;
      this.#bytesPinned -= e.length;
      this.#live--;
      try {
        mr.deregister();
      } catch {
        // A deregistration failure leaves nothing for the cache to do.
      }
    }
  }

  #remember(e: Entry): void {
    const g = new Ghost(e.id, e.start, e.end, e.access);
    this.#ghosts.insert(g);
    this.#ghostQueue.push(g);
    if (this.#ghostQueue.length > GHOSTS) this.#ghosts.remove(this.#ghostQueue.shift()!);
  }

  #indexFor(access: number): IntervalIndex<Entry> {
    let index = this.#indexes.get(access);
    if (index === undefined) {
      index = new IntervalIndex<Entry>();
      this.#indexes.set(access, index);
    }
    return index;
  }

  /** In a fork()ed child: drop the parent's entries without deregistering, then refuse. */
  #forked(): never {
    if (!this.#orphaned) {
      this.#orphaned = true;
      this.#forget();
    }
    throw new RdmaError(
      EIO,
      'acquire',
      `this RegistrationCache belongs to process ${this.#pid}; a fork()ed child must open its own device and cache`,
    );
  }

  #forget(): void {
    for (const index of this.#indexes.values()) index.clear();
    this.#indexes.clear();
    this.#lru.clear();
    this.#byId.clear();
    this.#limbo.clear();
    this.#dead.length = 0;
    this.#promote.length = 0;
    this.#bufs = new WeakMap(); // tagged buffers keep stale infos: their entries are no longer valid
    this.#entries = 0;
  }
}

function checkAccess(access: number): void {
  if (typeof access !== 'number') throw new TypeError('access must be a number (ibv_access_flags)');
  if (!Number.isInteger(access) || access < 0 || access > 0x7fffffff) {
    throw new RangeError('access must be a non-negative 32-bit integer');
  }
}
