import type { NativeMemoryRegion } from '../native.js';
import type { BufferSource } from './memory.js';
import type { ProtectionDomain } from './pd.js';
import { Resource } from './resource.js';
import { checkInteger } from './validate.js';

/** One local scatter/gather entry: what an operation reads from or writes into. */
export interface ScatterEntry {
  /** Address of the first byte. */
  address: bigint;
  /** Bytes; 0 is allowed for SEND/RECV/WRITE (no data). */
  length: number;
  /** lkey of a memory region that covers the range. */
  lkey: number;
}

/** Where an RDMA WRITE/READ lands on the peer: an address inside its region and the rkey. */
export interface RemoteAddress {
  address: bigint;
  rkey: number;
}

/**
 * A registered memory region (ibv_mr), uncached: deregister() it when done.
 * A region from registerMemory keeps its view alive; one from registerRange
 * holds nothing.
 */
export class MemoryRegion extends Resource {
  protected readonly kind = 'MemoryRegion';
  /** @internal */
  readonly native: NativeMemoryRegion;
  readonly pd: ProtectionDomain;
  /** Address of the first registered byte. */
  readonly address: bigint;
  /** Registered bytes. */
  readonly length: number;
  readonly lkey: number;
  readonly rkey: number;
  /** The registered view (undefined for registerRange). */
  readonly view: BufferSource | undefined;

  /** @internal use ProtectionDomain.registerMemory/registerRange */
  constructor(pd: ProtectionDomain, mr: NativeMemoryRegion, view: BufferSource | undefined) {
    super([pd]);
    this.pd = pd;
    this.native = mr;
    this.view = view;
    this.address = mr.address;
    this.length = mr.length;
    this.lkey = mr.lkey;
    this.rkey = mr.rkey;
  }

  /** The entry for bytes [offset, offset + length) of this region (default: to its end). */
  sge(offset = 0, length?: number): ScatterEntry {
    this.assertOpen();
    checkInteger(offset, 'offset', 0, this.length);
    const len = length === undefined ? this.length - offset : checkInteger(length, 'length', 0, this.length - offset);
    return { address: this.address + BigInt(offset), length: len, lkey: this.lkey };
  }

  /** What a peer needs to WRITE/READ at `offset` of this region. */
  remote(offset = 0): RemoteAddress {
    this.assertOpen();
    checkInteger(offset, 'offset', 0, this.length);
    return { address: this.address + BigInt(offset), rkey: this.rkey };
  }

  /** ibv_dereg_mr; idempotent. Same as close(). */
  deregister(): void {
    this.close();
  }

  protected release(): void {
    this.native.deregister();
  }
}
