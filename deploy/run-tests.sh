#!/usr/bin/env bash
# Install the dependencies, build, and run the whole test suite: the single
# command for developers and CI alike (.ci/run execs this).
#
#   ./deploy/run-tests.sh
#
# As root the dependencies are installed directly; otherwise through sudo
# when it is there. SKIP_DEPS=1 skips that step. CTEST_ARGS adds ctest
# arguments (e.g. CTEST_ARGS="-R spawn"). TEST_TIMEOUT bounds each test
# (default 300 s), SUITE_TIMEOUT the whole ctest run (default 2400 s).
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

./deploy/build.sh

build_dir=${BUILD_DIR:-build}
# shellcheck disable=SC2206 # word splitting of CTEST_ARGS is intended
extra=(${CTEST_ARGS:-})
# --no-tests=error: a suite that registered nothing must not pass.
exec timeout --kill-after=30 "${SUITE_TIMEOUT:-2400}" \
	ctest --test-dir "$build_dir" --output-on-failure --no-tests=error \
	--timeout "${TEST_TIMEOUT:-300}" "${extra[@]}"
