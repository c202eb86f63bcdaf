import { describe, expect, it } from 'vitest';
import { listDevices } from '../../src/index.js';

describe('listDevices on the host', () => {
  it('returns an array of well-formed devices (empty where the host has no RDMA)', () => {
    const devices = listDevices();
    expect(Array.isArray(devices)).toBe(true);
    for (const d of devices) {
      expect(typeof d.name).toBe('string');
      expect(d.guid).toMatch(/^[0-9a-f]{4}(:[0-9a-f]{4}){3}$/);
    }
  });
});
