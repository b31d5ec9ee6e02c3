#!/usr/bin/env bash
# The offline-built runtime image (deploy/docker/build-image-offline.sh),
# run the way the Kubernetes manifests run it.
#
# As deploy/k8s/runnerd-sidecar.yaml does:
#   - runnerd in one container, its ipc socket on a shared volume (a named
#     volume standing in for the pod's emptyDir), as uid 10001 with a
#     read-only root, all capabilities dropped and no privilege escalation;
#   - the manifest's startup probe command, run in that container as the
#     kubelet runs exec probes, succeeds;
#   - a second container of the same image (the app) calls it through the
#     socket with runnerctl: the command runs in runnerd's container, its
#     output and exit code come back;
#   - the host calls it through the same socket with the built runnerctl;
#   - `docker stop` drains it: exit 0, socket removed.
# As deploy/k8s/runnerd-fleet.yaml does: runnerd with the Deployment's args
# ($(POD_IP) being the container's address; the container has no network
# but loopback, so POD_IP is 127.0.0.1), its probe passing, and a caller
# in its network namespace running a command over tcp and streaming a
# session through the derived stream port.
# Every container and the volume are removed on every path.
#
#   test_image_k8s.sh SOURCE_DIR BUILD_DIR
#
# Exits 77 (skipped) when no Docker engine answers, unless
# RUNNERD_REQUIRE_DOCKER=1 (deploy/run-tests.sh sets it).
set -euo pipefail

src=$1 build=$2
manifest=$src/deploy/k8s/runnerd-sidecar.yaml
fleet=$src/deploy/k8s/runnerd-fleet.yaml
tag=runnerd-k8s-test:latest
name=runnerd-k8s-test-$$

if ! docker info >/dev/null 2>&1; then
	if [[ "${RUNNERD_REQUIRE_DOCKER:-0}" == 1 ]]; then
		echo "FAIL: no Docker engine answers and RUNNERD_REQUIRE_DOCKER=1" >&2
		exit 1
	fi
	echo "SKIP: no Docker engine answers"
	exit 77
fi

# The image ships runnerd as released; a sanitizer build's binaries need
# their sanitizer runtime, which the image does not carry.
# (Read whole, not piped into grep -q: under pipefail, grep leaving at the
# first match can SIGPIPE the writer and turn a match into a failure.)
if [[ $(ldd "$build/service/runnerd") =~ lib(a|t|ub)san ]]; then
	echo "SKIP: $build/service/runnerd is a sanitizer build; the image is tested with the release build"
	exit 77
fi

fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
	docker rm -f "$name" "$name-app" "$name-fleet" >/dev/null 2>&1 || true
	docker volume rm -f "$name" >/dev/null 2>&1 || true
}
trap cleanup EXIT

BUILD_DIR=$build "$src/deploy/docker/build-image-offline.sh" "$tag"

# The startup probe's exec command, from the manifest: the first
# `command: [...]` after `startupProbe:`.
probe_line=$(sed -n '/startupProbe:/,/command:/{s/^ *command: *\[\(.*\)\] *$/\1/p}' "$manifest" | head -n 1)
[[ -n "$probe_line" ]] || fail "no startupProbe exec command in $manifest"
IFS=',' read -r -a probe <<<"${probe_line//\"/}"
probe=("${probe[@]# }")
echo "probe from the manifest: ${probe[*]}"
grep -q "command: \[$probe_line\]" "$fleet" || fail "$fleet probes with something else than ${probe[*]}"

# What the pod's securityContext and volumes give the runnerd container.
confined=(--user 10001:10001 --read-only --cap-drop=ALL --security-opt=no-new-privileges)
docker volume create "$name" >/dev/null
docker run -d --name "$name" "${confined[@]}" \
	--tmpfs /tmp --tmpfs /home/runnerd:uid=10001,gid=10001,mode=0700 \
	-v "$name:/run/runnerd" "$tag" >/dev/null

# The startup probe in container $1: every second, 30 tries.
startup_probe() {
	local out
	for _ in $(seq 30); do
		if out=$(docker exec "$1" "${probe[@]}" 2>&1); then
			echo "ok: startup probe in $1: $(tr '\n' ' ' <<<"$out")"
			return 0
		fi
		sleep 1
	done
	docker logs "$1" >&2 || true
	fail "the startup probe '${probe[*]}' never succeeded in $1: $out"
}
startup_probe "$name"

# The app container: same image, only the shared volume, calling through
# the socket. The command runs in runnerd's container (its hostname), as
# runnerd's user; the exit code comes back as runnerctl's.
rd_host=$(docker inspect --format '{{.Config.Hostname}}' "$name")
out=$(docker run --rm --name "$name-app" "${confined[@]}" -v "$name:/run/runnerd" \
	-e RUNNERD_ADDR=ipc:///run/runnerd/runnerd.sock --entrypoint runnerctl "$tag" \
	run -- sh -c 'echo "ran in $(hostname) as $(id -u)"')
[[ "$out" == "ran in $rd_host as 10001" ]] || fail "app call printed '$out', want 'ran in $rd_host as 10001'"
echo "ok: app container -> runnerd: $out"
rc=0
docker run --rm --name "$name-app" "${confined[@]}" -v "$name:/run/runnerd" \
	--entrypoint runnerctl "$tag" sh 'exit 3' || rc=$?
[[ $rc -eq 3 ]] || fail "runnerctl sh 'exit 3' from the app container exited $rc"
echo "ok: the command's exit code reaches the app (3)"

# The host, through the same volume.
sock=$(docker volume inspect --format '{{.Mountpoint}}' "$name")/runnerd.sock
[[ -S "$sock" ]] || fail "no socket at $sock on the host"
out=$("$build/cli/runnerctl" --addr "ipc://$sock" run -- cat /etc/debian_version)
[[ "$out" =~ ^12\. ]] || fail "host call: cat /etc/debian_version printed '$out'"
echo "ok: host -> runnerd: Debian $out in the image"

# Stopping drains: SIGTERM through tini, exit 0, the socket gone.
docker stop --time 30 "$name" >/dev/null
code=$(docker inspect --format '{{.State.ExitCode}}' "$name")
[[ "$code" == 0 ]] || { docker logs "$name" >&2; fail "runnerd exited $code on docker stop"; }
[[ ! -e "$sock" ]] || fail "the socket is still there after the stop"
[[ $(docker logs "$name" 2>&1) == *stopped* ]] || fail "no 'stopped' in runnerd's log"
echo "ok: docker stop: exit 0, socket removed"

# The fleet's Deployment: its container args, $(POD_IP) expanded as the
# kubelet does, in a container whose only network is loopback.
mapfile -t args < <(sed -n '/^ *args:/,/^ *[a-z]*:$/{s/^ *- \(--.*\)$/\1/p}' "$fleet")
((${#args[@]} > 0)) || fail "no container args in $fleet"
args=("${args[@]//\$(POD_IP)/127.0.0.1}")
echo "fleet args: ${args[*]}"
docker run -d --name "$name-fleet" "${confined[@]}" --network none \
	--tmpfs /tmp --tmpfs /home/runnerd:uid=10001,gid=10001,mode=0700 \
	--tmpfs /run/runnerd:uid=10001,gid=10001,mode=0700 "$tag" "${args[@]}" >/dev/null
startup_probe "$name-fleet"
caller=(docker run --rm -i --name "$name-app" "${confined[@]}" --network "container:$name-fleet"
	-e RUNNERD_ADDR=tcp://127.0.0.1:7300 --entrypoint runnerctl "$tag")
out=$("${caller[@]}" run -- sh -c 'echo "ran in $(hostname)"')
rd_host=$(docker inspect --format '{{.Config.Hostname}}' "$name-fleet")
[[ "$out" == "ran in $rd_host" ]] || fail "fleet call printed '$out', want 'ran in $rd_host'"
echo "ok: caller -> tcp://127.0.0.1:7300: $out"
out=$(seq 1000 | "${caller[@]}" exec -i -- sha256sum)
want=$(seq 1000 | sha256sum)
[[ "$out" == "$want" ]] || fail "a session over tcp streamed '$out', want '$want'"
echo "ok: a session over tcp (stdin in, output through port 7301): $out"
# It advertises its pod address as its instance, and a session's id names it.
out=$("${caller[@]}" health)
grep -qx 'instance: tcp://127.0.0.1:7300 (one of a fleet)' <<<"$out" || fail "fleet health: $out"
h=$("${caller[@]}" start -- true)
[[ "$h" == *@tcp://127.0.0.1:7300:* ]] || fail "a fleet session's handle '$h' does not name its instance"
echo "ok: the instance advertised (tcp://127.0.0.1:7300), in health and in session ids"
docker stop --time 30 "$name-fleet" >/dev/null
code=$(docker inspect --format '{{.State.ExitCode}}' "$name-fleet")
[[ "$code" == 0 ]] || { docker logs "$name-fleet" >&2; fail "the fleet runnerd exited $code on docker stop"; }
echo "ok: docker stop of the fleet runnerd: exit 0"
