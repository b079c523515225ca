/*
 * conn_ns.c - opening a connection table in a chosen network namespace
 * (C core layer).
 *
 * The /proc/net tables describe a namespace fixed when the file is opened,
 * so reading another namespace needs nothing more than opening the file
 * from inside it: the calling thread enters the namespace with setns(),
 * opens, and goes back; the descriptor keeps the namespace it was opened in.
 *
 * /proc/net is a link to /proc/self/net, which follows the thread-group
 * leader, not the calling thread (checked on 6.x: a thread that unshared
 * its namespace still sees the leader's devices there). Tables are therefore
 * opened through /proc/thread-self (Linux 3.17+), or /proc/self/task/<tid>
 * before that, which follow the thread that opens them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pyipvs.h"

static const char *const table_paths[] = {
    [PYIPVS_CONN_TABLE_CONN] = "/proc/net/ip_vs_conn",
    [PYIPVS_CONN_TABLE_SYNC] = "/proc/net/ip_vs_conn_sync",
};

static int open_ro(const char *path)
{
    int fd;

    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

/* "/proc/thread-self/<rest>", or its pre-3.17 spelling with the thread id. */
static int open_thread_proc(const char *rest)
{
    char path[PATH_MAX];
    int n, fd;

    n = snprintf(path, sizeof(path), "/proc/thread-self/%s", rest);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -ENAMETOOLONG;
    fd = open_ro(path);
    if (fd != -ENOENT || access("/proc/thread-self", F_OK) == 0)
        return fd;
    n = snprintf(path, sizeof(path), "/proc/self/task/%ld/%s", (long)syscall(SYS_gettid),
                 rest);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -ENAMETOOLONG;
    return open_ro(path);
}

static int open_table(const char *path)
{
    static const char procnet[] = "/proc/net/";

    if (strncmp(path, procnet, sizeof(procnet) - 1) == 0)
        return open_thread_proc(path + sizeof("/proc/") - 1); /* "net/..." */
    return open_ro(path);
}

static int open_in_netns(const char *path, const char *netns)
{
    int self, target, fd, rc;

    target = open_ro(netns);
    if (target < 0)
        return target;
    self = open_thread_proc("ns/net");
    if (self < 0) {
        close(target);
        return self;
    }
    if (setns(target, CLONE_NEWNET) < 0) {
        rc = -errno;
        close(target);
        close(self);
        return rc;
    }
    fd = open_table(path);
    /* Going back needs no more privilege than coming in did, but if it ever
     * fails the thread is stranded: say so rather than hand out the file. */
    rc = setns(self, CLONE_NEWNET) < 0 ? -errno : 0;
    close(target);
    close(self);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        return rc;
    }
    return fd;
}

int pyipvs_conn_fd_open(const char *path, int table, const char *netns, int *fd)
{
    int rc;

    if (!fd)
        return -EINVAL;
    if (!path || !*path) {
        if (table != PYIPVS_CONN_TABLE_CONN && table != PYIPVS_CONN_TABLE_SYNC)
            return -EINVAL;
        path = table_paths[table];
    }
    rc = netns && *netns ? open_in_netns(path, netns) : open_table(path);
    if (rc < 0)
        return rc;
    *fd = rc;
    return 0;
}
