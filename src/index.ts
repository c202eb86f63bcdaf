export { RdmaError, ClosedError, PmixError, errnoCode } from './errors.js';
export { listDevices, type DeviceInfo, type PortInfo } from './devices.js';
export {
  Access,
  DEFAULT_ACCESS,
  addressOf,
  openDevice,
  Context,
  ProtectionDomain,
  MemoryRegion,
  CompletionQueue,
  QueuePair,
  connect,
  listen,
  Listener,
  ConnectionRequest,
  WC_STATUS_NAMES,
  OpKind,
  type BufferSource,
  type ScatterEntry,
  type RemoteAddress,
  type QueuePairOptions,
  type ConnectOptions,
  type ListenOptions,
  type AcceptOptions,
  type DeviceAttributes,
  type PortAttributes,
  type AccessFlags,
} from './verbs/index.js';
export { MemoryMonitor, DrainIncompleteError, type MemoryMonitorOptions, type MonitorBackend, type MonitorEvent } from './monitor/index.js';
export {
  RegistrationCache,
  Registration,
  type CacheStats,
  type CacheableMemory,
  type RegistrationCacheOptions,
  type Registrar,
  type RangeRegistration,
} from './cache/index.js';
export {
  Endpoint,
  EndpointListener,
  RegisterPerOperation,
  type EndpointConnectOptions,
  type EndpointListenOptions,
  type EndpointRegistrations,
  type EndpointStats,
  type Progress,
  type RegistrationSource,
  type RemoteBuffer,
} from './endpoint/index.js';
export { Domain, type DomainOptions } from './endpoint/index.js';
export { World, type WorldOptions } from './world/index.js';
