import { existsSync } from 'node:fs';
import { native, type NativeMonitor } from '../native.js';
import { ClosedError, RdmaError } from '../errors.js';

/** Which kernel mechanism a MemoryMonitor uses. */
export type MonitorBackend = 'ummunotify' | 'userfaultfd' | 'none';

/** Options of {@link MemoryMonitor.open}. */
export interface MemoryMonitorOptions {
  /**
   * 'ummunotify' (the kernel module), 'userfaultfd' (no module needed, see
   * native/monitor/userfaultfd.cc for its limits), 'auto' (the module if
   * /dev/ummunotify exists, else userfaultfd) or 'none' (no monitoring: a cache
   * over it cannot tell when memory is unmapped; every hit counts as unverified).
   * Default 'auto'.
   */
  backend?: MonitorBackend | 'auto';
  /**
   * ummunotify only: ask for mapping-only filtering, so fork(), mprotect(),
   * NUMA hinting and the kernel's huge-page check when a munmap cuts a VMA
   * (which changes nothing near the cut) do not flush the cache. Default true.
   */
  mappingOnly?: boolean;
  /**
   * ummunotify only: ask the module to drop a cache's watch by itself when it
   * reports it (UMMUNOTIFY_FEATURE_ONESHOT), so an invalidated cache entry
   * costs no UNREGISTER. A module without the feature is used as before.
   * Watches made with {@link MemoryMonitor.watch} always stay until
   * unwatched. Default true; false is for comparisons.
   */
  oneshot?: boolean;
  /** userfaultfd only, for tests: force 'wp' or 'missing' registration mode. */
  userfaultfdMode?: 'auto' | 'wp' | 'missing';
}

/**
 * One invalidation report: the watch `cookie` and the part that changed.
 * `hint` true: [start, end) is exactly what was invalidated; false: the watched
 * range was hit more than once since the last drain and [start, end) is all of it.
 */
export interface MonitorEvent {
  cookie: bigint;
  start: bigint;
  end: bigint;
  hint: boolean;
}

const INSTALL_HINT =
  'install the ummunotify kernel module (`make -C kmod && sudo insmod kmod/ummunotify.ko`, ' +
  'or `sudo dkms install kmod/` for a persistent install), or allow userfaultfd ' +
  '(`sudo sysctl vm.unprivileged_userfaultfd=1`); MemoryMonitor.open({ backend: "none" }) ' +
  'runs without protection against stale registrations';

/** The layout of native drainInto() (native/monitor/common.h). */
const HEADER_WORDS = 2;
const RECORD_WORDS = 4;
const DRAIN_MORE = 0;
const DRAIN_COMPLETE = 1;
const DRAIN_FAILED = 3;
/** Flags word of a report (native/monitor/common.h ReportFlags). */
const REPORT_EXACT = 1;
const REPORT_REMOVED = 2;
/** Reports per drainInto() call. */
const SLICE = 64;

/**
 * A drain that could not finish (read() failed part way, e.g. ENOMEM): the
 * reports it did take were handed over (`events` for {@link MemoryMonitor.drain}),
 * but others may have been consumed and lost. Treat every watch as
 * invalidated: the RegistrationCache does so by itself.
 */
export class DrainIncompleteError extends RdmaError {
  /** The reports taken before the failure ({@link MemoryMonitor.drain} only). */
  events: MonitorEvent[] = [];
  constructor(errno: number, backend: string) {
    super(errno, 'read', `${backend} drain incomplete: treat every watched range as invalidated`);
    this.name = 'DrainIncompleteError';
  }
}

/**
 * A user of a shared monitor (a RegistrationCache): it gets the reports of
 * the cookies it watched through {@link MemoryMonitor.watchFor}, whoever
 * drains. Called during a drain: record, never deregister (defer that).
 * @internal
 */
export interface MonitorClient {
  /**
   * The watch `cookie` saw an invalidation. `exact` true: [start, end) is
   * exactly the part that changed (clipped to the watch); false: the watch
   * was hit more than once since the last drain and [start, end) is all of
   * it. Every watch overlapping a change gets its own report, so a client
   * whose objects each have their own watch needs no search by address.
   * After the report the watch may already be gone (the backend removed
   * it); {@link MemoryMonitor.unwatchFor} is still allowed and then costs
   * nothing.
   */
  onReport(cookie: number, start: number, end: number, exact: boolean): void;
  /** A drain could not finish: every range this client watches may have changed. */
  onLost(): void;
}

/** Stand-in for 'none': a counter that never moves and watches that never fire. */
class NoMonitor implements NativeMonitor {
  readonly counter = new ArrayBuffer(8);
  watch(): void {}
  unwatch(): void {}
  drainInto(out: BigUint64Array): number {
    out[0] = BigInt(DRAIN_COMPLETE);
    out[1] = 0n;
    return 0;
  }
  close(): void {}
}

/**
 * Tells when memory the process registered with the NIC may have changed its
 * VA->page mapping (munmap, mremap, madvise(DONTNEED), brk shrink, MAP_FIXED...).
 *
 * Backends:
 * - `ummunotify`: the kernel module (kmod/). Sees every path, including shmdt()
 *   and process-wide changes from any thread; with mapping-only filtering
 *   (default) fork(), mprotect(), NUMA hinting and invalidations the kernel
 *   announces without changing a page table entry do not count as changes.
 * - `userfaultfd`: no module needed. A native thread registers each watched
 *   range with a userfaultfd (write-protect mode, which never faults; MISSING
 *   mode where WP is unavailable, with the thread filling missing pages with
 *   zeros as the kernel would) and turns UNMAP/REMOVE/REMAP events into the
 *   counter. It sees munmap, mremap, madvise(DONTNEED/REMOVE), MAP_FIXED over a
 *   range and brk shrink. It cannot see shmdt() and cannot watch System V shared
 *   memory, file-backed mappings other than shmem/hugetlbfs, device mappings or
 *   memory another userfaultfd owns (watch() throws); each watched range may
 *   split a VMA (mind vm.max_map_count); an unmapping thread waits for the
 *   monitor's thread to read the event. Privileges: vm.unprivileged_userfaultfd=1
 *   or CAP_SYS_PTRACE (root), else read/write access to /dev/userfaultfd, else
 *   (kernel >= 5.11) a user-mode-only descriptor that supports WP mode only.
 * - `none`: nothing is watched; a cache over it counts every hit as unverified.
 *
 * The fast question "did anything change?" is {@link changed}: one typed-array
 * load from a page the kernel (ummunotify) or the monitor's native thread
 * (userfaultfd) writes, compared with the value of the last drain. Only the low
 * 32 bits of the 64-bit counter are read: a false "unchanged" would need exactly
 * 2^32 invalidations between two checks.
 */
export class MemoryMonitor {
  /** The mechanism in use. */
  readonly backend: MonitorBackend;
  /** True unless the backend is 'none'. */
  readonly verified: boolean;
  /**
   * The shared counter page as 32-bit words; `[0]` is the low half of the
   * generation. Read-only: for ummunotify it is the kernel's page, mapped
   * read-only, and a write would crash the process.
   */
  readonly counter: Uint32Array;
  /** Low 32 bits of the counter as of the last complete drain. */
  lastSeen = 0;
  #native: NativeMonitor;
  #closed = false;
  /** Where drainInto() writes; #halves reads its words as 32-bit halves, with no bigint made. */
  readonly #out = new BigUint64Array(HEADER_WORDS + RECORD_WORDS * SLICE);
  readonly #halves = new Uint32Array(this.#out.buffer);
  readonly #pidCell = new Int32Array(native.pidCell);
  readonly #pid = this.#pidCell[0]!;
  /**
   * Shared use: who watches each cookie (a cookie leaves when it is
   * unwatched or when the backend reports it removed), and the next cookie
   * to hand out.
   */
  readonly #routes = new Map<number, MonitorClient>();
  readonly #clients = new Set<MonitorClient>();
  #nextCookie = 1;
  /** REGISTER flags of watchFor: UMMUNOTIFY_REGISTER_ONESHOT when the module granted it, else 0. */
  readonly #watchForFlags: number;
  /** What watchFor/unwatchFor asked of the backend (see {@link counts}). */
  #watches = 0;
  #unwatches = 0;
  #removed = 0;
  readonly #route = (cookie: number, start: number, end: number, flags: number): void => {
    const client = this.#routes.get(cookie);
    if (client === undefined) return;
    if ((flags & REPORT_REMOVED) !== 0) {
      // The kernel dropped the watch as it reported it: nothing to unwatch.
      this.#routes.delete(cookie);
      this.#removed++;
    }
    client.onReport(cookie, start, end, (flags & REPORT_EXACT) !== 0);
  };
  /** Callbacks run while reports wait (see onChange). */
  readonly #wakers = new Set<() => void>();
  readonly #wake = (): void => {
    for (const fn of [...this.#wakers]) fn();
  };

  private constructor(backend: MonitorBackend, impl: NativeMonitor, watchForFlags = 0) {
    this.backend = backend;
    this.verified = backend !== 'none';
    this.#native = impl;
    this.#watchForFlags = watchForFlags;
    this.counter = new Uint32Array(impl.counter, 0, 2);
    this.lastSeen = this.counter[0]!;
  }

  /**
   * Opens a monitor. 'auto' prefers the kernel module and falls back to
   * userfaultfd; if neither works it throws an error that says how to install
   * the module. 'none' is used only when asked for by name.
   */
  static open(options: MemoryMonitorOptions = {}): MemoryMonitor {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    const backend = options.backend ?? 'auto';
    const mappingOnly = options.mappingOnly ?? true;
    const oneshot = options.oneshot ?? true;
    switch (backend) {
      case 'ummunotify':
        return MemoryMonitor.#ummunotify(mappingOnly, oneshot);
      case 'userfaultfd':
        return new MemoryMonitor('userfaultfd', new native.UserfaultfdMonitor(options.userfaultfdMode ?? 'auto'));
      case 'none':
        return new MemoryMonitor('none', new NoMonitor());
      case 'auto': {
        const failures: string[] = [];
        if (existsSync('/dev/ummunotify')) {
          try {
            return MemoryMonitor.#ummunotify(mappingOnly, oneshot);
          } catch (err) {
            failures.push(`ummunotify: ${(err as Error).message}`);
          }
        } else {
          failures.push('ummunotify: /dev/ummunotify does not exist (module not loaded)');
        }
        try {
          return new MemoryMonitor('userfaultfd', new native.UserfaultfdMonitor(options.userfaultfdMode ?? 'auto'));
        } catch (err) {
          failures.push(`userfaultfd: ${(err as Error).message}`);
        }
        throw new Error(`MemoryMonitor: no memory monitor available (${failures.join('; ')}). To fix: ${INSTALL_HINT}`);
      }
      default:
        throw new RangeError(`backend must be 'ummunotify', 'userfaultfd', 'auto' or 'none', not ${String(backend)}`);
    }
  }

  static #ummunotify(mappingOnly: boolean, oneshot: boolean): MemoryMonitor {
    let impl;
    try {
      // LIMIT: the module's registration limits fail with ENOSPC (V2 says
      // ENOMEM, indistinguishable from running out of memory). ONESHOT:
      // watchFor's watches go away by themselves when reported; a module
      // without it grants the rest, and then watchFor unwatches as in V2.
      impl = new native.UmmunotifyMonitor(
        (mappingOnly ? native.UMMUNOTIFY_FEATURE_MAPPING_ONLY : 0) |
          native.UMMUNOTIFY_FEATURE_LIMIT |
          (oneshot ? native.UMMUNOTIFY_FEATURE_ONESHOT : 0),
      );
    } catch (err) {
      if (err instanceof RdmaError && err.code === 'ENOENT') {
        err.message += `: the ummunotify module is not loaded; ${INSTALL_HINT}`;
      }
      throw err;
    }
    if (mappingOnly && !(impl.features & native.UMMUNOTIFY_FEATURE_MAPPING_ONLY)) {
      impl.close();
      throw new RdmaError(95 /* EOPNOTSUPP */, 'ioctl', 'the loaded ummunotify module lacks mapping-only filtering');
    }
    const granted = (impl.features & native.UMMUNOTIFY_FEATURE_ONESHOT) !== 0;
    return new MemoryMonitor('ummunotify', impl, granted ? native.UMMUNOTIFY_REGISTER_ONESHOT : 0);
  }

  /**
   * Whether watches made through {@link watchFor} are removed by the backend
   * as it reports them (the module's ONESHOT feature). @internal
   */
  get oneshot(): boolean {
    return this.#watchForFlags !== 0;
  }

  /**
   * Backend calls made for {@link watchFor} clients: watches made, unwatches
   * issued (system calls), and watches the backend removed by itself as it
   * reported them (no unwatch needed). @internal
   */
  counts(): { watches: number; unwatches: number; removedByBackend: number } {
    return { watches: this.#watches, unwatches: this.#unwatches, removedByBackend: this.#removed };
  }

  /** Low 32 bits of the generation counter (one load, no system call). */
  get generation(): number {
    return this.counter[0]!;
  }

  /** True when something was invalidated since the last drain (one load and a compare). */
  get changed(): boolean {
    return this.counter[0] !== this.lastSeen;
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Starts reporting invalidations of [address, address + length) under
   * `cookie` (distinct per live watch). Reports begin before this returns.
   */
  watch(address: bigint, length: number, cookie: bigint): void {
    this.#live();
    if (typeof address !== 'bigint') throw new TypeError('address must be a bigint');
    if (typeof cookie !== 'bigint') throw new TypeError('cookie must be a bigint');
    if (!Number.isSafeInteger(length) || length <= 0) throw new RangeError('length must be a positive integer');
    this.#native.watch(address, address + BigInt(length), cookie);
  }

  /**
   * With `on`, calls `fn` on the event loop whenever reports are waiting
   * (the monitor's file polls readable) until it is removed with `on` false;
   * several callers may listen. The poll does not keep the process alive.
   * Returns false if this backend cannot notify (userfaultfd, none): then
   * changes are seen at the next generation check only. Some listener must
   * drain, or the next turn of the loop calls them again.
   * @internal
   */
  onChange(fn: () => void, on: boolean): boolean {
    this.#live();
    if (typeof this.#native.onReadable !== 'function') return false;
    const had = this.#wakers.size !== 0;
    if (on) this.#wakers.add(fn);
    else this.#wakers.delete(fn);
    const has = this.#wakers.size !== 0;
    if (has !== had) this.#native.onReadable(has ? this.#wake : null);
    return true;
  }

  /**
   * Shared use by several caches (one mmu notifier per process, however many
   * caches or devices): a client attaches, watches under cookies the monitor
   * hands out, and {@link dispatch} routes each report to the client whose
   * cookie it is. @internal
   */
  attach(client: MonitorClient): void {
    this.#live();
    this.#clients.add(client);
  }

  /** The client's cookies must be unwatched first. @internal */
  detach(client: MonitorClient): void {
    this.#clients.delete(client);
  }

  /** A fresh cookie, distinct from every other client's (below 2^53). @internal */
  nextCookie(): number {
    return this.#nextCookie++;
  }

  /**
   * {@link watchNumbers} on behalf of `client`, which will get the reports.
   * With the module's ONESHOT feature the watch ends with its first report.
   * @internal
   */
  watchFor(client: MonitorClient, start: number, end: number, cookie: number): void {
    this.#live();
    this.#native.watch(start, end, cookie, this.#watchForFlags);
    this.#routes.set(cookie, client);
    this.#watches++;
  }

  /**
   * Ends a {@link watchFor}: no report for `cookie` reaches its client after
   * this. Costs nothing when the backend already removed the watch as it
   * reported it. @internal
   */
  unwatchFor(cookie: number): void {
    if (!this.#routes.delete(cookie)) return; // removed with its report, or never watched
    this.#live();
    this.#unwatches++;
    try {
      this.#native.unwatch(cookie);
    } catch (err) {
      // ONESHOT: the kernel removed it with a report that was read but not
      // routed (a failed drain, or drain() called on a shared monitor).
      if (this.#watchForFlags === 0 || (err as { code?: unknown })?.code !== 'ENOENT') throw err;
    }
  }

  /**
   * Drains and hands each report to the client that watches its cookie. If
   * the drain cannot finish, every attached client is told (onLost) and
   * lastSeen stays behind; returns false then. @internal
   */
  dispatch(): boolean {
    this.#live();
    try {
      this.#drainRecords(this.#route);
      return true;
    } catch (err) {
      if (!(err instanceof DrainIncompleteError)) throw err;
      for (const c of [...this.#clients]) c.onLost();
      return false;
    }
  }

  /**
   * Stops reporting `cookie`; a report not yet drained is discarded. An
   * unknown cookie throws an RdmaError (code 'ENOENT' from a module with the
   * ONESHOT feature, 'EINVAL' from one without).
   */
  unwatch(cookie: bigint): void {
    this.#live();
    if (typeof cookie !== 'bigint') throw new TypeError('cookie must be a bigint');
    this.#native.unwatch(cookie);
  }

  /**
   * Takes every pending report (each watch at most once) and brings
   * {@link lastSeen} up to the counter they account for.
   */
  drain(): MonitorEvent[] {
    this.#live();
    const events: MonitorEvent[] = [];
    const out = this.#out;
    try {
      this.#drainSlices((w) => {
        events.push({ cookie: out[w]!, start: out[w + 1]!, end: out[w + 2]!, hint: (out[w + 3]! & 1n) !== 0n });
      });
    } catch (err) {
      if (err instanceof DrainIncompleteError) err.events = events;
      throw err;
    }
    return events;
  }

  /**
   * What {@link drain} does, for callers whose cookies and addresses are below
   * 2^53 (the cache): each report goes to `onReport` as numbers, and no object
   * or bigint is made. An end above 2^53 arrives rounded up, never down.
   * `exact` is {@link MonitorEvent.hint}.
   * @internal
   */
  drainNumbers(onReport: (cookie: number, start: number, end: number, exact: boolean) => void): void {
    this.#live();
    this.#drainRecords((cookie, start, end, flags) => onReport(cookie, start, end, (flags & REPORT_EXACT) !== 0));
  }

  /** Each report as numbers, with its flags word (REPORT_*). */
  #drainRecords(each: (cookie: number, start: number, end: number, flags: number) => void): void {
    const h = this.#halves;
    this.#drainSlices((w) => {
      const i = 2 * w; // little-endian: low half first
      each(h[i + 1]! * 2 ** 32 + h[i]!, h[i + 3]! * 2 ** 32 + h[i + 2]!, h[i + 5]! * 2 ** 32 + h[i + 4]!, h[i + 6]!);
    });
  }

  /** {@link watch} of [start, end) (not a length) with numbers below 2^53, unchecked: for the cache. @internal */
  watchNumbers(start: number, end: number, cookie: number): void {
    this.#live();
    this.#native.watch(start, end, cookie);
  }

  /** {@link unwatch} with a number cookie, unchecked: for the cache. @internal */
  unwatchNumber(cookie: number): void {
    this.#live();
    this.#native.unwatch(cookie);
  }

  #drainSlices(each: (word: number) => void): void {
    const out = this.#out;
    const h = this.#halves;
    for (;;) {
      const n = this.#native.drainInto(out);
      for (let k = 0, w = HEADER_WORDS; k < n; k++, w += RECORD_WORDS) each(w);
      const status = h[0]!;
      if (status === DRAIN_MORE) continue;
      if (status === DRAIN_COMPLETE) this.lastSeen = h[2]!;
      // lastSeen stays behind, so the next generation check drains again.
      if (status === DRAIN_FAILED) throw new DrainIncompleteError(h[2]!, this.backend);
      return;
    }
  }

  /**
   * Releases the kernel resources. Idempotent. In a fork()ed child it only
   * drops the child's copies of the descriptors; the parent's monitor goes on.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #live(): void {
    if (this.#closed) throw new ClosedError('MemoryMonitor');
    if (this.#pidCell[0] !== this.#pid) {
      throw new RdmaError(5 /* EIO */, this.backend, `the monitor belongs to process ${this.#pid} (used after fork)`);
    }
  }
}
