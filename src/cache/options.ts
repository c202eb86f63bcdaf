import { MemoryMonitor } from '../monitor/monitor.js';
import { memlockLimit } from './memlock.js';

/** IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ */
const DEFAULT_ACCESS = 1 | 2 | 4;

/** Options of {@link RegistrationCache}. */
export interface RegistrationCacheOptions {
  /**
   * Tells the cache when memory changes its mapping. Default: a monitor opened
   * with `{ backend: 'auto' }` and owned (closed) by the cache. Several caches
   * may share one monitor: it routes each report to the cache that watched it.
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

/** The options checked, with their defaults. @internal */
export interface CacheSettings {
  monitor: MemoryMonitor | undefined;
  maxEntries: number;
  maxBytes: number;
  memlock: number;
  defaultAccess: number;
}

/** @internal */
export function parseOptions(options: RegistrationCacheOptions): CacheSettings {
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
  return { monitor: options.monitor, maxEntries, maxBytes, memlock, defaultAccess };
}

/** @internal */
export function checkAccess(access: number): void {
  if (typeof access !== 'number') throw new TypeError('access must be a number (ibv_access_flags)');
  if (!Number.isInteger(access) || access < 0 || access > 0x7fffffff) {
    throw new RangeError('access must be a non-negative 32-bit integer');
  }
}
