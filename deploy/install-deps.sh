#!/usr/bin/env bash
# Install what runnerd's build and test suite need on Debian 12, as root.
# Idempotent and non-interactive: safe to run again; quiet unless it fails.
#
#   sudo ./deploy/install-deps.sh
#
# RUNNERD_EXTRA_PACKAGES (space-separated) adds packages to the list.
set -euo pipefail

packages=(
	build-essential cmake pkg-config          # toolchain
	libnng-dev libprotobuf-c-dev protobuf-c-compiler  # nng 1.5, protobuf-c 1.4
	libcyaml-dev                              # the profiles config (YAML)
	libssl-dev                                # SHA-256 (libcrypto): file uploads, the config's hash
	protobuf-compiler python3-protobuf        # the Python client (cli/python) and its test
	check                                     # the unit/integration test framework
	python3 procps                            # helpers some tests run inside sandboxes; pgrep
	libjansson-dev libyaml-dev                # JSON output and logs; where a config error is
	firejail firejail-profiles                # the firejail backend and its tests
	docker.io                                 # the docker backend's engine, for its tests
	systemd                                   # systemd-analyze checks deploy/systemd/runnerd.service
	prometheus                                # promtool and a real Prometheus check runnerd's metrics
	clang libclang-rt-14-dev                  # fuzzing: clang, libFuzzer and sanitizer runtimes
)
# Node.js and npm run deploy/k8s/validate (the manifests' schema check).
# Debian's, unless a node with its own npm is there already (NodeSource's
# nodejs bundles npm and conflicts with Debian's npm package).
command -v npm >/dev/null || packages+=(nodejs npm)
# shellcheck disable=SC2206 # word splitting of the extra list is intended
[[ -n "${RUNNERD_EXTRA_PACKAGES:-}" ]] && packages+=(${RUNNERD_EXTRA_PACKAGES})

if [[ ${EUID} -ne 0 ]]; then
	echo "install-deps.sh: must run as root (try: sudo $0)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q -o Dpkg::Use-Pty=0 -o APT::Install-Recommends=false
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

missing() {
	local p
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed || echo "$p"
	done
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# The user firejail and docker profiles run commands as unless they name
# another (runnerd's "safe unless stated" default): a regular uid, because
# firejail refuses system users (uid < UID_MIN) and nobody; no home, no
# login. firejail also wants it in firejail.users when that file exists.
# (Docker profiles default to uid 65534 inside the image instead.)
sandbox_user() {
	local u=runnerd-sandbox users=/etc/firejail/firejail.users
	getent passwd "$u" >/dev/null ||
		useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group \
			--comment "runnerd sandboxed commands" "$u"
	if [[ -f "$users" ]] && ! grep -qx "$u" "$users"; then
		echo "$u" >>"$users"
	fi
}

# Always refresh the index (CI wants current packages); an offline machine
# that already has everything installed may still go on.
if ! apt-get update -q >"$log" 2>&1; then
	if [[ -z "$(missing)" ]]; then
		echo "install-deps.sh: apt-get update failed, but all packages are installed; going on" >&2
		sandbox_user
		exit 0
	fi
	cat "$log" >&2
	echo "install-deps.sh: apt-get update failed" >&2
	exit 1
fi
if ! apt-get install "${apt_opts[@]}" "${packages[@]}" >"$log" 2>&1; then
	cat "$log" >&2
	echo "install-deps.sh: apt-get install failed" >&2
	exit 1
fi

still_missing=$(missing)
if [[ -n "$still_missing" ]]; then
	echo "install-deps.sh: not installed after apt-get: $still_missing" >&2
	exit 1
fi
sandbox_user
echo "install-deps.sh: ${#packages[@]} packages present, user runnerd-sandbox present"
