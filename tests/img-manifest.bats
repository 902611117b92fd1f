#!/usr/bin/env bats
# shellcheck disable=SC2154 # bats: run sets stderr
# img-manifest: packages from a fabricated dpkg database, the kernel found by
# each rule, --info, both outputs (text and JSON) agreeing, and every
# refusal leaving no file; then the real trixie image.

bats_require_minimum_version 1.5.0
load test_helper
load trixie_helper

STATUS='Package: zlib1g
Status: install ok installed
Priority: optional
Architecture: arm64
Multi-Arch: same
Version: 1:1.3.dfsg-3+b1
Description: compression library - runtime
 zlib is a library implementing the deflate compression method found
 in gzip and PKZIP.
 .
 Package: fake-inside-description
 Status: install ok installed

Package: adduser
Status: install ok installed
Architecture: all
Version: 3.152
Description: add and remove users and groups

Package: removed-pkg
Status: deinstall ok config-files
Architecture: arm64
Version: 1.0-1

Package: half-pkg
Status: install reinstreq half-installed
Architecture: arm64
Version: 2.0

Package: held-pkg
Status: hold ok installed
Architecture: arm64
Version: 0.9~rc1-2
'

# The same empty 64 MiB image (FAT boot, ext4 root) for every test.
setup_file() {
	img-new --size 64M --part vfat:16M:BOOT --part ext4:rest:ROOT \
		"$BATS_FILE_TMPDIR/base.img" >/dev/null 2>&1
}

setup() {
	common_setup
	export MTOOLS_SKIP_CHECK=1
	unset SOURCE_DATE_EPOCH
	cp --sparse=always "$BATS_FILE_TMPDIR/base.img" "$T/x.img"
	IMG=$T/x.img
}

# root_do CMD...: debugfs -w commands (one per argument) on the root.
root_do() {
	printf '%s\n' "$@" | debugfs -w -f - "$IMG?offset=$(part_offset "$IMG" 2)" >/dev/null 2>&1
}

# A Debian-like root: the dpkg status above and /boot.
debian_root() {
	printf '%s' "$STATUS" >"$T/status"
	root_do "mkdir /var" "mkdir /var/lib" "mkdir /var/lib/dpkg" "mkdir /boot" \
		"write $T/status /var/lib/dpkg/status"
}

boot_put() { # boot_put NAME CONTENT
	printf '%s' "$2" >"$T/bootfile"
	mcopy -o -i "$IMG@@$(part_offset "$IMG" 1)" "$T/bootfile" "::$1"
}

# j EXPR: EXPR of the JSON manifest (d)
j() {
	python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print($1)" "$T/x.manifest.json"
}

# sb EXPR: EXPR of the SBOM (d)
sb() {
	python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print($1)" "$T/x.cdx.json"
}

# cdx_valid FILE: FILE is CycloneDX 1.6, says CycloneDX's own library.
cdx_valid() {
	run node "$TOP/tests/cdx-validate.js" "$1"
	echo "$output"
	[ "$status" -eq 0 ]
}

no_outputs() {
	run ls -A "$T"
	[[ $output != *manifest* ]]
}

@test "img-manifest: installed packages only, sorted, in both files" {
	debian_root
	run --separate-stderr img-manifest "$IMG"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "${stderr##*$'\n'}" = "img-manifest: $T/x.manifest: 3 packages, kernel unknown (not found)" ]
	[ "$(j "[(p['name'], p['version'], p['architecture']) for p in d['packages']]")" = \
		"[('adduser', '3.152', 'all'), ('held-pkg', '0.9~rc1-2', 'arm64'), ('zlib1g', '1:1.3.dfsg-3+b1', 'arm64')]" ]
	run sed -n '/^packages:/,$p' "$T/x.manifest"
	[ "${lines[0]}" = "packages: 3" ]
	[ "${lines[1]}" = "  adduser   3.152            all" ]
	[ "${lines[2]}" = "  held-pkg  0.9~rc1-2        arm64" ]
	[ "${lines[3]}" = "  zlib1g    1:1.3.dfsg-3+b1  arm64" ]
	[ "${#lines[@]}" -eq 4 ]
	[ -z "$(find "$T" -name '*.part')" ]
}

@test "img-manifest: image, date, version, name and out dir" {
	debian_root
	mkdir "$T/out"
	SOURCE_DATE_EPOCH=1700000000 run --separate-stderr img-manifest -q --name rel-1 --out-dir "$T/out" "$IMG"
	[ "$status" -eq 0 ]
	[ -f "$T/out/rel-1.manifest" ]
	[ -f "$T/out/rel-1.manifest.json" ]
	cp "$T/out/rel-1.manifest.json" "$T/x.manifest.json"
	[ "$(j "d['name'], d['image']['file'], d['image']['size'], d['image']['sha256']")" = \
		"rel-1 x.img $(stat -c %s "$IMG") $(sha256sum <"$IMG" | cut -d' ' -f1)" ]
	[ "$(j "d['build_date'], d['build_date_source']")" = "2023-11-14T22:13:20Z SOURCE_DATE_EPOCH" ]
	[ "$(j "d['rt_image_kit_version']")" = "$(img-manifest --version | awk '{print $NF}')" ]
	run head -n 8 "$T/out/rel-1.manifest"
	[ "${lines[0]}" = "# rt-image-kit manifest of rel-1" ]
	[ "${lines[1]}" = "name: rel-1" ]
	[ "${lines[2]}" = "image: x.img" ]
	[ "${lines[3]}" = "image-size: 67108864" ]
	[ "${lines[4]}" = "image-sha256: $(sha256sum <"$IMG" | cut -d' ' -f1)" ]
	[ "${lines[5]}" = "build-date: 2023-11-14T22:13:20Z" ]
	[ "${lines[6]}" = "build-date-source: SOURCE_DATE_EPOCH" ]
	# Same inputs, same bytes; and the old files are replaced.
	cp "$T/out/rel-1.manifest" "$T/first"
	SOURCE_DATE_EPOCH=1700000000 img-manifest -q --name rel-1 --out-dir "$T/out" "$IMG"
	cmp "$T/first" "$T/out/rel-1.manifest"
	[ "$(ls "$T/out")" = "$(printf 'rel-1.cdx.json\nrel-1.manifest\nrel-1.manifest.json')" ]
}

@test "img-manifest: without SOURCE_DATE_EPOCH the date is now" {
	debian_root
	img-manifest -q "$IMG"
	[ "$(j "d['build_date_source']")" = now ]
	[ "$(j "d['build_date'][:10]")" = "$(date -u +%F)" ]
}

@test "img-manifest: the kernel from kernel= of config.txt (Pi 4 sections)" {
	debian_root
	root_do "write /dev/null /boot/vmlinuz-9.9.9-other"
	boot_put config.txt $'arm_64bit=1\nkernel=vmlinuz-6.12.1+deb13-rt-arm64  # here\n[pi3]\nkernel=vmlinuz-1.0-pi3\n[all]\ninitramfs initrd.img-6.12.1+deb13-rt-arm64\n'
	img-manifest -q "$IMG"
	[ "$(j "d['kernel']")" = "{'release': '6.12.1+deb13-rt-arm64', 'rule': 'config.txt'}" ]
	grep -qx 'kernel: 6.12.1+deb13-rt-arm64' "$T/x.manifest"
	grep -qx 'kernel-rule: config.txt' "$T/x.manifest"
}

@test "img-manifest: the kernel from the /boot/vmlinuz symlink, fast and slow" {
	debian_root
	# config.txt without a vmlinuz- kernel= does not decide
	boot_put config.txt $'kernel=kernel8.img\n'
	root_do "write /dev/null /boot/vmlinuz-9.9.9-newer" "symlink /boot/vmlinuz vmlinuz-6.1.0-13-arm64"
	img-manifest -q "$IMG"
	[ "$(j "d['kernel']")" = "{'release': '6.1.0-13-arm64', 'rule': '/boot/vmlinuz'}" ]

	long=6.1.0-$(printf 'x%.0s' {1..80})
	root_do "rm /boot/vmlinuz" "symlink /boot/vmlinuz /boot/vmlinuz-$long"
	img-manifest -q "$IMG"
	[ "$(j "d['kernel']")" = "{'release': '$long', 'rule': '/boot/vmlinuz'}" ]
}

@test "img-manifest: the kernel from the /vmlinuz symlink" {
	debian_root
	root_do "symlink /vmlinuz boot/vmlinuz-6.1.0-14-arm64"
	img-manifest -q "$IMG"
	[ "$(j "d['kernel']")" = "{'release': '6.1.0-14-arm64', 'rule': '/vmlinuz'}" ]
}

@test "img-manifest: the kernel as the highest /boot/vmlinuz-*" {
	debian_root
	root_do "write /dev/null /boot/vmlinuz-6.1.9-arm64" "write /dev/null /boot/vmlinuz-6.1.10-arm64" \
		"write /dev/null /boot/vmlinuz-6.1.2-arm64" "write /dev/null /boot/config-7.0" \
		"write /dev/null /boot/vmlinuz.old"
	img-manifest -q "$IMG"
	[ "$(j "d['kernel']")" = "{'release': '6.1.10-arm64', 'rule': '/boot/vmlinuz-*'}" ]
}

@test "img-manifest: no kernel at all is recorded as such" {
	debian_root
	img-manifest -q "$IMG"
	[ "$(j "d['kernel']")" = "{'release': None, 'rule': 'none'}" ]
	grep -qx 'kernel: unknown' "$T/x.manifest"
	grep -qx 'kernel-rule: none' "$T/x.manifest"
}

@test "img-manifest: --info variables and downloads, sorted and escaped" {
	debian_root
	A=$(printf 'a%.0s' {1..64})
	B=$(printf 'B%.0s' {1..64})
	b=$(printf 'b%.0s' {1..64})
	cat >"$T/info" <<-EOF
		# the recipe
		var ZED=last
		  var IMAGE_SIZE=4G
		var QUOTED=say "hi" \\ tab	end ü
		var EMPTY=

		download $B https://example.org/z.img.xz
		download $A https://example.org/a.deb
		download $A https://example.org/a.deb
	EOF
	img-manifest -q --info "$T/info" "$IMG"
	[ "$(j "list(d['variables'].items())")" = \
		"[('EMPTY', ''), ('IMAGE_SIZE', '4G'), ('QUOTED', 'say \"hi\" \\\\ tab\\tend ü'), ('ZED', 'last')]" ]
	[ "$(j "d['downloads']")" = \
		"[{'sha256': '$A', 'url': 'https://example.org/a.deb'}, {'sha256': '$b', 'url': 'https://example.org/z.img.xz'}]" ]
	run sed -n '/^variables:/,/^packages:/p' "$T/x.manifest"
	[ "${lines[0]}" = "variables: 4" ]
	[ "${lines[1]}" = "  EMPTY=" ]
	[ "${lines[2]}" = "  IMAGE_SIZE=4G" ]
	[ "${lines[4]}" = "  ZED=last" ]
	[ "${lines[5]}" = "downloads: 2" ]
	[ "${lines[6]}" = "  $A  https://example.org/a.deb" ]
	[ "${lines[7]}" = "  $b  https://example.org/z.img.xz" ]
}

@test "img-manifest: --info suites: the suite of each package whose version matches, in both files" {
	debian_root
	cat >"$T/info" <<-EOF
		suite adduser all 3.152 trixie
		suite zlib1g arm64 1:1.3.dfsg-3+b1 trixie-security,trixie-updates
		suite held-pkg arm64 0.9~rc1-1 trixie
		suite zlib1g amd64 1:1.3.dfsg-3+b1 trixie
	EOF
	img-manifest -q --info "$T/info" "$IMG"
	[ "$(j "[p.get('suite') for p in d['packages']]")" = "['trixie', None, 'trixie-security,trixie-updates']" ]
	run sed -n '/^packages:/,$p' "$T/x.manifest"
	[ "${lines[1]}" = "  adduser   3.152            all    trixie" ]
	[ "${lines[2]}" = "  held-pkg  0.9~rc1-2        arm64" ]
	[ "${lines[3]}" = "  zlib1g    1:1.3.dfsg-3+b1  arm64  trixie-security,trixie-updates" ]
}

@test "img-manifest: a bad --info line is refused with its number, nothing written" {
	debian_root
	A=$(printf 'a%.0s' {1..64})
	check() { # check LINE MESSAGE
		printf '# ok\nvar OK=1\n%s\n' "$1" >"$T/info"
		run --separate-stderr img-manifest --info "$T/info" "$IMG"
		echo "$stderr"
		[ "$status" -eq 1 ]
		[ "$stderr" = "img-manifest: $T/info:3: $2" ]
		no_outputs
	}
	check "foo bar" "want 'var NAME=VALUE', 'build NAME=VALUE', 'download SHA256 URL', 'suite NAME ARCH VERSION SUITE', 'archive SUITE URL' or 'file SHA256 OVERLAY PATH', not 'foo bar'"
	check "suite adduser all 3.152" "want 'suite NAME ARCH VERSION SUITE'"
	check "suite adduser all 3.152 trixie extra" "want 'suite NAME ARCH VERSION SUITE'"
	check "var NOEQUALS" "want 'var NAME=VALUE'"
	check "var 1X=2" "'1X' is not a variable name"
	check "var OK=2" "variable OK is set twice"
	check "download $A" "want 'download SHA256 URL'"
	check "download $A http://a http://b" "want 'download SHA256 URL'"
	check "download abc http://a" "'abc' is not a SHA-256 (64 hex digits)"
	printf 'download %s http://a\ndownload %s http://a\n' "$A" "$(printf 'c%.0s' {1..64})" >"$T/info"
	run --separate-stderr img-manifest --info "$T/info" "$IMG"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-manifest: $T/info:2: http://a is listed twice with different SHA-256" ]

	run --separate-stderr img-manifest --info "$T/nonexistent" "$IMG"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-manifest: cannot open '$T/nonexistent': No such file or directory" ]
	no_outputs
}

@test "img-manifest: an image without a package database (Buildroot, Alpine, busybox): listed as far as it can be" {
	printf 'file %s rootfs /bin/busybox\n' "$(printf x | sha256sum | cut -c1-64)" >"$T/info"
	run --separate-stderr img-manifest --info "$T/info" "$IMG"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "${stderr_lines[0]}" = "img-manifest: warning: '$IMG' has no /var/lib/dpkg/status in its root filesystem (partition 2): no package database, no packages listed" ]
	grep -qx 'packages: none: no package database (/var/lib/dpkg/status) in the image' "$T/x.manifest"
	[ "$(j "d['package_database'], d['packages'], d['files'][0]['path']")" = "None [] /bin/busybox" ]
	cdx_valid "$T/x.cdx.json"
	[ "$(sb "[p['value'] for p in d['metadata']['properties'] if p['name'] == 'rt-image-kit:package-database']")" = \
		"['none: the image has no /var/lib/dpkg/status']" ]
	[ "$(sb "[c['name'] for c in d['components']]")" = "['/bin/busybox']" ]
}

@test "img-manifest: missing image, no partition table, no ext root" {
	run --separate-stderr img-manifest "$T/none.img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-manifest: cannot open '$T/none.img': No such file or directory" ]

	truncate -s 8M "$T/blank.img"
	run --separate-stderr img-manifest "$T/blank.img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-manifest: cannot read '$T/blank.img': it has no partition table" ]

	img-new --size 32M --part vfat:rest:BOOT "$T/fat.img" >/dev/null 2>&1
	run --separate-stderr img-manifest "$T/fat.img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-manifest: cannot read '$T/fat.img': no partition holds an ext2/3/4 filesystem" ]
	no_outputs
}

@test "img-manifest: --partition picks the root, and must be ext2/3/4" {
	debian_root
	img-manifest -q --partition 2 "$IMG"
	[ "$(j "len(d['packages'])")" = 3 ]
	rm "$T"/x.manifest*
	run --separate-stderr img-manifest --partition 1 "$IMG"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-manifest: cannot read partition 1 of '$IMG': it holds vfat, not ext2/3/4" ]
	run --separate-stderr img-manifest --partition 3 "$IMG"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-manifest: cannot read partition 3 of '$IMG': there is no such partition" ]
	no_outputs
}

@test "img-manifest: an output directory that cannot be written" {
	debian_root
	run --separate-stderr img-manifest --out-dir "$T/missing" "$IMG"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-manifest: cannot create '$T/missing/x.manifest': No such file or directory" ]
	touch "$T/file"
	run --separate-stderr img-manifest --out-dir "$T/file" "$IMG"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-manifest: cannot create '$T/file/x.manifest': Not a directory" ]
	no_outputs
}

@test "img-manifest: a bad SOURCE_DATE_EPOCH" {
	debian_root
	SOURCE_DATE_EPOCH=yesterday run --separate-stderr img-manifest "$IMG"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-manifest: SOURCE_DATE_EPOCH='yesterday' is not a number of seconds" ]
	no_outputs
}

@test "img-manifest: usage errors exit 2" {
	run --separate-stderr img-manifest
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "img-manifest: no image given" ]
	run --separate-stderr img-manifest a.img b.img
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "img-manifest: too many arguments" ]
	run --separate-stderr img-manifest --partition 0 "$IMG"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-manifest: --partition wants a partition number (1, 2, ...), not '0'" ]
	run --separate-stderr img-manifest --name a/b "$IMG"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-manifest: --name wants a file name without '/', not 'a/b'" ]
	run img-manifest --help
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "Usage: img-manifest [OPTION]... IMAGE" ]]
	no_outputs
}

@test "img-manifest: the trixie image lists its RT kernel and firmware" {
	local img
	img=$(trixie_image)
	# read-only: the manifest goes elsewhere
	run --separate-stderr img-manifest --out-dir "$T" --name trixie "$img"
	echo "$stderr"
	[ "$status" -eq 0 ]
	python3 - "$T/trixie.manifest.json" <<-'EOF'
		import json, re, sys
		d = json.load(open(sys.argv[1]))
		names = [p["name"] for p in d["packages"]]
		assert names == sorted(names), "not sorted"
		assert any(re.fullmatch(r"linux-image-.*-rt-arm64", n) for n in names), names
		assert "raspi-firmware" in names
		assert d["kernel"]["release"].endswith("-rt-arm64"), d["kernel"]
		assert d["kernel"]["rule"] == "config.txt", d["kernel"]
	EOF
	grep -q '^  raspi-firmware ' "$T/trixie.manifest"
}

@test "img-manifest: debugfs or mtools missing, a path debugfs cannot open" {
	debian_root
	local tool
	tool=$(command -v img-manifest)
	mkdir "$T/empty" "$T/e2fs"
	ln -s "$(command -v debugfs)" "$T/e2fs/debugfs"
	run --separate-stderr env PATH="$T/empty" "$tool" "$IMG"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-manifest: cannot read '$IMG': debugfs is not installed (e2fsprogs)" ]
	run --separate-stderr env PATH="$T/e2fs" "$tool" "$IMG"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-manifest: cannot read the boot partition of '$IMG': mdir (mtools): No such file or directory" ]
	cp "$IMG" "$T/what?.img"
	run --separate-stderr img-manifest "$T/what?.img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-manifest: cannot read '$T/what?.img': debugfs cannot open a path with '?' in it" ]
	rm "$T/what?.img"
	no_outputs
}

@test "img-manifest: the SBOM: CycloneDX 1.6 as its library validates it, the manifest's packages, sources, URLs, licenses, origins" {
	debian_root
	printf '%s' "$STATUS" | sed 's/^Package: zlib1g$/Package: zlib1g\nSource: zlib (1:1.3.dfsg-3)/' >"$T/status"
	printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: adduser\n\nFiles: *\nCopyright: 1997 Guy Maor\nLicense: GPL-2+\n This program is free software.\n\nFiles: x.c\nLicense: MIT\n\nLicense: GPL-2+\n On Debian systems...\n' >"$T/copyright"
	printf 'This package was debianized by someone.\nLicense: not machine-readable\n' >"$T/copyright2"
	printf 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_CODENAME=trixie\n' >"$T/os-release"
	root_do "write $T/status /var/lib/dpkg/status.new" "rm /var/lib/dpkg/status" \
		"ln /var/lib/dpkg/status.new /var/lib/dpkg/status" "unlink /var/lib/dpkg/status.new" \
		"mkdir /usr" "mkdir /usr/lib" "mkdir /usr/share" "mkdir /usr/share/doc" "mkdir /usr/share/doc/adduser" \
		"mkdir /usr/share/doc/zlib1g" "write $T/copyright /usr/share/doc/adduser/copyright" \
		"write $T/copyright2 /usr/share/doc/zlib1g/copyright" \
		"write $T/os-release /usr/lib/os-release" "mkdir /etc" "symlink /etc/os-release ../usr/lib/os-release"
	local h=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
	cat >"$T/info" <<EOF
var IMAGE_URL=http://vendor.example/images/pi.img.xz
download $h http://vendor.example/images/pi.img.xz
suite adduser all 3.152 trixie
suite zlib1g arm64 1:1.3.dfsg-3+b1 trixie-security,trixie
archive trixie http://deb.debian.org/debian
archive trixie-security http://deb.debian.org/debian-security
file $h rt-tuning /etc/rt image.conf
file $h base /etc/motd
file ${h//0/f} debian-pi4 /etc/motd
build recipe_commit=4d3c2b1a
EOF
	SOURCE_DATE_EPOCH=1700000000 run --separate-stderr img-manifest --info "$T/info" "$IMG"
	echo "$stderr"
	[ "$status" -eq 0 ]
	cdx_valid "$T/x.cdx.json"
	# The same packages as the manifest, by the same reading.
	[ "$(sb "sorted(c['name'] for c in d['components'] if c['type'] == 'library')")" = \
		"$(j "sorted(p['name'] for p in d['packages'])")" ]
	[ "$(sb "d['specVersion'], d['metadata']['timestamp'], d['metadata']['component']['hashes'][0]['content'] == '$(j "d['image']['sha256']")'")" = \
		"1.6 2023-11-14T22:13:20Z True" ]
	[[ $(sb "d['serialNumber']") =~ ^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]
	# Package URL (epoch and + encoded), source, licenses.
	[ "$(sb "[(c['purl'], [(p['name'], p['value']) for p in c['properties']]) for c in d['components'] if c['name'] == 'zlib1g']")" = \
		"[('pkg:deb/debian/zlib1g@1%3A1.3.dfsg-3%2Bb1?arch=arm64&distro=trixie', [('debian:source', 'zlib'), ('debian:source-version', '1:1.3.dfsg-3'), ('debian:architecture', 'arm64'), ('debian:suite', 'trixie-security,trixie')])]" ]
	[ "$(j "[(p['source'], p['source_version']) for p in d['packages'] if p['name'] == 'held-pkg']")" = "[('held-pkg', '0.9~rc1-2')]" ]
	[ "$(sb "[[l['license']['name'] for l in c.get('licenses', [])] for c in d['components'] if c['name'] in ('adduser', 'zlib1g')]")" = \
		"[['GPL-2+', 'MIT'], []]" ]
	# Where each came from: adduser and zlib1g from their suites (every one
	# that had the version), held-pkg from the vendor image; the image
	# holds them and the overlay's file.
	[ "$(sb "{x['ref'].split('@')[0]: x['dependsOn'] for x in d['dependencies'] if x['ref'] != 'image'}")" = \
		"{'pkg:deb/debian/adduser': ['archive:trixie'], 'pkg:deb/debian/held-pkg': ['download:http://vendor.example/images/pi.img.xz'], 'pkg:deb/debian/zlib1g': ['archive:trixie-security', 'archive:trixie']}" ]
	[ "$(sb "[x['dependsOn'][-2:] for x in d['dependencies'] if x['ref'] == 'image']")" = "[['file:/etc/motd', 'file:/etc/rt image.conf']]" ]
	[ "$(sb "[(p['name'], p['value']) for p in d['metadata']['properties'] if 'build' in p['name']]")" = \
		"[('rt-image-kit:build:recipe_commit', '4d3c2b1a'), ('rt-image-kit:build-date-source', 'SOURCE_DATE_EPOCH')]" ]
	# A later overlay's file at the same path is the one in the image.
	[ "$(j "d['files']")" = "[{'overlay': 'debian-pi4', 'path': '/etc/motd', 'sha256': '${h//0/f}'}, {'overlay': 'rt-tuning', 'path': '/etc/rt image.conf', 'sha256': '$h'}]" ]
	# The same facts, the same bytes.
	cp "$T/x.cdx.json" "$T/first.cdx.json"
	SOURCE_DATE_EPOCH=1700000000 img-manifest -q --info "$T/info" "$IMG"
	cmp "$T/first.cdx.json" "$T/x.cdx.json"
}

@test "img-manifest: bad archive, file and build lines" {
	debian_root
	for l in 'archive trixie' 'archive trixie http://a extra' 'file 0123 rt-tuning /etc/x' 'file' 'build recipe_commit'; do
		printf '%s\n' "$l" >"$T/info"
		run --separate-stderr img-manifest --info "$T/info" "$IMG"
		echo "$l: $stderr"
		[ "$status" -eq 1 ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ $stderr == "img-manifest: $T/info:1: "* ]]
	done
	printf 'file %s rt-tuning\n' "$(printf x | sha256sum | cut -c1-64)" >"$T/info"
	run --separate-stderr img-manifest --info "$T/info" "$IMG"
	[ "$stderr" = "img-manifest: $T/info:1: want 'file SHA256 OVERLAY PATH'" ]
	printf 'build a=1\nbuild a=2\n' >"$T/info"
	run --separate-stderr img-manifest --info "$T/info" "$IMG"
	[ "$stderr" = "img-manifest: $T/info:2: build fact a is set twice" ]
	no_outputs
}
