#!/usr/bin/env bash
# test_install — the client library as its users get it. Installs the build
# tree into a temporary prefix, then:
#   1. checks the installed headers and library are namespace-clean: every
#      macro and every file-scope name the headers declare, and every symbol
#      the library exports, starts with runner_ / RUNNER_ (any case, also
#      protobuf-c's generated _Runner__V1__ and runner__v1__), and every
#      function the headers declare is exported;
#   2. builds a C and a C++ program with `pkg-config runnerclient` and again
#      with the CMake package (find_package(runnerclient),
#      runner::runnerclient), and runnerctl's own sources against the
#      installed headers and library alone (plus the JSON mapping it prints
#      with, proto/pb_json.c over jansson, which the library does not carry);
#   3. runs them all against the installed runnerd.
#
#   test_install.sh BUILD_DIR SOURCE_DIR [SANITIZERS]
#
# SANITIZERS (RUNNERD_SANITIZE of the build, e.g. address,undefined): the
# installed library needs its sanitizer runtime first in the programs that
# load it, so they are built with the same -fsanitize as it was.
set -euo pipefail

build=$1
src=$2
sanitize=${3:-}
here=$src/tests/install
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rdinstall-XXXXXX")
daemon=
cleanup() {
	if [[ -n $daemon ]]; then
		kill "$daemon" 2>/dev/null || true
		wait "$daemon" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "test_install: $*" >&2
	exit 1
}

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || {
	cat "$tmp/install.log" >&2
	fail "cmake --install failed"
}
pc=$(dirname "$(find "$prefix" -name runnerclient.pc)")
lib=$(dirname "$(find "$prefix" -name 'librunnerclient.so' | head -1)")
inc=$prefix/include/runner
[[ -d $pc && -d $lib && -f $inc/runner_client.h ]] || fail "the library is not where expected under $prefix"
for internal in status.h units.h wire_check.h runner_client_internal.h; do
	[[ ! -e $inc/$internal ]] || fail "internal header $internal is installed"
done
[[ -z $(find "$prefix" -name 'librunnerproto*') ]] || fail "runnerd's own proto library is installed"

# --- 1. namespace ------------------------------------------------------------
prefixed() { grep -v -i -E "^${1:-}_?runner_" || true; }

# Macros the headers add to what their own includes define.
printf '#include <stddef.h>\n#include <stdint.h>\n#include <stdbool.h>\n#include <protobuf-c/protobuf-c.h>\n' |
	cc -E -dM -x c - | awk '{ sub(/\(.*/, "", $2); print $2 }' | sort -u >"$tmp/macros.base"
echo '#include <runner_client.h>' | cc -E -dM -I"$inc" -x c - |
	awk '{ sub(/\(.*/, "", $2); print $2 }' | sort -u >"$tmp/macros.all"
comm -13 "$tmp/macros.base" "$tmp/macros.all" >"$tmp/macros"
# protoc-c's include guard for runner.proto is the one name it picks itself.
bad=$(grep -v -x 'PROTOBUF_C_runner_2fv1_2frunner_2eproto__INCLUDED' "$tmp/macros" | prefixed)
[[ -z $bad ]] || fail "installed headers define unprefixed macros: $bad"
[[ $(wc -l <"$tmp/macros") -gt 20 ]] || fail "found too few macros to believe the check"

# File-scope names declared in the installed headers (not in the system's).
echo '#include <runner_client.h>' | cc -E -I"$inc" -x c - |
	awk -v dir="$inc/" '/^# [0-9]+ "/ { f = $3; gsub(/"/, "", f); ours = index(f, dir) == 1; next } ours' |
	awk -f "$here/declared_names.awk" | sort -u >"$tmp/names"
bad=$(cut -d' ' -f2 "$tmp/names" | prefixed)
[[ -z $bad ]] || fail "installed headers declare unprefixed names: $bad"
[[ $(grep -c '^F runner_' "$tmp/names") -gt 20 ]] || fail "found too few functions to believe the check"

# Exported symbols, and the declared functions among them.
nm -D --defined-only "$lib/librunnerclient.so" | awk '{ print $3 }' | sort -u >"$tmp/exported"
bad=$(prefixed <"$tmp/exported")
[[ -z $bad ]] || fail "librunnerclient.so exports unprefixed symbols: $bad"
missing=$(awk '$1 == "F" { print $2 }' "$tmp/names" | comm -23 - "$tmp/exported")
[[ -z $missing ]] || fail "declared but not exported: $missing"
echo "namespace: $(wc -l <"$tmp/macros") macros, $(wc -l <"$tmp/names") names," \
	"$(wc -l <"$tmp/exported") symbols, all prefixed"

# --- 2. builds ---------------------------------------------------------------
export PKG_CONFIG_PATH=$pc
flags=(-Wall -Wextra -Werror -Wl,-rpath,"$lib")
san_flags=
if [[ -n $sanitize ]]; then
	san_flags="-fsanitize=$sanitize"
	flags+=("$san_flags")
	echo "sanitizer build: the programs using the installed library are built with $san_flags, as it was"
fi
read -r -a cflags <<<"$(pkg-config --cflags runnerclient)"
read -r -a libs <<<"$(pkg-config --libs runnerclient)"
cc -std=c11 "${flags[@]}" "${cflags[@]}" "$here/hello.c" "${libs[@]}" -o "$tmp/hello_c_pc"
g++ -std=c++11 "${flags[@]}" "${cflags[@]}" "$here/hello.cpp" "${libs[@]}" -o "$tmp/hello_cpp_pc"

cmake -S "$here/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_C_FLAGS="-Wall -Wextra -Werror $san_flags" -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror $san_flags" \
	>"$tmp/consumer.log" 2>&1 || {
	cat "$tmp/consumer.log" >&2
	fail "configuring the CMake consumer failed"
}
cmake --build "$tmp/consumer" >>"$tmp/consumer.log" 2>&1 || {
	cat "$tmp/consumer.log" >&2
	fail "building the CMake consumer failed"
}

# runnerctl from its sources, away from the tree's own headers.
mkdir "$tmp/ctl"
cp "$src"/cli/rctl*.c "$src"/cli/rctl*.h "$src"/cli/runnerctl.c "$src"/proto/pb_json.[ch] "$tmp/ctl/"
read -r -a jansson <<<"$(pkg-config --cflags --libs jansson)"
read -r -a crypto <<<"$(pkg-config --libs libcrypto)" # SHA-256 of uploads
cc -std=gnu11 -D_GNU_SOURCE "${flags[@]}" -Wno-unused-parameter "${cflags[@]}" "$tmp"/ctl/*.c \
	"${libs[@]}" "${jansson[@]}" "${crypto[@]}" -lresolv -lm -lpthread -o "$tmp/ctl/runnerctl"

# --- 3. runs -----------------------------------------------------------------
mkdir -m 0700 "$tmp/run"
addr=ipc://$tmp/run/runnerd.sock
"$prefix/sbin/runnerd" --listen "$addr" 2>"$tmp/runnerd.log" &
daemon=$!
for _ in $(seq 100); do
	"$prefix/bin/runnerctl" --addr "$addr" --connect-timeout 200ms health >/dev/null 2>&1 && break
	sleep 0.1
done
"$prefix/bin/runnerctl" --addr "$addr" health >/dev/null || fail "runnerd did not come up: $(cat "$tmp/runnerd.log")"

for prog in "$tmp/hello_c_pc" "$tmp/hello_cpp_pc" "$tmp/consumer/hello_c" "$tmp/consumer/hello_cpp"; do
	out=$("$prog" "$addr") || fail "$prog failed"
	echo "$(basename "$prog"): $out"
done
out=$("$tmp/ctl/runnerctl" --addr "$addr" run -- echo from runnerctl) || fail "runnerctl built from the installed library failed"
[[ $out == "from runnerctl" ]] || fail "runnerctl printed '$out'"
echo "runnerctl built on the installed library: $out"
