/**
 * perftest's clock against the wall clock. perftest turns CPU cycles into
 * time with a CPU frequency it estimates at start; under emulation that
 * estimate can be off. The same client is run at two iteration counts and
 * the difference of its wall-clock times over the difference of iterations
 * gives a per-iteration time without the connection set-up (start, device,
 * rdma_cm, exchange: the same in both runs). The ratios use perftest's own
 * figure unless the two disagree by more than CLOCK_TOLERANCE; then the
 * wall-clock one.
 */
import { spread, type Spread } from './stats.js';

/** Which figure of perftest's the ratios are taken against. */
export type ClockBasis = 'perftest' | 'wall-clock';

export interface ClockCheck {
  basis: ClockBasis;
  /** Wall-clock figure over perftest's own (medians; for a rate, the wall-clock rate over perftest's). NaN: no wall-clock figure. */
  wallOverOwn: number;
}

/** Relative disagreement above which the wall-clock figure is used. */
export const CLOCK_TOLERANCE = 0.1;

/** Chooses the figure the ratios use, from the medians of perftest's own and the wall-clock figures. */
export function chooseClock(own: Spread, wall: Spread | undefined): ClockCheck {
  const r = wall && wall.n > 0 && own.n > 0 && own.median > 0 ? wall.median / own.median : NaN;
  return { basis: Number.isFinite(r) && Math.abs(r - 1) > CLOCK_TOLERANCE ? 'wall-clock' : 'perftest', wallOverOwn: r };
}

/** The figures of the chosen basis (per repetition), for ratios. */
export function onBasis(check: ClockCheck, own: number[], wall: number[]): number[] {
  return check.basis === 'wall-clock' ? wall : own;
}

/**
 * Seconds per iteration from two runs of the same client: (wall2 - wall1) /
 * (iters2 - iters1). NaN when the difference is not positive (a run so short
 * that start-up noise swamps it).
 */
export function secondsPerIteration(iters1: number, wallMs1: number, iters2: number, wallMs2: number): number {
  const di = iters2 - iters1;
  const dt = (wallMs2 - wallMs1) / 1000;
  return di > 0 && dt > 0 && Number.isFinite(dt) ? dt / di : NaN;
}

/** Iterations of the second run: enough more than the first for `seconds` of wall-clock difference at `perSecond` (perftest's estimate), within [2x, 50x] the first. */
export function secondRunIters(iters1: number, perSecond: number, seconds: number): number {
  const extra = Number.isFinite(perSecond) && perSecond > 0 ? Math.round(perSecond * seconds) : 2 * iters1;
  return iters1 + Math.min(49 * iters1, Math.max(iters1, extra));
}

/** "wall-clock / perftest 0.97x: perftest's own used" */
export function describeClock(c: ClockCheck | undefined): string {
  if (!c) return 'not checked';
  const r = Number.isFinite(c.wallOverOwn) ? `${c.wallOverOwn.toFixed(2)}x` : 'n/a';
  return `${r}, ${c.basis === 'wall-clock' ? 'wall clock used' : "perftest's own used"}`;
}

/**
 * perftest's figures of one size, over its repetitions, and the references a
 * ratio divides by: bandwidth (MB/s), message rate (msg/s) and round trip (us),
 * each on the clock chooseClock picked.
 */
export function perftestReference(size: number, m: { pBw: number[]; pBwWall: number[]; pRtt: number[]; pRttWall: number[] }) {
  const perftestMBps = spread(m.pBw);
  const perftestWallMBps = spread(m.pBwWall);
  const bwClock = chooseClock(perftestMBps, perftestWallMBps);
  const refBw = onBasis(bwClock, m.pBw, m.pBwWall);
  const perftestRttUs = spread(m.pRtt);
  const perftestWallRttUs = spread(m.pRttWall);
  const latClock = chooseClock(perftestRttUs, perftestWallRttUs);
  const refRtt = onBasis(latClock, m.pRtt, m.pRttWall);
  const refRate = refBw.map((x) => (x * 1e6) / size);
  return { perftestMBps, perftestWallMBps, bwClock, refBw, refRate, perftestRttUs, perftestWallRttUs, latClock, refRtt };
}
