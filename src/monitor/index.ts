export { MemoryMonitor, type MemoryMonitorOptions, type MonitorBackend, type MonitorEvent } from './monitor.js';
