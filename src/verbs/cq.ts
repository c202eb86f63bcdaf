import { native } from '../native.js';
import type { NativeCompletionQueue } from '../native.js';
import { completionError, OpKind } from './completion.js';
import type { Context } from './context.js';
import { Resource } from './resource.js';
import { checkInteger } from './validate.js';

/** @internal One posted work request waiting for its completion. */
export interface PendingOp {
  kind: OpKind;
  owner: { completed(kind: OpKind): void };
  resolve(value: number | undefined): void;
  reject(err: Error): void;
  /** Held until completion so the memory cannot be collected mid-flight. */
  keepAlive: unknown;
}

let nextWrId = 1;

/**
 * A completion queue with its completion channel watched by libuv: posted
 * operations are promises settled from the event loop, and an idle process
 * uses no CPU (the watch keeps the loop alive only while operations are
 * pending). poll() reaps completions synchronously for busy-poll loops.
 */
export class CompletionQueue extends Resource {
  protected readonly kind = 'CompletionQueue';
  /** @internal */
  readonly native: NativeCompletionQueue;
  readonly context: Context;
  /** Completions it can hold (as the device rounded it). */
  readonly depth: number;
  readonly #pending = new Map<number, PendingOp>();
  readonly #slots: Float64Array;
  #reserved = 0;

  /** @internal use Context.createCq() */
  constructor(context: Context, depth: number) {
    super([context]);
    this.context = context;
    this.native = new native.CompletionQueue(context.native, depth, this.#dispatch);
    this.#slots = this.native.slots;
    this.depth = this.native.depth;
  }

  /** Operations posted to queues using this CQ whose completion has not arrived. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Reaps up to `max` completions now, settling their promises (their
   * callbacks run at the next microtask checkpoint). Returns how many were
   * reaped. For busy-poll loops; normally completions arrive by themselves.
   */
  poll(max = 32): number {
    this.assertOpen();
    checkInteger(max, 'max', 1, 0x7fff_ffff);
    return this.native.poll(max);
  }

  /** @internal Registers an operation about to be posted; returns its work request id. */
  track(op: PendingOp): number {
    const id = nextWrId++;
    this.#pending.set(id, op);
    return id;
  }

  /** @internal Forgets an operation whose post failed. */
  untrack(wrId: number): void {
    this.#pending.delete(wrId);
    if (this.#pending.size === 0) this.native.unref();
  }

  /** @internal Rejects every pending operation of `owner` (its queue pair closes). */
  cancel(owner: PendingOp['owner'], err: () => Error): void {
    for (const [id, op] of this.#pending) {
      if (op.owner !== owner) continue;
      this.#pending.delete(id);
      op.reject(err());
    }
    if (this.#pending.size === 0 && !this.closed) this.native.unref();
  }

  /** @internal Claims room for `n` more completions; RangeError if the CQ is too small. */
  reserve(n: number): void {
    if (this.#reserved + n > this.depth)
      throw new RangeError(
        `completion queue too small: depth ${this.depth}, ${this.#reserved} already reserved, ${n} more needed`,
      );
    this.#reserved += n;
  }

  /** @internal */
  unreserve(n: number): void {
    this.#reserved -= n;
  }

  // Called by the native side with `count` completions in the slots.
  #dispatch = (count: number): number => {
    const s = this.#slots;
    for (let i = 0; i < count; i++) {
      const o = i * 6;
      const op = this.#pending.get(s[o]!);
      if (op === undefined) continue; // its queue pair was closed: already rejected
      this.#pending.delete(s[o]!);
      op.owner.completed(op.kind);
      const status = s[o + 1]!;
      if (status === 0) op.resolve(op.kind === OpKind.RECV ? s[o + 3]! : undefined);
      else op.reject(completionError(op.kind, status, s[o + 5]!));
    }
    return this.#pending.size;
  };

  protected release(): void {
    for (const op of this.#pending.values()) op.reject(new Error('unreachable: queue pairs close first'));
    this.#pending.clear();
    this.native.close();
  }
}
