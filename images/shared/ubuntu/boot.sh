# shellcheck shell=bash
# Where the Ubuntu images' firmware finds the kernel, sourced by the target
# scripts after common.sh and rt-tuning.sh (bootcfg_get). Ubuntu's raspi
# images boot /boot/firmware/vmlinuz and initrd.img: named in config.txt
# (22.04, 24.04) or loaded by U-Boot's boot.scr (20.04). The package hooks
# (flash-kernel) copy a kernel there whenever they run, keeping the previous
# one as vmlinuz.bak and initrd.img.bak.
#
#   kernel_to_firmware REL   the RT kernel REL's files to the boot partition
#   kernel_check_boot REL    fail unless the firmware will boot them
#   kernel_boot_final        both again, for the kernel /boot/vmlinuz names:
#                            the last step of the last phase, after every
#                            package trigger has run

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# Copy FILE to DEST through a temporary name: the FAT boot partition never
# holds a half-written kernel.
copy_atomic() {
	cp "$1" "$2.rtik-new"
	mv -f "$2.rtik-new" "$2"
}

kernel_to_firmware() {
	local rel=$1 vmlinuz=/boot/vmlinuz-$1 initrd=/boot/initrd.img-$1
	[ -f "$vmlinuz" ] || die "$vmlinuz is missing"
	if [ ! -f "$initrd" ]; then
		say "no $initrd (the package's hooks made none): making it"
		update-initramfs -c -k "$rel"
	fi
	# The names the stock kernel's packages kept current.
	ln -sfn "vmlinuz-$rel" /boot/vmlinuz
	ln -sfn "initrd.img-$rel" /boot/initrd.img
	rm -f /boot/vmlinuz.old /boot/initrd.img.old
	say "copying $vmlinuz and $initrd to $BOOT_DIR/vmlinuz and $BOOT_DIR/initrd.img"
	copy_atomic "$vmlinuz" "$BOOT_DIR/vmlinuz"
	copy_atomic "$initrd" "$BOOT_DIR/initrd.img"
	# flash-kernel's copies of the kernel it replaced: the purged stock
	# kernel. Overwritten with the RT kernel's, as the original builder
	# did, so that no fallback boots a kernel that is gone.
	local f src
	for f in vmlinuz initrd.img; do
		[ -e "$BOOT_DIR/$f.bak" ] || continue
		src=$vmlinuz
		[ "$f" = vmlinuz ] || src=$initrd
		if ! cmp -s "$src" "$BOOT_DIR/$f.bak"; then
			say "replacing $BOOT_DIR/$f.bak (the kernel flash-kernel replaced) with the RT kernel's"
			copy_atomic "$src" "$BOOT_DIR/$f.bak"
		fi
	done
}

# Fail unless what the firmware will boot is the RT kernel: config.txt
# loads vmlinuz itself, or U-Boot, whose boot script loads vmlinuz and
# initrd.img from the boot partition (Ubuntu 20.04); and both are the RT
# kernel's, byte for byte.
kernel_check_boot() {
	local rel=$1 kernel initramfs
	kernel=$(bootcfg_get kernel kernel8.img)
	case $kernel in
	vmlinuz)
		initramfs=$(bootcfg_get initramfs)
		[ "$initramfs" = initrd.img ] ||
			die "config.txt boots vmlinuz with initramfs '${initramfs:-none}', not initrd.img"
		;;
	uboot*)
		if [ ! -f "$BOOT_DIR/boot.scr" ] || ! grep -aq vmlinuz "$BOOT_DIR/boot.scr"; then
			die "config.txt boots U-Boot ($kernel), but $BOOT_DIR/boot.scr does not load vmlinuz"
		fi
		;;
	*)
		die "config.txt boots '$kernel', not vmlinuz: this recipe cannot tell which kernel will boot"
		;;
	esac
	[ "$(sha256_of "$BOOT_DIR/vmlinuz")" = "$(sha256_of "/boot/vmlinuz-$rel")" ] ||
		die "$BOOT_DIR/vmlinuz is not /boot/vmlinuz-$rel: the RT kernel would not boot"
	[ "$(sha256_of "$BOOT_DIR/initrd.img")" = "$(sha256_of "/boot/initrd.img-$rel")" ] ||
		die "$BOOT_DIR/initrd.img is not /boot/initrd.img-$rel: the RT kernel would not boot"
	local f
	for f in vmlinuz initrd.img; do
		[ ! -e "$BOOT_DIR/$f.bak" ] || cmp -s "$BOOT_DIR/$f.bak" "/boot/$f-$rel" ||
			die "$BOOT_DIR/$f.bak is not /boot/$f-$rel: a stale copy of another kernel"
	done
	say "the firmware boots $kernel -> vmlinuz = /boot/vmlinuz-$rel (RT kernel $rel)"
}

# The RT kernel's release, from the link kernel_to_firmware made.
kernel_boot_final() {
	local link rel
	link=$(readlink /boot/vmlinuz 2>/dev/null) || die "/boot/vmlinuz is not a link: run phase1-target first"
	rel=${link#vmlinuz-}
	if [ "$rel" = "$link" ] || [ ! -f "/boot/vmlinuz-$rel" ]; then
		die "/boot/vmlinuz points at '$link', not an installed vmlinuz-REL"
	fi
	say "the boot partition as shipped: the RT kernel $rel, copied and checked again"
	kernel_to_firmware "$rel"
	kernel_check_boot "$rel"
}
