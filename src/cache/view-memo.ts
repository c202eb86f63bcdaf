import type { Entry } from './entry.js';

/** Address and length of a view, as a {@link Registration} reports them. @internal */
export class ViewSpan {
  constructor(
    /** Address of the view's first byte, made into a bigint once. */
    readonly address: bigint,
    readonly byteLength: number,
  ) {}
}

type Tagged = Record<symbol, unknown>;

// One set of tags for every cache in the process. The hit path loads
// view[ENTRY_TAG] at one site; V8 keeps such a load fast only while it sees
// one key, and per-cache symbols made it a generic lookup as soon as a process
// had two caches (with two caches of 100,000 entries, a hit went from about
// 130 to 390 ns on the host).
// An entry found through the tags is used only by the cache that owns it.
export const ENTRY_TAG = Symbol('rdma-regcache.entry');
export const COUNT_TAG = Symbol('rdma-regcache.count');
export const SPAN_TAG = Symbol('rdma-regcache.span');

/**
 * What the caches remember about one typed array (a Buffer, a Uint8Array...),
 * kept in three non-enumerable symbol properties on the view itself: the
 * entry that served it last (of whichever cache), its element count then, and
 * its span.
 *
 * Why on the view: acquiring the same view again is then a few loads from
 * one property array of the object the caller passes (a `Map` keyed by the
 * view loads that same array to find the view's hash, then probes its
 * table), and it needs none of the view's `buffer`/`byteOffset`/`byteLength`
 * getters, each of which costs about a `Map.get` in Node 20 (V8 does not
 * inline them; `length` it does). Three properties rather than one memo
 * object: one dependent load fewer per hit.
 *
 * A cache tags a view the second time it sees it (BufferMemo tells): a view
 * made for one operation is not worth three defineProperty calls.
 *
 * A view's buffer and offset never change, so its address is fixed; its
 * element count changes only when it is detached (0) or tracks a resizable
 * buffer, and then the count differs and the cache looks again. The entry is
 * trusted only by its own cache, while it is valid (no report has touched it;
 * pending reports are applied before the lookup) and has the access flags
 * asked for. A view used by two caches in turn keeps the last one's entry.
 * A closed cache's entries stay reachable from the views it tagged until they
 * are tagged again or collected; none of them is valid any more.
 *
 * rememberView records that `entry` served `view` (at `address`,
 * `byteLength` bytes) and returns its span. Only typed arrays are tagged: a
 * DataView has no inlined `length` to tell when it was detached, and an
 * ArrayBuffer is found through its own BufferMemo.
 * @internal
 */
export function rememberView(view: object, entry: Entry, address: number, byteLength: number): ViewSpan {
  if (!ArrayBuffer.isView(view) || view instanceof DataView) return new ViewSpan(BigInt(address), byteLength);
  const v = view as unknown as Tagged;
  const count = (view as Uint8Array).length;
  let span = v[SPAN_TAG] as ViewSpan | undefined;
  if (span !== undefined && v[COUNT_TAG] === count && span.byteLength === byteLength) {
    v[ENTRY_TAG] = entry;
    return span;
  }
  span = new ViewSpan(BigInt(address), byteLength);
  if (v[ENTRY_TAG] !== undefined) {
    v[ENTRY_TAG] = entry;
    v[COUNT_TAG] = count;
    v[SPAN_TAG] = span;
  } else if (Object.isExtensible(view)) {
    // Always in this order, so that every tagged view shares one hidden class.
    Object.defineProperty(view, ENTRY_TAG, { value: entry, writable: true });
    Object.defineProperty(view, COUNT_TAG, { value: count, writable: true });
    Object.defineProperty(view, SPAN_TAG, { value: span, writable: true });
  }
  return span;
}
