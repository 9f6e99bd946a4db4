#!/usr/bin/env bash
# Run before the tests (`npm test`): installs what they need beyond npm packages, once.
# The servers themselves come from scripts/services.sh (the vitest global setup calls it).
set -euo pipefail
if ! /usr/bin/python3 -c 'import dkim' 2>/dev/null; then
  echo "[test-deps] installing python3-dkim (independent DKIM verifier used by the email tests)" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-dkim >&2
fi
# Mailpit (built once into ~/.cache/leadflow/bin) for the email HTML compatibility check; without
# Go or the module proxy that one test is skipped, saying why.
if ! bash "$(dirname "$0")/mailpit.sh" path >/dev/null 2>&1; then
  bash "$(dirname "$0")/mailpit.sh" install >/dev/null ||
    echo "[test-deps] Mailpit could not be built; test/integration/mail-html-check.test.ts will be skipped" >&2
fi
