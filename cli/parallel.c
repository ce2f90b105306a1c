/* cli/parallel.c - `mmgen train` under mpirun (cli/parallel.h). */
#include "parallel.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* The variables each launcher sets in the processes it starts. */
static const char *launcher_variable(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i])) return vars[i];
    return NULL;
}

#ifndef MMGEN_WITH_MPI

int cli_parallel_begin(cli_parallel *p, double timeout_s, size_t bucket_bytes) {
    (void)timeout_s, (void)bucket_bytes;
    memset(p, 0, sizeof *p);
    p->size = 1;
    const char *v = launcher_variable();
    const char *size = v ? getenv(v) : NULL;
    if (v && !(strcmp(v, "OMPI_COMM_WORLD_SIZE") == 0 && size && strcmp(size, "1") == 0))
        return cli_error("launched by an MPI launcher ($%s is set), but this mmgen was built without MPI: "
                         "every process would train alone. Rebuild with -DMMGEN_MPI=ON (README: "
                         "\"Training on several processes or machines\")",
                         v);
    return 0;
}
int cli_parallel_agree(cli_parallel *p, const void *data, size_t n, const char *what) {
    (void)p, (void)data, (void)n, (void)what;
    return 0;
}
int cli_parallel_join(cli_parallel *p, mmg_trainer *trainer) {
    (void)p, (void)trainer;
    return 0;
}
int cli_parallel_decide(cli_parallel *p, int flag) {
    (void)p;
    return flag;
}
void cli_parallel_report(const cli_parallel *p, double train_seconds, long long steps) {
    (void)p, (void)train_seconds, (void)steps;
}
int cli_parallel_end(cli_parallel *p, int rc, int together) {
    (void)p, (void)together;
    return rc;
}

#else /* MMGEN_WITH_MPI */

#include <mpi.h>

#include "mmgen/mpi.h"

static char stop_message[600];

/* mpirun sends SIGTERM to every rank when one rank fails or dies: say so
 * (write() is async-signal-safe), then leave. */
static void on_sigterm(int sig) {
    (void)sig;
    ssize_t w = write(STDERR_FILENO, stop_message, strlen(stop_message));
    (void)w;
    _exit(143);
}

int cli_parallel_begin(cli_parallel *p, double timeout_s, size_t bucket_bytes) {
    memset(p, 0, sizeof *p);
    p->size = 1;
    if (!launcher_variable()) return 0;
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return cli_error("MPI_Init_thread failed");
    p->mpi_started = 1;
    mmg_mpi_options o;
    mmg_mpi_options_init(&o, sizeof o);
    o.timeout_s = timeout_s;
    o.bucket_bytes = bucket_bytes;
    mmg_mpi *g = NULL;
    if (mmg_mpi_create(MPI_COMM_WORLD, &o, &g) != MMG_OK) {
        cli_error("joining the MPI ranks: %s", mmg_mpi_last_error());
        MPI_Abort(MPI_COMM_WORLD, CLI_ERR);
        return CLI_ERR;
    }
    p->group = g;
    p->rank = mmg_mpi_rank(g);
    p->size = mmg_mpi_size(g);
    if (p->size > 1) {
        snprintf(stop_message, sizeof stop_message,
                 "mmgen: rank %d stopped by mpirun (another rank failed or was killed; its message or "
                 "mpirun's says which); checkpoints are written atomically, so the last one is intact\n",
                 p->rank);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigterm;
        sigaction(SIGTERM, &sa, NULL);
    }
    /* rank 0 speaks for the group */
    if (p->rank != 0 && !freopen("/dev/null", "w", stdout))
        cli_warn("rank %d: cannot silence stdout", p->rank);
    return 0;
}

int cli_parallel_agree(cli_parallel *p, const void *data, size_t n, const char *what) {
    if (!p->group) return 0;
    if (mmg_mpi_agree(p->group, data, n, what) != MMG_OK)
        return cli_error("%s", mmg_mpi_last_error());
    return 0;
}

int cli_parallel_decide(cli_parallel *p, int flag) {
    if (!p->group || p->size < 2) return flag;
    MPI_Bcast(&flag, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return flag;
}

int cli_parallel_join(cli_parallel *p, mmg_trainer *trainer) {
    if (!p->group) return 0;
    if (mmg_mpi_join(p->group, trainer) != MMG_OK)
        return cli_error("joining the ranks: %s", mmg_mpi_last_error());
    printf("ranks: %d processes train together: each computes %s of every batch, gradients summed "
           "with MPI_Allreduce\n",
           p->size, p->size == 2 ? "half" : "its share");
    return 0;
}

void cli_parallel_report(const cli_parallel *p, double train_seconds, long long steps) {
    if (!p->group || p->size < 2 || steps <= 0) return;
    mmg_mpi_stats st = {.struct_size = sizeof st};
    mmg_mpi_get_stats(p->group, &st);
    printf("ranks: %.2f MB of gradients summed per step in %.1f sum(s); waiting for the sums took %.1f ms "
           "per step (%.1f%% of the step time)\n",
           (double)st.grad_bytes / 1e6 / (double)steps, (double)st.grad_sums / (double)steps,
           1e3 * st.grad_wait_s / (double)steps,
           train_seconds > 0 ? 100.0 * st.grad_wait_s / train_seconds : 0.0);
}

int cli_parallel_end(cli_parallel *p, int rc, int together) {
    if (!p->mpi_started) return rc;
    if (rc != 0 && rc != 130 && p->size > 1 && !together) {
        /* the other ranks may be waiting for this one: stop them now */
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, rc);
    }
    mmg_mpi_free(p->group);
    p->group = NULL;
    MPI_Finalize();
    return rc;
}

#endif /* MMGEN_WITH_MPI */
