#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# shellcheck disable=SC2317 # functions that run through part()
# Install the dependencies, build, and run the whole test suite: the single
# command for developers and CI alike (.ci/run execs this).
#
#   ./deploy/run-tests.sh
#
# As root the dependencies are installed directly; otherwise through sudo
# when it is there. SKIP_DEPS=1 skips that step. CTEST_ARGS adds ctest
# arguments (e.g. CTEST_ARGS="-R spawn"). TEST_TIMEOUT bounds each test
# (default 300 s), SUITE_TIMEOUT the whole ctest run (default 1500 s).
# A failed test runs once more (TEST_ATTEMPTS, default 2; 1: never): it
# fails the run only if it fails again, and either way the end of the
# output names it.
# SKIP_DOCKER=1 skips starting dockerd and building the docker test image.
#
# After the suite, the same tests on sanitizer builds (tests/sanitizers/):
# the whole suite with AddressSanitizer, UndefinedBehaviorSanitizer and
# LeakSanitizer (BUILD_DIR-asan), then the integration tests with
# ThreadSanitizer (BUILD_DIR-tsan); a finding in any process fails the run.
# Before them, every libFuzzer target for FUZZ_SECONDS (60; 0 skips).
# SANITIZERS=0 skips the sanitizer suites; ASAN_SUITE_TIMEOUT and TSAN_SUITE_TIMEOUT bound
# those ctest runs (1200 s and 1800 s: with the builds, every part at its
# bound stays inside CI's 90 minutes). Every part runs even when one before
# failed (but for a failed build), and the run ends with the wall time of
# each.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ "${SKIP_DEPS:-0}" != 1 ]]; then
	if [[ ${EUID} -eq 0 ]]; then
		./deploy/install-deps.sh
	elif command -v sudo >/dev/null; then
		sudo ./deploy/install-deps.sh
	else
		echo "run-tests.sh: not root and no sudo: skipping the dependency install" >&2
	fi
fi

build_dir=${BUILD_DIR:-build}
status=0
times=()
# What failed, in a few lines per part, printed again at the very end: a
# CI log is often read from its tail.
failures=$(mktemp)
trap 'rm -f "$failures"' EXIT

# part NAME COMMAND...: run it, note its wall time and outcome.
part() {
	local name=$1 start=$SECONDS rc=0
	shift
	echo "=== run-tests.sh: $name"
	"$@" || rc=$?
	times+=("$(printf '%6d s  %-46s %s' $((SECONDS - start)) "$name" \
		"$([[ $rc == 0 ]] && echo ok || echo "FAILED (exit $rc)")")")
	[[ $rc == 0 ]] || status=1
	return $rc
}

finish() {
	if [[ -s $failures ]]; then
		echo "=== run-tests.sh: what failed"
		head -n 80 "$failures"
	fi
	echo "=== run-tests.sh: wall time per part"
	printf '%s\n' "${times[@]}"
	exit "$status"
}

part "build ($build_dir)" ./deploy/build.sh || finish

# The docker backend's tests need an engine and a locally built image (no
# registry is reachable): start dockerd if none answers, build the image
# (a no-op when it is current), and make test_docker fail rather than skip.
# SKIP_DOCKER=1 skips this (test_docker then skips itself); outside CI a
# machine where it fails (no root) just skips the docker tests.
docker_ready() {
	if ./deploy/docker/ensure-engine.sh && ./deploy/docker/build-test-image.sh; then
		export RUNNERD_REQUIRE_DOCKER=1
	elif [[ "${CI:-}" == true ]]; then
		echo "run-tests.sh: no Docker engine or test image in CI" >&2
		return 1
	else
		echo "run-tests.sh: no Docker engine or test image: the docker backend's tests will be skipped" >&2
	fi
}
if [[ "${SKIP_DOCKER:-0}" != 1 ]]; then
	part "docker engine and test image" docker_ready || finish
fi

# shellcheck disable=SC2206 # word splitting of CTEST_ARGS is intended
extra=(${CTEST_ARGS:-})
# suite BUILD_DIR TIMEOUT [CTEST ARGS...]
# --no-tests=error: a suite that registered nothing must not pass.
suite() {
	local dir=$1 limit=$2 rc=0 log=$1/ctest.log t
	local failed=$dir/Testing/Temporary/LastTestsFailed.log
	shift 2
	rm -f "$failed"
	timeout --kill-after=30 "$limit" \
		ctest --test-dir "$dir" --output-on-failure --no-tests=error \
		--repeat until-pass:"${TEST_ATTEMPTS:-2}" \
		--timeout "${TEST_TIMEOUT:-300}" "${extra[@]}" "$@" 2>&1 | tee "$log" || rc=$?
	if [[ $rc != 0 ]]; then
		{
			echo "$dir: ctest exit status $rc$([[ $rc == 124 ]] && echo " (the suite's bound, $limit s, ran out)")"
			[[ -f $failed ]] && sed 's/^/    failed: /' "$failed"
		} >>"$failures"
	fi
	# A test that failed and then did not is still named: the retry keeps a
	# machine's bad moment from failing the run, not a flaky test from
	# being seen (its failed attempt's output is in the log above). ctest
	# lists in $failed ("N:name") only the tests whose last attempt failed.
	for t in $(sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) \.*\*\*\*(Failed|Timeout|Exception).*/\1/p' "$log" | sort -u); do
		grep -qsx "[0-9]*:$t" "$failed" ||
			echo "$dir: $t failed once, not on its second attempt" >>"$failures"
	done
	return "$rc"
}

# sanitized_suite BUILD_DIR TIMEOUT [CTEST ARGS...]: the suite with the
# sanitizers' run-time options; any report a process left fails it, and is
# printed.
sanitized_suite() {
	local dir=$1 limit=$2 reports=$1/sanitizer-reports rc=0
	shift 2
	rm -rf "$reports"
	(
		. tests/sanitizers/env.sh "$reports"
		suite "$dir" "$limit" "$@"
	) || rc=$?
	if compgen -G "$reports/*" >/dev/null; then
		local findings=0
		for f in "$reports"/*; do
			echo "--- sanitizer report $f" >&2
			cat "$f" >&2
			# LeakSanitizer's tracer prints only "Unable to get registers"
			# when the process it checks is SIGKILLed during its exit-time
			# check (the soak test kills clients): no check, no finding.
			if grep -qvE '^==[0-9]+==Unable to get registers from thread [0-9]+\.$|^$' "$f"; then
				findings=$((findings + 1))
				{
					echo "$f:"
					grep -m 3 -E 'ERROR|SUMMARY|WARNING: ThreadSanitizer|runtime error' "$f" | sed 's/^/    /'
				} >>"$failures"
			fi
		done
		echo "run-tests.sh: $findings sanitizer finding(s) in $reports" >&2
		[[ $rc != 0 || $findings == 0 ]] || rc=1
	fi
	return "$rc"
}

part "suite" suite "$build_dir" "${SUITE_TIMEOUT:-1500}" || true

# Every libFuzzer target for FUZZ_SECONDS (default 60) from its committed
# corpus, with its own clang build: a crash, a sanitizer report or a failed
# oracle fails the run (tests/fuzz/run-fuzz.sh). FUZZ_SECONDS=0 skips it.
if [[ "${FUZZ_SECONDS:-60}" != 0 ]]; then
	fuzz_dir="$(realpath -m "$build_dir")-fuzz"
	rm -f "$fuzz_dir/summary.txt"
	part "fuzz (${FUZZ_SECONDS:-60} s per target)" \
		env FUZZ_BUILD_DIR="$fuzz_dir" tests/fuzz/run-fuzz.sh "${FUZZ_SECONDS:-60}" ||
		{
			echo "fuzz:"
			if [[ -f $fuzz_dir/summary.txt ]]; then
				sed -n '/^fuzz_[a-z_]* *ok /!s/^/    /p' "$fuzz_dir/summary.txt"
			else
				echo "    no summary (see the fuzz part above; build log: $fuzz_dir/build.log)"
			fi
		} >>"$failures"
fi

if [[ "${SANITIZERS:-1}" != 0 ]]; then
	# test_k8s_manifests checks YAML against a schema with node: none of
	# runnerd's code runs, so the sanitizer builds do not repeat it; nor
	# bench_quick: its runnerds run what the suite ran, and the benchmarks'
	# own figures mean nothing instrumented.
	echo "run-tests.sh: the sanitizer suites leave out test_k8s_manifests (it runs no runnerd code) and bench_quick"
	if part "build ($build_dir-asan: address,undefined)" \
		env BUILD_DIR="$build_dir-asan" ./deploy/build.sh -DRUNNERD_SANITIZE=address,undefined; then
		part "suite under ASan+UBSan+LSan" sanitized_suite "$build_dir-asan" "${ASAN_SUITE_TIMEOUT:-1200}" \
			-E '^(test_k8s_manifests|bench_quick)$' || true
	fi
	if part "build ($build_dir-tsan: thread)" \
		env BUILD_DIR="$build_dir-tsan" ./deploy/build.sh -DRUNNERD_SANITIZE=thread; then
		# The soak test runs in the plain suite and under ASan, not here:
		# ten times slower under TSan, its restart-heavy load does not fit
		# the budget, and its clients hit nng 1.5.2's nng_close hang while
		# runnerd restarts (a client thread stuck in nng_close for good).
		echo "run-tests.sh: the TSan run leaves out the soak test too (see run-tests.sh)"
		part "integration tests under TSan" sanitized_suite "$build_dir-tsan" "${TSAN_SUITE_TIMEOUT:-1800}" \
			-L integration -E '^(test_k8s_manifests|bench_quick|soak)$' || true
	fi
fi
finish
