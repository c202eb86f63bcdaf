/**
 * The one typed loader of the native addon: every function the C++ side
 * exports is declared here, and nothing else imports the .node file.
 */
import { createRequire } from 'node:module';
import { RdmaError } from './errors.js';

/** One port of an RDMA device, as ibv_query_port reports it. */
export interface PortInfo {
  port: number;
  /** 'ACTIVE', 'DOWN', 'INIT', 'ARMED', ... */
  state: string;
  /** 'Ethernet' for RoCE (rxe), 'InfiniBand', or 'Unspecified'. */
  linkLayer: string;
  /** Active MTU in bytes. */
  activeMtu: number;
  lid: number;
}

/** One RDMA device seen by libibverbs. */
export interface DeviceInfo {
  name: string;
  /** Node GUID as ibv_devinfo prints it ('xxxx:xxxx:xxxx:xxxx'). */
  guid: string;
  transport: string;
  firmware: string;
  maxMrSize: bigint;
  maxQp: number;
  maxCqe: number;
  maxMr: number;
  ports: PortInfo[];
}

export interface NativeAddon {
  setErrorClass(cls: typeof RdmaError): void;
  listDevices(): DeviceInfo[];
}

const require = createRequire(import.meta.url);

function load(): NativeAddon {
  // src/ and dist/ both sit one level below the package root.
  const path = new URL('../build/Release/rdma_regcache.node', import.meta.url).pathname;
  let addon: NativeAddon;
  try {
    addon = require(path) as NativeAddon;
  } catch (err) {
    throw new Error(
      `rdma-regcache: native addon not built at ${path}; run \`npm run build\` ` +
        `(needs libibverbs-dev and librdmacm-dev): ${(err as Error).message}`,
    );
  }
  addon.setErrorClass(RdmaError);
  return addon;
}

export const native: NativeAddon = load();
