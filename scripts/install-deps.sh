#!/usr/bin/env bash
# Installs the system packages the tests and the native stack use, from Debian's archive:
# redis-server, prometheus (with promtool), prometheus-alertmanager (with amtool),
# prometheus-redis-exporter, siege, wrk, curl and jq (scripts/load.sh asks Prometheus for its
# count with them), and for the compose test (test/compose): docker-compose, podman with runc,
# CNI networking (containernetworking-plugins, iptables, and the dnsname plugin without which
# compose's services cannot find each other by name), debootstrap and busybox-static (the
# stand-in images are built from these and the packages above), and unzip (scripts/ensure-kubectl.sh
# unpacks kubectl with it), and stress-ng (scripts/flake-hunt.sh keeps the cores busy with it).
# statsd_exporter and Grafana are not packaged by Debian: put their binaries on PATH to run the
# parts that need them.
# Skips apt entirely when everything is already there; needs root (or sudo) otherwise.
set -euo pipefail
need=()
for pair in redis-server:redis-server promtool:prometheus prometheus-alertmanager:prometheus-alertmanager \
            amtool:prometheus-alertmanager prometheus-redis-exporter:prometheus-redis-exporter \
            siege:siege wrk:wrk curl:curl jq:jq docker-compose:docker-compose podman:podman runc:runc \
            debootstrap:debootstrap unzip:unzip stress-ng:stress-ng; do
  bin=${pair%%:*} pkg=${pair##*:}
  command -v "$bin" >/dev/null 2>&1 || need+=("$pkg")
done
# Files rather than commands: the static busybox the stand-ins copy, podman's network plugins.
for pair in /bin/busybox:busybox-static /usr/lib/cni/bridge:containernetworking-plugins /usr/sbin/iptables:iptables \
            /usr/lib/cni/dnsname:golang-github-containernetworking-plugin-dnsname; do
  [ -e "${pair%%:*}" ] || need+=("${pair##*:}")
done
if [ ${#need[@]} -eq 0 ]; then
  echo "install-deps: all system packages present"
  exit 0
fi
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's packages start their own daemons where a service manager exists; the tests start
# their own on free ports, so stop any that came up on the default ports.
for svc in redis-server prometheus prometheus-alertmanager prometheus-redis-exporter; do
  $sudo service "$svc" stop >/dev/null 2>&1 || true
done
echo "install-deps: done"
