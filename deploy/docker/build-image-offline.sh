#!/usr/bin/env bash
# Build runnerd's runtime image without any image registry: the image
# deploy/docker/Dockerfile describes, from Debian packages and this
# checkout's build instead of `FROM debian:12-slim`. As root (apt-get
# download, chown, docker); the engine must answer (ensure-engine.sh).
#
#   ./deploy/build.sh                                  # the binaries it packs
#   ./deploy/docker/build-image-offline.sh [TAG]       # default runnerd:VERSION
#
# BUILD_DIR (default build) is the configured build tree; it must have been
# configured with the install prefix /usr/local (build.sh's default).
#
# The root filesystem: the Dockerfile's RUNTIME_PACKAGES (libnng1,
# libprotobuf-c1, libcyaml1, libyaml-0-2, libjansson4, libssl3, tini) and a small
# userland for the commands runnerd runs (bash, dash as /bin/sh, coreutils,
# grep, sed, findutils, tar, gzip, mawk, procps, hostname), with everything
# they depend on as apt resolves it, unpacked with dpkg-deb onto a merged
# /usr; `cmake --install --strip` of the build into /usr/local (no headers
# or static libraries, as in the Dockerfile); the user runnerd (uid/gid
# 10001, home /home/runnerd), the sandbox user runnerd-sandbox (10002, no
# home) and a /run/runnerd runnerd owns. It is not all of debian:12-slim: no
# apt, no perl, no dpkg database. The image's configuration (USER, WORKDIR,
# ENV, VOLUME, STOPSIGNAL, HEALTHCHECK, ENTRYPOINT, CMD) is read from the
# Dockerfile's runtime stage and given to `docker import --change`, so the
# two images start, probe and stop alike (STOPSIGNAL excepted: import has
# none, and the Dockerfile's SIGTERM is docker's default).
#
# Idempotent: the image carries a label with the hash of its inputs (this
# script, the Dockerfile, the packages' versions, the built binaries); when
# the tagged image already has it, nothing is done. The .debs are kept in
# $RUNNERD_IMAGE_CACHE (default /var/cache/runnerd-image) for the next build.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
self=$(readlink -f "${BASH_SOURCE[0]}")
dockerfile=deploy/docker/Dockerfile
build=${BUILD_DIR:-build}
cache=${RUNNERD_IMAGE_CACHE:-/var/cache/runnerd-image}
userland=(usr-is-merged base-files bash dash coreutils debianutils findutils grep gzip hostname
	libc-bin mawk procps sed tar)

die() { echo "build-image-offline.sh: $*" >&2; exit 1; }

[[ -x "$build/service/runnerd" && -x "$build/cli/runnerctl" ]] ||
	die "no runnerd in $build: run ./deploy/build.sh first"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
[[ "$prefix" == /usr/local ]] ||
	die "$build is configured for prefix '$prefix'; the image runs /usr/local (PREFIX=/usr/local ./deploy/build.sh)"
version=$("$build/service/runnerd" --version | awk '{print $2}')
tag=${1:-runnerd:$version}
docker info >/dev/null 2>&1 || die "no Docker engine answers (run deploy/docker/ensure-engine.sh first)"

# The runtime stage of the Dockerfile, continuation lines joined.
stage=$(sed -n '/^FROM .* AS runtime/,$p' "$dockerfile" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta')
read -r -a runtime <<<"$(sed -n 's/^ARG RUNTIME_PACKAGES="\(.*\)"$/\1/p' <<<"$stage")"
((${#runtime[@]} > 0)) || die "no ARG RUNTIME_PACKAGES=\"...\" in the runtime stage of $dockerfile"
# What `FROM debian:12-slim` brings to the config: its PATH.
changes=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
while IFS= read -r line; do
	changes+=(--change "$line")
done < <(grep -E '^(USER|WORKDIR|ENV|VOLUME|HEALTHCHECK|ENTRYPOINT|CMD) ' <<<"$stage" | sed 's/  */ /g')
# docker import takes no STOPSIGNAL; SIGTERM is what docker sends anyway.
if grep -E '^STOPSIGNAL ' <<<"$stage" | grep -qvx 'STOPSIGNAL SIGTERM'; then
	die "$dockerfile sets a STOPSIGNAL other than SIGTERM, which docker import cannot"
fi
grep -q '^ENTRYPOINT ' <<<"$stage" || die "no ENTRYPOINT in the runtime stage of $dockerfile"

# Everything the packages need, as apt resolves it for an empty system
# (first alternatives, no recommends): "name version" lines.
empty=$(mktemp)
root=$(mktemp -d)
trap 'rm -rf "$root" "$empty"' EXIT
resolve() {
	apt-get -s -q -o Dir::State::status="$empty" -o APT::Install-Recommends=false \
		install "${runtime[@]}" "${userland[@]}" 2>&1 | awk '/^Inst /{ gsub(/[()]/, "", $3); print $2, $3 }'
}
pkgs=$(resolve)
if [[ -z "$pkgs" ]]; then
	# No index yet (fresh machine): refresh once and retry.
	apt-get update -q >/dev/null 2>&1 || true
	pkgs=$(resolve)
fi
[[ -n "$pkgs" ]] || die "apt cannot resolve ${runtime[*]} ${userland[*]}"

# Download what the cache lacks. apt's sandbox user cannot write to
# root-owned directories: a private world-writable download dir.
mkdir -p "$cache"
deb_of() { ls "$cache/$1_${2//:/%3a}_"*.deb 2>/dev/null | head -n 1; }
missing=()
while read -r name ver; do
	[[ -n "$(deb_of "$name" "$ver")" ]] || missing+=("$name=$ver")
done <<<"$pkgs"
if ((${#missing[@]} > 0)); then
	dl=$(mktemp -d)
	chmod 0777 "$dl"
	(cd "$dl" && apt-get download -q "${missing[@]}" >/dev/null 2>"$dl/err") || {
		cat "$dl/err" >&2; rm -rf "$dl"; die "apt-get download failed"
	}
	mv "$dl"/*.deb "$cache"/
	rm -rf "$dl"
fi

# Each file's content and base name, not its path: the same inputs hash the
# same in any checkout and build directory.
content_hashes() {
	local f
	for f in "$@"; do
		printf '%s  %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "${f##*/}"
	done
}
mapfile -t helpers < <(find "$build" -maxdepth 2 -type f -name 'runnerd-*' -perm -u+x | sort)
inputs=$( {
	content_hashes "$self" "$dockerfile"
	echo "$pkgs"
	content_hashes "$build/service/runnerd" "$build/cli/runnerctl" "${helpers[@]}"
} | sha256sum | cut -c1-16)
have=$(docker image inspect --format '{{ index .Config.Labels "runnerd.image.inputs" }}' "$tag" 2>/dev/null || true)
old=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
if [[ "$have" == "$inputs" ]]; then
	echo "build-image-offline.sh: $tag is up to date ($inputs)"
	exit 0
fi

# Debian 12's merged /usr: /bin, /sbin, /lib* are links into /usr, and
# every package's files land behind them.
mkdir -p "$root"/usr/{bin,sbin,lib,lib64}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done
while read -r name ver; do
	dpkg-deb --fsys-tarfile "$(deb_of "$name" "$ver")" | tar -x --keep-directory-symlink -C "$root"
done <<<"$pkgs"
# No maintainer scripts ran: what they would have set up, by hand.
ln -sf dash "$root/usr/bin/sh"
rm -rf "$root"/usr/share/{doc,man,info,locale,lintian,bug}
DESTDIR=$root cmake --install "$build" --strip >/dev/null
rm -rf "$root/usr/local/include" "$root/usr/local/lib"
ldconfig -r "$root"

mkdir -p "$root"/{etc,tmp,var/tmp,root,home/runnerd,run/runnerd,proc,sys,dev}
cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/bash
runnerd:x:10001:10001::/home/runnerd:/usr/sbin/nologin
runnerd-sandbox:x:10002:10002:runnerd sandboxed commands:/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
runnerd:x:10001:
runnerd-sandbox:x:10002:
nogroup:x:65534:
GROUP
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 0700 "$root/root" "$root/home/runnerd" "$root/run/runnerd"
chown 10001:10001 "$root/home/runnerd" "$root/run/runnerd"

# Reproducible bytes: fixed mtimes, numeric owners, sorted entries.
tar --sort=name --mtime=@0 --numeric-owner -C "$root" -cf - . |
	docker import "${changes[@]}" \
		--change "LABEL runnerd.image.inputs=$inputs" \
		--change "LABEL org.opencontainers.image.version=$version" \
		--message "runnerd $version, assembled from Debian packages without a registry" \
		- "$tag" >/dev/null
# The image this tag named before, unless a container still uses it.
[[ -z "$old" ]] || docker rmi "$old" >/dev/null 2>&1 || true
echo "build-image-offline.sh: built $tag ($inputs, $(wc -l <<<"$pkgs") packages, $(du -sh "$root" | cut -f1))"
