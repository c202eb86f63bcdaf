/**
 * The one typed loader of the native addon: every function the C++ side
 * exports is declared here, and nothing else imports the .node file.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ClosedError, PmixError, RdmaError } from './errors.js';

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

/** The shape both native monitor backends share (native/monitor/). */
export interface NativeMonitor {
  /** The shared page; a 64-bit generation at offset 0. Never written from JavaScript. */
  readonly counter: ArrayBuffer;
  /**
   * Numbers are taken too (safe integers). `flags` (ummunotify only):
   * UMMUNOTIFY_REGISTER_* bits the granted features define.
   */
  watch(start: bigint | number, end: bigint | number, cookie: bigint | number, flags?: number): void;
  unwatch(cookie: bigint | number): void;
  /**
   * Hands out the reports of a drain a slice at a time into `out` and returns
   * how many it wrote (native/monitor/common.h): out[0] is 0 while more
   * follow, 1 when the drain is over and out[1] is its counter, 2 when over
   * with the counter unknown, 3 when it failed part way and out[1] is the
   * errno; reports from out[2], four words each (cookie, start, end, flags:
   * 1 the hint is exact, 2 the backend removed the watch as it reported it).
   */
  drainInto(out: BigUint64Array): number;
  /** ummunotify only: call `fn` on the event loop while the file is readable (null: stop). */
  onReadable?(fn: (() => void) | null): void;
  close(): void;
}

/** Client of /dev/ummunotify (native/monitor/ummunotify.cc). */
export interface NativeUmmunotifyMonitor extends NativeMonitor {
  /** Feature bits the kernel granted in EXCHANGE_FEATURES. */
  readonly features: number;
}

/** The userfaultfd watcher (native/monitor/userfaultfd.cc). */
export interface NativeUserfaultfdMonitor extends NativeMonitor {
  readonly mode: 'wp' | 'missing';
  readonly userModeOnly: boolean;
}

// ---- verbs binding (native/verbs) ----

/** Device limits from ibv_query_device. */
export interface DeviceAttributes {
  firmware: string;
  maxMrSize: bigint;
  maxQp: number;
  maxQpWr: number;
  maxSge: number;
  maxCq: number;
  maxCqe: number;
  maxMr: number;
  maxPd: number;
  /** Incoming RDMA READs a QP can serve at once. */
  maxQpRdAtom: number;
  /** Outgoing RDMA READs a QP can have in flight. */
  maxQpInitRdAtom: number;
  physPortCnt: number;
}

/** One port's attributes from ibv_query_port. */
export interface PortAttributes extends PortInfo {
  maxMtu: number;
  gidTableLength: number;
  maxMsgSize: number;
}

/** ibv_access_flags values, as the installed C headers define them. */
export interface AccessFlags {
  readonly LOCAL_WRITE: number;
  readonly REMOTE_WRITE: number;
  readonly REMOTE_READ: number;
  readonly REMOTE_ATOMIC: number;
  readonly MW_BIND: number;
  readonly ZERO_BASED: number;
  readonly ON_DEMAND: number;
  readonly HUGETLB: number;
  readonly RELAXED_ORDERING: number;
}

/** Native ibv_context (opened through librdmacm so rdma_cm ids can use it). */
export interface NativeContext {
  readonly name: string;
  queryDevice(): DeviceAttributes;
  queryPort(port: number): PortAttributes;
  close(): void;
}

/** Native ibv_pd; close() throws RdmaError EBUSY while MRs or QPs use it. */
export interface NativeProtectionDomain {
  close(): void;
}

/** Native ibv_mr. */
export interface NativeMemoryRegion {
  readonly address: bigint;
  readonly length: number;
  readonly lkey: number;
  readonly rkey: number;
  deregister(): void;
}

/**
 * Native ibv_cq with a completion channel watched by libuv. Completions are
 * written to `slots` (stride 6: wrId, status, opcode, byteLen, qpNum,
 * vendorErr) and handed to the dispatch function given at construction, which
 * returns how many operations are still pending (0 lets the loop exit).
 */
export interface NativeCompletionQueue {
  readonly slots: Float64Array;
  readonly depth: number;
  /** Reaps up to `max` completions now (dispatching them); returns how many. */
  poll(max?: number): number;
  /** Lets the loop exit although the CQ is armed (nothing pending any more). */
  unref(): void;
  close(): void;
}

/** Opaque connection request handed out with a CONNECT_REQUEST event. */
export interface NativeConnectionRequest {
  readonly __nativeConnectionRequest: never;
}

/** Called for each rdma_cm event of an id ('ADDR_RESOLVED', 'ESTABLISHED', ...). */
export type CmEventHandler = (
  type: string,
  status: number,
  privateData: Buffer | undefined,
  request: NativeConnectionRequest | undefined,
  params: { responderResources: number; initiatorDepth: number },
) => void;

/** Capabilities a queue pair got (may exceed what was asked for). */
export interface QpCapabilities {
  qpNum: number;
  maxSendWr: number;
  maxRecvWr: number;
  maxSge: number;
  maxInlineData: number;
}

/** Native rdma_cm id with its own event channel, and its RC queue pair once created. */
export interface NativeCmId {
  bind(host: string | undefined, port: number): void;
  listen(backlog: number): void;
  resolveAddr(host: string, port: number, timeoutMs: number, localHost?: string): void;
  resolveRoute(timeoutMs: number): void;
  createQp(
    pd: NativeProtectionDomain,
    sendCq: NativeCompletionQueue,
    recvCq: NativeCompletionQueue,
    maxSendWr: number,
    maxRecvWr: number,
    maxSge: number,
    maxInlineData: number,
  ): QpCapabilities;
  connect(
    privateData: Uint8Array | undefined,
    responderResources: number,
    initiatorDepth: number,
    retryCount: number,
    rnrRetryCount: number,
  ): void;
  accept(privateData: Uint8Array | undefined, responderResources: number, initiatorDepth: number): void;
  reject(privateData: Uint8Array | undefined): void;
  disconnect(): void;
  /** opcode 0 = RDMA WRITE, 1 = RDMA READ, 2 = SEND; always signalled. */
  postSend(
    opcode: number,
    wrId: number,
    address: bigint,
    length: number,
    lkey: number,
    remoteAddress?: bigint,
    rkey?: number,
  ): void;
  postRecv(wrId: number, address: bigint, length: number, lkey: number): void;
  qpState(): string;
  destroyQp(): void;
  addresses(): {
    local: { host: string; port: number };
    remote: { host: string; port: number };
    device: string | undefined;
  };
  ref(): void;
  unref(): void;
  close(): void;
}

/** Native exports of the verbs binding. */
export interface NativeVerbs {
  addressOf(view: ArrayBufferView | ArrayBuffer): bigint;
  access: AccessFlags;
  Context: new (name?: string) => NativeContext;
  ProtectionDomain: new (context: NativeContext) => NativeProtectionDomain;
  MemoryRegion: {
    new (pd: NativeProtectionDomain, view: ArrayBufferView | ArrayBuffer, access: number): NativeMemoryRegion;
    new (pd: NativeProtectionDomain, address: bigint, length: number, access: number): NativeMemoryRegion;
  };
  CompletionQueue: new (
    context: NativeContext,
    depth: number,
    dispatch: (count: number) => number,
  ) => NativeCompletionQueue;
  CmId: new (onEvent: CmEventHandler, request?: NativeConnectionRequest) => NativeCmId;
}

// ---- PMIx binding (native/pmix) ----

/** What PMIx says about this process after PMIx_Init. */
export interface PmixProcessInfo {
  /** The job's namespace (PMIx_Init's proc.nspace). */
  namespace: string;
  rank: number;
  /** PMIX_JOB_SIZE: processes in the job. */
  size: number;
  /** PMIX_LOCAL_RANK: rank among this job's processes on this node. */
  localRank: number;
  /** PMIX_LOCAL_SIZE: this job's processes on this node. */
  localSize: number;
  /** PMIX_NODE_RANK (across every job on this node), when the launcher gives it. */
  nodeRank?: number;
  /** PMIX_HOSTNAME, or gethostname() when the launcher does not give it. */
  hostname: string;
}

/** Result of dlopen()ing libpmix. */
export type PmixLoadResult = { ok: true; path: string; version: string } | { ok: false; error: string };

/**
 * The PMIx client binding. libpmix is never linked: load() opens it. Built
 * without pmix.h, `built` is false, load() reports why and every other call
 * throws a PmixError 'ERR_PMIX_UNAVAILABLE'. Process-wide: one PMIx session
 * per process, owned by the thread that called init().
 */
export interface NativePmix {
  readonly built: boolean;
  /** PMIx version of the pmix.h the addon was built with ('4.2.2'); null without. */
  readonly headerVersion: string | null;
  /** PMIX_MAX_KEYLEN (511): the longest key, in UTF-8 bytes. */
  readonly maxKeyLength: number;
  setErrorClass(cls: new (status: number, call: string, code: string, detail?: string, description?: string) => Error): void;
  /** dlopen(path) once per process (later calls report the library already open). */
  load(path: string): PmixLoadResult;
  /** PMIx_Init (once; later calls only read the values again) and the job-level PMIx_Get calls. */
  init(): PmixProcessInfo;
  /** PMIx_Put with PMIX_GLOBAL scope: a string as PMIX_STRING, bytes as PMIX_BYTE_OBJECT. */
  put(key: string, value: ArrayBufferView | string): void;
  commit(): void;
  /** PMIx_Fence over the whole job, on a thread of its own; timeout: PMIX_TIMEOUT in seconds (0: none). */
  fence(collectData: boolean, timeoutSec?: number): Promise<void>;
  /** PMIx_Get of rank's key in this job, on a thread of its own. */
  get(rank: number, key: string, timeoutSec?: number): Promise<Buffer>;
  /** PMIx_Finalize; pending fence/get promises reject with a ClosedError. Idempotent. */
  finalize(): void;
  /** PMIx_Error_string(status), once libpmix is loaded. */
  errorName(status: number): string | undefined;
}

export interface NativeAddon extends NativeVerbs {
  setErrorClass(cls: typeof RdmaError, closed?: typeof ClosedError): void;
  /** sysconf(_SC_PAGESIZE). */
  pageSize: number;
  listDevices(): DeviceInfo[];
  // memory monitor (native/monitor/)
  UmmunotifyMonitor: new (features: number) => NativeUmmunotifyMonitor;
  UserfaultfdMonitor: new (mode?: 'auto' | 'wp' | 'missing') => NativeUserfaultfdMonitor;
  UMMUNOTIFY_FEATURE_MAPPING_ONLY: number;
  UMMUNOTIFY_FEATURE_LIMIT: number;
  UMMUNOTIFY_FEATURE_ONESHOT: number;
  UMMUNOTIFY_REGISTER_ONESHOT: number;
  /** Int32 [0] = this process's pid, rewritten in a fork()ed child. */
  pidCell: ArrayBuffer;
  /** PMIx (native/pmix/pmix.cc). */
  pmix: NativePmix;
  /** Test hook for src/testing.ts only (native/fault-hook.cc): the next drain read() fails. */
  __setDrainReadFault(errno: number, afterReads?: number): void;
}

const require = createRequire(import.meta.url);

function load(): NativeAddon {
  // src/ and dist/ both sit one level below the package root. fileURLToPath,
  // not URL.pathname: a path with spaces (or other escaped characters) must
  // reach dlopen() as written, not percent-encoded.
  const path = fileURLToPath(new URL('../build/Release/rdma_regcache.node', import.meta.url));
  let addon: NativeAddon;
  try {
    addon = require(path) as NativeAddon;
  } catch (err) {
    throw new Error(
      `rdma-regcache: native addon not built at ${path}: ` +
        // npm >= 11.19 asks for approval of a dependency's install script (the build); --ignore-scripts skips it.
        `run \`npm install-scripts approve rdma-regcache && npm rebuild rdma-regcache\` ` +
        `(in its repository: \`npm run build\`; needs cmake, g++, libibverbs-dev and librdmacm-dev): ` +
        (err as Error).message,
    );
  }
  addon.setErrorClass(RdmaError, ClosedError);
  addon.pmix.setErrorClass(PmixError);
  return addon;
}

export const native: NativeAddon = load();
