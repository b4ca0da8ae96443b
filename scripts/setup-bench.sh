#!/usr/bin/env bash
# The peers the benchmark compares Kiln with, from Debian's packages: docker (the bench
# starts its own dockerd), podman, and qemu with busybox for the microVM baseline. Run
# after setup-host.sh; without these, `npm run bench` skips those scenarios and says why.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq docker.io podman qemu-system-x86 busybox-static xz-utils >/dev/null
echo "setup-bench: docker, podman and qemu are installed"
