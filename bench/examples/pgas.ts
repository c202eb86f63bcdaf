// PGAS-style put/get between two endpoints (the README's quick start).
import { Endpoint } from 'rdma-regcache';

const host = process.env.RDMA_REGCACHE_IP ?? '192.0.2.1'; // the RDMA device's IP address
const device = process.env.RDMA_REGCACHE_DEVICE; // e.g. 'rxe0' (default: the first device)

// Two processing elements (PEs) over one connection; here both live in this process.
const listener = await Endpoint.listen({ device, host });
const [pe0, pe1] = await Promise.all([Endpoint.connect({ device, host, port: listener.port }), listener.accept()]);
listener.close();

// PE 1's symmetric heap, made reachable: `remote` is plain JSON to send to PE 0.
const heap1 = new Float64Array(1024);
const remote = pe1.expose(heap1);

// put: PE 0 writes four doubles into PE 1's heap at element 8 (offsets are in bytes).
const local = Float64Array.of(1.5, 2.5, 3.5, 4.5);
await pe0.write(local, remote, 8 * 8);
console.log('put:', [...heap1.subarray(8, 12)].join(','));

// get: PE 1 updates its heap; PE 0 reads the four doubles back (the registration is a cache hit).
heap1[9] = 42;
await pe0.read(local, remote, 8 * 8);
console.log('get:', local.join(','));

pe0.close();
pe1.close();
