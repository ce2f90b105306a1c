/* cli/train_progress.h - what `mmgen train` shows and keeps while it runs:
 *
 * - on a terminal, one progress line redrawn in place (a bar, step, loss,
 *   speed and the time left); log lines scroll above it. When standard output
 *   is not a terminal (a pipe, a file, CI), plain lines only, each with the
 *   time left, so logs stay readable;
 * - --log-file: the same events as JSON lines, one object per line, flushed
 *   as written, for programs: {"event": "start", ...}, {"event": "step",
 *   "step": 100, "loss": 1.23, "lr": 0.001, "grad_norm": 0.9, "tokens_per_s":
 *   8000, "elapsed_s": 12.3, "eta_s": 40.1}, {"event": "eval", "step",
 *   "loss", "perplexity"}, {"event": "end", "step", "elapsed_s", "status"};
 * - --plot: the loss curve as a PNG (every step's training loss, its running
 *   mean, the evaluations), drawn by gnuplot (Debian package gnuplot-nox)
 *   from the kept history. */
#ifndef MMGEN_CLI_TRAIN_PROGRESS_H
#define MMGEN_CLI_TRAIN_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct train_progress {
    int tty;                /* redraw a progress line on stdout */
    int drawn;              /* the progress line is on the screen */
    FILE *log;              /* --log-file, or NULL */
    int64_t first_step, total;
    double t_start, t_drawn;
    float *loss;            /* (steps since first_step) training loss per step */
    size_t n_loss, cap_loss;
    int64_t *eval_step;     /* evaluations: step and loss */
    double *eval_loss;
    size_t n_eval, cap_eval;
} train_progress;

/* Starts at step `first_step` of `total`; opens `log_path` (NULL: none) for
 * writing and writes the start event with `start_json` (a JSON object's
 * members, e.g. "\"model\": \"m.safetensors\"", or NULL). The progress line is
 * drawn only when stdout is a terminal. Returns 0 or CLI_ERR after printing. */
int progress_begin(train_progress *p, const char *log_path, int64_t first_step, int64_t total,
                   const char *start_json);

/* Records step `step`'s loss and redraws the progress line (at most ten
 * times a second). */
void progress_step(train_progress *p, int64_t step, float loss);

/* Seconds left at `step`, from the speed so far; -1 when unknown. */
double progress_eta(const train_progress *p, int64_t step);

/* `s` seconds as "1h02m", "4m37s" or "12s" ("?" when negative) in buf. */
const char *progress_duration(double s, char *buf, size_t size);

/* Prints a permanent line (printf-style, without the newline) to stdout
 * above the progress line. */
void progress_print(train_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes one JSON line {"event": EVENT, <members>} to the log file, if any. */
void progress_json(train_progress *p, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records an evaluation for the plot. */
void progress_eval(train_progress *p, int64_t step, double loss);

/* Clears the progress line (before the run's last lines). */
void progress_clear(train_progress *p);

/* Draws the loss curve into `png` with gnuplot, titled `title`. Returns 0
 * when written; -1 when gnuplot is not installed (warned); CLI_ERR when it
 * failed (printed). */
int progress_plot(const train_progress *p, const char *png, const char *title);

/* Closes the log file; frees the history. */
void progress_end(train_progress *p);

/* A JSON string literal for `s` (quotes included) in `buf`; cut to fit. */
const char *progress_json_string(const char *s, char *buf, size_t size);

#endif /* MMGEN_CLI_TRAIN_PROGRESS_H */
