// Run by cache-limits.test.ts as the unprivileged user nobody, with the
// module's per-user limit (max_user_registrations) set low by the test: a
// cache whose watches hit it evicts unused entries and retries, then fails
// with a clear error. A fake registrar stands in for ibv_reg_mr. Prints one
// JSON line with what happened.
import { MemoryMonitor, RegistrationCache } from '../../dist/index.js';
import { testing } from '../../dist/testing.js';

const t = testing;
const PAGE = t.constants.pageSize;
const limit = Number(process.argv[2]);
let live = 0;
let key = 1;
const registrar = {
  registerRange(address, length) {
    live++;
    const k = key++;
    return { address, length, lkey: k, rkey: k, deregister: () => void live-- };
  },
};
const monitor = MemoryMonitor.open({ backend: 'ummunotify' });
const cache = new RegistrationCache(registrar, { monitor });
const base = t.mmap((limit + 2) * PAGE);
const page = (i) => new Uint8Array(t.wrap(base + BigInt(i * PAGE), PAGE)).fill(1);
const out = { uid: process.getuid() };
// `limit` unused entries: every watch of this user is taken.
for (let i = 0; i < limit; i++) cache.acquire(page(i)).release();
out.full = cache.stats();
// One more: ENOSPC, evict the unused ones, retry.
const held = [cache.acquire(page(limit))];
out.afterRetry = cache.stats();
// Now hold `limit` in use: the next one cannot be made room for.
for (let i = 0; i < limit - 1; i++) held.push(cache.acquire(page(i)));
try {
  cache.acquire(page(limit + 1));
} catch (e) {
  out.error = { name: e.name, code: e.code, message: e.message };
}
for (const h of held) h.release();
cache.acquire(page(limit + 1)).release(); // room again after releasing
out.end = cache.stats();
cache.close();
monitor.close();
out.liveAfterClose = live;
console.log(JSON.stringify(out));
