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
# SKIP_DOCKER=1 skips starting dockerd and building the docker test image.
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

# The docker backend's tests need an engine and a locally built image (no
# registry is reachable): start dockerd if none answers, build the image
# (a no-op when it is current), and make test_docker fail rather than skip.
# SKIP_DOCKER=1 skips this (test_docker then skips itself); outside CI a
# machine where it fails (no root) just skips the docker tests.
if [[ "${SKIP_DOCKER:-0}" != 1 ]]; then
	if ./deploy/docker/ensure-engine.sh && ./deploy/docker/build-test-image.sh; then
		export RUNNERD_REQUIRE_DOCKER=1
	elif [[ "${CI:-}" == true ]]; then
		echo "run-tests.sh: no Docker engine or test image in CI" >&2
		exit 1
	else
		echo "run-tests.sh: no Docker engine or test image: the docker backend's tests will be skipped" >&2
	fi
fi

build_dir=${BUILD_DIR:-build}
# shellcheck disable=SC2206 # word splitting of CTEST_ARGS is intended
extra=(${CTEST_ARGS:-})
# --no-tests=error: a suite that registered nothing must not pass.
exec timeout --kill-after=30 "${SUITE_TIMEOUT:-2400}" \
	ctest --test-dir "$build_dir" --output-on-failure --no-tests=error \
	--timeout "${TEST_TIMEOUT:-300}" "${extra[@]}"
