import { native } from '../native.js';
import type { AccessFlags } from '../native.js';
import { checkInteger, describe } from './validate.js';

/** Memory an RDMA operation can use: any view of an ArrayBuffer or SharedArrayBuffer. */
export type BufferSource = ArrayBufferView | ArrayBuffer | SharedArrayBuffer;

/** ibv_access_flags for registerMemory/registerRange (combine with `|`). */
export const Access: AccessFlags = Object.freeze({ ...native.access });

/** LOCAL_WRITE | REMOTE_WRITE | REMOTE_READ: what registerMemory uses by default. */
export const DEFAULT_ACCESS = Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_READ;

const ALL_ACCESS = Object.values(Access).reduce((a, b) => a | b, 0);

/** Validates access flags: unknown bits and remote write/atomic without LOCAL_WRITE are RangeErrors. */
export function checkAccess(access: unknown): number {
  const a = checkInteger(access, 'access', 0, 0x7fff_ffff);
  if ((a & ~ALL_ACCESS) !== 0) throw new RangeError(`access has unknown bits 0x${(a & ~ALL_ACCESS).toString(16)}`);
  if (a & (Access.REMOTE_WRITE | Access.REMOTE_ATOMIC) && !(a & Access.LOCAL_WRITE))
    throw new RangeError('REMOTE_WRITE and REMOTE_ATOMIC need LOCAL_WRITE too');
  return a;
}

/**
 * Normalises a buffer for the native side: views and ArrayBuffers pass as
 * they are, a SharedArrayBuffer is wrapped in a Uint8Array. TypeError for
 * anything else.
 */
export function toNativeView(view: unknown, name = 'view'): ArrayBufferView | ArrayBuffer {
  if (ArrayBuffer.isView(view) || view instanceof ArrayBuffer) return view;
  if (typeof SharedArrayBuffer !== 'undefined' && view instanceof SharedArrayBuffer) return new Uint8Array(view);
  throw new TypeError(
    `${name} must be a Buffer, TypedArray, DataView, ArrayBuffer or SharedArrayBuffer, got ${describe(view)}`,
  );
}

/**
 * Address of a view's first byte (byteOffset honoured), as a bigint.
 * TypeError for a non-view; RangeError for a detached or zero-length view.
 * The address is valid only while the memory is alive: keep the view referenced.
 */
export function addressOf(view: BufferSource): bigint {
  return native.addressOf(toNativeView(view));
}
