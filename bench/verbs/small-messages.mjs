// Small messages through Endpoint against perftest, in one VM boot (issue 15):
//
//   npm run vm -- --timeout 900 'node bench/verbs/small-messages.mjs'
//
// The measurement is the WRITE phase of the bench suite (bench/vm/write-runs.ts,
// run by `npm run bench`), restricted to small sizes: this runs
//
//   node --import tsx bench/vm/suite.ts --only write --sizes $SMALL_SIZES --reps $SMALL_REPS --out $SMALL_OUT
//
// and prints, per size, the message rate with 128 in flight (ib_write_bw vs
// Endpoint 'poll' and 'event'), the two-process ping-pong against
// ib_write_lat's round trip, and the awaited write, then the rows as one JSON
// line. Knobs: SMALL_SIZES (8,64,512,4096), SMALL_REPS (3), SMALL_OUT
// (build/bench/small-messages.json), SMALL_QUICK=1 (the suite's --quick counts).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const sizes = process.env.SMALL_SIZES ?? '8,64,512,4096';
const reps = process.env.SMALL_REPS ?? '3';
const out = process.env.SMALL_OUT ?? 'build/bench/small-messages.json';
const args = ['--import', 'tsx', 'bench/vm/suite.ts', '--only', 'write', '--sizes', sizes, '--reps', reps, '--out', out];
if (process.env.SMALL_QUICK === '1') args.push('--quick');
const code = await new Promise((resolve) => spawn(process.execPath, args, { stdio: 'inherit' }).on('close', (c, s) => resolve(c ?? s)));
let result;
try {
  result = JSON.parse(readFileSync(out, 'utf8'));
} catch {
  console.error(`small-messages: the suite wrote no results (exit ${code})`);
  process.exit(1);
}
const med = (s, d = 1, k = 1) => (s && s.n > 0 ? (s.median / k).toFixed(d) : 'n/a');
for (const w of result.write ?? []) {
  const r = w.rate;
  console.log(`${String(w.size).padStart(6)} B: rate kmsg/s ib_write_bw ${med(r?.perftestMsgPerSec, 1, 1e3)}, poll ${med(r?.pollMsgPerSec, 1, 1e3)} (${med(r?.pollRatio, 2)}x), ` +
    `event ${med(r?.eventMsgPerSec, 1, 1e3)} (${med(r?.eventRatio, 2)}x); round trip us ib_write_lat ${med(w.latClock?.basis === 'wall-clock' ? w.perftestWallRttUs : w.perftestRttUs)}` +
    ` (${w.latClock?.basis ?? '?'} clock), ping-pong poll ${med(w.pingPong?.pollUs)} (${med(w.pingPong?.pollRatio, 2)}x), event ${med(w.pingPong?.eventUs)} (${med(w.pingPong?.eventRatio, 2)}x); ` +
    `awaited write event ${med(w.endpointWriteUs)}, poll ${med(w.endpointWritePollUs)}`);
}
console.log(JSON.stringify({ kernel: result.kernel, device: result.device, reps: result.reps, rows: result.write ?? [], errors: result.errors, retries: result.retries }));
process.exit(code === 0 ? 0 : 1);
