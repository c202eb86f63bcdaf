/** Guest-private folder of Slurm's state, spool, pid files and logs. */
export const SLURM_RUN: string;
/** slurm.conf of a run: the first node runs slurmctld; CPUs from options.smp, half of options.memory. */
export function slurmConf(nodes: { name: string; ip: string }[], options: { smp: string; memory: string }): string;
/** Slurm's TaskProlog: each task gets its own node's RDMA_REGCACHE_IP. */
export function taskProlog(nodes: { name: string; ip: string }[]): string;
/** Writes the run's Slurm folder under `job`; returns the vm.env lines that start Slurm in the guests. */
export function prepareSlurm(job: string, nodes: { name: string; ip: string }[], options: { smp: string; memory: string }): string[];
