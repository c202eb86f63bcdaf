// The bench's targets, report and charts (bench/lib): the small-message and
// ping-pong rows of issue 15, perftest's clock check, and results recorded
// before them (bench/results/*.json) still render. Synthetic figures only:
// nothing here measures or asserts a time.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import type { HostsWriteRow } from '../../bench/hosts/write-runs.js';
import { chooseClock, secondRunIters, secondsPerIteration } from '../../bench/lib/perftest-clock.js';
import { reportCharts } from '../../bench/lib/report-charts.js';
import { report } from '../../bench/lib/report.js';
import type { BenchResults } from '../../bench/lib/results.js';
import { spread } from '../../bench/lib/stats.js';
import { targets } from '../../bench/lib/targets.js';
import { writeRow } from '../../bench/vm/write-row.js';

const s = (...v: number[]) => spread(v);

describe("perftest's clock", () => {
  test('own figure unless the wall clock differs by more than 10%', () => {
    expect(chooseClock(s(100), s(95)).basis).toBe('perftest');
    expect(chooseClock(s(100), s(80)).basis).toBe('wall-clock');
    expect(chooseClock(s(100), s(120)).basis).toBe('wall-clock');
    expect(chooseClock(s(100), s(NaN))).toMatchObject({ basis: 'perftest' });
    expect(chooseClock(s(100), undefined).basis).toBe('perftest');
  });
  test('per-iteration time from two runs; none when the difference is not positive', () => {
    expect(secondsPerIteration(1000, 500, 3000, 700)).toBeCloseTo(1e-4);
    expect(secondsPerIteration(1000, 700, 3000, 500)).toBeNaN();
    expect(secondsPerIteration(1000, 500, 1000, 700)).toBeNaN();
  });
  test('second run: 2x to 50x the first', () => {
    expect(secondRunIters(100, 1e6, 1)).toBe(5000);
    expect(secondRunIters(100, 10, 1)).toBe(200);
    expect(secondRunIters(100, NaN, 1)).toBe(300);
    expect(secondRunIters(1000, 5000, 1)).toBe(6000);
  });
});

/** Per-repetition figures of one size: perftest's own clock `own`, the wall clock `wall` x it. */
function oneGuestRow(size: number, o: { rateOurs: number; wall?: number; ppPoll: number }) {
  const wall = o.wall ?? 1;
  const mb = (size * 100_000) / 1e6; // 100k msg/s
  return writeRow(size, 1000, 100, {
    pBw: [mb, mb], pBwWall: [mb * wall, mb * wall], eBw: [mb * 0.5, mb * 0.5], eRate: [50_000, 50_000],
    pRate: size <= 4096 ? [o.rateOurs, o.rateOurs] : [],
    pRtt: [30, 30], pRttWall: [30 * wall, 30 * wall], ppPoll: [o.ppPoll, o.ppPoll], ppEvent: size <= 4096 ? [300, 300] : [],
    awEvent: [400, 400], awPoll: size <= 4096 ? [60, 60] : [],
  });
}

function base(): BenchResults {
  return {
    date: '2026-12-02', quick: false, reps: 2,
    machine: { cpu: 'cpu', cores: 2, hostKernel: 'k', node: 'v20', loadAverage: 7, otherGuests: 2, commit: 'abc' },
    host: null, vm: {}, errors: [], warnings: [], seconds: 60,
  };
}

function withWrite(): BenchResults {
  const r = base();
  r.vm['6.1'] = {
    kernel: '6.1.0', guestCpu: 'x', device: 'rxe0', quick: false, reps: 2, seconds: 1,
    write: [
      oneGuestRow(8, { rateOurs: 95_000, ppPoll: 36 }),
      oneGuestRow(64, { rateOurs: 80_000, ppPoll: 40 }),
      // perftest's clock off by 30%: the ratios use the wall clock (130k msg/s).
      oneGuestRow(512, { rateOurs: 120_000, wall: 1.3, ppPoll: 40 }),
      oneGuestRow(4096, { rateOurs: 91_000, ppPoll: 50 }),
      oneGuestRow(65536, { rateOurs: 0, ppPoll: 900 }),
    ],
  };
  return r;
}

describe('targets', () => {
  test("message rate in 'poll' >= 0.9x ib_write_bw, 'event' reported; 8 B ping-pong <= 1.3x", () => {
    const rows = targets(withWrite());
    const rate = (size: string) => rows.find((t) => t.target.startsWith(`RDMA WRITE message rate, ${size},`))!;
    expect(rate('8 B')).toMatchObject({ met: true, limit: '>= 0.9x' });
    expect(rate('8 B').ratio!.median).toBeCloseTo(0.95);
    expect(rate('8 B').absolute).toMatch(/'event': 50\.0 kmsg\/s, 0\.50x/);
    expect(rate('64 B').met).toBe(false);
    // Against the wall clock's 130k msg/s, not perftest's own 100k.
    expect(rate('512 B').ratio!.median).toBeCloseTo(120 / 130);
    expect(rate('512 B').absolute).toMatch(/by the wall clock/);
    expect(rate('4 KiB').met).toBe(true);
    const pp = rows.find((t) => t.target.startsWith('8 B ping-pong round trip'))!;
    expect(pp).toMatchObject({ met: true, limit: '<= 1.3x' });
    expect(pp.ratio!.median).toBeCloseTo(36 / 30);
    expect(pp.absolute).toMatch(/'event': 300\.0 us, 10\.00x/);
    // The awaited write is reported in the report, never as a target.
    expect(rows.some((t) => /awaited/i.test(t.target))).toBe(false);
    expect(rows.find((t) => t.target.includes('bandwidth') && t.target.includes('64 KiB'))!.ratio!.median).toBeCloseTo(0.5);
  });

  test('not measured: rows say so', () => {
    const r = withWrite();
    r.vm['6.1']!.write = r.vm['6.1']!.write!.filter((w) => w.size !== 64);
    expect(targets(r).find((t) => t.target.startsWith('RDMA WRITE message rate, 64 B,'))).toMatchObject({ met: null, ratio: null });
  });

  test('across hosts: rate and ping-pong rows from new rows, the recorded row from older ones', () => {
    const r = base();
    const row = (size: number): HostsWriteRow => ({
      size, bwIters: 300, latIters: 50,
      perftestMBps: s(1), perftestWallMBps: s(1), bwClock: { basis: 'perftest', wallOverOwn: 1 }, worldMBps: s(0.9), bwRatio: s(0.9),
      rate: size <= 4096 ? { perftestMsgPerSec: s(1e4), pollMsgPerSec: s(9.5e3), pollRatio: s(0.95), worldMsgPerSec: s(5e3), worldRatio: s(0.5) } : undefined,
      perftestRttUs: s(100), perftestWallRttUs: s(150), latClock: { basis: 'wall-clock', wallOverOwn: 1.5 },
      pingPong: { iters: 50, pollUs: s(180), pollRatio: s(1.2) }, worldWriteUs: s(900),
    });
    r.hosts = { kernel: 'k', guestCpu: 'c', device: 'rxe0', hosts: ['node1', 'node2'], quick: true, reps: 1, seconds: 1,
      write: { ranks: ['node1', 'node2'], perftestServer: 'node2', perftestHost: 'node2', endpointPeer: 'node2', rows: [row(8), row(65536)] } };
    const rows = targets(r);
    expect(rows.find((t) => t.target.startsWith('across hosts: RDMA WRITE message rate, 8 B'))).toMatchObject({ met: true });
    expect(rows.find((t) => t.target.startsWith('across hosts: RDMA WRITE message rate, 64 B'))).toMatchObject({ met: null });
    const pp = rows.find((t) => t.target.startsWith('across hosts: 8 B ping-pong'))!;
    expect(pp.met).toBe(true);
    expect(pp.absolute).toMatch(/180\.0 us vs 150\.0 us, perftest by the wall clock/);
    expect(rows.some((t) => t.target.includes('awaited world.write'))).toBe(false);

    const old = r.hosts.write!.rows.map(({ pingPong: _p, rate: _r, bwClock: _b, latClock: _l, perftestWallMBps: _w, perftestWallRttUs: _v, ...q }) => ({ ...q, latRatio: s(3) }));
    r.hosts.write!.rows = old;
    const oldRows = targets(r);
    expect(oldRows.find((t) => t.target.includes('awaited world.write'))).toMatchObject({ met: false });
    expect(oldRows.some((t) => t.target.startsWith('across hosts') && t.target.includes('ping-pong'))).toBe(false);
  });
});

describe('report', () => {
  test("new sections: perftest's clock, rate, ping-pong, awaited write apart; charts", async () => {
    const r = withWrite();
    const md = report({ results: r, targets: targets(r), charts: new Map([['small-rate', 'x-small-rate.svg']]) });
    expect(md).toContain("perftest's clock");
    expect(md).toContain('**wall clock**'); // the 512 B row
    expect(md).toContain('### Small messages: message rate, 128 in flight');
    expect(md).toContain('### Round trip: ping-pong between two processes against ib_write_lat');
    expect(md).toContain('### Awaited Endpoint.write (post to completion), reported apart');
    expect(md).toContain('![small-message rate](x-small-rate.svg)');
    const names = (await reportCharts(r)).map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['write-bw', 'write-lat', 'small-rate']));
  });

  // Files written before the small-message measurements render as they always
  // did; files written after them carry the message rate and perftest's clock.
  const recorded = readdirSync('bench/results').filter((f) => /^\d{4}-\d{2}-\d{2}\.json$/.test(f));
  const load = (f: string) => JSON.parse(readFileSync(`bench/results/${f}`, 'utf8')) as BenchResults;
  const smallMessages = (r: BenchResults) =>
    Object.values(r.vm ?? {}).some((k) => (k as { write?: { rate?: unknown }[] } | null)?.write?.some((w) => w.rate !== undefined));
  const withSmall = new Set(recorded.filter((f) => smallMessages(load(f))));
  const before = recorded.filter((f) => !withSmall.has(f));
  const after = [...withSmall];

  test('both kinds of recorded results exist', () => {
    expect(before.length).toBeGreaterThan(0);
    expect(after.length).toBeGreaterThan(0);
  });

  test.each(after)('results recorded with small messages render them: %s', async (f) => {
    const r = load(f);
    const rows = targets(r);
    expect(rows.some((t) => t.target.includes('message rate'))).toBe(true);
    const md = report({ results: r, targets: rows, charts: new Map() });
    expect(md).toContain("perftest's clock");
    expect((await reportCharts(r)).map((c) => c.name)).toContain('small-rate');
  });

  test.each(before)('results recorded before render: %s', async (f) => {
    const r = load(f);
    const rows = targets(r);
    expect(rows.some((t) => t.target.includes('message rate'))).toBe(false);
    const md = report({ results: r, targets: rows, charts: new Map() });
    if (r.vm['6.1']?.write) expect(md).toContain('Endpoint write us');
    expect(md).not.toContain("perftest's clock");
    await reportCharts(r);
  });
});
