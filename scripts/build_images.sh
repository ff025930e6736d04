#!/usr/bin/env bash
# Build the worker images (CV, then deploy) on a machine with no image registry, offline except for package sources:
#   1. a Debian bookworm base image made with debootstrap + `docker import` (tao-toolkit-oss/base:bookworm),
#   2. a wheelhouse (build/wheelhouse) of the worker's dependencies from this machine's pip (wheels already on
#      this disk are symlinked, not copied: scripts/wheelhouse.py),
#   3. `docker-compose build cv` from that base, pip installing only from the wheelhouse, served over HTTP on
#      the Docker bridge (no multi-GB build context, no wheel layer left in the image).
# Users with registry access just run `docker compose build` (NVIDIA base images by default).
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=tao-toolkit-oss/base:bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
WHEELHOUSE=build/wheelhouse

bash scripts/docker_engine.sh

# The image's dependency layer (torch with its CUDA libraries) needs ~9 GB while it builds. Too little disk is a
# machine's limit, not a failure of ours: exit 3, which scripts/test.sh reports as "Docker tests skipped".
NEED_GB=12
docker_root=$(docker info --format '{{.DockerRootDir}}')
free_gb=$(df -P -BG "$docker_root" | awk 'NR == 2 { sub("G", "", $4); print $4 }')
if ! docker image inspect tao-toolkit-oss/cv:0.1.0 >/dev/null 2>&1 && [ "$free_gb" -lt "$NEED_GB" ]; then
  echo "build_images.sh: only ${free_gb} GB free under $docker_root; building the CV image needs ${NEED_GB} GB"
  exit 3
fi
apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }

if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  rootfs=$(mktemp -d /tmp/tao-rootfs.XXXXXX)
  echo "base image: debootstrap bookworm into $rootfs (log: /tmp/tao-debootstrap.log)"
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$rootfs" "$MIRROR" >/tmp/tao-debootstrap.log 2>&1 \
    || { echo "debootstrap failed: see /tmp/tao-debootstrap.log"; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - "$BASE" >/dev/null
  rm -rf "$rootfs"
fi

echo "wheelhouse: the worker's dependencies into $WHEELHOUSE (kept between runs)"
.venv/bin/python scripts/wheelhouse.py "$WHEELHOUSE" ".[cv]" setuptools wheel 2>&1 \
  | { grep -v "is ignored: it is neither a file nor a directory" || true; }

# Build containers reach this machine at the address of the docker0 bridge.
gateway=$(python3 -c 'import fcntl, socket, struct; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print(socket.inet_ntoa(fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", b"docker0"))[20:24]))')  # SIOCGIFADDR
# A fixed port when free: WHEELHOUSE_URL is a build argument, and a new value would rebuild the dependency layer.
port=$(python3 -c 'import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("", 38517))
except OSError: s.bind(("", 0))
print(s.getsockname()[1])')
python3 -m http.server "$port" --bind "$gateway" --directory "$WHEELHOUSE" >/tmp/tao-wheelhouse-http.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT

command -v docker-compose >/dev/null 2>&1 || apt_install docker-compose
echo "image: docker-compose build cv (BASE_IMAGE=$BASE, wheels from http://$gateway:$port/)"
CV_BASE_IMAGE=$BASE WHEELHOUSE_URL="http://$gateway:$port/" docker-compose build cv
# The deploy worker (no torch) from the same base and wheelhouse; without CUDA here, without pycuda (ONNX Runtime only).
echo "image: docker-compose build deploy (BASE_IMAGE=$BASE, EXTRAS=inference)"
DEPLOY_BASE_IMAGE=$BASE DEPLOY_EXTRAS=inference WHEELHOUSE_URL="http://$gateway:$port/" docker-compose build deploy
# A rebuild leaves the previous image untagged: drop ours (by label), so rebuilds don't pile up GBs.
docker image prune --force --filter "label=org.opencontainers.image.title=tao-toolkit-oss CV worker" >/dev/null
docker image prune --force --filter "label=org.opencontainers.image.title=tao-toolkit-oss deploy worker" >/dev/null
