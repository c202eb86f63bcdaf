/**
 * The wire's health during a benchmark phase: rxe's own counters
 * (/sys/class/infiniband/<dev>/ports/1/hw_counters: packets sent and
 * received, retries, out-of-sequence and duplicate packets, RNR NAKs) and the
 * NIC's drop/error counters, read on both guests before and after the phase.
 * Retries and out-of-sequence packets mean frames were lost on the wire and
 * rxe waited for its retransmission timer: such a phase measures the timer,
 * not the library.
 */
import { spawn } from 'node:child_process';
import { isLocal, onPeer, type Hosts } from './launch.js';

export type Counters = Record<string, number>;

/** Counter deltas per guest ('node1', 'node2'), only those that moved. */
export type CounterDeltas = Record<string, Counters>;

function script(device: string, nic: string): string {
  return `cd /sys/class/infiniband/${device}/ports/1/hw_counters 2>/dev/null && grep -H . * 2>/dev/null; ` +
    `cd /sys/class/net/${nic}/statistics 2>/dev/null && for f in rx_packets tx_packets rx_dropped tx_dropped rx_errors tx_errors; do echo "${nic}.$f:$(cat $f)"; done`;
}

function runShell(prefix: string[], command: string): Promise<string> {
  return new Promise((resolve) => {
    const [cmd, ...args] = prefix.length ? [...prefix, command] : ['bash', '-c', command];
    const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', () => resolve(''));
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

function parse(out: string): Counters {
  const c: Counters = {};
  for (const line of out.split('\n')) {
    const m = /^([\w.]+):(\d+)$/.exec(line.trim());
    if (m) c[m[1]!] = Number(m[2]);
  }
  return c;
}

/** Both guests' counters now (keyed by guest name; one entry in the one-guest mode). */
export async function readCounters(hosts: Hosts, device: string, nic = process.env.RDMA_REGCACHE_NIC ?? 'wire0'): Promise<Record<string, Counters>> {
  const here = isLocal(hosts) ? 'local' : hosts.self;
  const s = script(device, isLocal(hosts) ? 'veth0' : nic);
  const [a, b] = await Promise.all([runShell([], s), isLocal(hosts) ? Promise.resolve(undefined) : runShell(onPeer(hosts), s)]);
  const out: Record<string, Counters> = { [here]: parse(a) };
  if (b !== undefined) out[hosts.peer] = parse(b);
  return out;
}

/** What moved between two readings. */
export function counterDeltas(before: Record<string, Counters>, after: Record<string, Counters>): CounterDeltas {
  const out: CounterDeltas = {};
  for (const [host, a] of Object.entries(after)) {
    const b = before[host] ?? {};
    const d: Counters = {};
    for (const [k, v] of Object.entries(a)) if (v !== (b[k] ?? 0)) d[k] = v - (b[k] ?? 0);
    out[host] = d;
  }
  return out;
}

/** Counters that mean lost or repeated frames (zero on a clean wire). */
export const TROUBLE = /retry|seq_err|out_of_seq|duplicate|rnr|send_err|dropped|errors/;

/** "node1: completer_retry_err 12, rcvd_seq_err 3; node2: ..." or "none". */
export function troubleText(d: CounterDeltas | undefined): string {
  if (!d) return 'not read';
  const parts = Object.entries(d).map(([host, c]) => {
    const bad = Object.entries(c).filter(([k, v]) => TROUBLE.test(k) && v > 0);
    return bad.length ? `${host}: ${bad.map(([k, v]) => `${k} ${v}`).join(', ')}` : '';
  }).filter(Boolean);
  return parts.length ? parts.join('; ') : 'none';
}
