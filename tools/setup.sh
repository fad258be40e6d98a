#!/bin/sh
# Installs the Debian packages cformer needs (when run as root), or says which are missing.
#   tools/setup.sh build   compiler, make, pkg-config, cJSON, PCRE2, utf8proc
#   tools/setup.sh test    + clang and its runtime (libFuzzer targets, sanitizers)
#   tools/setup.sh bench   + OpenBLAS (BLAS comparison in bench/)
#   tools/setup.sh refs    + python3-torch and numpy (tools/gen_refs.py), python3-sentencepiece,
#                          sentencepiece and node/npm (tools/gen_tokenizer_refs.py; it also needs
#                          npm install @anush008/tokenizers@0.6.0 in /tmp/tokref)
set -e
what=${1:-build}
pkgs="gcc make pkg-config libcjson-dev libpcre2-dev libutf8proc-dev"
case "$what" in
  test)  pkgs="$pkgs g++ clang libclang-rt-14-dev" ;;
  bench) pkgs="$pkgs libopenblas-dev" ;;
  refs)  pkgs="$pkgs python3-torch python3-numpy python3-sentencepiece sentencepiece nodejs npm" ;;
esac
if ! command -v dpkg-query >/dev/null 2>&1; then
  # Not Debian: trust the toolchain, check only what the build cannot do without.
  pkg-config --exists libcjson 2>/dev/null || [ -f /usr/include/cjson/cJSON.h ] || {
    echo "setup: cJSON development files not found; install cJSON (libcjson-dev)"; exit 1; }
  pkg-config --exists libpcre2-8 libutf8proc 2>/dev/null || {
    echo "setup: PCRE2 or utf8proc development files not found (libpcre2-dev, libutf8proc-dev)"; exit 1; }
  exit 0
fi
missing=""
for p in $pkgs; do
  s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$s" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "setup: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $missing; }
else
  echo "setup: missing Debian packages:$missing"
  echo "setup: run as root: apt-get install$missing   (or: sudo make $what)"
  case "$what" in build) exit 1 ;; esac
fi
