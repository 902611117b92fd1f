#!/usr/bin/env bats
# img-grow: MBR and GPT, ext4 resized and vfat left alone, sparse growth,
# idempotence, and every refusal leaving the image untouched.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
	common_setup
	export MTOOLS_SKIP_CHECK=1
}

# bats runs teardown from its EXIT and INT traps, so this also runs when a
# test fails or is interrupted: no loop device outlives a test.
teardown() {
	block_cleanup
	if [ -n "${NOBODY_DIR-}" ]; then rm -rf -- "$NOBODY_DIR"; fi
}

# copy NAME: a sparse copy of fixture NAME in $T; prints its path.
copy() {
	cp --sparse=always "$(fixture "$1")" "$T/$1"
	printf '%s\n' "$T/$1"
}

# field IMG N KEY: KEY (start, size) of partition N from sfdisk --dump.
field() {
	sfdisk --dump "$1" | sed -n "s/^.*$2 : .*$3= *\([0-9]*\).*/\1/p"
}

# header IMG KEY: a header line of sfdisk --dump (last-lba, first-lba).
header() {
	sfdisk --dump "$1" | sed -n "s/^$2: *//p"
}

sectors() { echo $(($(stat -c %s "$1") / 512)); }
allocated_bytes() { echo $(($(stat -c '%b * %B' "$1"))); }
sha() { sha256sum <"$1" | cut -d' ' -f1; }

# Sector LBA of IMG, as text ("EFI PART" for a GPT header).
sector_head() {
	dd if="$1" bs=512 skip="$2" count=1 status=none | head -c 8 | tr -d '\0'
}

# Partition N of IMG extracted (sparsely) to $T/part.img.
part_extract() {
	local start size
	start=$(field "$1" "$2" start)
	size=$(field "$1" "$2" size)
	rm -f "$T/part.img"
	dd if="$1" of="$T/part.img" bs=1M iflag=skip_bytes,count_bytes conv=sparse \
		skip=$((start * 512)) count=$((size * 512)) status=none
}

# The last partition N of IMG ends at the end of the disk (MBR: its last
# sector; GPT: the last usable LBA, right before the backup at the end), and
# its ext4 is clean and fills it.
assert_grown() {
	local img=$1 n=$2 start size end blocks
	start=$(field "$img" "$n" start)
	size=$(field "$img" "$n" size)
	end=$((start + size - 1))
	if sfdisk --dump "$img" | grep -q '^label: gpt'; then
		[ "$(header "$img" last-lba)" -eq $(($(sectors "$img") - 34)) ]
		[ "$end" -eq "$(header "$img" last-lba)" ]
		run --separate-stderr sfdisk --verify "$img"
		[ "$status" -eq 0 ]
		[[ $output == *"No errors detected."* ]]
		[ -z "$stderr" ]
		[ "$(sector_head "$img" $(($(sectors "$img") - 1)))" = "EFI PART" ]
	else
		[ "$end" -eq $(($(sectors "$img") - 1)) ]
	fi
	part_extract "$img" "$n"
	run e2fsck -fn "$T/part.img"
	echo "$output"
	[ "$status" -eq 0 ]
	blocks=$(dumpe2fs -h "$T/part.img" 2>/dev/null | sed -n 's/^Block count: *//p')
	echo "blocks $blocks, partition $size sectors"
	[ "$blocks" -eq $((size * 512 / 4096)) ]
}

# refuses MSG IMG COMMAND...: COMMAND (img-grow) exits 1 with exactly
# "img-grow: MSG" on stderr, and IMG is byte for byte and size as it was.
refuses() {
	local msg=$1 img=$2 before size
	shift 2
	before=$(sha "$img")
	size=$(stat -c %s "$img")
	run --separate-stderr "$@"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "img-grow: $msg" ]
	[ "$(stat -c %s "$img")" -eq "$size" ]
	[ "$(sha "$img")" = "$before" ]
}

# An MBR image of 32 MiB, one partition from 1 MiB to the end, holding vfat.
vfat_image() {
	local img=$T/vfat.img
	truncate -s 32M "$img"
	printf 'label: dos\nstart=2048, type=c\n' | sfdisk -q --no-reread --no-tell-kernel "$img"
	mkfs.vfat -n GROWME --offset 2048 "$img" $(((65536 - 2048) / 2)) >/dev/null
	printf '%s\n' "$img"
}

@test "--help prints usage on stdout and exits 0" {
	run --separate-stderr img-grow --help
	[ "$status" -eq 0 ]
	[[ $output == "Usage: img-grow "* ]]
	[ -z "$stderr" ]
}

@test "--version prints the version" {
	run --separate-stderr img-grow -V
	[ "$status" -eq 0 ]
	[[ $output =~ ^img-grow\ [0-9]+\.[0-9]+ ]]
}

@test "usage errors exit 2" {
	run --separate-stderr img-grow "$T/x.img"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-grow: no size given: use --size SIZE" ]
	run --separate-stderr img-grow --size 1G
	[ "$status" -eq 2 ]
	[[ $stderr == "img-grow: no image given"* ]]
	run --separate-stderr img-grow --size 1G a b
	[ "$status" -eq 2 ]
	[[ $stderr == "img-grow: too many arguments"* ]]
	run --separate-stderr img-grow --bogus --size 1G x
	[ "$status" -eq 2 ]
}

@test "bad SIZE strings exit 2 with one line" {
	local s
	for s in '' abc 12Q -5M 1.5.5G + G 4GB2 +-1M ++1M; do
		run --separate-stderr img-grow --size "$s" "$T/x.img"
		echo "size '$s': $status $stderr"
		[ "$status" -eq 2 ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		[ "$stderr" = "img-grow: invalid size '$s': want a number with an optional K, M, G or T suffix, or +SIZE" ]
	done
	run --separate-stderr img-grow -s 1000 "$T/x.img"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-grow: size '1000' is not a whole number of 512-byte sectors" ]
	run --separate-stderr img-grow -s 99999999T "$T/x.img"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-grow: size '99999999T' is too large" ]
}

@test "bad partition numbers exit 2" {
	local p
	for p in 0 -1 +1 x 1x ''; do
		run --separate-stderr img-grow --size 1G --partition "$p" "$T/x.img"
		[ "$status" -eq 2 ]
		[ "$stderr" = "img-grow: --partition wants a partition number (1, 2, ...), not '$p'" ]
	done
}

@test "a missing image fails in one line" {
	run --separate-stderr img-grow --size 1G "$T/nope.img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-grow: cannot open '$T/nope.img': No such file or directory" ]
	[ ! -e "$T/nope.img" ]
}

@test "MBR: grow to 256M, p2 and its ext4 fill the disk" {
	require_root
	local img
	img=$(copy vendor-mbr.img)
	run --separate-stderr img-grow --size 256M "$img"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$stderr" = "img-grow: $img: 256 MiB, partition 2 grown to 207 MiB, ext4 resized" ]
	assert_nothing_left
	[ "$(stat -c %s "$img")" -eq $((256 << 20)) ]
	[ "$(field "$img" 1 start)" -eq 2048 ]
	[ "$(field "$img" 1 size)" -eq 98304 ]
	[ "$(field "$img" 2 start)" -eq 100352 ]
	assert_grown "$img" 2
	# The FAT partition is untouched.
	mdir -i "$img@@$((2048 * 512))" ::config.txt >/dev/null
}

@test "MBR: grow by +64M" {
	require_root
	local img
	img=$(copy vendor-mbr.img)
	run --separate-stderr img-grow -s +64M "$img"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-grow: $img: 192 MiB, partition 2 grown to 143 MiB, ext4 resized" ]
	[ "$(stat -c %s "$img")" -eq $((192 << 20)) ]
	assert_grown "$img" 2
	assert_nothing_left
}

@test "GPT: grow to 256M moves the backup header to the new end" {
	require_root
	local img
	img=$(copy vendor-gpt.img)
	[ "$(sector_head "$img" $(((128 << 11) - 1)))" = "EFI PART" ]
	run --separate-stderr img-grow --size 256M "$img"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-grow: $img: 256 MiB, partition 2 grown to 207 MiB, ext4 resized" ]
	assert_nothing_left
	assert_grown "$img" 2
	# The old backup header, now inside partition 2, is gone.
	[ "$(sector_head "$img" $(((128 << 11) - 1)))" != "EFI PART" ]
	# Names and UUIDs are kept.
	sfdisk --dump "$img" | grep -q '2 : start= *100352, .*uuid=5E4D3C2B-1A0F-4E9D-8C7B-6A5F4E3D2C1B, name="writable"'
}

@test "GPT: grow by +64M" {
	require_root
	local img
	img=$(copy vendor-gpt.img)
	run --separate-stderr img-grow --size +64M "$img"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-grow: $img: 192 MiB, partition 2 grown to 143 MiB, ext4 resized" ]
	[ "$(header "$img" last-lba)" -eq $(((192 << 11) - 34)) ]
	assert_grown "$img" 2
	assert_nothing_left
}

@test "GPT: the current size still grows p2 up to the last usable LBA" {
	require_root
	local img
	img=$(copy vendor-gpt.img)
	# The fixture's p2 ends at a MiB boundary, short of the last usable LBA.
	[ "$(($(field "$img" 2 start) + $(field "$img" 2 size) - 1))" -lt "$(header "$img" last-lba)" ]
	run --separate-stderr img-grow --size 128M "$img"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-grow: $img: 128 MiB, partition 2 grown to 79.0 MiB, ext4 resized" ]
	assert_grown "$img" 2
}

@test "growing to 4G keeps the image sparse: no zeros are written" {
	require_root
	local img before after
	img=$(copy vendor-mbr.img)
	before=$(allocated_bytes "$img")
	img-grow -q --size 4G "$img"
	after=$(allocated_bytes "$img")
	echo "allocated before $before, after $after"
	[ "$(stat -c %s "$img")" -eq $((4 << 30)) ]
	[ "$after" -lt $((before + (8 << 20))) ]
	[ "$(du -k "$img" | cut -f1)" -lt $((32 << 10)) ]
	[ "$(dumpe2fs -h "$img?offset=$((100352 * 512))" 2>/dev/null | sed -n 's/^Block count: *//p')" \
		-eq $(((4 << 30) / 4096 - 100352 / 8)) ]
	assert_nothing_left
}

@test "a second run changes nothing and says so" {
	require_root
	local v img sum
	for v in mbr gpt; do
		img=$(copy "vendor-$v.img")
		img-grow -q --size 256M "$img"
		sum=$(sha "$img")
		run --separate-stderr img-grow -v --size 256M "$img"
		[ "$status" -eq 0 ]
		[ "${stderr_lines[-1]}" = "img-grow: $img: already 256 MiB, partition 2 and its ext4 filesystem fill it" ]
		[[ $stderr != *e2fsck* ]]
		[ "$(sha "$img")" = "$sum" ]
		run --separate-stderr img-grow --size +0 "$img"
		[ "$status" -eq 0 ]
		[ "$stderr" = "img-grow: $img: already 256 MiB, partition 2 and its ext4 filesystem fill it" ]
		[ "$(sha "$img")" = "$sum" ]
	done
	assert_nothing_left
}

@test "an image already at its size is not written (no root needed)" {
	local img sum
	img=$(copy vendor-mbr.img)
	sum=$(sha "$img")
	run --separate-stderr img-grow --size 128M "$img"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-grow: $img: already 128 MiB, partition 2 and its ext4 filesystem fill it" ]
	[ "$(sha "$img")" = "$sum" ]
}

@test "GPT: an image extended by someone else gets its backup moved at that size" {
	require_root
	local img
	img=$(copy vendor-gpt.img)
	truncate -s 200M "$img"
	run --separate-stderr img-grow --size 200M "$img"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-grow: $img: 200 MiB, partition 2 grown to 151 MiB, ext4 resized" ]
	[ "$(sector_head "$img" $(((128 << 11) - 1)))" != "EFI PART" ]
	assert_grown "$img" 2
}

@test "a partition that fills the disk already gets its filesystem grown" {
	require_root
	local img
	img=$(copy vendor-mbr.img)
	truncate -s 192M "$img"
	echo ',+' | sfdisk -q --no-reread --no-tell-kernel -N 2 "$img"
	run --separate-stderr img-grow --size 192M "$img"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-grow: $img: 192 MiB, partition 2 already fills it, ext4 resized" ]
	assert_grown "$img" 2
	assert_nothing_left
}

# fake_tool NAME SCRIPT: a NAME first on PATH that runs SCRIPT.
fake_tool() {
	mkdir -p "$T/bin"
	printf '#!/bin/sh\n%s\n' "$2" >"$T/bin/$1"
	chmod +x "$T/bin/$1"
	PATH=$T/bin:$PATH
}

# Waits (up to 2 s) until nothing under $T is attached or mounted.
settled() {
	local i
	for ((i = 0; i < 20; i++)); do
		assert_nothing_left 2>/dev/null && return 0
		sleep 0.1
	done
	assert_nothing_left
}

@test "e2fsck failing: one line, exit 1, the loop device detached, a rerun finishes" {
	require_root
	local img
	img=$(copy vendor-mbr.img)
	fake_tool e2fsck 'echo "e2fsck: it is all broken" >&2; exit 8'
	run --separate-stderr img-grow --size 256M "$img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-grow: cannot grow the ext4 filesystem in partition 2 of '$img': e2fsck -f -y exited with status 8 (-v shows its output)" ]
	assert_nothing_left
	# -v shows what e2fsck said, on stderr.
	run --separate-stderr img-grow -v --size 256M "$img"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ $stderr == *"e2fsck: it is all broken"* ]]
	rm "$T/bin/e2fsck"
	run --separate-stderr img-grow --size 256M "$img"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-grow: $img: 256 MiB, partition 2 already fills it, ext4 resized" ]
	assert_grown "$img" 2
	assert_nothing_left
}

@test "resize2fs failing: exit 1 and the loop device detached" {
	require_root
	local img
	img=$(copy vendor-gpt.img)
	fake_tool resize2fs 'exit 1'
	run --separate-stderr img-grow --size 256M "$img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-grow: cannot grow the ext4 filesystem in partition 2 of '$img': resize2fs exited with status 1 (-v shows its output)" ]
	assert_nothing_left
}

@test "img-grow killed with SIGKILL midway leaves no loop device (autoclear)" {
	require_root
	local img
	img=$(copy vendor-mbr.img)
	fake_tool e2fsck 'kill -KILL $PPID; exit 0'
	run img-grow --size 256M "$img"
	[ "$status" -eq 137 ]
	settled
}

@test "missing e2fsprogs is found out before anything is written" {
	local img
	img=$(copy vendor-mbr.img)
	mkdir "$T/empty-path"
	refuses "cannot grow the ext4 filesystem in partition 2 of '$img': e2fsck is not installed (e2fsprogs)" \
		"$img" env PATH="$T/empty-path" "$(command -v img-grow)" --size 256M "$img"
}

@test "--partition 1 is refused: partition 2 follows it" {
	local img
	img=$(copy vendor-mbr.img)
	refuses "cannot grow partition 1 of '$img': partition 2 follows it" "$img" img-grow -p 1 -s 256M "$img"
	img=$(copy vendor-gpt.img)
	refuses "cannot grow partition 1 of '$img': partition 2 follows it" "$img" img-grow --partition 1 --size 256M "$img"
}

@test "--partition 2 names the last partition" {
	require_root
	local img
	img=$(copy vendor-gpt.img)
	run --separate-stderr img-grow --partition 2 --size 256M "$img"
	[ "$status" -eq 0 ]
	assert_grown "$img" 2
}

@test "shrinking is refused" {
	local img
	img=$(copy vendor-mbr.img)
	refuses "cannot shrink '$img' from 128 MiB to 64.0 MiB: img-grow only grows" "$img" img-grow --size 64M "$img"
	refuses "cannot shrink '$img' from 128 MiB to 0 B: img-grow only grows" "$img" img-grow --size 0 "$img"
}

@test "an MBR partition beyond 2 TiB is refused" {
	local img
	img=$(copy vendor-mbr.img)
	refuses "cannot grow partition 2 of '$img' beyond 2 TiB: an MBR partition table cannot describe it (use GPT)" \
		"$img" img-grow --size 3T "$img"
}

@test "a partition that does not exist is refused" {
	local img
	img=$(copy vendor-gpt.img)
	refuses "cannot grow partition 3 of '$img': there is no such partition" "$img" img-grow -p 3 -s 256M "$img"
}

@test "an image without a partition table is refused" {
	truncate -s 16M "$T/zeros.img"
	refuses "cannot grow '$T/zeros.img': it has no partition table" "$T/zeros.img" img-grow -s 32M "$T/zeros.img"
}

@test "an empty partition table and a table other than MBR or GPT are refused" {
	truncate -s 16M "$T/empty.img" "$T/sun.img"
	echo 'label: gpt' | sfdisk -q --no-reread --no-tell-kernel "$T/empty.img"
	refuses "cannot grow '$T/empty.img': its partition table holds no partitions" "$T/empty.img" \
		img-grow -s 32M "$T/empty.img"
	printf 'label: sun\n,,83\n' | sfdisk -q --no-reread --no-tell-kernel "$T/sun.img" 2>/dev/null
	refuses "cannot grow '$T/sun.img': it has a sun partition table; img-grow knows MBR and GPT" \
		"$T/sun.img" img-grow -s 32M "$T/sun.img"
}

@test "an image another process holds a lock on is refused" {
	local img
	img=$(copy vendor-mbr.img)
	refuses "cannot grow '$img': another process holds a lock on it" "$img" \
		flock "$img" img-grow -s 256M "$img"
}

@test "extended and logical MBR partitions are refused" {
	local img=$T/ext.img
	truncate -s 64M "$img"
	sfdisk -q --no-reread --no-tell-kernel "$img" <<-EOF
		label: dos
		start=2048, size=20480, type=83
		start=22528, type=5
		start=24576, type=83
	EOF
	refuses "cannot grow partition 5 of '$img': it is a logical partition; img-grow grows primary ones" \
		"$img" img-grow -s 128M "$img"
	refuses "cannot grow partition 2 of '$img': it is an extended partition; img-grow grows primary ones" \
		"$img" img-grow -p 2 -s 128M "$img"
}

@test "an image that a loop device is using is refused" {
	require_root
	local img dev
	img=$(copy vendor-mbr.img)
	dev=$(losetup -f --show "$img")
	refuses "cannot grow '$img': $dev is using it" "$img" img-grow -s 256M "$img"
	# Also when it was attached under another name.
	losetup -d "$dev"
	ln "$img" "$T/other.img"
	dev=$(losetup -f --show -o 1048576 "$T/other.img")
	refuses "cannot grow '$img': $dev is using it" "$img" img-grow -s 256M "$img"
}

@test "without root an ext4 that must grow is refused, image untouched" {
	require_root
	command -v setpriv >/dev/null || skip "no setpriv"
	local img
	# Somewhere the user nobody can reach: the parents of $T are root's alone.
	NOBODY_DIR=$(mktemp -d /tmp/img-grow-test.XXXXXX)
	chmod 0755 "$NOBODY_DIR"
	img=$NOBODY_DIR/vendor-mbr.img
	cp --sparse=always "$(fixture vendor-mbr.img)" "$img"
	chown nobody "$img"
	refuses "cannot grow the ext4 filesystem in partition 2 of '$img': no loop device (/dev/loop-control: Permission denied); run as root" \
		"$img" setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$(command -v img-grow)" -s 256M "$img"
}

@test "a vfat last partition grows, its filesystem does not (exit 0)" {
	local img sum
	img=$(vfat_image)
	run --separate-stderr img-grow --size 64M "$img"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-grow: $img: 64.0 MiB, partition 1 grown to 63.0 MiB; its vfat filesystem did not grow (img-grow grows ext2/3/4)" ]
	[ "$(field "$img" 1 size)" -eq $(((64 << 11) - 2048)) ]
	# Still the same FAT, of its old size.
	minfo -i "$img@@$((2048 * 512))" | grep -q 'small size: 63488 sectors'
	sum=$(sha "$img")
	run --separate-stderr img-grow --size 64M "$img"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-grow: $img: already 64.0 MiB, partition 1 fills it" ]
	[ "$(sha "$img")" = "$sum" ]
}

@test "a last partition with no filesystem grows, and says so" {
	local img=$T/empty.img
	truncate -s 32M "$img"
	printf 'label: gpt\nstart=2048\n' | sfdisk -q --no-reread --no-tell-kernel "$img"
	run --separate-stderr img-grow --size +32M "$img"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-grow: $img: 64.0 MiB, partition 1 grown to 63.0 MiB; it holds no filesystem to grow" ]
	[ "$(header "$img" last-lba)" -eq $(((64 << 11) - 34)) ]
	[ "$(($(field "$img" 1 start) + $(field "$img" 1 size) - 1))" -eq "$(header "$img" last-lba)" ]
	run sfdisk --verify "$img"
	[[ $output == *"No errors detected."* ]]
}

@test "-q prints only the summary, -v shows the tools' output on stderr" {
	require_root
	local img
	img=$(copy vendor-mbr.img)
	run --separate-stderr img-grow -q --size 256M "$img"
	[ "$status" -eq 0 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	img=$(copy vendor-gpt.img)
	run --separate-stderr img-grow -v --size 256M "$img"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[[ $stderr == *"Pass 5: Checking group summary information"* ]]
	[[ $stderr == *"The filesystem on /dev/loop"*" is now 52987 (4k) blocks long."* ]]
	[ "${stderr_lines[-1]}" = "img-grow: $img: 256 MiB, partition 2 grown to 207 MiB, ext4 resized" ]
	assert_nothing_left
}
