# shellcheck shell=bash
# Stub Debian packages with the names of Ubuntu's, for the stand-in vendor
# image (phase1-host.sh beside this file) and the local apt repositories
# and RT kernel zips of tests/ubuntu-e2e.bats. They hold a marker file or
# nothing; the kernel images install /boot/vmlinuz-REL and run the kernel
# hooks in /etc/kernel as Debian's and Ubuntu's kernel packages do.
#
#   stub_deb DIR NAME VERSION [DEPENDS] [FILE=CONTENT | FILE=@HOSTFILE]...
#   kernel_stub DIR REL VERSION   linux-image-REL
#   stock_kernel_stubs DIR        Ubuntu 20.04's raspi kernel and its meta
#                                 packages (linux-raspi, linux-image-raspi)
#   vendor_stubs DIR              the packages REMOVE_PACKAGES purges
#   archive_rt_kernel_stubs DIR [REL VERSION]
#                                 Ubuntu's raspi real-time kernel of
#                                 noble-updates (ARCHIVE_RT_REL), or another
#   sudo_rs_stub DIR              sudo-rs, the sudo of Ubuntu 26.04
#
# Every file and the package itself carry the time STUB_EPOCH, so the same
# call makes the same bytes.

STUB_EPOCH=${STUB_EPOCH:-1600000000}
STOCK_KERNEL_REL=5.4.0-1069-raspi
STOCK_KERNEL_VERSION=5.4.0-1069.79

# The package's maintainer scripts come from STUB_POSTINST and STUB_POSTRM
# (shell text) when set.
stub_deb() {
	local dir=$1 name=$2 version=$3 depends=${4:-} root kv f
	shift 3
	[ $# -eq 0 ] || shift
	root=$(mktemp -d)
	mkdir -p "$root/DEBIAN"
	{
		printf 'Package: %s\nVersion: %s\nArchitecture: arm64\n' "$name" "$version"
		printf 'Maintainer: rt-image-kit tests <tests@example.invalid>\n'
		[ -z "$depends" ] || printf 'Depends: %s\n' "$depends"
		printf 'Section: misc\nPriority: optional\nDescription: stand-in for %s\n' "$name"
		printf ' An empty package with the name of the real one, for tests.\n'
	} >"$root/DEBIAN/control"
	for kv in "$@"; do
		f=$root/${kv%%=*}
		mkdir -p "${f%/*}"
		case ${kv#*=} in
		@*) cp "${kv#*=@}" "$f" && chmod 0644 "$f" ;;
		*) printf '%s\n' "${kv#*=}" >"$f" ;;
		esac
	done
	for f in postinst postrm; do
		local text_var=STUB_${f^^}
		[ -n "${!text_var:-}" ] || continue
		printf '#!/bin/sh\nset -e\n%s\n' "${!text_var}" >"$root/DEBIAN/$f"
		chmod 0755 "$root/DEBIAN/$f"
	done
	find "$root" -exec touch -h -d "@$STUB_EPOCH" {} +
	mkdir -p "$dir"
	SOURCE_DATE_EPOCH=$STUB_EPOCH dpkg-deb -Zgzip --root-owner-group -b "$root" \
		"$dir/${name}_${version}_arm64.deb" >/dev/null
	rm -rf "$root"
}

# A kernel image package: /boot/vmlinuz-REL, the Pi 4's device tree (with
# PI5=yes the Pi 5's and the CM5's too) and an overlay under
# /lib/firmware/REL/device-tree (as Ubuntu's raspi kernels ship them), and
# the hooks of /etc/kernel/postinst.d (the initramfs, flash-kernel) run
# with the release and the image's path after it is configured, those of
# postrm.d after it is removed.
kernel_stub() {
	local dir=$1 rel=$2 version=$3 dt=lib/firmware/$2/device-tree pi5=()
	[ "${PI5:-no}" != yes ] ||
		pi5=("$dt/broadcom/bcm2712-rpi-5-b.dtb=dtb pi5 $rel" "$dt/broadcom/bcm2712-rpi-cm5-cm5io.dtb=dtb cm5 $rel")
	STUB_POSTINST="[ \"\$1\" != configure ] || run-parts --report --exit-on-error --arg=$rel --arg=/boot/vmlinuz-$rel /etc/kernel/postinst.d" \
	STUB_POSTRM="[ \"\$1\" != remove ] || [ ! -d /etc/kernel/postrm.d ] || run-parts --report --exit-on-error --arg=$rel --arg=/boot/vmlinuz-$rel /etc/kernel/postrm.d" \
		stub_deb "$dir" "linux-image-$rel" "$version" "" "boot/vmlinuz-$rel=kernel $rel" \
		"$dt/broadcom/bcm2711-rpi-4-b.dtb=dtb $rel" "${pi5[@]}" \
		"$dt/overlays/vc4-kms-v3d.dtbo=overlay $rel"
}

stock_kernel_stubs() {
	local dir=$1
	kernel_stub "$dir" "$STOCK_KERNEL_REL" "$STOCK_KERNEL_VERSION"
	stub_deb "$dir" "linux-modules-$STOCK_KERNEL_REL" "$STOCK_KERNEL_VERSION" "" \
		"lib/modules/$STOCK_KERNEL_REL/modules.dep="
	stub_deb "$dir" linux-image-raspi "$STOCK_KERNEL_VERSION" \
		"linux-image-$STOCK_KERNEL_REL, linux-modules-$STOCK_KERNEL_REL"
	stub_deb "$dir" linux-raspi "$STOCK_KERNEL_VERSION" linux-image-raspi
}

# What the recipes purge (REMOVE_PACKAGES): each with a file that must go.
VENDOR_STUBS=(snapd fwupd cryptsetup mdadm btrfs-progs xfsprogs unattended-upgrades multipath-tools)

vendor_stubs() {
	local dir=$1 p
	for p in "${VENDOR_STUBS[@]}"; do
		stub_deb "$dir" "$p" 1.0-0ubuntu1 "" "usr/share/doc/$p/stand-in=$p"
	done
}

# Ubuntu's own raspi real-time kernel as noble-updates (universe) has it,
# or with REL and VERSION another release's: the meta packages
# linux-raspi-realtime and linux-image-raspi-realtime, the image (its hooks
# run as a kernel's do; the Pi 5's device trees too, as Ubuntu's raspi
# kernels have them since 24.04) and its modules.
ARCHIVE_RT_REL=6.8.0-2031-raspi-realtime
ARCHIVE_RT_VERSION=6.8.0-2031.32

archive_rt_kernel_stubs() {
	local dir=$1 rel=${2:-$ARCHIVE_RT_REL} version=${3:-$ARCHIVE_RT_VERSION}
	PI5=yes kernel_stub "$dir" "$rel" "$version"
	stub_deb "$dir" "linux-modules-$rel" "$version" "" "lib/modules/$rel/modules.dep="
	stub_deb "$dir" linux-image-raspi-realtime "$version" "linux-image-$rel, linux-modules-$rel"
	stub_deb "$dir" linux-raspi-realtime "$version" linux-image-raspi-realtime
}

# sudo-rs, the sudo of Ubuntu 26.04 (it replaces sudo), which has no -E.
sudo_rs_stub() {
	stub_deb "$1" sudo-rs 0.2.8-1ubuntu1 "" "usr/share/doc/sudo-rs/stand-in=sudo-rs"
}
