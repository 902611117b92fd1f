#!/usr/bin/env bats
# img-pack: every format decompresses with its plain CLI to the image,
# bmaptool copy reproduces it, the sums check, the Imager entry matches the
# files; bad input and a full disk leave nothing under a final name.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
	common_setup
}

teardown() {
	if [ -n "${TMPFS-}" ]; then umount "$TMPFS" 2>/dev/null || true; fi
}

# copy NAME: a sparse copy of fixture NAME in $T as x.img; prints its path.
copy() {
	cp --sparse=always "$(fixture "$1")" "$T/x.img"
	printf '%s\n' "$T/x.img"
}

sha() { sha256sum <"$1" | cut -d' ' -f1; }

# Nothing but the four outputs (no .part) in DIR.
assert_only_outputs() {
	local dir=$1 ext=$2
	run ls -A "$dir"
	echo "$output"
	[ "$output" = "$(printf '%s\n' x.img.bmap "x.img.$ext" x.rpi-imager.json x.sha256 | sort)" ]
}

# check_format FORMAT DECOMPRESSOR...: packs $T/x.img into $T/out and checks
# every output.
check_format() {
	local f=$1 img=$T/x.img sum
	shift
	sum=$(sha "$img")
	mkdir -p "$T/out"
	run --separate-stderr img-pack --format "$f" --out-dir "$T/out" "$img"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[[ $stderr == "img-pack: $img: 128 MiB, $f in "*", "*" ranges in the block map" ]]
	assert_only_outputs "$T/out" "$f"
	# The plain CLI gives the image back.
	[ "$("$@" "$T/out/x.img.$f" | sha256sum | cut -d' ' -f1)" = "$sum" ]
	# bmaptool copy reproduces it byte for byte.
	bmaptool -q copy "$T/out/x.img.$f" --bmap "$T/out/x.img.bmap" "$T/target.img"
	[ "$(sha "$T/target.img")" = "$sum" ]
	[ "$(stat -c %s "$T/target.img")" -eq "$(stat -c %s "$img")" ]
	# sha256sum -c, beside the image.
	cp --sparse=always "$img" "$T/out/x.img"
	(cd "$T/out" && sha256sum -c --strict x.sha256)
	rm "$T/out/x.img"
	# The Imager entry: sizes and hashes of the files, url relative.
	python3 - "$T/out" "$img" "x.img.$f" <<'PY'
import hashlib, json, os, sys, datetime
out, img, name = sys.argv[1:]
d = json.load(open(os.path.join(out, "x.rpi-imager.json")))
e = d["os_list"][0]
def h(p): return hashlib.sha256(open(p, "rb").read()).hexdigest()
assert e["url"] == name, e["url"]
assert e["extract_size"] == os.path.getsize(img)
assert e["extract_sha256"] == h(img)
assert e["image_download_size"] == os.path.getsize(os.path.join(out, name))
assert e["image_download_sha256"] == h(os.path.join(out, name))
assert e["devices"] == ["pi4-64bit"]
datetime.date.fromisoformat(e["release_date"])
assert e["name"] == "x" and e["description"] == "x"
PY
}

@test "--help and --version" {
	run --separate-stderr img-pack --help
	[ "$status" -eq 0 ]
	[[ $output == "Usage: img-pack "* ]]
	run --separate-stderr img-pack -V
	[ "$status" -eq 0 ]
	[[ $output =~ ^img-pack\ [0-9]+\.[0-9]+ ]]
}

@test "xz (the default): xz -dc, bmaptool copy, sha256sum -c, the JSON" {
	copy vendor-gpt.img
	check_format xz xz -dc
	# The default is xz.
	rm -r "$T/out"
	mkdir "$T/out"
	img-pack -q -o "$T/out" "$T/x.img"
	[ -f "$T/out/x.img.xz" ]
}

@test "zst: zstd -dc, bmaptool copy, sha256sum -c, the JSON" {
	copy vendor-mbr.img
	check_format zst zstd -q -dc
}

@test "gz: gzip -dc, bmaptool copy, sha256sum -c, the JSON" {
	copy vendor-gpt.img
	check_format gz gzip -dc
}

@test "xz is one stream that xz -l reads, as large as xz -T0's" {
	local img
	img=$(copy vendor-gpt.img)
	img-pack -q -T 2 "$img"
	xz -t "$T/x.img.xz"
	xz -l "$T/x.img.xz" | grep -q '^ *1 '
	xz -T0 -6 -c "$img" >"$T/cli.xz"
	echo "img-pack $(stat -c %s "$T/x.img.xz"), xz -T0 $(stat -c %s "$T/cli.xz")"
	[ "$(stat -c %s "$T/x.img.xz")" -le $(($(stat -c %s "$T/cli.xz") * 101 / 100)) ]
}

@test "a grown, mostly sparse image: holes are not read, output is right" {
	local img sum
	img=$(copy vendor-mbr.img)
	truncate -s 1G "$img"
	sum=$(sha "$img")
	img-pack -q --format zst --level 1 --threads 3 "$img"
	[ "$(zstd -q -dc "$T/x.img.zst" | sha256sum | cut -d' ' -f1)" = "$sum" ]
	bmaptool -q copy "$T/x.img.zst" --bmap "$T/x.img.bmap" "$T/target.img"
	[ "$(sha "$T/target.img")" = "$sum" ]
	(cd "$T" && sha256sum -c --strict x.sha256)
}

# The elements of a bmap file, one a line, without spaces.
fields() {
	grep -E '^ *<(ImageSize|BlockSize|BlocksCount|MappedBlocksCount|ChecksumType|Range)' "$1" | tr -d ' '
}

@test "the bmap is what bmaptool create makes of the image, but for comments" {
	local img
	img=$(copy vendor-gpt.img)
	img-pack -q -f zst "$img"
	bmaptool create -o "$T/ref.bmap" "$img"
	diff <(fields "$T/ref.bmap") <(fields "$T/x.img.bmap")
}

@test "--format none: the image is its own packed form; copied elsewhere sparsely" {
	local img sum
	img=$(copy vendor-gpt.img)
	sum=$(sha "$img")
	run --separate-stderr img-pack -f none "$img"
	[ "$status" -eq 0 ]
	[ "$(sha "$img")" = "$sum" ]
	[ "$(cut -d' ' -f1 "$T/x.sha256")" = "$sum" ]
	[ "$(wc -l <"$T/x.sha256")" -eq 1 ]
	mkdir "$T/out"
	img-pack -q -f none -o "$T/out" "$img"
	[ "$(sha "$T/out/x.img")" = "$sum" ]
	[ "$(stat -c %b "$T/out/x.img")" -lt 8192 ]
	(cd "$T/out" && sha256sum -c --strict x.sha256)
}

@test "Imager entry options and SOURCE_DATE_EPOCH" {
	copy vendor-gpt.img
	SOURCE_DATE_EPOCH=1700000000 img-pack -q -f gz --os-name 'RT "Pi" image' \
		--description 'PREEMPT_RT, ROS 2' --devices pi4-64bit,pi5-64bit --init-format cloudinit "$T/x.img"
	python3 - "$T/x.rpi-imager.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["os_list"][0]
assert e["name"] == 'RT "Pi" image', e
assert e["description"] == "PREEMPT_RT, ROS 2"
assert e["devices"] == ["pi4-64bit", "pi5-64bit"]
assert e["release_date"] == "2023-11-14"
assert e["init_format"] == "cloudinit"
PY
	# Without it, the entry says nothing of it.
	img-pack -q -f gz "$T/x.img"
	! grep -q init_format "$T/x.rpi-imager.json" || false
}

@test "usage errors exit 2 with one line" {
	run --separate-stderr img-pack --format lz4 "$T/x.img"
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "img-pack: unknown format 'lz4': want xz, zst, gz or none" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	run --separate-stderr img-pack --init-format firstrun "$T/x.img"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-pack: --init-format wants none, systemd, cloudinit or cloudinit-rpi, not 'firstrun'" ]
	run --separate-stderr img-pack --level 10 "$T/x.img"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-pack: --level for xz wants a number from 0 to 9, not '10'" ]
	run --separate-stderr img-pack -f zst -l 0 "$T/x.img"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-pack: --level for zst wants a number from 1 to 19, not '0'" ]
	run --separate-stderr img-pack -T 0 "$T/x.img"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-pack: --threads wants a number from 1 to 256, not '0'" ]
	run --separate-stderr img-pack
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "img-pack: no image given" ]
}

@test "a missing image: one line, no output" {
	run --separate-stderr img-pack "$T/nope.img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-pack: cannot open '$T/nope.img': No such file or directory" ]
	[ -z "$(find "$T" -name 'nope*')" ]
}

@test "a truncated image: one line, no output" {
	head -c 100M "$(fixture vendor-gpt.img)" >"$T/x.img"
	run --separate-stderr img-pack "$T/x.img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-pack: cannot pack '$T/x.img': it is truncated (the GPT backup header is at sector 262143, the file ends at sector 204800)" ]
	head -c 100M "$(fixture vendor-mbr.img)" >"$T/x.img"
	run --separate-stderr img-pack "$T/x.img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-pack: cannot pack '$T/x.img': it is truncated (partition 2 ends at sector 262144, the file at sector 204800)" ]
	head -c 1000 "$(fixture vendor-gpt.img)" >"$T/x.img"
	run --separate-stderr img-pack "$T/x.img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-pack: cannot pack '$T/x.img': it is truncated (1000 bytes, not whole 512-byte sectors)" ]
	: >"$T/x.img"
	run --separate-stderr img-pack "$T/x.img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-pack: cannot pack '$T/x.img': it is empty" ]
	truncate -s 1M "$T/x.img"
	run --separate-stderr img-pack "$T/x.img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-pack: cannot pack '$T/x.img': it has no partition table" ]
	[ -z "$(find "$T" -name 'x.*' ! -name x.img)" ]
}

@test "no space left in the output directory: one line, no file left" {
	require_root
	local img
	img=$(copy vendor-gpt.img)
	mkdir "$T/small"
	mount -t tmpfs -o size=256k tmpfs "$T/small"
	TMPFS=$T/small
	echo old >"$T/small/x.img.xz"
	run --separate-stderr img-pack -o "$T/small" "$img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-pack: cannot write '$T/small/x.img.xz': No space left on device" ]
	# Nothing new, and what was there under a final name is untouched.
	[ "$(ls -A "$T/small")" = x.img.xz ]
	[ "$(cat "$T/small/x.img.xz")" = old ]
}

@test "an output directory that does not exist: one line" {
	local img
	img=$(copy vendor-gpt.img)
	run --separate-stderr img-pack -o "$T/nodir" "$img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-pack: cannot create '$T/nodir/x.img.xz': No such file or directory" ]
}
