// CCPUFeatures: reports which SIMD features the compiler was told to generate code for.
// The header is compiled with the same -march flags as the Swift kernels that import it, so
// it tells whether the FMA fast path really made it into the build.
#ifndef CCPUFEATURES_H
#define CCPUFEATURES_H

static inline int cllm_compiled_with_fma(void) {
#if defined(__FMA__) && defined(__AVX2__)
    return 1;
#elif defined(__aarch64__)
    return 1; /* NEON fused multiply-add is part of the base ISA */
#else
    return 0;
#endif
}

static inline const char *cllm_compiled_simd_name(void) {
#if defined(__AVX512F__)
    return "AVX-512";
#elif defined(__FMA__) && defined(__AVX2__)
    return "AVX2+FMA";
#elif defined(__aarch64__)
    return "NEON";
#else
    return "portable (no FMA)";
#endif
}
/* A spin-wait hint: lets the sibling hyper-thread run and saves power while a pool worker
   polls for the next parallel region. */
static inline void cllm_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
#endif
