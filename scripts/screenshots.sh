#!/usr/bin/env bash
# Regenerates the README's screenshots of the web console (docs/*.png)
# from a live kscope demo, through the browser tests (test/browser), which
# save what they see when KSCOPE_SCREENSHOTS names a directory. Needs root
# (the demo traces its services) and chromium; takes about two minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

shots=$(mktemp -d)
trap 'rm -rf "$shots"' EXIT
(cd test/browser && KSCOPE_SCREENSHOTS="$shots" go test -count=1 -run '^TestDemoConsole$' .)
mkdir -p docs
for page in overview consumers; do
  cp "$shots/$page.png" "docs/$page.png"
  echo "docs/$page.png: $(( $(stat -c %s "docs/$page.png") / 1024 )) KiB"
done
