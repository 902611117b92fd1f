# shellcheck shell=bash
# The real trixie-rt-pi4 image, built once per suite run and shared by the
# tests that inspect it (tests/trixie-rt-pi4.bats) and boot it
# (tests/img-boot.bats): `load trixie_helper`, then
#
#   trixie_image        print the finished image's path; the first call
#                       builds it with make (under a lock), later calls
#                       are a no-op make
#   trixie_build_dir    where it is built (RTIK_TRIXIE_BUILD, default
#                       build/check/trixie-rt-pi4)
#   part_offset IMG N   the byte offset of partition N of IMG
#   root_cat IMG PATH   a file of the root filesystem, read with debugfs
#   root_stat IMG PATH  debugfs's stat of it
#   boot_cat IMG FILE   a file of the boot partition, read with mtools
#
# Nothing here attaches or mounts anything: the image is read in place.
# RTIK_TRIXIE_IMAGE names a finished image to use instead of building one.
# Downloads are kept in the tree's cache/ (CACHE_DIR), so a second run of
# the suite takes its .deb files from there.

trixie_build_dir() {
	echo "${RTIK_TRIXIE_BUILD:-$TOP/build/check/trixie-rt-pi4}"
}

trixie_image() {
	local dir log
	if [ -n "${RTIK_TRIXIE_IMAGE:-}" ]; then
		echo "$RTIK_TRIXIE_IMAGE"
		return
	fi
	dir=$(trixie_build_dir)
	log=$dir.log
	mkdir -p "$dir"
	if ! flock "$dir.lock" make -C "$TOP/images/trixie-rt-pi4" BUILD_DIR="$dir" >>"$log" 2>&1; then
		echo "trixie_image: building the image failed; the end of $log:" >&2
		tail -n 40 "$log" >&2
		return 1
	fi
	echo "$dir/trixie-rt-pi4.img"
}

part_offset() {
	sfdisk --json "$1" | python3 -c '
import json, sys
t = json.load(sys.stdin)["partitiontable"]
p = t["partitions"][int(sys.argv[1]) - 1]
print(p["start"] * t.get("sectorsize", 512))' "$2"
}

# debugfs opens IMG?offset=N (e2fsprogs' unix I/O option) read-only.
root_cat() {
	debugfs -R "cat \"$2\"" "$1?offset=$(part_offset "$1" 2)" 2>/dev/null
}

root_stat() {
	debugfs -R "stat \"$2\"" "$1?offset=$(part_offset "$1" 2)" 2>&1
}

root_ls() {
	debugfs -R "ls \"$2\"" "$1?offset=$(part_offset "$1" 2)" 2>/dev/null
}

boot_cat() {
	MTOOLS_SKIP_CHECK=1 mtype -i "$1@@$(part_offset "$1" 1)" "::$2"
}

boot_ls() {
	MTOOLS_SKIP_CHECK=1 mdir -b -i "$1@@$(part_offset "$1" 1)" ::/ | sed 's|^::/||'
}
