#!/bin/sh
# cformer against PyTorch on translation, for docs/BENCHMARKS.md: for each round, thread count
# (1, 2) and beam (1, 4): cformer fp32, cformer bf16 (when the CPU has AVX512_BF16), PyTorch fp32
# and PyTorch bf16 (autocast), interleaved so that a noisy machine hits all alike; then checks
# that the fp32 outputs of the two engines are identical. Needs `make bench`, a quiet machine,
# python3-torch and Debian's openblas-openmp.
#   tools/bench_translate_compare.sh MODEL SRC [ROUNDS]
#   e.g. tools/bench_translate_compare.sh models/multi30k-en-de ../shared/data/multi30k/val.en 3
set -eu
model=$1
src=$2
rounds=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bt=$root/build/bench_translate
echo "== $(date -u '+%Y-%m-%d %H:%M') UTC, cformer $(git -C "$root" rev-parse --short HEAD)"
"$bt" --model "$model" --src "$src" --beam 1 --threads 1 --dump-ids "$tmp/ids.txt" > /dev/null
precs=fp32
grep -qw avx512_bf16 /proc/cpuinfo && precs="fp32 bf16"
torch() {
    env LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OPENBLAS_CORETYPE=SkylakeX \
        /usr/bin/python3 "$root/tools/bench_translate_torch.py" --model "$model" \
        --ids "$tmp/ids.txt" "$@" 2>&1 | grep -E "decode|peak RSS" | tr '\n' ' '
    echo
}
r=1
while [ "$r" -le "$rounds" ]; do
    for t in 1 2; do
        for b in 1 4; do
            for p in $precs; do
                printf "round %s threads %s beam %s cformer %s: " "$r" "$t" "$b" "$p"
                CF_PRECISION=$p "$bt" --model "$model" --src "$src" --beam "$b" --threads "$t" \
                    --dump-out "$tmp/cf_${p}_$b.txt" 2>&1 | grep -E "^decode|peak RSS" | tr '\n' ' '
                echo
            done
            printf "round %s threads %s beam %s torch fp32: " "$r" "$t" "$b"
            torch --beam "$b" --threads "$t" --out "$tmp/pt_$b.txt"
            printf "round %s threads %s beam %s torch bf16: " "$r" "$t" "$b"
            torch --beam "$b" --threads "$t" --bf16
        done
    done
    r=$((r + 1))
done
for b in 1 4; do
    if cmp -s "$tmp/cf_fp32_$b.txt" "$tmp/pt_$b.txt"; then
        echo "beam $b, fp32: cformer's and PyTorch's outputs are identical"
    else
        echo "beam $b, fp32: the outputs DIFFER"
    fi
done
