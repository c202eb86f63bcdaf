/**
 * The far process of the library's WRITE benchmarks (bench/vm/peer-link.ts
 * starts it, here or on the other host through scripts/vm/vm-rsh): one
 * Endpoint per progress mode, each exposing an inbox of BYTES bytes, then
 * commands on stdin, one per line, answered by JSON lines on stdout:
 *
 *   node --import tsx bench/vm/peer.ts --bytes BYTES [--host IP] [--device rxe0]
 *
 *   (start)              {"op":"listen","mode":"event","host":..,"port":..}, after the
 *                        connection {"op":"remote","mode":"event","remote":{..}};
 *                        then the same for "poll"
 *   hello MODE JSON      the peer's inbox for MODE (a RemoteBuffer)
 *   pp MODE SIZE ITERS WARM
 *                        {"op":"pp-ready"} once the inbox is cleared, then the passive
 *                        side of a ping-pong (bench/vm/pingpong.ts), then {"op":"pp-done"}
 *   end (or EOF)         closes and exits 0
 *
 * Errors: {"op":"error","message":..} and exit 1. Writes into the inbox
 * (bandwidth, message rate) need nothing from this side.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Endpoint, type Progress, type RemoteBuffer } from '../../src/index.js';
import { pingPong, resetInbox, type PingPongSide } from './pingpong.js';

const { values } = parseArgs({ options: { bytes: { type: 'string' }, host: { type: 'string' }, device: { type: 'string' } } });
const bytes = Number(values.bytes);
const host = values.host ?? process.env.RDMA_REGCACHE_IP;
const device = values.device ?? process.env.RDMA_REGCACHE_DEVICE ?? 'rxe0';
if (!Number.isInteger(bytes) || bytes < 1 || !host) {
  console.error('usage: bench/vm/peer.ts --bytes BYTES [--host IP] [--device rxe0]');
  process.exit(2);
}
const say = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
const MODES: Progress[] = ['event', 'poll'];
const links = new Map<string, { ep: Endpoint; inbox: Uint8Array; out: Uint8Array; remote?: RemoteBuffer }>();

let status = 0;
try {
  for (const mode of MODES) {
    const listener = await Endpoint.listen({ device, host, port: 0, queueDepth: 128, progress: mode });
    say({ op: 'listen', mode, host, port: listener.port });
    const ep = await listener.accept();
    listener.close();
    const inbox = new Uint8Array(new SharedArrayBuffer(bytes));
    links.set(mode, { ep, inbox, out: new Uint8Array(bytes) });
    say({ op: 'remote', mode, remote: ep.expose(inbox) });
  }
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    const [op, mode, ...rest] = line.trim().split(/\s+/);
    if (!op) continue;
    if (op === 'end') break;
    const link = links.get(mode ?? '');
    if (!link) throw new Error(`peer: unknown mode in '${line}'`);
    if (op === 'hello') {
      link.remote = JSON.parse(line.trim().split(/\s+/).slice(2).join(' ')) as RemoteBuffer;
    } else if (op === 'pp') {
      const [size, iters, warm] = rest.map(Number);
      if (!link.remote) throw new Error('peer: pp before hello');
      if (!(size! >= 1 && size! <= bytes && iters! >= 1 && warm! >= 0)) throw new RangeError(`peer: bad command '${line}'`);
      const side: PingPongSide = { ep: link.ep, inbox: link.inbox, out: link.out, remote: link.remote };
      resetInbox(side, size!);
      say({ op: 'pp-ready' });
      await pingPong(side, { size: size!, iters: iters!, warm: warm!, active: false });
      say({ op: 'pp-done' });
    } else {
      throw new Error(`peer: unknown command '${op}'`);
    }
  }
} catch (err) {
  say({ op: 'error', message: (err as Error).message });
  status = 1;
}
for (const l of links.values()) l.ep.close();
process.exit(status);
