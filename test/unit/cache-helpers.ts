// Shared by the cache unit tests: a fake registrar and page-aligned memory.
import { afterEach } from 'vitest';
import { RdmaError } from '../../src/errors.js';
import { RegistrationCache } from '../../src/cache/index.js';
import { MemoryMonitor } from '../../src/monitor/index.js';
import { testing } from '../../src/testing.js';

export const t = testing;
export const PAGE = t.constants.pageSize;
export const BPAGE = BigInt(PAGE);

export interface FakeMr {
  address: bigint;
  length: number;
  access: number;
  lkey: number;
  rkey: number;
  live: boolean;
  deregister(): void;
}

/**
 * Counts live registrations; fails with ENOMEM past `pinLimit` bytes, like
 * ibv_reg_mr past RLIMIT_MEMLOCK; records every call.
 */
export class FakeRegistrar {
  live = 0;
  pinned = 0;
  registered = 0;
  deregistered = 0;
  /** deregister() calls on a registration already deregistered (the cache swallows the throw). */
  doubleDeregisters = 0;
  pinLimit = Infinity;
  /** Errors to throw from the next registerRange calls, in order. */
  failNext: Error[] = [];
  mrs: FakeMr[] = [];
  #key = 100;

  registerRange(address: bigint, length: number, access: number): FakeMr {
    const fail = this.failNext.shift();
    if (fail) throw fail;
    if (this.pinned + length > this.pinLimit) throw new RdmaError(12, 'ibv_reg_mr', 'fake pin limit');
    if (Number(address) % PAGE !== 0 || length % PAGE !== 0) throw new Error('cache must register whole pages');
    this.live++;
    this.pinned += length;
    this.registered++;
    const self = this;
    const key = this.#key++;
    const mr: FakeMr = {
      address,
      length,
      access,
      lkey: key,
      rkey: key + 0x10000,
      live: true,
      deregister() {
        if (!mr.live) {
          self.doubleDeregisters++;
          throw new Error('double deregister');
        }
        mr.live = false;
        self.live--;
        self.pinned -= length;
        self.deregistered++;
      },
    };
    this.mrs.push(mr);
    return mr;
  }
}

/** `pages` fresh anonymous pages, with an ArrayBuffer over them. */
export function mapPages(pages: number): { address: bigint; buffer: ArrayBuffer; length: number } {
  const length = pages * PAGE;
  const address = t.mmap(length);
  return { address, buffer: t.wrap(address, length), length };
}

/**
 * A cache maker for a test file: each cache gets a userfaultfd monitor of its
 * own, and every cache made (with its monitor) is closed after each test.
 */
export function cacheFixture(): (reg: FakeRegistrar, opts?: ConstructorParameters<typeof RegistrationCache>[1]) => RegistrationCache {
  const open: RegistrationCache[] = [];
  afterEach(() => {
    for (const c of open.splice(0)) {
      const m = c.monitor;
      c.close();
      m.close();
    }
  });
  return (reg, opts = {}) => {
    const cache = new RegistrationCache(reg, { monitor: MemoryMonitor.open({ backend: 'userfaultfd' }), ...opts });
    open.push(cache);
    return cache;
  };
}
