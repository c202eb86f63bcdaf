export { MemoryMonitor, DrainIncompleteError, type MemoryMonitorOptions, type MonitorBackend, type MonitorEvent } from './monitor.js';
