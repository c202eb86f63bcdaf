import { defineConfig } from 'vitest/config';

// Three groups: `unit` runs on the host (no RDMA device, no module);
// `vm` runs inside the test VM, where rxe0 and /dev/ummunotify exist;
// `hosts` runs on node1 of the two-host test VM.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'vm',
          include: ['test/vm/**/*.test.ts'],
          // Everything runs in one guest boot; the guest is slow for JIT code,
          // so one fork with all files keeps start-up cost paid once.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'hosts',
          // Runs on node1 of the two-host VM (npm run vm -- --hosts 2), node2
          // beside it: one boot of the pair, one fork, as the vm group.
          include: ['test/hosts/**/*.test.ts'],
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
