/**
 * The test-only addon (native/testing/, built as
 * build/Release/rdma_regcache_testing.node): raw mmap/munmap/mremap/madvise,
 * System V shm, brk, fork/exit, pin-limit changes and ArrayBuffers over any
 * address, for tests and benchmarks that must change the process's mappings
 * the way the kernel module has to notice. Never imported by the library and
 * not shipped in the package (package.json "files").
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ClosedError, RdmaError } from './errors.js';
import { native } from './native.js';

/** Raw memory-map system calls for tests (native/testing/testing.cc). */
export interface NativeTesting {
  mmap(length: bigint | number, prot?: number, flags?: number, address?: bigint): bigint;
  munmap(address: bigint, length: bigint | number): void;
  mremap(address: bigint, oldLength: bigint | number, newLength: bigint | number, flags?: number, newAddress?: bigint): bigint;
  madvise(address: bigint, length: bigint | number, advice?: number): void;
  mprotect(address: bigint, length: bigint | number, prot?: number): void;
  shmAttach(length: bigint | number, address?: bigint): bigint;
  shmDetach(address: bigint): void;
  sbrk(increment: number): bigint;
  /** Lowers the break by `length` only if it is still at `top`; false if malloc moved it meanwhile. */
  sbrkRelease(top: bigint, length: number): boolean;
  /**
   * bytes: soft RLIMIT_MEMLOCK = bytes and, unless dropIpcLock is false, CAP_IPC_LOCK dropped
   * from the effective set (pinning past it fails with ENOMEM even for root); null: both
   * restored. Dropping the capability changes the credentials, after which uverbs/rdma_cm
   * files opened before refuse write()-based commands (EACCES): only in a process of its own.
   */
  pinLimit(bytes: number | bigint | null, dropIpcLock?: boolean): void;
  /** An ArrayBuffer over raw memory; dangles once the memory is unmapped. */
  wrap(address: bigint, length: bigint | number): ArrayBuffer;
  /** 'exit': the child _exit(0)s at once; 'return': the child returns 0 here. */
  fork(mode?: 'exit' | 'return'): number;
  waitpid(pid: number): number;
  exit(code?: number): never;
  getpid(): number;
  /** The ummunotify monitor's next drain read() fails with `errno` after `afterReads` good ones. */
  failNextDrainRead(errno: number, afterReads?: number): void;
  readonly constants: Readonly<Record<
    | 'pageSize' | 'PROT_NONE' | 'PROT_READ' | 'PROT_WRITE' | 'MAP_SHARED' | 'MAP_PRIVATE' | 'MAP_ANONYMOUS'
    | 'MAP_FIXED' | 'MAP_FIXED_NOREPLACE' | 'MAP_POPULATE' | 'MREMAP_MAYMOVE' | 'MREMAP_FIXED'
    | 'MADV_DONTNEED' | 'MADV_FREE' | 'MADV_REMOVE' | 'MADV_NOHUGEPAGE',
    number
  >>;
}

interface NativeTestingAddon {
  setErrorClass(cls: typeof RdmaError, closed?: typeof ClosedError): void;
  testing: Omit<NativeTesting, 'failNextDrainRead'>;
}

function load(): NativeTesting {
  const path = fileURLToPath(new URL('../build/Release/rdma_regcache_testing.node', import.meta.url));
  let addon: NativeTestingAddon;
  try {
    addon = createRequire(import.meta.url)(path) as NativeTestingAddon;
  } catch (err) {
    throw new Error(`rdma-regcache: test addon not built at ${path}; run \`npm run build\`: ${(err as Error).message}`);
  }
  addon.setErrorClass(RdmaError, ClosedError);
  return {
    ...addon.testing,
    // The fault lives where the monitor reads: in the production addon (native/fault-hook.cc).
    failNextDrainRead: (errno, afterReads) => native.__setDrainReadFault(errno, afterReads),
  };
}

/** The test-only calls; loading this module fails if the test addon is not built. */
export const testing: NativeTesting = load();
