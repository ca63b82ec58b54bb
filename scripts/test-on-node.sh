#!/usr/bin/env bash
# Runs the test suite on another Node major (default 24, the current LTS line we support beside
# 22) with the npm registry's Node binary package (node-linux-<arch>), leaving this checkout and its
# node_modules, built for the Node on PATH, untouched:
#   .tmp/node-N/node/   the Node binary and its headers
#   .tmp/node-N/tree/   a copy of the tracked sources and of node_modules, better-sqlite3 rebuilt
#                       there for that Node's ABI from those headers (node-gyp downloads nothing)
# Usage: scripts/test-on-node.sh [MAJOR] [vitest arguments...]; its report is
# .tmp/node-N/tree/reports/vitest.json. Exit status: vitest's, or 1 if the set-up failed.
set -euo pipefail
major="${1:-24}"
shift || true
cd "$(dirname "$0")/.."
root="$PWD"
work="$root/.tmp/node-$major"

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  armv7l) arch=armv7l ;;
  *) echo "no Node package for $(uname -m)" >&2; exit 1 ;;
esac
pkg="node-linux-$arch"
started=$SECONDS
stamp() { echo "   ($((SECONDS - started)) s)"; }

echo "== Node $major: $pkg@$major from the npm registry"
mkdir -p "$work/node"
npm install --prefix "$work/node" --no-save --no-package-lock --no-audit --no-fund "$pkg@$major" >/dev/null
node_root="$work/node/node_modules/$pkg"
[ -f "$node_root/include/node/node.h" ] || { echo "$pkg@$major ships no headers" >&2; exit 1; }
export PATH="$node_root/bin:$PATH"
export npm_config_nodedir="$node_root"
echo "   $(node --version) at $node_root/bin/node"
stamp

echo "== a copy of the tree, better-sqlite3 rebuilt for Node $major"
rm -rf "$work/tree"
mkdir -p "$work/tree"
# Tracked files as they are on disk (uncommitted edits included), as a clean clone has them.
git ls-files -z | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$work/tree"
cp -a node_modules "$work/tree/"
cd "$work/tree"
npm rebuild better-sqlite3 >/dev/null
node -e "new (require('better-sqlite3'))(':memory:').close()"
echo "   better-sqlite3 loads on $(node --version) (ABI $(node -p process.versions.modules))"
stamp

echo "== build on Node $major"
node scripts/build.mjs
stamp

echo "== tests on Node $major"
set +e
node node_modules/vitest/vitest.mjs run "$@"
status=$?
stamp
exit "$status"
