#!/bin/sh
# The compose stack's secrets, made once per installation: run by the one-shot `secrets` service
# (docker-compose.yml) before anything that reads them, in the Redis image (busybox sh).
#
# For each secret: the value from .env when set there (REDIS_PASSWORD, GRAFANA_ADMIN_PASSWORD),
# else the one kept from an earlier start, else a new random one (32 bytes from /dev/urandom as
# 64 hex digits: URL-safe, it goes into the service's Redis URL). The kept copy is
# $SECRETS_DIR/.kept/<name>, readable by root only; every consumer gets its own copy, owned by
# the user its container runs as, mode 0400, rewritten at every start so a changed .env value
# reaches all of them. Files are replaced by rename, never rewritten in place: this runs as root
# with CAP_CHOWN only (no CAP_DAC_OVERRIDE), which cannot open another user's 0400 file.
#
# Output says what was done with each secret, never its value.
#
# Environment: SECRETS_DIR (default /secrets); REDIS_PASSWORD, GRAFANA_ADMIN_PASSWORD (optional);
# the owners REDIS_OWNER (default redis: the user of the Redis image this runs in), APP_OWNER
# (1000, node), GRAFANA_OWNER (472), REDIS_EXPORTER_OWNER (59000).
# Layout (docker-compose.yml mounts it read-only at /secrets in each consumer):
#   redis/redis.conf               requirepass, included by redis-server
#   redis/password                 for the healthcheck's redis-cli
#   app/redis-password             REDIS_PASSWORD_FILE of the service
#   redis-exporter/redis-password  for redis_exporter
#   grafana/admin-password         GF_SECURITY_ADMIN_PASSWORD__FILE
set -eu
umask 077

dir=${SECRETS_DIR:-/secrets}
redis_owner=${REDIS_OWNER:-redis}
app_owner=${APP_OWNER:-1000}
grafana_owner=${GRAFANA_OWNER:-472}
exporter_owner=${REDIS_EXPORTER_OWNER:-59000}

say() { printf 'secrets: %s\n' "$*"; }

# Prints the value of secret $1: from the environment variable $2, else kept, else generated.
# $3 = url: the value goes into a URL, so one from .env must be URL-safe.
value() {
  kept="$dir/.kept/$1"
  from_env=$(eval "printf '%s' \"\${$2:-}\"")
  if [ -n "$from_env" ]; then
    case ${3:-}:$from_env in
      url:*[!A-Za-z0-9._~-]*) say "$2 in .env must be URL-safe (letters, digits, . _ ~ -), e.g. openssl rand -hex 32" >&2; return 1 ;;
    esac
    printf '%s' "$from_env" > "$kept.new" && mv "$kept.new" "$kept"
    say "$1: taken from $2 (.env)" >&2
  elif [ -s "$kept" ]; then
    say "$1: kept from an earlier start" >&2
  else
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$kept.new" && mv "$kept.new" "$kept"
    say "$1: generated" >&2
  fi
  cat "$kept"
}

# Writes stdin to file $1 (under $dir), owned by $2, mode 0400, replacing it atomically.
put() {
  mkdir -p "$dir/$(dirname "$1")"
  chmod 755 "$dir/$(dirname "$1")"
  cat > "$dir/$1.new"
  chmod 400 "$dir/$1.new"
  chown "$2" "$dir/$1.new"
  mv "$dir/$1.new" "$dir/$1"
}

mkdir -p "$dir/.kept"
chmod 755 "$dir"
chmod 700 "$dir/.kept"

redis=$(value redis-password REDIS_PASSWORD url)
grafana=$(value grafana-admin-password GRAFANA_ADMIN_PASSWORD)

printf 'requirepass %s\n' "$redis" | put redis/redis.conf "$redis_owner"
printf '%s' "$redis" | put redis/password "$redis_owner"
printf '%s' "$redis" | put app/redis-password "$app_owner"
printf '%s' "$redis" | put redis-exporter/redis-password "$exporter_owner"
printf '%s' "$grafana" | put grafana/admin-password "$grafana_owner"
say "written to $dir for redis ($redis_owner), app ($app_owner), redis-exporter ($exporter_owner), grafana ($grafana_owner)"
