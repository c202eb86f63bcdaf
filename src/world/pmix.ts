/**
 * PMIx, the process-management interface of job launchers (Open MPI's
 * `mpirun`, `srun --mpi=pmix`, PRRTE): who this process is in its job, and a
 * key-value exchange between its processes (put, commit, fence, get).
 *
 * libpmix is optional: the addon opens libpmix.so.2 on first use
 * (`RDMA_REGCACHE_PMIX_LIBRARY` names another file), so nothing else in the
 * library needs it. A process started by a launcher without a usable libpmix
 * gets a {@link PmixError} with code 'ERR_PMIX_UNAVAILABLE' naming the package.
 */
import { ClosedError, PmixError } from '../errors.js';
import { native, type PmixProcessInfo } from '../native.js';

export type { PmixProcessInfo } from '../native.js';

/** Environment variable naming the PMIx client library to open instead of libpmix.so.2. */
export const PMIX_LIBRARY_ENV = 'RDMA_REGCACHE_PMIX_LIBRARY';
/** The PMIx client library opened by default (Debian's libpmix2, RHEL's pmix). */
export const DEFAULT_PMIX_LIBRARY = 'libpmix.so.2';
const INSTALL_HINT = 'install libpmix2 (Debian/Ubuntu) or pmix (RHEL/Fedora)';

export interface PmixInitOptions {
  /** The PMIx client library to dlopen (default: $RDMA_REGCACHE_PMIX_LIBRARY, else libpmix.so.2). */
  library?: string;
}

export interface PmixWaitOptions {
  /**
   * Give up after this many milliseconds (PMIx's PMIX_TIMEOUT, in whole
   * seconds, rounded up): the promise rejects with a PmixError whose code is
   * 'PMIX_ERR_TIMEOUT'. Default: no limit (a dead PMIx server still ends the
   * wait with an error).
   */
  timeoutMs?: number;
}

const UNAVAILABLE = -47; // PMIX_ERR_NOT_SUPPORTED's number; code 'ERR_PMIX_UNAVAILABLE'

function unavailable(message: string, detail: string): PmixError {
  const err = new PmixError(UNAVAILABLE, 'dlopen', 'ERR_PMIX_UNAVAILABLE', detail);
  err.message = message;
  return err;
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new TypeError(`key must be a string, not ${typeof key}`);
  if (key.length === 0) throw new RangeError('key must not be empty');
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > native.pmix.maxKeyLength)
    throw new RangeError(`key is ${bytes} bytes; PMIx keys are at most ${native.pmix.maxKeyLength} (PMIX_MAX_KEYLEN)`);
  if (key.includes('\0')) throw new TypeError('key must not contain NUL characters');
}

function timeoutSeconds(options: PmixWaitOptions | undefined): number {
  if (options === undefined) return 0;
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const ms = options.timeoutMs;
  if (ms === undefined) return 0;
  if (typeof ms !== 'number') throw new TypeError('timeoutMs must be a number');
  if (!(ms > 0) || !Number.isFinite(ms)) throw new RangeError('timeoutMs must be a positive finite number of milliseconds');
  return Math.ceil(ms / 1000);
}

let current: Pmix | undefined;

// PMIx_Finalize before the process ends, whether or not the user called
// finalize(): Open MPI aborts the whole job when a rank exits without it.
// (The addon's environment cleanup hook is the backstop behind this one.)
function finalizeAtExit(): void {
  try {
    current?.finalize();
  } catch {
    // Exiting anyway; the job's launcher reports what went wrong.
  }
}

/**
 * This process's PMIx session: one per process, made by {@link Pmix.init}.
 *
 *     if (Pmix.detect()) {
 *       using pmix = Pmix.init();
 *       pmix.put('addr', JSON.stringify(myAddress));
 *       pmix.commit();
 *       await pmix.fence(true);
 *       const peer = JSON.parse((await pmix.get(0, 'addr')).toString());
 *     }
 */
export class Pmix implements PmixProcessInfo, Disposable {
  /** The job's namespace. */
  readonly namespace: string;
  /** This process's rank in the job, 0..size-1. */
  readonly rank: number;
  /** Processes in the job (PMIX_JOB_SIZE). */
  readonly size: number;
  /** Rank among this job's processes on this node (PMIX_LOCAL_RANK). */
  readonly localRank: number;
  /** This job's processes on this node (PMIX_LOCAL_SIZE). */
  readonly localSize: number;
  /** Rank on this node across every job (PMIX_NODE_RANK), when the launcher gives it. */
  readonly nodeRank?: number;
  /** This node's name as the launcher knows it (PMIX_HOSTNAME). */
  readonly hostname: string;
  /** The libpmix in use: its path as opened and PMIx_Get_version(). */
  readonly library: { path: string; version: string };
  #closed = false;

  private constructor(info: PmixProcessInfo, library: { path: string; version: string }) {
    this.namespace = info.namespace;
    this.rank = info.rank;
    this.size = info.size;
    this.localRank = info.localRank;
    this.localSize = info.localSize;
    if (info.nodeRank !== undefined) this.nodeRank = info.nodeRank;
    this.hostname = info.hostname;
    this.library = library;
  }

  /**
   * Whether a PMIx launcher started this process: it sets PMIX_NAMESPACE and
   * PMIX_RANK, or PMIX_SERVER_URI* for its server. No library is loaded.
   */
  static detect(env: NodeJS.ProcessEnv = process.env): boolean {
    if (env.PMIX_NAMESPACE && env.PMIX_RANK !== undefined && env.PMIX_RANK !== '') return true;
    return Object.keys(env).some((k) => k.startsWith('PMIX_SERVER_URI') && env[k]);
  }

  /**
   * Opens libpmix and calls PMIx_Init (connects to the launcher's local PMIx
   * server). While a session is open, returns it again. Throws a
   * {@link PmixError}: 'ERR_PMIX_UNAVAILABLE' without a usable libpmix (or an
   * addon built without pmix.h), else the status of the failing PMIx call.
   */
  static init(options: PmixInitOptions = {}): Pmix {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    if (options.library !== undefined && (typeof options.library !== 'string' || options.library === ''))
      throw new TypeError('options.library must be a non-empty string');
    if (current && !current.#closed) return current;

    const launched = Pmix.detect()
      ? `this process was started by a PMIx launcher (${process.env.PMIX_RANK !== undefined ? `PMIX_RANK=${process.env.PMIX_RANK}` : 'PMIX_SERVER_URI* is set'}) but `
      : '';
    const pmix = native.pmix;
    if (!pmix.built) {
      const r = pmix.load('');
      const why = r.ok ? '' : r.error;
      throw unavailable(
        `PMIx is unavailable: ${launched}rdma-regcache was built without PMIx (pmix.h was not found at build time): ` +
          `install libpmix-dev (Debian/Ubuntu) or pmix-devel (RHEL/Fedora), then rebuild (npm rebuild rdma-regcache); ` +
          `running needs libpmix2 (Debian/Ubuntu) or pmix (RHEL/Fedora)`,
        why,
      );
    }
    const fromEnv = process.env[PMIX_LIBRARY_ENV];
    const path = options.library ?? (fromEnv ? fromEnv : DEFAULT_PMIX_LIBRARY);
    const loaded = pmix.load(path);
    if (!loaded.ok) {
      const source = options.library !== undefined ? ' (options.library)' : fromEnv ? ` (from $${PMIX_LIBRARY_ENV})` : '';
      throw unavailable(
        `PMIx is unavailable: ${launched}the PMIx client library ${path}${source} cannot be loaded: ${loaded.error}; ${INSTALL_HINT}`,
        loaded.error,
      );
    }
    let info: PmixProcessInfo;
    try {
      info = pmix.init();
    } catch (err) {
      if (err instanceof PmixError && !launched)
        err.message += ' (no PMIx launcher started this process: PMIX_RANK and PMIX_SERVER_URI* are unset; Pmix.detect() is false)';
      throw err;
    }
    current = new Pmix(info, { path: loaded.path, version: loaded.version });
    process.on('exit', finalizeAtExit);
    return current;
  }

  /** Whether finalize() (or close()) has run. */
  get closed(): boolean {
    return this.#closed;
  }

  #check(): void {
    if (this.#closed) throw new ClosedError('Pmix', 'is finalized');
  }

  /**
   * Publishes `value` under `key` for every process of the job (PMIX_GLOBAL
   * scope); others see it after this process's commit() and a fence. A
   * string is stored as PMIX_STRING, bytes as PMIX_BYTE_OBJECT; get() returns
   * both as a Buffer. Keys are at most 511 UTF-8 bytes.
   */
  put(key: string, value: Uint8Array | string): void {
    checkKey(key);
    if (typeof value === 'string') {
      if (value.includes('\0')) throw new TypeError('a string value must not contain NUL characters (put a Uint8Array instead)');
    } else if (!(value instanceof Uint8Array)) {
      throw new TypeError('value must be a Uint8Array or a string');
    }
    this.#check();
    native.pmix.put(key, value);
  }

  /** Pushes everything put() so far to the local PMIx server (PMIx_Commit). */
  commit(): void {
    this.#check();
    native.pmix.commit();
  }

  /**
   * PMIx_Fence over every process of the job: resolves once all have called
   * it. With `collectData`, committed values of every process are gathered
   * too, so a following get() of them answers locally. Runs off the
   * JavaScript thread. Rejects with a PmixError if the PMIx server is gone
   * (for example 'PMIX_ERR_LOST_CONNECTION'), on timeout, or if this session
   * is finalized meanwhile.
   */
  fence(collectData = false, options?: PmixWaitOptions): Promise<void> {
    if (typeof collectData !== 'boolean') return Promise.reject(new TypeError('collectData must be a boolean'));
    let timeout: number;
    try {
      timeout = timeoutSeconds(options);
      this.#check();
      return native.pmix.fence(collectData, timeout);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * The value `rank` published under `key` (PMIx_Get), as a Buffer. Waits for
   * it if it is not here yet (off the JavaScript thread); a key never put
   * rejects with 'PMIX_ERR_NOT_FOUND' once that rank's data has arrived.
   */
  get(rank: number, key: string, options?: PmixWaitOptions): Promise<Buffer> {
    try {
      if (typeof rank !== 'number') throw new TypeError(`rank must be a number, not ${typeof rank}`);
      if (!Number.isInteger(rank) || rank < 0 || rank >= this.size)
        throw new RangeError(`rank must be an integer in [0, ${this.size}), got ${rank}`);
      checkKey(key);
      const timeout = timeoutSeconds(options);
      this.#check();
      return native.pmix.get(rank, key, timeout);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * PMIx_Finalize: tells the launcher this process is done with PMIx (an
   * Open MPI job aborts if a rank exits without it; process exit does it when
   * this was not called). Pending fence()/get() promises reject with a
   * {@link ClosedError}. Idempotent; a process cannot init() PMIx again
   * afterwards.
   */
  finalize(): void {
    if (this.#closed) return;
    this.#closed = true;
    process.removeListener('exit', finalizeAtExit);
    native.pmix.finalize();
  }

  /** Alias of {@link Pmix.finalize}. */
  close(): void {
    this.finalize();
  }

  [Symbol.dispose](): void {
    this.finalize();
  }
}
