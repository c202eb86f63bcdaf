import { native } from '../native.js';
import type { NativeProtectionDomain } from '../native.js';
import type { Context } from './context.js';
import { checkAccess, DEFAULT_ACCESS, toNativeView, type BufferSource } from './memory.js';
import { MemoryRegion } from './mr.js';
import { Resource } from './resource.js';
import { checkAddress, checkInteger } from './validate.js';

/**
 * A protection domain (ibv_pd). Closing it deregisters its memory regions and
 * closes the queue pairs that use it first.
 */
export class ProtectionDomain extends Resource {
  protected readonly kind = 'ProtectionDomain';
  /** @internal */
  readonly native: NativeProtectionDomain;
  readonly context: Context;

  /** @internal use Context.allocPd() */
  constructor(context: Context) {
    super([context]);
    this.context = context;
    this.native = new native.ProtectionDomain(context.native);
  }

  /**
   * Registers the bytes of `view` (ibv_reg_mr). The region keeps the view
   * alive until deregister(). `access` defaults to LOCAL_WRITE | REMOTE_WRITE
   * | REMOTE_READ. TypeError for a non-view, RangeError for a detached or
   * zero-length one; RdmaError (ENOMEM past RLIMIT_MEMLOCK, ...) from the kernel.
   */
  registerMemory(view: BufferSource, access: number = DEFAULT_ACCESS): MemoryRegion {
    this.assertOpen();
    const v = toNativeView(view);
    const a = checkAccess(access);
    return new MemoryRegion(this, new native.MemoryRegion(this.native, v, a), view);
  }

  /**
   * Registers the raw address range [address, address + length) without
   * holding any JavaScript object: the caller guarantees the memory stays
   * mapped (the registration cache uses this on page-rounded ranges).
   */
  registerRange(address: bigint, length: number, access: number): MemoryRegion {
    this.assertOpen();
    checkAddress(address, 'address');
    checkInteger(length, 'length', 1, Number.MAX_SAFE_INTEGER);
    const a = checkAccess(access);
    return new MemoryRegion(this, new native.MemoryRegion(this.native, address, length, a), undefined);
  }

  protected release(): void {
    this.native.close();
  }
}
