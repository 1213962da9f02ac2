#!/usr/bin/env bash
# The whole portfolio (every agent folder of agents/) running offline on the NanoClaw STAND-IN
# (tests/standin), a test fixture that only answers like NanoClaw: no model, no real agent.
#
#   tests/docker/demo.sh up     copy agents/ to build/demo/agents (fresh, without any .env),
#                               write demo .env files with fake values, `smbos up --no-build`
#   tests/docker/demo.sh down   `smbos down` for the demo project (volumes kept)
#
# The operator's agents/*/.env, compose/ and state/ are never read or touched: the demo works on
# its copy under build/demo/ (Compose project smbos-demo, its own Compose file and state/).
# Images: the stand-in image and the offline base image are built when missing
# (build-standin-image.sh, make-base-image.sh); the stand-in's per-turn image is the base image
# itself (the stand-in image records it as its CONTAINER_IMAGE). No image name that a real
# fleet uses (smbos/nanoclaw*, nanoclaw-agent:*) is ever tagged.
#
# Environment: SMBOS_STANDIN_IMAGE, SMBOS_TEST_BASE_IMAGE, SMBOS_DEMO_PROJECT (smbos-demo),
# SMBOS_DEMO_DIR (build/demo),
# SMBOS_DEMO_WAIT (seconds, 180), SMBOS (the smbos command; default .venv/bin/smbos).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
IMAGE=${SMBOS_STANDIN_IMAGE:-smbos/nanoclaw-standin:test}
BASE=${SMBOS_TEST_BASE_IMAGE:-smbos-test/base:bookworm}
PROJECT=${SMBOS_DEMO_PROJECT:-smbos-demo}
WAIT=${SMBOS_DEMO_WAIT:-180}
DEMO=${SMBOS_DEMO_DIR:-$ROOT/build/demo}
AGENTS=$DEMO/agents

if [ -n "${SMBOS:-}" ]; then
    read -r -a SMBOS_CMD <<<"$SMBOS"
elif [ -x "$ROOT/.venv/bin/smbos" ]; then
    SMBOS_CMD=("$ROOT/.venv/bin/smbos")
elif command -v smbos >/dev/null; then
    SMBOS_CMD=(smbos)
else
    SMBOS_CMD=(python3 -m smbos)
fi
if [ -x "$ROOT/.venv/bin/python" ]; then PY=$ROOT/.venv/bin/python; else PY=python3; fi

say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }
banner() {
    printf '\n'
    printf '  ==================================================================================\n'
    printf '  OFFLINE DEMO on the NanoClaw STAND-IN (%s), NOT NanoClaw.\n' "$IMAGE"
    printf '  The agents answer with a diagnostic line (who they are, what they saw); no model\n'
    printf '  runs and nothing leaves this machine. The .env values are fake.\n'
    printf '  ==================================================================================\n\n'
}
smbos_demo() {
    SMBOS_IMAGE=$IMAGE SMBOS_PROJECT=$PROJECT "${SMBOS_CMD[@]}" "$@" --agents "$AGENTS"
}
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Files the runtime (uid 1000) wrote may not be removable by this user: remove them through a
# throw-away container of the local base image (no pull: the image is local).
remove_tree() {
    local dir=$1
    [ -e "$dir" ] || return 0
    rm -rf "$dir" 2>/dev/null && return 0
    docker image inspect "$BASE" >/dev/null 2>&1 || die "cannot remove $dir (files of uid 1000); remove it as root"
    docker run --rm --network none -v "$(dirname "$dir"):/parent" "$BASE" \
        rm -rf "/parent/$(basename "$dir")" || die "cannot remove $dir"
}

ensure_images() {
    if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
        say "building the stand-in image $IMAGE (tests/docker/build-standin-image.sh) ..."
        SMBOS_STANDIN_IMAGE=$IMAGE SMBOS_TEST_BASE_IMAGE=$BASE bash "$HERE/build-standin-image.sh" \
            || die "building $IMAGE failed"
    fi
    if ! docker image inspect "$BASE" >/dev/null 2>&1; then
        say "making the offline base image $BASE (tests/docker/make-base-image.sh) ..."
        SMBOS_TEST_BASE_IMAGE=$BASE bash "$HERE/make-base-image.sh" || die "making $BASE failed"
    fi
}

copy_portfolio() {
    [ -d "$ROOT/agents" ] || die "$ROOT/agents not found"
    remove_tree "$AGENTS"
    remove_tree "$DEMO/state"
    remove_tree "$DEMO/compose"
    mkdir -p "$AGENTS"
    # Everything but .env files: the operator's secrets never enter the demo.
    (cd "$ROOT/agents" && tar -c --exclude='.env' --exclude='*/.env' .) | tar -x -C "$AGENTS"
    if find "$AGENTS" -name .env | grep -q .; then die "a .env file was copied into $AGENTS"; fi
    # Demo .env files: a fake value for every key `smbos validate --strict` reports missing
    # (the runtime credential, the keys of each integration and each .env.example).
    local report
    report=$(smbos_demo validate --strict --json 2>/dev/null || true)
    REPORT=$report "$PY" - "$AGENTS" <<'EOF'
import json, os, re, sys
from pathlib import Path

agents = Path(sys.argv[1]).resolve()
data = json.loads(os.environ["REPORT"])
keys: dict[str, list[str]] = {}
for problem in data["problems"]:
    path, field = problem["path"], problem["field"]
    if problem["severity"] != "error":
        continue
    if problem["message"].startswith("missing: integration "):
        # An integration's credential file (Calendar's OAuth client and token): a fake one, which
        # the stand-in never reads (its turns start no MCP server).
        file = Path(path).resolve()  # validate ran in this working directory
        if not file.is_relative_to(agents):
            sys.exit(f"demo: error: a credential file outside the demo copy: {path}")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text('{"demo": "fake, not a credential"}\n')
        print(f"demo: wrote {os.path.relpath(file)} (fake)")
        continue
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", field):
        continue
    match = re.fullmatch(r"(.*)/\.env( \(missing\))?", path)
    if not match:
        sys.exit(f"demo: error: unexpected problem in the portfolio: {path}: {field}: "
                 f"{problem['message']}")
    agent = Path(match.group(1)).name
    keys.setdefault(agent, [])
    if field not in keys[agent]:
        keys[agent].append(field)
for agent, names in sorted(keys.items()):
    env = agents / agent / ".env"
    lines = ["# Demo values for the NanoClaw stand-in: fake, not secrets, never valid anywhere."]
    lines += [f"{name}=demo-fake-{name.lower().replace('_', '-')}" for name in names]
    env.write_text("\n".join(lines) + "\n")
    env.chmod(0o600)
    print(f"demo: wrote {os.path.relpath(env)} with fake values for "
          f"{', '.join(names)}")
EOF
    smbos_demo validate --strict >/dev/null || die "the demo copy does not validate: see \`smbos validate --strict --agents $AGENTS\`"
    # As a user other than root or uid 1000, hand the runtime its folders the way `smbos up`
    # asks an operator to (root lets `smbos up` chown them itself).
    local uid
    uid=$(id -u)
    if [ "$uid" != 0 ] && [ "$uid" != 1000 ]; then
        for folder in "$AGENTS"/*/; do
            id=$(basename "$folder")
            mkdir -p "$DEMO/state/$id"
            chmod 0777 "$DEMO/state/$id" "$folder/memory"
            chmod 0644 "$folder/.env"
        done
    fi
}

check_ports() {
    local ports port busy=()
    ports=$(smbos_demo list --json | "$PY" -c 'import json,sys; print(" ".join(str(p) for p in sorted(a["port"] for a in json.load(sys.stdin) if a["enabled"])))')
    for port in $ports; do
        if port_in_use "$port"; then busy+=("$port"); fi
    done
    if [ ${#busy[@]} -gt 0 ]; then
        printf 'demo: error: port(s) %s on 127.0.0.1 are in use; the portfolio needs %s free.\n' \
            "${busy[*]}" "$(echo "$ports" | tr ' ' ',')" >&2
        printf 'demo:   Is the real fleet running (`smbos down`), or another program? See `ss -ltnp`.\n' >&2
        exit 1
    fi
    say "ports $(echo "$ports" | tr ' ' ',') on 127.0.0.1 are free"
}

cmd_up() {
    banner
    trap banner EXIT
    command -v docker >/dev/null || die "docker CLI not found"
    docker info >/dev/null 2>&1 || die "no Docker engine answers; start dockerd"
    # A previous demo first: its containers hold bind mounts of the folders about to be replaced.
    if [ -f "$DEMO/compose/docker-compose.yml" ]; then
        say "stopping the previous demo ..."
        smbos_demo down >/dev/null || die "\`smbos down\` of the previous demo failed"
    fi
    ensure_images
    # The demo's stores start empty too (only this project's volumes).
    docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT" | while read -r volume; do
        docker volume rm "$volume" >/dev/null
    done
    copy_portfolio
    check_ports
    say "smbos up --no-build (project $PROJECT, agents $AGENTS, image $IMAGE)"
    local code=0
    smbos_demo up --no-build --wait-timeout "$WAIT" || code=$?
    printf '\n'
    if [ "$code" -eq 0 ]; then
        say "the portfolio is up. Try:"
        say "  SMBOS_PROJECT=$PROJECT ${SMBOS_CMD[*]} chat andy 'hello' --agents $(realpath --relative-to=. "$AGENTS")"
        say "  curl http://127.0.0.1:3101/api/state"
        say "  tests/docker/demo.sh down"
    else
        say "smbos up failed (exit $code); the lines above say which agent and why"
    fi
    return "$code"
}

cmd_down() {
    banner
    trap banner EXIT
    if [ ! -f "$DEMO/compose/docker-compose.yml" ]; then
        say "no demo to stop ($DEMO/compose/docker-compose.yml does not exist)"
    else
        smbos_demo down
        say "the demo's store volumes (project $PROJECT) are kept until the next \`demo.sh up\`"
    fi
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    *) printf 'usage: %s up|down\n' "$0" >&2; exit 2 ;;
esac
