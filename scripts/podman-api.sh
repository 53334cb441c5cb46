#!/usr/bin/env bash
# Source it: gives docker-compose a container engine through podman's Docker-compatible API,
# for the compose test (test/compose). Where DOCKER_HOST is already set, nothing changes.
# Only when CI=true it also configures the machine (/etc/containers/containers.conf), because
# what this CI machine needs is not what a developer's machine may want:
# - default_ulimits: root here cannot raise RLIMIT_NOFILE above 20000, and podman's default
#   (1048576) makes every container fail to start;
# - runtime = "runc": crun fails on this machine's hybrid cgroup setup.
# Then it starts `podman system service` on a socket and exports DOCKER_HOST and PODMAN_API_PID
# (kill it when done). Elsewhere the compose test starts its own service when DOCKER_HOST is unset.
if [ "${CI:-}" = "true" ] && [ -z "${DOCKER_HOST:-}" ] && command -v podman >/dev/null 2>&1; then
  mkdir -p /etc/containers
  printf '%s\n' '[containers]' 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]' \
    '[engine]' 'runtime = "runc"' >/etc/containers/containers.conf
  _podman_api_socket=/run/podman/podman.sock
  mkdir -p "$(dirname "$_podman_api_socket")"
  podman system service --time=0 "unix://$_podman_api_socket" >/tmp/podman-api.log 2>&1 </dev/null &
  PODMAN_API_PID=$!
  for _ in $(seq 1 100); do [ -S "$_podman_api_socket" ] && break; sleep 0.1; done
  if [ -S "$_podman_api_socket" ]; then
    export DOCKER_HOST="unix://$_podman_api_socket" PODMAN_API_PID
    echo "podman-api: podman $(podman version --format '{{.Client.Version}}') serving the Docker API at $DOCKER_HOST"
  else
    echo "podman-api: podman system service did not start (see /tmp/podman-api.log); the compose test will say why it skips" >&2
  fi
  unset _podman_api_socket
fi
