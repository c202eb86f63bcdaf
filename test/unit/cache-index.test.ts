// IntervalIndex against a brute-force model.
import { describe, expect, it } from 'vitest';
import { blankLinks, IntervalIndex, type IntervalNode } from '../../src/cache/interval-index.js';

function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
}

function node(id: number, start: number, end: number): IntervalNode {
  return { id, start, end, ...blankLinks() };
}

describe('IntervalIndex', () => {
  it('answers containment and overlap like a brute-force scan', () => {
    const rand = rng(7);
    const index = new IntervalIndex<IntervalNode>();
    const live = new Map<number, IntervalNode>();
    let id = 0;
    for (let step = 0; step < 20000; step++) {
      const r = rand();
      if (r < 0.45 || live.size === 0) {
        const s = Math.floor(rand() * 1000);
        const n = node(id++, s, s + 1 + Math.floor(rand() * 50));
        index.insert(n);
        live.set(n.id, n);
      } else if (r < 0.7) {
        const keys = [...live.keys()];
        const victim = live.get(keys[Math.floor(rand() * keys.length)]!)!;
        index.remove(victim);
        live.delete(victim.id);
      } else {
        const s = Math.floor(rand() * 1050);
        const e = s + 1 + Math.floor(rand() * 30);
        const found = index.findContaining(s, e);
        const expected = [...live.values()].some((n) => n.start <= s && n.end >= e);
        expect(found !== undefined).toBe(expected);
        if (found) expect(found.start <= s && found.end >= e).toBe(true);
        const overlapping = index.collectOverlapping(s, e, []).map((n) => n.id).sort((a, b) => a - b);
        const model = [...live.values()].filter((n) => n.start < e && n.end > s).map((n) => n.id).sort((a, b) => a - b);
        expect(overlapping).toEqual(model);
      }
      expect(index.size).toBe(live.size);
    }
    const all = index.toArray();
    expect(all.length).toBe(live.size);
    for (let i = 1; i < all.length; i++) expect(all[i - 1]!.start <= all[i]!.start).toBe(true);
  });

  it('stays shallow with sorted inserts (balanced in expectation)', () => {
    const index = new IntervalIndex<IntervalNode>();
    for (let i = 0; i < 100000; i++) index.insert(node(i, i * 4096, i * 4096 + 4096));
    expect(index.findContaining(99999 * 4096 + 5, 99999 * 4096 + 10)?.id).toBe(99999);
    expect(index.findContaining(5, 4096 * 3)).toBeUndefined();
  });
});
