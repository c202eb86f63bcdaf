import { describe, expect, it } from 'vitest';
import { ClosedError, MemoryMonitor, RdmaError, RegistrationCache, errnoCode } from '../../src/index.js';
import { closedError } from '../../src/verbs/closed.js';
import { FakeRegistrar } from './cache-helpers.js';

describe('RdmaError', () => {
  it('names the errno, keeps the number and the failing call', () => {
    const err = new RdmaError(12, 'ibv_reg_mr', 'pinning 4096 bytes');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('RdmaError');
    expect(err.code).toBe('ENOMEM');
    expect(err.errno).toBe(12);
    expect(err.syscall).toBe('ibv_reg_mr');
    expect(err.message).toBe('ibv_reg_mr failed: ENOMEM (pinning 4096 bytes)');
  });

  it('falls back to E<number> for an errno the platform does not name', () => {
    expect(errnoCode(99999)).toBe('E99999');
  });
});

describe('ClosedError: one error for every object used after close()', () => {
  it('is an RdmaError with code ERR_CLOSED, errno EBADF and the object as syscall', () => {
    const err = new ClosedError('Endpoint', 'was closed with the operation pending');
    expect(err).toBeInstanceOf(RdmaError);
    expect(err).toBeInstanceOf(ClosedError);
    expect(err.name).toBe('ClosedError');
    expect(err.code).toBe('ERR_CLOSED');
    expect(err.errno).toBe(9);
    expect(err.syscall).toBe('Endpoint');
    expect(err.message).toBe('Endpoint was closed with the operation pending');
    expect(new ClosedError('Listener').message).toBe('Listener is closed');
    expect(closedError('QueuePair')).toBeInstanceOf(ClosedError);
  });

  it('MemoryMonitor, RegistrationCache and a cache over a closed monitor all throw it', () => {
    const closedWith = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err;
      }
      throw new Error('did not throw');
    };
    const monitor = MemoryMonitor.open({ backend: 'userfaultfd' });
    const cache = new RegistrationCache(new FakeRegistrar(), { monitor });
    cache.close();
    for (const err of [closedWith(() => cache.acquire(Buffer.alloc(8))), closedWith(() => cache.checkGeneration())]) {
      expect(err).toBeInstanceOf(ClosedError);
      expect(err).toMatchObject({ code: 'ERR_CLOSED', errno: 9, syscall: 'RegistrationCache' });
    }
    monitor.close();
    expect(closedWith(() => monitor.drain())).toMatchObject({ code: 'ERR_CLOSED', syscall: 'MemoryMonitor' });
    expect(closedWith(() => monitor.watch(0x1000n, 4096, 1n))).toBeInstanceOf(ClosedError);
    const late = closedWith(() => new RegistrationCache(new FakeRegistrar(), { monitor }));
    expect(late).toBeInstanceOf(ClosedError);
    expect((late as Error).message).toMatch(/^MemoryMonitor is closed/);
  });

});
