import { describe, expect, it } from 'vitest';
import { loopTurnOverdue, maySettleWithoutTurn } from '../../src/verbs/loop-turn.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function busyMs(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('settling without an event-loop turn', () => {
  it('is allowed for a millisecond, then refused until the loop turns', async () => {
    await turn(); // no streak left over from elsewhere
    expect(loopTurnOverdue()).toBe(false);
    expect(maySettleWithoutTurn()).toBe(true); // starts the streak
    expect(maySettleWithoutTurn()).toBe(true);
    expect(loopTurnOverdue()).toBe(false);
    busyMs(3); // microtasks only: no turn
    await Promise.resolve();
    expect(loopTurnOverdue()).toBe(true);
    expect(maySettleWithoutTurn()).toBe(false);
    expect(maySettleWithoutTurn()).toBe(false);
    await turn(); // the check phase runs the streak's end first
    expect(loopTurnOverdue()).toBe(false);
    expect(maySettleWithoutTurn()).toBe(true);
  });
});
