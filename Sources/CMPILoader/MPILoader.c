// Loads libmpi with dlopen and calls it through function pointers typed for the ABI found.
//
// Why dlopen rather than linking: `swift build` and `swift test` must work where MPI is not
// installed, and one binary must run under Open MPI or MPICH. Both C ABIs are stable (Open MPI
// since 4.0 keeps libmpi.so.40; MPICH and its derivatives keep libmpi.so.12), so the shim needs
// only the handle values of each: Open MPI's are addresses of exported objects (found with
// dlsym), MPICH's are integer constants from its mpi.h. Handles travel through here as
// uintptr_t and are cast back to the ABI's type at each call.
#define _GNU_SOURCE
#include "CMPILoader.h"
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static void *library;
static const char *library_name;
static cllm_mpi_abi abi = CLLM_MPI_NONE;

// Handles: pointers (Open MPI) or ints (MPICH), widened to uintptr_t.
static uintptr_t comm_world, type_float, type_double, type_uint16, op_sum, op_max, op_bf16_sum, errors_return;
static void *in_place;

// Open MPI signatures (handles are pointers).
typedef void *oh;
typedef int (*o_init_thread)(int *, char ***, int, int *);
typedef int (*o_comm_int)(oh, int *);
typedef int (*o_allreduce)(const void *, void *, int, oh, oh, oh);
typedef int (*o_iallreduce)(const void *, void *, int, oh, oh, oh, oh *);
typedef int (*o_test)(oh *, int *, void *);
typedef int (*o_wait)(oh *, void *);
typedef int (*o_bcast)(void *, int, oh, int, oh);
typedef int (*o_reduce_scatter)(const void *, void *, const int *, oh, oh, oh);
typedef int (*o_allgatherv)(const void *, int, oh, void *, const int *, const int *, oh, oh);
typedef int (*o_gatherv)(const void *, int, oh, void *, const int *, const int *, oh, int, oh);
typedef int (*o_comm_set_errhandler)(oh, oh);
typedef int (*o_op_create)(void *, int, oh *);
typedef int (*o_abort)(oh, int);
typedef int (*o_barrier)(oh);
// MPICH signatures (handles are ints).
typedef int mh;
typedef int (*m_comm_int)(mh, int *);
typedef int (*m_allreduce)(const void *, void *, int, mh, mh, mh);
typedef int (*m_iallreduce)(const void *, void *, int, mh, mh, mh, mh *);
typedef int (*m_test)(mh *, int *, void *);
typedef int (*m_wait)(mh *, void *);
typedef int (*m_bcast)(void *, int, mh, int, mh);
typedef int (*m_reduce_scatter)(const void *, void *, const int *, mh, mh, mh);
typedef int (*m_allgatherv)(const void *, int, mh, void *, const int *, const int *, mh, mh);
typedef int (*m_gatherv)(const void *, int, mh, void *, const int *, const int *, mh, int, mh);
typedef int (*m_comm_set_errhandler)(mh, mh);
typedef int (*m_op_create)(void *, int, mh *);
typedef int (*m_abort)(mh, int);
typedef int (*m_barrier)(mh);
// ABI-neutral.
typedef int (*p_finalize)(void);
typedef double (*p_wtime)(void);
typedef int (*p_error_string)(int, char *, int *);
typedef int (*p_library_version)(char *, int *);

static void *f_init_thread, *f_finalize, *f_abort, *f_barrier, *f_comm_rank, *f_comm_size, *f_allreduce, *f_iallreduce,
    *f_test, *f_wait, *f_bcast, *f_reduce_scatter, *f_allgatherv, *f_gatherv, *f_wtime, *f_error_string,
    *f_comm_set_errhandler, *f_op_create, *f_library_version;

static int fail(char *error, size_t size, const char *message) {
    if (error && size) snprintf(error, size, "%s", message);
    return 0;
}

cllm_mpi_abi cllm_mpi_load(const char *path, char *error, size_t error_size) {
    if (abi != CLLM_MPI_NONE) return abi;
    // RTLD_GLOBAL: Open MPI's own plugins (dlopened by libmpi) resolve symbols of libmpi.
    const char *names[] = {"libmpi.so.40", "libmpich.so.12", "libmpi.so.12", "libmpi.so", NULL};
    if (path && *path) {
        library = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
        library_name = path;
    } else {
        for (int i = 0; names[i] && !library; i++) {
            library = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
            library_name = names[i];
        }
    }
    if (!library) {
        char message[512];
        snprintf(message, sizeof message, "no MPI library could be loaded (%s); install Open MPI (Debian: openmpi-bin libopenmpi-dev) or MPICH, or name the library in CLLM_MPI_LIBRARY",
                 path && *path ? dlerror() : "tried libmpi.so.40, libmpich.so.12, libmpi.so.12, libmpi.so");
        fail(error, error_size, message);
        return CLLM_MPI_NONE;
    }
#define NEED(var, name) if (!(var = dlsym(library, name))) return fail(error, error_size, "the MPI library lacks " name), CLLM_MPI_NONE
    NEED(f_init_thread, "MPI_Init_thread");
    NEED(f_finalize, "MPI_Finalize");
    NEED(f_abort, "MPI_Abort");
    NEED(f_barrier, "MPI_Barrier");
    NEED(f_comm_rank, "MPI_Comm_rank");
    NEED(f_comm_size, "MPI_Comm_size");
    NEED(f_allreduce, "MPI_Allreduce");
    NEED(f_iallreduce, "MPI_Iallreduce");
    NEED(f_test, "MPI_Test");
    NEED(f_wait, "MPI_Wait");
    NEED(f_bcast, "MPI_Bcast");
    NEED(f_reduce_scatter, "MPI_Reduce_scatter");
    NEED(f_allgatherv, "MPI_Allgatherv");
    NEED(f_gatherv, "MPI_Gatherv");
    NEED(f_wtime, "MPI_Wtime");
    NEED(f_error_string, "MPI_Error_string");
    NEED(f_comm_set_errhandler, "MPI_Comm_set_errhandler");
    NEED(f_op_create, "MPI_Op_create");
    NEED(f_library_version, "MPI_Get_library_version");
    void *world = dlsym(library, "ompi_mpi_comm_world");
    if (world) {
        // Open MPI: the predefined handles are the addresses of these objects (mpi.h's
        // OMPI_PREDEFINED_GLOBAL); MPI_IN_PLACE is (void *)1.
        void *f = dlsym(library, "ompi_mpi_float"), *d = dlsym(library, "ompi_mpi_double"),
             *u = dlsym(library, "ompi_mpi_unsigned_short"), *s = dlsym(library, "ompi_mpi_op_sum"),
             *m = dlsym(library, "ompi_mpi_op_max"), *e = dlsym(library, "ompi_mpi_errors_return");
        if (!f || !d || !u || !s || !m || !e) return fail(error, error_size, "the Open MPI library lacks its predefined handles"), CLLM_MPI_NONE;
        comm_world = (uintptr_t)world; type_float = (uintptr_t)f; type_double = (uintptr_t)d; type_uint16 = (uintptr_t)u;
        op_sum = (uintptr_t)s; op_max = (uintptr_t)m; errors_return = (uintptr_t)e;
        in_place = (void *)1;
        abi = CLLM_MPI_OPENMPI;
    } else {
        // MPICH (and Intel MPI, MVAPICH, Cray MPICH, which share its ABI): mpi.h's constants.
        comm_world = 0x44000000; type_float = 0x4c00040a; type_double = 0x4c00080b; type_uint16 = 0x4c000204;
        op_sum = 0x58000003; op_max = 0x58000001; errors_return = 0x54000001;
        in_place = (void *)-1;
        abi = CLLM_MPI_MPICH;
    }
    return abi;
}

const char *cllm_mpi_library_name(void) { return library_name ? library_name : ""; }

#define OPENMPI (abi == CLLM_MPI_OPENMPI)
#define O(h) ((oh)(h))
#define M(h) ((mh)(h))

static uintptr_t type_handle(cllm_mpi_type t) {
    return t == CLLM_MPI_FLOAT ? type_float : t == CLLM_MPI_DOUBLE ? type_double : type_uint16;
}
static uintptr_t op_handle(cllm_mpi_op op) { return op == CLLM_MPI_SUM ? op_sum : op == CLLM_MPI_MAX ? op_max : op_bf16_sum; }

// The bf16 sum for gradients on the wire: each pair is added in float and rounded back to
// bfloat16 (nearest, ties to even), so the reduction's error is one bf16 rounding per hop.
static void bf16_sum(void *in, void *inout, int *len, void *datatype) {
    (void)datatype;
    const uint16_t *a = in;
    uint16_t *b = inout;
    for (int i = 0; i < *len; i++) {
        uint32_t x = (uint32_t)a[i] << 16, y = (uint32_t)b[i] << 16;
        float fx, fy;
        memcpy(&fx, &x, 4); memcpy(&fy, &y, 4);
        float s = fx + fy;
        uint32_t bits;
        memcpy(&bits, &s, 4);
        bits += 0x7fff + ((bits >> 16) & 1);
        b[i] = (uint16_t)(bits >> 16);
    }
}

int cllm_mpi_init(int *rank, int *size) {
    int provided = 0, rc;
    rc = ((o_init_thread)f_init_thread)(NULL, NULL, 1 /* MPI_THREAD_FUNNELED */, &provided);
    if (rc) return rc;
    if (OPENMPI) {
        ((o_comm_set_errhandler)f_comm_set_errhandler)(O(comm_world), O(errors_return));
        oh op; rc = ((o_op_create)f_op_create)((void *)bf16_sum, 1, &op); op_bf16_sum = (uintptr_t)op;
        if (rc) return rc;
        if ((rc = ((o_comm_int)f_comm_rank)(O(comm_world), rank))) return rc;
        return ((o_comm_int)f_comm_size)(O(comm_world), size);
    }
    ((m_comm_set_errhandler)f_comm_set_errhandler)(M(comm_world), M(errors_return));
    mh op; rc = ((m_op_create)f_op_create)((void *)bf16_sum, 1, &op); op_bf16_sum = (uintptr_t)op;
    if (rc) return rc;
    if ((rc = ((m_comm_int)f_comm_rank)(M(comm_world), rank))) return rc;
    return ((m_comm_int)f_comm_size)(M(comm_world), size);
}

int cllm_mpi_finalize(void) { return ((p_finalize)f_finalize)(); }

int cllm_mpi_abort(int code) {
    return OPENMPI ? ((o_abort)f_abort)(O(comm_world), code) : ((m_abort)f_abort)(M(comm_world), code);
}

int cllm_mpi_barrier(void) {
    return OPENMPI ? ((o_barrier)f_barrier)(O(comm_world)) : ((m_barrier)f_barrier)(M(comm_world));
}

static size_t element_size(cllm_mpi_type t) { return t == CLLM_MPI_FLOAT ? 4 : t == CLLM_MPI_DOUBLE ? 8 : 2; }
// MPI counts are ints: larger buffers go in pieces of at most 2^30 elements.
static const size_t piece = (size_t)1 << 30;

int cllm_mpi_allreduce(void *buffer, size_t count, cllm_mpi_type type, cllm_mpi_op op) {
    char *p = buffer;
    for (size_t done = 0; done < count;) {
        int n = (int)(count - done < piece ? count - done : piece);
        int rc = OPENMPI ? ((o_allreduce)f_allreduce)(in_place, p, n, O(type_handle(type)), O(op_handle(op)), O(comm_world))
                         : ((m_allreduce)f_allreduce)(in_place, p, n, M(type_handle(type)), M(op_handle(op)), M(comm_world));
        if (rc) return rc;
        done += (size_t)n;
        p += (size_t)n * element_size(type);
    }
    return 0;
}

int cllm_mpi_iallreduce(void *buffer, size_t count, cllm_mpi_type type, cllm_mpi_op op, uint64_t *request) {
    if (count > piece) return 1; // MPI_ERR_BUFFER: callers bucket far below this
    if (OPENMPI) {
        oh r = 0;
        int rc = ((o_iallreduce)f_iallreduce)(in_place, buffer, (int)count, O(type_handle(type)), O(op_handle(op)), O(comm_world), &r);
        *request = (uint64_t)(uintptr_t)r;
        return rc;
    }
    mh r = 0;
    int rc = ((m_iallreduce)f_iallreduce)(in_place, buffer, (int)count, M(type_handle(type)), M(op_handle(op)), M(comm_world), &r);
    *request = (uint64_t)(uint32_t)r;
    return rc;
}

int cllm_mpi_test(uint64_t *request, int *done) {
    int rc;
    if (OPENMPI) {
        oh r = (oh)(uintptr_t)*request;
        rc = ((o_test)f_test)(&r, done, NULL /* MPI_STATUS_IGNORE */);
        *request = (uint64_t)(uintptr_t)r;
    } else {
        mh r = (mh)*request;
        rc = ((m_test)f_test)(&r, done, (void *)1 /* MPI_STATUS_IGNORE */);
        *request = (uint64_t)(uint32_t)r;
    }
    return rc;
}

int cllm_mpi_wait(uint64_t *request) {
    int rc;
    if (OPENMPI) {
        oh r = (oh)(uintptr_t)*request;
        rc = ((o_wait)f_wait)(&r, NULL);
        *request = (uint64_t)(uintptr_t)r;
    } else {
        mh r = (mh)*request;
        rc = ((m_wait)f_wait)(&r, (void *)1);
        *request = (uint64_t)(uint32_t)r;
    }
    return rc;
}

int cllm_mpi_bcast(void *buffer, size_t count, cllm_mpi_type type, int root) {
    char *p = buffer;
    for (size_t done = 0; done < count;) {
        int n = (int)(count - done < piece ? count - done : piece);
        int rc = OPENMPI ? ((o_bcast)f_bcast)(p, n, O(type_handle(type)), root, O(comm_world))
                         : ((m_bcast)f_bcast)(p, n, M(type_handle(type)), root, M(comm_world));
        if (rc) return rc;
        done += (size_t)n;
        p += (size_t)n * element_size(type);
    }
    return 0;
}

int cllm_mpi_reduce_scatter(const void *input, void *output, const int *counts, cllm_mpi_type type, cllm_mpi_op op) {
    return OPENMPI ? ((o_reduce_scatter)f_reduce_scatter)(input, output, counts, O(type_handle(type)), O(op_handle(op)), O(comm_world))
                   : ((m_reduce_scatter)f_reduce_scatter)(input, output, counts, M(type_handle(type)), M(op_handle(op)), M(comm_world));
}

int cllm_mpi_allgatherv_in_place(void *buffer, const int *counts, const int *displacements, cllm_mpi_type type) {
    // With MPI_IN_PLACE the send count and type are ignored.
    return OPENMPI ? ((o_allgatherv)f_allgatherv)(in_place, 0, O(type_handle(type)), buffer, counts, displacements, O(type_handle(type)), O(comm_world))
                   : ((m_allgatherv)f_allgatherv)(in_place, 0, M(type_handle(type)), buffer, counts, displacements, M(type_handle(type)), M(comm_world));
}

int cllm_mpi_gatherv(const void *input, int count, void *output, const int *counts, const int *displacements,
                     cllm_mpi_type type, int root) {
    return OPENMPI ? ((o_gatherv)f_gatherv)(input, count, O(type_handle(type)), output, counts, displacements, O(type_handle(type)), root, O(comm_world))
                   : ((m_gatherv)f_gatherv)(input, count, M(type_handle(type)), output, counts, displacements, M(type_handle(type)), root, M(comm_world));
}

double cllm_mpi_wtime(void) { return ((p_wtime)f_wtime)(); }

const char *cllm_mpi_error_string(int code) {
    static char text[1024];
    int length = 0;
    if (!f_error_string || ((p_error_string)f_error_string)(code, text, &length)) snprintf(text, sizeof text, "MPI error %d", code);
    return text;
}

const char *cllm_mpi_library_version(void) {
    static char text[8192];
    int length = 0;
    if (!f_library_version || ((p_library_version)f_library_version)(text, &length)) return "";
    char *newline = strchr(text, '\n');
    if (newline) *newline = 0;
    char *comma = strchr(text, ',');
    if (comma) *comma = 0;
    return text;
}
