/* cli/train_progress.c - the training run's progress line, JSON log and
 * loss-curve plot (see train_progress.h). */
#include "train_progress.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "spawn.h"

#define BAR_WIDTH 24

int progress_begin(train_progress *p, const char *log_path, int64_t first_step, int64_t total,
                   const char *start_json) {
    memset(p, 0, sizeof *p);
    p->tty = isatty(fileno(stdout));
    p->first_step = first_step;
    p->total = total;
    p->t_start = cli_now();
    if (log_path) {
        p->log = fopen(log_path, "w");
        if (!p->log) return cli_error("--log-file: cannot write '%s': %s", log_path, strerror(errno));
        progress_json(p, "start", "%s\"first_step\": %lld, \"steps\": %lld", start_json ? start_json : "",
                      (long long)first_step, (long long)total);
    }
    return 0;
}

double progress_eta(const train_progress *p, int64_t step) {
    int64_t done = step - p->first_step;
    if (done <= 0) return -1;
    double per_step = (cli_now() - p->t_start) / (double)done;
    return per_step * (double)(p->total > step ? p->total - step : 0);
}

const char *progress_duration(double s, char *buf, size_t size) {
    if (s < 0) snprintf(buf, size, "?");
    else if (s >= 3600) snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else if (s >= 60) snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(buf, size, "%ds", (int)ceil(s));
    return buf;
}

void progress_clear(train_progress *p) {
    if (p->drawn) {
        fputs("\r\033[K", stdout);
        fflush(stdout);
        p->drawn = 0;
    }
}

static void draw(train_progress *p, int64_t step, float loss) {
    int64_t span = p->total > 0 ? p->total : 1;
    double frac = (double)step / (double)span;
    frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
    int fill = (int)(frac * BAR_WIDTH);
    char bar[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < fill ? '#' : i == fill ? '>' : '.';
    bar[BAR_WIDTH] = 0;
    double elapsed = cli_now() - p->t_start;
    int64_t done = step - p->first_step;
    char eta[32], spent[32];
    progress_duration(progress_eta(p, step), eta, sizeof eta);
    progress_duration(elapsed, spent, sizeof spent);
    printf("\r\033[K[%s] %lld/%lld %3.0f%%  loss %.4f  %.1f steps/s  %s elapsed, eta %s", bar, (long long)step,
           (long long)p->total, 100 * frac, (double)loss, elapsed > 0 ? (double)done / elapsed : 0.0, spent, eta);
    fflush(stdout);
    p->drawn = 1;
    p->t_drawn = cli_now();
}

void progress_step(train_progress *p, int64_t step, float loss) {
    size_t at = (size_t)(step - p->first_step - 1);
    if (at >= p->cap_loss) {
        size_t cap = p->cap_loss ? p->cap_loss * 2 : 1024;
        while (cap <= at) cap *= 2;
        float *grown = realloc(p->loss, cap * sizeof *grown);
        if (grown) p->loss = grown, p->cap_loss = cap; /* else the plot just ends early */
    }
    if (at < p->cap_loss && at == p->n_loss) p->loss[p->n_loss++] = loss;
    if (p->tty && (cli_now() - p->t_drawn >= 0.1 || step == p->total)) draw(p, step, loss);
}

void progress_print(train_progress *p, const char *fmt, ...) {
    progress_clear(p); /* the next step draws the progress line again, below */
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* printf's "nan", "inf" and their negatives where a value stands (after
 * ": ") become null: JSON has no such numbers, and a diverging run is when
 * the log matters most. */
static void nonfinite_to_null(const char *in, char *out, size_t size) {
    size_t k = 0;
    while (*in && k + 7 < size) {
        if (in[0] == ':' && in[1] == ' ') {
            const char *v = in + 2 + (in[2] == '-');
            if ((!strncmp(v, "nan", 3) || !strncmp(v, "inf", 3)) && (v[3] == ',' || v[3] == '\0')) {
                memcpy(out + k, ": null", 6);
                k += 6;
                in = v + 3;
                continue;
            }
        }
        out[k++] = *in++;
    }
    out[k] = '\0';
}

void progress_json(train_progress *p, const char *event, const char *fmt, ...) {
    if (!p->log) return;
    fprintf(p->log, "{\"event\": \"%s\"", event);
    va_list ap;
    va_start(ap, fmt);
    char raw[4096], body[4096 + 64];
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    nonfinite_to_null(raw, body, sizeof body);
    if (body[0]) fprintf(p->log, ", %s", body);
    fputs("}\n", p->log);
    fflush(p->log);
}

const char *progress_json_string(const char *s, char *buf, size_t size) {
    size_t k = 0;
    if (size < 3) return "\"\"";
    buf[k++] = '"';
    for (const unsigned char *c = (const unsigned char *)s; *c && k + 8 < size; c++) {
        if (*c == '"' || *c == '\\') buf[k++] = '\\', buf[k++] = (char)*c;
        else if (*c < 0x20) k += (size_t)snprintf(buf + k, size - k, "\\u%04x", *c);
        else buf[k++] = (char)*c;
    }
    buf[k++] = '"';
    buf[k] = 0;
    return buf;
}

void progress_eval(train_progress *p, int64_t step, double loss) {
    if (p->n_eval == p->cap_eval) {
        size_t cap = p->cap_eval ? p->cap_eval * 2 : 16;
        int64_t *s = realloc(p->eval_step, cap * sizeof *s);
        if (s) p->eval_step = s;
        double *l = s ? realloc(p->eval_loss, cap * sizeof *l) : NULL;
        if (!l) return;
        p->eval_loss = l;
        p->cap_eval = cap;
    }
    p->eval_step[p->n_eval] = step;
    p->eval_loss[p->n_eval++] = loss;
}

/* A gnuplot single-quoted string: only ' needs escaping, as ''. */
static void gp_quote(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
    fputc('\'', f);
}

int progress_plot(const train_progress *p, const char *png, const char *title) {
    if (p->n_loss == 0) return cli_error("--plot: no training steps to draw");
    size_t n = strlen(png) + 32;
    char *data = malloc(n), *script = malloc(n), *tmp_png = malloc(n);
    if (!data || !script || !tmp_png) {
        free(data), free(script), free(tmp_png);
        return cli_error("out of memory");
    }
    long pid = (long)getpid();
    snprintf(data, n, "%s.tmp%ld.dat", png, pid);
    snprintf(script, n, "%s.tmp%ld.gp", png, pid);
    snprintf(tmp_png, n, "%s.tmp%ld", png, pid);
    int rc = 0;
    FILE *d = fopen(data, "w"), *g = d ? fopen(script, "w") : NULL;
    if (!d || !g) rc = cli_error("--plot: cannot write beside '%s': %s", png, strerror(errno));
    if (!rc) {
        /* block 0: step, loss, running mean over a window of 2% of the run */
        size_t w = p->n_loss / 50 > 1 ? p->n_loss / 50 : 1;
        double sum = 0;
        for (size_t i = 0; i < p->n_loss; i++) {
            sum += p->loss[i];
            if (i >= w) sum -= p->loss[i - w];
            size_t k = i + 1 < w ? i + 1 : w;
            fprintf(d, "%lld %.6g %.6g\n", (long long)(p->first_step + 1 + (int64_t)i), (double)p->loss[i],
                    sum / (double)k);
        }
        fprintf(d, "\n\n"); /* block 1: evaluations */
        for (size_t i = 0; i < p->n_eval; i++) fprintf(d, "%lld %.6g\n", (long long)p->eval_step[i], p->eval_loss[i]);
        if (p->n_eval == 0) fprintf(d, "NaN NaN\n");
        fprintf(g, "set terminal pngcairo size 900,540 font 'DejaVu Sans,11'\nset output ");
        gp_quote(g, tmp_png);
        fprintf(g, "\nset title ");
        gp_quote(g, title);
        fprintf(g, " noenhanced\nset xlabel 'step'\nset ylabel 'cross-entropy loss'\nset grid\n"
                   "set key top right\nplot ");
        gp_quote(g, data);
        fprintf(g, " index 0 using 1:2 with lines lc rgb '#b0c4de' title 'training loss (each step)', \\\n"
                   "  '' index 0 using 1:3 with lines lw 2 lc rgb '#1f4e9c' title 'training loss (running mean)', \\\n"
                   "  '' index 1 using 1:2 with linespoints pt 7 ps 1.2 lw 2 lc rgb '#d1495b' title 'validation loss'\n");
    }
    if (d && fclose(d) != 0 && !rc) rc = cli_error("--plot: cannot write '%s'", data);
    if (g && fclose(g) != 0 && !rc) rc = cli_error("--plot: cannot write '%s'", script);
    if (!rc) {
        char *argv[] = {"gnuplot", script, NULL};
        int status = spawn_wait(argv);
        if (status == -2 && errno == ENOENT) {
            cli_warn("no loss curve: gnuplot is not installed (Debian: apt-get install gnuplot-nox)");
            rc = -1;
        } else if (status != 0) {
            rc = cli_error("--plot: gnuplot %s drawing '%s'", status < 0 ? "did not finish" : "failed (its message is above)", png);
        } else if (rename(tmp_png, png) != 0) {
            rc = cli_error("--plot: cannot write '%s': %s", png, strerror(errno));
        }
    }
    remove(data);
    remove(script);
    if (rc) remove(tmp_png);
    free(data), free(script), free(tmp_png);
    return rc;
}

void progress_end(train_progress *p) {
    progress_clear(p);
    if (p->log) fclose(p->log);
    free(p->loss);
    free(p->eval_step);
    free(p->eval_loss);
    memset(p, 0, sizeof *p);
}
