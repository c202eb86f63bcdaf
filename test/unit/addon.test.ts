// The production addon carries no test hooks; the test-only one has them.
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { testing } from '../../src/testing.js';

describe('the two addons', () => {
  it('rdma_regcache.node exports what production code needs, and no raw memory calls', () => {
    expect(native.pageSize).toBe(testing.constants.pageSize);
    expect(native.pageSize).toBeGreaterThanOrEqual(4096);
    expect((native as unknown as Record<string, unknown>).testing).toBeUndefined();
    for (const name of ['mmap', 'munmap', 'wrap', 'fork', 'pinLimit', 'exit']) {
      expect((native as unknown as Record<string, unknown>)[name]).toBeUndefined();
    }
  });

  it('rdma_regcache_testing.node throws RdmaError like the library', () => {
    expect(() => testing.munmap(1n, 4096)).toThrow(expect.objectContaining({ name: 'RdmaError', code: 'EINVAL', syscall: 'munmap' }));
  });
});
