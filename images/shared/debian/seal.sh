#!/usr/bin/env bash
# debian/seal.sh: the last step inside a Debian image that mk/image.mk
# bootstrapped. Makes the initramfs once for the whole build (the bootstrap
# deferred it with INITRD=No), lets raspi-firmware's hooks write the boot
# partition, checks that the firmware will boot the installed kernel, and
# leaves what each device must make for itself to its first boot: SSH host
# keys and the machine-id. Also removes apt's lists.
#
# BOOT_DIR (default /boot/firmware) is for tests.
set -euo pipefail
shopt -s inherit_errexit

PHASE=debian-seal
# shellcheck source-path=SCRIPTDIR/.. source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
# shellcheck source-path=SCRIPTDIR/.. source=rt-tuning.sh
. "$(dirname "${BASH_SOURCE[0]}")/../rt-tuning.sh"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

same_file() {
	if [ ! -f "$1" ] || [ "$(sha256_of "$1")" != "$(sha256_of "$2")" ]; then
		die "$1 is not $2"
	fi
}

# The kernel releases installed, newest last.
kernels() {
	local f
	for f in /boot/vmlinuz-*; do
		[ -e "$f" ] && echo "${f#/boot/vmlinuz-}"
	done | sort -V
}

initramfs_make() {
	local rel
	for rel in "$@"; do
		if [ -e "/boot/initrd.img-$rel" ]; then
			say "updating the initramfs of $rel"
			update-initramfs -u -k "$rel"
		else
			say "making the initramfs of $rel"
			update-initramfs -c -k "$rel"
		fi
	done
}

# Fail unless what the firmware boots is the newest kernel and its
# initramfs, byte for byte, and the command line finds the root by label.
boot_check() {
	local rel=$1 kernel initramfs
	kernel=$(bootcfg_get kernel)
	initramfs=$(bootcfg_get initramfs)
	[ "$kernel" = "vmlinuz-$rel" ] || die "config.txt boots '${kernel:-nothing}', not vmlinuz-$rel"
	[ "$initramfs" = "initrd.img-$rel" ] || die "config.txt loads the initramfs '${initramfs:-none}', not initrd.img-$rel"
	same_file "$BOOT_DIR/$kernel" "/boot/vmlinuz-$rel"
	same_file "$BOOT_DIR/$initramfs" "/boot/initrd.img-$rel"
	[ -f "$BOOT_DIR/bcm2711-rpi-4-b.dtb" ] || die "$BOOT_DIR/bcm2711-rpi-4-b.dtb (the Pi 4's device tree) is missing"
	[ -f "$BOOT_DIR/cmdline.txt" ] || die "$BOOT_DIR/cmdline.txt (the kernel's command line) is missing"
	grep -q 'root=LABEL=' "$BOOT_DIR/cmdline.txt" || die "cmdline.txt does not find the root by label: $(cat "$BOOT_DIR/cmdline.txt")"
	say "the firmware boots $kernel with $initramfs; $(cat "$BOOT_DIR/cmdline.txt")"
}

first_boot_prepare() {
	rm -f /etc/ssh/ssh_host_*
	# Empty, not missing: systemd makes a new one at first boot.
	: >/etc/machine-id
	if [ -f /var/lib/dbus/machine-id ] && [ ! -L /var/lib/dbus/machine-id ]; then
		rm -f /var/lib/dbus/machine-id
	fi
	find /var/lib/apt/lists -mindepth 1 -maxdepth 1 ! -name partial ! -name lock -delete
	rm -f /var/cache/debconf/*-old /var/lib/dpkg/*-old
	say "no SSH host keys, an empty machine-id, no apt lists"
}

# Runs "$@" with BOOT_DIR on a tmpfs copy of the boot partition, then
# writes back each file that changed as a whole (a new file, then a
# rename) and removes what was removed. raspi-firmware's hooks append to
# config.txt, which a FAT filesystem served by FUSE (fusefat, where the
# kernel has no vfat driver) refuses; and the partition the firmware reads
# is never left with a half-written kernel.
boot_staged() {
	local fat=/run/rtik-boot-fat status=0 f
	mkdir -p "$fat"
	# Private, in this container's own mount namespace: the tmpfs must not
	# propagate onto the bind (or anywhere else).
	mount --make-private "$BOOT_DIR"
	mount --bind "$BOOT_DIR" "$fat"
	mount --make-private "$fat"
	# shellcheck disable=SC2064 # the paths are fixed now
	trap "umount '$BOOT_DIR' 2>/dev/null; umount '$fat' 2>/dev/null; policy_rc_d_remove" EXIT
	mount -t tmpfs -o mode=0755 rtik-boot "$BOOT_DIR"
	cp -R "$fat/." "$BOOT_DIR/"
	"$@" || status=$?
	if [ "$status" -eq 0 ]; then
		(
			cd "$BOOT_DIR"
			find . -type d | while IFS= read -r f; do mkdir -p "$fat/$f"; done
			find . -type f | while IFS= read -r f; do
				if ! cmp -s "$f" "$fat/$f"; then
					cp "$f" "$fat/$f.rtik-new"
					mv -f "$fat/$f.rtik-new" "$fat/$f"
				fi
			done
			cd "$fat"
			find . -depth -type f | while IFS= read -r f; do
				[ -e "$BOOT_DIR/$f" ] || rm -f "$f"
			done
		)
	fi
	umount "$BOOT_DIR"
	umount "$fat"
	rmdir "$fat"
	trap policy_rc_d_remove EXIT
	return "$status"
}

# The initramfs, then raspi-firmware's hook once more, so that a change of
# /etc/default alone reaches the boot partition too.
boot_update() {
	initramfs_make "$@"
	if raspi_firmware_debian; then
		DEB_MAINT_PARAMS=configure "$RASPI_FIRMWARE_HOOK" "${@: -1}"
	fi
}

main() {
	local rels
	export LC_ALL=C.UTF-8
	mapfile -t rels < <(kernels)
	[ "${#rels[@]}" -gt 0 ] || die "no kernel in /boot: is a linux-image package in IMAGE_PACKAGES?"
	# mkinitramfs sets its own PATH: the host's cp, sed, zstd, cpio... are
	# bound over the image's for it (where they are emulated otherwise).
	boot_staged with_native_tools boot_update "${rels[@]}"
	if raspi_firmware_debian; then
		boot_check "${rels[-1]}"
	fi
	first_boot_prepare
	say "done"
}

# Sourced (by a test) it only defines the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	main "$@"
fi
