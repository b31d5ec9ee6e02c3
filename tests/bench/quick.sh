#!/usr/bin/env bash
# Every benchmark once, small (--quick or small sizes): CI checks that they
# still build, run and measure correctly (each checks its own data and exits
# non-zero on a failed call). Nothing is timed or judged here: benchmarks
# are not timed tests. Run by ctest as bench_quick (deploy/run-tests.sh).
#
#   tests/bench/quick.sh BUILD/tests/bench
#
# The docker rows need an engine and the test image: skipped without them,
# unless RUNNERD_REQUIRE_DOCKER=1 (run-tests.sh sets it once both are
# there). The firejail rows need root and firejail, as the tests do.
set -euo pipefail

dir=${1:?usage: quick.sh BENCH_DIR}
image=runnerd-test:latest

run() {
	echo "== $*"
	"$@"
}

run "$dir/bench_run" --quick
run "$dir/bench_stream" --quick
run "$dir/bench_files" --size 8M --repeat 1 --max-seconds 120

backends=exec
if [[ ${EUID} -eq 0 ]] && command -v firejail >/dev/null; then
	run "$dir/bench_firejail" --quick
	backends+=,firejail
else
	echo "== bench_firejail skipped: needs root and firejail"
fi
if docker image inspect "$image" >/dev/null 2>&1; then
	run "$dir/bench_docker" --quick
	backends+=,docker
elif [[ ${RUNNERD_REQUIRE_DOCKER:-0} == 1 ]]; then
	echo "quick.sh: no docker engine or no $image" >&2
	exit 1
else
	echo "== bench_docker skipped: no docker engine or no $image"
fi
run "$dir/bench_pty" --keys 50 --warmup 5 --backends "$backends" --max-seconds 120
