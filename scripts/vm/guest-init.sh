#!/bin/bash
# PID 1 of the test VM, on the host's root over 9p. Brings up rxe0 and the
# project's module, runs the job written by scripts/vm/run.mjs, leaves its
# exit status and the kernel log in the job folder, and powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

power_off() {
  sync
  echo o >/proc/sysrq-trigger
  # Wait for the power-off without starting a program: by now the 9p root, and
  # every binary on it, may be gone ("sleep: command not found" was seen under
  # load), and PID 1 must never exit (the kernel panics: "Attempted to kill
  # init"). The console has no input, so this read only times out.
  while :; do read -r -t 10 _ </dev/console; done
}

fail_setup() {
  echo "vm: guest set-up failed: $*" >&2
  echo 125 >"$JOB/status" 2>/dev/null
  dmesg >"$JOB/dmesg" 2>/dev/null
  power_off
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
hostname rdmavm

JOB=
for word in $(cat /proc/cmdline); do
  case "$word" in rdmavm.job=*) JOB=${word#rdmavm.job=} ;; esac
done
[ -n "$JOB" ] && [ -f "$JOB/vm.env" ] || { echo "vm: no job on the kernel command line" >&2; power_off; }
# KROOT (unpacked kernel), KO (our module for this kernel), PROJECT (project root)
. "$JOB/vm.env"

# Only the project (with its .cache: the job folder, the guest kernels) may be
# written from here: the rest of the host's root is read-only in the guest, so
# a wrong path in a test cannot damage the host. The project becomes a mount
# of its own, then the root's mount is flagged read-only (a per-mount flag:
# the project's bind mount and the tmpfs mounts below stay writable).
mount --bind "$PROJECT" "$PROJECT" || fail_setup "bind mount of $PROJECT"
mount -o remount,bind,ro / || fail_setup "read-only remount of /"

# Guest-private scratch on /tmp and /run, so the host's stay untouched, unless
# the project itself lives there (a clone in /tmp): then the guest must see it.
for dir in /tmp /run; do
  case "$PROJECT/" in "$dir"/*) ;; *) mount -t tmpfs tmpfs "$dir" ;; esac
done
# Temporary files go to a guest tmpfs in any case: on the 9p share unix
# sockets cannot be bound (ENXIO), and tools such as tsx put theirs in TMPDIR.
if mountpoint -q /tmp; then
  TMPDIR=/tmp
else
  TMPDIR="$JOB/tmp"
  mkdir -p "$TMPDIR" && mount -t tmpfs tmpfs "$TMPDIR" || fail_setup "tmpfs for TMPDIR"
fi
export TMPDIR

modprobe_guest() { modprobe -d "$KROOT" "$@"; }

# rdma_rxe needs the crc32 algorithm registered first; in some series it is built in.
modprobe_guest -q crc32_generic || true
for m in veth rdma_rxe ib_uverbs rdma_ucm; do
  modprobe_guest "$m" || fail_setup "modprobe $m"
done
insmod "$KO" || fail_setup "insmod $KO"
[ -c /dev/ummunotify ] || fail_setup "/dev/ummunotify missing after insmod"

# One guest of a two-host run (scripts/vm/hosts.mjs): scripts/vm/node-init.sh
# brings up the wire to the other guest instead of the veth pair, runs this
# node's part and powers off; it does not return.
[ -z "${NODE:-}" ] || . "$PROJECT/scripts/vm/node-init.sh"

# rdma_cm does not resolve routes on lo: rxe0 sits on one end of a veth pair.
# 192.0.2.0/24 is the documentation range; with -nic none nothing leaves the guest.
ip link set lo up
# MTU 9000 as RoCE deployments use (jumbo frames): rxe0's active MTU becomes
# 4096, the RoCE maximum, instead of 1024 (1 MiB writes run ~1.4x faster).
ip link add veth0 mtu 9000 type veth peer name veth1 mtu 9000 || fail_setup "veth"
ip addr add "$GUEST_IP/24" dev veth0
ip link set veth0 up
ip link set veth1 up
rdma link add rxe0 type rxe netdev veth0 || fail_setup "rdma link add rxe0"

ulimit -l unlimited
export RDMA_REGCACHE_IN_VM=1 RDMA_REGCACHE_IP="$GUEST_IP" RDMA_REGCACHE_DEVICE=rxe0 UMMUNOTIFY_KO="$KO"
echo "vm: ready ($(uname -r), $(cut -d' ' -f1 /proc/uptime)s after boot)" >&2

cd "$PROJECT"
if [ "$HOST_TTY" = 1 ]; then
  bash "$JOB/job.sh" </dev/null
  echo $? >"$JOB/status"
else
  # Output goes to a log or CI: no terminal, so no colours or redraws.
  bash "$JOB/job.sh" </dev/null 2>&1 | cat
  echo "${PIPESTATUS[0]}" >"$JOB/status"
fi
dmesg >"$JOB/dmesg"
power_off
