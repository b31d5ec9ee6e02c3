#!/usr/bin/env bash
# deploy/systemd/runnerd.service as systemd itself reads it, offline (no
# systemd needs to be running):
#   - `systemd-analyze verify` on the unit installed into a scratch root
#     beside runnerd (`cmake --install` there), so ExecStart's binary and the
#     targets it orders against are checked too; any complaint fails, and a
#     misspelled copy of the unit must draw one;
#   - `systemd-analyze security --offline=true`, printing the table and the
#     overall exposure score, failing when the score rises above CEILING.
#
#   test_systemd_unit.sh SOURCE_DIR BUILD_DIR CEILING
#
# Exits 77 (skipped) without systemd-analyze, unless CI=true.
set -euo pipefail

src=$1 build=$2 ceiling=$3
unit=runnerd.service

if ! command -v systemd-analyze >/dev/null; then
	if [[ "${CI:-}" == true ]]; then
		echo "FAIL: no systemd-analyze (deploy/install-deps.sh installs systemd)" >&2
		exit 1
	fi
	echo "SKIP: no systemd-analyze (apt-get install systemd)"
	exit 77
fi
systemd-analyze --version | head -n 1

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

# The unit's paths as an install makes them: runnerd from the build, the
# unit in /etc/systemd/system, and systemd's own targets and slices.
DESTDIR=$root cmake --install "$build" --prefix /usr/local >/dev/null
units=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || true)
[[ -d "$units" ]] || units=/lib/systemd/system
mkdir -p "$root/usr/lib/systemd" "$root/etc/systemd/system"
cp -a "$units" "$root/usr/lib/systemd/system"
install -m 0644 "$src/deploy/systemd/$unit" "$root/etc/systemd/system/$unit"
# ExecReload's kill, as the system has it (procps).
install -D -m 0755 /bin/kill "$root/bin/kill"

# verify: 0 and silent, or it failed. Unknown keys are only warnings to
# systemd-analyze (exit 0), so any output counts.
verify() {
	local out rc=0
	out=$(systemd-analyze verify --root="$root" "$1" 2>&1) || rc=$?
	printf '%s' "$out"
	[[ $rc -eq 0 && -z "$out" ]]
}
if ! out=$(verify "$unit"); then
	echo "FAIL: systemd-analyze verify $unit:" >&2
	echo "$out" >&2
	exit 1
fi
echo "ok: systemd-analyze verify $unit (ExecStart=$(sed -n 's/^ExecStart=//p' "$root/etc/systemd/system/$unit"))"

# The check bites: a copy with a misspelled directive is refused.
sed 's/^ProtectKernelModules=/ProtectKernelModule=/' "$src/deploy/systemd/$unit" >"$root/etc/systemd/system/runnerd-typo.service"
if out=$(verify runnerd-typo.service); then
	echo "FAIL: systemd-analyze verify accepted a misspelled directive" >&2
	exit 1
fi
echo "ok: a misspelled directive is caught: $(head -n 1 <<<"$out")"
rm "$root/etc/systemd/system/runnerd-typo.service"

table=$(systemd-analyze security --offline=true --root="$root" "$unit" 2>&1) || {
	echo "FAIL: systemd-analyze security:" >&2
	echo "$table" >&2
	exit 1
}
echo "$table"
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$table")
if [[ -z "$score" ]]; then
	echo "FAIL: no exposure score in the output above" >&2
	exit 1
fi
echo "exposure score: $score (ceiling $ceiling)"
if awk -v s="$score" -v c="$ceiling" 'BEGIN { exit !(s > c) }'; then
	echo "FAIL: exposure $score is above the ceiling $ceiling: a hardening setting was lost" >&2
	exit 1
fi
