# shellcheck shell=bash
# Reading a finished image in place, without attaching or mounting
# anything: `load image_helper` (trixie_helper.bash loads it too).
#
#   part_offset IMG N   the byte offset of partition N of IMG
#   root_cat IMG PATH   a file of the root filesystem (partition 2), read
#                       with debugfs
#   root_stat IMG PATH  debugfs's stat of it
#   root_ls IMG PATH    debugfs's listing of a directory
#   root_names IMG PATH the names in that directory, one a line, without
#                       . and ..
#   boot_cat IMG FILE   a file of the boot partition (partition 1), read
#                       with mtools
#   boot_ls IMG         the names in the boot partition's top directory
#   boot_put IMG FILE...
#                       copy FILEs onto the boot partition's top directory
#                       (over those there), as Raspberry Pi Imager writes
#                       its settings
#   boot_fsck IMG       fsck.fat -n of the boot partition (a sparse copy of
#                       it in a temporary file)
#   imager_files DIR PUBKEY
#                       the cloud-init files Raspberry Pi Imager writes on
#                       the boot partition, into DIR (below)
#   image_build RECIPE DIR
#                       make the recipe directory RECIPE in the build
#                       directory DIR, under DIR.lock (suites running at
#                       once share one build; a later call is a no-op make),
#                       its output appended to DIR.log; on failure the end
#                       of that log on stderr

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

root_names() {
	debugfs -R "ls -p \"$2\"" "$1?offset=$(part_offset "$1" 2)" 2>/dev/null |
		awk -F/ 'NF >= 7 && $6 != "." && $6 != ".." { print $6 }'
}

boot_cat() {
	MTOOLS_SKIP_CHECK=1 mtype -i "$1@@$(part_offset "$1" 1)" "::$2"
}

boot_ls() {
	MTOOLS_SKIP_CHECK=1 mdir -b -i "$1@@$(part_offset "$1" 1)" ::/ | sed 's|^::/||'
}

boot_put() {
	local img=$1
	shift
	MTOOLS_SKIP_CHECK=1 mcopy -o -i "$img@@$(part_offset "$img" 1)" "$@" ::
}

boot_fsck() {
	local off size tmp rc=0
	off=$(part_offset "$1" 1)
	size=$(sfdisk --json "$1" | python3 -c '
import json, sys
t = json.load(sys.stdin)["partitiontable"]
print(t["partitions"][0]["size"] * t.get("sectorsize", 512))')
	tmp=$(mktemp "${BATS_TEST_TMPDIR:-${TMPDIR:-/tmp}}/boot-fsck.XXXXXX")
	dd if="$1" of="$tmp" bs=1M iflag=skip_bytes,count_bytes skip="$off" count="$size" conv=sparse status=none &&
		fsck.fat -n "$tmp" || rc=$?
	rm -f "$tmp"
	return "$rc"
}

image_build() {
	local recipe=$1 dir=$2 log=$2.log
	mkdir -p "$dir"
	if ! flock "$dir.lock" make -C "$recipe" BUILD_DIR="$dir" >>"$log" 2>&1; then
		echo "image_build: building $recipe failed; the end of $log:" >&2
		tail -n 40 "$log" >&2
		return 1
	fi
}

# The files Raspberry Pi Imager (src/customization_generator.cpp,
# src/downloadthread.cpp) writes for: host name rtbot, user pi with a
# password and an SSH key, password SSH off, time zone Europe/Berlin,
# keyboard de, Wi-Fi "Lab WiFi" in DE. Its own layout: no blank line but
# the one after manage_resolv_conf, quoted hash and keys, the PSK derived.
imager_files() { # DIR PUBKEY
	local d=$1 key=$2 hash psk
	hash=$(openssl passwd -5 -salt rtikrtik 'correct horse')
	psk=$(python3 -c 'import hashlib; print(hashlib.pbkdf2_hmac("sha1", b"battery staple", b"Lab WiFi", 4096, 32).hex())')
	cat >"$d/user-data" <<EOF
#cloud-config
manage_resolv_conf: false

hostname: rtbot
manage_etc_hosts: true
packages:
- avahi-daemon
apt:
  preserve_sources_list: true
  conf: |
    Acquire {
      Check-Date "false";
    };
timezone: Europe/Berlin
keyboard:
  model: pc105
  layout: "de"
user:
  name: pi
  shell: /bin/bash
  lock_passwd: false
  passwd: "$hash"
  ssh_authorized_keys:
    - "$key"
  sudo: null
ssh_pwauth: false
runcmd:
  - [ systemctl, enable, --now, ssh ]
EOF
	cat >"$d/network-config" <<EOF
network:
  version: 2
  ethernets:
    eth0:
      dhcp4: true
      dhcp6: true
      optional: true
  wifis:
    wlan0:
      dhcp4: true
      regulatory-domain: "DE"
      access-points:
        "Lab WiFi":
          password: "$psk"
      optional: true
EOF
	printf 'instance-id: rpi-imager-1796601600000\n' >"$d/meta-data"
}
