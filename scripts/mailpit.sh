#!/usr/bin/env bash
# Mailpit, the mail catcher of docker-compose, built once from the Go module proxy into
# ~/.cache/leadflow/bin, for the HTML compatibility check of our email templates
# (scripts/mail-html-check.ts and test/integration/mail-html-check.test.ts).
#
#   scripts/mailpit.sh install   build it when missing; print the binary's path
#   scripts/mailpit.sh path      print the binary's path when built (exit 1 otherwise)
#
# Built like FerretDB in scripts/services.sh: `go install github.com/axllent/mailpit@v1.33.1` also
# reads the module's version list, which the proxy here may refuse, so the exact version is
# downloaded and built. Safe to run concurrently (flock).
set -euo pipefail

version=${LEADFLOW_MAILPIT_VERSION:-v1.33.1}
cache=${LEADFLOW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/leadflow}
bin="$cache/bin/mailpit-$version"

log() { printf '[mailpit] %s\n' "$*" >&2; }

install() {
  [ -x "$bin" ] && return 0
  command -v go >/dev/null || { log "Go is needed to build Mailpit"; return 1; }
  mkdir -p "$cache/bin" "$cache/src"
  exec 8>"$cache/mailpit.lock"
  flock 8
  [ -x "$bin" ] && return 0
  log "building Mailpit $version with Go (first run only, about a minute)"
  local dir
  dir=$(go mod download -json "github.com/axllent/mailpit@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { log "the Go module proxy does not serve Mailpit $version"; return 1; }
  rm -rf "$cache/src/mailpit-$version"
  cp -r "$dir" "$cache/src/mailpit-$version"
  chmod -R u+w "$cache/src/mailpit-$version"
  (cd "$cache/src/mailpit-$version" && GOFLAGS=-mod=mod go build -trimpath \
    -ldflags "-s -w -X github.com/axllent/mailpit/config.Version=$version" -o "$bin.tmp" .) >&2
  mv "$bin.tmp" "$bin"
}

case ${1:-install} in
  install) install && echo "$bin" ;;
  path) [ -x "$bin" ] && echo "$bin" ;;
  *) echo "usage: $0 install|path" >&2; exit 2 ;;
esac
