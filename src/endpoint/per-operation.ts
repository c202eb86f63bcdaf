import type { CacheableMemory } from '../cache/index.js';
import type { ProtectionDomain } from '../verbs/index.js';
import { DEFAULT_ACCESS } from '../verbs/index.js';

/** What an Endpoint needs from its source of registrations. */
export interface RegistrationSource {
  acquire(view: CacheableMemory, access?: number): {
    readonly address: bigint;
    readonly length: number;
    readonly lkey: number;
    readonly rkey: number;
    release(): void;
    /** True once the source dropped the hold because its memory changed. */
    readonly revoked?: boolean;
  };
  /** The generation check (a cache); absent for sources without a monitor. */
  checkGeneration?(): boolean;
  /**
   * acquire() for memory exposed to a peer: the source may revoke the hold
   * (and deregister it) when the memory changes. Sources without it keep
   * exposed registrations until unexpose().
   */
  acquireRevocable?(view: CacheableMemory, access?: number): ReturnType<RegistrationSource['acquire']>;
  close(): void;
}

/**
 * The no-cache baseline: registers the view before every operation and
 * deregisters it after. Always correct, and as slow as registration is; the
 * demo and the benchmarks compare the cache against it.
 */
export class RegisterPerOperation implements RegistrationSource {
  #registrations = 0;

  constructor(readonly pd: ProtectionDomain) {}

  /** Registrations made so far (each one a full ibv_reg_mr + ibv_dereg_mr). */
  get registrations(): number {
    return this.#registrations;
  }

  acquire(view: CacheableMemory, access: number = DEFAULT_ACCESS) {
    const mr = this.pd.registerMemory(view, access);
    this.#registrations++;
    return {
      address: mr.address,
      length: mr.length,
      lkey: mr.lkey,
      rkey: mr.rkey,
      release: () => mr.deregister(),
    };
  }

  close(): void {}
}
