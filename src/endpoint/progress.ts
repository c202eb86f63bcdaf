import type { CompletionQueue } from '../verbs/index.js';
import { loopTurnOverdue, maySettleWithoutTurn } from '../verbs/loop-turn.js';

/** How an endpoint learns of completions. */
export type Progress = 'event' | 'poll';

/** Checks the `progress` and `spinUs` options an Endpoint and a Domain share. */
export function checkProgressOptions(o: { progress?: unknown; spinUs?: unknown }): void {
  if (o.progress !== undefined && o.progress !== 'event' && o.progress !== 'poll')
    throw new TypeError(`options.progress must be 'event' or 'poll', got ${String(o.progress)}`);
  if (o.spinUs !== undefined && !(typeof o.spinUs === 'number' && o.spinUs >= 0 && o.spinUs <= 1e6))
    throw new RangeError(`options.spinUs must be a number from 0 to 1e6, got ${String(o.spinUs)}`);
}

const now = (): number => performance.now() * 1000; // microseconds

/**
 * The 'poll' progress engine of one completion queue. While operations are in
 * flight it polls the CQ without sleeping: after each poll that reaped
 * something it lets the promise callbacks run (they post the next operations)
 * and polls again right after them, never waiting for the event loop. Every
 * `burstUs` it yields to the event loop once (setImmediate), so timers and I/O
 * still run; after `spinUs` without a completion it stops spinning and the
 * completion channel (always armed) takes over until the next post kicks it
 * again. An idle process therefore burns no CPU.
 */
export class Poller {
  readonly #cq: CompletionQueue;
  readonly #spinUs: number;
  readonly #burstUs: number;
  #spinning = false;
  #lastReap = 0;
  #burstStart = 0;
  #stopped = false;
  /** Polls that reaped something, and spin phases that ended idle (the channel took over). */
  readonly stats = { reapingPolls: 0, idleStops: 0, yields: 0 };

  constructor(cq: CompletionQueue, spinUs: number, burstUs = 1000) {
    this.#cq = cq;
    this.#spinUs = spinUs;
    this.#burstUs = burstUs;
  }

  /** Operations were just posted: spin until they complete (or the spin bound passes). */
  kick(): void {
    if (this.#spinning || this.#stopped || this.#cq.pending === 0) return;
    this.#spinning = true;
    const ms = performance.now();
    this.#lastReap = this.#burstStart = ms * 1000;
    // Operations settled at post time have kept the event loop from turning
    // for a while: let it turn before spinning.
    if (loopTurnOverdue(ms)) {
      this.#yield(this.#burstStart);
      return;
    }
    // A tick scheduled from a microtask runs once all microtasks have run,
    // so every operation issued in this tick is posted before the first poll.
    process.nextTick(this.#step);
  }

  stop(): void {
    this.#stopped = true;
    this.#spinning = false;
  }

  #step = (): void => {
    const cq = this.#cq;
    if (this.#stopped || cq.closed) {
      this.#spinning = false;
      return;
    }
    let empty = 0;
    for (;;) {
      if (cq.poll(32) > 0) {
        this.stats.reapingPolls++;
        const ms = performance.now();
        maySettleWithoutTurn(ms); // these settle on microtasks too: counts toward the next yield
        const t = ms * 1000;
        this.#lastReap = t;
        if (t - this.#burstStart > this.#burstUs) this.#yield(t);
        // Behind the promise reactions just queued: they run (and post) first.
        else queueMicrotask(this.#afterReactions);
        return;
      }
      if (cq.pending === 0) {
        this.#spinning = false;
        return;
      }
      if ((++empty & 7) === 0) {
        const t = now();
        if (t - this.#lastReap > this.#spinUs) {
          this.stats.idleStops++;
          this.#spinning = false; // the completion channel takes over
          return;
        }
        if (t - this.#burstStart > this.#burstUs) {
          this.#yield(t);
          return;
        }
      }
    }
  };

  #afterReactions = (): void => {
    process.nextTick(this.#step);
  };

  #yield(t: number): void {
    this.stats.yields++;
    this.#burstStart = t;
    setImmediate(this.#resume);
  }

  #resume = (): void => {
    this.#burstStart = now();
    this.#step();
  };
}
