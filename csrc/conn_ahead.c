/*
 * conn_ahead.c - a thread that reads a connection table ahead of its reader
 * (C core layer), for kernels whose reads resume where the last one stopped.
 *
 * Why: there (6.16 here) a read() of /proc/net/ip_vs_conn costs the same at
 * any offset, so the split of conn_split.c cannot help (getting to a split
 * point costs as much as reading up to it), but the kernel's formatting of
 * the text, in the reading thread's read() calls, and the reader's parsing
 * of it are about the same size and can run on two CPUs at once. This thread
 * makes the read() calls on the reader's own file, from where the reader
 * stopped, into a few blocks; the reader takes the bytes in order, as read()
 * would give them. It starts once the split helper has stepped aside (conn.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn_split.h"

#define NSLOT 4
#define BLOCK (64 * 1024)

struct conn_ahead {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t ready;   /* a slot was filled, or the thread finished */
    pthread_cond_t space;   /* a slot was emptied, or the reader is leaving */
    int fd;
    char *buf;              /* NSLOT blocks */
    /* under lock */
    size_t len[NSLOT];
    int head, count;        /* slots head .. head + count - 1 are full */
    int cancel, done, err;
    /* the reader's alone */
    size_t off;             /* bytes of slot head already taken */
};

static void *ahead(void *arg)
{
    struct conn_ahead *a = arg;
    int err = 0, eof = 0;

    while (!err && !eof) {
        size_t n = 0;
        int slot;
        char *p;

        pthread_mutex_lock(&a->lock);
        while (a->count == NSLOT && !a->cancel)
            pthread_cond_wait(&a->space, &a->lock);
        if (a->cancel) {
            pthread_mutex_unlock(&a->lock);
            break;
        }
        slot = (a->head + a->count) % NSLOT;
        pthread_mutex_unlock(&a->lock);
        /* A full slot is the reader's; this one is nobody else's until published. */
        p = a->buf + (size_t)slot * BLOCK;
        while (n < BLOCK) {
            ssize_t got = read(a->fd, p + n, BLOCK - n);

            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                err = -errno;
                break;
            }
            if (got == 0) {
                eof = 1;
                break;
            }
            n += (size_t)got;
        }
        pthread_mutex_lock(&a->lock);
        if (n) {
            a->len[slot] = n;
            a->count++;
        }
        if (err || eof) {
            a->err = err;
            a->done = 1;
        }
        pthread_cond_signal(&a->ready);
        pthread_mutex_unlock(&a->lock);
    }
    pthread_mutex_lock(&a->lock);
    a->done = 1;
    pthread_cond_signal(&a->ready);
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

int conn_ahead_start(struct conn_ahead **out, int fd)
{
    struct conn_ahead *a;

    *out = NULL;
    a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->buf = malloc((size_t)NSLOT * BLOCK);
    if (!a->buf) {
        free(a);
        return -ENOMEM;
    }
    a->fd = fd;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->ready, NULL);
    pthread_cond_init(&a->space, NULL);
    if (pthread_create(&a->thread, NULL, ahead, a) != 0) {
        pthread_mutex_destroy(&a->lock);
        pthread_cond_destroy(&a->ready);
        pthread_cond_destroy(&a->space);
        free(a->buf);
        free(a);
        return 0; /* no thread: the reader reads by itself */
    }
    *out = a;
    return 0;
}

ssize_t conn_ahead_read(struct conn_ahead *a, char *dst, size_t want)
{
    size_t got;
    int slot;

    pthread_mutex_lock(&a->lock);
    while (a->count == 0 && !a->done)
        pthread_cond_wait(&a->ready, &a->lock);
    if (a->count == 0) {
        int err = a->err;

        pthread_mutex_unlock(&a->lock);
        return err; /* 0: the end of the file */
    }
    slot = a->head;
    pthread_mutex_unlock(&a->lock);
    got = a->len[slot] - a->off;
    if (got > want)
        got = want;
    memcpy(dst, a->buf + (size_t)slot * BLOCK + a->off, got);
    a->off += got;
    if (a->off == a->len[slot]) {
        pthread_mutex_lock(&a->lock);
        a->head = (a->head + 1) % NSLOT;
        a->count--;
        a->off = 0;
        pthread_cond_signal(&a->space);
        pthread_mutex_unlock(&a->lock);
    }
    return (ssize_t)got;
}

void conn_ahead_free(struct conn_ahead *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    a->cancel = 1;
    pthread_cond_signal(&a->space);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL); /* after at most one block of reads */
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->ready);
    pthread_cond_destroy(&a->space);
    free(a->buf);
    free(a);
}
