#!/usr/bin/env bash
# Builds the stand-in agent image (default smbos/nanoclaw-standin:test) through the real
# Dockerfile.nanoclaw, offline: tests/standin is copied to build/nanoclaw-src (the
# NANOCLAW_SRC path, so no git clone happens) and every stage uses the locally made base
# image (tests/docker/make-base-image.sh), so nothing is pulled. The base image is also the
# stand-in's per-turn image (AGENT_IMAGE): no image name a real fleet uses is ever tagged.
#
# Environment: SMBOS_STANDIN_IMAGE (tag), SMBOS_TEST_BASE_IMAGE (base image tag).
# Extra arguments are passed to `docker build` (e.g. --no-cache).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
IMAGE=${SMBOS_STANDIN_IMAGE:-smbos/nanoclaw-standin:test}
BASE=${SMBOS_TEST_BASE_IMAGE:-smbos-test/base:bookworm}
SRC=build/nanoclaw-src

say() { printf 'build-standin-image: %s\n' "$*" >&2; }

if ! docker image inspect "$BASE" >/dev/null 2>&1; then
    SMBOS_TEST_BASE_IMAGE=$BASE bash "$HERE/make-base-image.sh"
fi

# A fresh copy of the stand-in source: no dist/, no node_modules/.
rm -rf "${ROOT:?}/$SRC"
mkdir -p "$ROOT/$SRC"
(cd "$ROOT/tests/standin" && tar -c --exclude=./dist --exclude=./node_modules .) | tar -x -C "$ROOT/$SRC"

say "docker build -f Dockerfile.nanoclaw -t $IMAGE (NANOCLAW_SRC=$SRC, base $BASE)"
START=$(date +%s)
cd "$ROOT"
DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0} docker build \
    -f Dockerfile.nanoclaw \
    --build-arg BASE_IMAGE="$BASE" \
    --build-arg BUILD_IMAGE="$BASE" \
    --build-arg DOCKER_CLI_IMAGE="$BASE" \
    --build-arg NANOCLAW_SRC="$SRC" \
    --build-arg AGENT_IMAGE="$BASE" \
    -t "$IMAGE" \
    "$@" \
    .
SIZE=$(docker image inspect --format '{{.Size}}' "$IMAGE")
say "built $IMAGE in $(( $(date +%s) - START ))s, $(( SIZE / 1000000 )) MB"
