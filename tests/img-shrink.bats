#!/usr/bin/env bats
# img-shrink: MBR and GPT fixtures grown and filled with files; after the
# shrink every file has the same hash, e2fsck is clean, the GPT backup is
# valid; a second run is a no-op; every refusal leaves the image untouched.

bats_require_minimum_version 1.5.0
load block_helper

sha() { sha256sum <"$1" | cut -d' ' -f1; }
field() { sfdisk --dump "$1" | sed -n "s/^.*$2 : .*$3= *\([0-9]*\).*/\1/p"; }

# grown KIND: the fixture grown to 512M with files written into its ext4
# (with debugfs, no mount); prints the image's path.
grown() {
	local img=$T/$1.img off i
	cp --sparse=always "$(fixture "vendor-$1.img")" "$img"
	img-grow -q --size 512M "$img"
	off=$(($(field "$img" 2 start) * 512))
	for i in 1 2 3 4; do
		head -c $((i * 3 << 20)) /dev/urandom >"$T/data$i"
	done
	{
		echo "mkdir /data"
		for i in 1 2 3 4; do echo "write $T/data$i /data/file$i"; done
	} | debugfs -w -f - "$img?offset=$off" >/dev/null 2>&1
	printf '%s\n' "$img"
}

# hashes IMG: sha256 of every file in partition 2's ext4, by path.
hashes() {
	local off dir=$T/dump.$RANDOM
	off=$(($(field "$1" 2 start) * 512))
	mkdir "$dir"
	debugfs -R "rdump / $dir" "$1?offset=$off" >/dev/null 2>&1
	(cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
	rm -rf "$dir"
}

assert_clean() {
	local img=$1 off
	off=$(($(field "$img" 2 start) * 512))
	run e2fsck -fn "$img?offset=$off"
	echo "$output"
	[ "$status" -eq 0 ]
}

refuses() {
	local msg=$1 img=$2 before
	shift 2
	before=$(sha "$img")
	run --separate-stderr "$@"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-shrink: $msg" ]
	[ "$(sha "$img")" = "$before" ]
}

@test "--help and --version" {
	run --separate-stderr img-shrink --help
	[ "$status" -eq 0 ]
	[[ $output == "Usage: img-shrink "* ]]
	run img-shrink -V
	[[ $output =~ ^img-shrink\ [0-9]+\.[0-9]+ ]]
}

@test "usage errors exit 2" {
	run --separate-stderr img-shrink
	[ "$status" -eq 2 ]
	[[ $stderr == "img-shrink: no image given"* ]]
	run --separate-stderr img-shrink --headroom 12Q x.img
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-shrink: invalid headroom '12Q': want a size with an optional K, M, G or T suffix" ]
	run --separate-stderr img-shrink -p 0 x.img
	[ "$status" -eq 2 ]
}

@test "MBR: shrunk, files unchanged, e2fsck clean, second run a no-op" {
	require_root
	local img before sum end
	img=$(grown mbr)
	before=$(hashes "$img")
	[ -n "$before" ]
	run --separate-stderr img-shrink "$img"
	[ "$status" -eq 0 ]
	[[ $stderr == "img-shrink: $img: "*", was 512 MiB; partition 2 and its ext4 shrunk to "* ]]
	assert_nothing_left
	[ "$(stat -c %s "$img")" -lt $((160 << 20)) ]
	[ $(($(stat -c %s "$img") % (1 << 20))) -eq 0 ]
	end=$(($(field "$img" 2 start) + $(field "$img" 2 size)))
	[ "$end" -eq $(($(stat -c %s "$img") / 512)) ]
	assert_clean "$img"
	[ "$(hashes "$img")" = "$before" ]
	# At least the headroom is free.
	free=$(dumpe2fs -h "$img?offset=$(($(field "$img" 2 start) * 512))" 2>/dev/null | sed -n 's/^Free blocks: *//p')
	[ "$free" -ge $((64 << 20 >> 12)) ]
	sum=$(sha "$img")
	run --separate-stderr img-shrink "$img"
	[ "$status" -eq 0 ]
	[[ $stderr == "img-shrink: $img: already "*", partition 2's ext4 within 64.0 MiB of its minimum" ]]
	[ "$(sha "$img")" = "$sum" ]
}

@test "GPT: shrunk, backup header valid at the new end, files unchanged, second run a no-op" {
	require_root
	local img before sum
	img=$(grown gpt)
	before=$(hashes "$img")
	img-shrink -q --headroom 16M "$img"
	assert_nothing_left
	run --separate-stderr sfdisk --verify "$img"
	[ "$status" -eq 0 ]
	[[ $output == *"No errors detected."* ]]
	[ -z "$stderr" ]
	# The backup header is the last sector.
	[ "$(dd if="$img" bs=512 skip=$(($(stat -c %s "$img") / 512 - 1)) count=1 status=none | head -c 8)" = "EFI PART" ]
	assert_clean "$img"
	[ "$(hashes "$img")" = "$before" ]
	# UUIDs and names kept.
	sfdisk --dump "$img" | grep -q 'uuid=5E4D3C2B-1A0F-4E9D-8C7B-6A5F4E3D2C1B, name="writable"'
	sum=$(sha "$img")
	img-shrink -q --headroom 16M "$img"
	[ "$(sha "$img")" = "$sum" ]
	# And img-grow takes it back up.
	img-grow -q --size 256M "$img"
	assert_clean "$img"
	[ "$(hashes "$img")" = "$before" ]
}

@test "a loop device using the image is refused" {
	require_root
	local img dev
	img=$T/x.img
	cp --sparse=always "$(fixture vendor-mbr.img)" "$img"
	dev=$(losetup -f --show "$img")
	refuses "cannot shrink '$img': $dev is using it" "$img" img-shrink "$img"
	losetup -d "$dev"
}

@test "a mounted image (fuse2fs) is refused" {
	require_root
	command -v fuse2fs >/dev/null || skip "no fuse2fs"
	local img
	img=$T/x.img
	cp --sparse=always "$(fixture vendor-mbr.img)" "$img"
	mkdir "$T/mnt"
	fuse2fs -o ro,fakeroot "$img?offset=$((100352 * 512))" "$T/mnt" >/dev/null 2>&1 ||
		skip "fuse2fs cannot mount at an offset here"
	refuses "cannot shrink '$img': it is mounted on '$T/mnt'" "$img" img-shrink "$img"
	umount "$T/mnt"
}

@test "a partition that is not last is refused" {
	local img=$T/x.img
	cp --sparse=always "$(fixture vendor-gpt.img)" "$img"
	refuses "cannot shrink partition 1 of '$img': it is not the last one, partition 2 follows it" \
		"$img" img-shrink -p 1 "$img"
}

@test "a filesystem other than ext2/3/4 is refused" {
	local img=$T/v.img
	truncate -s 32M "$img"
	printf 'label: dos\nstart=2048, type=c\n' | sfdisk -q --no-reread --no-tell-kernel "$img"
	mkfs.vfat --offset 2048 "$img" $(((65536 - 2048) / 2)) >/dev/null
	refuses "cannot shrink partition 1 of '$img': it holds vfat; img-shrink shrinks ext2/3/4" \
		"$img" img-shrink "$img"
}

@test "no partition table, a missing image" {
	truncate -s 8M "$T/z.img"
	refuses "cannot shrink '$T/z.img': it has no MBR or GPT partition table" "$T/z.img" img-shrink "$T/z.img"
	run --separate-stderr img-shrink "$T/nope.img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-shrink: cannot open '$T/nope.img': No such file or directory" ]
}

@test "a locked image is refused" {
	local img=$T/x.img
	cp --sparse=always "$(fixture vendor-mbr.img)" "$img"
	refuses "cannot shrink '$img': another process holds a lock on it" "$img" flock "$img" img-shrink "$img"
}
