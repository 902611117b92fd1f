#!/usr/bin/env bash
# phase1-target: inside the Debian minbase that mk/image.mk bootstrapped,
# make it look like Ubuntu's preinstalled server image for the Raspberry Pi
# where the Ubuntu recipes look: the kernel hooks (initramfs-tools and
# flash-kernel stand-ins), the boot partition of Ubuntu 20.04 (config.txt
# booting U-Boot, whose boot.scr loads vmlinuz and initrd.img), the stock
# raspi kernel and the packages the recipes purge (stubs from
# $SCRATCH_DIR/stubs), the user ubuntu, cloud-init told what Ubuntu's tells
# it (cloud/), a host name and /etc/hosts, the root and boot partitions by
# label, and no apt sources: the tests add their own.
set -euo pipefail

say() { echo "phase1-target: $*"; }

here=$(dirname "$0")
: "${SCRATCH_DIR:?}"
export DEBIAN_FRONTEND=noninteractive

say "kernel hooks: initramfs-tools and flash-kernel stand-ins"
install -d /etc/kernel/postinst.d /etc/kernel/postrm.d
install -m 0755 "$here/hooks/initramfs-tools" /etc/kernel/postinst.d/initramfs-tools
install -m 0755 "$here/hooks/initramfs-tools.postrm" /etc/kernel/postrm.d/initramfs-tools
install -m 0755 "$here/hooks/zz-flash-kernel" /etc/kernel/postinst.d/zz-flash-kernel

say "the boot partition: $(cd "$here/boot" && echo *)"
# A new file and a rename: FAT through FUSE (fusefat) refuses appends, and
# a file overwritten in place (O_TRUNC) was seen to leave its clusters
# marked free in the FAT.
for f in "$here"/boot/*; do
	cp "$f" "/boot/firmware/${f##*/}.new"
	mv -f "/boot/firmware/${f##*/}.new" "/boot/firmware/${f##*/}"
done

say "installing the stubs: $(cd "$SCRATCH_DIR/stubs" && echo *.deb)"
dpkg -i "$SCRATCH_DIR"/stubs/*.deb
[ -f /boot/firmware/vmlinuz ] && [ -f /boot/firmware/initrd.img ]

if ! getent passwd ubuntu >/dev/null; then
	say "the user ubuntu"
	useradd --create-home --shell /bin/bash --user-group ubuntu
fi

say "cloud-init: Ubuntu's default user, NoCloud from system-boot"
install -m 0644 "$here/cloud/90-ubuntu-standin.cfg" /etc/cloud/cloud.cfg.d/90-ubuntu-standin.cfg

# As on Ubuntu's image. dirmngr (gpg --recv-keys) resolves even an address
# through /etc/hosts: without the file it finds no keyserver at 127.0.0.1.
say "host name ubuntu, /etc/hosts"
echo ubuntu >/etc/hostname
printf '127.0.0.1 localhost\n127.0.1.1 ubuntu\n::1 ip6-localhost ip6-loopback\n' >/etc/hosts

say "fstab: LABEL=writable on /, LABEL=SYSTEM-BOOT on /boot/firmware"
cat >/etc/fstab <<FSTAB
LABEL=writable	/	ext4	discard,errors=remount-ro	0 1
LABEL=SYSTEM-BOOT	/boot/firmware	vfat	defaults	0 1
FSTAB

say "no apt sources, no lists, no downloaded packages"
rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*
apt-get clean
find /var/lib/apt/lists -mindepth 1 -maxdepth 1 ! -name partial ! -name lock -delete
say "done"
