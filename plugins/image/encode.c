/* plugins/image/encode.c - PNG -> tokens, overlapping reading and search.
 *
 * Reading a PNG is sequential (inflate, then each row's filter depends on
 * the one above), and on a photograph it costs about as much as the codebook
 * search. So the search does not wait for the whole image: while the calling
 * thread decodes bands of rows, worker threads take groups of patch rows
 * whose pixels have arrived, in order, and quantize them; when reading ends
 * the calling thread joins them. Each group writes its own slice of the
 * token array, so the result is the same for any number of threads.
 *
 * An interlaced PNG arrives all at once, and an image to be resized must be
 * complete first: those are read, then searched with the same workers. */
#include <pthread.h>
#include <string.h>

#include "image.h"

/* Patches quantized per unit of work: small enough to start early and to
 * balance threads, large enough for the batched search. */
#define GROUP_PATCHES 512

typedef struct pipeline {
    const img_tokenizer *t;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    img_image im;        /* the image being read (pixels fill row by row) */
    int32_t pw, ph;      /* patches across and down */
    int32_t group_rows;  /* patch rows per group */
    int32_t rows_ready;  /* pixel rows decoded so far */
    int started;         /* im, ids are set */
    int finished;        /* no more rows will come */
    int32_t next_group;  /* the next group a worker takes */
    int32_t *ids;        /* (IMG_HEADER_TOKENS + pw*ph*stages) */
    int status;          /* the first failure of a worker (MMG_ERR_NOMEM) */
} pipeline;

static void quantize_group(pipeline *p, int32_t g, float *x) {
    const img_config *cfg = &p->t->cfg;
    const int32_t pr = cfg->patch_size, s = cfg->stages;
    int32_t r0 = g * p->group_rows, nr = p->ph - r0 < p->group_rows ? p->ph - r0 : p->group_rows;
    img_patches_extract(&p->im, pr, r0, nr, x);
    int32_t *out = p->ids + IMG_HEADER_TOKENS + (size_t)r0 * p->pw * s;
    /* one thread per group: the threads are the workers */
    if (img_rvq_encode(p->t, x, (size_t)nr * p->pw, out, 1) != MMG_OK) {
        pthread_mutex_lock(&p->mu);
        if (!p->status) p->status = MMG_ERR_NOMEM;
        pthread_mutex_unlock(&p->mu);
    }
}

/* Takes groups until none are left; waits for their rows to be read. */
static void *worker(void *arg) {
    pipeline *p = (pipeline *)arg;
    float *x = NULL;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->started && !p->finished) pthread_cond_wait(&p->cv, &p->mu);
        int32_t ngroups = p->started ? (p->ph + p->group_rows - 1) / p->group_rows : 0;
        if (!p->started || p->status || p->next_group >= ngroups) break;
        int32_t g = p->next_group++;
        int32_t need = (g + 1) * p->group_rows * p->t->cfg.patch_size;
        if (need > p->im.height) need = p->im.height;
        while (p->rows_ready < need && !p->finished) pthread_cond_wait(&p->cv, &p->mu);
        if (p->rows_ready < need) break; /* reading failed */
        pthread_mutex_unlock(&p->mu);
        if (!x) x = (float *)vq_alloc_array((size_t)p->group_rows * p->pw,
                                            (size_t)img_config_dim(&p->t->cfg), sizeof(float));
        if (x) {
            quantize_group(p, g, x);
        } else {
            pthread_mutex_lock(&p->mu);
            if (!p->status) p->status = MMG_ERR_NOMEM;
            pthread_mutex_unlock(&p->mu);
        }
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    img_free(x);
    return NULL;
}

/* Called by the reader on the calling thread: the first time with the
 * image's size, then as rows arrive. Runs inside libpng's error context:
 * returns a status (its message already set), never jumps. */
static int on_rows(void *ctx, const img_image *im, int32_t rows) {
    pipeline *p = (pipeline *)ctx;
    pthread_mutex_lock(&p->mu);
    int rc = MMG_OK;
    if (!p->started) {
        const img_config *cfg = &p->t->cfg;
        p->im = *im;
        p->pw = img_patches_across(im->width, cfg->patch_size);
        p->ph = img_patches_across(im->height, cfg->patch_size);
        /* on the calling thread: img_error is allowed here */
        if (p->pw > IMG_MAX_SIDE || p->ph > IMG_MAX_SIDE) {
            rc = img_error(MMG_ERR_LIMIT,
                           "image: %dx%d pixels make %dx%d patches of %d; the token layout holds "
                           "at most %d patches on a side (set width/height to resize)",
                           im->width, im->height, p->pw, p->ph, cfg->patch_size, IMG_MAX_SIDE);
        } else {
            p->group_rows = GROUP_PATCHES / p->pw > 0 ? GROUP_PATCHES / p->pw : 1;
            p->ids = (int32_t *)vq_alloc_array(
                IMG_HEADER_TOKENS + (size_t)p->pw * p->ph * (size_t)cfg->stages, sizeof(int32_t), 1);
            if (!p->ids) rc = img_error(MMG_ERR_NOMEM, "image: out of memory for tokens");
            else p->started = 1;
        }
    }
    if (rc == MMG_OK) p->rows_ready = rows;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void write_header(const img_config *cfg, int32_t pw, int32_t ph, int32_t *ids) {
    img_vocab v;
    img_vocab_of(cfg, &v);
    ids[0] = v.w_hi + pw / IMG_DIGIT_BASE;
    ids[1] = v.w_lo + pw % IMG_DIGIT_BASE;
    ids[2] = v.h_hi + ph / IMG_DIGIT_BASE;
    ids[3] = v.h_lo + ph % IMG_DIGIT_BASE;
    ids[4] = v.chan + (cfg->channels == 1 ? 0 : cfg->channels == 3 ? 1 : 2);
    ids[5] = v.stg + cfg->stages - 1;
}

int img_tokens_encode(const img_tokenizer *t, const uint8_t *doc, size_t size, int32_t **out_ids,
                      size_t *out_count) {
    if (!t->fitted)
        return img_error(MMG_ERR_STATE, "image: no codebook yet; call fit or load_state first");
    const img_config *cfg = &t->cfg;
    pipeline p;
    memset(&p, 0, sizeof p);
    p.t = t;
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    /* workers besides the calling thread, which reads first */
    int32_t nthreads = vq_thread_count(cfg->threads), started = 0;
    pthread_t tid[64];
    int resize = cfg->width != 0;
    int rc;
    uint8_t *failed_pixels = NULL;
    img_image im = {0, 0, 0, NULL};
    if (!resize)
        for (int32_t i = 1; i < nthreads && i < 64; i++)
            if (pthread_create(&tid[started], NULL, worker, &p) == 0) started++;
    if (resize) {
        rc = img_load_document(cfg, doc, size, &im);
        if (rc == MMG_OK) rc = on_rows(&p, &im, im.height);
    } else {
        rc = img_png_read_progressive(doc, size, cfg->channels, cfg->max_pixels, on_rows, &p,
                                      &failed_pixels, &im);
    }
    pthread_mutex_lock(&p.mu);
    p.finished = 1;
    pthread_cond_broadcast(&p.cv);
    pthread_mutex_unlock(&p.mu);
    if (rc == MMG_OK && resize) /* the image is complete: search it on every thread */
        for (int32_t i = 1; i < nthreads && i < 64; i++)
            if (pthread_create(&tid[started], NULL, worker, &p) == 0) started++;
    if (rc == MMG_OK) worker(&p);
    for (int32_t i = 0; i < started; i++) pthread_join(tid[i], NULL);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    img_free(failed_pixels);
    img_image_free(&im);
    if (rc == MMG_OK && p.status) rc = img_error(p.status, "image: out of memory encoding");
    if (rc != MMG_OK) {
        img_free(p.ids);
        return rc;
    }
    write_header(cfg, p.pw, p.ph, p.ids);
    *out_ids = p.ids;
    *out_count = IMG_HEADER_TOKENS + (size_t)p.pw * p.ph * (size_t)cfg->stages;
    return MMG_OK;
}
