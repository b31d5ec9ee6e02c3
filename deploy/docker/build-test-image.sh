#!/usr/bin/env bash
# Build the image the docker backend's tests run in, without any registry:
# a root filesystem assembled from Debian's busybox-static package and
# `docker import`ed. Starts nothing (the engine must answer: see
# ensure-engine.sh). As root (apt-get download, docker).
#
#   ./deploy/docker/build-test-image.sh [TAG]      # default runnerd-test:latest
#
# Idempotent and fast: the image carries a label with the hash of its inputs
# (this script and the .deb); when the tagged image already has that label,
# nothing is done. The .deb is kept in $RUNNERD_IMAGE_CACHE (default
# /var/cache/runnerd-test-image) so a rebuild needs no network.
#
# The image: busybox at /bin/busybox with every applet linked (/bin/sh, cat,
# sha256sum, dd, nc, wget, ...), /etc/passwd and /etc/group with root,
# nobody (65534) and runner (1000), a 1777 /tmp, and a /work owned by
# runner. No entrypoint: runnerd always names the command.
set -euo pipefail

tag=${1:-runnerd-test:latest}
cache=${RUNNERD_IMAGE_CACHE:-/var/cache/runnerd-test-image}
self=$(readlink -f "${BASH_SOURCE[0]}")

if ! docker info >/dev/null 2>&1; then
	echo "build-test-image.sh: no Docker engine answers (run ensure-engine.sh first)" >&2
	exit 1
fi

mkdir -p "$cache"
deb=$(find "$cache" -maxdepth 1 -name 'busybox-static_*.deb' | sort | tail -n 1)
if [[ -z "$deb" ]]; then
	# apt's sandbox user cannot write to root-owned directories; a private
	# world-writable download dir keeps apt quiet about it.
	dl=$(mktemp -d)
	chmod 0777 "$dl"
	if ! (cd "$dl" && apt-get download -q busybox-static >/dev/null 2>"$dl/err"); then
		# No index yet (fresh machine): refresh once and retry.
		apt-get update -q >/dev/null 2>&1 || true
		(cd "$dl" && apt-get download -q busybox-static >/dev/null) || {
			cat "$dl/err" >&2; rm -rf "$dl"
			echo "build-test-image.sh: apt-get download busybox-static failed" >&2
			exit 1
		}
	fi
	mv "$dl"/busybox-static_*.deb "$cache"/
	rm -rf "$dl"
	deb=$(find "$cache" -maxdepth 1 -name 'busybox-static_*.deb' | sort | tail -n 1)
fi

# The script's and the package's contents, not their paths: the image is
# current in every checkout that has the same script.
inputs=$( { sha256sum <"$self"; sha256sum <"$deb"; } | sha256sum | cut -c1-16)
have=$(docker image inspect --format '{{ index .Config.Labels "runnerd.test-image.inputs" }}' "$tag" 2>/dev/null || true)
if [[ "$have" == "$inputs" ]]; then
	echo "build-test-image.sh: $tag is up to date ($inputs)"
	exit 0
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
bb="$root/bin/busybox"
[[ -x "$bb" ]] || { echo "build-test-image.sh: no bin/busybox in $deb" >&2; exit 1; }
# Keep only busybox itself from the package (no docs, no /usr/share).
find "$root" -mindepth 1 -maxdepth 1 ! -name bin -exec rm -rf {} +
mkdir -p "$root"/{usr/bin,usr/sbin,sbin,etc,tmp,proc,sys,dev,root,home/runner,work,var/tmp}
# Every applet as a symlink to /bin/busybox, at the path busybox itself
# lists (/bin/sh, /usr/bin/sha256sum, ...).
"$bb" --list-full | while read -r applet; do
	[[ -e "$root/$applet" || -L "$root/$applet" ]] || ln -s /bin/busybox "$root/$applet"
done
cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
runner:x:1000:1000:runner:/home/runner:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
runner:x:1000:
nogroup:x:65534:
GROUP
chmod 1777 "$root/tmp" "$root/var/tmp"
chown 1000:1000 "$root/home/runner" "$root/work"

# Reproducible bytes: fixed mtimes and owners-as-set, sorted entries.
tar --sort=name --mtime=@0 --numeric-owner -C "$root" -cf - . |
	docker import \
		--change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'WORKDIR /' \
		--change "LABEL runnerd.test-image.inputs=$inputs" \
		--message "runnerd test image (busybox-static from $(basename "$deb"))" \
		- "$tag" >/dev/null
echo "build-test-image.sh: built $tag ($inputs, $(du -sh "$root" | cut -f1))"
