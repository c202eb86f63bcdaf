import { native } from '../native.js';
import type { DeviceAttributes, NativeContext, PortAttributes } from '../native.js';
import { CompletionQueue } from './cq.js';
import { ProtectionDomain } from './pd.js';
import { Resource } from './resource.js';
import { checkInteger, checkString } from './validate.js';

/**
 * An open RDMA device. It is the device librdmacm uses, so protection domains
 * and completion queues made here serve rdma_cm queue pairs on it.
 * Closing it closes every PD, CQ, MR and queue pair made from it.
 */
export class Context extends Resource {
  protected readonly kind = 'Context';
  /** @internal */
  readonly native: NativeContext;
  /** Device name ('rxe0'). */
  readonly name: string;

  /** @internal use openDevice() */
  constructor(name?: string) {
    super([]);
    this.native = new native.Context(name);
    this.name = this.native.name;
  }

  /** Allocates a protection domain (ibv_alloc_pd). */
  allocPd(): ProtectionDomain {
    this.assertOpen();
    return new ProtectionDomain(this);
  }

  /**
   * Creates a completion queue with room for `depth` completions, watched by
   * libuv (no busy waiting). It must hold every operation that can be in flight
   * on the queue pairs using it: creating a queue pair checks this.
   */
  createCq(depth: number): CompletionQueue {
    this.assertOpen();
    checkInteger(depth, 'depth', 1, 0x7fff_ffff);
    return new CompletionQueue(this, depth);
  }

  /** ibv_query_port for port `port` (1-based). */
  queryPort(port = 1): PortAttributes {
    this.assertOpen();
    checkInteger(port, 'port', 1, 255);
    return this.native.queryPort(port);
  }

  /** ibv_query_device: the device's limits. */
  queryDevice(): DeviceAttributes {
    this.assertOpen();
    return this.native.queryDevice();
  }

  protected release(): void {
    this.native.close();
  }
}

/**
 * Opens the RDMA device called `name`, or the first one. RdmaError ENODEV
 * when there is no such device.
 */
export function openDevice(name?: string): Context {
  if (name !== undefined) checkString(name, 'name');
  return new Context(name);
}
