/*
 * iothread.h - lodger's I/O thread: one epoll loop that runs a callback whenever one of
 * its file descriptors is readable (the block engines' completion eventfds).
 *
 * Completions are handled here, never by polling in the vCPU thread: the vCPU only
 * submits. Callbacks run in the I/O thread and take their device's lock themselves.
 */
#ifndef LODGER_IOTHREAD_H
#define LODGER_IOTHREAD_H

typedef void (*iothread_fn)(void *ctx);

struct iothread;

/* Returns 0 or -errno. */
int iothread_start(struct iothread **out);
/* Watches fd for input; 0 or -errno. Safe while the thread runs. */
int iothread_watch(struct iothread *t, int fd, iothread_fn fn, void *ctx);
/* Stops and joins the thread (callbacks in progress finish first); NULL is fine. */
void iothread_stop(struct iothread *t);

#endif
