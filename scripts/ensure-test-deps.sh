#!/usr/bin/env bash
# Run before the tests (`npm test`): installs what they need beyond npm packages, once.
# The servers themselves come from scripts/services.sh (the vitest global setup calls it).
set -euo pipefail
if ! /usr/bin/python3 -c 'import dkim' 2>/dev/null; then
  echo "[test-deps] installing python3-dkim (independent DKIM verifier used by the email tests)" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-dkim >&2
fi
