#!/usr/bin/env bash
# deploy/k8s/*.yaml against the Kubernetes API's schema, offline, with
# deploy/k8s/validate (kubernetes-models' schemas + TypeScript for unknown
# fields, pinned by its package-lock.json):
#   - the sidecar and fleet manifests are valid;
#   - copies of them, each broken in one way the API server would refuse
#     (a misspelled field, a wrong type, a bad enum value, a missing
#     required field, a mount of no volume, a selector that matches
#     nothing), are each rejected, for that reason.
#
#   test_k8s_manifests.sh SOURCE_DIR BUILD_DIR
#
# The validator's packages are installed with `npm ci` into
# BUILD_DIR/k8s-validate (again only when the lock file changes). Exits 77
# (skipped) without node and npm, unless CI=true.
set -euo pipefail

src=$1 build=$2
k8s=$src/deploy/k8s
work=$build/k8s-validate

fail() { echo "FAIL: $*" >&2; exit 1; }
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	[[ "${CI:-}" == true ]] && fail "no node/npm (deploy/install-deps.sh installs them)"
	echo "SKIP: no node and npm (apt-get install nodejs npm)"
	exit 77
fi
echo "node $(node --version), npm $(npm --version)"

mkdir -p "$work"
cp "$k8s/validate/validate.js" "$work/"
if ! cmp -s "$k8s/validate/package-lock.json" "$work/package-lock.json" || [[ ! -d "$work/node_modules" ]]; then
	cp "$k8s/validate/package.json" "$k8s/validate/package-lock.json" "$work/"
	(cd "$work" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error) ||
		fail "npm ci in $work failed"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

node "$work/validate.js" "$k8s/runnerd-sidecar.yaml" "$k8s/runnerd-fleet.yaml" ||
	fail "the manifests in deploy/k8s are not valid"

# broken NAME FILE SED_SCRIPT EXPECTED: a copy of FILE changed by
# SED_SCRIPT must be rejected with a message containing EXPECTED.
broken() {
	local name=$1 file=$2 script=$3 want=$4 out rc=0
	sed "$script" "$k8s/$file" >"$tmp/$name.yaml"
	cmp -s "$k8s/$file" "$tmp/$name.yaml" && fail "$name: '$script' changed nothing in $file"
	out=$(node "$work/validate.js" "$tmp/$name.yaml" 2>&1) || rc=$?
	[[ $rc -eq 1 ]] || fail "$name: the validator exited $rc, want 1 (invalid):"$'\n'"$out"
	grep -qF -- "$want" <<<"$out" || fail "$name: rejected, but not for '$want':"$'\n'"$out"
	echo "ok: $name rejected: $(grep -F -- "$want" <<<"$out" | head -n 1)"
}
broken misspelled-field runnerd-sidecar.yaml 's/livenessProbe:/livenesProbe:/' \
	"'livenesProbe' does not exist in type 'IContainer'"
broken wrong-type runnerd-fleet.yaml 's/replicas: 3/replicas: "3"/' \
	"/spec/replicas: must be integer"
broken bad-enum runnerd-fleet.yaml '0,/protocol: TCP/s//protocol: TPC/' \
	"must be equal to one of the allowed values"
broken missing-required runnerd-sidecar.yaml 's/^    - name: app$/    - nmae: app/' \
	"must have required property name"
broken mount-of-no-volume runnerd-fleet.yaml 's/^        - name: runnerd-tmp$/        - name: runnerd-scratch/' \
	"volumeMount runnerd-tmp names no volume of the pod"
broken selector-mismatch runnerd-fleet.yaml '0,/^      app.kubernetes.io\/component: fleet$/s//      app.kubernetes.io\/component: other/' \
	"does not match the template's labels"
broken unknown-kind runnerd-fleet.yaml 's/^kind: Service$/kind: Servise/' \
	"no schema for v1 Servise"
