#!/bin/sh
# Runs every benchmark once with the defaults the README reports. Needs a quiet machine.
set -eu
cd "$(dirname "$0")/.."
make -s bench >/dev/null
echo "== $(date -u +%Y-%m-%d) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) ($(nproc) cores)"
echo "== build/bench_gemm";              build/bench_gemm
echo "== build/bench_train 4 64 5";      build/bench_train 4 64 5
echo "== build/bench_generate 128 128";  build/bench_generate 128 128
for t in 1 2; do echo "== build/bench_generate 128 128 $t"; build/bench_generate 128 128 $t; done
echo "== build/bench_bert --threads 2";  build/bench_bert --threads 2
