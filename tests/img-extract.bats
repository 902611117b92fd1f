#!/usr/bin/env bats
# img-extract: every input form, sparse output, and every error path.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
	common_setup
	RAW_MBR=$(fixture vendor-mbr.img)
	RAW_GPT=$(fixture vendor-gpt.img)
}

# Bytes in 4 KiB blocks that are not all zeros.
nonzero_bytes() {
	python3 - "$1" <<'PY'
import sys
z = bytes(4096)
n = 0
with open(sys.argv[1], 'rb') as f:
    while b := f.read(4096):
        if b != z[:len(b)]:
            n += len(b)
print(n)
PY
}

allocated_bytes() { echo $(($(stat -c '%b * %B' "$1"))); }

# No output and no .part left behind.
assert_no_output() {
	[ ! -e "$1" ] || { echo "output '$1' exists" >&2; return 1; }
	[ ! -e "$1.part" ] || { echo "'$1.part' left behind" >&2; return 1; }
}

@test "--help prints usage on stdout and exits 0" {
	run --separate-stderr img-extract --help
	[ "$status" -eq 0 ]
	[[ $output == "Usage: img-extract "* ]]
	[ -z "$stderr" ]
}

@test "--version prints the version" {
	run --separate-stderr img-extract -V
	[ "$status" -eq 0 ]
	[[ $output =~ ^img-extract\ [0-9]+\.[0-9]+ ]]
}

@test "usage errors exit 2" {
	run --separate-stderr img-extract
	[ "$status" -eq 2 ]
	[[ $stderr == *"no input given"* ]]
	run --separate-stderr img-extract a b
	[ "$status" -eq 2 ]
	[[ $stderr == *"too many arguments"* ]]
	run --separate-stderr img-extract --bogus x
	[ "$status" -eq 2 ]
	run --separate-stderr img-extract -o '' x
	[ "$status" -eq 2 ]
}

@test "xz (multi-block, decoded in parallel) gives the raw image" {
	xz -l "$(fixture vendor-mbr.img.xz)" | awk 'NR == 2 { exit !($2 > 1) }'
	run --separate-stderr img-extract -v -o "$T/out.img" "$(fixture vendor-mbr.img.xz)"
	[ "$status" -eq 0 ]
	[[ $stderr == *"decoding xz with"*"threads"* ]]
	cmp "$T/out.img" "$RAW_MBR"
	[ ! -e "$T/out.img.part" ]
}

@test "gzip, bzip2, zstd and lz4 give the raw image" {
	for ext in gz bz2 zst lz4; do
		img-extract -q -o "$T/out-$ext.img" "$(fixture "vendor-mbr.img.$ext")"
		cmp "$T/out-$ext.img" "$RAW_MBR"
	done
}

@test "the GPT variant round-trips too" {
	img-extract -q -o "$T/out.img" "$(fixture vendor-gpt.img.xz)"
	cmp "$T/out.img" "$RAW_GPT"
}

@test "a zip holding one .img gives that image" {
	run --separate-stderr img-extract -v -o "$T/out.img" "$(fixture vendor-mbr.zip)"
	[ "$status" -eq 0 ]
	[[ $stderr == *"extracting 'vendor-mbr.img'"* ]]
	cmp "$T/out.img" "$RAW_MBR"
}

@test "a tar holding one .img and other files gives the image" {
	img-extract -q -o "$T/out.img" "$(fixture vendor-mbr.tar)"
	cmp "$T/out.img" "$RAW_MBR"
}

@test "a compressed tar is a container too" {
	tar -C "$(dirname "$RAW_MBR")" -cf - vendor-mbr.img | zstd -q >"$T/in.tar.zst"
	img-extract -q -o "$T/out.img" "$T/in.tar.zst"
	cmp "$T/out.img" "$RAW_MBR"
}

# An 8 MiB disk image whose last 6 MiB are a hole, packed sparse by GNU tar
# in FORMAT: the member's end has no data block at all.
sparse_tail_tar() {
	local format=$1
	mkdir -p "$T/src"
	truncate -s 8M "$T/src/disk.img"
	printf 'MBR' | dd of="$T/src/disk.img" conv=notrunc status=none
	dd if=/dev/urandom of="$T/src/disk.img" bs=1M seek=1 count=1 conv=notrunc status=none
	tar -C "$T/src" -cSf "$T/in.tar" --format="$format" disk.img
}

@test "a sparse tar member (GNU and pax) whose end is a hole keeps its full size and its holes" {
	local format
	for format in gnu posix; do
		rm -rf "$T/src" "$T/x" "$T/out.img" "$T/in.tar"
		sparse_tail_tar "$format"
		mkdir "$T/x"
		tar -C "$T/x" -xf "$T/in.tar"
		run --separate-stderr img-extract -q -o "$T/out.img" "$T/in.tar"
		[ "$status" -eq 0 ]
		echo "$format: tar -x gives $(stat -c %s "$T/x/disk.img") bytes, img-extract $(stat -c %s "$T/out.img")"
		[ "$(stat -c %s "$T/out.img")" -eq $((8 * 1024 * 1024)) ]
		cmp "$T/x/disk.img" "$T/out.img"
		# The holes stay holes: about the 1 MiB of data (and the MBR's block).
		[ "$(allocated_bytes "$T/out.img")" -le $((1024 * 1024 + 64 * 1024)) ]
	done
}

@test "a plain .img is copied" {
	img-extract -q -o "$T/out.img" "$RAW_MBR"
	cmp "$T/out.img" "$RAW_MBR"
}

@test "the output is sparse: only non-zero blocks take space" {
	img-extract -q -o "$T/out.img" "$(fixture vendor-mbr.img.xz)"
	local data alloc
	data=$(nonzero_bytes "$T/out.img")
	alloc=$(allocated_bytes "$T/out.img")
	echo "non-zero $data, allocated $alloc, size $(stat -c %s "$T/out.img")"
	[ "$alloc" -le $((data + data / 100)) ]
	[ "$alloc" -lt "$(stat -c %s "$T/out.img")" ]
}

@test "the default output is the input without its suffix, beside it" {
	cp "$(fixture vendor-mbr.img.xz)" "$T/"
	cd /
	img-extract -q "$T/vendor-mbr.img.xz"
	cmp "$T/vendor-mbr.img" "$RAW_MBR"
}

@test "the default output of an archive is the member's name, beside it" {
	mkdir "$T/in"
	cp "$(fixture vendor-mbr.zip)" "$T/in/download.zip"
	img-extract -q "$T/in/download.zip"
	cmp "$T/in/vendor-mbr.img" "$RAW_MBR"
}

@test "a plain image without -o is a usage error" {
	run --separate-stderr img-extract "$RAW_MBR"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-extract: cannot name the image inside '$RAW_MBR'; give one with -o" ]
}

@test "an existing output is kept without -f" {
	echo precious >"$T/out.img"
	run --separate-stderr img-extract -o "$T/out.img" "$(fixture vendor-mbr.img.gz)"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-extract: '$T/out.img' exists; use -f to overwrite it" ]
	[ "$(cat "$T/out.img")" = precious ]
	[ ! -e "$T/out.img.part" ]
}

@test "an existing default output of an archive is kept without -f" {
	cp "$(fixture vendor-mbr.zip)" "$T/in.zip"
	echo precious >"$T/vendor-mbr.img"
	run --separate-stderr img-extract "$T/in.zip"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-extract: '$T/vendor-mbr.img' exists; use -f to overwrite it" ]
	[ "$(cat "$T/vendor-mbr.img")" = precious ]
}

@test "-f overwrites an existing output" {
	echo old >"$T/out.img"
	img-extract -q -f -o "$T/out.img" "$(fixture vendor-mbr.img.gz)"
	cmp "$T/out.img" "$RAW_MBR"
}

@test "a truncated xz fails in one line and leaves no output" {
	run --separate-stderr img-extract -o "$T/out.img" "$(fixture truncated.img.xz)"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "img-extract: '"*"truncated.img.xz': unexpected end of input (truncated file?)" ]]
	assert_no_output "$T/out.img"
}

@test "corrupt xz data fails and leaves no output" {
	cp "$(fixture vendor-mbr.img.xz)" "$T/bad.img.xz"
	local size
	size=$(stat -c %s "$T/bad.img.xz")
	printf 'garbage!garbage!' | dd of="$T/bad.img.xz" bs=1 seek=$((size / 2)) conv=notrunc status=none
	run --separate-stderr img-extract -o "$T/out.img" "$T/bad.img.xz"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *"compressed data is corrupt"* ]]
	assert_no_output "$T/out.img"
}

@test "a truncated gzip fails and leaves no output" {
	local in
	in=$(fixture vendor-mbr.img.gz)
	head -c $(($(stat -c %s "$in") / 2)) "$in" >"$T/cut.img.gz"
	run --separate-stderr img-extract -o "$T/out.img" "$T/cut.img.gz"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "img-extract: '$T/cut.img.gz': "* ]]
	assert_no_output "$T/out.img"
}

@test "a truncated zip fails and leaves no output" {
	local in
	in=$(fixture vendor-mbr.zip)
	head -c $(($(stat -c %s "$in") / 2)) "$in" >"$T/cut.zip"
	run --separate-stderr img-extract -o "$T/out.img" "$T/cut.zip"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	assert_no_output "$T/out.img"
}

@test "a zip holding two images is refused, naming them" {
	run --separate-stderr img-extract -o "$T/out.img" "$(fixture two-images.zip)"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *"holds 2 .img files, expected one ("*".img, "*".img)" ]]
	assert_no_output "$T/out.img"
}

@test "a zip holding no image is refused, listing what it holds" {
	run --separate-stderr img-extract -o "$T/out.img" "$(fixture no-image.zip)"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-extract: '$(fixture no-image.zip)' holds no .img file (it holds: README.txt)" ]
	assert_no_output "$T/out.img"
}

@test "a missing input fails in one line" {
	run --separate-stderr img-extract -o "$T/out.img" "$T/nope.img.xz"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-extract: cannot open '$T/nope.img.xz': No such file or directory" ]
	assert_no_output "$T/out.img"
}

@test "an empty input fails in one line" {
	: >"$T/empty.img.xz"
	run --separate-stderr img-extract -o "$T/out.img" "$T/empty.img.xz"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-extract: '$T/empty.img.xz': file is empty" ]
	assert_no_output "$T/out.img"
}

@test "a directory as input fails in one line" {
	run --separate-stderr img-extract -o "$T/out.img" "$T"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	assert_no_output "$T/out.img"
}

@test "an output directory that does not exist fails in one line" {
	run --separate-stderr img-extract -o "$T/no/such/dir/out.img" "$(fixture vendor-mbr.img.gz)"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-extract: cannot create '$T/no/such/dir/out.img.part': No such file or directory" ]
}

@test "-q prints only the one-line summary" {
	run --separate-stderr img-extract -q -o "$T/out.img" "$(fixture vendor-mbr.img.xz)"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "img-extract: $T/out.img: "*" allocated) in "* ]]
}

@test "on a terminal a progress line shows bytes, percent, rate and ETA" {
	run script -qec "img-extract -o '$T/out.img' '$(fixture vendor-mbr.img.xz)'" /dev/null
	[ "$status" -eq 0 ]
	[[ $output == *"%"*"/s"*"ETA"* ]]
	cmp "$T/out.img" "$RAW_MBR"
}

@test "without a terminal there is no progress line" {
	run --separate-stderr img-extract -o "$T/out.img" "$(fixture vendor-mbr.img.xz)"
	[ "$status" -eq 0 ]
	[[ $stderr != *"ETA"* ]]
	[ "${#stderr_lines[@]}" -eq 1 ]
}

@test "an .xz that asks for more memory than XZ_MEMLIMIT is refused in one line, no output" {
	# A valid small .xz whose block header claims a 4 GiB dictionary (its
	# CRC32 made right again): the decoder would have to reserve that.
	head -c 100000 /dev/urandom >"$T/small.bin"
	xz -T1 -k "$T/small.bin"
	python3 - "$T/small.bin.xz" "$T/greedy.img.xz" <<'PY'
import struct, sys, zlib
b = bytearray(open(sys.argv[1], 'rb').read())
size = (b[12] + 1) * 4
h = b[12:12 + size]
i = h.index(b'\x21\x01')  # the LZMA2 filter and its one property byte
h[i + 2] = 40             # dictionary: 4 GiB - 1
struct.pack_into('<I', h, size - 4, zlib.crc32(bytes(h[:size - 4])))
b[12:12 + size] = h
open(sys.argv[2], 'wb').write(b)
PY
	run --separate-stderr img-extract -o "$T/out.img" "$T/greedy.img.xz"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-extract: '$T/greedy.img.xz': decoding needs more memory than the limit of 1.00 GiB (XZ_MEMLIMIT)" ]
	[ ! -e "$T/out.img" ] && [ ! -e "$T/out.img.part" ]
}
