// A small pthread pool owned by a context. cf__pool_run(fn) runs fn on every thread (the caller
// is thread 0) and waits. Jobs come in quick succession (a decode step is ~150 of them), so both
// sides spin briefly before they block: workers waiting for the next job, the caller waiting for
// the workers to finish. Blocking matters when the machine is oversubscribed: a caller that only
// spun could hold a core the last worker needs for a whole scheduler time slice.
//
// Locking: one mutex, held only to publish a new job generation, to go to sleep, or for the last
// worker of a job to wake a sleeping caller; jobs run without it. No nested runs: a task must not
// call cf__pool_run.
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "../internal.h"

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() ((void)0)
#endif

struct cf_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;       // workers wait here for a new generation
    pthread_cond_t done_cv;  // the caller waits here for pending to reach 0
    atomic_uint gen;      // job generation; bumped (under mu) to start a job
    atomic_int pending;   // workers still inside the current job
    atomic_int quit;
    cf_task_fn fn;        // written before gen is bumped, read after it is seen
    void *arg;
};

typedef struct worker_arg {
    cf_pool *p;
    int ith;
} worker_arg;

double cf__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enum { SPIN_CHECKS = 4000 };  // about 0.1-0.5 ms of polling before sleeping

static void *worker(void *v) {
    worker_arg *wa = v;
    cf_pool *p = wa->p;
    int ith = wa->ith;
    cf__free(wa);
    unsigned seen = 0;
    for (;;) {
        unsigned g = atomic_load(&p->gen);
        for (int i = 0; g == seen && i < SPIN_CHECKS && !atomic_load(&p->quit); i++) {
            for (int j = 0; j < 16; j++) cpu_relax();
            g = atomic_load(&p->gen);
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load(&p->gen)) == seen && !atomic_load(&p->quit))
                pthread_cond_wait(&p->cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->quit)) break;
        seen = g;
        p->fn(ith, p->n, p->arg);
        if (atomic_fetch_sub(&p->pending, 1) == 1) {  // the last one out wakes the caller
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

cf_pool *cf__pool_create(int n) {
    cf_pool *p = cf__calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (n > 1) {
        p->threads = cf__calloc((size_t)n, sizeof(pthread_t));
        if (!p->threads) goto fail;
        for (int i = 1; i < n; i++) {
            worker_arg *wa = cf__malloc(sizeof *wa);
            if (wa) *wa = (worker_arg){p, i};
            if (!wa || pthread_create(&p->threads[i], NULL, worker, wa) != 0) {
                cf__free(wa);
                p->n = i;  // threads 1..i-1 exist and are joined by cf__pool_free
                cf__pool_free(p);
                return NULL;
            }
        }
    }
    return p;
fail:
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->done_cv);
    cf__free(p);
    return NULL;
}

void cf__pool_run(cf_pool *p, cf_task_fn fn, void *arg) {
    if (p->n == 1) {
        fn(0, 1, arg);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->pending, p->n - 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    fn(0, p->n, arg);
    for (int i = 0; atomic_load(&p->pending) > 0 && i < SPIN_CHECKS; i++)
        for (int j = 0; j < 16; j++) cpu_relax();
    if (atomic_load(&p->pending) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->done_cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

int cf__pool_size(const cf_pool *p) { return p->n; }

void cf__pool_free(cf_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    cf__free(p->threads);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->done_cv);
    cf__free(p);
}
