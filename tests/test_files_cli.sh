#!/usr/bin/env bash
# test_files_cli — runnerctl's file commands as a person uses them, against
# a real runnerd: put/cat, ls (-l, -R, --json), stat --sha256, mkdir -p, mv,
# rm, cp of files and trees both ways (exact, 5 MiB with several chunks in
# flight), watch, usage errors and their exit codes, and an upload that
# survives runnerd being killed and started again under it.
#
#   test_files_cli.sh BUILD_DIR
set -euo pipefail

build=$1
runnerd=$build/service/runnerd
ctl=$build/cli/runnerctl
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rdfiles-XXXXXX")
daemon=
watcher=
cleanup() {
	[[ -n $watcher ]] && kill "$watcher" 2>/dev/null || true
	if [[ -n $daemon ]]; then
		kill "$daemon" 2>/dev/null || true
		wait "$daemon" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "test_files_cli: $*" >&2
	[[ -f $tmp/runnerd.log ]] && tail -20 "$tmp/runnerd.log" >&2
	exit 1
}
# expect CODE CMD...: run CMD, which must exit CODE.
expect() {
	local want=$1 got=0
	shift
	"$@" >"$tmp/out" 2>"$tmp/err" || got=$?
	[[ $got == "$want" ]] || fail "'$*' exited $got, want $want: $(cat "$tmp/err")"
}

ws=$tmp/ws
mkdir -m 0700 "$tmp/run"
mkdir "$ws" "$tmp/local"
cat >"$tmp/runnerd.yaml" <<EOF
default_profile: default
profiles:
  - name: default
    files:
      write: [$ws]
  - name: job
    files:
      write: ["{{dir}}"]
    params:
      - name: dir
        roots: [$ws]
EOF
export RUNNERD_ADDR=ipc://$tmp/run/runnerd.sock
start() {
	"$runnerd" --config "$tmp/runnerd.yaml" --listen "$RUNNERD_ADDR" 2>>"$tmp/runnerd.log" &
	daemon=$!
	for _ in $(seq 100); do
		"$ctl" --connect-timeout 200ms health >/dev/null 2>&1 && return
		sleep 0.1
	done
	fail "runnerd did not come up"
}
start

# --- put, cat, stat ------------------------------------------------------------
printf 'hello\n' | "$ctl" put ":$ws/hello.txt"
[[ $(cat "$ws/hello.txt") == hello ]] || fail "put wrote '$(cat "$ws/hello.txt")'"
[[ $("$ctl" cat ":$ws/hello.txt") == hello ]] || fail "cat"
printf 'more\n' | "$ctl" put --append "$ws/hello.txt" # the colon is optional here
[[ $("$ctl" cat "$ws/hello.txt") == $'hello\nmore' ]] || fail "put --append"
expect 70 sh -c "echo x | '$ctl' put --no-clobber ':$ws/hello.txt'"
grep -q ALREADY_EXISTS "$tmp/err" || fail "put --no-clobber: $(cat "$tmp/err")"
printf '' | "$ctl" put --mode 0600 ":$ws/empty"
[[ $(stat -c %a "$ws/empty") == 600 && ! -s $ws/empty ]] || fail "put --mode of nothing"
want=$(sha256sum "$ws/hello.txt" | cut -d' ' -f1)
grep -q "^sha256 $want$" <<<"$("$ctl" stat --sha256 ":$ws/hello.txt")" || fail "stat --sha256"
# --json: the StatFileResponse in the proto3 JSON mapping (bytes in base64).
"$ctl" stat --json --sha256 ":$ws/hello.txt" >"$tmp/stat.json"
python3 - "$tmp/stat.json" "$want" <<'PY' || fail "stat --json: $(cat "$tmp/stat.json")"
import base64, json, sys
doc = json.load(open(sys.argv[1]))
assert base64.b64decode(doc["sha256"]).hex() == sys.argv[2], doc
assert doc["info"]["type"] == "FILE_REGULAR" and doc["info"]["size"] == "11", doc
PY

# --- mkdir, ls, mv, rm -----------------------------------------------------------
"$ctl" mkdir -p ":$ws/a/b/c"
[[ -d $ws/a/b/c ]] || fail "mkdir -p"
expect 70 "$ctl" mkdir ":$ws/a"
grep -q ALREADY_EXISTS "$tmp/err" || fail "mkdir of an existing directory: $(cat "$tmp/err")"
printf 'x' >"$ws/a/b/file"
[[ $("$ctl" ls ":$ws/a") == "b/" ]] || fail "ls: $("$ctl" ls ":$ws/a")"
[[ $("$ctl" ls -R ":$ws/a" | tr '\n' ' ') == "b/ b/c/ b/file " ]] || fail "ls -R: $("$ctl" ls -R ":$ws/a")"
grep -q '^-rw-r--r-- .* 1 .* file$' <<<"$("$ctl" ls -l ":$ws/a/b")" || fail "ls -l: $("$ctl" ls -l ":$ws/a/b")"
"$ctl" ls --json ":$ws/a/b" >"$tmp/ls.json"
python3 - "$tmp/ls.json" <<'PY' || fail "ls --json: $(cat "$tmp/ls.json")"
import json, sys
doc = json.load(open(sys.argv[1]))
names = [(e["path"], e["type"]) for e in doc["entries"]]
assert names == [("c", "FILE_DIRECTORY"), ("file", "FILE_REGULAR")], names
PY
[[ $("$ctl" ls ":$ws/a/b/file") == "$ws/a/b/file" ]] || fail "ls of a file"
"$ctl" mv ":$ws/a/b/file" ":$ws/a/moved"
[[ -f $ws/a/moved && ! -e $ws/a/b/file ]] || fail "mv"
printf 'y' >"$ws/a/other"
expect 70 "$ctl" mv ":$ws/a/moved" ":$ws/a/other"
"$ctl" mv -f ":$ws/a/moved" ":$ws/a/other"
[[ $(cat "$ws/a/other") == x ]] || fail "mv -f"
expect 70 "$ctl" rm ":$ws/a/b"
grep -q FAILED_PRECONDITION "$tmp/err" || fail "rm of a directory: $(cat "$tmp/err")"
"$ctl" rm -r ":$ws/a/b" ":$ws/a/other"
[[ -z $(ls -A "$ws/a") ]] || fail "rm -r left $(ls -A "$ws/a")"
expect 70 "$ctl" rm ":$ws/a/nothing"
"$ctl" rm -f ":$ws/a/nothing"
"$ctl" rm-file -f ":$ws/a/nothing"
# rm without a remote path is the session command.
expect 70 "$ctl" rm no-such-session
grep -q NOT_FOUND "$tmp/err" || fail "rm of a session: $(cat "$tmp/err")"

# --- cp, both ways -----------------------------------------------------------------
mkdir -p "$tmp/local/tree/sub/deeper"
printf 'one\n' >"$tmp/local/tree/one"
printf '' >"$tmp/local/tree/sub/empty"
head -c 5242881 /dev/urandom >"$tmp/local/tree/sub/deeper/big" # 5 MiB + 1: several chunks
chmod 0640 "$tmp/local/tree/one"
ln -s one "$tmp/local/tree/link"
"$ctl" cp "$tmp/local/tree" ":$ws/" 2>"$tmp/cp.err" # into the existing directory, as tree
grep -q 'tree/link: skipped' "$tmp/cp.err" || fail "cp said nothing of the symlink: $(cat "$tmp/cp.err")"
[[ -f $ws/tree/sub/deeper/big && ! -e $ws/tree/link ]] || fail "cp of a tree up"
cmp "$tmp/local/tree/sub/deeper/big" "$ws/tree/sub/deeper/big" || fail "cp up: big differs"
[[ $(stat -c %a "$ws/tree/one") == 640 ]] || fail "cp up kept no permissions"
"$ctl" cp ":$ws/tree" "$tmp/back"             # a new local directory
diff -r --no-dereference -x link "$tmp/local/tree" "$tmp/back" || fail "cp of a tree down differs"
"$ctl" cp ":$ws/tree/sub/deeper/big" "$tmp/local/" # into a local directory
cmp "$tmp/local/big" "$tmp/local/tree/sub/deeper/big" || fail "cp of a file down"
"$ctl" cp --profile job --param "dir=$ws/tree" "$tmp/local/big" ":$ws/tree/copy"
cmp "$tmp/local/big" "$ws/tree/copy" || fail "cp with a profile's parameter"
expect 70 "$ctl" cp --profile job --param "dir=$ws/tree" "$tmp/local/big" ":$ws/outside-the-param"
grep -q PERMISSION_DENIED "$tmp/err" || fail "cp outside the parameter's root: $(cat "$tmp/err")"
[[ -z $(find "$ws" "$tmp/local" "$tmp/back" -name '*.part' -o -name '.*runnerctl-*') ]] || fail "temporary files left"

# --- usage ---------------------------------------------------------------------------
expect 64 "$ctl" cp "$tmp/local/big" "$tmp/elsewhere"
expect 64 "$ctl" cp ":$ws/a" ":$ws/b"
expect 64 "$ctl" ls relative/path
expect 64 "$ctl" rm -p ":$ws/a"
expect 64 "$ctl" mkdir --mode 9999 ":$ws/m"
expect 70 "$ctl" cat ":/etc/passwd"
grep -q PERMISSION_DENIED "$tmp/err" || fail "cat outside the roots: $(cat "$tmp/err")"
"$ctl" --help >"$tmp/help"
grep -q '^  cp ' "$tmp/help" || fail "--help lists no cp"

# --- watch -------------------------------------------------------------------------
mkdir "$ws/w"
"$ctl" watch -r ":$ws/w" >"$tmp/watch.out" 2>"$tmp/watch.err" &
watcher=$!
"$ctl" watch --json ":$ws/w" >"$tmp/watch.json" 2>&1 &
json_watcher=$!
sleep 1
printf 'x' >"$ws/w/f"
mv "$ws/w/f" "$ws/w/g"
mkdir "$ws/w/d"
sleep 0.3
printf 'y' >"$ws/w/d/inner"
rm "$ws/w/g"
for _ in $(seq 100); do
	grep -q 'removed file g' "$tmp/watch.out" && grep -q FILE_REMOVED "$tmp/watch.json" && break
	sleep 0.1
done
kill -INT "$watcher" "$json_watcher"
wait "$watcher" || fail "watch exited $? on SIGINT"
wait "$json_watcher" || true
watcher=
expected=$'created file f\nmodified file f\nrenamed file f -> g\ncreated directory d\ncreated file d/inner\nmodified file d/inner\nremoved file g'
[[ $(cat "$tmp/watch.out") == "$expected" ]] || fail "watch printed: $(cat "$tmp/watch.out") $(cat "$tmp/watch.err")"
# --json: one FileEvent per line, in the proto3 JSON mapping.
python3 - "$tmp/watch.json" <<'PY' || fail "watch --json printed: $(cat "$tmp/watch.json")"
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
kinds = [(e["kind"], e["path"], e.get("fromPath", "")) for e in events]
assert kinds == [("FILE_CREATED", "f", ""), ("FILE_MODIFIED", "f", ""), ("FILE_RENAMED", "g", "f"),
                 ("FILE_CREATED", "d", ""), ("FILE_REMOVED", "g", "")], kinds
PY
rm -rf "$ws/w"

# --- an upload that outlives runnerd ---------------------------------------------------
# 64 MiB through runnerctl cp; runnerd is killed (SIGKILL) while the
# temporary file grows and started again; runnerctl finds the upload gone
# and sends it again from the start: the file arrives exact.
head -c 67108864 /dev/urandom >"$tmp/local/huge"
"$ctl" cp "$tmp/local/huge" ":$ws/huge" 2>"$tmp/cp.err" &
copier=$!
for _ in $(seq 200); do
	part=$(find "$ws" -maxdepth 1 -name '.huge.runnerd-*.part' -size +1M | head -1)
	[[ -n $part ]] && break
	sleep 0.05
done
[[ -n $part ]] || fail "the upload never started: $(cat "$tmp/cp.err")"
kill -KILL "$daemon"
wait "$daemon" 2>/dev/null || true
sleep 0.5
start
wait "$copier" || fail "cp did not survive the restart: $(cat "$tmp/cp.err")"
cmp "$tmp/local/huge" "$ws/huge" || fail "the resumed upload differs"
# The new runnerd did not know the upload: it told runnerctl so.
grep -q 'rpc WriteFile OUT_OF_RANGE.*not in progress here' "$tmp/runnerd.log" || fail "the upload was not interrupted"
[[ -z $(find "$ws" -maxdepth 1 -name '*.part') ]] || fail "a temporary file is left: $(ls -a "$ws")"
echo "test_files_cli: ok"
