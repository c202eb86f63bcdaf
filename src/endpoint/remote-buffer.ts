/**
 * What a peer needs to reach exposed memory: plain data that survives
 * JSON.stringify/parse, so it can travel in any message. The address is a
 * hexadecimal string because JSON has no 64-bit integers (and user addresses
 * can pass 2^53 with 5-level page tables).
 */
export interface RemoteBuffer {
  /** Start of the exposed bytes, as '0x' followed by hex digits. */
  address: string;
  rkey: number;
  /** Bytes exposed. */
  length: number;
}

const HEX = /^0x[0-9a-f]{1,16}$/i;

/** @internal Validates a RemoteBuffer (TypeError/RangeError) and returns its address. */
export function remoteAddress(remote: unknown, name = 'remote'): bigint {
  if (typeof remote !== 'object' || remote === null) throw new TypeError(`${name} must be a RemoteBuffer from expose()`);
  const r = remote as Record<string, unknown>;
  if (typeof r.address !== 'string' || !HEX.test(r.address))
    throw new TypeError(`${name}.address must be a hex string like '0x7f0000001000', got ${String(r.address)}`);
  if (typeof r.rkey !== 'number' || !Number.isInteger(r.rkey) || r.rkey < 0 || r.rkey > 0xffff_ffff)
    throw new TypeError(`${name}.rkey must be a 32-bit unsigned integer`);
  if (typeof r.length !== 'number' || !Number.isSafeInteger(r.length) || r.length < 0)
    throw new TypeError(`${name}.length must be a non-negative integer`);
  return BigInt(r.address);
}

/** @internal Checks that [offset, offset + length) lies inside the remote buffer. */
export function checkRemoteRange(remote: RemoteBuffer, offset: unknown, length: number): number {
  if (offset === undefined) offset = 0;
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0)
    throw new RangeError(`offset must be a non-negative integer, got ${String(offset)}`);
  if (offset + length > remote.length)
    throw new RangeError(`${length} bytes at offset ${offset} do not fit the remote buffer of ${remote.length} bytes`);
  return offset;
}
