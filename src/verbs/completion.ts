import { constants } from 'node:os';
import { RdmaError } from '../errors.js';

/** ibv_wc_status names, indexed by value (enum order of <infiniband/verbs.h>). */
export const WC_STATUS_NAMES: readonly string[] = [
  'IBV_WC_SUCCESS',
  'IBV_WC_LOC_LEN_ERR',
  'IBV_WC_LOC_QP_OP_ERR',
  'IBV_WC_LOC_EEC_OP_ERR',
  'IBV_WC_LOC_PROT_ERR',
  'IBV_WC_WR_FLUSH_ERR',
  'IBV_WC_MW_BIND_ERR',
  'IBV_WC_BAD_RESP_ERR',
  'IBV_WC_LOC_ACCESS_ERR',
  'IBV_WC_REM_INV_REQ_ERR',
  'IBV_WC_REM_ACCESS_ERR',
  'IBV_WC_REM_OP_ERR',
  'IBV_WC_RETRY_EXC_ERR',
  'IBV_WC_RNR_RETRY_EXC_ERR',
  'IBV_WC_LOC_RDD_VIOL_ERR',
  'IBV_WC_REM_INV_RD_REQ_ERR',
  'IBV_WC_REM_ABORT_ERR',
  'IBV_WC_INV_EECN_ERR',
  'IBV_WC_INV_EEC_STATE_ERR',
  'IBV_WC_FATAL_ERR',
  'IBV_WC_RESP_TIMEOUT_ERR',
  'IBV_WC_GENERAL_ERR',
  'IBV_WC_TM_ERR',
  'IBV_WC_TM_RNDV_INCOMPLETE',
];

/** Work request kinds (the opcode argument of the native postSend; RECV is separate). */
export const OpKind = { WRITE: 0, READ: 1, SEND: 2, RECV: 3 } as const;
export type OpKind = (typeof OpKind)[keyof typeof OpKind];

// Linux errno 70; @types/node does not list it.
const ECOMM = (constants.errno as Record<string, number>).ECOMM ?? 70;

const OP_NAMES = ['RDMA WRITE', 'RDMA READ', 'SEND', 'RECV'];

/**
 * The error a failed work completion rejects with: RdmaError, code 'ECOMM',
 * syscall 'ibv_post_send' or 'ibv_post_recv', `status` the ibv_wc_status name.
 */
export function completionError(kind: OpKind, status: number, vendorErr: number): RdmaError {
  const name = WC_STATUS_NAMES[status] ?? `IBV_WC_STATUS_${status}`;
  const err = new RdmaError(
    ECOMM,
    kind === OpKind.RECV ? 'ibv_post_recv' : 'ibv_post_send',
    `${OP_NAMES[kind]} completed with ${name}, vendor_err 0x${vendorErr.toString(16)}`,
  );
  err.status = name;
  return err;
}
