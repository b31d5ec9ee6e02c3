#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine, for the docker backend's
# tests and for trying it by hand. As root.
#
#   ./deploy/docker/ensure-engine.sh
#
# If `docker info` already works, nothing happens. Otherwise dockerd (from
# Debian's docker.io, see install-deps.sh) is started in the background,
# detached from this shell, logging to $DOCKERD_LOG (default
# /var/log/runnerd-dockerd.log), and the script waits up to
# $DOCKERD_WAIT seconds (default 60) for `docker info` to answer.
# It never stops an engine; machines without systemd (CI, containers) have no
# other way to get one.
set -euo pipefail

log=${DOCKERD_LOG:-/var/log/runnerd-dockerd.log}
wait_s=${DOCKERD_WAIT:-60}

if docker info >/dev/null 2>&1; then
	exit 0
fi
if ! command -v dockerd >/dev/null; then
	echo "ensure-engine.sh: no dockerd (apt-get install docker.io, or ./deploy/install-deps.sh)" >&2
	exit 1
fi
if [[ ${EUID} -ne 0 ]]; then
	echo "ensure-engine.sh: no engine answers and starting dockerd needs root" >&2
	exit 1
fi

# A pid file left by an engine that died (or by a machine image) would stop
# dockerd from starting.
if [[ -f /var/run/docker.pid ]] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
	rm -f /var/run/docker.pid
fi
if [[ ! -f /var/run/docker.pid ]]; then
	mkdir -p "$(dirname "$log")"
	# setsid + nohup: the engine outlives this script and its session, and
	# does not hold the caller's stdout open (ctest, CI logs).
	setsid nohup dockerd >>"$log" 2>&1 </dev/null &
fi

start=$SECONDS
until docker info >/dev/null 2>&1; do
	if (( SECONDS - start >= wait_s )); then
		echo "ensure-engine.sh: docker info still fails after ${wait_s}s; the end of $log:" >&2
		tail -n 30 "$log" >&2 || true
		exit 1
	fi
	sleep 0.5
done
echo "ensure-engine.sh: engine up ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'), $((SECONDS - start))s)"
