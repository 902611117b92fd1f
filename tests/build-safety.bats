#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2154 # bats: @test bodies run in subshells; run sets stderr_lines
# shellcheck disable=SC2016 # the scripts in single quotes run in the image
# What a build trusts and what it does not, on the fixture recipe: the
# image's code against the shared download cache, links planted in the
# cache, a download changed after fetch, the mounts' options, secrets,
# `make dist` and OUTPUT, and a checkout at a path with blanks, quotes and
# commas.

bats_require_minimum_version 1.5.0
load pipeline_helper

# A directory of the host's that nothing may change: names, modes, sizes,
# link counts and contents, hashed.
sentinel_make() {
	mkdir -p "$T/host"
	echo "host file, 19 bytes" >"$T/host/victim"
	echo "lock victim" >"$T/host/lockvictim"
}
sentinel_hash() {
	(cd "$T/host" && find . -printf '%p %m %n %s %l\n' | sort && find . -type f -exec cat {} + | sha256sum)
}

# A copy of the recipe whose phase1-target is hostile: it tries to change
# the download cache (replace apt-archives with a link to the sentinel,
# plant .part and .lock links, add a file), and leaves in apt's archive
# directory a .deb its apt lists vouch for, one they do not, a file that is
# no .deb and a link.
hostile_recipe() {
	recipe_copy
	mkdir -p "$R/hostile"
	echo "$T/host" >"$R/hostile/host-dir"
	printf 'a good package\n' >"$R/hostile/good_1.0_arm64.deb"
	printf 'a forged package\n' >"$R/hostile/evil_1.0_arm64.deb"
	printf 'Package: good\nVersion: 1.0\nArchitecture: arm64\nSHA256: %s\n\nPackage: evil\nVersion: 1.0\nArchitecture: arm64\nSHA256: %s\n' \
		"$(sha256sum <"$R/hostile/good_1.0_arm64.deb" | cut -d' ' -f1)" "$(printf '0%.0s' {1..64})" \
		>"$R/hostile/Packages"
	echo 'mkdir -p "$ROOT/var/cache/apt/archives"' >>"$R/setup/10-phase1-host.sh"
	cat >"$R/setup/20-phase1-target.sh" <<'SH'
#!/bin/sh
set -u
host=$(cat /run/rtik/recipe/hostile/host-dir)
try() { if "$@" 2>/dev/null; then echo "done: $*"; else echo "refused: $*"; fi; }
{
	try rm -rf /run/rtik/cache/apt-archives
	try ln -s "$host" /run/rtik/cache/apt-archives
	try ln -s "$host/victim" /run/rtik/cache/vendor-mbr.img.xz.part
	try ln -s "$host/lockvictim" /run/rtik/cache/vendor-mbr.img.xz.lock
	try touch /run/rtik/cache/planted
} >/etc/hostile.log
cp /run/rtik/recipe/hostile/good_1.0_arm64.deb /run/rtik/recipe/hostile/evil_1.0_arm64.deb /var/cache/apt/archives/
echo junk >/var/cache/apt/archives/not-a-deb.txt
ln -s "$host/victim" /var/cache/apt/archives/link_1.0_arm64.deb
mkdir -p /var/lib/apt/lists
cp /run/rtik/recipe/hostile/Packages /var/lib/apt/lists/local_Packages
grep ' / / ' /proc/self/mountinfo >/etc/root-mountinfo
uname -m >/etc/arch-marker
echo "phase1-target: hostile run done"
SH
}

@test "the image's code cannot change the download cache: read-only in the container, apt's downloads kept only as its lists vouch; the next stage and build go on" {
	local before
	sentinel_make
	before=$(sentinel_hash)
	hostile_recipe
	run --separate-stderr mk
	[ "$status" -eq 0 ]
	# Every attempt on the cache failed, on a read-only filesystem.
	output_open "$OUT" v
	[ "$(grep -c '^refused: ' "$T/v/etc/hostile.log")" -eq 5 ]
	# The image's setuid programs are its own again in the container.
	[[ ,$(awk '{ print $6 }' "$T/v/etc/root-mountinfo"), != *,nosuid,* ]]
	output_close v
	[ -d "$T/cache/apt-archives" ] && [ ! -L "$T/cache/apt-archives" ]
	[ "$(ls -A "$T/cache/apt-archives")" = good_1.0_arm64.deb ]
	cmp "$T/cache/apt-archives/good_1.0_arm64.deb" "$R/hostile/good_1.0_arm64.deb"
	[ ! -e "$T/cache/planted" ] && [ ! -L "$T/cache/vendor-mbr.img.xz.part" ] && [ ! -L "$T/cache/vendor-mbr.img.xz.lock" ]
	# What was dropped is said on the terminal; nothing of it is left.
	grep -q "^img-nspawn-run: warning: not kept in the apt cache '$T/cache/apt-archives': 3 files that the image's apt lists do not vouch for (" <<<"$output"
	grep "^img-nspawn-run: warning: not kept" <<<"$output" | grep -q "'evil_1.0_arm64.deb'"
	grep "^img-nspawn-run: warning: not kept" <<<"$output" | grep -q "'not-a-deb.txt'"
	grep "^img-nspawn-run: warning: not kept" <<<"$output" | grep -q "'link_1.0_arm64.deb'"
	[ -z "$(ls -A "$T/build/apt/upper" 2>/dev/null)" ]
	# The next stage, and the next build.
	run --separate-stderr mk phase2
	[ "$status" -eq 0 ]
	run --separate-stderr mk
	[ "$status" -eq 0 ]
	[ "$(sentinel_hash)" = "$before" ]
	assert_nothing_left
}

@test "links planted in the cache beforehand are refused or removed, never followed" {
	local before
	sentinel_make
	before=$(sentinel_hash)
	mk fetch >/dev/null
	rm "$T/cache/vendor-mbr.img.xz"
	ln -s "$T/host/victim" "$T/cache/vendor-mbr.img.xz.part"
	rm -f "$T/cache/vendor-mbr.img.xz.lock"
	ln -s "$T/host/lockvictim" "$T/cache/vendor-mbr.img.xz.lock"
	run --separate-stderr mk fetch
	[ "$status" -eq 0 ]
	grep -qx "img-fetch: warning: '$T/cache/vendor-mbr.img.xz.part' was not a regular file of ours (a symlink, a hard link or a special file): removed, not followed" <<<"$output"
	grep -qx "img-fetch: warning: '$T/cache/vendor-mbr.img.xz.lock' was not a regular file of ours (a symlink, a hard link or a special file): removed, not followed" <<<"$output"
	[ "$(sha256sum <"$T/cache/vendor-mbr.img.xz" | cut -d' ' -f1)" = "$SUM" ]
	# apt's shared directory as a link to the host: the target stage stops.
	mkdir -p "$T/cache"
	rm -rf "$T/cache/apt-archives"
	ln -s "$T/host" "$T/cache/apt-archives"
	run --separate-stderr mk phase1-target
	[ "$status" -eq 2 ]
	failure_check phase1-target "$T/build/logs/08-phase1-target.log" \
		"image.mk: $T/cache/apt-archives is not a directory (a symlink, or a file): refused; remove it, the cache fills again"
	[ "$(sentinel_hash)" = "$before" ]
	mk clean-mounts >/dev/null
	assert_nothing_left
}

@test "extract reads only the download fetch verified: another file there stops it naming both hashes; the same bytes in a new file go on" {
	mk >/dev/null
	local sum_before other
	sum_before=$(sha256sum <"$OUT")
	head -c 4096 /dev/urandom >"$T/other"
	other=$(sha256sum <"$T/other" | cut -d' ' -f1)
	cp "$T/other" "$T/cache/vendor-mbr.img.xz"
	run --separate-stderr mk extract
	[ "$status" -eq 2 ]
	failure_check extract "$T/build/logs/02-extract.log" \
		"image.mk: $T/cache/vendor-mbr.img.xz has changed since fetch verified it: sha256 $other, not $SUM; run fetch again"
	# Nothing was taken from it: the finished image is as it was.
	[ "$(sha256sum <"$OUT")" = "$sum_before" ]
	cp "$WWW/vendor-mbr.img.xz" "$T/cache/vendor-mbr.img.xz"
	run --separate-stderr mk extract
	[ "$status" -eq 0 ]
	grep -qx "$T/cache/vendor-mbr.img.xz is not the file fetch verified: hashing it again" "$T/build/logs/02-extract.log"
	[ "$(cut -d' ' -f1 "$T/build/.download-sha256")" = "$SUM" ]
	mk clean-mounts >/dev/null
}

@test "the build directory is root's alone, and the image is mounted nosuid,nodev; the finished image keeps its modes" {
	run --separate-stderr mk overlay
	[ "$status" -eq 0 ]
	[ "$(stat -c %a "$T/build")" = 700 ]
	local opts
	for m in "$T/build/root" "$T/build/root/boot/firmware"; do
		opts=,$(awk -v t="$m" '$5 == t { print $6 }' /proc/self/mountinfo | tail -n 1),
		[[ $opts == *,nosuid,* ]] && [[ $opts == *,nodev,* ]]
	done
	# A setuid file the build puts in the image stays setuid in it.
	cp /usr/bin/id "$T/build/root/suid-id"
	chmod 4755 "$T/build/root/suid-id"
	mk >/dev/null
	output_open "$OUT" v
	[ "$(stat -c %a "$T/v/suid-id")" = 4755 ]
	output_close v
	assert_nothing_left
}

# The fixture with a secret: phase 1 on both sides writes its hash into the
# image, and img-nspawn-run's command lines are kept.
secret_recipe() {
	recipe_copy
	sed -i 's/^IMAGE_ENV = .*/&\nIMAGE_SECRETS = FIXTURE_SECRET/' "$R/Makefile"
	echo 'printf %s "$FIXTURE_SECRET" | sha256sum >"$ROOT/etc/secret-host"' >>"$R/setup/10-phase1-host.sh"
	sed -i 's|^set -eu$|&\nprintf %s "$FIXTURE_SECRET" \| sha256sum >/etc/secret-target|' "$R/setup/20-phase1-target.sh"
	printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>"%s"\nexec "%s" "$@"\n' "$T/nspawn-argv" "$(command -v img-nspawn-run)" >"$T/nspawn-wrapper"
	chmod +x "$T/nspawn-wrapper"
	VARS+=("IMG_NSPAWN_RUN=$T/nspawn-wrapper")
}

@test "a secret reaches the phase scripts, but no file of the build, no log, no command line; changing it reruns the phases" {
	local secret=hunter2-$RANDOM$RANDOM sum
	secret_recipe
	sum=$(printf %s "$secret" | sha256sum)
	run --separate-stderr mk FIXTURE_SECRET="$secret"
	[ "$status" -eq 0 ]
	output_open "$OUT" v
	[ "$(cat "$T/v/etc/secret-host")" = "$sum" ]
	[ "$(cat "$T/v/etc/secret-target")" = "$sum" ]
	output_close v
	grep -q -- "--setenv FIXTURE_SECRET " "$T/nspawn-argv"
	run --separate-stderr mk dist FIXTURE_SECRET="$secret"
	[ "$status" -eq 0 ]
	# The manifest and the SBOM name the secret's variable nowhere.
	[ -s "$T/out/fixture.cdx.json" ] && [ -s "$T/out/fixture.manifest" ]
	! grep -q FIXTURE_SECRET "$T/out/fixture.cdx.json" "$T/out/fixture.manifest.json" || false
	# A failure prints the command that continues: the secret's value left out.
	run --separate-stderr mk FIXTURE_SECRET="$secret" FAIL_PHASE1=1
	[ "$status" -eq 2 ]
	[[ ${stderr_lines[-2]} == *" FIXTURE_SECRET=... "* ]]
	[[ $stderr != *"$secret"* ]]
	! grep -rlaF "$secret" "$T/build" "$T/out" "$T/nspawn-argv" || false
	[ "$(stat -c %a "$T/build/.secret-key")" = 600 ]
	grep -qxE "FIXTURE_SECRET=[0-9a-f]{64}" "$T/build/.secrets"
	# The same secret again: nothing to do; another one: the phases again.
	run --separate-stderr mk FIXTURE_SECRET="$secret"
	[ "$status" -eq 0 ]
	[ "$(stages)" = "phase1-host phase1-target phase2-host phase2-target finish" ]
	run --separate-stderr mk FIXTURE_SECRET="$secret"
	[ "$(stages)" = "" ]
	run --separate-stderr mk FIXTURE_SECRET="another-$secret"
	[ "$(stages)" = "phase1-host phase1-target phase2-host phase2-target finish" ]
	assert_nothing_left
}

@test "finish's clean-up of logs, seeds and caches follows no link of the image out of it" {
	recipe_copy
	mkdir -p "$T/host/log"
	echo keep >"$T/host/log/host.log"
	echo keep >"$T/host/random-seed"
	# The image's code links its /var/log and random seed to host paths.
	sed -i "s|^set -eu\$|&\nrm -rf /var/log \&\& ln -s $T/host/log /var/log\nmkdir -p /var/lib/systemd \&\& ln -sfn $T/host/random-seed /var/lib/systemd/random-seed|" \
		"$R/setup/20-phase1-target.sh"
	run --separate-stderr mk
	echo "$stderr"
	[ "$status" -eq 0 ]
	grep -q '^scrubbed: ' "$T"/build/logs/*-finish.log
	[ "$(cat "$T/host/log/host.log")" = keep ]
	[ "$(cat "$T/host/random-seed")" = keep ]
	# The links are in the image, as its code made them.
	output_open "$OUT" v
	[ "$(readlink "$T/v/var/log")" = "$T/host/log" ]
	output_close v
	assert_nothing_left
}

@test "make dist on an image without a package database: the manifest and a valid SBOM say so and list the rest" {
	mk >/dev/null
	run --separate-stderr mk dist
	echo "$stderr"
	[ "$status" -eq 0 ]
	grep -q "warning: .* has no /var/lib/dpkg/status" "$T/build/logs/13-dist.log"
	grep -qx 'packages: none: no package database (/var/lib/dpkg/status) in the image' "$T/out/fixture.manifest"
	run node "$TOP/tests/cdx-validate.js" "$T/out/fixture.cdx.json"
	echo "$output"
	[ "$status" -eq 0 ]
	# The overlay's files, with their hashes; the vendor image's download.
	python3 - "$T/out/fixture.cdx.json" "$TOP/tests/recipes/fixture/overlay" "$SUM" <<'PY'
import hashlib, json, os, sys
d = json.load(open(sys.argv[1]))
files = {c["name"]: c["hashes"][0]["content"] for c in d["components"] if c["bom-ref"].startswith("file:")}
want = {}
for root, _, names in os.walk(sys.argv[2]):
    for n in names:
        p = os.path.join(root, n)
        want["/" + os.path.relpath(p, sys.argv[2])] = hashlib.sha256(open(p, "rb").read()).hexdigest()
assert files == want, (files, want)
dl = [c for c in d["components"] if c["bom-ref"].startswith("download:")]
assert [c["hashes"][0]["content"] for c in dl] == [sys.argv[3]], dl
assert not [c for c in d["components"] if c["type"] == "library"]
PY
	assert_nothing_left
}

@test "make dist: a step that fails leaves none of dist's files" {
	mk >/dev/null
	printf '#!/bin/sh\necho "img-manifest: broken on purpose" >&2\nexit 1\n' >"$T/broken-manifest"
	chmod +x "$T/broken-manifest"
	run --separate-stderr mk dist IMG_MANIFEST="$T/broken-manifest"
	[ "$status" -ne 0 ]
	[[ $stderr == *"img-manifest: broken on purpose"* ]]
	# img-pack had written its files: all gone again.
	[ -z "$(ls -A "$T/out" | grep -v '^fixture.img$')" ]
	[ ! -e "$T/build/dist.files" ]
	assert_nothing_left
}

@test "make dist never writes over OUTPUT, and an earlier format's files go" {
	VARS+=("IMG_MANIFEST=none")
	mk >/dev/null
	local sum
	sum=$(sha256sum <"$OUT")
	run --separate-stderr mk dist DIST_FORMAT=none
	[ "$status" -eq 2 ]
	failure_check dist "$T/build/logs/13-dist.log" \
		"image.mk: DIST_FORMAT=none would write the image to flash over OUTPUT ($OUT); set DIST_DIR to another directory"
	[ "$(sha256sum <"$OUT")" = "$sum" ]
	[ -e "$T/build/.stamp_finish" ]
	mk dist DIST_FORMAT=gz >/dev/null
	[ -f "$T/out/fixture.img.gz" ]
	run --separate-stderr mk dist
	[ "$status" -eq 0 ]
	[ ! -e "$T/out/fixture.img.gz" ]
	[ -f "$T/out/fixture.img.xz" ]
	[ "$(cat "$T/build/dist.files")" = "$T/out/fixture.img.xz
$T/out/fixture.img.bmap
$T/out/fixture.sha256
$T/out/fixture.rpi-imager.json" ]
	grep -q ' fixture.img.xz$' "$T/out/fixture.sha256"
	# The Imager entry's devices: img-pack's default, or DIST_DEVICES.
	python3 -c 'import json, sys; assert json.load(open(sys.argv[1]))["os_list"][0]["devices"] == ["pi4-64bit"]' "$T/out/fixture.rpi-imager.json"
	mk dist DIST_DEVICES=pi4-64bit,pi5-64bit >/dev/null
	python3 -c 'import json, sys; assert json.load(open(sys.argv[1]))["os_list"][0]["devices"] == ["pi4-64bit", "pi5-64bit"]' "$T/out/fixture.rpi-imager.json"
	# Elsewhere, uncompressed: fine.
	mk dist DIST_FORMAT=none DIST_DIR="$T/flash" >/dev/null
	[ -f "$T/flash/fixture.img" ] && [ ! -e "$T/out/fixture.img.xz" ]
	[ "$(sha256sum <"$OUT")" = "$sum" ]
}

@test "a checkout at a path with a blank, a quote and commas builds and packs the fixture" {
	local d="$T/o'brien, a b/rt-image-kit,x" tools
	mkdir -p "$d"
	(cd "$TOP" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -C "$d" -xf -
	tools=$(dirname "$(command -v img-fetch)")/
	local m=(--no-print-directory -C "$d/tests/recipes/fixture" "IMAGE_URL=$HTTP_URL/files/vendor-mbr.img.xz"
		"IMAGE_SHA256=$SUM" "RTIK_TOOLDIR=$tools" "RTIK_DEPS_CHECKED=build run test" IMG_MANIFEST=none)
	run --separate-stderr make "${m[@]}"
	[ "$status" -eq 0 ]
	[ "$(stages)" = "${STAGES[*]}" ]
	[ -f "$d/build/fixture/fixture.img" ]
	run --separate-stderr make "${m[@]}" dist
	[ "$status" -eq 0 ]
	[ -f "$d/build/fixture/fixture.img.xz" ] && [ -f "$d/build/fixture/fixture.img.bmap" ]
	(cd "$d/build/fixture" && sha256sum -c --quiet fixture.sha256)
	run --separate-stderr make "${m[@]}" FAIL_PHASE1=1
	[ "$status" -eq 2 ]
	# The recipe's directory quoted for the shell, as a user copies it.
	[[ ${stderr_lines[-2]} == *"then run 'make -C '${d//\'/\'\\\'\'}/tests/recipes/fixture' "* ]]
	make "${m[@]}" clean-mounts >/dev/null
	assert_nothing_left "$d"
	# A value make cannot take: one line.
	run --separate-stderr mk "BUILD_DIR=$T/a
b"
	[ "$status" -eq 2 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *"*** image.mk: BUILD_DIR holds a blank or a newline, which make cannot take in a file name; choose another.  Stop." ]]
	# img-boot with an image at such a path: img-boot.bats (the A/B boot).
}
