// How far ahead of its loads a generation kernel prefetches the weights it streams: one
// distance for the float32, bfloat16 and Q8_0 kernels (MatVec.c, BF16GEMM.c, Q8.c).
//
// Why: generation reads every weight from DRAM once per token, each thread its share as one
// stream, front to back. Two threads streaming a 148 MB Q8_0 matrix (past the 32 MiB L3) one
// row after another read 21.5–23.7 GB/s without software prefetch and 25–27 at 2–4 KiB ahead
// (Zen 4, three runs each; scripts/stream_q8.c, which overrides the distance with
// -DPREFETCH_AHEAD, and docs/PERFORMANCE.md). With the four-rows-side-by-side kernels they
// replaced it was 12.8 GB/s without and 20.1 at 4 KiB. Past the end of a matrix the hint is
// harmless.
#ifndef CLLM_STREAM_AHEAD_H
#define CLLM_STREAM_AHEAD_H

#ifndef PREFETCH_AHEAD
#define PREFETCH_AHEAD 4096
#endif

#endif
