import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseVmArgs } from '../../scripts/vm/guest.mjs';
import { prepareSlurm, slurmConf, taskProlog } from '../../scripts/vm/slurm.mjs';

const NODES = [{ name: 'node1', ip: '192.0.2.1' }, { name: 'node2', ip: '192.0.2.2' }];

// The host's side of `npm run vm -- --hosts 2 --slurm` (scripts/vm/slurm.mjs), without booting.
describe('npm run vm -- --hosts 2 --slurm', () => {
  it('takes --slurm with --hosts 2 only, and leaves it off otherwise', () => {
    expect(parseVmArgs(['--hosts', '2', '--slurm', 'srun', '-N2', 'true'], {})).toMatchObject({
      options: { hosts: 2, slurm: true }, command: 'srun -N2 true',
    });
    expect(parseVmArgs(['--hosts', '2', 'x'], {}).options?.slurm).toBeFalsy();
    expect(parseVmArgs(['--slurm', 'x'], {}).error).toMatch(/--slurm needs --hosts 2/);
  });

  it('names both guests with their CPUs and half their memory, slurmctld on node1, PMIx, no cgroups', () => {
    const conf = slurmConf(NODES, { smp: '2', memory: '2G' });
    expect(conf).toMatch(/^SlurmctldHost=node1\(192\.0\.2\.1\)$/m);
    expect(conf).toMatch(/^NodeName=node1 NodeAddr=192\.0\.2\.1 CPUs=2 RealMemory=1024 /m);
    expect(conf).toMatch(/^NodeName=node2 NodeAddr=192\.0\.2\.2 CPUs=2 RealMemory=1024 /m);
    expect(conf).toMatch(/^PartitionName=vm Nodes=node1,node2 Default=YES/m);
    for (const line of ['MpiDefault=pmix', 'ProctrackType=proctrack/linuxproc', 'TaskPlugin=task/none', 'PropagateResourceLimits=ALL'])
      expect(conf.split('\n')).toContain(line);
    // State and spool on the guests' tmpfs, never on the (read-only) host root.
    expect(conf).toMatch(/^StateSaveLocation=\/run\/slurm\//m);
    expect(conf).toMatch(/^SlurmdSpoolDir=\/run\/slurm\//m);
    // And the steps' PMIx folders: /tmp is the host's when the clone lives there.
    expect(conf).toMatch(/^TmpFS=\/run\/slurm\//m);
    expect(taskProlog(NODES)).toContain('node2) echo "export RDMA_REGCACHE_IP=192.0.2.2"');
  });

  it('writes a fresh munge key per run, readable by its owner only', () => {
    const a = mkdtempSync(join(tmpdir(), 'slurm-a-'));
    const b = mkdtempSync(join(tmpdir(), 'slurm-b-'));
    try {
      expect(prepareSlurm(a, NODES, { smp: '2', memory: '2G' })).toEqual([`SLURM_DIR='${a}/slurm'`]);
      prepareSlurm(b, NODES, { smp: '2', memory: '2G' });
      const key = readFileSync(join(a, 'slurm', 'munge.key'));
      expect(key).toHaveLength(128);
      expect(key.equals(readFileSync(join(b, 'slurm', 'munge.key')))).toBe(false);
      expect(statSync(join(a, 'slurm', 'munge.key')).mode & 0o777).toBe(0o400);
      expect(readFileSync(join(a, 'slurm', 'slurm.conf'), 'utf8')).toContain('NodeName=node2');
      // Slurm 22.05's tree fence did not wait for the other host's ranks: ring for every fence.
      expect(readFileSync(join(a, 'slurm', 'mpi.conf'), 'utf8')).toBe('PMIxCollFence=ring\n');
      expect(readFileSync(join(a, 'slurm', 'cgroup.conf'), 'utf8')).toMatch(/^CgroupPlugin=cgroup\/v1$/m);
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });
});
