/* iothread.c - the I/O thread's epoll loop. */
#include "dev/iothread.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAX_WATCHES 8

struct watch {
	iothread_fn fn;
	void *ctx;
};

struct iothread {
	int epfd;
	int stop_fd; /* an eventfd: written once to end the loop */
	pthread_t thread;
	struct watch watches[MAX_WATCHES];
	unsigned n;
};

static void *loop(void *arg)
{
	struct iothread *t = arg;

	for (;;) {
		struct epoll_event ev[MAX_WATCHES + 1];
		int n = epoll_wait(t->epfd, ev, MAX_WATCHES + 1, -1);

		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u64 == UINT64_MAX)
				return NULL;
			struct watch *w = &t->watches[ev[i].data.u64];

			w->fn(w->ctx);
		}
	}
	return NULL;
}

int iothread_start(struct iothread **out)
{
	struct iothread *t = calloc(1, sizeof(*t));
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
	int r;

	if (!t)
		return -ENOMEM;
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (t->epfd < 0 || t->stop_fd < 0 || epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->stop_fd, &ev)) {
		r = -errno;
		goto fail;
	}
	r = -pthread_create(&t->thread, NULL, loop, t);
	if (r)
		goto fail;
	*out = t;
	return 0;
fail:
	if (t->epfd >= 0)
		close(t->epfd);
	if (t->stop_fd >= 0)
		close(t->stop_fd);
	free(t);
	return r;
}

int iothread_watch(struct iothread *t, int fd, iothread_fn fn, void *ctx)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = t->n};

	if (t->n == MAX_WATCHES)
		return -ENOSPC;
	t->watches[t->n] = (struct watch){fn, ctx};
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	t->n++;
	return 0;
}

void iothread_stop(struct iothread *t)
{
	if (!t)
		return;
	eventfd_write(t->stop_fd, 1);
	pthread_join(t->thread, NULL);
	close(t->epfd);
	close(t->stop_fd);
	free(t);
}
