export { RdmaError, errnoCode } from './errors.js';
export { listDevices, type DeviceInfo, type PortInfo } from './devices.js';
