/** Endpoint: RDMA operations over an rdma_cm connection, through the registration cache. */
export { Endpoint, EndpointListener, type EndpointConnectOptions, type EndpointListenOptions, type EndpointRegistrations, type EndpointStats } from './endpoint.js';
export type { Progress } from './progress.js';
export { RegisterPerOperation, type RegistrationSource } from './per-operation.js';
export type { RemoteBuffer } from './remote-buffer.js';
export { Domain, type DomainOptions } from './domain.js';
