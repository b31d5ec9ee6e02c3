#!/usr/bin/env bash
# The offline-built runtime image (deploy/docker/build-image-offline.sh),
# run the way deploy/k8s/runnerd-sidecar.yaml runs it:
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
# Every container and the volume are removed on every path.
#
#   test_image_sidecar.sh SOURCE_DIR BUILD_DIR
#
# Exits 77 (skipped) when no Docker engine answers, unless
# RUNNERD_REQUIRE_DOCKER=1 (deploy/run-tests.sh sets it).
set -euo pipefail

src=$1 build=$2
manifest=$src/deploy/k8s/runnerd-sidecar.yaml
tag=runnerd-sidecar-test:latest
name=runnerd-sidecar-test-$$

if ! docker info >/dev/null 2>&1; then
	if [[ "${RUNNERD_REQUIRE_DOCKER:-0}" == 1 ]]; then
		echo "FAIL: no Docker engine answers and RUNNERD_REQUIRE_DOCKER=1" >&2
		exit 1
	fi
	echo "SKIP: no Docker engine answers"
	exit 77
fi

fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
	docker rm -f "$name" "$name-app" >/dev/null 2>&1 || true
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

# What the pod's securityContext and volumes give the runnerd container.
confined=(--user 10001:10001 --read-only --cap-drop=ALL --security-opt=no-new-privileges)
docker volume create "$name" >/dev/null
docker run -d --name "$name" "${confined[@]}" \
	--tmpfs /tmp --tmpfs /home/runnerd:uid=10001,gid=10001,mode=0700 \
	-v "$name:/run/runnerd" "$tag" >/dev/null

# The startup probe: every second, 30 tries.
ok=0
for _ in $(seq 30); do
	if out=$(docker exec "$name" "${probe[@]}" 2>&1); then
		ok=1
		break
	fi
	sleep 1
done
if ((!ok)); then
	docker logs "$name" >&2 || true
	fail "the startup probe '${probe[*]}' never succeeded: $out"
fi
echo "ok: startup probe: $(tr '\n' ' ' <<<"$out")"

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
docker logs "$name" 2>&1 | grep -q 'stopped' || fail "no 'stopped' in runnerd's log"
echo "ok: docker stop: exit 0, socket removed"
