#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2154 # bats: @test bodies run in subshells; run sets stderr_lines
# Reproducible images: make verify-reproducible on the vendor-like fixture
# (the same bytes; a phase that is not reproducible named, with
# diffoscope's lines), its refusals, and on the real trixie-rt-pi4 image,
# built a second time from nothing with the suite's apt cache.

bats_require_minimum_version 1.5.0
load pipeline_helper
load trixie_helper

# The files verify-reproducible compares: the image, then dist's.
DIST_NAMES='fixture.img.xz fixture.img.bmap fixture.sha256 fixture.rpi-imager.json fixture.manifest fixture.manifest.json fixture.cdx.json'

@test "make verify-reproducible: the fixture built again from nothing is the same, byte for byte, the image and every file of dist" {
	mk >/dev/null
	mk dist >/dev/null
	run --separate-stderr mk verify-reproducible
	echo "$output"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "fixture: reproducible: 8 files identical, byte for byte (fixture.img, $DIST_NAMES)" ]
	# The second build is kept to look at, released.
	[ -f "$T/build/verify/fixture.img" ]
	cmp "$OUT" "$T/build/verify/fixture.img"
	# The finish stage wrote it anew: its times are SOURCE_DATE_EPOCH's.
	grep -q '^writing the image anew from its trees, times clamped to SOURCE_DATE_EPOCH=[0-9]* ' "$T"/build/logs/*-finish.log
	assert_nothing_left
}

@test "make verify-reproducible: a phase that writes the time is caught, the files named, diffoscope shows the file" {
	recipe_copy
	# Not reproducible on purpose: a file that holds the build's own time.
	sed -i 's|^set -eu$|&\ndate +%s%N >/etc/built-at|' "$R/setup/20-phase1-target.sh"
	mk >/dev/null
	mk dist >/dev/null
	run --separate-stderr mk verify-reproducible
	echo "$output"
	echo "$stderr"
	[ "$status" -ne 0 ]
	[[ $stderr == *"fixture: NOT reproducible: fixture.img "*" differ(s) from the second build's (in $T/build/verify)"* ]]
	[[ $stderr == *"--- diffoscope $T/build/verify/diff/a $T/build/verify/diff/b"* ]]
	grep -q 'etc/built-at' <<<"$stderr"
	[ -s "$T/build/verify/diff/diffoscope.txt" ]
	# Both images' mounts are gone again.
	assert_nothing_left
}

@test "make verify-reproducible needs REPRODUCIBLE=yes; a SOURCE_DATE_EPOCH that is not seconds stops make" {
	run --separate-stderr mk verify-reproducible REPRODUCIBLE=no
	[ "$status" -ne 0 ]
	[[ $stderr == *"image.mk: verify-reproducible needs REPRODUCIBLE=yes and a SOURCE_DATE_EPOCH"* ]]
	run --separate-stderr mk SOURCE_DATE_EPOCH=yesterday
	[ "$status" -ne 0 ]
	[[ ${stderr_lines[0]} == *"image.mk: SOURCE_DATE_EPOCH='yesterday' is not a number of seconds"* ]]
	assert_nothing_left
}

@test "the build directory keeps the SOURCE_DATE_EPOCH it started with; another one given rebuilds from the start; REPRODUCIBLE=no trims instead" {
	recipe_copy
	run --separate-stderr mk SOURCE_DATE_EPOCH=1700000000
	[ "$status" -eq 0 ]
	[ "$(cat "$T/build/.source-date-epoch")" = 1700000000 ]
	grep -q 'SOURCE_DATE_EPOCH=1700000000 (2023-11-14T22:13:20Z)' "$T"/build/logs/*-finish.log
	# The recipe's files change (their newest mtime is the default here,
	# outside git): the recorded value stays, nothing to do.
	touch "$R/Makefile"
	run --separate-stderr mk
	[ "$status" -eq 0 ]
	[ -z "$(stages)" ]
	# Another value given: from the first stage on.
	run --separate-stderr mk SOURCE_DATE_EPOCH=1700000001
	[ "$status" -eq 0 ]
	[ "$(stages)" = "extract grow overlay phase1-host phase1-target phase2-host phase2-target finish" ]
	[ "$(cat "$T/build/.source-date-epoch")" = 1700000001 ]
	# REPRODUCIBLE=no: finish trims the filesystem the build wrote in.
	run --separate-stderr mk REPRODUCIBLE=no
	[ "$status" -eq 0 ]
	grep -Eq 'trimmed|fstrim' "$T"/build/logs/*-finish.log
	! grep -q 'writing the image anew' "$T"/build/logs/*-finish.log || false
	assert_nothing_left
}

@test "trixie-rt-pi4: built a second time from nothing (the same apt cache), the same image and dist, byte for byte" {
	require_root
	local dir
	dir=$(trixie_build_dir)
	trixie_image >/dev/null
	# zstd: the comparison, not xz's minutes, is the point here.
	run flock "$dir.lock" make --no-print-directory -C "$TOP/images/trixie-rt-pi4" BUILD_DIR="$dir" \
		DIST_FORMAT=zst DIST_DIR="$dir/dist-repro" dist verify-reproducible
	echo "$output" | tail -n 40
	# Debian's archive may publish between the two builds (a mirror push,
	# four a day): then the inputs differed, which is no finding.
	if [ "$status" -ne 0 ] && grep -q 'the archive moved on between them' <<<"$output"; then
		skip "Debian's archive published other versions between the two builds"
	fi
	[ "$status" -eq 0 ]
	grep -q '^trixie-rt-pi4: reproducible: 8 files identical, byte for byte (trixie-rt-pi4.img, trixie-rt-pi4.img.zst ' <<<"$output"
	# Build times, for the note: the first build's and the second's.
	for f in "$dir/logs/times" "$dir/verify/build/logs/times"; do
		echo "# $f" >&3
		sort "$f" | awk '{ printf "#   %-14s %6.1f\n", $2, $3 }' >&3
	done
	assert_nothing_left "$dir"
}
