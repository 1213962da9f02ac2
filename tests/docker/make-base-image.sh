#!/usr/bin/env bash
# Makes the offline test base image (default smbos-test/base:bookworm) without any image
# registry: debootstrap a minimal Debian bookworm from the machine's apt mirror, add Node
# and the docker CLI, and `docker import` the tree. Does nothing when the image exists.
#
# One image serves Dockerfile.nanoclaw as BASE_IMAGE, BUILD_IMAGE and DOCKER_CLI_IMAGE,
# and the stand-in as the per-turn CONTAINER_IMAGE (it has sh, ls, cat, sha256sum).
#
# Node: NODE_SOURCE=host copies this machine's /usr/bin/node (>= 20) and its npm, as
# NanoClaw needs Node >= 20; NODE_SOURCE=debian installs Debian's nodejs + npm (Node 18).
# The default is host when the host has Node >= 20 and npm, else debian.
# The docker CLI is the `docker` binary of Debian's docker.io package (no daemon).
#
# SMBOS_BASE_EXTRA adds Debian packages (comma-separated): the real-runtime tier makes a build
# image with `python3,make,g++` (better-sqlite3 compiles from source offline), which then also
# gets the host's Node headers (/usr/include/node, npm_config_nodedir=/usr) so node-gyp needs
# no download.
#
# Needs root (debootstrap, chroot), debootstrap, dpkg-deb, apt-get and a running engine.
# Environment: SMBOS_TEST_BASE_IMAGE (tag), NODE_SOURCE (host|debian), DEBIAN_MIRROR,
# SMBOS_BASE_EXTRA.
set -euo pipefail

IMAGE=${SMBOS_TEST_BASE_IMAGE:-smbos-test/base:bookworm}
SUITE=bookworm

say() { printf 'make-base-image: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    say "$IMAGE exists; nothing to do"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap and chroot need it)"
for tool in debootstrap dpkg-deb apt-get docker; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

# The Debian mirror this machine's apt uses (deb822 or one-line format).
mirror() {
    if [ -n "${DEBIAN_MIRROR:-}" ]; then
        echo "$DEBIAN_MIRROR"
        return
    fi
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        uri=$(awk -v suite="$SUITE" '
            /^[[:space:]]*$/ { if (u != "" && s) { print u; exit } u = ""; s = 0; next }
            /^URIs:/ { u = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) s = 1 }
            END { if (u != "" && s) print u }' "$f" | head -n1)
        if [ -n "$uri" ]; then echo "$uri"; return; fi
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        uri=$(awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2; exit }' "$f")
        if [ -n "$uri" ]; then echo "$uri"; return; fi
    done
    echo "http://deb.debian.org/debian"
}

host_node_ok() {
    [ -x /usr/bin/node ] && [ -f /usr/lib/node_modules/npm/bin/npm-cli.js ] || return 1
    local major
    major=$(/usr/bin/node -p 'process.versions.node.split(".")[0]' 2>/dev/null) || return 1
    [ "$major" -ge 20 ]
}

NODE_SOURCE=${NODE_SOURCE:-}
if [ -z "$NODE_SOURCE" ]; then
    if host_node_ok; then NODE_SOURCE=host; else NODE_SOURCE=debian; fi
fi
case "$NODE_SOURCE" in
    host) host_node_ok || die "NODE_SOURCE=host needs /usr/bin/node >= 20 and /usr/lib/node_modules/npm"
          INCLUDE="ca-certificates,libstdc++6" ;;
    debian) INCLUDE="ca-certificates" ;;
    *) die "NODE_SOURCE must be host or debian, got $NODE_SOURCE" ;;
esac

EXTRA=${SMBOS_BASE_EXTRA:-}
if [ -n "$EXTRA" ]; then INCLUDE="$INCLUDE,$EXTRA"; fi

MIRROR=$(mirror)
WORK=$(mktemp -d /var/tmp/smbos-base.XXXXXX)
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
ROOT=$WORK/rootfs
START=$(date +%s)

say "debootstrap $SUITE from $MIRROR (minbase + $INCLUDE; Node from $NODE_SOURCE)"
debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap failed (log above)"; }

# The docker CLI only: the one binary out of Debian's docker.io package.
say "docker CLI from Debian's docker.io package"
(cd "$WORK" && { apt-get download docker.io >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get download docker.io >/dev/null; }; }) \
    || die "apt-get download docker.io failed"
dpkg-deb --fsys-tarfile "$WORK"/docker.io_*.deb | tar -x -C "$ROOT" ./usr/bin/docker
chroot "$ROOT" /usr/bin/docker --version >/dev/null || die "the docker CLI does not run in the new tree"

if [ "$NODE_SOURCE" = debian ]; then
    # Through apt inside the tree: debootstrap's own resolver leaves npm's dependencies
    # (virtual packages) unconfigured.
    say "nodejs and npm from Debian (apt-get in the new tree)"
    { chroot "$ROOT" apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive chroot "$ROOT" apt-get install -y -qq --no-install-recommends nodejs npm; } \
        >"$WORK/apt.log" 2>&1 || { tail -n 20 "$WORK/apt.log" >&2; die "apt-get install nodejs npm failed (log above)"; }
fi
if [ "$NODE_SOURCE" = host ]; then
    say "node $(/usr/bin/node --version) and npm from this machine"
    install -m 0755 /usr/bin/node "$ROOT/usr/bin/node"
    mkdir -p "$ROOT/usr/lib/node_modules"
    cp -a /usr/lib/node_modules/npm "$ROOT/usr/lib/node_modules/npm"
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/bin/npm"
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/bin/npx"
fi
NODEDIR_ENV=()
if [ -n "$EXTRA" ] && [ "$NODE_SOURCE" = host ] && [ -d /usr/include/node ]; then
    say "Node headers from this machine (/usr/include/node) for node-gyp"
    mkdir -p "$ROOT/usr/include"
    cp -a /usr/include/node "$ROOT/usr/include/node"
    NODEDIR_ENV=(--change 'ENV npm_config_nodedir=/usr')
fi
chroot "$ROOT" /usr/bin/node --version >/dev/null || die "node does not run in the new tree"
chroot "$ROOT" /usr/bin/npm --version >/dev/null || die "npm does not run in the new tree"

# Smaller: no package caches, lists or documentation.
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/lib/apt/lists/* \
    "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* "$ROOT"/var/log/*.log \
    "$ROOT"/var/log/apt/* "$ROOT"/tmp/* "$ROOT"/root/.npm

say "docker import $IMAGE"
tar --numeric-owner -C "$ROOT" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'LABEL io.smbos.test-base=1' \
    --change 'CMD ["/bin/sh"]' \
    "${NODEDIR_ENV[@]}" \
    - "$IMAGE" >/dev/null

SIZE=$(docker image inspect --format '{{.Size}}' "$IMAGE")
say "made $IMAGE in $(( $(date +%s) - START ))s, $(( SIZE / 1000000 )) MB (node $(chroot "$ROOT" /usr/bin/node --version), $NODE_SOURCE)"
