import { native } from '../native.js';
import type { Entry } from './entry.js';

/**
 * What one cache remembers about one ArrayBuffer: the address of its first
 * byte, and the entry that served each view of it, by the view's byteOffset.
 * Acquiring a view again then costs a few property loads instead of a search
 * of the interval index: the memo is found through the buffer itself (see
 * {@link BufferMemos}), not through a hash table keyed by address.
 *
 * It also tells a view used again from views made per operation (see
 * {@link isLastView}): only the former are worth tagging (rememberView).
 *
 * A remembered entry is only a guess: {@link find} trusts it only while it is
 * valid (still in the index, so no report of the monitor has touched it; the
 * cache drains pending reports before it looks here), has the access flags
 * asked for, and contains the view's bytes. A view of the same offset with
 * another length or access is answered by the index and then remembered
 * instead.
 * @internal
 */
export class BufferMemo {
  /** The first offset remembered: a buffer with one view (own buffers) needs no table. */
  #firstOffset = -1;
  #first: Slot | null = null;
  /** Other offsets: many views of one buffer (a symmetric heap, Node's pooled Buffers). */
  #byOffset: Map<number, Slot> | null = null;

  constructor(
    /** Address of the buffer's first byte (a backing store never moves). */
    readonly base: number,
    /** Most offsets remembered besides the first: bounds the memory of views made at ever new offsets. */
    readonly capacity: number,
  ) {}

  #slot(offset: number): Slot | null | undefined {
    return offset === this.#firstOffset ? this.#first : this.#byOffset === null ? undefined : this.#byOffset.get(offset);
  }

  /** The remembered entry that still serves the view [offset, offset + length) with `access`, or null. */
  find(offset: number, length: number, access: number): Entry | null {
    const e = this.#slot(offset)?.entry;
    if (e == null || !e.valid || e.access !== access) return null;
    const a = this.base + offset;
    return e.start <= a && a + length <= e.end ? e : null;
  }

  /** Whether `view` is the view last acquired at `offset` (so it is used again, not made per operation). */
  isLastView(offset: number, view: object): boolean {
    return this.#slot(offset)?.view === view;
  }

  /** `e` served `view`, at `offset`. */
  remember(offset: number, e: Entry, view: object): void {
    const slot = this.#slot(offset);
    if (slot != null) {
      slot.entry = e;
      slot.view = view;
      return;
    }
    if (this.#first === null) {
      this.#firstOffset = offset;
      this.#first = { entry: e, view };
      return;
    }
    let table = this.#byOffset;
    if (table === null) table = this.#byOffset = new Map();
    else if (table.size >= this.capacity) table.clear();
    table.set(offset, { entry: e, view });
  }
}

/** One offset's memory: the entry that served it last, and the view that asked. */
interface Slot {
  entry: Entry;
  view: object;
}

type Tagged = Record<symbol, BufferMemo | undefined>;

/**
 * The memos of one cache, each kept in a non-enumerable symbol property on its
 * ArrayBuffer (a WeakMap for non-extensible buffers): the property is one
 * inline-cached load from an object the caller's view already leads to, and
 * the memo dies with its buffer.
 * @internal
 */
export class BufferMemos {
  #tag = Symbol('rdma-regcache.buffer');
  #frozen = new WeakMap<object, BufferMemo>();

  constructor(readonly capacity: number) {}

  /** The memo of `buf`, whose view (or itself) is `view`. */
  of(view: ArrayBufferView | ArrayBuffer | SharedArrayBuffer, buf: ArrayBuffer | SharedArrayBuffer): BufferMemo {
    return (buf as unknown as Tagged)[this.#tag] ?? this.#learn(view, buf);
  }

  /** Forgets every memo (close, fork): buffers keep the old property, which nothing reads any more. */
  forget(): void {
    this.#tag = Symbol('rdma-regcache.buffer');
    this.#frozen = new WeakMap();
  }

  #learn(view: ArrayBufferView | ArrayBuffer | SharedArrayBuffer, buf: ArrayBuffer | SharedArrayBuffer): BufferMemo {
    const known = this.#frozen.get(buf);
    if (known !== undefined) return known;
    const address = ArrayBuffer.isView(view)
      ? native.addressOf(view) - BigInt(view.byteOffset)
      : native.addressOf(new Uint8Array(buf));
    const memo = new BufferMemo(Number(address), this.capacity);
    if (Object.isExtensible(buf)) Object.defineProperty(buf, this.#tag, { value: memo });
    else this.#frozen.set(buf, memo);
    return memo;
  }
}
