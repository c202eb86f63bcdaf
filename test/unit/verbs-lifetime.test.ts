// The lifetime rules every verbs object follows, on stand-in resources.
import { describe, expect, it } from 'vitest';
import { Resource } from '../../src/verbs/resource.js';
import { closedError } from '../../src/verbs/closed.js';
import { completionError, OpKind, WC_STATUS_NAMES } from '../../src/verbs/completion.js';
import { RdmaError } from '../../src/index.js';

const log: string[] = [];
class Fake extends Resource {
  protected readonly kind = 'Fake';
  constructor(
    readonly name: string,
    parents: Resource[] = [],
    private readonly failRelease = false,
  ) {
    super(parents);
  }
  use(): string {
    this.assertOpen();
    return this.name;
  }
  protected release(): void {
    if (this.failRelease) throw new Error(`${this.name} busy`);
    log.push(this.name);
  }
}

describe('Resource lifetime', () => {
  it('closes children first, newest first, and each once', () => {
    log.length = 0;
    const ctx = new Fake('ctx');
    const pd = new Fake('pd', [ctx]);
    const cq = new Fake('cq', [ctx]);
    const mr1 = new Fake('mr1', [pd]);
    const mr2 = new Fake('mr2', [pd]);
    const qp = new Fake('qp', [pd, cq]); // two parents
    ctx.close();
    expect(log.indexOf('qp')).toBeLessThan(log.indexOf('cq'));
    expect(log.indexOf('mr1')).toBeLessThan(log.indexOf('pd'));
    expect(log.indexOf('mr2')).toBeLessThan(log.indexOf('mr1'));
    expect(log.at(-1)).toBe('ctx');
    expect(new Set(log).size).toBe(log.length);
    for (const r of [ctx, pd, cq, mr1, mr2, qp]) expect(r.closed).toBe(true);
    ctx.close();
    expect(log).toHaveLength(6);
  });

  it('a closed child leaves its parents; Symbol.dispose closes', () => {
    log.length = 0;
    const pd = new Fake('pd');
    {
      using mr = new Fake('mr', [pd]);
      expect(mr.use()).toBe('mr');
    }
    expect(log).toEqual(['mr']);
    pd.close();
    expect(log).toEqual(['mr', 'pd']);
  });

  it('use after close and children of closed parents: ERR_CLOSED', () => {
    const pd = new Fake('pd');
    pd.close();
    expect(() => pd.use()).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    expect(() => new Fake('mr', [pd])).toThrow(/Fake is closed/);
  });

  it('a failing release leaves the object open and retryable', () => {
    const r = new Fake('busy', [], true);
    expect(() => r.close()).toThrow(/busy/);
    expect(r.closed).toBe(false);
  });

  it('closedError carries the code', () => {
    const e = closedError('QueuePair', 'was closed with the operation in flight');
    expect(e.code).toBe('ERR_CLOSED');
    expect(e.message).toBe('QueuePair was closed with the operation in flight');
  });
});

describe('completion errors', () => {
  it('name the ibv_wc_status and use code ECOMM', () => {
    const e = completionError(OpKind.WRITE, 10, 0x12);
    expect(e).toBeInstanceOf(RdmaError);
    expect(e.code).toBe('ECOMM');
    expect(e.syscall).toBe('ibv_post_send');
    expect(e.status).toBe('IBV_WC_REM_ACCESS_ERR');
    expect(e.message).toContain('RDMA WRITE completed with IBV_WC_REM_ACCESS_ERR');
    expect(completionError(OpKind.RECV, 5, 0).syscall).toBe('ibv_post_recv');
    expect(completionError(OpKind.READ, 99, 0).status).toBe('IBV_WC_STATUS_99');
    expect(WC_STATUS_NAMES[5]).toBe('IBV_WC_WR_FLUSH_ERR');
    expect(WC_STATUS_NAMES).toHaveLength(24);
  });
});
