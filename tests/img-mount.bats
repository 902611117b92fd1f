#!/usr/bin/env bats
# img-mount: order, FUSE fallback, idempotence, read-only, and errors.
# (Symlink escapes and round trips are in block.bats.)

bats_require_minimum_version 1.5.0
load test_helper

setup() {
	common_setup
	cp --sparse=always "$(fixture vendor-mbr.img)" "$T/mbr.img"
}

teardown() {
	block_cleanup
}

attach() {
	require_root
	img-loop -q --state "$T/s" "$T/mbr.img" >/dev/null
}

source_of() { awk -v t="$1" '$5 == t { for (i = 7; $i != "-"; i++); print $(i + 2) }' /proc/self/mountinfo | tail -n 1; }
fstype_of() { awk -v t="$1" '$5 == t { for (i = 7; $i != "-"; i++); print $(i + 1) }' /proc/self/mountinfo | tail -n 1; }

@test "--help and --version" {
	run --separate-stderr img-mount --help
	[ "$status" -eq 0 ]
	[[ $output == "Usage: img-mount "* ]]
	run --separate-stderr img-mount -V
	[[ $output =~ ^img-mount\ [0-9] ]]
}

@test "usage errors exit 2" {
	run --separate-stderr img-mount --state "$T/s" --root "$T/root"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-mount: --state, --root and at least one --mount are needed" ]
	run --separate-stderr img-mount --state "$T/s" --root "$T/root" --mount x:/
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-mount: --mount wants N:PATH (e.g. 2:/), not 'x:/'" ]
	run --separate-stderr img-mount --state "$T/s" --root "$T/root" --mount 2
	[ "$status" -eq 2 ]
	run --separate-stderr img-mount --state "$T/s" --root "$T/root" --mount 0:/
	[ "$status" -eq 2 ]
	run --separate-stderr img-mount --state "$T/s" --root "$T/root" --mount 2:/ extra
	[ "$status" -eq 2 ]
}

@test "without a state file: one line pointing at img-loop" {
	run --separate-stderr img-mount --state "$T/s" --root "$T/root" --mount 2:/
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-mount: '$T/s' does not exist; attach the image with img-loop first" ]
}

@test "mounts root then boot, prints the root, records both in order" {
	attach
	run --separate-stderr img-mount --state "$T/s" --root "$T/root" --mount 2:/ --mount 1:/boot/firmware
	[ "$status" -eq 0 ]
	[ "$output" = "$T/root" ]
	[ "$(fstype_of "$T/root")" = ext4 ]
	[ -x "$T/root/bin/busybox" ] || [ -e "$T/root/usr/bin/busybox" ]
	[ -n "$(source_of "$T/root/boot/firmware")" ]
	mapfile -t mounts < <(sed -n 's/^mount=//p' "$T/s")
	[ "${mounts[0]}" = "2:$T/root" ]
	[ "${mounts[1]}" = "1:$T/root/boot/firmware" ]
}

@test "vfat without a kernel driver goes through fusefat, said in one line" {
	attach
	grep -qw vfat /proc/filesystems && skip "this kernel has vfat"
	run --separate-stderr img-mount --state "$T/s" --root "$T/root" --mount 2:/ --mount 1:/boot/firmware
	[ "$status" -eq 0 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ "$stderr" = "img-mount: the kernel has no vfat driver; mounted '$(sed -n 's/^part1=//p' "$T/s")' with fusefat" ]
	[ "$(fstype_of "$T/root/boot/firmware")" = fuse ]
	# Writable (fusefat's rw+), and the source is the partition device.
	echo hello >"$T/root/boot/firmware/note.txt"
	[ "$(cat "$T/root/boot/firmware/note.txt")" = hello ]
	[ "$(source_of "$T/root/boot/firmware")" = "$(sed -n 's/^part1=//p' "$T/s")" ]
}

@test "a second run with the same mounts changes nothing and exits 0" {
	attach
	img-mount -q --state "$T/s" --root "$T/root" --mount 2:/ --mount 1:/boot/firmware >/dev/null
	local before
	before=$(grep -c "$T/root" /proc/self/mountinfo)
	run --separate-stderr img-mount --state "$T/s" --root "$T/root" --mount 2:/ --mount 1:/boot/firmware
	[ "$status" -eq 0 ]
	[[ ${stderr_lines[0]} == "img-mount: '"*"' is already mounted on '$T/root'" ]]
	[ "$(grep -c "$T/root" /proc/self/mountinfo)" -eq "$before" ]
	[ "$(grep -c '^mount=' "$T/s")" -eq 2 ]
}

@test "--read-only mounts read-only" {
	attach
	img-mount -q --read-only --state "$T/s" --root "$T/root" --mount 2:/ --mount 1:/boot/firmware >/dev/null
	run touch "$T/root/etc/x"
	[ "$status" -ne 0 ]
	run touch "$T/root/boot/firmware/x"
	[ "$status" -ne 0 ]
}

@test "a partition that does not exist fails in one line, nothing mounted" {
	attach
	run --separate-stderr img-mount --state "$T/s" --root "$T/root" --mount 2:/ --mount 9:/boot
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-mount: '$T/mbr.img' has no partition 9" ]
	# The root mount of this run was undone, and dropped from the state.
	[ -z "$(source_of "$T/root")" ]
	! grep -q '^mount=' "$T/s" || false
}

@test "a partition without a filesystem fails in one line" {
	require_root
	truncate -s 16M "$T/blank.img"
	printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q "$T/blank.img"
	img-loop -q --state "$T/s" "$T/blank.img" >/dev/null
	run --separate-stderr img-mount --state "$T/s" --root "$T/root" --mount 1:/
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-mount: no filesystem found on partition 1 ('$(sed -n 's/^part1=//p' "$T/s")')" ]
	[ -z "$(source_of "$T/root")" ]
}

@test "a mount point taken by another filesystem is refused" {
	attach
	img-mount -q --state "$T/s" --root "$T/root" --mount 2:/ >/dev/null
	mkdir -p "$T/root/mnt/x"
	mount -t tmpfs none "$T/root/mnt/x"
	run --separate-stderr img-mount --state "$T/s" --root "$T/root" --mount 1:/mnt/x
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-mount: '$T/root/mnt/x' already has another filesystem mounted" ]
	umount "$T/root/mnt/x"
}

options_of() { awk -v t="$1" '$5 == t { print $6 }' /proc/self/mountinfo | tail -n 1; }

# A setuid-to-nobody copy of the host's id(1) and a device node in the
# image: on a nosuid mount root keeps its own euid; on nodev the node does
# not open.
plant_suid_and_node() {
	cp /usr/bin/id "$T/root/suid-id"
	chown 65534:65534 "$T/root/suid-id"
	chmod 4755 "$T/root/suid-id"
	mknod "$T/root/null-node" c 1 3
}

@test "the image's setuid programs and device nodes are dead on the host: nosuid,nodev (kernel and FUSE mounts)" {
	attach
	img-mount -q --state "$T/s" --root "$T/root" --mount 2:/ --mount 1:/boot/firmware >/dev/null
	[[ ,$(options_of "$T/root"), == *,nosuid,* ]]
	[[ ,$(options_of "$T/root"), == *,nodev,* ]]
	[[ ,$(options_of "$T/root/boot/firmware"), == *,nosuid,* ]]
	[[ ,$(options_of "$T/root/boot/firmware"), == *,nodev,* ]]
	plant_suid_and_node
	[ "$("$T/root/suid-id" -u)" = 0 ]
	run cat "$T/root/null-node"
	[ "$status" -ne 0 ]
	[[ $output == *"Permission denied"* ]]
	# Modes and owners are the image's, unchanged by the mount options.
	[ "$(stat -c '%a %u' "$T/root/suid-id")" = "4755 65534" ]
}

@test "-o suid,dev lifts them; a bad -o is a usage error" {
	attach
	img-mount -q -o suid,dev --state "$T/s" --root "$T/root" --mount 2:/ >/dev/null
	[[ ,$(options_of "$T/root"), != *,nosuid,* ]]
	plant_suid_and_node
	[ "$("$T/root/suid-id" -u)" = 65534 ]
	cat "$T/root/null-node"
	run --separate-stderr img-mount -o suid,exec --state "$T/s" --root "$T/root" --mount 2:/
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-mount: --options takes suid, dev and ro, separated by commas, not 'suid,exec'" ]
}

@test "the root directory img-mount makes is for root alone (0700)" {
	attach
	img-mount -q --state "$T/s" --root "$T/new/root" --mount 2:/ >/dev/null
	[ "$(stat -c %a "$T/new")" = 700 ]
	img-umount -q --state "$T/s"
	[ "$(stat -c %a "$T/new/root")" = 700 ]
}

@test "img-mount creates the root directory and missing mount points" {
	attach
	img-mount -q --state "$T/s" --root "$T/new/root" --mount 2:/ --mount 1:/srv/deep/boot >/dev/null
	[ -d "$T/new/root/srv/deep/boot" ]
	[ -n "$(source_of "$T/new/root/srv/deep/boot")" ]
}

@test "a mount point whose name in the image holds a newline is refused, nothing mounted, the state one line a mount" {
	attach
	mkdir -p "$T/victim"
	mount -t tmpfs victim "$T/victim"
	img-mount -q --state "$T/s" --root "$T/root" --mount 2:/ >/dev/null
	rm -rf "$T/root/boot/firmware"
	ln -s "/x"$'\n'"mount=1:$T/victim" "$T/root/boot/firmware"
	run --separate-stderr img-mount --state "$T/s" --root "$T/root" --mount 2:/ --mount 1:/boot/firmware
	[ "$status" -eq 1 ]
	[ "${stderr_lines[1]}" = "img-mount: mount point '/boot/firmware' resolves to a name with a control character in the image; refused" ]
	[ "${#stderr_lines[@]}" -eq 2 ] # the first: 2:/ already mounted
	[ "$(grep -c "^mount=" "$T/s")" -eq 1 ]
	! grep -q victim "$T/s" || false
	# img-umount --state leaves the host's mount alone.
	img-umount -q --state "$T/s"
	[ "$(fstype_of "$T/victim")" = tmpfs ]
	umount "$T/victim"
	assert_nothing_left
}

@test "a mount point that resolves to the image's root is refused" {
	attach
	img-mount -q --state "$T/s" --root "$T/root" --mount 2:/ >/dev/null
	rm -rf "$T/root/boot"
	ln -s / "$T/root/boot"
	run --separate-stderr img-mount -q --state "$T/s" --root "$T/root" --mount 2:/ --mount 1:/boot
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-mount: mount point '/boot' resolves to the root of the image; refused" ]
	[ "$(grep -c "$T/root " /proc/self/mountinfo)" -eq 1 ]
	[ "$(fstype_of "$T/root")" = ext4 ]
	[ "$(grep -c "^mount=" "$T/s")" -eq 1 ]
	# A deeper path that leads back to the root is refused as well.
	run --separate-stderr img-mount -q --state "$T/s" --root "$T/root" --mount 2:/ --mount 1:/boot/../boot/.
	[ "$status" -eq 1 ]
}

@test "the state records the root; another root while mounted is refused" {
	attach
	img-mount -q --state "$T/s" --root "$T/root" --mount 2:/ >/dev/null
	grep -qx "root=$T/root" "$T/s"
	run --separate-stderr img-mount --state "$T/s" --root "$T/other" --mount 1:/
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-mount: '$T/s' has mounts under '$T/root' already; unmount them first (img-umount --state $T/s)" ]
}

@test "a state file with an unknown line is refused" {
	attach
	printf 'colour=blue\n' >>"$T/s"
	local n
	n=$(wc -l <"$T/s")
	run --separate-stderr img-mount --state "$T/s" --root "$T/root" --mount 2:/
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-mount: '$T/s' line $n is not a state line; not guessing what it means" ]
	[ -z "$(source_of "$T/root")" ]
}
