#!/usr/bin/env bash
# Make a Docker engine reachable: use a running one, else (as root, with apt) install Debian's docker.io and
# start dockerd in the background. Exit 0 when `docker info` works; otherwise print why and exit 1.
set -uo pipefail
engine_up() { docker info >/dev/null 2>&1; }
engine_up && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "docker engine: not reachable, and starting one needs root (run dockerd, or add yourself to the docker group)"
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { echo "docker engine: dockerd missing and no apt-get to install it"; exit 1; }
  echo "docker engine: installing docker.io (Debian package)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/tmp/tao-apt-docker.log 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/tmp/tao-apt-docker.log 2>&1; } \
    || { echo "docker engine: apt-get install docker.io failed (see /tmp/tao-apt-docker.log)"; exit 1; }
fi
echo "docker engine: starting dockerd (log: /tmp/tao-dockerd.log)"
nohup dockerd >/tmp/tao-dockerd.log 2>&1 &
for _ in $(seq 60); do engine_up && exit 0; sleep 1; done
echo "docker engine: dockerd did not come up in 60 s; last log lines:"; tail -5 /tmp/tao-dockerd.log
exit 1
