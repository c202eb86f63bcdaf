import { readFileSync } from 'node:fs';

/**
 * The process's RLIMIT_MEMLOCK soft limit in bytes (Infinity when unlimited
 * or unknown). Pinned RDMA registrations count against it, so the cache keeps
 * the bytes it pins below it. Node has no getrlimit(); /proc/self/limits has it.
 */
export function memlockLimit(): number {
  try {
    const text = readFileSync('/proc/self/limits', 'utf8');
    const line = text.split('\n').find((l) => l.startsWith('Max locked memory'));
    const soft = line?.slice('Max locked memory'.length).trim().split(/\s+/)[0];
    if (soft === undefined || soft === 'unlimited') return Infinity;
    const n = Number(soft);
    return Number.isFinite(n) ? n : Infinity;
  } catch {
    return Infinity;
  }
}
