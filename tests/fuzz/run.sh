#!/bin/sh
# tests/fuzz/run.sh: runs corad's libFuzzer harnesses, each on a scratch copy
# of its seed corpus for a fixed time, and says how it went.
#
#   run.sh [-s SECONDS] [-o OUTDIR] BINDIR FUZZDIR [HARNESS...]
#
# BINDIR holds the harness binaries (fuzz-build/tests/fuzz after `make fuzz`),
# FUZZDIR is the source tests/fuzz (seed corpora in corpus/<harness>/, the
# dictionary json.dict). Without HARNESS names every harness of BINDIR that
# has a seed corpus runs. `make fuzz-run FUZZ_SECONDS=30` calls this.
#
# For each harness, one at a time, under `nice -n $FUZZ_NICE` (10):
#  - the seeds, and the inputs that once failed (FUZZDIR/crashes/<harness>/),
#    are copied into OUTDIR/corpus/<harness>/ (default OUTDIR: fuzz-out),
#    which libFuzzer grows; the source tree is never written to.
#    The scratch corpus is kept between runs, so later runs start from what
#    earlier ones found; remove OUTDIR to start from the seeds alone;
#  - libFuzzer runs for SECONDS (30) with the harness's -max_len, a -timeout
#    of $FUZZ_TIMEOUT (10) seconds per input, -rss_limit_mb=2048 and, for
#    the JSON harnesses, -dict=FUZZDIR/json.dict; its output goes to
#    OUTDIR/<harness>.log, crashing inputs to OUTDIR/artifacts/<harness>/;
#  - one line is printed: the number of executions (libFuzzer's final "Done
#    N runs in S second(s)"), the corpus size and coverage, and "ok" or
#    "FAILED". A failure (a crash, a broken invariant, a leak, a timeout,
#    running out of memory, any sanitizer report) also prints the report
#    from the log and the reproducer's path. Replay one with
#      BINDIR/<harness> OUTDIR/artifacts/<harness>/crash-...
#
# Exit status: 0 when every harness ran clean, 1 otherwise (2: bad usage).
set -u

usage() {
	echo "usage: $0 [-s SECONDS] [-o OUTDIR] BINDIR FUZZDIR [HARNESS...]" >&2
	exit 2
}

SECONDS_EACH=30
OUT=fuzz-out
while getopts s:o: opt; do
	case $opt in
	s) SECONDS_EACH=$OPTARG ;;
	o) OUT=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || usage
BINDIR=$1
FUZZDIR=$2
shift 2
case $SECONDS_EACH in
'' | *[!0-9]*) echo "$0: SECONDS must be a whole number, not '$SECONDS_EACH'" >&2; exit 2 ;;
esac
NICE=${FUZZ_NICE:-10}
TIMEOUT=${FUZZ_TIMEOUT:-10}

# -max_len suited to each input, and which harnesses take JSON.
max_len() {
	case $1 in
	fuzz_uuid) echo 64 ;;
	fuzz_cursor) echo 256 ;;
	fuzz_route) echo 512 ;;
	fuzz_trace) echo 600 ;;
	fuzz_utf8) echo 1024 ;;
	fuzz_idempotency) echo 2048 ;;
	*) echo 4096 ;;	# fuzz_register, fuzz_caution, fuzz_request, fuzz_mcp, fuzz_fcgi_head
	esac
}
uses_dict() {
	case $1 in
	fuzz_register | fuzz_caution | fuzz_idempotency | fuzz_request | fuzz_mcp) return 0 ;;
	*) return 1 ;;
	esac
}

if [ $# -eq 0 ]; then
	for c in "$FUZZDIR"/corpus/fuzz_*; do
		h=${c##*/}
		[ -x "$BINDIR/$h" ] && set -- "$@" "$h"
	done
	[ $# -gt 0 ] || { echo "$0: no harness binaries in $BINDIR" >&2; exit 1; }
fi

# The sanitizers' reports with stacks; a leak or UB ends the run.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS

mkdir -p "$OUT" || exit 1
failed=0
total=0
count=0
for h in "$@"; do
	count=$((count + 1))
	bin=$BINDIR/$h
	seeds=$FUZZDIR/corpus/$h
	corpus=$OUT/corpus/$h
	art=$OUT/artifacts/$h
	log=$OUT/$h.log
	if [ ! -x "$bin" ]; then
		echo "$h: FAILED: no binary $bin (run make fuzz)"
		failed=$((failed + 1))
		continue
	fi
	rm -rf "$art"
	mkdir -p "$corpus" "$art" || exit 1
	[ -d "$seeds" ] && cp -p "$seeds"/* "$corpus"/ 2>/dev/null
	# Inputs that once failed (FUZZDIR/crashes/<harness>/) are replayed too.
	[ -d "$FUZZDIR/crashes/$h" ] && cp -p "$FUZZDIR/crashes/$h"/* "$corpus"/ 2>/dev/null
	# (the loop's list was expanded once: set -- reuses "$@" for the options)
	set -- -max_total_time="$SECONDS_EACH" -max_len="$(max_len "$h")" \
		-timeout="$TIMEOUT" -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art/"
	uses_dict "$h" && [ -f "$FUZZDIR/json.dict" ] && set -- "$@" -dict="$FUZZDIR/json.dict"
	rc=0
	nice -n "$NICE" "$bin" "$@" "$corpus" >"$log" 2>&1 || rc=$?

	# "Done 123456 runs in 30 second(s)", else the final stats or status line.
	runs=$(sed -n 's/^Done \([0-9][0-9]*\) runs in .*/\1/p' "$log" | tail -n 1)
	secs=$(sed -n 's/^Done [0-9]* runs in \([0-9][0-9]*\) second.*/\1/p' "$log" | tail -n 1)
	[ -n "$runs" ] || runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
	[ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9][0-9]*\)[[:space:]].*/\1/p' "$log" | tail -n 1)
	[ -n "$runs" ] || runs=0
	stats=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1 |
		sed -n 's/.*cov: \([0-9]*\).*corp: \([0-9]*\)\/.*/corpus \2 inputs, cov \1/p')
	total=$((total + runs))

	bad=
	[ "$rc" -eq 0 ] || bad="exit status $rc"
	if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|invariant violated' "$log"; then
		bad=${bad:-"sanitizer report"}
	fi
	if [ -z "$bad" ]; then
		echo "$h: $runs runs in ${secs:-$SECONDS_EACH} s${stats:+ ($stats)}: ok"
		continue
	fi
	failed=$((failed + 1))
	echo "$h: $runs runs${stats:+ ($stats)}: FAILED ($bad); log $log"
	# The report: from the first error line to the end, at most 80 lines.
	awk '/invariant violated|==[0-9]+==ERROR|runtime error:|ERROR: libFuzzer|^SUMMARY/ { p = 1 }
		/^Shadow bytes around/ { skip = 1 } /==[0-9]+==ABORTING/ { skip = 0 }
		p && !skip' "$log" | head -n 80 | sed 's/^/    /'
	for f in "$art"/*; do
		[ -f "$f" ] && echo "    reproducer: $f ($(wc -c <"$f") bytes)"
	done
done
echo "fuzz: $count harness(es), $total runs in all, $failed failed"
[ "$failed" -eq 0 ]
