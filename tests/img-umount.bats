#!/usr/bin/env bats
# img-umount: --state and --all, usage, and the nothing-to-do cases.
# (Busy mounts, SIGKILL recovery and staying inside DIR are in block.bats.)

bats_require_minimum_version 1.5.0
load test_helper

setup() {
	common_setup
}

teardown() {
	block_cleanup
}

setup_image() {
	require_root
	mkdir -p "$T/build"
	cp --sparse=always "$(fixture vendor-mbr.img)" "$T/build/work.img"
	img-loop -q --state "$T/build/s" "$T/build/work.img" >/dev/null
	img-mount -q --state "$T/build/s" --root "$T/build/root" --mount 2:/ --mount 1:/boot/firmware >/dev/null
}

@test "--help and --version" {
	run --separate-stderr img-umount --help
	[ "$status" -eq 0 ]
	[[ $output == "Usage: img-umount "* ]]
	run --separate-stderr img-umount --version
	[[ $output =~ ^img-umount\ [0-9] ]]
}

@test "usage errors exit 2" {
	run --separate-stderr img-umount
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-umount: give one of --state FILE and --all DIR" ]
	run --separate-stderr img-umount --state "$T/s" --all "$T"
	[ "$status" -eq 2 ]
	run --separate-stderr img-umount --all /
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-umount: --all wants a build directory, not '/'" ]
	run --separate-stderr img-umount --all "$T" extra
	[ "$status" -eq 2 ]
}

@test "--all refuses a path that resolves to /" {
	ln -s / "$T/slash"
	run --separate-stderr img-umount --all "$T/slash"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-umount: '$T/slash' is the root directory; --all wants a build directory" ]
}

@test "--state unmounts in reverse order, detaches, removes the state" {
	setup_image
	run --separate-stderr img-umount -v --state "$T/build/s"
	[ "$status" -eq 0 ]
	[ "${stderr_lines[0]}" = "img-umount: unmounted '$T/build/root/boot/firmware'" ]
	[ "${stderr_lines[1]}" = "img-umount: unmounted '$T/build/root'" ]
	[[ ${stderr_lines[2]} =~ ^img-umount:\ detached\ /dev/loop[0-9]+$ ]]
	[ ! -e "$T/build/s" ]
	assert_nothing_left
}

@test "--state also unmounts what was mounted below its mounts" {
	setup_image
	mkdir -p "$T/build/root/mnt/extra"
	mount -t tmpfs none "$T/build/root/mnt/extra"
	img-umount --state "$T/build/s"
	assert_nothing_left
}

@test "--state without a state file has nothing to do" {
	run --separate-stderr img-umount --state "$T/nope"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-umount: nothing to undo: '$T/nope' does not exist" ]
}

@test "--state with a state file whose device was reused leaves that device alone" {
	setup_image
	local dev
	dev=$(sed -n 's/^loop=//p' "$T/build/s")
	umount "$T/build/root/boot/firmware" "$T/build/root"
	losetup -d "$dev"
	# Someone else's image now gets the device number.
	cp --sparse=always "$T/build/work.img" "$T/theirs.img"
	losetup "$dev" "$T/theirs.img"
	run --separate-stderr img-umount --state "$T/build/s"
	[ "$status" -eq 0 ]
	losetup "$dev" | grep -q theirs.img
	losetup -d "$dev"
}

@test "--all without a state file unmounts and detaches everything under DIR" {
	setup_image
	rm "$T/build/s"
	run --separate-stderr img-umount --all "$T/build"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	assert_nothing_left
}

@test "--all on a directory that does not exist has nothing to do" {
	run --separate-stderr img-umount --all "$T/none"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}

@test "--all detaches a loop device whose image was deleted" {
	require_root
	cp --sparse=always "$(fixture vendor-mbr.img)" "$T/gone.img"
	local dev
	dev=$(losetup -f --show "$T/gone.img")
	rm "$T/gone.img"
	run --separate-stderr img-umount --all "$T"
	[ "$status" -eq 0 ]
	! losetup "$dev" 2>/dev/null | grep -q gone.img
}

@test "--all leaves a loop device alone that is mounted outside DIR" {
	require_root
	mkdir -p "$T/build" "$T/elsewhere"
	cp --sparse=always "$(fixture vendor-mbr.img)" "$T/build/work.img"
	local dev
	dev=$(img-loop -q --state "$T/s" "$T/build/work.img")
	mount "${dev}p2" "$T/elsewhere"
	run --separate-stderr img-umount --all "$T/build"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-umount: $dev is still mounted on '$T/elsewhere'; not detaching it" ]
	grep -q " $T/elsewhere " /proc/self/mountinfo
	umount "$T/elsewhere"
}
