# shellcheck shell=bash
# rt-check's latency report (rt-check --report DIR), checked whatever the
# numbers: `load report_helper`, then
#
#   report_valid DIR [EMULATED]   latency.svg well-formed (xmllint), a bar (of
#                                 some height) per bucket of latency.json's
#                                 histograms with its count, each CPU's
#                                 maximum marked where the
#                                 JSON says; the samples add up; report.html
#                                 holds the SVG, the title and the published
#                                 figures; EMULATED (true/false): the title
#                                 says whether the numbers are an emulator's
#   fake_latency_tools DIR        stand-ins of cyclictest and stress-ng in DIR
#   report_drawn DIR PNG          report.html as Chromium draws it: the
#                                 pixels of the bars and of the maximum

report_valid() {
	xmllint --noout "$1/latency.svg"
	xmllint --html --noout "$1/report.html"
	python3 - "$1" "${2:-}" <<'PY'
import json, os, sys
import xml.etree.ElementTree as ET
d, emulated = sys.argv[1], sys.argv[2]
j = json.load(open(os.path.join(d, "latency.json")))
assert j["cpus"], j
for c in j["cpus"]:
    h = dict(c["histogram"])
    assert sum(h.values()) + c["overflows"] == c["samples"], c["cpu"]
    if not c["overflows"] and h:
        assert max(h) == c["max_us"], (c["cpu"], max(h), c["max_us"])
assert j["max_us"] == max(c["max_us"] for c in j["cpus"])
if emulated:
    assert j["emulated"] is (emulated == "true") and (("emulator's" in j["title"]) == (emulated == "true")), j["title"]
ns = {"s": "http://www.w3.org/2000/svg"}
svg = ET.parse(os.path.join(d, "latency.svg")).getroot()
got = {}
for g in svg.findall("s:g", ns):
    cpu = int(g.get("data-cpu"))
    got[cpu] = {int(r.get("data-us")): int(r.get("data-count")) for r in g.findall("s:rect[@class='bar']", ns)}
    assert all(float(r.get("height")) > 0 for r in g.findall("s:rect[@class='bar']", ns))
    assert int(g.find("s:line[@class='max']", ns).get("data-us")) == j["cpus"][cpu]["max_us"]
assert got == {c["cpu"]: dict(c["histogram"]) for c in j["cpus"]}, "the SVG's bars are not the JSON's histogram"
html = open(os.path.join(d, "report.html")).read()
assert "<svg" in html and "ros-realtime" in html and "this run" in html
PY
}

fake_latency_tools() {
	# cyclictest as the real one runs with -h and --histfile: its live
	# lines (one per thread) on stdout, the histogram (a line per
	# microsecond, a column per CPU) and its summary in the file. With
	# CYC_SLEEP it runs that long, or until SIGTERM, as the real one does.
	cat >"$1/cyclictest" <<-'EOF'
		#!/bin/bash
		echo "$*" >"${0%/*}/args"
		for a; do case $a in --histfile=*) h=${a#*=} ;; esac; done
		done=
		trap 'done=1' TERM
		echo "# /dev/cpu_dma_latency set to 0us"
		echo "T: 0 ( 1234) P:80 I:200 C:   1000 Min:      3 Act:    5 Avg:    4 Max:      21"
		echo "T: 1 ( 1235) P:80 I:200 C:   1000 Min:      4 Act:    5 Avg:    6 Max:      35"
		for ((i = 0; i < ${CYC_SLEEP:-0} * 10 && !done; i++)); do sleep 0.1; done
		{
			echo "# Histogram"
			for us in $(seq 0 40); do
				case $us in 3) a=500 b=0 ;; 4) a=400 b=300 ;; 5) a=99 b=600 ;; 6) a=0 b=99 ;; 21) a=1 b=0 ;; 35) a=0 b=1 ;; *) a=0 b=0 ;; esac
				printf '%06d %06d\t%06d\n' "$us" "$a" "$b"
			done
			echo "# Total: 000001000 000001000"
			echo "# Min Latencies: 00003 00004"
			echo "# Avg Latencies: 00004 00006"
			echo "# Max Latencies: ${CYC_MAX:-00021 00035}"
			echo "# Histogram Overflows: ${CYC_OVERFLOWS:-00000 00000}"
			echo "# Histogram Overflow at cycle number:"
		} >"$h"
	EOF
	chmod +x "$1/cyclictest"
	# stress-ng: notes its arguments and its PID, then works until killed.
	cat >"$1/stress-ng" <<-'EOF'
		#!/bin/sh
		echo "$*" >"${0%/*}/stress-args"
		echo $$ >"${0%/*}/stress-pid"
		exec sleep 300
	EOF
	chmod +x "$1/stress-ng"
}

# report_drawn DIR PNG: report.html rendered by headless Chromium into PNG;
# prints the number of pixels of the bars' blue (#3572b0) and of the
# maximum's red (#c00), read with a PNG decoder of a few lines (zlib).
report_drawn() {
	timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,1500 \
		--screenshot="$2" "file://$1/report.html" >/dev/null 2>&1
	python3 - "$2" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, b""
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
assert depth == 8 and ctype in (2, 6), (depth, ctype)
bpp = 3 if ctype == 2 else 4
raw, stride, prev, blue, red = zlib.decompress(idat), w * bpp, bytearray(w * bpp), 0, 0
for y in range(h):
    f, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = row[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: row[i] = (row[i] + a) & 255
        elif f == 2: row[i] = (row[i] + b) & 255
        elif f == 3: row[i] = (row[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        px = tuple(row[x:x + 3])
        blue += px == (0x35, 0x72, 0xb0)
        red += px == (0xcc, 0x00, 0x00)
    prev = row
print(blue, red)
PY
}
