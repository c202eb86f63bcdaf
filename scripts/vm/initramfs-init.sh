#!/bin/busybox sh
# Initramfs of the test VM: load virtio + 9p, mount the host's root, hand over
# to scripts/vm/guest-init.sh on it (path given as rdmavm.init= on the cmdline).
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
for m in $(cat /modules/order); do insmod /modules/$m.ko || echo "initramfs: insmod $m failed"; done
init=
for word in $(cat /proc/cmdline); do
  case "$word" in rdmavm.init=*) init=${word#rdmavm.init=} ;; esac
done
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose hostroot /newroot; then
  echo "initramfs: cannot mount the host root over 9p"; echo o >/proc/sysrq-trigger
fi
umount /proc /sys
exec switch_root /newroot "$init"
