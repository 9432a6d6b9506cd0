#!/usr/bin/env bash
# Installs the real coding-agent CLIs that tests/e2e_cli drives, at the exact versions the tests were
# written against, into a cache folder outside the repo (no package.json is committed).
#
#   SUBGATE_OPTIN=1 bash tests/e2e_cli/install_clis.sh            # into /tmp/subgate-clis
#   SUBGATE_CLI_DIR=/somewhere SUBGATE_OPTIN=1 bash tests/e2e_cli/install_clis.sh
#
# Every package comes from the npm registry only; the native binaries these CLIs need ship as
# platform packages on the registry (optionalDependencies), so nothing else is downloaded.
set -euo pipefail

if [[ "${SUBGATE_OPTIN:-}" != "1" ]]; then
  echo "install_clis.sh: set SUBGATE_OPTIN=1 to install the opt-in CLIs" >&2
  exit 0
fi

DIR="${SUBGATE_CLI_DIR:-/tmp/subgate-clis}"
mkdir -p "$DIR"

# Keep in step with tests/e2e_cli/clis.py.
PACKAGES=(
  "@anthropic-ai/claude-code@2.1.332"
  "@openai/codex@0.169.0"
  "droid@0.215.0"
  "@sourcegraph/amp@0.0.1767830505-ga62310"
)

failed=0
for pkg in "${PACKAGES[@]}"; do
  echo "== npm install $pkg -> $DIR"
  if ! npm install --prefix "$DIR" --save-exact --no-audit --no-fund --loglevel=error "$pkg"; then
    echo "!! $pkg failed to install" >&2
    failed=1
  fi
done
ls -l "$DIR/node_modules/.bin" || true
exit "$failed"
