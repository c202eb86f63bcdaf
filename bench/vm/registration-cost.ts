/**
 * What a registration costs by size: ibv_reg_mr + ibv_dereg_mr of a buffer
 * (its pages already touched), against an acquire+release hit of the same
 * buffer in a RegistrationCache on the same protection domain: the work a
 * cache hit saves.
 */
import { MemoryMonitor, RegistrationCache, type ProtectionDomain } from '../../src/index.js';

export interface RegistrationCost {
  size: number;
  iters: number;
  registerUs: number;
  hitUs: number;
}

export function registrationCost(pd: ProtectionDomain, size: number, iters: number): RegistrationCost {
  const view = new Uint8Array(size).fill(1);
  pd.registerMemory(view).deregister(); // warm-up
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) pd.registerMemory(view).deregister();
  const registerUs = Number(process.hrtime.bigint() - t0) / 1e3 / iters;

  const monitor = MemoryMonitor.open({ backend: 'ummunotify' });
  const cache = new RegistrationCache(pd, { monitor });
  try {
    cache.acquire(view).release();
    const hits = iters * 100;
    t0 = process.hrtime.bigint();
    for (let i = 0; i < hits; i++) cache.acquire(view).release();
    const hitUs = Number(process.hrtime.bigint() - t0) / 1e3 / hits;
    return { size, iters, registerUs, hitUs };
  } finally {
    cache.close();
    monitor.close();
  }
}
