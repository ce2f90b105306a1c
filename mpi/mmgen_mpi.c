/* mpi/mmgen_mpi.c - libmmgen_mpi: an mmg_grad_reducer over MPI (mmgen/mpi.h).
 *
 * Gradients: one MPI_Iallreduce(MPI_SUM) per bucket, started while the
 * backward pass goes on; each start also tests the requests in flight, which
 * is what moves them forward in MPI libraries without a progress thread.
 * finish_sums waits for all of them. Every wait polls with a deadline, so a
 * rank that died or hangs becomes an error instead of a hang. */
#include "mmgen/mpi.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TIMEOUT_S 300.0
#define MAX_CHUNK ((size_t)1 << 30) /* elements or bytes per MPI call (an int) */

struct mmg_mpi {
    MPI_Comm comm;
    int rank, size;
    double timeout_s;
    size_t bucket_bytes;
    MPI_Request *reqs; /* gradient sums in flight */
    int n_reqs, cap_reqs;
    int broken;        /* a collective timed out: the communicator is unusable */
    mmg_mpi_stats stats;
    char err[512];
};

static _Thread_local char last_error[512];

const char *mmg_mpi_last_error(void) { return last_error; }

static mmg_status fail(mmg_mpi *g, mmg_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    if (g) snprintf(g->err, sizeof g->err, "%s", last_error);
    return s;
}

static mmg_status mpi_fail(mmg_mpi *g, int code, const char *call) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "error %d", code);
    return fail(g, MMG_ERR_IO, "%s failed: %s", call, text);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Waits for n requests, polling: no wait past the deadline. */
static mmg_status wait_all(mmg_mpi *g, MPI_Request *reqs, int n, const char *what, double *waited) {
    const double t0 = now_s();
    int spins = 0;
    for (;;) {
        int done = 0;
        int rc = MPI_Testall(n, reqs, &done, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_fail(g, rc, what);
        if (done) break;
        double t = now_s() - t0;
        if (g->timeout_s > 0 && t > g->timeout_s) {
            g->broken = 1;
            return fail(g, MMG_ERR_IO,
                        "rank %d: no answer from the other ranks for %.0f s while %s: a rank died, "
                        "hangs or is far behind (the timeout is mmg_mpi_options.timeout_s)",
                        g->rank, t, what);
        }
        /* spin briefly (the common case is microseconds), then yield */
        if (++spins > 1000) {
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        }
    }
    if (waited) *waited += now_s() - t0;
    return MMG_OK;
}

void mmg_mpi_options_init(mmg_mpi_options *opts, size_t struct_size) {
    if (!opts || struct_size < sizeof(size_t)) return;
    mmg_mpi_options d = {sizeof d, DEFAULT_TIMEOUT_S, 0};
    if (struct_size > sizeof d) {
        memset(opts, 0, struct_size);
        struct_size = sizeof d;
    }
    memcpy(opts, &d, struct_size);
    opts->struct_size = struct_size;
}

mmg_status mmg_mpi_create(MPI_Comm comm, const mmg_mpi_options *opts, mmg_mpi **out) {
    if (!out) return fail(NULL, MMG_ERR_INVALID_ARG, "mmg_mpi_create: NULL out");
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (!inited || finalized)
        return fail(NULL, MMG_ERR_STATE, "mmg_mpi_create: MPI is %s; the application calls "
                    "MPI_Init (libmmgen_mpi never does)",
                    finalized ? "finalized" : "not initialized");
    mmg_mpi_options o;
    mmg_mpi_options_init(&o, sizeof o);
    if (opts) {
        if (opts->struct_size < sizeof(size_t))
            return fail(NULL, MMG_ERR_INVALID_ARG, "mmg_mpi_create: options struct_size %zu",
                        opts->struct_size);
        memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    }
    if (o.timeout_s != o.timeout_s)
        return fail(NULL, MMG_ERR_INVALID_ARG, "mmg_mpi_create: timeout_s is NaN");
    mmg_mpi *g = calloc(1, sizeof *g);
    if (!g) return fail(NULL, MMG_ERR_NOMEM, "mmg_mpi_create: out of memory");
    int rc = MPI_Comm_dup(comm, &g->comm);
    if (rc != MPI_SUCCESS) {
        free(g);
        return mpi_fail(NULL, rc, "mmg_mpi_create: MPI_Comm_dup");
    }
    /* errors come back as codes, never abort the process from in here */
    MPI_Comm_set_errhandler(g->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(g->comm, &g->rank);
    MPI_Comm_size(g->comm, &g->size);
    g->timeout_s = o.timeout_s;
    g->bucket_bytes = o.bucket_bytes;
    g->stats.struct_size = sizeof g->stats;
    *out = g;
    return MMG_OK;
}

int mmg_mpi_rank(const mmg_mpi *g) { return g ? g->rank : 0; }
int mmg_mpi_size(const mmg_mpi *g) { return g ? g->size : 1; }

void mmg_mpi_get_stats(const mmg_mpi *g, mmg_mpi_stats *out) {
    if (!g || !out || out->struct_size < sizeof(size_t)) return;
    size_t n = out->struct_size < sizeof g->stats ? out->struct_size : sizeof g->stats;
    memcpy((char *)out + sizeof(size_t), (const char *)&g->stats + sizeof(size_t), n - sizeof(size_t));
}

void mmg_mpi_free(mmg_mpi *g) {
    if (!g) return;
    /* after a timeout the other ranks may never join a collective free */
    if (!g->broken) MPI_Comm_free(&g->comm);
    free(g->reqs);
    free(g);
}

/* ---- the reducer's collectives ----------------------------------------------- */

static mmg_status sum_doubles(void *user, double *v, size_t n) {
    mmg_mpi *g = user;
    if (n > INT_MAX) return fail(g, MMG_ERR_INVALID_ARG, "sum of %zu doubles", n);
    MPI_Request r;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, v, (int)n, MPI_DOUBLE, MPI_SUM, g->comm, &r);
    if (rc != MPI_SUCCESS) return mpi_fail(g, rc, "MPI_Iallreduce");
    g->stats.small_sums++;
    return wait_all(g, &r, 1, "summing the loss and failure flags", &g->stats.small_wait_s);
}

static mmg_status start_sum(void *user, float *data, size_t n) {
    mmg_mpi *g = user;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < MAX_CHUNK ? n - done : MAX_CHUNK;
        if (g->n_reqs == g->cap_reqs) {
            int cap = g->cap_reqs ? 2 * g->cap_reqs : 64;
            MPI_Request *r = realloc(g->reqs, (size_t)cap * sizeof *r);
            if (!r) return fail(g, MMG_ERR_NOMEM, "out of memory for MPI requests");
            g->reqs = r, g->cap_reqs = cap;
        }
        int rc = MPI_Iallreduce(MPI_IN_PLACE, data + done, (int)k, MPI_FLOAT, MPI_SUM, g->comm,
                                &g->reqs[g->n_reqs]);
        if (rc != MPI_SUCCESS) return mpi_fail(g, rc, "MPI_Iallreduce");
        g->n_reqs++;
        g->stats.grad_sums++;
        g->stats.grad_bytes += k * sizeof(float);
        done += k;
    }
    /* drive the sums in flight while the backward continues */
    int flag = 0;
    MPI_Testall(g->n_reqs, g->reqs, &flag, MPI_STATUSES_IGNORE);
    if (flag) g->n_reqs = 0;
    return MMG_OK;
}

static mmg_status finish_sums(void *user) {
    mmg_mpi *g = user;
    mmg_status s = wait_all(g, g->reqs, g->n_reqs, "summing gradients", &g->stats.grad_wait_s);
    g->n_reqs = 0;
    return s;
}

static mmg_status broadcast(void *user, void *data, size_t bytes) {
    mmg_mpi *g = user;
    for (size_t done = 0; done < bytes;) {
        size_t k = bytes - done < MAX_CHUNK ? bytes - done : MAX_CHUNK;
        MPI_Request r;
        int rc = MPI_Ibcast((char *)data + done, (int)k, MPI_BYTE, 0, g->comm, &r);
        if (rc != MPI_SUCCESS) return mpi_fail(g, rc, "MPI_Ibcast");
        mmg_status s = wait_all(g, &r, 1, "receiving rank 0's state", NULL);
        if (s) return s;
        done += k;
    }
    return MMG_OK;
}

static const char *error_message(void *user) { return ((mmg_mpi *)user)->err; }

mmg_status mmg_mpi_join(mmg_mpi *g, mmg_trainer *t) {
    if (!g || !t) return fail(g, MMG_ERR_INVALID_ARG, "mmg_mpi_join: NULL group or trainer");
    mmg_grad_reducer r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.rank = g->rank;
    r.n_ranks = g->size;
    r.user = g;
    r.sum_doubles = sum_doubles;
    r.start_sum = start_sum;
    r.finish_sums = finish_sums;
    r.broadcast = broadcast;
    r.error_message = error_message;
    r.bucket_bytes = g->bucket_bytes;
    mmg_status s = mmg_trainer_set_reducer(t, &r);
    if (s) return fail(g, s, "%s", mmg_last_error());
    return MMG_OK;
}

/* FNV-1a, 64 bits: a digest to compare, not a defence against forgery. */
static uint64_t digest(const void *data, size_t n) {
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h ^ (uint64_t)n;
}

mmg_status mmg_mpi_agree(mmg_mpi *g, const void *data, size_t bytes, const char *what) {
    if (!g || (!data && bytes) || !what)
        return fail(g, MMG_ERR_INVALID_ARG, "mmg_mpi_agree: NULL argument");
    uint64_t mine[2] = {digest(data, bytes), (uint64_t)bytes}, r0[2] = {mine[0], mine[1]};
    mmg_status s = broadcast(g, r0, sizeof r0);
    if (s) return s;
    int differs = mine[0] != r0[0] || mine[1] != r0[1];
    double n_diff = differs;
    s = sum_doubles(g, &n_diff, 1);
    if (s) return s;
    if (differs)
        return fail(g, MMG_ERR_CONFIG, "rank %d: its %s differs from rank 0's (%zu bytes, digest "
                    "%016llx; rank 0: %llu bytes, %016llx)",
                    g->rank, what, bytes, (unsigned long long)mine[0], (unsigned long long)r0[1],
                    (unsigned long long)r0[0]);
    if (n_diff > 0)
        return fail(g, MMG_ERR_CONFIG, "rank %d: %g of %d ranks have another %s than rank 0 (their "
                    "messages say which)",
                    g->rank, n_diff, g->size, what);
    return MMG_OK;
}
