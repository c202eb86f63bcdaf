import { native, type DeviceInfo } from './native.js';

export type { DeviceInfo, PortInfo } from './native.js';

/** The RDMA devices libibverbs sees, with their ports. Empty when there is no RDMA stack. */
export function listDevices(): DeviceInfo[] {
  return native.listDevices();
}
