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

/**
 * What a cache remembers about one typed array (a Buffer, a Uint8Array...),
 * kept in three non-enumerable symbol properties on the view itself: the
 * entry that served it last, its element count then, and its span.
 *
 * Why on the view: acquiring the same view again is then a few loads from
 * one property array of the object the caller passes (a `Map` keyed by the
 * view loads that same array to find the view's hash, then probes its
 * table), and it needs none of the view's `buffer`/`byteOffset`/`byteLength`
 * getters, each of which costs about a `Map.get` in Node 20 (V8 does not
 * inline them; `length` it does). Three properties rather than one memo
 * object: one dependent load fewer per hit.
 *
 * The cache tags a view the second time it sees it (BufferMemo tells): a
 * view made for one operation is not worth three defineProperty calls.
 *
 * A view's buffer and offset never change, so its address is fixed; its
 * element count changes only when it is detached (0) or tracks a resizable
 * buffer, and then the count differs and the cache looks again. The entry is
 * trusted only while it is valid (no report has touched it; pending reports
 * are applied before the lookup) and has the access flags asked for.
 * @internal
 */
export class ViewMemos {
  /** Read by the cache's hit path directly. */
  entryTag = Symbol('rdma-regcache.entry');
  countTag = Symbol('rdma-regcache.count');
  spanTag = Symbol('rdma-regcache.span');

  /**
   * Remembers that `entry` served `view` (at `address`, `byteLength` bytes)
   * and returns its span. Only typed arrays are tagged: a DataView has no
   * inlined `length` to tell when it was detached, and an ArrayBuffer is
   * found through its own BufferMemo.
   */
  remember(view: object, entry: Entry, address: number, byteLength: number): ViewSpan {
    if (!ArrayBuffer.isView(view) || view instanceof DataView) return new ViewSpan(BigInt(address), byteLength);
    const v = view as unknown as Tagged;
    const count = (view as Uint8Array).length;
    let span = v[this.spanTag] as ViewSpan | undefined;
    if (span !== undefined && v[this.countTag] === count && span.byteLength === byteLength) {
      v[this.entryTag] = entry;
      return span;
    }
    span = new ViewSpan(BigInt(address), byteLength);
    if (v[this.entryTag] !== undefined) {
      v[this.entryTag] = entry;
      v[this.countTag] = count;
      v[this.spanTag] = span;
    } else if (Object.isExtensible(view)) {
      // Always in this order, so that every tagged view shares one hidden class.
      Object.defineProperty(view, this.entryTag, { value: entry, writable: true });
      Object.defineProperty(view, this.countTag, { value: count, writable: true });
      Object.defineProperty(view, this.spanTag, { value: span, writable: true });
    }
    return span;
  }

  /** Forgets every memo (close, fork): views keep the old properties, which nothing reads any more. */
  forget(): void {
    this.entryTag = Symbol('rdma-regcache.entry');
    this.countTag = Symbol('rdma-regcache.count');
    this.spanTag = Symbol('rdma-regcache.span');
  }
}
