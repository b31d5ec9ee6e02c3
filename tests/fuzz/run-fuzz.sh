#!/usr/bin/env bash
# Build runnerd's libFuzzer targets (tests/fuzz/fuzz_targets.h) with clang
# in a build directory of their own and run each for SECONDS (default 60),
# one after the other, from a copy of its committed seed corpus.
#
#   tests/fuzz/run-fuzz.sh [SECONDS] [TARGET...]     # TARGET: request, config, ...
#
# Prints one summary line per target (executions, executions per second,
# coverage: edges "cov" and features "ft", corpus size) and exits 1 if any
# target found anything: a crash, a sanitizer report, a leak, a timeout
# (10 s per input), running out of memory, or a failed oracle. Undefined
# behaviour inside protobuf-c itself does not stop a run; it is listed
# after the summary (see fuzz-build.cmake). The input is
# kept under $FUZZ_BUILD_DIR/findings/<target>/ and the fuzzer's output in
# $FUZZ_BUILD_DIR/runs/<target>/fuzz.log; reproduce with
#   $FUZZ_BUILD_DIR/tests/fuzz/fuzz_<target> <input>
# The summary lines are also kept in $FUZZ_BUILD_DIR/summary.txt.
# Once fixed, add the input to tests/fuzz/corpus/fuzz_<target>/ (the
# unit suite replays every corpus file). Exits 2 if the build fails.
#
# Needs clang and libclang-rt-14-dev (deploy/install-deps.sh installs them)
# and, the first time, http://deb.debian.org for protobuf-c's source
# (tests/fuzz/fuzz-build.cmake; RUNNERD_PROTOBUF_C_TARBALL=FILE instead).
# FUZZ_BUILD_DIR: the build directory (default: build-fuzz in the checkout).
# FUZZ_JOBS: parallel build jobs (default: the number of CPUs).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
all_targets=(request stream_message config shim_env pool_header)
secs=${1:-60}
[[ $# -gt 0 ]] && shift
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all_targets[@]}")
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${FUZZ_JOBS:-$(nproc)}

if ! [[ $secs =~ ^[0-9]+$ ]] || [[ $secs -eq 0 ]]; then
	echo "usage: $0 [SECONDS] [TARGET...]   (targets: ${all_targets[*]})" >&2
	exit 64
fi
for t in "${targets[@]}"; do
	if [[ ! -d $root/tests/fuzz/corpus/fuzz_$t ]]; then
		echo "run-fuzz.sh: no target \"$t\" (targets: ${all_targets[*]})" >&2
		exit 64
	fi
done
if ! command -v clang >/dev/null; then
	echo "run-fuzz.sh: clang not found (apt-get install clang libclang-rt-14-dev, or deploy/install-deps.sh)" >&2
	exit 2
fi

mkdir -p "$build"
log=$build/build.log
if ! { cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DRUNNERD_FUZZ=ON \
		${RUNNERD_PROTOBUF_C_TARBALL:+-DRUNNERD_PROTOBUF_C_TARBALL="$RUNNERD_PROTOBUF_C_TARBALL"} &&
	cmake --build "$build" --target fuzz -j "$jobs"; } >"$log" 2>&1; then
	tail -n 40 "$log" >&2
	echo "run-fuzz.sh: the fuzz build failed (whole log: $log)" >&2
	exit 2
fi

# libFuzzer's last status line: "#N DONE cov: C ft: F corp: U/Sb ..." and
# its final stats ("stat::number_of_executed_units: N" ...).
field() { # field NAME LOGFILE: the last value printed after "NAME: "
	{ grep -o "$1: *[0-9]*" "$2" || true; } | tail -n 1 | awk '{print $2}'
}

failed=0
summary=$build/summary.txt
: >"$build/protobuf-c-ub.txt"
: >"$summary"
for t in "${targets[@]}"; do
	run=$build/runs/$t
	findings=$build/findings/$t
	rm -rf "$run" "$findings"
	mkdir -p "$run/corpus" "$findings"
	cp "$root/tests/fuzz/corpus/fuzz_$t/"* "$run/corpus/"
	args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$findings/")
	[[ -f $root/tests/fuzz/fuzz_$t.dict ]] && args+=(-dict="$root/tests/fuzz/fuzz_$t.dict")
	rc=0
	(cd "$run" && UBSAN_OPTIONS=print_stacktrace=1 \
		"$build/tests/fuzz/fuzz_$t" "${args[@]}" corpus) >"$run/fuzz.log" 2>&1 || rc=$?

	execs=$(field stat::number_of_executed_units "$run/fuzz.log")
	rate=$(field stat::average_exec_per_sec "$run/fuzz.log")
	cov=$(field cov "$run/fuzz.log")
	ft=$(field ft "$run/fuzz.log")
	files=$(find "$run/corpus" -type f | wc -l)
	bytes=$(find "$run/corpus" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
	found=$(find "$findings" -type f | wc -l)
	# Undefined behaviour inside protobuf-c is recoverable (fuzz-build.cmake):
	# collected, reported after the summary, not a runnerd finding.
	{ grep -o '_deps/protobuf-c-[^ ]*/protobuf-c\.c:[0-9]*:[0-9]*: runtime error: .*' "$run/fuzz.log" || true; } |
		sed 's#^_deps/##' >>"$build/protobuf-c-ub.txt"
	verdict=ok
	if [[ $rc -ne 0 || $found -gt 0 ]]; then
		verdict=FINDING
		failed=1
	fi
	{
		printf 'fuzz_%-15s %-7s execs=%s exec/s=%s cov=%s ft=%s corpus=%s files/%s bytes findings=%s\n' \
			"$t" "$verdict" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$files" "$bytes" "$found"
		if [[ $verdict != ok ]]; then
			# Every stage reads its input to the end and none fails on
			# "nothing matched": under pipefail and set -e, either would
			# end the script before the other targets.
			{ grep -E "ERROR|runtime error|oracle failed|^  [^ ]|SUMMARY|Test unit written|^==[0-9]+==|^INFO: .*(crash|timeout|leak|oom)" \
				"$run/fuzz.log" || true; } | { grep -v '_deps/protobuf-c' || true; } | sed -n '1,20s/^/    /p'
			[[ $rc -ne 0 ]] || echo "    the fuzzer exited 0 but left inputs: $(ls "$findings" | tr '\n' ' ')"
			echo "    exit status $rc; log: $run/fuzz.log; inputs: $findings/"
		fi
	} | tee -a "$summary"
done
if [[ -s $build/protobuf-c-ub.txt ]]; then
	echo "undefined behaviour inside protobuf-c (Debian's 1.4.1 source; its bugs, not runnerd findings):"
	# Once per source location (the values in the message vary).
	awk -F': runtime error: ' '!seen[$1]++' "$build/protobuf-c-ub.txt" | sort | sed 's/^/  /'
fi
exit "$failed"
