// A consumer of the installed package: the README's put/get, checked byte for byte.
import { ClosedError, Endpoint, RdmaError, type RemoteBuffer } from 'rdma-regcache';

const host = process.env.RDMA_REGCACHE_IP ?? '192.0.2.1';
const device = process.env.RDMA_REGCACHE_DEVICE;

const listener = await Endpoint.listen({ device, host });
const [pe0, pe1] = await Promise.all([Endpoint.connect({ device, host, port: listener.port }), listener.accept()]);
listener.close();

const heap1 = new Float64Array(1024);
// Plain JSON: what would travel to the peer.
const remote: RemoteBuffer = JSON.parse(JSON.stringify(pe1.expose(heap1)));

const local = Float64Array.of(1.5, 2.5, 3.5, 4.5);
await pe0.write(local, remote, 8 * 8);
const put = [...heap1.subarray(8, 12)].join(',');
heap1[9] = 42;
await pe0.read(local, remote, 8 * 8);
const get = local.join(',');
console.log(`put: ${put}`);
console.log(`get: ${get}`);

pe0.close();
pe1.close();
let closed: unknown;
try {
  await pe0.write(local, remote);
} catch (err) {
  closed = err;
}
const ok =
  put === '1.5,2.5,3.5,4.5' && get === '1.5,42,3.5,4.5' && closed instanceof ClosedError && closed instanceof RdmaError && closed.code === 'ERR_CLOSED';
console.log(ok ? 'consumer: ok' : `consumer: FAILED (closed: ${String(closed)})`);
process.exitCode = ok ? 0 : 1;
