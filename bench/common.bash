# Shared by the benchmarks: where things are, and a best-of-N timer.
# shellcheck shell=bash
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-$TOP/build/bench}
RUNS=${RUNS:-3}
PATH=$TOP/build/bin:$PATH
mkdir -p "$BENCH_DIR"

# best_of CMD...: runs the shell command RUNS times, prints the best wall time
# in seconds. A `prepare` function, if defined, runs untimed before each run.
best_of() {
	local best="" i s e t
	for ((i = 0; i < RUNS; i++)); do
		if declare -F prepare >/dev/null; then prepare; fi
		sync
		s=$(date +%s.%N)
		bash -c "$1" >/dev/null 2>>"$BENCH_DIR/bench.log"
		e=$(date +%s.%N)
		t=$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }')
		if [ -z "$best" ] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then best=$t; fi
	done
	echo "$best"
}

# ratio A B [DIGITS]: A / B
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { printf "%.*f", d, a / b }'; }
