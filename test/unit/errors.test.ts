import { describe, expect, it } from 'vitest';
import { RdmaError, errnoCode } from '../../src/errors.js';

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
