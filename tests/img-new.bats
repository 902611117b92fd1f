#!/usr/bin/env bats
# img-new: MBR and GPT images with vfat and ext4 made in place, checked with
# sfdisk, blkid and the filesystems' own checkers; sparse; reproducible with
# SOURCE_DATE_EPOCH; every refusal and failure leaving nothing.

bats_require_minimum_version 1.5.0
load block_helper

teardown() {
	block_cleanup
	if [ -n "${NOBODY_DIR-}" ]; then rm -rf -- "$NOBODY_DIR"; fi
}

PI=(--size 2G --part vfat:512M:RASPIFIRM --part ext4:rest:RASPIROOT)

# json IMG EXPR: EXPR evaluated on sfdisk --json IMG's partitiontable (t).
json() {
	sfdisk --json "$1" | python3 -c "import json, sys; t = json.load(sys.stdin)['partitiontable']; print($2)"
}

# field IMG N KEY: KEY (start, size) of partition N from sfdisk --dump.
field() {
	sfdisk --dump "$1" | sed -n "s/^.*$2 : .*$3= *\([0-9]*\).*/\1/p"
}

# probe IMG N TAG: a tag (TYPE, LABEL, UUID, VERSION) of partition N's filesystem.
probe() {
	blkid -p -O $(($(field "$1" "$2" start) * 512)) -s "$3" -o value "$1"
}

# Partition N of IMG extracted (sparsely) to $T/part.img.
part_extract() {
	rm -f "$T/part.img"
	dd if="$1" of="$T/part.img" bs=1M iflag=skip_bytes,count_bytes conv=sparse \
		skip=$(($(field "$1" "$2" start) * 512)) count=$(($(field "$1" "$2" size) * 512)) status=none
}

allocated_kib() { du -k "$1" | cut -f1; }

# rejects STATUS MSG ARGS...: img-new ARGS... $T/new/out.img exits STATUS
# with exactly "img-new: MSG" on stderr, nothing on stdout, and leaves
# nothing in $T/new.
rejects() {
	local want=$1 msg=$2
	shift 2
	mkdir -p "$T/new"
	run --separate-stderr img-new "$@" "$T/new/out.img"
	echo "status $status, stderr: $stderr"
	[ "$status" -eq "$want" ]
	[ -z "$output" ]
	[ "$stderr" = "img-new: $msg" ]
	[ -z "$(ls -A "$T/new")" ]
}

@test "--help prints usage on stdout and exits 0" {
	run --separate-stderr img-new --help
	[ "$status" -eq 0 ]
	[[ $output == "Usage: img-new "* ]]
	[ -z "$stderr" ]
}

@test "--version prints the version" {
	run --separate-stderr img-new -V
	[ "$status" -eq 0 ]
	[[ $output =~ ^img-new\ [0-9]+\.[0-9]+ ]]
}

@test "the Pi layout: MBR, FAT32 boot partition 0x0c and active, ext4 root, as printed" {
	local img=$T/pi.img id
	run --separate-stderr img-new --table dos "${PI[@]}" "$img"
	echo "$output"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ ! -e "$img.part" ]
	[ "$(stat -c %s "$img")" -eq $((2 << 30)) ]

	[ "$(json "$img" "t['label']")" = dos ]
	id=$(json "$img" "t['id'][2:]")
	[[ $id =~ ^[0-9a-f]{8}$ ]]
	[ "$(json "$img" "len(t['partitions'])")" -eq 2 ]
	[ "$(json "$img" "t['partitions'][0]['type']")" = c ]
	[ "$(json "$img" "t['partitions'][0].get('bootable')")" = True ]
	[ "$(json "$img" "t['partitions'][1]['type']")" = 83 ]
	[ "$(json "$img" "t['partitions'][1].get('bootable')")" = None ]
	# 1 MiB aligned; 512 MiB; the rest to the end of the disk.
	[ "$(field "$img" 1 start)" -eq 2048 ]
	[ "$(field "$img" 1 size)" -eq 1048576 ]
	[ "$(field "$img" 2 start)" -eq 1050624 ]
	[ $(($(field "$img" 2 start) + $(field "$img" 2 size))) -eq $((2 << 21)) ]

	[ "$(probe "$img" 1 TYPE)" = vfat ]
	[ "$(probe "$img" 1 VERSION)" = FAT32 ]
	[ "$(probe "$img" 1 LABEL)" = RASPIFIRM ]
	[ "$(probe "$img" 2 TYPE)" = ext4 ]
	[ "$(probe "$img" 2 LABEL)" = RASPIROOT ]

	# stdout: one line per partition, what blkid and sfdisk say.
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" = "1 vfat RASPIFIRM PARTUUID=$id-01 UUID=$(probe "$img" 1 UUID)" ]
	[ "${lines[1]}" = "2 ext4 RASPIROOT PARTUUID=$id-02 UUID=$(probe "$img" 2 UUID)" ]
	[[ ${lines[0]} =~ UUID=[0-9A-F]{4}-[0-9A-F]{4}$ ]]
	[[ ${lines[1]} =~ UUID=[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$ ]]
	[ "${#stderr_lines[@]}" -eq 3 ]
	[ "${stderr_lines[0]}" = "img-new: partition 1: vfat RASPIFIRM" ]
	[ "${stderr_lines[1]}" = "img-new: partition 2: ext4 RASPIROOT" ]
	[[ ${stderr_lines[2]} =~ ^"img-new: $img: 2.00 GiB, MBR, 2 partitions, "[0-9.]+" KiB allocated"$ ]]
}

@test "the filesystems are clean for fsck.vfat -n and e2fsck -fn" {
	local img=$T/pi.img
	img-new -q "${PI[@]}" "$img" >/dev/null
	part_extract "$img" 1
	run fsck.vfat -n "$T/part.img"
	echo "$output"
	[ "$status" -eq 0 ]
	part_extract "$img" 2
	run e2fsck -fn "$T/part.img"
	echo "$output"
	[ "$status" -eq 0 ]
	# The ext4 filesystem fills its partition.
	[ "$(dumpe2fs -h "$T/part.img" 2>/dev/null | sed -n 's/^Block count: *//p')" -eq \
		$(($(field "$img" 2 size) * 512 / 4096)) ]
}

@test "the filesystems check clean on loop devices at their offsets (root)" {
	require_root
	local img=$T/pi.img dev
	img-new -q "${PI[@]}" "$img" >/dev/null
	dev=$(losetup --show -f -r --offset $((2048 * 512)) --sizelimit $((512 << 20)) "$img")
	run fsck.vfat -n "$dev"
	losetup -d "$dev"
	[ "$status" -eq 0 ]
	dev=$(losetup --show -f -r --offset $((1050624 * 512)) "$img")
	run e2fsck -fn "$dev"
	losetup -d "$dev"
	echo "$output"
	[ "$status" -eq 0 ]
	assert_nothing_left
}

@test "sparse: only the filesystems' metadata is allocated" {
	local img=$T/pi.img kib
	img-new -q "${PI[@]}" "$img" >/dev/null
	kib=$(allocated_kib "$img")
	echo "allocated: $kib KiB of 2 GiB"
	[ "$kib" -lt 2048 ]
	img-new -q --size 16G --part vfat:1G --part ext4:rest "$T/big.img" >/dev/null
	kib=$(allocated_kib "$T/big.img")
	echo "allocated: $kib KiB of 16 GiB"
	[ "$kib" -lt 8192 ]
}

@test "GPT: basic data and Linux filesystem types, GUIDs and names as printed" {
	local img=$T/gpt.img
	run --separate-stderr img-new -q --table gpt "${PI[@]}" "$img"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(json "$img" "t['label']")" = gpt ]
	[ "$(json "$img" "t['partitions'][0]['type']")" = EBD0A0A2-B9E5-4433-87C0-68B6B72699C7 ]
	[ "$(json "$img" "t['partitions'][1]['type']")" = 0FC63DAF-8483-4772-8E79-3D69D8477DE4 ]
	[ "$(json "$img" "t['partitions'][0]['name']")" = RASPIFIRM ]
	[ "$(json "$img" "t['partitions'][1]['name']")" = RASPIROOT ]
	[ "${lines[0]}" = "1 vfat RASPIFIRM PARTUUID=$(json "$img" "t['partitions'][0]['uuid'].lower()") UUID=$(probe "$img" 1 UUID)" ]
	[ "${lines[1]}" = "2 ext4 RASPIROOT PARTUUID=$(json "$img" "t['partitions'][1]['uuid'].lower()") UUID=$(probe "$img" 2 UUID)" ]
	run --separate-stderr sfdisk --verify "$img"
	[ "$status" -eq 0 ]
	[[ $output == *"No errors detected."* ]]
	# The last partition ends on a 1 MiB boundary before the backup table.
	[ $((($(field "$img" 2 start) + $(field "$img" 2 size)) % 2048)) -eq 0 ]
	[ "$(probe "$img" 2 TYPE)" = ext4 ]
	part_extract "$img" 2
	e2fsck -fn "$T/part.img"
	[ "$(allocated_kib "$img")" -lt 2048 ]
}

@test "no label: '-' in the label column; small vfat is FAT16; several partitions" {
	local img=$T/multi.img
	run --separate-stderr img-new -q --table gpt --size 256M --part vfat:16M \
		--part ext4:64M:data --part vfat:64M:EXTRA --part ext4:rest "$img"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	[[ ${lines[0]} == "1 vfat - PARTUUID="* ]]
	[[ ${lines[1]} == "2 ext4 data PARTUUID="* ]]
	[[ ${lines[2]} == "3 vfat EXTRA PARTUUID="* ]]
	[[ ${lines[3]} == "4 ext4 - PARTUUID="* ]]
	[ "$(probe "$img" 1 VERSION)" = FAT16 ]
	[ "$(probe "$img" 3 VERSION)" = FAT32 ]
	[ "$(probe "$img" 2 LABEL)" = data ]
	[ "$(field "$img" 3 start)" -eq $(((1 + 16 + 64) * 2048)) ]
	local n
	for n in 1 3; do
		part_extract "$img" $n
		fsck.vfat -n "$T/part.img"
	done
	for n in 2 4; do
		part_extract "$img" $n
		e2fsck -fn "$T/part.img"
	done
}

# The clusters of a FAT filesystem image, from its boot sector.
fat_clusters() {
	python3 - "$1" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read(512)
bps, spc, reserved, nfats = struct.unpack_from("<HBHB", b, 11)
total = struct.unpack_from("<H", b, 19)[0] or struct.unpack_from("<I", b, 32)[0]
fatsz = struct.unpack_from("<H", b, 22)[0] or struct.unpack_from("<I", b, 36)[0]
print((total - reserved - nfats * fatsz) // spc)
PY
}

@test "a small FAT32 partition keeps FAT32's 65525 clusters or more, so readers that count them agree" {
	local img=$T/small.img n c
	img-new -q --size 1G --part vfat:33M:A --part vfat:64M:B --part vfat:256M:C --part ext4:rest "$img" >/dev/null
	for n in 1 2 3; do
		[ "$(probe "$img" $n VERSION)" = FAT32 ]
		part_extract "$img" $n
		c=$(fat_clusters "$T/part.img")
		echo "partition $n: $c clusters" >&2
		[ "$c" -ge 65525 ]
		fsck.vfat -n "$T/part.img"
		# mtools takes the type from the count: its view must be FAT32's.
		MTOOLS_SKIP_CHECK=1 mcopy -i "$T/part.img" "$BATS_TEST_FILENAME" ::/t.bats
		MTOOLS_SKIP_CHECK=1 mtype -i "$T/part.img" ::/t.bats | cmp - "$BATS_TEST_FILENAME"
	done
}

@test "SOURCE_DATE_EPOCH: byte-identical images from two builds, anywhere" {
	mkdir "$T/a" "$T/b"
	run --separate-stderr env SOURCE_DATE_EPOCH=1700000000 img-new -q "${PI[@]}" "$T/a/pi.img"
	[ "$status" -eq 0 ]
	local first=$output
	sleep 1 # a different wall clock
	run --separate-stderr env SOURCE_DATE_EPOCH=1700000000 img-new -q "${PI[@]}" "$T/b/pi.img"
	[ "$status" -eq 0 ]
	[ "$output" = "$first" ]
	cmp "$T/a/pi.img" "$T/b/pi.img"
	# Also GPT.
	SOURCE_DATE_EPOCH=1700000000 img-new -q --table gpt "${PI[@]}" "$T/a/gpt.img" >/dev/null
	SOURCE_DATE_EPOCH=1700000000 img-new -q --table gpt "${PI[@]}" "$T/b/gpt.img" >/dev/null
	cmp "$T/a/gpt.img" "$T/b/gpt.img"
	# The filesystems carry that time.
	part_extract "$T/a/pi.img" 2
	dumpe2fs -h "$T/part.img" 2>/dev/null | grep -q "^Filesystem created: *$(LC_ALL=C TZ=UTC date -d @1700000000 '+%a %b %e %H:%M:%S %Y')"
}

@test "SOURCE_DATE_EPOCH: another value or another name gives other identifiers" {
	local a b c
	a=$(SOURCE_DATE_EPOCH=1700000000 img-new -q "${PI[@]}" "$T/pi.img")
	rm "$T/pi.img"
	b=$(SOURCE_DATE_EPOCH=1700000001 img-new -q "${PI[@]}" "$T/pi.img")
	c=$(SOURCE_DATE_EPOCH=1700000000 img-new -q "${PI[@]}" "$T/other.img")
	[ "$a" != "$b" ]
	[ "$a" != "$c" ]
	[ "$(echo "$a" | awk '{ print $4 }' | sort -u | wc -l)" -eq 2 ]
	# --seed instead of the file name: the same in any file, other than
	# the name's.
	local d e
	d=$(SOURCE_DATE_EPOCH=1700000000 img-new -q --seed trixie-rt-pi4 "${PI[@]}" "$T/d.img")
	e=$(SOURCE_DATE_EPOCH=1700000000 img-new -q -S trixie-rt-pi4 "${PI[@]}" "$T/e.img")
	[ "$d" = "$e" ]
	[ "$d" != "$a" ]
	cmp "$T/d.img" "$T/e.img"
}

@test "without SOURCE_DATE_EPOCH, two images differ" {
	local a b
	a=$(env -u SOURCE_DATE_EPOCH img-new -q "${PI[@]}" "$T/a.img")
	b=$(env -u SOURCE_DATE_EPOCH img-new -q "${PI[@]}" "$T/b.img")
	[ "$a" != "$b" ]
	run cmp -s "$T/a.img" "$T/b.img"
	[ "$status" -ne 0 ]
}

@test "runs unprivileged" {
	[ "$(id -u)" -eq 0 ] || { img-new -q "${PI[@]}" "$T/pi.img" >/dev/null; return; }
	command -v setpriv >/dev/null || skip "no setpriv"
	NOBODY_DIR=$(mktemp -d /tmp/img-new-test.XXXXXX)
	chown nobody "$NOBODY_DIR"
	run --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
		"$(command -v img-new)" -q "${PI[@]}" "$NOBODY_DIR/pi.img"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "$(stat -c %U "$NOBODY_DIR/pi.img")" = nobody ]
}

@test "usage errors exit 2 with one line and create nothing" {
	rejects 2 "no size given: use --size SIZE" --part ext4:rest
	rejects 2 "no partition given: use --part TYPE:SIZE[:LABEL]" --size 1G
	rejects 2 "invalid table 'bsd': want dos or gpt" --table bsd --size 1G --part ext4:rest
	rejects 2 "invalid size '1X': want a number with an optional K, M, G or T suffix" \
		--size 1X --part ext4:rest
	rejects 2 "size '1000' is not a whole number of 512-byte sectors" --size 1000 --part ext4:rest
	rejects 2 "too many partitions: an MBR partition table holds 4 (use --table gpt)" --size 1G \
		--part ext4:8M --part ext4:8M --part ext4:8M --part ext4:8M --part ext4:rest
	run --separate-stderr img-new --size 1G --part ext4:rest
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "img-new: no output file given" ]
	run --separate-stderr img-new --size 1G --part ext4:rest a b
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "img-new: too many arguments" ]
	SOURCE_DATE_EPOCH=yesterday rejects 2 "SOURCE_DATE_EPOCH='yesterday' is not a number of seconds" \
		--size 1G --part ext4:rest
	rejects 2 "--seed wants a string, not nothing" --seed '' --size 1G --part ext4:rest
}

@test "bad partitions exit 2 with one line and create nothing" {
	rejects 2 "invalid partition 'xfs:rest': unknown type 'xfs' (vfat or ext4)" --size 1G --part xfs:rest
	rejects 2 "invalid partition 'ext4': want TYPE:SIZE[:LABEL]" --size 1G --part ext4
	rejects 2 "invalid partition 'ext4:1.5M': size '1.5M' is not 'rest' or a whole number of MiB (512M, 1G, ...)" \
		--size 1G --part ext4:1.5M
	rejects 2 "invalid partition 'ext4:big': size 'big' is not 'rest' or a whole number of MiB (512M, 1G, ...)" \
		--size 1G --part ext4:big
	rejects 2 "invalid partition 'vfat:rest': only the last partition can take the rest" \
		--size 1G --part vfat:rest --part ext4:rest
	rejects 2 "invalid partition 'vfat:64M:ABCDEFGHIJKL': vfat labels hold at most 11 characters" \
		--size 1G --part vfat:64M:ABCDEFGHIJKL
	rejects 2 "invalid partition 'ext4:rest:abcdefghijklmnopq': ext4 labels hold at most 16 characters" \
		--size 1G --part ext4:rest:abcdefghijklmnopq
	rejects 2 "invalid partition 'vfat:64M:boot': vfat labels are made of capital letters, digits, '-' and '_', and start with a letter or digit" \
		--size 1G --part vfat:64M:boot
	rejects 2 "invalid partition 'ext4:rest:my root': ext4 labels are made of letters, digits, '-' and '_', and start with a letter or digit" \
		--size 1G --part "ext4:rest:my root"
	# The longest labels are fine.
	img-new -q --size 256M --part vfat:64M:ABCDEFGHIJK --part ext4:rest:abcdefghijklmnop "$T/ok.img" >/dev/null
	[ "$(probe "$T/ok.img" 1 LABEL)" = ABCDEFGHIJK ]
	[ "$(probe "$T/ok.img" 2 LABEL)" = abcdefghijklmnop ]
}

@test "partitions that do not fit exit 1 and create nothing" {
	rejects 1 "partition 1 (vfat:1G) does not fit in 1.00 GiB: 1023 MiB left from 1.00 MiB on" \
		--size 1G --part vfat:1G
	rejects 1 "partition 2 (ext4:rest) does not fit in 1.00 GiB: 0 B left from 1.00 GiB on" \
		--size 1G --part vfat:1023M --part ext4:rest
	# GPT keeps 33 sectors at the end for its backup.
	rejects 1 "partition 1 (ext4:63M) does not fit in 64.0 MiB: 63.0 MiB left from 1.00 MiB on" \
		--table gpt --size 64M --part ext4:63M
	img-new -q --table dos --size 64M --part ext4:63M "$T/ok.img" >/dev/null
}

@test "an existing OUT exits 1 and stays as it was" {
	echo keep >"$T/out.img"
	run --separate-stderr img-new "${PI[@]}" "$T/out.img"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "img-new: cannot create '$T/out.img': it exists" ]
	[ "$(cat "$T/out.img")" = keep ]
	[ ! -e "$T/out.img.part" ]
	# Also a dangling symlink.
	rm "$T/out.img"
	ln -s "$T/nowhere" "$T/out.img"
	run --separate-stderr img-new "${PI[@]}" "$T/out.img"
	[ "$status" -eq 1 ]
	[ ! -e "$T/nowhere" ]
}

@test "a missing mkfs exits 1 before anything is created" {
	mkdir "$T/bin"
	ln -s "$(command -v mkfs.ext4)" "$T/bin/mkfs.ext4"
	mkdir "$T/out"
	run --separate-stderr env PATH="$T/bin:$(dirname "$(command -v img-new)")" img-new "${PI[@]}" "$T/out/pi.img"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "img-new: cannot make the vfat filesystem of partition 1: mkfs.vfat is not installed (dosfstools)" ]
	[ -z "$(ls -A "$T/out")" ]
}

@test "a failing mkfs exits 1 and leaves nothing, not even OUT.part" {
	mkdir "$T/bin" "$T/out"
	printf '#!/bin/sh\necho "mkfs.vfat: no" >&2\nexit 1\n' >"$T/bin/mkfs.vfat"
	chmod +x "$T/bin/mkfs.vfat"
	# ext4 first, so that the image is half made when mkfs.vfat fails.
	run --separate-stderr env PATH="$T/bin:$PATH" img-new -q --size 256M --part ext4:64M \
		--part vfat:rest "$T/out/x.img"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "img-new: cannot make the vfat filesystem of partition 2: mkfs.vfat exited with status 1 (-v shows its output)" ]
	[ -z "$(ls -A "$T/out")" ]
	run --separate-stderr env PATH="$T/bin:$PATH" img-new -q -v --size 256M --part vfat:rest "$T/out/x.img"
	[ "$status" -eq 1 ]
	[[ $stderr == *"mkfs.vfat: no"* ]]
	[[ $stderr == *"mkfs.vfat exited with status 1" ]]
	[ -z "$(ls -A "$T/out")" ]
}

@test "a stale OUT.part from a killed run is replaced" {
	echo stale >"$T/pi.img.part"
	img-new -q "${PI[@]}" "$T/pi.img" >/dev/null
	[ ! -e "$T/pi.img.part" ]
	[ "$(probe "$T/pi.img" 2 TYPE)" = ext4 ]
}

@test "an ext4 that an older e2fsck or kernel could not use is refused" {
	mkdir "$T/bin" "$T/out"
	# The host's mkfs.ext4, then the read-only feature (ro_compat 0x1000)
	# set by hand, as a future default might add something unknown.
	cat >"$T/bin/mkfs.ext4" <<-'SH'
		#!/bin/sh
		PATH=$REAL_PATH
		mkfs.ext4 -O ^metadata_csum "$@" || exit
		for a; do
			case $a in offset=*) off=${a#offset=}; off=${off%%,*} ;; esac
			file=$last; last=$a
		done
		printf '\020' | dd of="$file" bs=1 seek=$((off + 1024 + 0x65)) conv=notrunc status=none
	SH
	chmod +x "$T/bin/mkfs.ext4"
	run --separate-stderr env REAL_PATH="$PATH" PATH="$T/bin:$PATH" img-new -q --size 64M \
		--part ext4:rest "$T/out/x.img"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "img-new: mkfs.ext4 made partition 1 with features e2fsprogs 1.47.0 or Linux 6.1 cannot use (incompat 0x0, ro_compat 0x1000); see mke2fs.conf" ]
	[ -z "$(ls -A "$T/out")" ]
}

# tree DIR: a small root and boot tree under DIR (root/, boot/): files of
# several ages, a symlink, a hard link, a device-less special file, an
# empty directory and a subdirectory on the FAT side.
tree() {
	mkdir -p "$1/root/etc/sub" "$1/root/usr/bin" "$1/root/empty" "$1/boot/overlays"
	echo host >"$1/root/etc/hostname"
	for i in $(seq 40); do echo "$i" >"$1/root/etc/sub/f$i"; done
	ln -s ../etc/hostname "$1/root/usr/bin/link"
	ln "$1/root/etc/hostname" "$1/root/etc/hard"
	mkfifo "$1/root/etc/fifo"
	echo cfg >"$1/boot/config.txt"
	echo dtbo >"$1/boot/overlays/x.dtbo"
	touch -h -d @1500000000 "$1/root/etc/sub/f1" "$1/boot/overlays/x.dtbo"
}

FILL=(--size 64M --part vfat:32M:BOOT --part ext4:rest:ROOT)

# ext4_stat IMG PATH: debugfs's stat of PATH in partition 2 of IMG.
ext4_stat() {
	debugfs -R "stat $2" "$1?offset=$(($(field "$1" 2 start) * 512))" 2>/dev/null
}

@test "--fill: the trees' files in the new filesystems, as made" {
	tree "$T/t"
	run --separate-stderr img-new -q "${FILL[@]}" --fill "1=$T/t/boot" --fill "2=$T/t/root" "$T/out.img"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	part_extract "$T/out.img" 1
	fsck.vfat -n "$T/part.img"
	MTOOLS_SKIP_CHECK=1 mtype -i "$T/part.img" ::/config.txt | grep -qx cfg
	MTOOLS_SKIP_CHECK=1 mtype -i "$T/part.img" ::/overlays/x.dtbo | grep -qx dtbo
	part_extract "$T/out.img" 2
	e2fsck -fn "$T/part.img"
	[ "$(debugfs -R 'cat /etc/sub/f40' "$T/part.img" 2>/dev/null)" = 40 ]
	debugfs -R 'stat /usr/bin/link' "$T/part.img" 2>/dev/null | grep -q 'Fast link dest: "../etc/hostname"'
	debugfs -R 'stat /etc/hard' "$T/part.img" 2>/dev/null | grep -q 'Links: 2'
	debugfs -R 'stat /etc/fifo' "$T/part.img" 2>/dev/null | grep -q 'Type: FIFO'
	debugfs -R 'ls /empty' "$T/part.img" 2>/dev/null | grep -q '\.\.'
}

@test "--fill with SOURCE_DATE_EPOCH: the same files in another history give the same bytes" {
	tree "$T/a"
	sleep 1.1
	tree "$T/b"
	# Another history for the same content: removed and made again,
	# other inode numbers, ctimes and directory order.
	rm "$T/b/root/etc/sub/f7"
	echo 7 >"$T/b/root/etc/sub/f7"
	touch -d @1800000000 "$T/b/root/etc/sub/f8"
	cat "$T/b/root/etc/sub/f9" >/dev/null
	for d in a b; do
		SOURCE_DATE_EPOCH=1700000000 img-new -q "${FILL[@]}" --fill "1=$T/$d/boot" --fill "2=$T/$d/root" \
			"$T/$d/out.img" >/dev/null
	done
	cmp "$T/a/out.img" "$T/b/out.img"
	# Times: an older mtime kept, a newer one clamped; atime, ctime and
	# crtime the epoch; on FAT, the epoch.
	ext4_stat "$T/a/out.img" /etc/sub/f1 | grep -q '^ mtime: 0x59682f00:00000000'
	ext4_stat "$T/a/out.img" /etc/sub/f2 | grep -q '^ mtime: 0x6553f100:00000000'
	for t in ctime atime crtime; do
		ext4_stat "$T/a/out.img" /etc/sub/f1 | grep -q "^ *$t: 0x6553f100:00000000"
	done
	part_extract "$T/a/out.img" 1
	MTOOLS_SKIP_CHECK=1 mdir -i "$T/part.img" ::/overlays | grep -q ' 2023-11-14 .* x\.dtbo$'
	MTOOLS_SKIP_CHECK=1 mdir -i "$T/part.img" ::/ | grep -q '^config *txt *4 2023-11-14 '
}

@test "--like: the old table and identifiers, the filled partition new, the other copied" {
	tree "$T/t"
	SOURCE_DATE_EPOCH=1700000000 img-new -q "${FILL[@]}" --fill "1=$T/t/boot" --fill "2=$T/t/root" "$T/old.img" >/dev/null
	echo changed >"$T/t/root/etc/hostname"
	run --separate-stderr env SOURCE_DATE_EPOCH=1700000000 img-new --like "$T/old.img" --fill "2=$T/t/root" "$T/new.img"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "1 copied BOOT UUID=$(probe "$T/old.img" 1 UUID)" ]
	[ "${lines[1]}" = "2 ext4 ROOT UUID=$(probe "$T/old.img" 2 UUID)" ]
	[ "$(stat -c %s "$T/new.img")" = "$(stat -c %s "$T/old.img")" ]
	# The table and the boot partition: the same bytes.
	cmp -n $(($(field "$T/old.img" 2 start) * 512)) "$T/old.img" "$T/new.img"
	part_extract "$T/new.img" 2
	e2fsck -fn "$T/part.img"
	[ "$(debugfs -R 'cat /etc/hostname' "$T/part.img" 2>/dev/null)" = changed ]
	# The hash seed, block size, inode size and count: the old one's.
	local keys='^(Directory Hash Seed|Block size|Inode size|Inode count):'
	dumpe2fs -h "$T/part.img" 2>/dev/null | grep -E "$keys" >"$T/new.sb"
	part_extract "$T/old.img" 2
	dumpe2fs -h "$T/part.img" 2>/dev/null | grep -E "$keys" >"$T/old.sb"
	[ "$(wc -l <"$T/old.sb")" -eq 4 ]
	diff "$T/old.sb" "$T/new.sb"
	# A vfat partition made new keeps its volume id, label and FAT32.
	rm "$T/new.img"
	SOURCE_DATE_EPOCH=1700000000 img-new -q --like "$T/old.img" --fill "1=$T/t/boot" "$T/new.img" >/dev/null
	for tag in UUID LABEL VERSION; do
		[ "$(probe "$T/new.img" 1 "$tag")" = "$(probe "$T/old.img" 1 "$tag")" ]
	done
}

@test "--like and --fill: bad usage and what cannot be done exit with one line and leave nothing" {
	tree "$T/t"
	img-new -q "${FILL[@]}" "$T/old.img" >/dev/null
	rejects 2 "invalid fill '2': want N=DIR" "${FILL[@]}" --fill 2
	rejects 2 "invalid fill '2=': want N=DIR" "${FILL[@]}" --fill 2=
	rejects 2 "--like takes the size, table and partitions from '$T/old.img': --size does not go with it" \
		--like "$T/old.img" --size 1G
	rejects 2 "--like takes the size, table and partitions from '$T/old.img': --part does not go with it" \
		--like "$T/old.img" --part ext4:rest
	rejects 1 "invalid fill '3=$T/t/root': there is no partition 3" "${FILL[@]}" --fill "3=$T/t/root"
	rejects 1 "invalid fill '2=$T/t/root': partition 2 is filled twice" "${FILL[@]}" --fill "2=$T/t/root" --fill "2=$T/t/root"
	rejects 1 "cannot fill partition 2 from '$T/nothing': No such file or directory" "${FILL[@]}" --fill "2=$T/nothing"
	rejects 1 "cannot fill partition 2 from '$T/t/root/etc/hostname': not a directory" "${FILL[@]}" --fill "2=$T/t/root/etc/hostname"
	rejects 1 "cannot take the layout of '$T/t/root/etc/hostname': not a disk image file" --like "$T/t/root/etc/hostname"
	truncate -s 1M "$T/blank.img"
	rejects 1 "cannot take the layout of '$T/blank.img': it has no partition table" --like "$T/blank.img"
	# What FAT cannot hold.
	rejects 1 "cannot put '$T/t/root/usr/bin/link' into the vfat filesystem of partition 1: FAT holds only files and directories" \
		-q "${FILL[@]}" --fill "1=$T/t/root/usr/bin"
	# A tree too big for its partition.
	head -c 40M /dev/urandom >"$T/t/root/big"
	mkdir -p "$T/new"
	run --separate-stderr img-new -q "${FILL[@]}" --fill "2=$T/t/root" "$T/new/out.img"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "img-new: cannot write '$T/t/root' into partition 2 (ext4 of 31.0 MiB): mkfs.ext4 exited with status 1 (too small? -v shows its output)" ]]
	[ -z "$(ls -A "$T/new")" ]
}
