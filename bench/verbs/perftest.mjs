// Runs perftest's ib_write_bw / ib_write_lat (server in the background, client
// against it) and parses their result line. The server runs in this machine,
// or on another host through `via`, a command prefix that runs a command there
// the way ssh does (e.g. ['scripts/vm/vm-rsh', 'node2'] in the two-host VM);
// the client always runs here and connects to `host`.
import { execFile, spawn } from 'node:child_process';

let nextPort = 18600 + (process.pid % 500);

function start(cmd, args, timeoutMs) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out });
    });
  });
  return { child, done, exited: () => child.exitCode !== null || child.signalCode !== null };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Output of `rdma resource show cm_id` where the server runs (null if the tool failed). */
function cmIds(via) {
  const [cmd, ...args] = [...via, 'rdma', 'resource', 'show', 'cm_id'];
  return new Promise((resolve) => execFile(cmd, args, { timeout: 30_000 }, (err, stdout) => resolve(err ? null : String(stdout))));
}

/**
 * Waits until the server listens on `port` (its rdma_cm id in state LISTEN),
 * or has exited, or 60 s passed, rather than a fixed 1.5 s: starting the
 * server through vm-rsh can take seconds under load. Without the `rdma` tool
 * it falls back to the fixed wait.
 */
async function untilListening(server, port, via) {
  const listening = new RegExp(`state LISTEN .*:${port}\\b`);
  const deadline = Date.now() + 60_000;
  while (!server.exited() && Date.now() < deadline) {
    const out = await cmIds(via);
    if (out === null) break; // no rdma tool there: the fixed wait below
    if (listening.test(out)) return;
    await sleep(200);
  }
  if (!server.exited()) await sleep(1500);
}

// How a process ended, for the record: 'exit 1', 'SIGSEGV'.
const ending = (c) => (c.signal ? c.signal : `exit ${c.code}`);
const lastLine = (out) => out.split('\n').map((l) => l.trim()).filter(Boolean).slice(-1)[0] ?? '';
// perftest's own error lines (its rdma_cm event and the call that failed), for the record.
const errorLines = (out) => out.split('\n').map((l) => l.trim())
  .filter((l) => /error|fail|Event:|ERRNO/i.test(l)).slice(-6).join(' | ') || lastLine(out);

// perftest 4.5-0.17 (Debian 12) has a use-after-free in its client's rdma_cm
// retry: when its first connection request is rejected (the server listens
// for the data connection only after the out-of-band handshake, and under
// emulation the client's request can arrive first), rdma_cm_client_connection
// destroys its ids and event channel, then retries with them and dies of a
// general protection fault in librdmacm. Its stderr then says "Event:
// RDMA_CM_EVENT_REJECTED; error: 8." (8: no listener on that service id);
// across the two hosts, 3 of 23 clients of 20 ib_write_lat pairs on 2026-12-03.
// Fixed upstream by perftest commit 3d9d8d0 ("Fix crashes and logical flaws
// in RDMA CM connection retry", 2025-12). Its server then waits for a data
// connection that never comes, so a crash retires the server too.

// Server in the background, then the client, retried while the server starts
// up. A server that dies (perftest's own crashes happen under emulation) is
// replaced by a new one on a new port. `record` (optional) hears of every
// server started (ran) and every one that gave no result (failed, with why),
// so a caller can report them instead of hiding them. Returns the client's
// output and its wall-clock time (ms, from its start to its exit: connection
// set-up included, see perftestClock in bench/lib/perftest-clock.ts).
async function pair(tool, common, host, record, via = []) {
  let last = '';
  for (let round = 0; round < 5; round++) {
    const port = nextPort++;
    const args = [...common, '-p', String(port)];
    record?.ran();
    const server = via.length ? start(via[0], [...via.slice(1), tool, ...args], 300_000) : start(tool, args, 300_000);
    await untilListening(server, port, via);
    let crashed = false;
    for (let attempt = 0; attempt < 20 && !server.exited(); attempt++) {
      const t0 = process.hrtime.bigint();
      const client = await start(tool, [...args, host], 300_000).done;
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      if (client.code === 0) {
        await server.done;
        return { out: client.out, wallMs };
      }
      last = client.out;
      if (client.signal) {
        // A client that crashed (not one refused while the server starts up)
        // is a run of its own, and leaves its server stuck (see above).
        record?.ran();
        record?.failed(`client killed by ${client.signal}: ${errorLines(client.out)}`);
        crashed = true;
        break;
      }
      await sleep(1000);
    }
    const died = server.exited();
    server.child.kill('SIGKILL');
    const s = await server.done;
    record?.failed(died ? `server ended (${ending(s)}) before a client got through: ${lastLine(s.out)}`
      : crashed ? 'server stopped: its client crashed' : `no client got through in 20 tries: ${lastLine(last)}`);
    last += `\nserver:\n${s.out}`;
  }
  throw new Error(`${tool} failed:\n${last}`);
}

// The result row starts with the message size and iteration count; a run
// without one is told to `record` before the error goes up.
function resultRow(out, size, record) {
  try {
    return findRow(out, size);
  } catch (err) {
    record?.failed(`printed no result row: ${lastLine(out)}`);
    throw err;
  }
}

function findRow(out, size) {
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 5 && f[0] === String(size) && /^\d+$/.test(f[1])) return f.map(Number);
  }
  throw new Error(`no result row for ${size} bytes in:\n${out}`);
}

/**
 * Bytes per second of an ib_write_bw row from whichever of its two columns
 * was printed with more significant digits: 'BW average' (MiB/s, two
 * decimals: 0.02 for 8 B messages across the emulated wire) or 'MsgRate'
 * (Mpps, six decimals: too few for 1 MiB messages at 50 per second). Both
 * come from the same iteration count and time.
 */
export function rowBytesPerSec(bwAvg, mpps, size) {
  const fromBw = bwAvg * 2 ** 20;
  if (!(Number.isFinite(mpps) && mpps > 0) || !(bwAvg > 0)) return fromBw;
  // Rounding error relative to the value: half a unit of the last printed digit.
  return 0.005 / bwAvg <= 0.0000005 / mpps ? fromBw : mpps * 1e6 * size;
}

/**
 * ib_write_bw: bytes and messages per second, from its 'BW average[MB/sec]'
 * column (MiB/s in perftest) or its 'MsgRate[Mpps]' (rowBytesPerSec). cqMod: a completion every cqMod writes (perftest's
 * default is 100; the binding signals every write, i.e. 1). perftest's CPU
 * frequency estimate sometimes fails under emulation (0 MB/s): such runs are
 * repeated, and told to `record` ({ ran(), failed(why) }) if given. `via`:
 * where the server runs (see the top of this file; default here). `wallMs`:
 * the client's wall-clock time, start to exit.
 */
export async function perftestBw({ device, host, size, iters, txDepth = 128, cqMod, record, via }) {
  const mod = cqMod === undefined ? [] : ['-Q', String(cqMod)];
  let out = '';
  for (let attempt = 0; attempt < 4; attempt++) {
    let wallMs;
    ({ out, wallMs } = await pair('ib_write_bw', ['-R', '-F', '-d', device, '-s', String(size), '-n', String(iters), '-t', String(txDepth), ...mod], host, record, via));
    const [, n, , bwAvg, mpps] = resultRow(out, size, record);
    const bytesPerSec = rowBytesPerSec(bwAvg, mpps, size);
    if (bytesPerSec > 0) return { iters: n, msgPerSec: bytesPerSec / size, bytesPerSec, wallMs };
    record?.failed('reported 0 MB/s (its CPU frequency estimate failed)');
  }
  throw new Error(`ib_write_bw reported no bandwidth:\n${out}`);
}

/**
 * ib_write_lat: average and typical one-way latency in microseconds (half the
 * round trip). perftest derives time from a CPU-frequency estimate that now and
 * then comes out as 0 under emulation ('inf' results): such runs are repeated,
 * and told to `record` if given. `wallMs`: the client's wall-clock time.
 */
export async function perftestLat({ device, host, size, iters, inline, record, via }) {
  const extra = inline === undefined ? [] : ['-I', String(inline)];
  let out = '';
  for (let attempt = 0; attempt < 4; attempt++) {
    let wallMs;
    ({ out, wallMs } = await pair('ib_write_lat', ['-R', '-F', '-d', device, '-s', String(size), '-n', String(iters), ...extra], host, record, via));
    const f = resultRow(out, size, record);
    if (Number.isFinite(f[5]) && f[5] > 0) return { iters: f[1], tMinUs: f[2], tTypicalUs: f[4], tAvgUs: f[5], wallMs };
    record?.failed(`gave no finite latency (t_avg ${f[5]}; its CPU frequency estimate failed)`);
  }
  throw new Error(`ib_write_lat gave no finite result:\n${out}`);
}
