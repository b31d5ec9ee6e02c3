#!/usr/bin/env bash
# Configure and build runnerd with CMake into build/ (from any directory).
#
#   ./deploy/build.sh                 # RelWithDebInfo, install prefix /usr/local
#   BUILD_TYPE=Debug ./deploy/build.sh
#   ./deploy/build.sh -DFOO=ON        # extra arguments go to the configure step
#
# Environment: BUILD_DIR (default build), BUILD_TYPE (RelWithDebInfo),
# PREFIX (/usr/local, for a later `cmake --install build`), JOBS (nproc).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}

cmake -S . -B "$build_dir" \
	-DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
	-DCMAKE_INSTALL_PREFIX="${PREFIX:-/usr/local}" \
	"$@"
cmake --build "$build_dir" -j"$jobs"
