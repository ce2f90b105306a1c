/* cli/parallel.h - `mmgen train` under mpirun: data-parallel ranks through
 * libmmgen_mpi when mmgen was built with -DMMGEN_MPI=ON (cli/parallel.c).
 *
 * Without mpirun (or without MPI support) a run is one process, size 1, and
 * every function here is a no-op that succeeds. Under mpirun every rank runs
 * the whole command on the same files: the ranks check that they agree on
 * the data and flags, the trainer joins the group (rank 0's weights), every
 * rank draws the same global batches and trains on its share; rank 0 alone
 * prints, saves checkpoints and the model and writes the log. */
#ifndef MMGEN_CLI_PARALLEL_H
#define MMGEN_CLI_PARALLEL_H

#include <stddef.h>

#include "mmgen/mmgen.h"

typedef struct cli_parallel {
    int rank, size;
    int mpi_started;      /* we called MPI_Init */
    void *group;          /* mmg_mpi * */
} cli_parallel;

/* Starts MPI when mpirun (Open MPI, MPICH or PMIx) launched this process;
 * ranks other than 0 then send stdout to /dev/null. timeout_s bounds every
 * collective wait. Returns 0, or CLI_ERR after printing (launched by mpirun
 * but built without MPI; MPI_Init failed). */
int cli_parallel_begin(cli_parallel *p, double timeout_s, size_t bucket_bytes);

/* Every rank must hold the same bytes as rank 0 (the data, the flags, a
 * checkpoint). Returns 0 or CLI_ERR after printing. */
int cli_parallel_agree(cli_parallel *p, const void *data, size_t n, const char *what);

/* Rank 0's `flag` on every rank (a decision made on one clock, such as
 * --max-time's). */
int cli_parallel_decide(cli_parallel *p, int flag);

/* The trainer joins the group (mmg_mpi_join). Returns 0 or CLI_ERR. */
int cli_parallel_join(cli_parallel *p, mmg_trainer *trainer);

/* Prints rank 0's view of what the gradient sums cost (after training). */
void cli_parallel_report(const cli_parallel *p, double train_seconds, long long steps);

/* Ends the run with exit status rc. `together`: every rank failed the same
 * way at the same point (a failed agreement, join or training step), so
 * every rank can print and leave normally; otherwise a failure on one rank
 * stops them all (MPI_Abort), so no rank waits for it. Call once. Returns rc. */
int cli_parallel_end(cli_parallel *p, int rc, int together);

#endif /* MMGEN_CLI_PARALLEL_H */
