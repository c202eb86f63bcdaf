# The guests' side of `npm run vm -- --hosts 2 --slurm '<command>'`: a
# two-node Slurm cluster (Debian 12's slurm-wlm 22.05) on node1 and node2.
# Sourced by scripts/vm/node-init.sh when vm.env names SLURM_DIR (the run's
# Slurm folder, written by scripts/vm/slurm.mjs: slurm.conf, munge.key).
#
# On sourcing (each node, before it answers on the wire): that folder over
# /etc/slurm, munged with the run's key; state, spool and logs on tmpfs
# (/run is guest-private; the host's root is read-only in the guest).
# slurm_start_cluster (node1, once node2 answers): slurmctld on node1, slurmd
# on both, then waits until sinfo shows both nodes idle. A daemon that does
# not come up fails the set-up with its log. The job then finds
# RDMA_REGCACHE_SLURM=1 in its environment.

SLURM_RUN=/run/slurm

# Prints a daemon's log (a local file, or node2's through vm-rsh) to stderr.
slurm_show_log() { # slurm_show_log NODE FILE
  echo "vm: --- $1:$2 (last 60 lines) ---" >&2
  if [ "$1" = "$NODE" ]; then
    tail -n 60 "$2" >&2 2>/dev/null || echo "(no $2)" >&2
  else
    "$PROJECT/scripts/vm/vm-rsh" "$1" "tail -n 60 $2 2>/dev/null || echo '(no $2)'" >&2
  fi
}

slurm_fail() { # slurm_fail MESSAGE: every daemon's log, then the set-up fails
  slurm_show_log "$NODE" /run/munge/munged.log
  slurm_show_log node1 "$SLURM_RUN/slurmctld.log"
  slurm_show_log node1 "$SLURM_RUN/slurmd.log"
  slurm_show_log node2 "$SLURM_RUN/slurmd.log"
  fail_setup "slurm: $*"
}

# munged, with the run's key (copied to tmpfs: munged insists on a key only
# its owner can read, in a directory nobody else can write).
slurm_node_setup() {
  [ -d /etc/slurm ] || fail_setup "slurm: /etc/slurm missing (is slurm-client installed? run: bash scripts/setup.sh)"
  mount --bind "$SLURM_DIR" /etc/slurm || fail_setup "slurm: bind mount of $SLURM_DIR on /etc/slurm"
  mkdir -p /run/munge "$SLURM_RUN/ctld" "$SLURM_RUN/d" "$SLURM_RUN/tmp"
  # slurmd insists on a cgroup file system (cgroup.conf: v1, unused).
  mountpoint -q /sys/fs/cgroup || mount -t tmpfs cgroup /sys/fs/cgroup || fail_setup "slurm: tmpfs on /sys/fs/cgroup"
  chmod 755 /run/munge
  install -m 400 "$SLURM_DIR/munge.key" /run/munge/munge.key || fail_setup "slurm: munge key"
  munged --key-file=/run/munge/munge.key --seed-file=/run/munge/munged.seed \
    --log-file=/run/munge/munged.log --pid-file=/run/munge/munged.pid </dev/null >/dev/null 2>&1 ||
    slurm_fail "munged did not start on $NODE"
  munge -n </dev/null | unmunge >/dev/null 2>&1 || slurm_fail "munge on $NODE cannot encode and decode a credential"
}

# Waits up to $1 s for `$2...` to succeed.
slurm_wait() {
  local seconds=$1; shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

slurm_both_idle() {
  [ "$(sinfo -h -N -o '%N %T' 2>/dev/null | sort -u | tr '\n' ' ')" = "node1 idle node2 idle " ]
}

slurm_start_cluster() {
  local started=$SECONDS
  slurmctld </dev/null >/dev/null 2>&1 || slurm_fail "slurmctld did not start"
  slurm_wait 180 scontrol ping || slurm_fail "slurmctld does not answer scontrol ping within 180 s"
  slurmd </dev/null >/dev/null 2>&1 || slurm_fail "slurmd did not start on node1"
  "$PROJECT/scripts/vm/vm-rsh" node2 'slurmd </dev/null >/dev/null 2>&1' || slurm_fail "slurmd did not start on node2"
  slurm_wait 300 slurm_both_idle || {
    sinfo -N -l >&2
    slurm_fail "node1 and node2 are not both idle in sinfo within 300 s"
  }
  echo "vm: slurm up (slurmctld on node1, slurmd on node1 and node2) in $((SECONDS - started)) s" >&2
  # The job (and test/hosts/slurm.test.ts) can tell Slurm is there.
  export RDMA_REGCACHE_SLURM=1
}

# The daemons' logs into the run's folder, where the harness keeps them with
# the serial and kernel logs when the run fails (a step that fails to launch
# says why only there: srun prints "Unspecified error").
slurm_keep_logs() {
  mkdir -p "$JOB/slurm-logs"
  # slurmstepd writes to slurmd's log: a step's launch errors are there.
  cp /run/munge/munged.log "$SLURM_RUN"/*.log "$JOB/slurm-logs/" 2>/dev/null
  return 0
}

slurm_node_setup
