// bfloat16 GEMM on AMX tiles (Intel Sapphire Rapids and later): a 32×32 micro-kernel of four
// 16×16 float32 tiles fed by `tdpbf16ps`, the A-row packer it needs, the tile configuration,
// the CPUID/permission check, and a software model of the tile instructions.
//
// Layouts. `tdpbf16ps` multiplies a tile of A rows (16 rows × 16 pairs of k steps, each pair
// one 32-bit slot) by a tile of B pair-rows (16 pairs × 16 columns, one slot per column) into
// a 16×16 float32 tile. The B tile is exactly a 16-column strip of the panels the
// `vdpbf16ps` kernel already uses ([pair][32 columns], BF16GEMM.c), read with a 128-byte row
// stride; only the pairs are padded to a multiple of 16 with zeros. A needs rows of pairs
// instead ([row][pair]): `cllm_amx_rows_from_panels` transposes the 8-row panels of the
// existing A packer into them.
//
// Why a software model: the kernel is written once, as a macro over four tile operations, and
// compiled twice: with the AMX intrinsics, and over a C model of the same instructions that
// follows the Intel SDM pseudo-code (LDTILECFG, TILEZERO, TILELOADD, TILESTORED, TDPBF16PS,
// including its shape checks). The model runs on any CPU, so the tests check the packing, the
// configuration bytes and the loop on every machine, and the hardware kernel wherever the CPU
// has AMX.
#include "CKernels.h"
#include "Transpose8x8.h"
#include <stdint.h>
#include <string.h>

/* The 64-byte tile configuration LDTILECFG reads (palette 1). */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;
_Static_assert(sizeof(tile_config) == 64, "LDTILECFG reads 64 bytes");

/* Every tile the kernel uses is 16 rows of 64 bytes: C tiles 0–3 (16×16 float32), A tiles 4–5
   (16 rows × 16 pairs), B tiles 6–7 (16 pairs × 16 columns). The k loop steps 16 pairs, so
   one configuration serves every call. */
static void fill_config(tile_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->palette = 1;
    for (int t = 0; t < 8; t++) { cfg->colsb[t] = 64; cfg->rows[t] = 16; }
}

void cllm_amx_config_bytes(uint8_t out[64]) {
    tile_config cfg;
    fill_config(&cfg);
    memcpy(out, &cfg, 64);
}

/* ---- The software model of the tile instructions (per thread, as the hardware's state). ---- */

typedef struct { int rows, colsb; uint8_t data[16][64]; } model_tile;
static _Thread_local model_tile model[8];
static _Thread_local int model_configured;

static void model_loadconfig(const tile_config *cfg) {
    if (cfg->palette != 1 || cfg->start_row != 0) __builtin_trap();
    for (int i = 0; i < 14; i++) if (cfg->reserved[i]) __builtin_trap();
    for (int t = 0; t < 8; t++) {
        if (cfg->rows[t] > 16 || cfg->colsb[t] > 64) __builtin_trap();
        model[t].rows = cfg->rows[t];
        model[t].colsb = cfg->colsb[t];
        memset(model[t].data, 0, sizeof model[t].data);  /* LDTILECFG zeroes the tiles */
    }
    model_configured = 1;
}

static model_tile *model_use(int t) {
    if (!model_configured || model[t].rows == 0) __builtin_trap();  /* #UD on real hardware */
    return &model[t];
}

static void model_zero(int t) { memset(model_use(t)->data, 0, sizeof model[t].data); }

static void model_load(int t, const void *base, long stride) {
    model_tile *d = model_use(t);
    memset(d->data, 0, sizeof d->data);
    for (int r = 0; r < d->rows; r++) memcpy(d->data[r], (const uint8_t *)base + r * stride, (size_t)d->colsb);
}

static void model_store(int t, void *base, long stride) {
    model_tile *s = model_use(t);
    for (int r = 0; r < s->rows; r++) memcpy((uint8_t *)base + r * stride, s->data[r], (size_t)s->colsb);
}

/* bf16 → float32 with denormals as zero (TDPBF16PS reads its inputs with DAZ). */
static float model_bf16(uint16_t bits) {
    if ((bits & 0x7F80) == 0) bits &= 0x8000;
    uint32_t u = (uint32_t)bits << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* TDPBF16PS per the SDM: for each row m of C and each pair k of A's row, add A[m].pair[k] ·
   B[k].pair[n] into C[m][n], the even products first, then the odd ones. */
static void model_dpbf16(int tc, int ta, int tb) {
    model_tile *c = model_use(tc), *a = model_use(ta), *b = model_use(tb);
    if (a->rows != c->rows || b->colsb != c->colsb || b->rows != a->colsb / 4 || c->colsb % 4 || a->colsb % 4) __builtin_trap();
    for (int m = 0; m < c->rows; m++) {
        float *crow = (float *)c->data[m];
        const uint16_t *arow = (const uint16_t *)a->data[m];
        for (int k = 0; k < a->colsb / 4; k++) {
            const uint16_t *brow = (const uint16_t *)b->data[k];
            const float a0 = model_bf16(arow[2 * k]), a1 = model_bf16(arow[2 * k + 1]);
            for (int n = 0; n < c->colsb / 4; n++) {
                crow[n] += a0 * model_bf16(brow[2 * n]);
                crow[n] += a1 * model_bf16(brow[2 * n + 1]);
            }
        }
    }
}

/* ---- The micro-kernel, once per instruction set. ---- */

/* out[32×32] = A[32 rows × 16·chunks pairs] · B[16·chunks pairs × 32 columns]: A rows `lda`
   slots apart, B a 32-column panel; out is row-major with 32 floats per row. */
#define TILE_KERNEL(ZERO, LOAD, DP, STORE)                                                        \
    ZERO(0); ZERO(1); ZERO(2); ZERO(3);                                                          \
    for (long ch = 0; ch < chunks; ch++) {                                                       \
        LOAD(4, a + ch * 16, lda * 4);                                                           \
        LOAD(5, a + 16 * lda + ch * 16, lda * 4);                                                \
        LOAD(6, b + ch * 16 * 32, 128);                                                          \
        LOAD(7, b + ch * 16 * 32 + 16, 128);                                                     \
        DP(0, 4, 6); DP(1, 4, 7); DP(2, 5, 6); DP(3, 5, 7);                                      \
    }                                                                                            \
    STORE(0, out, 128); STORE(1, out + 16, 128); STORE(2, out + 16 * 32, 128); STORE(3, out + 16 * 32 + 16, 128);

static void kernel_model(long chunks, const uint32_t *a, long lda, const uint32_t *b, float *out) {
    TILE_KERNEL(model_zero, model_load, model_dpbf16, model_store)
}

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AMX __attribute__((target("amx-tile,amx-bf16")))

static AMX void kernel_amx(long chunks, const uint32_t *a, long lda, const uint32_t *b, float *out) {
    TILE_KERNEL(_tile_zero, _tile_loadd, _tile_dpbf16ps, _tile_stored)
}

static AMX void amx_loadconfig(const tile_config *cfg) { _tile_loadconfig(cfg); }
static AMX void amx_release(void) { _tile_release(); }

/* AMX-TILE and AMX-BF16 (CPUID leaf 7, EDX bits 24 and 22), the OS managing the tile state
   (XCR0 bits 17–18), and Linux's permission to use the tile data, which a process must
   request once (arch_prctl ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA); without it the first
   tile instruction kills the process. */
int cllm_cpu_has_amx_bf16(void) {
    if (!cllm_cpu_has_avx512_bf16()) return 0;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!(d & (1u << 22)) || !(d & (1u << 24))) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17)) return 0;
#if defined(__linux__)
    const long ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18;
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return 0;
#endif
    return 1;
}

/* Four independent tile accumulators, `iterations` rounds of four `tdpbf16ps` each (16·16·32·2
   flops apiece) on zero operands: the peak the GEMM is measured against. */
AMX float cllm_amx_dp_chains(long iterations) {
    static const uint32_t zeros[16 * 16] __attribute__((aligned(64)));
    tile_config cfg;
    fill_config(&cfg);
    _tile_loadconfig(&cfg);
    _tile_loadd(4, zeros, 64); _tile_loadd(5, zeros, 64); _tile_loadd(6, zeros, 64); _tile_loadd(7, zeros, 64);
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
    for (long i = 0; i < iterations; i++) {
        _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 5, 7); _tile_dpbf16ps(2, 4, 7); _tile_dpbf16ps(3, 5, 6);
    }
    float out[16 * 16] __attribute__((aligned(64)));
    _tile_stored(0, out, 64);
    _tile_release();
    return out[0];
}
#else
int cllm_cpu_has_amx_bf16(void) { return 0; }
static void kernel_amx(long chunks, const uint32_t *a, long lda, const uint32_t *b, float *out) {
    (void)chunks; (void)a; (void)lda; (void)b; (void)out; __builtin_trap();
}
static void amx_loadconfig(const tile_config *cfg) { (void)cfg; __builtin_trap(); }
static void amx_release(void) { __builtin_trap(); }
float cllm_amx_dp_chains(long iterations) { (void)iterations; __builtin_trap(); }
#endif

void cllm_amx_begin(int modeled) {
    tile_config cfg;
    fill_config(&cfg);
    if (modeled) model_loadconfig(&cfg); else amx_loadconfig(&cfg);
}

void cllm_amx_end(int modeled) {
    if (modeled) model_configured = 0; else amx_release();
}

void cllm_gemm_bf16_amx_32x32(long chunks, const uint32_t *a, long lda, const uint32_t *b, float *c, long ldc,
                              int accumulate, int rows, int cols, int modeled) {
    float tile[32 * 32] __attribute__((aligned(64)));
    if (modeled) kernel_model(chunks, a, lda, b, tile); else kernel_amx(chunks, a, lda, b, tile);
    for (int r = 0; r < rows; r++) {
        float *dst = c + r * ldc;
        const float *src = tile + r * 32;
        if (accumulate) { for (int j = 0; j < cols; j++) dst[j] += src[j]; }
        else { for (int j = 0; j < cols; j++) dst[j] = src[j]; }
    }
}

/* rows[i*lda + pp] = panels[(i/8)*pairs*8 + pp*8 + i%8] for i < count, pp < pairs; zero for
   pp in pairs..<lda and for rows count..<padded_rows. */
void cllm_amx_rows_from_panels(long pairs, long count, const uint32_t *panels, long lda, long padded_rows, uint32_t *rows) {
    for (long i0 = 0; i0 < count; i0 += 8) {
        const uint32_t *panel = panels + (i0 / 8) * pairs * 8;
        const long height = count - i0 < 8 ? count - i0 : 8;
        long pp0 = 0;
#if defined(__AVX2__)
        for (; pp0 + 8 <= pairs; pp0 += 8) {
            __m256 r[8];
            for (int s = 0; s < 8; s++) r[s] = _mm256_loadu_ps((const float *)(panel + (pp0 + s) * 8));
            transpose8x8(r);
            for (long i = 0; i < height; i++) _mm256_storeu_ps((float *)(rows + (i0 + i) * lda + pp0), r[i]);
        }
#endif
        for (long i = 0; i < height; i++) {
            uint32_t *row = rows + (i0 + i) * lda;
            for (long pp = pp0; pp < pairs; pp++) row[pp] = panel[pp * 8 + i];
            memset(row + pairs, 0, (size_t)(lda - pairs) * 4);
        }
    }
    for (long i = count; i < padded_rows; i++) memset(rows + i * lda, 0, (size_t)lda * 4);
}
