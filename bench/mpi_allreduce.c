/* bench/mpi_allreduce.c - how long MPI_Allreduce(MPI_SUM) of N floats takes
 * between the ranks of this job: the communication term of the step-time
 * model in bench/run_mpi.sh. Built with -DMMGEN_MPI=ON (bench/mpi.cmake).
 *   mpirun -np 2 mpi_allreduce FLOATS [REPEATS]
 * Prints one JSON line (rank 0): the median seconds and the bus bandwidth
 * 2 (n-1)/n * bytes / seconds (what a ring allreduce moves per rank). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long n = argc > 1 ? atol(argv[1]) : 1 << 20;
    int reps = argc > 2 ? atoi(argv[2]) : 20;
    if (n < 1 || n > (1L << 30) || reps < 1 || reps > 10000) {
        if (rank == 0) fprintf(stderr, "usage: mpi_allreduce FLOATS (1..2^30) [REPEATS (1..10000)]\n");
        MPI_Finalize();
        return 2;
    }
    float *buf = malloc((size_t)n * sizeof *buf);
    double *t = malloc((size_t)reps * sizeof *t);
    if (!buf || !t) {
        fprintf(stderr, "mpi_allreduce: out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (long i = 0; i < n; i++) buf[i] = (float)(i % 7) * 1e-3f;
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); /* warm-up */
    for (int r = 0; r < reps; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        t[r] = MPI_Wtime() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp);
    double med = t[reps / 2], bytes = (double)n * sizeof(float);
    if (rank == 0)
        printf("{\"bench\": \"mpi_allreduce\", \"ranks\": %d, \"bytes\": %.0f, \"seconds\": %.6g, "
               "\"bus_gb_per_s\": %.4g}\n",
               size, bytes, med, size > 1 ? 2.0 * (size - 1) / size * bytes / med / 1e9 : 0.0);
    free(buf);
    free(t);
    MPI_Finalize();
    return 0;
}
