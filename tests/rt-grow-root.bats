#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2154,SC2016 # bats: @test bodies run in subshells; run sets stderr_lines; code for the namespace is single-quoted
# rt-grow-root (overlays/debian-pi4), the first boot's growth of the root
# partition, on a real image attached with img-loop: the script runs in a
# chroot, in a mount namespace of its own, whose / is the image's root
# partition (so findmnt and sysfs tell it the truth) and whose /usr, /etc,
# /dev, /sys are this machine's. The refusals (/ not on a partition, not the
# last partition), a partition that already fills its disk, and the growth
# itself, which needs CAP_SYS_RESOURCE for resize2fs to resize a mounted
# filesystem.

bats_require_minimum_version 1.5.0
load block_helper

GROW=$TOP/overlays/debian-pi4/usr/local/sbin/rt-grow-root

# image_make SIZE PART...: a 64 MiB image with an MBR and partitions given
# as sfdisk lines; partition 2 holds an ext4 of 10 MiB.
image_make() {
	truncate -s 64M "$T/img"
	printf 'label: dos\n' >"$T/table"
	printf '%s\n' "$@" >>"$T/table"
	sfdisk -q "$T/img" <"$T/table"
	mkfs.ext4 -q -b 4096 -E offset=$((18432 * 512)) "$T/img" 10M
}

# grow_in DEV: rt-grow-root run with DEV mounted as /.
grow_in() {
	unshare -m sh -c '
		set -e
		mount --make-rprivate /
		r=$1/root
		mkdir -p "$r"
		mount "$2" "$r"
		for d in usr etc dev proc sys run tmp; do mkdir -p "$r/$d"; done
		for l in bin sbin lib lib32 lib64 libx32; do
			if [ -L "/$l" ] && [ ! -e "$r/$l" ]; then ln -s "$(readlink "/$l")" "$r/$l"; fi
		done
		mount --rbind /usr "$r/usr"
		mount --bind /etc "$r/etc"
		mount --rbind /dev "$r/dev"
		mount --rbind /sys "$r/sys"
		mount -t proc proc "$r/proc"
		cp "$3" "$r/rt-grow-root"
		exec chroot "$r" /bin/sh /rt-grow-root' sh "$T" "$1" "$GROW"
}

field() {
	sfdisk --dump "$T/img" | sed -n "s/^.*img$1 : .*$2= *\([0-9]*\).*/\1/p"
}

# The partition table, and the size of the filesystem on DEV.
table() { sfdisk --dump "$T/img"; }
blocks() { dumpe2fs -h "$1" 2>/dev/null | sed -n 's/^Block count: *//p'; }

@test "rt-grow-root: the root partition not the last one is left alone" {
	require_root
	[ -L /bin ] || skip "needs a merged /usr for its chroot"
	image_make 'start=2048, size=16384, type=c' 'start=18432, size=20480, type=83' 'start=38912, size=8192, type=83'
	local dev before
	dev=$(img-loop -q --state "$T/state" "$T/img")
	before=$(table)
	run --separate-stderr grow_in "${dev}p2"
	[ "$status" -eq 0 ]
	[ "$output" = "rt-grow-root: ${dev}p2 is not the last partition of $dev: not growing it" ]
	[ -z "$stderr" ]
	[ "$(table)" = "$before" ]
	[ "$(cat "/sys/class/block/${dev#/dev/}p2/size")" = 20480 ]
	[ "$(blocks "${dev}p2")" = 2560 ]
}

@test "rt-grow-root: / on a whole disk is not grown" {
	require_root
	[ -L /bin ] || skip "needs a merged /usr for its chroot"
	truncate -s 64M "$T/img"
	mkfs.ext4 -q -b 4096 "$T/img" 10M
	local dev
	dev=$(losetup --find --show "$T/img")
	run --separate-stderr grow_in "$dev"
	[ "$status" -eq 0 ]
	[ "$output" = "rt-grow-root: / is on $dev, which is not a partition: nothing to grow" ]
	[ -z "$stderr" ]
	[ "$(blocks "$dev")" = 2560 ]
}

@test "rt-grow-root: a root partition that fills its disk is not grown" {
	require_root
	[ -L /bin ] || skip "needs a merged /usr for its chroot"
	image_make 'start=2048, size=16384, type=c' 'start=18432, type=83'
	# The filesystem fills the partition too.
	local dev
	dev=$(img-loop -q --state "$T/state" "$T/img")
	resize2fs -f "${dev}p2" >/dev/null 2>&1
	run --separate-stderr grow_in "${dev}p2"
	[ "$status" -eq 0 ]
	echo "$output" "$stderr" >&2
	[ "${lines[0]}" = "rt-grow-root: ${dev}p2 already fills $dev" ]
	[[ $stderr == *"Nothing to do!"* ]]
	[ "$(field 2 size)" = $((131072 - 18432)) ]
	[ "$(blocks "${dev}p2")" = $(((131072 - 18432) / 8)) ]
}

@test "rt-grow-root: the last partition grows to the end of the disk, then its filesystem, online" {
	require_root
	[ -L /bin ] || skip "needs a merged /usr for its chroot"
	# Resizing a mounted ext4 takes CAP_SYS_RESOURCE (bit 24).
	(($(printf '%d' "0x$(awk '/^CapEff:/ { print $2 }' /proc/self/status)") >> 24 & 1)) ||
		skip "no CAP_SYS_RESOURCE here: resize2fs cannot resize a mounted filesystem"
	image_make 'start=2048, size=16384, type=c' 'start=18432, size=20480, type=83'
	local dev
	dev=$(img-loop -q --state "$T/state" "$T/img")
	run --separate-stderr grow_in "${dev}p2"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "rt-grow-root: growing partition 2 of $dev by 45 MiB" ]
	[ "$(field 2 size)" = $((131072 - 18432)) ]
	[ "$(cat "/sys/class/block/${dev#/dev/}p2/size")" = $((131072 - 18432)) ]
	[ "$(blocks "${dev}p2")" = $(((131072 - 18432) / 8)) ]
}
