#!/usr/bin/env bats
# img-fetch against a real HTTP server on 127.0.0.1: verification, resume,
# mirrors, retries, the cache, and every error path.

bats_require_minimum_version 1.5.0
load test_helper

setup_file() {
	WWW=$BATS_FILE_TMPDIR/www
	mkdir -p "$WWW"
	head -c $((3 * 1024 * 1024 + 123)) /dev/urandom >"$WWW/payload.img.xz"
	head -c 1000 /dev/urandom >"$WWW/other.bin"
	SUM=$(sha256sum "$WWW/payload.img.xz" | cut -d' ' -f1)
	(cd "$WWW" && sha256sum --binary payload.img.xz other.bin >SHA256SUMS)
	# Two signing keys of our own: the list is signed with the first; a
	# keyring of each, and a list signed by the second.
	KEYS=$BATS_FILE_TMPDIR/keys
	mkdir -p -m 0700 "$KEYS/g1" "$KEYS/g2"
	local k
	for k in 1 2; do
		gpg --batch --quiet --homedir "$KEYS/g$k" --passphrase '' \
			--quick-gen-key "img-fetch test $k <test$k@example.invalid>" ed25519 sign never 2>/dev/null
		gpg --batch --quiet --homedir "$KEYS/g$k" --export >"$KEYS/key$k.gpg"
	done
	gpg --batch --quiet --homedir "$KEYS/g1" --output "$WWW/SHA256SUMS.gpg" --detach-sign "$WWW/SHA256SUMS"
	cp "$WWW/SHA256SUMS" "$WWW/OTHERSUMS"
	gpg --batch --quiet --homedir "$KEYS/g2" --output "$WWW/OTHERSUMS.gpg" --detach-sign "$WWW/OTHERSUMS"
	KEYRING=$KEYS/key1.gpg
	export WWW SUM KEYS KEYRING
	http_start "$WWW"
}

teardown_file() {
	http_stop
	local k
	for k in 1 2; do
		[ ! -d "${KEYS-}/g$k" ] || gpgconf --homedir "$KEYS/g$k" --kill all 2>/dev/null || true
	done
}

teardown() {
	if mountpoint -q "$T/small" 2>/dev/null; then umount "$T/small"; fi
	if [ -n "${TLS_PID-}" ]; then
		kill "$TLS_PID" 2>/dev/null || true
		wait "$TLS_PID" 2>/dev/null || true
	fi
}

setup() {
	common_setup
	cd "$T"
	# A wrong hash: the real one with its first digit changed.
	BAD=$( [ "${SUM:0:1}" = 0 ] && echo 1 || echo 0)${SUM:1}
}

@test "--help prints usage on stdout and exits 0" {
	run --separate-stderr img-fetch --help
	[ "$status" -eq 0 ]
	[[ $output == "Usage: img-fetch "* ]]
	[ -z "$stderr" ]
}

@test "--version prints the version" {
	run --separate-stderr img-fetch --version
	[ "$status" -eq 0 ]
	[[ $output =~ ^img-fetch\ [0-9]+\.[0-9]+ ]]
}

@test "usage errors exit 2 with one line and no network" {
	run --separate-stderr img-fetch --sha256 "$SUM"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-fetch: no URL given" ]

	run --separate-stderr img-fetch "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-fetch: no checksum: give --sha256 HEX, --sha256sums URL or --lock FILE (or --no-verify)" ]

	run --separate-stderr img-fetch --sha256 abc "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-fetch: --sha256 wants 64 hex digits, not 'abc'" ]

	run --separate-stderr img-fetch --sha256sums "$HTTP_URL/files/SHA256SUMS" x
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-fetch: --sha256sums over plain http can be forged on the way; use https, pin the hash with --sha256 too, or check a signature with --sha256sums-sig" ]

	run --separate-stderr img-fetch --sha256sums "$HTTP_URL/files/SHA256SUMS" --sha256sums-sig "$HTTP_URL/files/SHA256SUMS.gpg" x
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-fetch: --sha256sums-sig and --keyring go together, with --sha256sums" ]

	run --separate-stderr img-fetch --no-verify --sha256 "$SUM" x
	[ "$status" -eq 2 ]

	run --separate-stderr img-fetch --retries -1 --sha256 "$SUM" x
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-fetch: --retries wants a number from 0 to 100, not '-1'" ]

	run --separate-stderr img-fetch --sha256 "$SUM" http://127.0.0.1:9/
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-fetch: cannot name the file from 'http://127.0.0.1:9/'; give one with -o" ]
	# Nothing written (bats keeps its own separate-stderr-* files here).
	[ -z "$(ls -A "$T" | grep -v '^separate-stderr-')" ]
}

@test "a verified download lands under its name, with no .part" {
	run --separate-stderr img-fetch -o out.img.xz --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	cmp out.img.xz "$WWW/payload.img.xz"
	[ ! -e out.img.xz.part ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "img-fetch: out.img.xz: 3.00 MiB in "*", sha256 verified" ]]
}

@test "the default name is the URL's last path component" {
	img-fetch -q --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz?x=1"
	cmp payload.img.xz "$WWW/payload.img.xz"
}

@test "the hash is case-insensitive" {
	img-fetch -q -o out --sha256 "${SUM^^}" "$HTTP_URL/files/payload.img.xz"
	cmp out "$WWW/payload.img.xz"
}

@test "a wrong hash: both hashes, exit 1, no .part, FILE untouched" {
	echo precious >out.img.xz
	run --separate-stderr img-fetch -o out.img.xz --sha256 "$BAD" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 2 ]
	[ "${stderr_lines[0]}" = "img-fetch: 'out.img.xz' exists but does not match; downloading it again" ]
	[ "${stderr_lines[1]}" = "img-fetch: 'out.img.xz' does not match: expected sha256 $BAD, got $SUM; removed 'out.img.xz.part'" ]
	[ "$(cat out.img.xz)" = precious ]
	[ ! -e out.img.xz.part ]
}

@test "a 404, then a mirror that works" {
	run --separate-stderr img-fetch -o out --sha256 "$SUM" \
		"$HTTP_URL/files/missing.img.xz" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	[ "${stderr_lines[0]}" = "img-fetch: $HTTP_URL/files/missing.img.xz: HTTP error 404" ]
	cmp out "$WWW/payload.img.xz"
}

@test "every URL failing: one line each, then a summary" {
	run --separate-stderr img-fetch -o out --sha256 "$SUM" \
		"$HTTP_URL/files/missing" "$HTTP_URL/nothing-here"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 3 ]
	[ "${stderr_lines[1]}" = "img-fetch: $HTTP_URL/nothing-here: HTTP error 404" ]
	[ "${stderr_lines[2]}" = "img-fetch: could not download 'out' from any of 2 URLs" ]
	[ ! -e out ]
}

@test "a connection dropped mid-transfer, then a resume with Range" {
	run --separate-stderr img-fetch --retries 0 -o out --sha256 "$SUM" "$HTTP_URL/broken/payload.img.xz"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "img-fetch: $HTTP_URL/broken/payload.img.xz: transfer closed with "*" bytes remaining"* ]]
	[ ! -e out ]
	local have
	have=$(stat -c %s out.part)
	[ "$have" -gt 0 ] && [ "$have" -lt "$(stat -c %s "$WWW/payload.img.xz")" ]

	run --separate-stderr img-fetch -o out --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	[[ $stderr == *"resuming 'out.part' at $have bytes"* ]]
	http_log_wait "GET /files/payload.img.xz HTTP/1.1\" 206 [0-9]+ \"Range: bytes=$have-\""
	cmp out "$WWW/payload.img.xz"
	[ ! -e out.part ]
}

@test "a dropped connection falls through to the mirror, which resumes" {
	run --separate-stderr img-fetch --retries 0 -o out --sha256 "$SUM" \
		"$HTTP_URL/broken/payload.img.xz" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	[[ $stderr == *"resuming 'out.part' at "*" bytes from $HTTP_URL/files/payload.img.xz"* ]]
	cmp out "$WWW/payload.img.xz"
}

@test "a dropped connection is retried, resuming each time" {
	# The broken URL always breaks; the retries resume and break again.
	run --separate-stderr img-fetch --retries 1 -o out --sha256 "$SUM" "$HTTP_URL/broken/payload.img.xz"
	[ "$status" -eq 1 ]
	[[ ${stderr_lines[0]} == *"transfer closed with"*"retry 1 of 1" ]]
	[[ $stderr == *"resuming 'out.part' at "* ]]
}

@test "a server without Range support: a clean restart" {
	head -c 1000000 "$WWW/payload.img.xz" >out.part
	run --separate-stderr img-fetch -o out --sha256 "$SUM" "$HTTP_URL/norange/payload.img.xz"
	[ "$status" -eq 0 ]
	[[ $stderr == *"the server ignores Range; starting over from byte 0"* ]]
	cmp out "$WWW/payload.img.xz"
}

@test "a .part that does not belong: mismatch, removed, and the next run succeeds" {
	head -c 1000000 /dev/urandom >out.part
	run --separate-stderr img-fetch -o out --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 1 ]
	[[ $stderr == *"does not match"* ]]
	[ ! -e out.part ] && [ ! -e out ]
	img-fetch -q -o out --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	cmp out "$WWW/payload.img.xz"
}

@test "a .part that is already complete is accepted" {
	cp "$WWW/payload.img.xz" out.part
	run --separate-stderr img-fetch -o out --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	cmp out "$WWW/payload.img.xz"
}

@test "a .part longer than the file starts over" {
	cat "$WWW/payload.img.xz" "$WWW/other.bin" >out.part
	run --separate-stderr img-fetch -o out --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	[[ $stderr == *"longer than the file on the server; starting over"* ]]
	cmp out "$WWW/payload.img.xz"
}

@test "a transient 503 is retried with backoff, then reported" {
	run --separate-stderr img-fetch --retries 1 -o out --sha256 "$SUM" "$HTTP_URL/status/503"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 2 ]
	[ "${stderr_lines[0]}" = "img-fetch: $HTTP_URL/status/503: HTTP error 503; retry 1 of 1" ]
	[ "${stderr_lines[1]}" = "img-fetch: $HTTP_URL/status/503: HTTP error 503" ]
}

@test "a refused connection fails in one line" {
	run --separate-stderr img-fetch --retries 0 -o out --sha256 "$SUM" "http://127.0.0.1:9/x"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "img-fetch: http://127.0.0.1:9/x: "*"onnect"* ]]
	[ ! -e out ]
}

@test "the cache: a matching FILE exits 0 without network" {
	cp "$WWW/payload.img.xz" out
	# Port 9 has nothing: any network use would fail.
	run --separate-stderr img-fetch -o out --sha256 "$SUM" "http://127.0.0.1:9/payload.img.xz"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-fetch: out: up to date (sha256 $SUM)" ]
	[ ! -e out.part ]
}

@test "a cache hit on the file verified before reads nothing; one changed since (its ctime) is hashed again" {
	img-fetch -q -o out --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	grep -Eqx "sha256 $SUM [0-9]+:[0-9]+:[0-9]+:[0-9.]+:[0-9.]+" out.lock
	run --separate-stderr img-fetch -v -o out --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	grep -qx "img-fetch: 'out' is the file verified before" <<<"$stderr"
	# The same size and mtime, other bytes: the ctime tells. (A byte other
	# than the random one there.)
	local b
	b=$(od -An -tu1 -j100 -N1 out)
	printf "\\$(printf %03o $(((b + 1) % 256)))" | dd of=out bs=1 seek=100 conv=notrunc status=none
	! cmp -s out "$WWW/payload.img.xz" || return 1
	touch -r out.lock out
	run --separate-stderr img-fetch -v -o out --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	! grep -q "is the file verified before" <<<"$stderr" || false
	grep -qx "img-fetch: 'out' exists but does not match; downloading it again" <<<"$stderr"
	cmp out "$WWW/payload.img.xz"
}

@test "a FILE that does not match is downloaded again" {
	echo stale >out
	run --separate-stderr img-fetch -o out --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	[[ $stderr == *"'out' exists but does not match; downloading it again"* ]]
	cmp out "$WWW/payload.img.xz"
}

@test "--sha256sums takes the line for the URL's file name" {
	run --separate-stderr img-fetch -o out --sha256sums "$HTTP_URL/files/SHA256SUMS" --sha256sums-sig "$HTTP_URL/files/SHA256SUMS.gpg" --keyring "$KEYRING" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	cmp out "$WWW/payload.img.xz"
}

@test "--sha256sums with no line for the file fails in one line" {
	cp "$WWW/other.bin" "$WWW/unlisted.bin"
	run --separate-stderr img-fetch -o out --sha256sums "$HTTP_URL/files/SHA256SUMS" --sha256sums-sig "$HTTP_URL/files/SHA256SUMS.gpg" --keyring "$KEYRING" "$HTTP_URL/files/unlisted.bin"
	rm -f "$WWW/unlisted.bin"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: $HTTP_URL/files/SHA256SUMS has no line for 'unlisted.bin'" ]
	[ ! -e out ] && [ ! -e out.part ]
}

@test "--sha256sums that cannot be fetched fails in one line" {
	run --separate-stderr img-fetch -o out --sha256sums "$HTTP_URL/files/NOSUMS" --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: $HTTP_URL/files/NOSUMS: HTTP error 404" ]
}

@test "--sha256sums catches a wrong file" {
	# The list says payload.img.xz, the server sends other.bin under that name.
	mkdir -p "$WWW/swap"
	cp "$WWW/other.bin" "$WWW/swap/payload.img.xz"
	run --separate-stderr img-fetch -o out --sha256sums "$HTTP_URL/files/SHA256SUMS" --sha256sums-sig "$HTTP_URL/files/SHA256SUMS.gpg" --keyring "$KEYRING" "$HTTP_URL/files/swap/payload.img.xz"
	rm -rf "$WWW/swap"
	[ "$status" -eq 1 ]
	[[ $stderr == *"does not match: expected sha256 $SUM"* ]]
}

@test "--sha256sums-sig: a good signature by a key in the keyring" {
	run --separate-stderr img-fetch -o out --sha256sums "$HTTP_URL/files/SHA256SUMS" \
		--sha256sums-sig "$HTTP_URL/files/SHA256SUMS.gpg" --keyring "$KEYRING" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	cmp out "$WWW/payload.img.xz"
}

@test "--sha256sums-sig: a list changed after signing is refused before any line is used" {
	mkdir -p "$WWW/forged"
	sed "s/^[0-9a-f]* \*payload/$(printf '0%.0s' {1..64}) *payload/" "$WWW/SHA256SUMS" >"$WWW/forged/SHA256SUMS"
	! cmp -s "$WWW/SHA256SUMS" "$WWW/forged/SHA256SUMS" || false
	cp "$WWW/SHA256SUMS.gpg" "$WWW/forged/"
	run --separate-stderr img-fetch -o out --sha256sums "$HTTP_URL/files/forged/SHA256SUMS" \
		--sha256sums-sig "$HTTP_URL/files/forged/SHA256SUMS.gpg" --keyring "$KEYRING" "$HTTP_URL/files/payload.img.xz"
	rm -rf "$WWW/forged"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: $HTTP_URL/files/forged/SHA256SUMS.gpg is not a good signature of $HTTP_URL/files/forged/SHA256SUMS by a key in '$KEYRING'" ]
	[ ! -e out ] && [ ! -e out.part ]
	# A signature that is no signature at all.
	run --separate-stderr img-fetch -o out --sha256sums "$HTTP_URL/files/SHA256SUMS" \
		--sha256sums-sig "$HTTP_URL/files/other.bin" --keyring "$KEYRING" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: $HTTP_URL/files/other.bin is not a good signature of $HTTP_URL/files/SHA256SUMS by a key in '$KEYRING'" ]
}

@test "--sha256sums-sig: a list signed by another key is refused" {
	run --separate-stderr img-fetch -o out --sha256sums "$HTTP_URL/files/OTHERSUMS" \
		--sha256sums-sig "$HTTP_URL/files/OTHERSUMS.gpg" --keyring "$KEYRING" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: $HTTP_URL/files/OTHERSUMS.gpg is not a good signature of $HTTP_URL/files/OTHERSUMS by a key in '$KEYRING'" ]
	[ ! -e out ]
	# With that key's keyring it is good.
	run --separate-stderr img-fetch -o out --sha256sums "$HTTP_URL/files/OTHERSUMS" \
		--sha256sums-sig "$HTTP_URL/files/OTHERSUMS.gpg" --keyring "$KEYS/key2.gpg" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
}

@test "--sha256sums over http with a pinned hash: the list must agree with it" {
	run --separate-stderr img-fetch -o out --sha256 "$SUM" --sha256sums "$HTTP_URL/files/SHA256SUMS" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	run --separate-stderr img-fetch -o out2 --sha256 "$BAD" --sha256sums "$HTTP_URL/files/SHA256SUMS" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: $HTTP_URL/files/SHA256SUMS says sha256 $SUM for 'payload.img.xz', not the pinned $BAD" ]
	[ ! -e out2 ]
}

@test "--no-verify prints the hash on stdout to pin it" {
	run --separate-stderr img-fetch --no-verify -o out "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	[ "$output" = "$SUM  out" ]
	[[ $stderr == *"sha256 not verified"* ]]
}

@test "--print-sha256 prints the verified hash, downloaded or up to date; without it stdout is empty" {
	run --separate-stderr img-fetch -o out --sha256sums "$HTTP_URL/files/SHA256SUMS" --sha256 "$SUM" \
		--print-sha256 "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	[ "$output" = "$SUM  out" ]
	run --separate-stderr img-fetch -o out --sha256 "${SUM^^}" --print-sha256 "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	[[ $stderr == "img-fetch: out: up to date"* ]]
	[ "${output,,}" = "$SUM  out" ]
	run --separate-stderr img-fetch -o out --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# A file that fails its check prints nothing.
	run --separate-stderr img-fetch -o out3 --sha256 "$BAD" --print-sha256 "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
}

@test "a file:// URL works" {
	run --separate-stderr img-fetch -o out --sha256 "$SUM" "file://$WWW/payload.img.xz"
	[ "$status" -eq 0 ]
	cmp out "$WWW/payload.img.xz"
}

@test "a file:// URL resumes too" {
	head -c 12345 "$WWW/payload.img.xz" >out.part
	run --separate-stderr img-fetch -o out --sha256 "$SUM" "file://$WWW/payload.img.xz"
	[ "$status" -eq 0 ]
	[[ $stderr == *"resuming 'out.part' at 12345 bytes"* ]]
	cmp out "$WWW/payload.img.xz"
}

@test "a missing file:// fails in one line" {
	run --separate-stderr img-fetch -o out --sha256 "$SUM" "file://$WWW/nope"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ ! -e out ]
}

@test "unsupported schemes are refused" {
	run --separate-stderr img-fetch -o out --sha256 "$SUM" "ftp://127.0.0.1/x"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *"ftp"* ]]
}

@test "a second img-fetch of the same FILE waits for the first (FILE.lock), then finishes" {
	: >out.lock
	flock out.lock sleep 2 &
	local locker=$! start=$SECONDS
	sleep 0.2
	run --separate-stderr img-fetch -o out --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	wait "$locker" 2>/dev/null || true
	[ "$status" -eq 0 ]
	[ "${stderr_lines[0]}" = "img-fetch: 'out' is being downloaded by another process; waiting" ]
	[ $((SECONDS - start)) -ge 1 ]
	cmp out "$WWW/payload.img.xz"
}

@test "an output directory that does not exist fails in one line" {
	run --separate-stderr img-fetch -o no/dir/out --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: cannot open the directory of 'no/dir/out': No such file or directory" ]
}

# A directory of the host's that nothing may change: its names, modes and
# contents, hashed.
sentinel_make() {
	mkdir -p "$T/host"
	echo "host file, 19 bytes" >"$T/host/victim"
	echo "lock victim" >"$T/host/lockvictim"
	echo "linked" >"$T/host/linked"
}
sentinel_hash() {
	(cd "$T/host" && find . -printf '%p %m %n %s\n' | sort && find . -type f -exec cat {} + | sha256sum)
}

@test "symlinks and hard links planted as FILE.part, FILE.lock and FILE are removed, never written through" {
	local before
	sentinel_make
	before=$(sentinel_hash)
	ln -s "$T/host/victim" out.part
	ln -s "$T/host/lockvictim" out.lock
	ln -s "$T/host/nothing-yet" out
	run --separate-stderr img-fetch -o out --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	[ "$(sentinel_hash)" = "$before" ]
	[ ! -e "$T/host/nothing-yet" ]
	[ -f out ] && [ ! -L out ] && cmp out "$WWW/payload.img.xz"
	[ -f out.lock ] && [ ! -L out.lock ]
	grep -qx "img-fetch: warning: 'out.lock' was not a regular file of ours (a symlink, a hard link or a special file): removed, not followed" <<<"$stderr"
	grep -qx "img-fetch: warning: 'out.part' was not a regular file of ours (a symlink, a hard link or a special file): removed, not followed" <<<"$stderr"
	grep -qx "img-fetch: warning: 'out' is a symlink: not followed; downloading the file in its place" <<<"$stderr"
	# A hard link to a host file as the .part: appending would change it.
	rm out
	ln "$T/host/linked" out.part
	run --separate-stderr img-fetch -q -o out --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	[ "$(sentinel_hash)" = "$before" ]
	cmp out "$WWW/payload.img.xz"
}

@test "-C DIR: the directories below DIR are made; a symlink below DIR or a .. is refused in one line" {
	local before
	sentinel_make
	before=$(sentinel_hash)
	mkdir cache
	run --separate-stderr img-fetch -q -C cache -o rt-kernel/v1/payload --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	cmp cache/rt-kernel/v1/payload "$WWW/payload.img.xz"
	ln -s "$T/host" cache/evil
	run --separate-stderr img-fetch -q -C cache -o evil/v1/payload --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: 'evil/v1/payload' leads through a symlink or out of 'cache'; refused" ]
	run --separate-stderr img-fetch -q -C cache -o ../payload --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: '../payload' leads through a symlink or out of 'cache'; refused" ]
	[ ! -e payload ]
	[ "$(sentinel_hash)" = "$before" ]
	run --separate-stderr img-fetch -C cache -o /abs --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-fetch: with --directory, FILE is relative to it, not '/abs'" ]
}

@test "-q prints only the summary; without a terminal there is no progress" {
	run --separate-stderr img-fetch -q -o out --sha256 "$SUM" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr != *ETA* ]]
}

@test "on a terminal a progress line shows bytes, percent, rate and ETA" {
	run script -qec "img-fetch -o '$T/out' --sha256 '$SUM' '$HTTP_URL/files/payload.img.xz'" /dev/null
	[ "$status" -eq 0 ]
	[[ $output == *"%"*"/s"*"ETA"* ]]
	cmp out "$WWW/payload.img.xz"
}

# tls_start [LIGHTTPD CONFIG LINES]: an https server for $WWW on 127.0.0.1
# with a certificate made now ($T/tls/cert.pem); sets TLS_PORT and TLS_PID.
tls_start() {
	local dir=$T/tls up=
	mkdir -p "$dir"
	openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
		-days 1 -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
	cat "$dir/key.pem" "$dir/cert.pem" >"$dir/server.pem"
	# A random port may be taken: try a few, each until the server answers.
	for _ in 1 2 3 4 5; do
		TLS_PORT=$((33000 + RANDOM % 2000))
		cat >"$dir/lighttpd.conf" <<CONF
server.modules = ("mod_openssl", "mod_redirect")
server.bind = "127.0.0.1"
server.port = $TLS_PORT
server.document-root = "$WWW"
server.errorlog = "$dir/error.log"
ssl.engine = "enable"
ssl.pemfile = "$dir/server.pem"
$*
CONF
		lighttpd -D -f "$dir/lighttpd.conf" </dev/null >/dev/null 2>&1 3>&- &
		TLS_PID=$!
		for _ in $(seq 100); do
			kill -0 "$TLS_PID" 2>/dev/null || break
			if curl -sk -o /dev/null "https://127.0.0.1:$TLS_PORT/"; then
				up=1
				break
			fi
			sleep 0.1
		done
		[ -z "$up" ] || return 0
		kill "$TLS_PID" 2>/dev/null || true
		wait "$TLS_PID" 2>/dev/null || true
		TLS_PID=
	done
	return 1
}

@test "TLS certificates are verified" {
	tls_start
	run --separate-stderr img-fetch --retries 0 -o out --sha256 "$SUM" "https://127.0.0.1:$TLS_PORT/payload.img.xz"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *"certificate"* ]]
	[ ! -e out ]
}

# The test's certificate is trusted in a mount namespace of img-fetch's own,
# where it is bound over the system's CA bundle.
@test "https never redirects to plain http: one line, nothing under the final name; https to https is followed" {
	require_root
	local bundle=/etc/ssl/certs/ca-certificates.crt
	[ -f "$bundle" ] || skip "no $bundle"
	tls_start "url.redirect = (\"^/to-http/(.*)\$\" => \"$HTTP_URL/files/\$1\", \"^/to-https/(.*)\$\" => \"/\$1\")"
	trusted() {
		unshare -m sh -c 'mount --make-rprivate / && mount --bind "$0" "$1" && shift && exec "$@"' \
			"$T/tls/cert.pem" "$bundle" "$@"
	}
	run --separate-stderr trusted img-fetch --retries 0 -o out --sha256 "$SUM" \
		"https://127.0.0.1:$TLS_PORT/to-https/payload.img.xz"
	[ "$status" -eq 0 ]
	cmp out "$WWW/payload.img.xz"
	rm -f out
	run --separate-stderr trusted img-fetch --retries 0 -o out --sha256 "$SUM" \
		"https://127.0.0.1:$TLS_PORT/to-http/payload.img.xz"
	echo "$stderr" >&2
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *"redirected from https to a plain http URL; refused"* ]]
	[ ! -e out ]
}

@test "a full disk is a local error: one line, and no mirror is tried" {
	require_root
	mkdir "$T/small"
	mount -t tmpfs -o size=1M none "$T/small"
	run --separate-stderr img-fetch --retries 0 -o "$T/small/out" --sha256 "$SUM" \
		"$HTTP_URL/files/payload.img.xz" "$HTTP_URL/files/payload.img.xz?mirror"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: cannot write '$T/small/out.part': No space left on device" ]
	[ ! -e "$T/small/out" ]
	run grep -c 'mirror' "$HTTP_ACCESS_LOG"
	[ "$output" = 0 ]
}

# ---- the lock file: downloads that publish no checksum ----

@test "--lock: the first download records its hash, sorted by URL; later ones are verified" {
	local url=$HTTP_URL/files/payload.img.xz other=$HTTP_URL/files/other.bin osum
	osum=$(sha256sum "$WWW/other.bin" | cut -d' ' -f1)
	run --separate-stderr img-fetch -o out --lock sources.lock "$url"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 2 ]
	[[ ${stderr_lines[0]} == "img-fetch: out: 3.00 MiB in "*", sha256 recorded" ]]
	[ "${stderr_lines[-1]}" = "img-fetch: recorded sha256 $SUM of $url in 'sources.lock'; commit sources.lock" ]
	cmp out "$WWW/payload.img.xz"
	[ "$(cat sources.lock)" = "$SUM  $url" ]
	# A second URL, which sorts before the first; a comment stays on top.
	{ echo '# downloads that publish no checksum'; cat sources.lock; } >l && mv l sources.lock
	img-fetch -q -o other --lock sources.lock "$other"
	[ "$(cat sources.lock)" = "# downloads that publish no checksum
$osum  $other
$SUM  $url" ]
	[ ! -e sources.lock.part ]
	# Now the entry is the expected hash: a cache hit, no network.
	run --separate-stderr img-fetch -o out --lock sources.lock --locked "$url"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-fetch: out: up to date (sha256 $SUM)" ]
	rm out
	run --separate-stderr img-fetch -o out --lock sources.lock --locked "$url"
	[ "$status" -eq 0 ]
	[[ $stderr == "img-fetch: out: 3.00 MiB in "*", sha256 verified" ]]
	cmp out "$WWW/payload.img.xz"
}

@test "--lock: a .part left from before is not resumed when the hash is to be recorded" {
	local url=$HTTP_URL/files/payload.img.xz
	# 284 bytes that the server never sent, where a resume would keep them.
	head -c 284 /dev/urandom >out.part
	run --separate-stderr img-fetch -o out --lock sources.lock "$url"
	[ "$status" -eq 0 ]
	[ "${stderr_lines[0]}" = "img-fetch: 'out.part' is left from an earlier download; the hash to be recorded must come whole from the server: starting over" ]
	[ "$(cat sources.lock)" = "$SUM  $url" ]
	cmp out "$WWW/payload.img.xz"
}

@test "--lock: content that differs from the entry is refused, naming both hashes" {
	local url=$HTTP_URL/files/payload.img.xz
	echo "$BAD  $url" >sources.lock
	run --separate-stderr img-fetch -o out --lock sources.lock "$url"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: 'out' does not match its entry in 'sources.lock': expected sha256 $BAD, got $SUM; removed 'out.part'" ]
	[ ! -e out ] && [ ! -e out.part ]
	[ "$(cat sources.lock)" = "$BAD  $url" ]
}

@test "--lock: a pinned --sha256 wins over the entry, which stays as it is" {
	local url=$HTTP_URL/files/payload.img.xz
	echo "$BAD  $url" >sources.lock
	img-fetch -q -o out --sha256 "$SUM" --lock sources.lock "$url"
	cmp out "$WWW/payload.img.xz"
	[ "$(cat sources.lock)" = "$BAD  $url" ]
	# A SHA256SUMS list wins too, and nothing is recorded.
	rm -f sources.lock out
	img-fetch -q -o out --sha256sums "$HTTP_URL/files/SHA256SUMS" --sha256 "$SUM" --lock sources.lock "$url"
	[ ! -e sources.lock ]
}

@test "--locked: a URL with no entry and no pinned hash is refused before any download" {
	local url=$HTTP_URL/files/payload.img.xz
	echo "$SUM  $HTTP_URL/files/else" >sources.lock
	run --separate-stderr img-fetch -o out --lock sources.lock --locked "$url"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: $url has no entry in 'sources.lock' and no pinned hash; refused (--locked): build once without LOCKED=1 to record it, and commit the file" ]
	[ ! -e out ] && [ ! -e out.part ]
	[ "$(cat sources.lock)" = "$SUM  $HTTP_URL/files/else" ]
	# No lock file at all: the same.
	run --separate-stderr img-fetch -o out --lock none.lock --locked "$url"
	[ "$status" -eq 1 ]
	[ ! -e none.lock ]
	# A pinned hash needs no entry.
	img-fetch -q -o out --sha256 "$SUM" --lock none.lock --locked "$url"
	[ ! -e none.lock ]
}

@test "--lock: a malformed lock file is one line with its line number, and nothing is fetched" {
	local url=$HTTP_URL/files/payload.img.xz
	printf '# c\n%s  %s\nnot a line\n' "$SUM" "$HTTP_URL/files/x" >sources.lock
	run --separate-stderr img-fetch -o out --lock sources.lock "$url"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: sources.lock:3: not a 'SHA256  URL' line, or a URL listed twice" ]
	printf '%s  %s\n%s  %s\n' "$SUM" "$url" "$SUM" "$url" >sources.lock
	run --separate-stderr img-fetch -o out --lock sources.lock "$url"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: sources.lock:2: not a 'SHA256  URL' line, or a URL listed twice" ]
	[ ! -e out ] && [ ! -e out.part ]
}

@test "--lock: a failed download records nothing" {
	run --separate-stderr img-fetch -o out --retries 0 --lock sources.lock "$HTTP_URL/files/missing"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: $HTTP_URL/files/missing: HTTP error 404" ]
	[ ! -e sources.lock ] || [ ! -s sources.lock ]
	[ ! -e out ]
}

@test "--lock, --locked: usage errors" {
	run --separate-stderr img-fetch --no-verify --lock sources.lock x
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-fetch: --no-verify contradicts --sha256, --sha256sums, --lock and --locked" ]
	run --separate-stderr img-fetch --lock '' x
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-fetch: --lock wants a file name" ]
	run --separate-stderr img-fetch --locked x
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-fetch: no checksum: give --sha256 HEX, --sha256sums URL or --lock FILE (or --no-verify)" ]
}

@test "--sha256sums given twice: a list that cannot be fetched, then its mirror" {
	run --separate-stderr img-fetch -o out --retries 0 \
		--sha256sums "$HTTP_URL/files/GONE" --sha256sums-sig "$HTTP_URL/files/GONE.gpg" \
		--sha256sums "$HTTP_URL/files/SHA256SUMS" --sha256sums-sig "$HTTP_URL/files/SHA256SUMS.gpg" \
		--keyring "$KEYRING" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 0 ]
	[ "${stderr_lines[0]}" = "img-fetch: $HTTP_URL/files/GONE: HTTP error 404" ]
	cmp out "$WWW/payload.img.xz"
	# Every list failing: one line each, then a summary; nothing fetched.
	rm out
	run --separate-stderr img-fetch -o out --retries 0 --sha256 "$SUM" \
		--sha256sums "$HTTP_URL/files/GONE" --sha256sums "$HTTP_URL/files/OTHERS" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 1 ]
	[ "${stderr_lines[2]}" = "img-fetch: none of the 2 checksum lists gives the hash of 'payload.img.xz'" ]
	[ ! -e out ]
	# A signature per list, or none.
	run --separate-stderr img-fetch --sha256sums "$HTTP_URL/files/a" --sha256sums "$HTTP_URL/files/b" \
		--sha256sums-sig "$HTTP_URL/files/a.gpg" --keyring "$KEYRING" x
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-fetch: 2 --sha256sums but 1 --sha256sums-sig: one signature per list" ]
}

@test "--sha256sums mirrors: a bad signature ends the search" {
	run --separate-stderr img-fetch -o out \
		--sha256sums "$HTTP_URL/files/OTHERSUMS" --sha256sums-sig "$HTTP_URL/files/OTHERSUMS.gpg" \
		--sha256sums "$HTTP_URL/files/SHA256SUMS" --sha256sums-sig "$HTTP_URL/files/SHA256SUMS.gpg" \
		--keyring "$KEYRING" "$HTTP_URL/files/payload.img.xz"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: $HTTP_URL/files/OTHERSUMS.gpg is not a good signature of $HTTP_URL/files/OTHERSUMS by a key in '$KEYRING'" ]
}

# ---- --pick: a series directory whose list names the current release ----

# series DIR NAME...: the directory DIR under the server's files holding
# the files NAME (random bytes), listed in its SHA256SUMS, signed by key 1.
series() {
	local d=$WWW/$1
	shift
	rm -rf "$d"
	mkdir -p "$d"
	for n in "$@"; do head -c 2000 /dev/urandom >"$d/$n"; done
	(cd "$d" && sha256sum --binary "$@" >SHA256SUMS)
	gpg --batch --quiet --homedir "$KEYS/g1" --output "$d/SHA256SUMS.gpg" --detach-sign "$d/SHA256SUMS"
}

# pick DIR [OPTION...] [-- MIRROR...]: img-fetch --pick of DIR's
# ubuntu-24.04*-raspi.img.xz, verified by its signed list.
pick() {
	local d=$1 opts=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	[ $# -eq 0 ] || shift
	img-fetch --pick 'ubuntu-24.04*-raspi.img.xz' --sha256sums "$HTTP_URL/files/$d/SHA256SUMS" \
		--sha256sums-sig "$HTTP_URL/files/$d/SHA256SUMS.gpg" --keyring "$KEYRING" "${opts[@]}" \
		"$HTTP_URL/files/$d/" "$@"
}

sum_of() { sha256sum <"$1" | cut -d' ' -f1; }

# The files in the test's directory, but bats' own.
files() { ls -A | grep -v '^separate-stderr-' || true; }

@test "--pick: the one file of the list that matches, recorded in the lock; a newer release changes nothing until --update-lock" {
	local d=p$BATS_TEST_NUMBER old new url
	series "$d" ubuntu-24.04.2-raspi.img.xz ubuntu-22.04.5-raspi.img.xz
	old=$(sum_of "$WWW/$d/ubuntu-24.04.2-raspi.img.xz")
	url=$HTTP_URL/files/$d/ubuntu-24.04.2-raspi.img.xz
	run --separate-stderr pick "$d" --lock sources.lock --print-sha256
	[ "$status" -eq 0 ]
	[ "$output" = "$old  ubuntu-24.04.2-raspi.img.xz" ]
	[[ ${stderr_lines[0]} == "img-fetch: ubuntu-24.04.2-raspi.img.xz: 1.95 KiB in "*", sha256 recorded" ]]
	[ "${stderr_lines[1]}" = "img-fetch: recorded sha256 $old of $url in 'sources.lock'; commit sources.lock" ]
	cmp ubuntu-24.04.2-raspi.img.xz "$WWW/$d/ubuntu-24.04.2-raspi.img.xz"
	[ "$(cat sources.lock)" = "$old  $url" ]
	# The series moves on: its directory lists 24.04.3 only, 24.04.2 is in
	# old/24.04.2/. The lock's entry is built, and the newer one named.
	mkdir -p "$WWW/old/24.04.2"
	mv "$WWW/$d/ubuntu-24.04.2-raspi.img.xz" "$WWW/old/24.04.2/"
	series "$d" ubuntu-24.04.3-raspi.img.xz
	new=$(sum_of "$WWW/$d/ubuntu-24.04.3-raspi.img.xz")
	run --separate-stderr pick "$d" --lock sources.lock --print-sha256
	[ "$status" -eq 0 ]
	[ "$output" = "$old  ubuntu-24.04.2-raspi.img.xz" ]
	[ "${stderr_lines[0]}" = "img-fetch: $HTTP_URL/files/$d/SHA256SUMS now lists 'ubuntu-24.04.3-raspi.img.xz'; 'sources.lock' keeps 'ubuntu-24.04.2-raspi.img.xz' until its entry is updated" ]
	[ "${stderr_lines[1]}" = "img-fetch: ubuntu-24.04.2-raspi.img.xz: up to date (sha256 $old)" ]
	[ "${#stderr_lines[@]}" -eq 2 ]
	# --locked, from an empty cache: the directory has it no more, the
	# mirror (its '*' is what the pattern's matched: .2) has.
	rm ubuntu-24.04.2-raspi.img.xz
	run --separate-stderr pick "$d" --lock sources.lock --locked --retries 0 -- "$HTTP_URL/files/old/24.04*/"
	[ "$status" -eq 0 ]
	[ "${stderr_lines[1]}" = "img-fetch: $url: HTTP error 404" ]
	[[ ${stderr_lines[2]} == "img-fetch: ubuntu-24.04.2-raspi.img.xz: 1.95 KiB in "*", sha256 verified" ]]
	cmp ubuntu-24.04.2-raspi.img.xz "$WWW/old/24.04.2/ubuntu-24.04.2-raspi.img.xz"
	[ "$(cat sources.lock)" = "$old  $url" ]
	# Asked for: the entry is replaced by the newer release.
	run --separate-stderr pick "$d" --lock sources.lock --update-lock --print-sha256
	[ "$status" -eq 0 ]
	[ "$output" = "$new  ubuntu-24.04.3-raspi.img.xz" ]
	[ "$(cat sources.lock)" = "$new  $HTTP_URL/files/$d/ubuntu-24.04.3-raspi.img.xz" ]
	cmp ubuntu-24.04.3-raspi.img.xz "$WWW/$d/ubuntu-24.04.3-raspi.img.xz"
	# Without a lock, the list's file, nothing recorded.
	rm sources.lock ubuntu-24.04.3-raspi.img.xz
	run --separate-stderr pick "$d" -q
	[ "$status" -eq 0 ]
	[ ! -e sources.lock ]
	cmp ubuntu-24.04.3-raspi.img.xz "$WWW/$d/ubuntu-24.04.3-raspi.img.xz"
}

@test "--pick: a pattern that matches no file, or two: one line, nothing fetched or recorded" {
	local d=p$BATS_TEST_NUMBER
	series "$d" ubuntu-22.04.5-raspi.img.xz
	run --separate-stderr pick "$d" --lock sources.lock
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: $HTTP_URL/files/$d/SHA256SUMS lists no file matching 'ubuntu-24.04*-raspi.img.xz'" ]
	series "$d" ubuntu-24.04.2-raspi.img.xz ubuntu-24.04.3-raspi.img.xz
	run --separate-stderr pick "$d" --lock sources.lock
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: $HTTP_URL/files/$d/SHA256SUMS lists 2 files matching 'ubuntu-24.04*-raspi.img.xz' (ubuntu-24.04.2-raspi.img.xz, ubuntu-24.04.3-raspi.img.xz): the pattern must match one" ]
	[ -z "$(files)" ]
	# Two entries of the lock for the pattern: refused too.
	printf '%s  %s\n' "$SUM" "$HTTP_URL/files/$d/ubuntu-24.04.2-raspi.img.xz" "$SUM" "$HTTP_URL/files/$d/ubuntu-24.04.3-raspi.img.xz" >sources.lock
	run --separate-stderr pick "$d" --lock sources.lock
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: 'sources.lock' has 2 entries for 'ubuntu-24.04*-raspi.img.xz' under $HTTP_URL/files/$d/; keep one" ]
	[ "$(files)" = sources.lock ]
}

@test "--pick: a list whose signature does not verify is refused; a locked file is still built, and that is said" {
	local d=p$BATS_TEST_NUMBER sum
	series "$d" ubuntu-24.04.3-raspi.img.xz
	sum=$(sum_of "$WWW/$d/ubuntu-24.04.3-raspi.img.xz")
	echo "$sum  ubuntu-24.04.9-raspi.img.xz" >>"$WWW/$d/SHA256SUMS"
	run --separate-stderr pick "$d" --lock sources.lock
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: $HTTP_URL/files/$d/SHA256SUMS.gpg is not a good signature of $HTTP_URL/files/$d/SHA256SUMS by a key in '$KEYRING'" ]
	[ -z "$(files)" ]
	echo "$sum  $HTTP_URL/files/$d/ubuntu-24.04.3-raspi.img.xz" >sources.lock
	run --separate-stderr pick "$d" --lock sources.lock --locked
	[ "$status" -eq 0 ]
	[ "${stderr_lines[0]}" = "img-fetch: $HTTP_URL/files/$d/SHA256SUMS.gpg is not a good signature of $HTTP_URL/files/$d/SHA256SUMS by a key in '$KEYRING'" ]
	[ "${stderr_lines[1]}" = "img-fetch: could not tell whether $HTTP_URL/files/$d/ lists a newer file than 'ubuntu-24.04.3-raspi.img.xz' (above); building that one" ]
	cmp ubuntu-24.04.3-raspi.img.xz "$WWW/$d/ubuntu-24.04.3-raspi.img.xz"
}

@test "--pick, --locked without an entry: refused before any download; usage errors" {
	local d=p$BATS_TEST_NUMBER
	series "$d" ubuntu-24.04.3-raspi.img.xz
	echo "$SUM  $HTTP_URL/files/payload.img.xz" >sources.lock
	run --separate-stderr pick "$d" --lock sources.lock --locked
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: 'sources.lock' has no entry for 'ubuntu-24.04*-raspi.img.xz' under $HTTP_URL/files/$d/; refused (--locked): build once without LOCKED=1 to record it, and commit the file" ]
	[ "$(files)" = sources.lock ]
	run --separate-stderr img-fetch --pick 'a*' "$HTTP_URL/files/$d/"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-fetch: --pick takes the hash from a --sha256sums list: not with --sha256 or --no-verify" ]
	run --separate-stderr img-fetch --pick 'a*' --sha256 "$SUM" --sha256sums "https://x/SHA256SUMS" "$HTTP_URL/files/$d/"
	[ "$status" -eq 2 ]
	run --separate-stderr img-fetch --pick 'a/*' --sha256sums "https://x/SHA256SUMS" "$HTTP_URL/files/$d/"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-fetch: --pick wants a file name pattern, not 'a/*'" ]
	run --separate-stderr img-fetch --pick 'a*' --sha256sums "https://x/SHA256SUMS" "$HTTP_URL/files/$d"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-fetch: with --pick, '$HTTP_URL/files/$d' must be a directory's URL, ending in '/'" ]
	run --separate-stderr img-fetch --pick 'a*' --sha256sums "https://x/SHA256SUMS" "$HTTP_URL/files/$d/" https://m/a
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-fetch: with --pick, 'https://m/a' must be a directory's URL, ending in '/' (or a mirror's URL with a '*')" ]
	run --separate-stderr img-fetch --update-lock --sha256sums "https://x/SHA256SUMS" --lock l "$HTTP_URL/files/$d/"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-fetch: --update-lock goes with --pick and --lock, not with --locked" ]
	# A mirror's '*' needs a PREFIX*SUFFIX pattern to take its text from.
	run --separate-stderr img-fetch --pick 'ubuntu-24.04?*' --sha256sums "$HTTP_URL/files/$d/SHA256SUMS" \
		--sha256sums-sig "$HTTP_URL/files/$d/SHA256SUMS.gpg" --keyring "$KEYRING" "$HTTP_URL/files/$d/" "$HTTP_URL/files/old/*/"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: '$HTTP_URL/files/old/*/' has a '*' but 'ubuntu-24.04.3-raspi.img.xz' does not make 'ubuntu-24.04?*' one part of a PREFIX*SUFFIX pattern" ]
	[ "$(files)" = sources.lock ]
}
