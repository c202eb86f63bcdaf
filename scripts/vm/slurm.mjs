// The host's side of `npm run vm -- --hosts 2 --slurm '<command>'`: a two-node
// Slurm cluster on node1 and node2 (scripts/vm/hosts.mjs boots them). This
// writes the run's Slurm folder in the run's folder, read by both guests:
//
//   slurm/slurm.conf   node1 and node2 with the guests' CPUs and (conservative)
//                      memory, slurmctld on node1, PMIx the default MPI type,
//                      no cgroups, state, spool and pid files on guest tmpfs
//   slurm/munge.key    made for this run only, the same on both guests
//   slurm/mpi.conf     PMIx fences by the ring algorithm (see prepareSlurm)
//   slurm/cgroup.conf, slurm/task-prolog.sh
//
// The guests' side, scripts/vm/slurm.sh, starts munged, slurmctld and slurmd
// from there (the folder is bind-mounted over /etc/slurm in each guest).
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { quote } from './guest.mjs';

/** Guest-private (tmpfs) folder of Slurm's state, spool, pid files and logs. */
export const SLURM_RUN = '/run/slurm';

/** MiB in a qemu -m size such as 2G or 1536M. */
function mebibytes(memory) {
  const m = /^(\d+)([MG])$/i.exec(memory);
  return m ? Number(m[1]) * (m[2].toUpperCase() === 'G' ? 1024 : 1) : 1024;
}

/**
 * slurm.conf of a run: `nodes` ({ name, ip }; the first runs slurmctld),
 * `options` the harness's (smp: CPUs of each guest, memory: its RAM).
 */
export function slurmConf(nodes, options) {
  const cpus = Number(options.smp) || 1;
  // Half the guest's RAM: the kernel keeps some, and slurmd drains a node
  // whose configured memory is more than it finds.
  const realMemory = Math.max(256, Math.floor(mebibytes(options.memory) / 2));
  const [ctld] = nodes;
  return [
    '# Written by scripts/vm/slurm.mjs for one run of the two-host test VM.',
    'ClusterName=rdmavm',
    `SlurmctldHost=${ctld.name}(${ctld.ip})`,
    'SlurmUser=root',
    'SlurmdUser=root',
    'AuthType=auth/munge',
    'CredType=cred/munge',
    'AuthInfo=socket=/run/munge/munge.socket.2',
    `StateSaveLocation=${SLURM_RUN}/ctld`,
    `SlurmdSpoolDir=${SLURM_RUN}/d`,
    `SlurmctldPidFile=${SLURM_RUN}/slurmctld.pid`,
    `SlurmdPidFile=${SLURM_RUN}/slurmd.pid`,
    // Where slurmstepd's PMIx plugin makes each step's client folder (default
    // /tmp): the guest's /tmp is the host's, read-only, when the project is a
    // clone under /tmp, and then every task failed to launch ("Unspecified error").
    `TmpFS=${SLURM_RUN}/tmp`,
    `SlurmctldLogFile=${SLURM_RUN}/slurmctld.log`,
    `SlurmdLogFile=${SLURM_RUN}/slurmd.log`,
    'SlurmctldDebug=info',
    'SlurmdDebug=info',
    // PMIx for every step unless srun says otherwise (Debian's mpi_pmix.so
    // opens libpmix2 at run time).
    'MpiDefault=pmix',
    // The guest has no cgroup hierarchy set up: processes are tracked by
    // their parent links, tasks are not bound.
    'ProctrackType=proctrack/linuxproc',
    'TaskPlugin=task/none',
    'JobAcctGatherType=jobacct_gather/none',
    'AccountingStorageType=accounting_storage/none',
    'SwitchType=switch/none',
    'SchedulerType=sched/builtin',
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_CPU',
    // srun's limits (RLIMIT_MEMLOCK unlimited above all) reach the tasks.
    'PropagateResourceLimits=ALL',
    // A node that comes back is usable again; no e-mail.
    'ReturnToService=2',
    'MailProg=/bin/true',
    // Emulation is slow: generous timeouts for messages and daemons, a short
    // wait between SIGTERM and SIGKILL when a job is cancelled.
    'MessageTimeout=60',
    'TCPTimeout=20',
    'SlurmdTimeout=600',
    'SlurmctldTimeout=600',
    'BatchStartTimeout=120',
    'KillWait=5',
    'UnkillableStepTimeout=120',
    'InactiveLimit=0',
    'MinJobAge=30',
    // Tasks get srun's environment (node1's): each gets its own node's address.
    'TaskProlog=/etc/slurm/task-prolog.sh',
    // The node's real sockets/cores/memory may differ from the CPUs named here.
    'SlurmdParameters=config_overrides',
    ...nodes.map((n) => `NodeName=${n.name} NodeAddr=${n.ip} CPUs=${cpus} RealMemory=${realMemory} State=UNKNOWN`),
    `PartitionName=vm Nodes=${nodes.map((n) => n.name).join(',')} Default=YES MaxTime=INFINITE State=UP`,
    '',
  ].join('\n');
}

/** Slurm's TaskProlog: its `export` lines reach the task's environment. */
export function taskProlog(nodes) {
  return [
    '#!/bin/sh',
    'case "$(hostname)" in',
    ...nodes.map((n) => `  ${n.name}) echo "export RDMA_REGCACHE_IP=${n.ip}" ;;`),
    'esac',
    '',
  ].join('\n');
}

/**
 * Writes the run's Slurm folder (`job`/slurm: slurm.conf, a fresh munge key)
 * and returns the vm.env lines that tell the guests to start Slurm.
 */
export function prepareSlurm(job, nodes, options) {
  const dir = join(job, 'slurm');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'slurm.conf'), slurmConf(nodes, options));
  // munged wants its key readable by its owner only (the guests' root).
  writeFileSync(join(dir, 'munge.key'), randomBytes(128), { mode: 0o400 });
  writeFileSync(join(dir, 'task-prolog.sh'), taskProlog(nodes), { mode: 0o755 });
  // slurmd 22.05 loads a cgroup plugin whatever the proctrack and task
  // plugins are; v1 needs nothing from the guest but a mount point
  // (scripts/vm/slurm.sh mounts a tmpfs there), and nothing uses it.
  writeFileSync(join(dir, 'cgroup.conf'), 'CgroupPlugin=cgroup/v1\nCgroupAutomount=no\n');
  // mpi/pmix: the ring algorithm for every fence. In Slurm 22.05's default
  // ("mixed": tree for a fence without data) a fence on node2 completed as
  // soon as node2's own ranks had arrived, whatever node1's did (measured
  // here with SLURM_PMIX_FENCE=tree and mixed), so a PMIx barrier did not
  // wait for the other host. SLURM_PMIX_FENCE in a job's environment still
  // overrides it.
  writeFileSync(join(dir, 'mpi.conf'), 'PMIxCollFence=ring\n');
  return [`SLURM_DIR=${quote(dir)}`];
}
