#!/usr/bin/env bash
# Fails when dist/ is not what the source builds: rebuild into a temporary folder and compare.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npx tsx scripts/build.ts --outdir "$tmp"
if ! diff -r -q "$tmp" dist >/dev/null; then
  echo "dist/ is stale: it differs from what src/ builds. Run 'npm run build' and commit dist/." >&2
  diff -r -q "$tmp" dist >&2 || true
  exit 1
fi
echo "dist/ is current"
