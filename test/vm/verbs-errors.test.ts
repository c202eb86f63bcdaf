// Completion errors, lifetime (use after close, double close, parents closing
// children, closing with operations in flight) and a table of wrong arguments
// against live objects on rxe0.
import { afterEach, describe, expect, it } from 'vitest';
import { ClosedError, RdmaError, connect, listen, type QueuePair } from '../../src/index.js';
import { native } from '../../src/native.js';
import { connectedPair, HOST, type Pair } from './verbs-helpers.js';

let open: Pair[] = [];
async function pair(opts?: Parameters<typeof connectedPair>[0]): Promise<Pair> {
  const p = await connectedPair(opts);
  open.push(p);
  return p;
}
afterEach(() => {
  for (const p of open) p.ctx.close();
  open = [];
});

async function rejection(promise: Promise<unknown>): Promise<RdmaError & { status?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as RdmaError;
  }
  throw new Error('expected a rejection');
}

function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('completion errors', () => {
  it('a wrong rkey rejects with IBV_WC_REM_ACCESS_ERR and the QP reports ERR', async () => {
    const { pd, client } = await pair();
    const a = pd.registerMemory(Buffer.alloc(64));
    const b = pd.registerMemory(Buffer.alloc(64));
    expect(client.state).toBe('RTS');
    const err = await rejection(client.write(a.sge(), { address: b.address, rkey: (b.rkey + 1) >>> 0 }));
    expect(err).toBeInstanceOf(RdmaError);
    expect(err.code).toBe('ECOMM');
    expect(err.syscall).toBe('ibv_post_send');
    expect(err.status).toBe('IBV_WC_REM_ACCESS_ERR');
    expect(client.state).toBe('ERR');
    // later operations flush
    const later = await rejection(client.write(a.sge(), b.remote()));
    expect(later.status).toBe('IBV_WC_WR_FLUSH_ERR');
  });

  it('an out-of-bounds remote address rejects with a remote error status', async () => {
    const { pd, client } = await pair();
    const a = pd.registerMemory(Buffer.alloc(4096));
    const b = pd.registerMemory(Buffer.alloc(64));
    const err = await rejection(client.write(a.sge(0, 128), b.remote(0)));
    expect(err.status).toMatch(/^IBV_WC_REM_(ACCESS|INV_REQ|OP)_ERR$/);
    expect(client.state).toBe('ERR');
  });

  it('a READ into memory without LOCAL_WRITE fails locally', async () => {
    const { pd, client } = await pair();
    const ro = pd.registerMemory(Buffer.alloc(64), 0);
    const b = pd.registerMemory(Buffer.alloc(64));
    const err = await rejection(client.read(ro.sge(), b.remote()));
    expect(err.status).toMatch(/^IBV_WC_(LOC_PROT|LOC_ACCESS|REM_ACCESS)_ERR$/);
  });

  it('a SEND larger than the posted RECV fails on both sides', async () => {
    const { pd, client, server } = await pair();
    const a = pd.registerMemory(Buffer.alloc(256));
    const b = pd.registerMemory(Buffer.alloc(256));
    const recv = rejection(server.recv(b.sge(0, 16)));
    const send = rejection(client.send(a.sge(0, 200)));
    expect((await recv).status).toMatch(/^IBV_WC_LOC_(LEN|QP_OP)_ERR$/);
    expect((await send).status).toMatch(/^IBV_WC_REM_(INV_REQ|OP)_ERR$/);
  });
});

describe('lifetime', () => {
  it('use after close throws ERR_CLOSED; close is idempotent; Symbol.dispose closes', async () => {
    const { ctx, pd, cq, client } = await pair();
    const mr = pd.registerMemory(Buffer.alloc(16));
    mr.deregister();
    mr.deregister();
    expect(mr.closed).toBe(true);
    expect(thrown(() => mr.sge()).code).toBe('ERR_CLOSED');
    {
      using tmp = pd.registerMemory(Buffer.alloc(16));
      expect(tmp.closed).toBe(false);
      var leaked = tmp; // eslint-disable-line no-var
    }
    expect(leaked.closed).toBe(true);
    client.close();
    client.close();
    expect(thrown(() => client.write(mr.sge as never, mr.remote as never)).code).toBe('ERR_CLOSED');
    expect(thrown(() => client.state).code).toBe('ERR_CLOSED');
    ctx.close();
    ctx.close();
    for (const obj of [pd, cq]) expect(obj.closed).toBe(true);
    expect(thrown(() => pd.registerMemory(Buffer.alloc(8))).code).toBe('ERR_CLOSED');
    expect(thrown(() => cq.poll()).code).toBe('ERR_CLOSED');
    expect(thrown(() => ctx.allocPd()).code).toBe('ERR_CLOSED');
    expect(thrown(() => ctx.queryPort(1)).code).toBe('ERR_CLOSED');
    expect(thrown(() => ctx.queryPort(1))).toBeInstanceOf(ClosedError);
  });

  it('a closed native object throws the same ClosedError (RdmaError, errno EBADF)', () => {
    // Straight to the native class, past the TypeScript layer's own check.
    const ctx = new native.Context(process.env.RDMA_REGCACHE_DEVICE);
    ctx.close();
    const err = thrown(() => ctx.queryPort(1));
    expect(err).toBeInstanceOf(ClosedError);
    expect(err).toBeInstanceOf(RdmaError);
    expect(err).toMatchObject({ code: 'ERR_CLOSED', errno: 9, syscall: 'Context', message: 'Context is closed' });
  });

  it('closing a PD deregisters its MRs and closes its queue pairs first', async () => {
    const { pd, client, server, cq } = await pair();
    const mrs = [1, 2, 3].map(() => pd.registerMemory(Buffer.alloc(4096)));
    pd.close();
    for (const mr of mrs) expect(mr.closed).toBe(true);
    expect(client.closed && server.closed).toBe(true);
    expect(cq.closed).toBe(false);
    expect(cq.pending).toBe(0);
  });

  it('closing a queue pair with operations in flight rejects each with ERR_CLOSED', async () => {
    const { pd, client, server, cq } = await pair();
    const b = pd.registerMemory(Buffer.alloc(1 << 20));
    const recvs = [0, 1, 2, 3].map(() => server.recv(b.sge(0, 64)));
    const writes = [0, 1, 2, 3].map(() => client.write(b.sge(), b.remote()));
    server.close();
    client.close();
    for (const r of [...recvs, ...writes]) {
      const err = await rejection(r);
      expect((err as { code?: string }).code).toBe('ERR_CLOSED');
    }
    expect(cq.pending).toBe(0);
  });

  it('disconnect flushes pending receives on both sides with IBV_WC_WR_FLUSH_ERR', async () => {
    const { pd, client, server } = await pair();
    const b = pd.registerMemory(Buffer.alloc(64));
    const mine = rejection(client.recv(b.sge()));
    const theirs = rejection(server.recv(b.sge()));
    await client.disconnect();
    expect((await mine).status).toBe('IBV_WC_WR_FLUSH_ERR');
    expect((await theirs).status).toBe('IBV_WC_WR_FLUSH_ERR');
    await server.disconnected;
    await client.disconnect(); // idempotent
    expect(client.state).toBe('ERR');
  });

  it('closing a CQ closes the queue pairs that use it', async () => {
    const { cq, client, server, pd } = await pair();
    cq.close();
    expect(client.closed && server.closed).toBe(true);
    expect(pd.closed).toBe(false);
  });

  it('the send queue is bounded: beyond maxSendWr posting throws ENOMEM', async () => {
    const { pd, client } = await pair({ maxSendWr: 4 });
    const b = pd.registerMemory(Buffer.alloc(1 << 20));
    const ops = [0, 1, 2, 3].map(() => client.write(b.sge(), b.remote()));
    const err = thrown(() => client.write(b.sge(), b.remote()));
    expect(err).toBeInstanceOf(RdmaError);
    expect(err.code).toBe('ENOMEM');
    await Promise.all(ops);
    await client.write(b.sge(0, 8), b.remote());
  });

  it('a CQ too small for the queue pairs is a RangeError', async () => {
    const { ctx, pd } = await pair();
    const small = ctx.createCq(8);
    const listener = await listen({ host: HOST });
    try {
      await expect(connect({ pd, sendCq: small, host: HOST, port: listener.port })).rejects.toThrow(RangeError);
    } finally {
      listener.close();
    }
  });

  it('connecting to a port nobody listens on rejects with ECONNREFUSED', async () => {
    const { pd, cq } = await pair();
    const listener = await listen({ host: HOST });
    const port = listener.port;
    listener.close();
    const err = await rejection(connect({ pd, sendCq: cq, host: HOST, port }));
    expect(err).toBeInstanceOf(RdmaError);
    expect(['ECONNREFUSED', 'ETIMEDOUT', 'ECONNRESET']).toContain(err.code);
  });

  it('a rejected request fails connect with ECONNREFUSED and the reject data', async () => {
    const { pd, cq } = await pair();
    const listener = await listen({ host: HOST });
    try {
      const req = listener.nextRequest();
      const conn = rejection(connect({ pd, sendCq: cq, host: HOST, port: listener.port, privateData: Buffer.from('knock') }));
      const r = await req;
      expect(r.privateData!.subarray(0, 5).toString()).toBe('knock');
      r.reject(Buffer.from('go away'));
      const err = await conn;
      expect(err.code).toBe('ECONNREFUSED');
      expect((err as { privateData?: Buffer }).privateData?.subarray(0, 7).toString()).toBe('go away');
    } finally {
      listener.close();
    }
  });

  it('closing a listener rejects a pending accept with ERR_CLOSED', async () => {
    const { pd, cq } = await pair();
    const listener = await listen({ host: HOST });
    const waiting = rejection(listener.accept({ pd, sendCq: cq }));
    listener.close();
    expect((await waiting as { code?: string }).code).toBe('ERR_CLOSED');
  });
});

describe('wrong arguments on live objects: TypeError or RangeError, never a crash', () => {
  it('table', async () => {
    const { ctx, pd, cq, client } = await pair();
    const mr = pd.registerMemory(Buffer.alloc(64));
    const sge = mr.sge();
    const rem = mr.remote();
    const qp: QueuePair = client;
    const table: [string, () => unknown, ErrorConstructor][] = [
      ['createCq(0)', () => ctx.createCq(0), RangeError],
      ['createCq(1.5)', () => ctx.createCq(1.5), RangeError],
      ['createCq("8")', () => ctx.createCq('8' as never), TypeError],
      ['queryPort(0)', () => ctx.queryPort(0), RangeError],
      ['queryPort(256)', () => ctx.queryPort(256), RangeError],
      ['queryPort(null)', () => ctx.queryPort(null as never), TypeError],
      ['registerMemory(undefined)', () => pd.registerMemory(undefined as never), TypeError],
      ['registerMemory("str")', () => pd.registerMemory('str' as never), TypeError],
      ['registerMemory([1,2])', () => pd.registerMemory([1, 2] as never), TypeError],
      ['registerMemory(empty)', () => pd.registerMemory(new Uint8Array(0)), RangeError],
      ['registerMemory(buf, -1)', () => pd.registerMemory(Buffer.alloc(8), -1), RangeError],
      ['registerMemory(buf, REMOTE_WRITE only)', () => pd.registerMemory(Buffer.alloc(8), 2), RangeError],
      ['registerMemory(buf, "7")', () => pd.registerMemory(Buffer.alloc(8), '7' as never), TypeError],
      ['registerRange(number address)', () => pd.registerRange(4096 as never, 8, 7), TypeError],
      ['registerRange(negative address)', () => pd.registerRange(-1n, 8, 7), RangeError],
      ['registerRange(length 0)', () => pd.registerRange(mr.address, 0, 7), RangeError],
      ['registerRange(length 1.5)', () => pd.registerRange(mr.address, 1.5, 7), RangeError],
      ['mr.sge(-1)', () => mr.sge(-1), RangeError],
      ['mr.sge(0, 65)', () => mr.sge(0, 65), RangeError],
      ['mr.remote(65)', () => mr.remote(65), RangeError],
      ['poll(0)', () => cq.poll(0), RangeError],
      ['poll("1")', () => cq.poll('1' as never), TypeError],
      ['write(undefined, rem)', () => qp.write(undefined as never, rem), TypeError],
      ['write(sge, undefined)', () => qp.write(sge, undefined as never), TypeError],
      ['write(number address)', () => qp.write({ ...sge, address: 1 as never }, rem), TypeError],
      ['write(length -1)', () => qp.write({ ...sge, length: -1 }, rem), RangeError],
      ['write(length 2^32)', () => qp.write({ ...sge, length: 2 ** 32 }, rem), RangeError],
      ['write(lkey "1")', () => qp.write({ ...sge, lkey: '1' as never }, rem), TypeError],
      ['write(rkey -1)', () => qp.write(sge, { ...rem, rkey: -1 }), RangeError],
      ['write(remote address 2^64)', () => qp.write(sge, { ...rem, address: 1n << 64n }), RangeError],
      ['read(sge, null)', () => qp.read(sge, null as never), TypeError],
      ['send(null)', () => qp.send(null as never), TypeError],
      ['recv({})', () => qp.recv({} as never), TypeError],
      ['connect({pd: cq})', () => connect({ pd: cq as never, sendCq: cq, host: HOST, port: 1 }), TypeError],
      ['connect(port 0)', () => connect({ pd, sendCq: cq, host: HOST, port: 0 }), RangeError],
      ['connect(host 1)', () => connect({ pd, sendCq: cq, host: 1 as never, port: 1 }), TypeError],
      ['connect(57 bytes)', () => connect({ pd, sendCq: cq, host: HOST, port: 1, privateData: Buffer.alloc(57) }), RangeError],
      ['connect(privateData "x")', () => connect({ pd, sendCq: cq, host: HOST, port: 1, privateData: 'x' as never }), TypeError],
      ['connect(maxSendWr 0)', () => connect({ pd, sendCq: cq, host: HOST, port: 1, maxSendWr: 0 }), RangeError],
      ['connect(retryCount 8)', () => connect({ pd, sendCq: cq, host: HOST, port: 1, retryCount: 8 }), RangeError],
      ['connect(timeoutMs 0)', () => connect({ pd, sendCq: cq, host: HOST, port: 1, timeoutMs: 0 }), RangeError],
    ];
    for (const [name, fn, cls] of table) expect(fn, name).toThrow(cls);
    // and everything still works afterwards
    await qp.write(mr.sge(0, 8), mr.remote(8));
  });
});
