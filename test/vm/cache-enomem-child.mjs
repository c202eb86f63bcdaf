// Run by cache-limits.test.ts in a process of its own (it drops CAP_IPC_LOCK,
// which changes the process's credentials): a real ENOMEM from ibv_reg_mr under
// a low RLIMIT_MEMLOCK. Prints one JSON line with what happened.
import { readFileSync } from 'node:fs';
import { MemoryMonitor, RegistrationCache, openDevice } from '../../dist/index.js';
import { testing } from '../../dist/testing.js';

const t = testing;
const KiB = 1024;
const pinned = () => Number(/VmPin:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * KiB;
const bytes = (a, n) => new Uint8Array(t.wrap(a, n)).fill(1);
const out = {};
const ctx = openDevice(process.env.RDMA_REGCACHE_DEVICE ?? 'rxe0');
const pd = ctx.allocPd();
const monitor = MemoryMonitor.open({ backend: 'ummunotify' });
// The cache is told there is no limit, so only the kernel enforces it.
const cache = new RegistrationCache(pd, { monitor, memlockLimit: Infinity });
const a = Array.from({ length: 5 }, () => t.mmap(64 * KiB));
const big = t.mmap(128 * KiB);
t.pinLimit(pinned() + 256 * KiB);
const held = [cache.acquire(bytes(a[0], 64 * KiB)), cache.acquire(bytes(a[1], 64 * KiB))];
cache.acquire(bytes(a[2], 64 * KiB)).release();
cache.acquire(bytes(a[3], 64 * KiB)).release();
// 256 KiB pinned: 128 more fail in the kernel, and fit after evicting the two unused.
const b = cache.acquire(bytes(big, 128 * KiB));
out.afterRetry = cache.stats();
try {
  cache.acquire(bytes(a[4], 64 * KiB)); // everything pinned is in use now
} catch (e) {
  out.error = { name: e.name, code: e.code, message: e.message };
}
b.release();
for (const h of held) h.release();
t.pinLimit(null);
cache.acquire(bytes(a[4], 64 * KiB)).release(); // fine again
out.end = cache.stats();
cache.close();
out.liveAfterClose = cache.stats().liveRegistrations;
monitor.close();
ctx.close();
console.log(JSON.stringify(out, (k, v) => (v === Infinity ? 'Infinity' : v)));
