#!/usr/bin/env bats
# tools/lib/size.c, table-driven: sizes are parsed exactly, in integers.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
	common_setup
}

# The library of the tools under test, and a small driver linked with it.
size_parse() {
	local bin=${RTIK_BIN:-$TOP/build/bin}
	[ -f "$bin/../lib/librtik.a" ] || skip "no librtik.a beside $bin"
	if [ ! -x "$T/size-parse" ]; then
		cc -std=gnu11 -D_GNU_SOURCE -I"$TOP/tools/lib" -fsanitize=address,undefined \
			-o "$T/size-parse" "$TOP/tests/unit/size-parse.c" "$bin/../lib/librtik.a"
	fi
	"$T/size-parse" "$@"
}

# SIZE and what it must parse to.
TABLE='
0                       0
512                     512
512B                    512
512b                    512
9007199254740993        9007199254740993
18446744073709551615    18446744073709551615
18446744073709551616    ERANGE
99999999999999999999999999999999 ERANGE
1K                      1024
1k                      1024
1KiB                    1024
64M                     67108864
4G                      4294967296
4GiB                    4294967296
4gib                    4294967296
2T                      2199023255552
16777215T               18446742974197923840
16777216T               ERANGE
1.5G                    1610612736
0.5K                    512
1.25K                   1280
0.0009765625K           1
1.5                     EDOM
1.3                     EDOM
0.1K                    EDOM
+4G                     +4294967296
+0                      +0
+1.5M                   +1572864
4GB                     EINVAL
4MB                     EINVAL
1P                      EINVAL
4Gi                     EINVAL
4G2                     EINVAL
4 G                     EINVAL
 4G                     EINVAL
-1                      EINVAL
0x10                    EINVAL
1e3                     EINVAL
1.                      EINVAL
.5K                     EINVAL
1.5.5G                  EINVAL
++1M                    EINVAL
+-1M                    EINVAL
G                       EINVAL
B                       EINVAL
inf                     EINVAL
'

@test "size_parse: the table" {
	local line size want got failed=0
	local -a sizes=() wants=()
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		want=${line##* }
		size=${line% *}
		size=${size%"${size##*[! ]}"}
		sizes+=("$size")
		wants+=("$want")
	done <<<"$TABLE"
	mapfile -t got < <(size_parse "${sizes[@]}")
	[ "${#got[@]}" -eq "${#sizes[@]}" ]
	for i in "${!sizes[@]}"; do
		if [ "${got[$i]}" != "${wants[$i]}" ]; then
			echo "size '${sizes[$i]}': got ${got[$i]}, want ${wants[$i]}"
			failed=1
		fi
	done
	[ "$failed" -eq 0 ]
}

@test "img-grow: a fraction that is not whole bytes is refused in one line" {
	run --separate-stderr img-grow --size 1.5 "$T/x.img"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-grow: size '1.5' is not a whole number of bytes" ]
	run --separate-stderr img-grow --size 9007199254740993 "$T/x.img"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-grow: size '9007199254740993' is not a whole number of 512-byte sectors" ]
	run --separate-stderr img-grow --size 4GB "$T/x.img"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-grow: invalid size '4GB': want a number with an optional K, M, G or T suffix, or +SIZE" ]
}
