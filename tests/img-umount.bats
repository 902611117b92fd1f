#!/usr/bin/env bats
# img-umount: --state and --all, usage, and the nothing-to-do cases.
# (Busy mounts, SIGKILL recovery and staying inside DIR are in block.bats.)

bats_require_minimum_version 1.5.0
load block_helper

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

@test "--state leaves a mount below its root that is not the image's alone, and names it" {
	setup_image
	local dev
	dev=$(sed -n 's/^loop=//p' "$T/build/s")
	mkdir -p "$T/build/root/mnt/extra"
	mount -t tmpfs none "$T/build/root/mnt/extra"
	run --separate-stderr img-umount --state "$T/build/s"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-umount: '$T/build/root/mnt/extra' is not a mount of $dev; leaving it alone" ]
	grep -q " $T/build/root/mnt/extra " /proc/self/mountinfo
	# What holds it stays too; the state is kept to finish the job.
	grep -q " $T/build/root " /proc/self/mountinfo
	[ -f "$T/build/s" ]
	umount "$T/build/root/mnt/extra"
	img-umount --state "$T/build/s"
	assert_nothing_left
}

@test "--state never unmounts a mount it records outside its root" {
	setup_image
	mkdir -p "$T/victim"
	mount -t tmpfs victim "$T/victim"
	# What a newline in a value once made of a state file.
	echo "mount=1:$T/victim" >>"$T/build/s"
	run --separate-stderr img-umount --state "$T/build/s"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-umount: '$T/build/s' records a mount on '$T/victim', outside its root '$T/build/root'; leaving it alone" ]
	grep -q " $T/victim " /proc/self/mountinfo
	umount "$T/victim"
}

@test "--state never unmounts a mount under its root whose source is not its device" {
	setup_image
	local other dev
	dev=$(sed -n 's/^loop=//p' "$T/build/s")
	img-umount --state "$T/build/s"
	# Someone else's filesystem now sits where the state says.
	cp --sparse=always "$T/build/work.img" "$T/theirs.img"
	img-loop -q --state "$T/theirs.s" "$T/theirs.img" >/dev/null
	img-loop -q --state "$T/build/s" "$T/build/work.img" >/dev/null
	dev=$(sed -n 's/^loop=//p' "$T/build/s")
	other=$(sed -n 's/^part2=//p' "$T/theirs.s")
	mkdir -p "$T/build/root"
	mount "$other" "$T/build/root"
	printf 'root=%s\nmount=2:%s\n' "$T/build/root" "$T/build/root" >>"$T/build/s"
	run --separate-stderr img-umount --state "$T/build/s"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-umount: '$T/build/root' is not a mount of $dev; leaving it alone" ]
	grep -q " $T/build/root " /proc/self/mountinfo
	umount "$T/build/root"
}

@test "--state refuses a state file with a malformed or unknown line" {
	setup_image
	local n
	for bad in 'no equals sign' 'colour=blue' '=x' 'part0=/dev/null' 'partx=/dev/null'; do
		cp "$T/build/s" "$T/bad"
		printf '%s\n' "$bad" >>"$T/bad"
		n=$(wc -l <"$T/bad")
		run --separate-stderr img-umount --state "$T/bad"
		[ "$status" -eq 1 ]
		[ "$stderr" = "img-umount: '$T/bad' line $n is not a state line; not guessing what it means" ]
	done
	# A control character in a value.
	cp "$T/build/s" "$T/bad"
	printf 'mount=1:%s/build/root\tx\n' "$T" >>"$T/bad"
	run --separate-stderr img-umount --state "$T/bad"
	[ "$status" -eq 1 ]
	[[ $stderr == *"line $(wc -l <"$T/bad") is not a state line; not guessing what it means" ]]
	# Mounts without a root.
	grep -v '^root=' "$T/build/s" >"$T/bad"
	run --separate-stderr img-umount --state "$T/bad"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-umount: '$T/bad' records mounts but no root directory; not guessing" ]
	# Nothing was touched.
	grep -q " $T/build/root " /proc/self/mountinfo
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
	! losetup "$dev" 2>/dev/null | grep -q gone.img || false
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
