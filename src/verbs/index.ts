/** The verbs binding: devices, memory, completion queues and RC queue pairs over rdma_cm. */
export { Access, DEFAULT_ACCESS, addressOf, type BufferSource } from './memory.js';
export { Context, openDevice } from './context.js';
export { ProtectionDomain } from './pd.js';
export { MemoryRegion, type ScatterEntry, type RemoteAddress } from './mr.js';
export { CompletionQueue } from './cq.js';
export { QueuePair, type QueuePairOptions } from './qp.js';
export { connect, type ConnectOptions } from './connect.js';
export { listen, Listener, ConnectionRequest, type ListenOptions, type AcceptOptions } from './listener.js';
export { WC_STATUS_NAMES, OpKind } from './completion.js';
export { closedError, ClosedError } from './closed.js';
export { Resource } from './resource.js';
export type { DeviceAttributes, PortAttributes, AccessFlags } from '../native.js';
