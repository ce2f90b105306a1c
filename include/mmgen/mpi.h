/* mmgen/mpi.h - data-parallel training over MPI: libmmgen_mpi, built with
 * -DMMGEN_MPI=ON (Open MPI or any MPI-3 library). libmmgen itself never
 * links MPI; this small library supplies the collectives of an
 * mmg_grad_reducer (mmgen/train.h) with MPI_Iallreduce and MPI_Ibcast.
 *
 *   MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);  // the caller's job
 *   mmg_mpi *g; mmg_mpi_create(MPI_COMM_WORLD, NULL, &g);
 *   ... every rank builds the same model, trainer and loader ...
 *   mmg_mpi_agree(g, data_digest, sizeof data_digest, "training data");
 *   mmg_mpi_join(g, trainer);            // rank 0's weights everywhere
 *   for (...) { mmg_loader_next(loader, &b); mmg_trainer_step(trainer, b, &loss); }
 *   if (mmg_mpi_rank(g) == 0) mmg_trainer_save(trainer, loader, "ckpt");
 *   mmg_trainer_free(trainer); mmg_mpi_free(g);
 *   MPI_Finalize();
 *
 * libmmgen_mpi never calls MPI_Init, MPI_Finalize or MPI_Abort: the
 * application owns MPI. It works on its own duplicate of the communicator,
 * so its collectives never mix with the application's. Every collective
 * waits at most timeout_s: a rank that died or hangs turns into MMG_ERR_IO
 * on the ranks still waiting ("no answer from the other ranks for 300 s
 * while summing gradients"), after which the communicator is unusable and
 * the application should call MPI_Abort.
 *
 * Errors: each function returns an mmg_status; the message is
 * mmg_mpi_last_error() (per thread). Calls are collective unless marked
 * [local]: every rank makes them in the same order. */
#ifndef MMGEN_MPI_H
#define MMGEN_MPI_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "status.h"
#include "train.h"

/* Fill with mmg_mpi_options_init(&o, sizeof o). Grows only at the end. */
typedef struct mmg_mpi_options {
    size_t struct_size;
    double timeout_s;    /* longest wait in one collective; default 300; <= 0: no limit */
    size_t bucket_bytes; /* gradient bucket (mmg_grad_reducer.bucket_bytes); 0 (default):
                            4 MiB; SIZE_MAX: one sum after the backward pass */
} mmg_mpi_options;

/* What the collectives moved and how long a rank waited for them. */
typedef struct mmg_mpi_stats {
    size_t struct_size;
    uint64_t grad_sums;     /* MPI_Iallreduce calls on gradients */
    uint64_t grad_bytes;    /* bytes of gradient this rank contributed to them */
    double grad_wait_s;     /* time spent waiting for them after the backward pass
                               (what the overlap did not hide) */
    uint64_t small_sums;    /* loss / failure-flag sums */
    double small_wait_s;
} mmg_mpi_stats;

typedef struct mmg_mpi mmg_mpi;

MMG_EXTERN_C_BEGIN

/* Defaults as above, writing only struct_size bytes. [local] */
MMG_API void mmg_mpi_options_init(mmg_mpi_options *opts, size_t struct_size);

/* A group over a duplicate of `comm` (MPI must be initialized:
 * MMG_ERR_STATE otherwise). opts may be NULL. Returns MMG_OK,
 * MMG_ERR_INVALID_ARG, MMG_ERR_STATE, MMG_ERR_NOMEM, MMG_ERR_IO (an MPI
 * call failed). [collective] */
MMG_API mmg_status mmg_mpi_create(MPI_Comm comm, const mmg_mpi_options *opts, mmg_mpi **out);

/* This process's rank and the group's size; 0 and 1 for NULL. [local] */
MMG_API int mmg_mpi_rank(const mmg_mpi *group);
MMG_API int mmg_mpi_size(const mmg_mpi *group);

/* Fails on every rank (MMG_ERR_CONFIG) unless every rank holds the same
 * `bytes` bytes at `data` as rank 0 (compared through a 64-bit digest and
 * the length); the message on a differing rank reads "rank 2: its <what>
 * differs from rank 0's", on the others how many ranks differ. Use it for
 * anything the ranks must share besides the trainer's setup: the data, a
 * checkpoint to resume from. [collective] */
MMG_API mmg_status mmg_mpi_agree(mmg_mpi *group, const void *data, size_t bytes, const char *what);

/* Makes `trainer` this rank's member (mmg_trainer_set_reducer: the setups are
 * compared, rank 0's weights and optimizer state copied to every rank). The
 * group must outlive the trainer or its next mmg_trainer_set_reducer(t,
 * NULL). Returns mmg_trainer_set_reducer's status. [collective] */
MMG_API mmg_status mmg_mpi_join(mmg_mpi *group, mmg_trainer *trainer);

/* Counters since create. [local] */
MMG_API void mmg_mpi_get_stats(const mmg_mpi *group, mmg_mpi_stats *out);

/* The message of this thread's last failed mmg_mpi_* call; "" if none. [local] */
MMG_API const char *mmg_mpi_last_error(void);

/* Frees the group and its communicator (MPI_Comm_free: call before
 * MPI_Finalize). NULL is a no-op. [collective unless a collective timed out,
 * in which case it frees only this rank's memory] */
MMG_API void mmg_mpi_free(mmg_mpi *group);

MMG_EXTERN_C_END

#endif /* MMGEN_MPI_H */
