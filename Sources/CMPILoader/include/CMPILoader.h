// The MPI library, loaded at run time (dlopen) so that building and testing Crystalline never
// needs MPI installed. Only the calls a data-parallel trainer makes are exposed, with MPI's
// handles hidden: the two stable C ABIs (Open MPI's, whose handles are pointers to global
// objects, and MPICH's, whose handles are integer constants) are both spoken here, so Swift sees
// one plain interface. Every function returns an MPI error code (0 = MPI_SUCCESS) unless noted.
#ifndef CMPI_LOADER_H
#define CMPI_LOADER_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Which implementation `cllm_mpi_load` found.
typedef enum { CLLM_MPI_NONE = 0, CLLM_MPI_OPENMPI = 1, CLLM_MPI_MPICH = 2 } cllm_mpi_abi;

/// Element types and reductions the trainer uses.
typedef enum { CLLM_MPI_FLOAT = 0, CLLM_MPI_DOUBLE = 1, CLLM_MPI_UINT16 = 2 } cllm_mpi_type;
typedef enum { CLLM_MPI_SUM = 0, CLLM_MPI_MAX = 1, CLLM_MPI_BF16_SUM = 2 } cllm_mpi_op;

/// Loads the MPI library: `path` if given, else the usual names (libmpi.so.40 for Open MPI,
/// libmpich.so.12 / libmpi.so.12 for MPICH). Returns the ABI found, or CLLM_MPI_NONE with a
/// reason in `error` (a NUL-terminated message of at most `error_size` bytes).
cllm_mpi_abi cllm_mpi_load(const char *path, char *error, size_t error_size);
/// The file name that was loaded (valid after a successful load).
const char *cllm_mpi_library_name(void);

/// MPI_Init_thread(FUNNELED) on MPI_COMM_WORLD, whose errors are then returned, not fatal.
int cllm_mpi_init(int *rank, int *size);
int cllm_mpi_finalize(void);
/// MPI_Abort(MPI_COMM_WORLD, code): ends every process of the job.
int cllm_mpi_abort(int code);
int cllm_mpi_barrier(void);
/// In place over MPI_COMM_WORLD: buffer[i] = op over ranks of buffer[i].
int cllm_mpi_allreduce(void *buffer, size_t count, cllm_mpi_type type, cllm_mpi_op op);
/// Non-blocking in-place all-reduce; *request receives an opaque handle for test/wait.
int cllm_mpi_iallreduce(void *buffer, size_t count, cllm_mpi_type type, cllm_mpi_op op, uint64_t *request);
/// *done = 1 when the request finished (the handle is then released).
int cllm_mpi_test(uint64_t *request, int *done);
int cllm_mpi_wait(uint64_t *request);
/// Rank `root`'s buffer to every rank.
int cllm_mpi_bcast(void *buffer, size_t count, cllm_mpi_type type, int root);
/// The sharded optimizer's collectives (ZeRO-1), over blocks of `counts[r]` elements at
/// `displacements[r]` (r = 0..<size):
/// rank r's `output` (counts[r] elements) = the sum over ranks of input[displacements[r]...].
int cllm_mpi_reduce_scatter(const void *input, void *output, const int *counts, cllm_mpi_type type, cllm_mpi_op op);
/// Every rank's block of `buffer`, already in place at its displacement, to every rank.
int cllm_mpi_allgatherv_in_place(void *buffer, const int *counts, const int *displacements, cllm_mpi_type type);
/// Every rank's `input` (counts[rank] elements) into `output` at the displacements, on `root` only.
int cllm_mpi_gatherv(const void *input, int count, void *output, const int *counts, const int *displacements,
                     cllm_mpi_type type, int root);
/// MPI_Wtime.
double cllm_mpi_wtime(void);
/// The text of an MPI error code (a static buffer).
const char *cllm_mpi_error_string(int code);
/// MPI_Get_library_version's first line (a static buffer).
const char *cllm_mpi_library_version(void);

#ifdef __cplusplus
}
#endif
#endif
