#!/usr/bin/env bats
# The test harness itself: the vendor image fixtures and the HTTP helper.

bats_require_minimum_version 1.5.0

load test_helper

setup() {
	common_setup
	export MTOOLS_SKIP_CHECK=1
}

teardown() {
	http_stop
}

p1_offset=$((2048 * 512))
p2_offset=$((100352 * 512))

# The ext4 root of image $1, as e2fsprogs opens a filesystem at an offset.
rootfs() {
	printf '%s?offset=%s\n' "$1" "$p2_offset"
}

@test "mkfixture builds the whole set once and then does nothing" {
	local f
	for f in vendor-{mbr,gpt}.{img,img.xz,img.gz,img.bz2,img.zst,img.lz4,zip} \
		two-images.zip no-image.zip vendor-mbr.tar truncated.img.xz; do
		[ -f "$(fixture "$f")" ]
	done
	run --separate-stderr "$TOP/tests/fixtures/mkfixture" "$(dirname "$(fixture vendor-mbr.img)")"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
}

@test "fixture fails for an unknown name" {
	run --separate-stderr fixture no-such.img
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ $stderr == *"no fixture named 'no-such.img'"* ]]
}

@test "MBR image: FAT32 p1 at 1 MiB, Linux p2 up to the end of the disk" {
	local img
	img=$(fixture vendor-mbr.img)
	[ "$(stat -c %s "$img")" -eq $((128 << 20)) ]
	# Sparse: far fewer blocks than bytes.
	[ "$(($(stat -c '%b * %B' "$img")))" -lt $((32 << 20)) ]
	run sfdisk --dump "$img"
	[ "$status" -eq 0 ]
	[[ $output == *"label: dos"* ]]
	[ "$(grep -c '^/.* : start=' <<<"$output")" -eq 2 ]
	grep -Eq '1 : start= +2048, size= +98304, type=c, bootable$' <<<"$output"
	grep -Eq '2 : start= +100352, size= +161792, type=83$' <<<"$output"
}

@test "GPT image: basic-data system-boot and Linux writable" {
	local img
	img=$(fixture vendor-gpt.img)
	run sfdisk --dump "$img"
	[ "$status" -eq 0 ]
	[[ $output == *"label: gpt"* ]]
	[ "$(grep -c '^/.* : start=' <<<"$output")" -eq 2 ]
	grep -Eq '1 : start= +2048, size= +98304, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, .*name="system-boot"$' <<<"$output"
	grep -Eq '2 : start= +100352, size= +[0-9]+, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, .*name="writable"$' <<<"$output"
}

@test "p1 is FAT32 system-boot holding config.txt and cmdline.txt" {
	local v img
	for v in mbr gpt; do
		img=$(fixture "vendor-$v.img")
		run minfo -i "$img@@$p1_offset"
		[ "$status" -eq 0 ]
		[[ $output == *'disk type="FAT32   "'* ]]
		[[ $output == *'disk label="system-boot"'* ]]
		run mdir -b -i "$img@@$p1_offset" ::
		[ "$status" -eq 0 ]
		[[ $output == *"::/config.txt"* ]]
		[[ $output == *"::/cmdline.txt"* ]]
		run mtype -i "$img@@$p1_offset" ::config.txt
		[[ $output == *"arm_64bit=1"* ]]
		run mtype -i "$img@@$p1_offset" ::cmdline.txt
		[ "$(wc -l <<<"$output")" -eq 1 ]
		[[ $output == *"root=LABEL=writable rootfstype=ext4"* ]]
	done
}

@test "p2 is ext4 writable with a merged /usr and a dangling resolv.conf" {
	local v fs
	for v in mbr gpt; do
		fs=$(rootfs "$(fixture "vendor-$v.img")")
		run dumpe2fs -h "$fs"
		[ "$status" -eq 0 ]
		grep -Eq '^Filesystem volume name: +writable$' <<<"$output"
		run debugfs -R 'stat /etc/resolv.conf' "$fs"
		[ "$status" -eq 0 ]
		[[ $output == *"Type: symlink"* ]]
		[[ $output == *'"../run/systemd/resolve/stub-resolv.conf"'* ]]
		run debugfs -R 'stat /bin' "$fs"
		[[ $output == *"Type: symlink"* ]]
		[[ $output == *'"usr/bin"'* ]]
		run debugfs -R 'ls -p /usr/bin' "$fs"
		[[ $output == */sh/* ]]
		[[ $output == */env/* ]]
		run debugfs -R 'cat /etc/passwd' "$fs"
		[[ $output == *"root:x:0:0:"* ]]
		[[ $output == *"ubuntu:x:1000:1000:"* ]]
		run e2fsck -fn "$fs"
		[ "$status" -eq 0 ]
	done
}

@test "busybox in the root is an aarch64 ELF owned by root" {
	local fs h
	fs=$(rootfs "$(fixture vendor-mbr.img)")
	debugfs -R "dump /usr/bin/busybox $T/busybox" "$fs"
	read -r -a h < <(od -An -tu1 -N20 -w20 "$T/busybox")
	[ "${h[0]} ${h[1]} ${h[2]} ${h[3]}" = "127 69 76 70" ]
	[ $((h[18] + h[19] * 256)) -eq 183 ]
	run debugfs -R 'stat /usr/bin/busybox' "$fs"
	grep -Eq 'User: +0 +Group: +0 ' <<<"$output"
}

@test "compressed forms hold the same image; xz has several blocks" {
	local img e blocks
	img=$(fixture vendor-mbr.img)
	for e in xz gz bz2 zst lz4; do
		case $e in
		xz) xz -dc "$img.$e" ;;
		gz) gzip -dc "$img.$e" ;;
		bz2) bzip2 -dc "$img.$e" ;;
		zst) zstd -dcq "$img.$e" ;;
		lz4) lz4 -dcq "$img.$e" ;;
		esac | cmp - "$img"
	done
	unzip -p "$(fixture vendor-mbr.zip)" vendor-mbr.img | cmp - "$img"
	for e in mbr gpt; do
		blocks=$(xz --robot -l "$(fixture "vendor-$e.img.xz")" | awk '$1 == "totals" { print $3 }')
		[ "$blocks" -gt 1 ]
	done
}

@test "archives for the error cases hold what they claim" {
	run unzip -Z1 "$(fixture vendor-gpt.zip)"
	[ "$output" = vendor-gpt.img ]
	run unzip -Z1 "$(fixture two-images.zip)"
	[ "$output" = $'vendor-mbr.img\nvendor-gpt.img' ]
	run unzip -Z1 "$(fixture no-image.zip)"
	[ "$output" = README.txt ]
	run tar -tf "$(fixture vendor-mbr.tar)"
	[ "$output" = $'vendor-mbr.img\nREADME.txt' ]
	run xz -t "$(fixture truncated.img.xz)"
	[ "$status" -ne 0 ]
}

# A file to serve, with content that shows where each byte came from.
sample() {
	mkdir -p "$T/www"
	head -c $((256 << 10)) /dev/urandom >"$T/www/sample.bin"
}

@test "http: /files/ honours Range and the access log shows it" {
	sample
	http_start "$T/www"
	[[ $HTTP_URL == "http://127.0.0.1:$HTTP_PORT" ]]
	kill -0 "$HTTP_PID"
	run curl -s -o "$T/got" -w '%{http_code}' -r 1000- "$HTTP_URL/files/sample.bin"
	[ "$status" -eq 0 ]
	[ "$output" = 206 ]
	tail -c +1001 "$T/www/sample.bin" | cmp - "$T/got"
	http_log_wait '"GET /files/sample.bin HTTP/1.1" 206 [0-9]+ "Range: bytes=1000-"'
}

@test "http: /norange/ answers a Range request with 200 and the whole file" {
	sample
	http_start "$T/www"
	run curl -s -o "$T/got" -w '%{http_code}' -r 1000- "$HTTP_URL/norange/sample.bin"
	[ "$status" -eq 0 ]
	[ "$output" = 200 ]
	cmp "$T/www/sample.bin" "$T/got"
}

@test "http: /broken/ promises the whole file and sends about half" {
	sample
	http_start "$T/www"
	run curl -sS -o "$T/got" "$HTTP_URL/broken/sample.bin"
	[ "$status" -eq 18 ]
	[[ $output == *"transfer closed with $((128 << 10)) bytes remaining"* ]]
	head -c $((128 << 10)) "$T/www/sample.bin" | cmp - "$T/got"
}

@test "http: /pks/lookup serves DIR/pks/lookup whatever the query, as a keyserver would" {
	sample
	mkdir -p "$T/www/pks"
	echo "a key" >"$T/www/pks/lookup"
	http_start "$T/www"
	run curl -s -w ' %{http_code}' "$HTTP_URL/pks/lookup?op=get&options=mr&search=0x0123456789ABCDEF"
	[ "$output" = "a key
 200" ]
	run curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/pks/other"
	[ "$output" = 404 ]
}

@test "http: /status/503 is a 503, unknown paths are 404" {
	sample
	http_start "$T/www"
	run curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/status/503"
	[ "$output" = 503 ]
	run curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/missing"
	[ "$output" = 404 ]
	run curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/files/missing.img"
	[ "$output" = 404 ]
}

@test "http: http_stop stops the server, cleans up and may be called twice" {
	local pid log
	sample
	http_start "$T/www"
	pid=$HTTP_PID
	log=$HTTP_ACCESS_LOG
	http_stop
	run kill -0 "$pid"
	[ "$status" -ne 0 ]
	[ ! -e "$log" ]
	[ -z "${HTTP_URL-}" ]
	http_stop
}
