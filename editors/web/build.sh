#!/bin/sh
# Build the dashboard's LLMCL editor bundle into static/editor/ (committed; no CDN at run time).
#
# Reproducible: `npm ci` installs exactly what package-lock.json pins, and esbuild bundles
# src/editor.js (CodeMirror 6) into one minified file. The TextMate grammar the editor
# highlights with is copied beside it from editors/vscode/syntaxes/ (the one grammar the
# IDE extension uses too). Run from anywhere: sh editors/web/build.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$here"
npm ci --no-audit --no-fund
mkdir -p "$root/static/editor"
node_modules/.bin/esbuild src/editor.js --bundle --minify --format=iife --target=es2019 \
  --legal-comments=eof --outfile="$root/static/editor/llmcl-editor.js"
cp "$root/editors/vscode/syntaxes/llmcl.tmLanguage.json" "$root/static/editor/llmcl.tmLanguage.json"
echo "built static/editor/llmcl-editor.js and copied the grammar"
