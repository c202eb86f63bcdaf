import { describe, expect, it } from 'vitest';
import { SlotQueue } from '../../src/endpoint/slots.js';

describe('SlotQueue', () => {
  it('admits up to depth at once without a promise, then queues in order', async () => {
    const q = new SlotQueue(2);
    expect(q.acquire()).toBeUndefined();
    expect(q.acquire()).toBeUndefined();
    expect(q.inFlight).toBe(2);
    const order: number[] = [];
    const waits = [1, 2, 3].map((i) => q.acquire()!.then(() => order.push(i)));
    expect(q.waiting).toBe(3);
    q.release();
    q.release();
    await Promise.resolve();
    await Promise.resolve();
    expect(order).toEqual([1, 2]);
    expect(q.inFlight).toBe(2);
    q.release();
    await Promise.all(waits);
    expect(order).toEqual([1, 2, 3]);
    q.release();
    q.release();
    expect(q.inFlight).toBe(0);
  });

  it('never lets a newcomer overtake a waiter', async () => {
    const q = new SlotQueue(1);
    q.acquire();
    const first = q.acquire()!;
    q.release(); // the slot goes to `first`, not to whoever asks next
    expect(q.acquire()).toBeInstanceOf(Promise);
    await first;
  });

  it('rejects waiters and later callers after close', async () => {
    const q = new SlotQueue(1);
    q.acquire();
    const waiting = q.acquire()!;
    const err = new Error('closed');
    q.close(err);
    await expect(waiting).rejects.toBe(err);
    await expect(q.acquire()!).rejects.toBe(err);
  });

  it('refuses a depth that is not a positive integer', () => {
    expect(() => new SlotQueue(0)).toThrow(RangeError);
    expect(() => new SlotQueue(1.5)).toThrow(RangeError);
  });
});
