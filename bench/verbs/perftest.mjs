// Runs perftest's ib_write_bw / ib_write_lat (server in the background, client
// against it) on one device in this machine and parses their result line.
import { spawn } from 'node:child_process';

let nextPort = 18600 + (process.pid % 500);

function start(cmd, args, timeoutMs) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
  return { child, done, exited: () => child.exitCode !== null || child.signalCode !== null };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Server in the background, then the client, retried while the server starts
// up. A server that dies (perftest's own crashes happen under emulation) is
// replaced by a new one on a new port.
async function pair(tool, common, host) {
  let last = '';
  for (let round = 0; round < 5; round++) {
    const args = [...common, '-p', String(nextPort++)];
    const server = start(tool, args, 300_000);
    await sleep(1500);
    for (let attempt = 0; attempt < 20 && !server.exited(); attempt++) {
      const client = await start(tool, [...args, host], 300_000).done;
      if (client.code === 0) {
        await server.done;
        return client.out;
      }
      last = client.out;
      await sleep(1000);
    }
    server.child.kill('SIGKILL');
    last += `\nserver:\n${(await server.done).out}`;
  }
  throw new Error(`${tool} failed:\n${last}`);
}

// The result row starts with the message size and iteration count.
function resultRow(out, size) {
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 5 && f[0] === String(size) && /^\d+$/.test(f[1])) return f.map(Number);
  }
  throw new Error(`no result row for ${size} bytes in:\n${out}`);
}

/**
 * ib_write_bw: bytes and messages per second, from its 'BW average[MB/sec]'
 * column (MiB/s in perftest). cqMod: a completion every cqMod writes (perftest's
 * default is 100; the binding signals every write, i.e. 1). perftest's CPU
 * frequency estimate sometimes fails under emulation (0 MB/s): such runs are repeated.
 */
export async function perftestBw({ device, host, size, iters, txDepth = 128, cqMod }) {
  const mod = cqMod === undefined ? [] : ['-Q', String(cqMod)];
  let out = '';
  for (let attempt = 0; attempt < 4; attempt++) {
    out = await pair('ib_write_bw', ['-R', '-F', '-d', device, '-s', String(size), '-n', String(iters), '-t', String(txDepth), ...mod], host);
    const [, n, , bwAvg] = resultRow(out, size);
    const bytesPerSec = bwAvg * 2 ** 20;
    if (bytesPerSec > 0) return { iters: n, msgPerSec: bytesPerSec / size, bytesPerSec };
  }
  throw new Error(`ib_write_bw reported no bandwidth:\n${out}`);
}

/**
 * ib_write_lat: average and typical one-way latency in microseconds (half the
 * round trip). perftest derives time from a CPU-frequency estimate that now and
 * then comes out as 0 under emulation ('inf' results): such runs are repeated.
 */
export async function perftestLat({ device, host, size, iters, inline }) {
  const extra = inline === undefined ? [] : ['-I', String(inline)];
  let out = '';
  for (let attempt = 0; attempt < 4; attempt++) {
    out = await pair('ib_write_lat', ['-R', '-F', '-d', device, '-s', String(size), '-n', String(iters), ...extra], host);
    const f = resultRow(out, size);
    if (Number.isFinite(f[5]) && f[5] > 0) return { iters: f[1], tMinUs: f[2], tTypicalUs: f[4], tAvgUs: f[5] };
  }
  throw new Error(`ib_write_lat gave no finite result:\n${out}`);
}
