#!/usr/bin/env bash
# From a fresh checkout to a running runnerd in one go: install the
# dependencies, build, start runnerd in the background, check it with
# runnerctl, run two commands through it, and say how to stop it.
#
#   ./deploy/quickstart.sh
#
# As root runnerd listens on its default address, ipc:///run/runnerd/runnerd.sock
# (it creates /run/runnerd, mode 0700, itself). As another user it listens on
# a socket in $XDG_RUNTIME_DIR (or /tmp/runnerd-$UID) instead, since /run is
# root's; RUNNERD_ADDR=URL picks any address. SKIP_DEPS=1 skips the install.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
build_dir=${BUILD_DIR:-build}
runnerd="$root/$build_dir/service/runnerd"
runnerctl="$root/$build_dir/cli/runnerctl"

say() { printf '\n==> %s\n' "$*"; }

if [[ "${SKIP_DEPS:-0}" != 1 ]]; then
	say "Installing build dependencies"
	if [[ ${EUID} -eq 0 ]]; then
		./deploy/install-deps.sh
	else
		sudo ./deploy/install-deps.sh
	fi
fi

say "Building"
./deploy/build.sh >/dev/null
echo "built $runnerd and $runnerctl"

# Where runnerd listens, and where its pid file and log go.
if [[ -n "${RUNNERD_ADDR:-}" ]]; then
	addr=$RUNNERD_ADDR
	state_dir="${XDG_RUNTIME_DIR:-/tmp/runnerd-$UID}/runnerd-quickstart"
elif [[ ${EUID} -eq 0 ]]; then
	addr=ipc:///run/runnerd/runnerd.sock
	state_dir=/run/runnerd-quickstart
else
	sock_dir="${XDG_RUNTIME_DIR:-/tmp/runnerd-$UID}/runnerd"
	addr="ipc://$sock_dir/runnerd.sock"
	state_dir="$sock_dir"
fi
mkdir -p "$(dirname "$state_dir")"
[[ -d "$state_dir" ]] || mkdir -m 0700 "$state_dir"
pid_file="$state_dir/runnerd.pid"
log_file="$state_dir/runnerd.log"
export RUNNERD_ADDR=$addr
ctl=("$runnerctl" --addr "$addr")

if [[ -s "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
	say "runnerd is already running (pid $(cat "$pid_file")) on $addr"
elif "${ctl[@]}" --connect-timeout 500ms health >/dev/null 2>&1; then
	say "A runnerd already answers on $addr; using it"
else
	say "Starting runnerd on $addr"
	args=()
	[[ "$addr" != ipc:///run/runnerd/runnerd.sock ]] && args=(--listen "$addr")
	# A session of its own: the terminal's ^C and hang-up don't reach it.
	setsid "$runnerd" "${args[@]}" </dev/null >"$log_file" 2>&1 &
	echo $! >"$pid_file"
	echo "pid $(cat "$pid_file"), log $log_file"
fi

say "Waiting for runnerctl health"
ok=0
for _ in $(seq 1 100); do
	if "${ctl[@]}" health >/dev/null 2>&1; then
		ok=1
		break
	fi
	if [[ -s "$pid_file" ]] && ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
		echo "runnerd exited; its log:" >&2
		cat "$log_file" >&2 || true
		exit 1
	fi
	sleep 0.1
done
if [[ $ok != 1 ]]; then
	echo "runnerd did not become healthy within 10 s; its log:" >&2
	cat "$log_file" >&2 || true
	exit 1
fi
"${ctl[@]}" health

say "runnerctl run -- echo hello from runnerd"
"${ctl[@]}" run -- echo hello from runnerd

say "runnerctl sh 'uname -a; id'"
"${ctl[@]}" sh 'uname -a; id'

cat <<EOT

runnerd is running in the background on $addr.
  Try:     $runnerctl run --json -- ls /
           $runnerctl sh 'echo \$PATH'
  (export RUNNERD_ADDR=$addr to use another shell's runnerctl)
  Stop it: kill \$(cat $pid_file)   # SIGTERM: it stops its children and exits
  Log:     $log_file
EOT
