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
 * @internal Work request ids from ROUTE_BASE up belong to a router (a queue
 * pair's send chain): ROUTE_BASE + tag * 2^32 + sequence. Every value stays
 * an exact double (< 2^53).
 */
export const ROUTE_BASE = 2 ** 52;
export const ROUTE_SPAN = 2 ** 32;
const MAX_TAGS = 2 ** 20;

/** @internal Settles the operations of one send chain from their completions. */
export interface CompletionRouter {
  /** Operations posted or queued and not yet settled. */
  readonly outstanding: number;
  complete(wrId: number, status: number, byteLen: number, vendorErr: number): void;
}

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
  readonly #routes = new Map<number, CompletionRouter>();
  readonly #slots: Float64Array;
  #reserved = 0;
  #nextTag = 0;

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
    let n = this.#pending.size;
    for (const r of this.#routes.values()) n += r.outstanding;
    return n;
  }

  /** @internal Attaches a router; returns the tag its work request ids carry. */
  route(router: CompletionRouter): number {
    if (this.#routes.size >= MAX_TAGS) throw new RangeError('too many send chains on one completion queue');
    while (this.#routes.has(this.#nextTag)) this.#nextTag = (this.#nextTag + 1) % MAX_TAGS;
    const tag = this.#nextTag;
    this.#nextTag = (tag + 1) % MAX_TAGS;
    this.#routes.set(tag, router);
    return tag;
  }

  /** @internal */
  unroute(tag: number): void {
    this.#routes.delete(tag);
    if (this.pending === 0 && !this.closed) this.native.unref();
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
    if (this.pending === 0) this.native.unref();
  }

  /** @internal Rejects every pending operation of `owner` (its queue pair closes). */
  cancel(owner: PendingOp['owner'], err: () => Error): void {
    for (const [id, op] of this.#pending) {
      if (op.owner !== owner) continue;
      this.#pending.delete(id);
      op.reject(err());
    }
    if (this.pending === 0 && !this.closed) this.native.unref();
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
      const id = s[o]!;
      if (id >= ROUTE_BASE) {
        this.#routes.get(Math.floor((id - ROUTE_BASE) / ROUTE_SPAN))?.complete(id, s[o + 1]!, s[o + 3]!, s[o + 5]!);
        continue;
      }
      const op = this.#pending.get(id);
      if (op === undefined) continue; // its queue pair was closed: already rejected
      this.#pending.delete(s[o]!);
      op.owner.completed(op.kind);
      const status = s[o + 1]!;
      if (status === 0) op.resolve(op.kind === OpKind.RECV ? s[o + 3]! : undefined);
      else op.reject(completionError(op.kind, status, s[o + 5]!));
    }
    return this.#routes.size === 0 ? this.#pending.size : this.pending;
  };

  protected release(): void {
    for (const op of this.#pending.values()) op.reject(new Error('unreachable: queue pairs close first'));
    this.#pending.clear();
    this.native.close();
  }
}
