// Shared helpers for the benchmarks: timing, peak RSS, the machine's measured SGEMM peak.
#ifndef CF_BENCH_COMMON_H
#define CF_BENCH_COMMON_H

#include <stdint.h>

double bench_now(void);
double bench_peak_rss_mib(void);
// Measured SGEMM peak in GFLOP/s on n_threads threads: OpenBLAS (loaded at run time, with the
// right core type for this CPU) when present, else cformer's own GEMM. *who names the library.
double bench_sgemm_peak(int n_threads, const char **who);
// cformer's own GEMM on an (n x n) x (n x n) problem, GFLOP/s.
double bench_cformer_gemm(int n_threads, int n);
const char *bench_cpu_name(void);

#endif
