# shellcheck shell=bash
# Where the Ubuntu images' firmware finds the kernel, sourced by the target
# scripts after common.sh and rt-tuning.sh (bootcfg_get). Ubuntu's raspi
# images boot /boot/firmware/vmlinuz and initrd.img: named in config.txt
# (22.04, 24.04) or loaded by U-Boot's boot.scr (20.04). The package hooks
# (flash-kernel) copy a kernel there whenever they run, keeping the previous
# one as vmlinuz.bak and initrd.img.bak.
#
# From 25.10 on (Ubuntu's A/B boot), config.txt says os_prefix=current/:
# the kernel, initrd.img, cmdline.txt, device trees and overlays are in
# current/ (its state file says "good"), and flash-kernel writes a new
# kernel's to new/ (state "unknown"), which the next boot tries in the
# firmware's tryboot mode ([tryboot] os_prefix=new/) and
# piboot-try-validate.service promotes to current/, keeping the previous
# assets in old/. An image built here ships the RT kernel in current/,
# state good, with no new/ pending and no old/ (the stock kernel's).
#
#   kernel_to_firmware REL   the RT kernel REL's files to the boot partition
#   kernel_check_boot REL    fail unless the firmware will boot them, on
#                            every model of BOOT_MODELS (pi4, pi5)
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
	local prefix
	prefix=$(bootcfg_get os_prefix)
	if [ -n "$prefix" ]; then
		ab_promote "$rel" "$BOOT_DIR/${prefix%/}"
		return
	fi
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

# Ubuntu's A/B boot: what flash-kernel wrote to new/ for REL becomes
# current/, as piboot-try-validate does after a good boot (file by file:
# the FAT through FUSE is written with new files and renames only), what
# current/ held beyond it (the stock kernel's device trees and overlays)
# goes, and so do new/ and old/. Without a new/ (no flash-kernel run since
# the last time), current/ must hold REL already: kernel_check_boot says.
ab_promote() { # REL CURRENT-DIR
	local rel=$1 cur=$2 new=$BOOT_DIR/new f
	if [ -d "$new" ]; then
		cmp -s "$new/vmlinuz" "/boot/vmlinuz-$rel" ||
			die "$new holds no vmlinuz of $rel: flash-kernel last wrote another kernel's assets there"
		cmp -s "$new/initrd.img" "/boot/initrd.img-$rel" || copy_atomic "/boot/initrd.img-$rel" "$new/initrd.img"
		say "promoting $new (the RT kernel $rel, as flash-kernel wrote it) to $cur, as piboot-try-validate would"
		mkdir -p "$cur"
		while IFS= read -r f; do
			mkdir -p "$(dirname "$cur/$f")"
			copy_atomic "$new/$f" "$cur/$f"
		done < <(cd "$new" && find . -type f ! -path ./state | sed 's|^\./||')
		while IFS= read -r f; do
			[ -e "$new/$f" ] || rm -f "$cur/$f"
		done < <(cd "$cur" && find . -type f ! -path ./state | sed 's|^\./||')
		rm -rf "$new"
	fi
	[ -d "$cur" ] || die "$cur is missing: config.txt's os_prefix names a folder the boot partition does not have"
	echo good >"$cur/state.rtik-new"
	mv -f "$cur/state.rtik-new" "$cur/state"
	if [ -d "$BOOT_DIR/old" ]; then
		say "removing $BOOT_DIR/old (the assets before the RT kernel's)"
		rm -rf "$BOOT_DIR/old"
	fi
}

# The device tree each model's firmware loads.
model_dtb() {
	case $1 in
	pi4) echo bcm2711-rpi-4-b.dtb ;;
	pi5) echo bcm2712-rpi-5-b.dtb ;;
	*) die "BOOT_MODELS: unknown model '$1' (pi4, pi5)" ;;
	esac
}

# Fail unless what the firmware will boot is the RT kernel: config.txt
# loads vmlinuz itself, or U-Boot, whose boot script loads vmlinuz and
# initrd.img from the boot partition (Ubuntu 20.04); and both are the RT
# kernel's, byte for byte.
kernel_check_boot() {
	local rel=$1 model kernel initramfs prefix dtb cmdline f
	for model in ${BOOT_MODELS:-pi4}; do
		kernel=$(BOOTCFG_MODEL=$model bootcfg_get kernel kernel8.img)
		prefix=$(BOOTCFG_MODEL=$model bootcfg_get os_prefix)
		case $kernel in
		vmlinuz)
			initramfs=$(BOOTCFG_MODEL=$model bootcfg_get initramfs)
			[ "$initramfs" = initrd.img ] ||
				die "$model: config.txt boots vmlinuz with initramfs '${initramfs:-none}', not initrd.img"
			;;
		uboot*)
			if [ ! -f "$BOOT_DIR/boot.scr" ] || ! grep -aq vmlinuz "$BOOT_DIR/boot.scr"; then
				die "config.txt boots U-Boot ($kernel), but $BOOT_DIR/boot.scr does not load vmlinuz"
			fi
			;;
		*)
			die "$model: config.txt boots '$kernel', not vmlinuz: this recipe cannot tell which kernel will boot"
			;;
		esac
		[ "$(sha256_of "$BOOT_DIR/${prefix}vmlinuz")" = "$(sha256_of "/boot/vmlinuz-$rel")" ] ||
			die "$model: $BOOT_DIR/${prefix}vmlinuz is not /boot/vmlinuz-$rel: the RT kernel would not boot"
		[ "$(sha256_of "$BOOT_DIR/${prefix}initrd.img")" = "$(sha256_of "/boot/initrd.img-$rel")" ] ||
			die "$model: $BOOT_DIR/${prefix}initrd.img is not /boot/initrd.img-$rel: the RT kernel would not boot"
		cmdline=$BOOT_DIR/$prefix$(BOOTCFG_MODEL=$model bootcfg_get cmdline cmdline.txt)
		grep -q 'root=' "$cmdline" 2>/dev/null || die "$model: $cmdline names no root="
		# The model's device tree, the RT kernel's own where it ships one.
		dtb=$(model_dtb "$model")
		[ -f "$BOOT_DIR/$prefix$dtb" ] ||
			die "$model: no $prefix$dtb on the boot partition: the RT kernel $rel has no device tree for the $model"
		f=/lib/firmware/$rel/device-tree/broadcom/$dtb
		[ ! -f "$f" ] || cmp -s "$f" "$BOOT_DIR/$prefix$dtb" ||
			die "$model: $BOOT_DIR/$prefix$dtb is not $f: another kernel's device tree"
		say "$model: the firmware boots $kernel -> ${prefix}vmlinuz = /boot/vmlinuz-$rel (RT kernel $rel), $prefix$dtb"
	done
	if [ -n "$prefix" ]; then
		[ "$(cat "$BOOT_DIR/${prefix}state" 2>/dev/null)" = good ] ||
			die "$BOOT_DIR/${prefix}state does not say good: the firmware's fallback would not be the RT kernel"
		[ ! -d "$BOOT_DIR/new" ] ||
			die "$BOOT_DIR/new is there (state '$(cat "$BOOT_DIR/new/state" 2>/dev/null)'): the first boot would try it"
		return
	fi
	for f in vmlinuz initrd.img; do
		[ ! -e "$BOOT_DIR/$f.bak" ] || cmp -s "$BOOT_DIR/$f.bak" "/boot/$f-$rel" ||
			die "$BOOT_DIR/$f.bak is not /boot/$f-$rel: a stale copy of another kernel"
	done
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
