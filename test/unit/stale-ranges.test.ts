import { describe, expect, it } from 'vitest';
import { StaleRanges } from '../../src/cache/stale-ranges.js';

describe('StaleRanges', () => {
  it('covers a range inside an invalidated one with the same start and access only', () => {
    const s = new StaleRanges(4);
    s.add(4096, 12288, 1);
    expect(s.covers(4096, 8192, 1)).toBe(true);
    expect(s.covers(4096, 12288, 1)).toBe(true);
    expect(s.covers(4096, 16384, 1)).toBe(false); // longer than what was invalidated
    expect(s.covers(4096, 8192, 3)).toBe(false); // other access
    expect(s.covers(8192, 12288, 1)).toBe(false); // starts elsewhere: not counted (documented)
  });

  it('keeps the latest range per start', () => {
    const s = new StaleRanges(4);
    s.add(4096, 8192, 1);
    s.add(4096, 65536, 3);
    expect(s.covers(4096, 65536, 3)).toBe(true);
    expect(s.covers(4096, 8192, 1)).toBe(false);
  });

  it('forgets the oldest start past capacity, not a start recorded again since', () => {
    const s = new StaleRanges(3);
    s.add(0x1000, 0x2000, 1);
    s.add(0x2000, 0x3000, 1);
    s.add(0x1000, 0x2000, 1); // 0x1000 now holds two of the three slots
    s.add(0x3000, 0x4000, 1); // overwrites the first slot (0x1000): one slot still holds it
    expect(s.covers(0x1000, 0x2000, 1)).toBe(true);
    s.add(0x4000, 0x5000, 1); // overwrites 0x2000's only slot
    expect(s.covers(0x2000, 0x3000, 1)).toBe(false);
    expect(s.size).toBe(3);
    for (let i = 0; i < 1000; i++) s.add(0x10000 + (i % 7) * 0x1000, 0x20000, 1);
    expect(s.size).toBeLessThanOrEqual(3);
    expect(s.covers(0x1000, 0x2000, 1)).toBe(false);
  });
});
