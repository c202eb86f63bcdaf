// Miss cost by size, in the VM (needs rxe0 and /dev/ummunotify):
//   miss      = cache.acquire of memory it has not seen (watch + ibv_reg_mr + generation re-check)
//   register  = bare pd.registerRange of the same size (no cache, no watch)
//   hit       = cache.acquire+release of the same view again
//   drop      = munmap of a cached range + the generation check that drains and deregisters it
// Each miss needs fresh memory, so these are timed loops (median of ITER), not 'benchmark' suites.
// Run: npm run vm -- 'npx tsc -p tsconfig.json && node bench/cache/miss.mjs'   (BENCH_ITER=n)
import { MemoryMonitor, RegistrationCache, openDevice } from '../../dist/index.js';
import { testing } from '../../dist/testing.js';

const t = testing;
const PAGE = t.constants.pageSize;
const ITER = Number(process.env.BENCH_ITER ?? 30);
const ACCESS = 1 | 2 | 4;

const ctx = openDevice(process.env.RDMA_REGCACHE_DEVICE ?? 'rxe0');
const pd = ctx.allocPd();
const monitor = MemoryMonitor.open({ backend: process.env.BENCH_MONITOR ?? 'ummunotify' });
const cache = new RegistrationCache(pd, { monitor, maxEntries: 4 * ITER });

let warmedUp = false;
const now = () => Number(process.hrtime.bigint()) / 1e3; // microseconds
const median = (a) => a.sort((x, y) => x - y)[a.length >> 1];

function fresh(bytes) {
  const address = t.mmap(bytes);
  const view = new Uint8Array(t.wrap(address, bytes));
  for (let i = 0; i < bytes; i += PAGE) view[i] = 1; // populate, as a real buffer would be
  return { address, view };
}

console.log(`monitor ${monitor.backend}; median of ${ITER} (microseconds), after a warm-up pass`);
console.log('size        miss   register   miss/reg      hit     drop');
for (const size of [4 << 10, 4 << 10, 64 << 10, 1 << 20, 4 << 20]) {
  const warmup = !warmedUp;
  warmedUp = true;
  const miss = [], reg = [], hit = [], drop = [];
  for (let i = 0; i < ITER; i++) {
    const a = fresh(size);
    let t0 = now();
    const r = cache.acquire(a.view);
    miss.push(now() - t0);
    r.release();
    t0 = now();
    cache.acquire(a.view).release();
    hit.push(now() - t0);
    t0 = now();
    t.munmap(a.address, size);
    cache.checkGeneration();
    drop.push(now() - t0);

    const b = fresh(size);
    t0 = now();
    const mr = pd.registerRange(b.address, size, ACCESS);
    reg.push(now() - t0);
    mr.deregister();
    t.munmap(b.address, size);
  }
  if (warmup) continue; // the JIT under emulation makes the first pass meaningless
  const m = median(miss), g = median(reg);
  console.log(
    `${String(size >> 10).padStart(5)} KiB ${m.toFixed(0).padStart(7)} ${g.toFixed(0).padStart(10)} ${(m / g).toFixed(2).padStart(9)}x ` +
      `${median(hit).toFixed(1).padStart(8)} ${median(drop).toFixed(0).padStart(8)}`,
  );
}
const s = cache.stats();
if (s.liveRegistrations !== 0) throw new Error(`leak: ${s.liveRegistrations} registrations alive`);
cache.close();
monitor.close();
ctx.close();
