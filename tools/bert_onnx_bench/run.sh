#!/bin/sh
# Runs cformer, ONNX Runtime and (optionally) PyTorch on the same BERT-base weights, interleaved,
# for docs/BENCHMARKS.md ("BERT"). Needs a quiet machine; see README.md for the setup.
#   tools/bert_onnx_bench/run.sh OUT infer [ROUNDS]   inference, batch 1 and 32, 1 and 2 threads
#                                                     (cformer also with --precision bf16 where
#                                                     the CPU has AVX512_BF16)
#   tools/bert_onnx_bench/run.sh OUT train [ROUNDS]   cformer fine-tuning, batch 32, 2 threads
#   tools/bert_onnx_bench/run.sh OUT torch [ROUNDS]   PyTorch, stock and OpenBLAS (OPENBLAS_DIR)
# OUT is the folder bert_torch.py make wrote. ORT_NODE points at onnxruntime-node
# (default ~/.cache/cf_ort/node_modules/onnxruntime-node); OPENBLAS_DIR at a folder holding
# Debian's openblas-openmp libblas.so.3 (default /usr/lib/x86_64-linux-gnu/openblas-openmp).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$1
what=${2:-infer}
rounds=${3:-3}
obdir=${OPENBLAS_DIR:-/usr/lib/x86_64-linux-gnu/openblas-openmp}
echo "== $(date -u '+%Y-%m-%d %H:%M') UTC, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $(nproc) cores, cformer $(git -C "$root" rev-parse --short HEAD)"
# bench_bert picks OpenBLAS's core type for the SGEMM peak itself (SkylakeX on AVX-512 CPUs).
bb="env -u OPENBLAS_CORETYPE $root/build/bench_bert"
r=1
while [ "$r" -le "$rounds" ]; do
    case $what in
    infer)
        for t in 1 2; do
            echo "== round $r: build/bench_bert --model $out/model --threads $t --no-train --rounds 2"
            $bb --model "$out/model" --threads "$t" --no-train --rounds 2
            if grep -qw avx512_bf16 /proc/cpuinfo; then
                echo "== round $r: CF_PRECISION=bf16 build/bench_bert --model $out/model --threads $t --no-train --rounds 2"
                CF_PRECISION=bf16 $bb --model "$out/model" --threads "$t" --no-train --rounds 2
            fi
            echo "== round $r: bench_ort.js $out --threads $t --rounds 2"
            node "$here/bench_ort.js" "$out" --threads "$t" --rounds 2
        done ;;
    train)
        echo "== round $r: build/bench_bert --model $out/model --threads 2 --no-infer --rounds 2"
        $bb --model "$out/model" --threads 2 --no-infer --rounds 2 ;;
    torch)
        # Debian's reference BLAS (the default libblas.so.3 when no OpenBLAS is installed):
        # seconds per sentence, so batch 1 only, one sentence per round.
        echo "== round $r: torch stock (reference BLAS), 2 threads"
        LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/blas \
            /usr/bin/python3 "$here/bert_torch.py" bench "$out" --threads 2 --rounds 1 --batch 1 \
            --calls 1
        echo "== round $r: torch + OpenBLAS (openmp, SkylakeX), 2 threads"
        LD_LIBRARY_PATH=$obdir OPENBLAS_CORETYPE=SkylakeX \
            /usr/bin/python3 "$here/bert_torch.py" bench "$out" --threads 2 --rounds 1 ;;
    *) echo "run.sh: unknown workload $what (infer, train, torch)" >&2; exit 2 ;;
    esac
    r=$((r + 1))
done
