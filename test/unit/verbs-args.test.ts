// Host tests of the verbs binding that need no RDMA device: memory addressing,
// access flags, argument validation before anything reaches C, and the
// native classes' own type checks.
import { describe, expect, it } from 'vitest';
import { Access, DEFAULT_ACCESS, RdmaError, addressOf, connect, listDevices, listen, openDevice } from '../../src/index.js';
import { native } from '../../src/native.js';
import { checkAccess } from '../../src/verbs/memory.js';

const noDevice = listDevices().length === 0;

describe('addressOf', () => {
  it('honours byteOffset for every kind of view', () => {
    const ab = new ArrayBuffer(64);
    const base = addressOf(ab);
    expect(typeof base).toBe('bigint');
    expect(addressOf(new Uint8Array(ab, 5))).toBe(base + 5n);
    expect(addressOf(new Uint32Array(ab, 8, 2))).toBe(base + 8n);
    expect(addressOf(new Float64Array(ab, 16))).toBe(base + 16n);
    expect(addressOf(new BigUint64Array(ab, 24))).toBe(base + 24n);
    expect(addressOf(new DataView(ab, 33))).toBe(base + 33n);
    const buf = Buffer.alloc(100);
    expect(addressOf(buf.subarray(10))).toBe(addressOf(buf) + 10n);
  });

  it('works on SharedArrayBuffer and views of it', () => {
    const sab = new SharedArrayBuffer(32);
    expect(addressOf(new Int16Array(sab, 4))).toBe(addressOf(sab) + 4n);
  });

  it('TypeError for non-views', () => {
    for (const bad of [undefined, null, 1, 'x', {}, [], 1n, () => 0]) expect(() => addressOf(bad as never)).toThrow(TypeError);
  });

  it('RangeError for zero-length and detached views', () => {
    expect(() => addressOf(new Uint8Array(0))).toThrow(RangeError);
    expect(() => addressOf(new ArrayBuffer(0))).toThrow(RangeError);
    const ab = new ArrayBuffer(16);
    const view = new Uint8Array(ab);
    structuredClone(ab, { transfer: [ab] });
    expect(() => addressOf(ab)).toThrow(/detached|zero-length/);
    expect(() => addressOf(view)).toThrow(RangeError);
  });
});

describe('Access', () => {
  it('matches the ibv_access_flags values', () => {
    expect(Access.LOCAL_WRITE).toBe(1);
    expect(Access.REMOTE_WRITE).toBe(2);
    expect(Access.REMOTE_READ).toBe(4);
    expect(Access.REMOTE_ATOMIC).toBe(8);
    expect(DEFAULT_ACCESS).toBe(7);
    expect(Object.isFrozen(Access)).toBe(true);
  });

  it('rejects unknown bits and remote write without local write', () => {
    expect(checkAccess(7)).toBe(7);
    expect(() => checkAccess('7')).toThrow(TypeError);
    expect(() => checkAccess(1.5)).toThrow(RangeError);
    expect(() => checkAccess(-1)).toThrow(RangeError);
    expect(() => checkAccess(1 << 30)).toThrow(RangeError);
    expect(() => checkAccess(Access.REMOTE_WRITE)).toThrow(/LOCAL_WRITE/);
  });
});

describe('openDevice without a device', () => {
  it.runIf(noDevice)('throws RdmaError ENODEV', () => {
    const err = (() => {
      try {
        openDevice();
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(RdmaError);
    expect((err as RdmaError).code).toBe('ENODEV');
    expect(() => openDevice('nope0')).toThrow(/no RDMA device named 'nope0'/);
  });

  it('TypeError for a non-string name', () => {
    expect(() => openDevice(5 as never)).toThrow(TypeError);
  });
});

describe('connect/listen option checks (synchronous, before any C call)', () => {
  const table: [string, () => unknown, ErrorConstructor][] = [
    ['connect()', () => connect(undefined as never), TypeError],
    ['connect(null)', () => connect(null as never), TypeError],
    ['connect without pd', () => connect({ host: '1.2.3.4', port: 1 } as never), TypeError],
    ['connect with pd of wrong type', () => connect({ pd: {}, sendCq: {}, host: 'x', port: 1 } as never), TypeError],
    ['listen(5)', () => listen(5 as never), TypeError],
    ['listen port -1', () => listen({ port: -1 }), RangeError],
    ['listen port 65536', () => listen({ port: 65536 }), RangeError],
    ['listen port 1.5', () => listen({ port: 1.5 }), RangeError],
    ['listen port "80"', () => listen({ port: '80' as never }), TypeError],
    ['listen host 7', () => listen({ host: 7 as never }), TypeError],
    ['listen backlog 0', () => listen({ backlog: 0 }), RangeError],
  ];
  it.each(table)('%s', (_name, fn, cls) => {
    expect(fn).toThrow(cls);
  });
});

describe('native classes check what they are given', () => {
  const table: [string, () => unknown, ErrorConstructor][] = [
    ['ProtectionDomain({})', () => new native.ProtectionDomain({} as never), TypeError],
    ['ProtectionDomain(undefined)', () => new native.ProtectionDomain(undefined as never), TypeError],
    ['MemoryRegion({}, buf, 7)', () => new native.MemoryRegion({} as never, Buffer.alloc(8), 7), TypeError],
    ['CompletionQueue({}, 8, fn)', () => new native.CompletionQueue({} as never, 8, () => 0), TypeError],
    ['CmId(5)', () => new native.CmId(5 as never), TypeError],
    ['CmId(fn, {})', () => new native.CmId(() => {}, {} as never), TypeError],
    ['addressOf(5)', () => native.addressOf(5 as never), TypeError],
    ['Context(5)', () => new native.Context(5 as never), TypeError],
  ];
  it.each(table)('%s', (_name, fn, cls) => {
    expect(fn).toThrow(cls);
  });
});
