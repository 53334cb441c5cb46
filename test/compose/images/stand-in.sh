#!/usr/bin/env bash
# Builds a stand-in image for one compose service from Debian's packages, under the pinned name
# of the official image, where no registry is reachable: busybox (the shell, wget and grep the
# compose healthchecks use) plus the binary and the glibc libraries it links, laid out like the
# official image (paths, user, working directory, entrypoint), so docker-compose.yml's commands,
# healthchecks and volumes work unchanged.
#
# Usage: stand-in.sh KIND IMAGE   KIND: redis | prometheus | alertmanager | redis-exporter
# Skips the build when IMAGE already carries this recipe's hash in its label
# `fastify-monitoring.stand-in` (the recipe: this script and the Debian package versions).
# Prints one line: "<built|cached> IMAGE (<what it holds>)".
set -euo pipefail
kind=$1 image=$2
label=fastify-monitoring.stand-in

# Per kind: Debian package, host binary -> image path pairs, data files Debian's build reads at
# run time (same path), user, writable dirs, entrypoint, default command. Paths and users are the official images' (their Dockerfiles).
case "$kind" in
  redis)
    pkg=redis-server user=999:999 name=redis dirs=/data workdir=/data
    bins=(/usr/bin/redis-server:/usr/local/bin/redis-server /usr/bin/redis-cli:/usr/local/bin/redis-cli)
    entrypoint='[]' cmd='["redis-server"]' ;;
  prometheus)
    pkg=prometheus user=65534:65534 name=nobody dirs=/prometheus workdir=/prometheus
    bins=(/usr/bin/prometheus:/bin/prometheus /usr/bin/promtool:/bin/promtool) data=/usr/share/prometheus/web
    entrypoint='["/bin/prometheus"]' cmd='["--config.file=/etc/prometheus/prometheus.yml"]' ;;
  alertmanager)
    pkg=prometheus-alertmanager user=65534:65534 name=nobody dirs=/alertmanager workdir=/alertmanager
    bins=(/usr/bin/prometheus-alertmanager:/bin/alertmanager /usr/bin/amtool:/bin/amtool)
    # Debian's build reads its notification templates from here (default.tmpl).
    data=/usr/share/prometheus/alertmanager
    entrypoint='["/bin/alertmanager"]' cmd='["--config.file=/etc/alertmanager/alertmanager.yml"]' ;;
  redis-exporter)
    pkg=prometheus-redis-exporter user=59000:59000 name=exporter dirs= workdir=/
    bins=(/usr/bin/prometheus-redis-exporter:/redis_exporter)
    entrypoint='["/redis_exporter"]' cmd='[]' ;;
  *) echo "stand-in.sh: unknown kind '$kind'" >&2; exit 2 ;;
esac

version=$(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null) || { echo "stand-in.sh: $pkg is not installed (apt-get install $pkg)" >&2; exit 1; }
bbversion=$(dpkg-query -W -f '${Version}' busybox-static 2>/dev/null) || { echo "stand-in.sh: busybox-static is not installed" >&2; exit 1; }
hash=$( { cat "$0"; echo "$kind $image $version $bbversion"; } | sha256sum | cut -c1-16)
if [ "$(podman image inspect --format "{{ index .Labels \"$label\" }}" "$image" 2>/dev/null)" = "$hash" ]; then
  echo "cached $image (Debian $pkg $version)"
  exit 0
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,etc,tmp,lib64,usr/local/bin}
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
# Links for every applet (sh, wget, grep, ...), pointing at /bin/busybox inside the image.
for applet in $(/bin/busybox --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
uid=${user%%:*} gid=${user##*:}
printf 'root:x:0:0:root:/root:/bin/sh\n%s:x:%s:%s:%s:%s:/bin/false\n' "$name" "$uid" "$gid" "$name" "${workdir}" >"$root/etc/passwd"
printf 'root:x:0:\n%s:x:%s:\n' "$name" "$gid" >"$root/etc/group"
for pair in "${bins[@]}"; do
  src=${pair%%:*} dst=${pair##*:}
  mkdir -p "$root$(dirname "$dst")"
  cp -L "$src" "$root$dst"
  # The glibc libraries the binary links (ldd's resolved paths), at the same paths.
  for lib in $(ldd "$src" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
done
for path in ${data:-}; do
  mkdir -p "$root$(dirname "$path")"
  cp -a "$path" "$root$path"
done
for dir in $dirs; do
  mkdir -p "$root$dir"
  chown "$user" "$root$dir"
done

# podman import keeps the tar's ownership (a Dockerfile COPY would make it root's).
tar -C "$root" -c . | podman import --quiet \
  --change "USER $user" --change "WORKDIR $workdir" \
  --change "ENTRYPOINT $entrypoint" --change "CMD $cmd" \
  --change "LABEL $label=$hash" \
  --change "LABEL org.opencontainers.image.description=stand-in-from-debian-$pkg-$version" \
  - "$image" >/dev/null
echo "built $image (Debian $pkg $version)"
