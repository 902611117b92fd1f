#!/usr/bin/env bats
# img-loop: attach with partition devices, the state file, idempotence, and
# that a failed run leaves no loop device behind.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
	common_setup
	cp --sparse=always "$(fixture vendor-mbr.img)" "$T/mbr.img"
}

teardown() {
	block_cleanup
}

loops_of() { losetup -nO NAME,BACK-FILE | awk -v f="$1" '$2 == f { print $1 }'; }

@test "--help and --version" {
	run --separate-stderr img-loop --help
	[ "$status" -eq 0 ]
	[[ $output == "Usage: img-loop "* ]]
	run --separate-stderr img-loop --version
	[ "$status" -eq 0 ]
	[[ $output =~ ^img-loop\ [0-9] ]]
}

@test "usage errors exit 2" {
	run --separate-stderr img-loop "$T/mbr.img"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-loop: no state file given (--state FILE)" ]
	run --separate-stderr img-loop --state "$T/s"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-loop: no image given" ]
	run --separate-stderr img-loop --state "$T/s" a b
	[ "$status" -eq 2 ]
	run --separate-stderr img-loop --detach --state "$T/s" "$T/mbr.img"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-loop: --detach takes no image" ]
}

@test "attaches, prints the disk, and provides each partition" {
	require_root
	run --separate-stderr img-loop --state "$T/s" "$T/mbr.img"
	[ "$status" -eq 0 ]
	[[ $output =~ ^/dev/loop[0-9]+$ ]]
	local dev=$output
	[ "$(loops_of "$T/mbr.img")" = "$dev" ]
	[ -b "${dev}p1" ] && [ -b "${dev}p2" ]
	# Each partition device is exactly that partition.
	local start size
	read -r start size < <(sfdisk -d "$T/mbr.img" | awk -F'[=,]' '/mbr.img2/ { print $2, $4 }')
	[ "$(blockdev --getsize64 "${dev}p2")" -eq $((size * 512)) ]
	cmp <(dd if="$T/mbr.img" bs=512 skip="$start" count=8 status=none) \
		<(dd if="${dev}p2" bs=512 count=8 status=none)
	[ "$(blkid -s LABEL -o value "${dev}p1")" = system-boot ]
	[ "$(blkid -s LABEL -o value "${dev}p2")" = writable ]
}

@test "the state file records image, devices and time, as key=value" {
	require_root
	local dev
	dev=$(img-loop -q --state "$T/s" "$T/mbr.img")
	grep -qx "image=$T/mbr.img" "$T/s"
	grep -qx "loop=$dev" "$T/s"
	grep -qx "part1=${dev}p1" "$T/s"
	grep -qx "part2=${dev}p2" "$T/s"
	grep -qE '^created=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' "$T/s"
	grep -qE '^id=[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$' "$T/s"
	grep -qE "^image_id=$(stat -c '%d:%i' "$T/mbr.img")\$" "$T/s"
	# Written by rename: no temporary file beside it.
	[ "$(ls "$T" | grep -c '^s')" -eq 1 ]
}

@test "the GPT fixture gets its partitions too" {
	require_root
	cp --sparse=always "$(fixture vendor-gpt.img)" "$T/gpt.img"
	local dev
	dev=$(img-loop -q --state "$T/s" "$T/gpt.img")
	[ "$(blkid -s LABEL -o value "${dev}p2")" = writable ]
}

@test "a second run with the same state reuses the attachment" {
	require_root
	local dev
	dev=$(img-loop -q --state "$T/s" "$T/mbr.img")
	run --separate-stderr img-loop --state "$T/s" "$T/mbr.img"
	[ "$status" -eq 0 ]
	[ "$output" = "$dev" ]
	[ "$stderr" = "img-loop: '$T/mbr.img' is already attached as $dev" ]
	[ "$(loops_of "$T/mbr.img" | wc -l)" -eq 1 ]
}

@test "a stale state file (device detached behind its back) attaches again" {
	require_root
	local dev
	dev=$(img-loop -q --state "$T/s" "$T/mbr.img")
	losetup -d "$dev"
	run --separate-stderr img-loop --state "$T/s" "$T/mbr.img"
	[ "$status" -eq 0 ]
	[ "${stderr_lines[0]}" = "img-loop: '$T/s' is stale; attaching again" ]
	[ "$(loops_of "$T/mbr.img")" = "$output" ]
}

@test "a state file of another image, still attached, is refused" {
	require_root
	cp --sparse=always "$T/mbr.img" "$T/other.img"
	local dev
	dev=$(img-loop -q --state "$T/s" "$T/mbr.img")
	run --separate-stderr img-loop --state "$T/s" "$T/other.img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-loop: '$T/s' records '$T/mbr.img', still attached as $dev; detach it first" ]
	[ -z "$(loops_of "$T/other.img")" ]
}

@test "a failure after attaching detaches again: nothing is left" {
	require_root
	run --separate-stderr img-loop --state "$T/no/such/dir/s" "$T/mbr.img"
	[ "$status" -eq 1 ]
	[[ $stderr == "img-loop: cannot write '$T/no/such/dir/s': No such file or directory" ]]
	[ -z "$(loops_of "$T/mbr.img")" ]
}

@test "a missing image fails in one line" {
	run --separate-stderr img-loop --state "$T/s" "$T/nope.img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-loop: cannot open '$T/nope.img': No such file or directory" ]
	[ ! -e "$T/s" ]
}

@test "a directory is not an image" {
	run --separate-stderr img-loop --state "$T/s" "$T"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-loop: '$T' is not a regular file" ]
}

@test "a corrupt state file is an error, and nothing is attached" {
	require_root
	echo "garbage without equals" >"$T/s"
	run --separate-stderr img-loop --state "$T/s" "$T/mbr.img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-loop: '$T/s' line 1 is not a state line; not guessing what it means" ]
	[ -z "$(loops_of "$T/mbr.img")" ]
}

@test "an image without a partition table is attached as a whole" {
	require_root
	truncate -s 8M "$T/bare.img"
	run --separate-stderr img-loop --state "$T/s" "$T/bare.img"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-loop: '$T/bare.img' has no partition table; attached as a whole" ]
	! grep -q '^part' "$T/s" || false
}

@test "--detach detaches and removes the state file" {
	require_root
	local dev
	dev=$(img-loop -q --state "$T/s" "$T/mbr.img")
	run --separate-stderr img-loop --detach --state "$T/s"
	[ "$status" -eq 0 ]
	[ -z "$(loops_of "$T/mbr.img")" ]
	[ ! -e "$T/s" ]
	[ ! -e "${dev}p1" ]
}

@test "--detach with nothing attached is done already" {
	run --separate-stderr img-loop --detach --state "$T/s"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-loop: nothing to detach: '$T/s' does not exist" ]
}

@test "--detach of a stale state file removes it" {
	require_root
	local dev
	dev=$(img-loop -q --state "$T/s" "$T/mbr.img")
	losetup -d "$dev"
	run --separate-stderr img-loop --detach --state "$T/s"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-loop: $T/mbr.img is already detached" ]
	[ ! -e "$T/s" ]
}

@test "--detach refuses while a partition is mounted" {
	require_root
	local dev
	dev=$(img-loop -q --state "$T/s" "$T/mbr.img")
	mkdir "$T/root"
	mount "${dev}p2" "$T/root"
	run --separate-stderr img-loop --detach --state "$T/s"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-loop: '${dev}p2' is mounted on '$T/root'; unmount it first (img-umount --state $T/s)" ]
	[ "$(loops_of "$T/mbr.img")" = "$dev" ]
	umount "$T/root"
	img-loop --detach --state "$T/s"
	assert_nothing_left
}
