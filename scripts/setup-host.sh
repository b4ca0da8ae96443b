#!/usr/bin/env bash
# Prepares a fresh Debian/Ubuntu machine (as root) to run Kiln and its tests: the OCI
# runtimes and debootstrap from apt (plus a JDK and g++ for the tests), Kiln's npm
# dependencies, the examples' own dependencies, and the host fixes `kiln doctor --fix`
# knows (crun needs hugetlb on a v1 mount here).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-host: run as root (containers need it)" >&2
  exit 1
fi
if ! command -v node >/dev/null || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "setup-host: Kiln needs Node.js 20 or newer with npm on the PATH" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq crun runc debootstrap ca-certificates util-linux mount >/dev/null
# For the test suite only, not for Kiln (its builds run javac in a builder image): a JDK
# compiles the Java shim's process tests and some fixtures on the host, g++ a native addon,
# python3-dev's headers a Python extension (test/integration/node-bundles.test.ts), the AWS CLI
# calls Lambda's Invoke API with a signed request (test/lambda/gateway-invoke.test.ts).
apt-get install -y -qq openjdk-17-jdk-headless g++ python3-dev awscli >/dev/null
# For the shipping tests: a real registry (the CNCF distribution registry), htpasswd for its
# Basic auth, podman to load and run what `kiln save` writes, and containerd (the runtime
# Kubernetes nodes use) to run what `kiln export k8s` names (test/integration/k8s-containerd.test.ts
# starts its own daemon; the package's systemd unit is not used).
apt-get install -y -qq docker-registry apache2-utils podman containerd >/dev/null
npm ci --no-audit --no-fund
npm ci --no-audit --no-fund --prefix examples/hello-ts
node dist/cli/main.js doctor --fix
