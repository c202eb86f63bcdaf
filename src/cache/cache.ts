import { ClosedError, RdmaError } from '../errors.js';
import { MemoryMonitor, type MonitorClient } from '../monitor/monitor.js';
import { native } from '../native.js';
import { BufferMemos, type BufferMemo } from './buffer-memo.js';
import { Entry, type Registrar } from './entry.js';
import { IdleSet } from './idle-set.js';
import { IntervalIndex } from './interval-index.js';
import { checkAccess, parseOptions, type RegistrationCacheOptions } from './options.js';
import { Registration, type Releaser } from './registration.js';
import { StaleRanges } from './stale-ranges.js';
import { COUNT_TAG, ENTRY_TAG, SPAN_TAG, ViewSpan, rememberView } from './view-memo.js';
import type { CacheStats } from './stats.js';

const PAGE = native.pageSize;
/** Invalidated ranges remembered for the staleAvoided count. */
const STALE_RANGES = 1024;
const RACE_RETRIES = 3;
const EIO = 5;
const EAGAIN = 11;
const ENOMEM = 12;
const ENOSPC = 28;

/** Memory the cache accepts: any view of an ArrayBuffer or SharedArrayBuffer, or the buffer itself. */
export type CacheableMemory = ArrayBufferView | ArrayBuffer | SharedArrayBuffer;

/**
 * A cache of RDMA memory registrations keyed by page-rounded address range
 * and access flags, kept correct by a {@link MemoryMonitor}.
 *
 * - `acquire(view)` returns a {@link Registration} whose lkey/rkey cover the
 *   view. Hits come in two kinds: fast, from the memo kept on the view's
 *   ArrayBuffer (the entry that served this buffer at this byteOffset, see
 *   BufferMemo), or slow, from a search of the interval index (O(log n)).
 *   A miss watches the range, registers it, re-checks the generation, then
 *   publishes it.
 * - Registrations in use are reference counted and never evicted; unused ones
 *   wait in the idle set (an lru-cache, see IdleSet) bounded by maxEntries,
 *   maxBytes and RLIMIT_MEMLOCK, least recently released out first.
 * - Whenever the monitor's generation has moved (checked with one load at
 *   every acquire, or by {@link checkGeneration}), the reports are drained and
 *   every entry overlapping changed memory leaves the index before anything is
 *   looked up: unused ones are deregistered right away (after the drain, not
 *   inside it), in-use ones at their last release.
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
  /** min(maxBytes, RLIMIT_MEMLOCK): one compare at release. */
  readonly #byteCap: number;
  readonly #defaultAccess: number;

  /** One index per access flags value. */
  readonly #indexes = new Map<number, IntervalIndex<Entry>>();
  /** Watched entries by cookie (the monitor's reports name cookies). */
  readonly #byId = new Map<number, Entry>();
  readonly #idle: IdleSet;
  readonly #memos: BufferMemos;
  /** Dropped entries waiting to be deregistered once every structure is consistent. */
  readonly #dead: Entry[] = [];
  /** Invalidated while in use: deregistered at last release (or close). */
  readonly #limbo = new Set<Entry>();
  readonly #stale = new StaleRanges(STALE_RANGES);
  #closed = false;
  #orphaned = false;

  #fastHits = 0;
  #slowHits = 0;
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
    onReport: (cookie) => this.#onReport(cookie),
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
    const o = parseOptions(options);
    const monitor = o.monitor ?? MemoryMonitor.open({ backend: 'auto' });
    if (monitor.closed) throw new ClosedError('MemoryMonitor', 'is closed (RegistrationCache needs an open one)');
    // Several caches may share one monitor: it routes each report to the
    // cache that watched its cookie.
    monitor.attach(this.#client);

    this.#registrar = registrar;
    this.#monitor = monitor;
    this.#ownsMonitor = o.monitor === undefined;
    this.#gen = monitor.counter;
    this.#seen = monitor.lastSeen;
    this.#pid = this.#pidCell[0]!;
    this.#maxEntries = o.maxEntries;
    this.#maxBytes = o.maxBytes;
    this.#memlock = o.memlock;
    this.#byteCap = Math.min(o.maxBytes, o.memlock);
    this.#defaultAccess = o.defaultAccess;
    this.#idle = new IdleSet(o.maxEntries);
    // Several views per entry are common (a symmetric heap); past this many
    // offsets in one buffer its memo starts again.
    this.#memos = new BufferMemos(Math.max(4096, 4 * o.maxEntries));
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
    // Pending reports first: no remembered entry is trusted before they are applied.
    if (this.#gen[0] !== this.#seen) this.#sync();
    if (this.#pidCell[0] !== this.#pid) this.#forked();
    // The same typed array again: what it remembers (see rememberView).
    const v = view as unknown as Record<symbol, unknown>;
    const e = v == null ? undefined : (v[ENTRY_TAG] as Entry | undefined);
    if (e !== undefined && e.owner === this && e.valid && e.access === access && (view as Uint8Array).length === v[COUNT_TAG]) {
      this.#fastHits++;
      if (e.refs++ === 0) this.#inUse++;
      return new Registration(this, e, v[SPAN_TAG] as ViewSpan);
    }
    return this.#acquireSlow(view, access);
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
    const hits = this.#fastHits + this.#slowHits;
    return {
      backend: this.#monitor.backend,
      hits,
      fastHits: this.#fastHits,
      slowHits: this.#slowHits,
      misses: this.#misses,
      evictions: this.#evictions,
      invalidations: this.#invalidations,
      staleAvoided: this.#staleAvoided,
      unverifiedHits: this.#monitor.verified ? 0 : hits,
      bytesPinned: this.#bytesPinned,
      liveRegistrations: this.#live,
      entries: this.#entries,
      inUse: this.#inUse,
      // In use but out of the index: the invalidated ones still held (limbo).
      idle: this.#entries - (this.#inUse - this.#limbo.size),
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
    // Every later acquire/checkGeneration reaches #sync, which reports the closure. -1, not NaN: the
    // counter (a uint32) never equals it, and #seen stays a small integer field for every cache.
    this.#seen = -1;
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
      this.#idle.enter(e);
      // Past a limit only while entries in use held it there (or lru-cache's own bound pushed one out).
      if (this.#entries > this.#maxEntries || this.#bytesPinned > this.#byteCap || this.#idle.overflowed) this.#trim(0);
    } else if (this.#limbo.delete(e)) {
      this.#dead.push(e);
      this.#flushDead();
    }
  }

  // ---- slow paths ----

  /** A view without a usable memo of its own: its buffer's memo, else the index, else a miss. */
  #acquireSlow(view: CacheableMemory, access: number): Registration {
    let buf: ArrayBuffer | SharedArrayBuffer;
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
    const memo = this.#memos.of(view, buf);
    // Tag only a view acquired a second time: tagging costs three defineProperty
    // calls, wasted on views made for one operation (buf.subarray() per send).
    const again = memo.isLastView(off, view);
    let entry = memo.find(off, len, access);
    if (entry !== null) {
      this.#fastHits++;
      if (entry.refs++ === 0) this.#inUse++;
    } else {
      entry = this.#lookup(memo, off, len, access);
    }
    memo.remember(off, entry, view);
    const address = memo.base + off;
    const span = again ? rememberView(view, entry, address, len) : new ViewSpan(BigInt(address), len);
    return new Registration(this, entry, span);
  }

  /** No memo answered: search the index (a slow hit) or register (a miss). Takes a reference. */
  #lookup(memo: BufferMemo, off: number, len: number, access: number): Entry {
    checkAccess(access);
    const addr = memo.base + off;
    const start = Math.floor(addr / PAGE) * PAGE;
    const end = Math.ceil((addr + len) / PAGE) * PAGE;
    let entry = this.#indexes.get(access)?.findContaining(start, end);
    if (entry !== undefined) {
      this.#slowHits++;
      if (entry.refs++ === 0) this.#inUse++;
    } else {
      if (this.#stale.covers(start, end, access)) this.#staleAvoided++;
      entry = this.#miss(start, end, access);
      this.#misses++;
    }
    return entry;
  }

  /** Watch, register, re-check the generation, publish. Returns the entry with one reference taken. */
  #miss(start: number, end: number, access: number): Entry {
    const length = end - start;
    for (let attempt = 0; ; attempt++) {
      // Ids are the monitor's cookies: distinct across every cache sharing it.
      const entry = new Entry(this.#monitor.nextCookie(), start, end, access, this);
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
    const evicted = this.#idle.size;
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
    const evicted = this.#idle.size;
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

  /**
   * Evicts idle entries, least recently released first, until `incoming`
   * more bytes (Infinity: all) fit the limits; then deregisters them.
   */
  #trim(incoming: number): void {
    while (
      this.#entries > this.#maxEntries ||
      this.#bytesPinned + incoming > this.#byteCap ||
      incoming === Infinity ||
      this.#idle.overflowed
    ) {
      const e = this.#idle.takeOldest();
      if (e === undefined) break; // every entry left is in use
      this.#evict(e);
    }
    if (this.#dead.length !== 0) this.#flushDead();
  }

  #evict(e: Entry): void {
    this.#idle.remove(e);
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

  /**
   * One report of a drain: its own entry, and every entry overlapping what
   * changed, leave the index. Runs inside the monitor's drain: it only
   * unlinks; deregistration waits for #flushDead after the drain.
   */
  // A report names one entry: every entry in the index has a watch of its own
  // (made in #miss before the registration, ended only where the entry leaves
  // the index), and both backends report every watch a change overlaps, all
  // of them in the same drain. So no search for other overlapping entries.
  readonly #onReport = (cookie: number): void => {
    const own = this.#byId.get(cookie);
    if (own !== undefined) this.#invalidate(own);
  };

  #invalidate(e: Entry): void {
    if (!e.watched && !e.valid) return; // already dropped
    this.#invalidations++;
    this.#unwatch(e);
    this.#stale.add(e.start, e.end, e.access);
    if (!e.valid) return; // a miss in progress: it registers again
    this.#unindex(e);
    this.#idle.remove(e);
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
    if (e.refs === 0) this.#dead.push(e);
    else this.#limbo.add(e);
  }

  /** Out of the index: no lookup finds it, and no memo trusts it (valid is false). */
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
    this.#idle.clear();
    this.#byId.clear();
    this.#limbo.clear();
    this.#dead.length = 0;
    this.#memos.forget();
    this.#entries = 0;
  }
}
