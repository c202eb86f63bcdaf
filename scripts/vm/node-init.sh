# One guest of a two-host run (scripts/vm/hosts.mjs), sourced by guest-init.sh
# once the host root, the scratch mounts and the modules are up, when vm.env
# names this guest's NODE (node1 or node2). Brings up the wire (the virtio-net
# NIC whose MAC is $MAC, joined to the other guest's by qemu), rxe0 on it, the
# host names, what Open MPI needs and a server of remote commands
# (scripts/vm/vm-rsh); then node1 runs the job and node2 waits until it has
# ended. Never returns.
# From vm.env besides guest-init.sh's: NODE, MAC, WIRE (the run's folder,
# shared by both guests: hosts, stop).

modprobe_guest virtio_net || fail_setup "modprobe virtio_net"
nic=
for dev in /sys/class/net/*; do
  [ "$(cat "$dev/address" 2>/dev/null)" = "$MAC" ] && nic=${dev##*/}
done
[ -n "$nic" ] || fail_setup "no network device with MAC $MAC"
ip link set lo up
ip link set "$nic" name wire0 || fail_setup "rename $nic to wire0"
# MTU 9000 on both ends, so rxe0's active MTU is 4096 (qemu offers the NIC
# with host_mtu=9000, so virtio-net takes frames that big).
ip link set wire0 mtu 9000 || fail_setup "MTU 9000 on wire0"
ip addr add "$GUEST_IP/24" dev wire0
ip link set wire0 up
rdma link add rxe0 type rxe netdev wire0 || fail_setup "rdma link add rxe0"

hostname "$NODE"
# node1 and node2 resolve on both guests: the run's hosts file over the
# read-only host's (a per-guest bind mount; the host's file is untouched).
mount --bind "$WIRE/hosts" /etc/hosts || fail_setup "bind mount of $WIRE/hosts on /etc/hosts"

ulimit -l unlimited
export RDMA_REGCACHE_IN_VM=1 RDMA_REGCACHE_IP="$GUEST_IP" RDMA_REGCACHE_DEVICE=rxe0 UMMUNOTIFY_KO="$KO"
# Open MPI 4.1: orted starts on the other node through vm-rsh (there is no
# sshd); root may run jobs; out-of-band traffic and the TCP BTL use the wire
# only. MPI programs use ob1 over shared memory and TCP: UCX on rxe died under
# emulation (DESIGN §4), so neither its PML nor its one-sided component.
export OMPI_MCA_plm_rsh_agent="$PROJECT/scripts/vm/vm-rsh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_oob_tcp_if_include=wire0 OMPI_MCA_btl_tcp_if_include=wire0
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp OMPI_MCA_osc='^ucx'

# --slurm: munged on each node before it answers (scripts/vm/slurm.sh).
[ -z "${SLURM_DIR:-}" ] || . "$PROJECT/scripts/vm/slurm.sh"

# Each node serves remote commands (vm-rsh, Open MPI's rsh agent) with its
# environment, and the caller's too, as node1's job gets it (same PATH).
. "$JOB/env.sh"
cd "$PROJECT"
# Ready once the server listens: it says so on its output.
coproc SERVER { exec "$PROJECT/scripts/vm/vm-rsh" --serve "$GUEST_IP" </dev/null; }
server=$SERVER_PID
read -r -t 300 _ <&"${SERVER[0]}" || fail_setup "vm-rsh server did not start"

if [ "$NODE" = node2 ]; then
  echo "vm: $NODE ready ($(uname -r), $(cut -d' ' -f1 /proc/uptime)s after boot)" >&2
  # node1 (or the harness, if node1 died) leaves "stop" in the run's folder
  # when the job has ended. The folder is listed, not the name looked up: 9p
  # with cache=loose would keep answering an earlier lookup's "no such file".
  shopt -s nullglob
  while :; do
    stop=("$WIRE"/sto[p])
    [ ${#stop[@]} -eq 0 ] || break
    kill -0 "$server" 2>/dev/null || { echo "vm: $NODE: vm-rsh server exited" >&2; break; }
    sleep 0.3
  done
  kill "$server" 2>/dev/null
  echo 0 >"$JOB/status"
  dmesg >"$JOB/dmesg"
  [ -z "${SLURM_DIR:-}" ] || slurm_keep_logs
  power_off
fi

# node1: the job starts once node2 answers.
"$PROJECT/scripts/vm/vm-rsh" --wait node2 600 || fail_setup "node2 did not answer"
# --slurm: slurmctld here, slurmd on both; the job starts once both are idle.
[ -z "${SLURM_DIR:-}" ] || slurm_start_cluster
echo "vm: ready ($(uname -r), $(cut -d' ' -f1 /proc/uptime)s after boot, node2 answers)" >&2
cd "$PROJECT"
if [ "$HOST_TTY" = 1 ]; then
  bash "$JOB/job.sh" </dev/null
  echo $? >"$JOB/status"
else
  bash "$JOB/job.sh" </dev/null 2>&1 | cat
  echo "${PIPESTATUS[0]}" >"$JOB/status"
fi
: >"$WIRE/stop"
dmesg >"$JOB/dmesg"
[ -z "${SLURM_DIR:-}" ] || slurm_keep_logs
power_off
