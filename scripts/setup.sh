#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine (root): apt packages, npm
# packages, the native addon, the TypeScript build, the guest kernels for the
# test VM (downloaded and unpacked into .cache/vm, never installed), the
# project's module built for each of them, and the VM's initramfs.
# When everything is present it only checks timestamps and takes about a second.
#
#   scripts/setup.sh [--quiet]
#   RDMA_REGCACHE_KERNELS="6.1 6.12"   guest kernel series to prepare (default both)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE="$ROOT/.cache/vm"
QUIET=0
for arg in "$@"; do
  case "$arg" in
    --quiet) QUIET=1 ;;
    *) echo "setup: unknown argument $arg" >&2; exit 2 ;;
  esac
done
log() { [ "$QUIET" = 1 ] || echo "setup: $*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }

APT_PACKAGES=(
  # dwarves: pahole, which 6.12 module builds need for BTF
  build-essential cmake ninja-build python3 xz-utils cpio kmod iproute2
  busybox-static qemu-system-x86 dwarves
  rdma-core ibverbs-providers libibverbs-dev librdmacm-dev ibverbs-utils rdmacm-utils perftest
  # Jobs across hosts: PMIx (the addon loads libpmix at run time), Open MPI's
  # launcher and, for the bench's reference, its MPI_Allreduce.
  libpmix2 libpmix-dev openmpi-bin libopenmpi-dev
  # The two-host VM's Slurm cluster (npm run vm -- --hosts 2 --slurm): slurmctld,
  # slurmd, srun (slurm-wlm 22.05; its mpi/pmix plugin opens libpmix2 above)
  # and munge. Their daemons run only in the guests (install_apt_packages keeps
  # the host's from starting).
  slurm-wlm munge
)

mkdir -p "$CACHE"
# Several processes may run set-up at once (parallel test runs): one at a time.
exec 9>"$CACHE/setup.lock"
flock 9

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" = 0 ]; then
    log "apt-get update"
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
}

install_apt_packages() {
  local missing
  # dpkg-query exits non-zero when any package is unknown; that is expected here.
  missing=$({ dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${APT_PACKAGES[@]}" 2>/dev/null || true; } |
    awk '$2 != "ii" { print $1 }')
  # dpkg-query prints nothing at all for packages it has never heard of.
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W "$p" >/dev/null 2>&1 || missing="$missing $p"
  done
  missing=$(echo $missing | tr ' ' '\n' | sort -u | tr '\n' ' ')
  [ -z "${missing// /}" ] && return
  [ "$(id -u)" = 0 ] || die "missing Debian packages: $missing (run as root, or apt-get install them)"
  apt_update_once
  log "apt-get install $missing"
  # munge, slurmctld and slurmd come with init scripts their installation would
  # start: a policy-rc.d that refuses (unless the machine has its own) keeps
  # the host free of daemons; the test VM starts its own.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# rdma-regcache setup: no daemon starts while packages install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  local status=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null || status=$?
  [ "$own_policy" = 0 ] || rm -f "$policy"
  [ "$status" = 0 ] || die "apt-get install $missing failed (status $status)"
}

install_npm_packages() {
  cd "$ROOT"
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "npm ci"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
  fi
}

newer_than() { # newer_than TARGET PATH...: true when TARGET is missing or older than any PATH
  local target=$1; shift
  [ -e "$target" ] || return 0
  [ -n "$(find "$@" -newer "$target" -print -quit 2>/dev/null)" ]
}

build_native() {
  cd "$ROOT"
  # The addon and the test-only addon (native/testing/), one cmake project.
  local addon=build/Release/rdma_regcache.node testing=build/Release/rdma_regcache_testing.node
  if newer_than "$addon" native kmod/uapi CMakeLists.txt package.json ||
    newer_than "$testing" native kmod/uapi CMakeLists.txt package.json; then
    log "building the native addons"
    npx cmake-js compile --directory . --out build --log-level error >"$CACHE/native-build.log" 2>&1 ||
      { cat "$CACHE/native-build.log" >&2; die "native build failed"; }
    touch "$addon" "$testing"
  fi
}

build_typescript() {
  cd "$ROOT"
  if newer_than dist/index.js src tsconfig.json; then
    log "compiling TypeScript"
    npx tsc -p tsconfig.json
    touch dist/index.js
  fi
}

# meta-package that names the current kernel of a series
meta_package() {
  case "$1" in
    6.1) echo linux-image-amd64 ;;
    6.12) echo linux-image-6.12-amd64 ;;
    *) die "unknown kernel series '$1' (known: 6.1 6.12)" ;;
  esac
}

depends_matching() { # depends_matching PACKAGE REGEX: the first dependency whose name matches
  apt-cache depends "$1" 2>/dev/null | awk -v re="$2" '$1 ~ /Depends:/ && $2 ~ re { print $2; exit }'
}

prepare_kernel() {
  local series=$1 dir kver image headers common kbuild
  if [ -f "$CACHE/$series/ready" ]; then
    dir=$(readlink -f "$CACHE/$series")
  else
    image=$(depends_matching "$(meta_package "$series")" '^linux-image-')
    if [ -z "$image" ]; then
      apt_update_once
      image=$(depends_matching "$(meta_package "$series")" '^linux-image-')
    fi
    [ -n "$image" ] || die "cannot resolve the $series kernel package"
    kver=${image#linux-image-}
    headers=linux-headers-$kver
    common=$(depends_matching "$headers" '^linux-headers-.*-common$')
    kbuild=$(depends_matching "$headers" '^linux-kbuild-')
    dir="$CACHE/$kver"
    log "downloading guest kernel $kver ($image $headers $common $kbuild)"
    rm -rf "$dir" && mkdir -p "$dir/debs"
    (cd "$dir/debs" && apt-get download -qq "$image" "$headers" "$common" "$kbuild" 2>/dev/null) ||
      die "apt-get download of the $kver kernel failed"
    for deb in "$dir"/debs/*.deb; do dpkg -x "$deb" "$dir/root"; done
    rm -rf "$dir/debs"
    # The headers' Makefile includes the common tree by absolute path.
    sed -i "s#include /usr/src/#include $dir/root/usr/src/#" "$dir/root/usr/src/linux-headers-$kver/Makefile"
    depmod -b "$dir/root" "$kver"
    echo "$kver" >"$dir/kver"
    build_initramfs "$dir" "$kver"
    ln -sfn "$kver" "$CACHE/$series"
    touch "$dir/ready"
  fi
  kver=$(cat "$dir/kver")
  if newer_than "$dir/initramfs.cpio.gz" "$ROOT/scripts/vm/initramfs-init.sh"; then
    build_initramfs "$dir" "$kver"
  fi
  build_module "$dir" "$kver"
}

# A busybox initramfs with just what mounts the host root over 9p.
build_initramfs() {
  local dir=$1 kver=$2 stage
  log "building the initramfs for $kver"
  stage=$(mktemp -d)
  mkdir -p "$stage"/{bin,dev,proc,sys,newroot,modules}
  cp /bin/busybox "$stage/bin/busybox"
  cp "$ROOT/scripts/vm/initramfs-init.sh" "$stage/init"
  chmod 755 "$stage/init"
  mknod -m 600 "$stage/dev/console" c 5 1
  # virtio-pci and 9p with their dependencies, in load order, as modules.dep says.
  for m in virtio_pci 9pnet_virtio 9p; do
    modprobe -d "$dir/root" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
  done | awk '!seen[$0]++' | while read -r f; do
    m=$(basename "$f"); m=${m%%.ko*}
    case "$f" in
      *.xz) xz -dc "$f" >"$stage/modules/$m.ko" ;;
      *.zst) zstd -qdc "$f" >"$stage/modules/$m.ko" ;;
      *) cp "$f" "$stage/modules/$m.ko" ;;
    esac
    echo "$m" >>"$stage/modules/order"
  done
  (cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$dir/initramfs.cpio.gz"
  rm -rf "$stage"
}

build_module() {
  local dir=$1 kver=$2 out="$1/kmod"
  if newer_than "$out/ummunotify.ko" "$ROOT/kmod" ; then
    log "building ummunotify.ko for $kver"
    rm -rf "$out" && mkdir -p "$out"
    (cd "$ROOT/kmod" && find . -maxdepth 2 \( -name '*.c' -o -name '*.h' -o -name Kbuild \) -not -path './tests/*' |
      cpio -pdm --quiet "$out")
    make -s -C "$dir/root/usr/src/linux-headers-$kver" M="$out" W=1 modules >"$out/build.log" 2>&1 ||
      { cat "$out/build.log" >&2; die "module build for $kver failed"; }
  fi
}

# The kernel's own kselftest harness (kselftest_harness.h, kselftest.h), which
# the module's path matrix uses: taken from Debian's linux-source-6.1 package
# (the oldest kernel we support), never copied into the repository.
KSELFTEST="$ROOT/.cache/kselftest"
fetch_kselftest_harness() {
  [ -f "$KSELFTEST/ready" ] && return
  local tmp
  log "fetching the kernel's kselftest harness (linux-source-6.1)"
  rm -rf "$KSELFTEST" && mkdir -p "$KSELFTEST"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq linux-source-6.1 2>/dev/null) || {
    apt_update_once
    (cd "$tmp" && apt-get download -qq linux-source-6.1 2>/dev/null)
  } || die "apt-get download linux-source-6.1 failed"
  dpkg-deb --fsys-tarfile "$tmp"/linux-source-6.1_*.deb |
    tar -xO ./usr/src/linux-source-6.1.tar.xz |
    tar -xJ -C "$KSELFTEST" --strip-components=4 \
      linux-source-6.1/tools/testing/selftests/kselftest_harness.h \
      linux-source-6.1/tools/testing/selftests/kselftest.h ||
    die "extracting the kselftest harness failed"
  rm -rf "$tmp"
  touch "$KSELFTEST/ready"
}

build_kmod_tests() {
  if [ -f "$ROOT/kmod/tests/Makefile" ]; then
    fetch_kselftest_harness
    make -s -C "$ROOT/kmod/tests" OUT="$ROOT/build/kmod-tests" KSELFTEST="$KSELFTEST" >/dev/null ||
      die "building kmod/tests failed"
  fi
}

install_apt_packages
install_npm_packages
build_native
build_typescript
for series in ${RDMA_REGCACHE_KERNELS:-6.1 6.12}; do prepare_kernel "$series"; done
build_kmod_tests
log "ready"
