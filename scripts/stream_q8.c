/* How fast the Q8_0 row-dot kernel streams weights from DRAM, with two threads splitting the
   rows as generation does: a 50257·4 × 768 matrix (148 MB, past a 32 MiB L3), best of 20.
   Used to choose the prefetch distance in Sources/CKernels/StreamAhead.h (docs/PERFORMANCE.md).

   for d in 0 2048 4096 8192; do
     clang -O2 -march=x86-64-v3 -DPREFETCH_AHEAD=$d -ISources/CKernels/include scripts/stream_q8.c \
       Sources/CKernels/Q8.c Sources/CKernels/AVX512MicroKernel.c -o /tmp/stream_q8 -lpthread -lm && /tmp/stream_q8 $d
   done
   (A distance of 0 asks for the line being loaded: no prefetch.) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "CKernels.h"

static const long rows = 50257L * 4, cols = 768, blocks = 768 / 32;
static signed char *w, *x;
static float *ws, *xs, *out;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static void *half(void *arg) {
    const long h = (long)arg, first = h ? rows / 2 : 0, count = h ? rows - rows / 2 : rows / 2;
    if (cllm_cpu_has_avx512_vnni()) cllm_q8_row_dots_avx512vnni(count, blocks, x, xs, w + first * cols, ws + first * blocks, 0, out + first);
    else cllm_q8_row_dots_avx2(count, blocks, x, xs, w + first * cols, ws + first * blocks, 0, out + first);
    return 0;
}

int main(int argc, char **argv) {
    w = malloc(rows * cols); ws = malloc(rows * blocks * sizeof(float)); x = malloc(cols);
    xs = malloc(blocks * sizeof(float)); out = malloc(rows * sizeof(float));
    for (long i = 0; i < rows * cols; i++) w[i] = (signed char)((i * 37) % 255 - 127);
    for (long i = 0; i < rows * blocks; i++) ws[i] = 0.01f;
    for (long i = 0; i < cols; i++) x[i] = (signed char)((i * 13) % 255 - 127);
    for (long i = 0; i < blocks; i++) xs[i] = 0.02f;
    double best = 1e9;
    for (int r = 0; r < 20; r++) {
        pthread_t t;
        double s = now();
        pthread_create(&t, 0, half, (void *)1);
        half(0);
        pthread_join(t, 0);
        s = now() - s;
        if (s < best) best = s;
    }
    printf("prefetch %s bytes ahead: %.2f ms, %.1f GB/s (%s)\n", argc > 1 ? argv[1] : "?", best * 1e3,
           (rows * cols + rows * blocks * 4) / best / 1e9, cllm_cpu_has_avx512_vnni() ? "avx512vnni" : "avx2");
    return 0;
}
