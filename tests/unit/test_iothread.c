/*
 * test_iothread.c - the I/O thread's loop (src/dev/iothread.c): a readable descriptor
 * runs its callback in the I/O thread, not in the caller's.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dev/iothread.h"

static pthread_t caller;
static volatile int calls;
static volatile bool other_thread;

static void on_ready(void *ctx)
{
	eventfd_t v;

	eventfd_read(*(int *)ctx, &v);
	other_thread = !pthread_equal(pthread_self(), caller);
	__atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
}

Test(iothread, runs_the_callback_in_its_own_thread_until_stopped)
{
	struct iothread *t = NULL;
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	caller = pthread_self();
	cr_assert_eq(iothread_start(&t), 0);
	cr_assert_eq(iothread_watch(t, fd, on_ready, &fd), 0);
	eventfd_write(fd, 1);
	for (int i = 0; i < 5000 && !__atomic_load_n(&calls, __ATOMIC_SEQ_CST); i++)
		usleep(1000);
	cr_assert_eq(calls, 1, "the callback did not run once");
	cr_assert(other_thread, "the callback ran in the caller's thread");
	eventfd_write(fd, 1);
	for (int i = 0; i < 5000 && __atomic_load_n(&calls, __ATOMIC_SEQ_CST) < 2; i++)
		usleep(1000);
	cr_assert_eq(calls, 2);
	iothread_stop(t);
	eventfd_write(fd, 1);
	usleep(20000);
	cr_assert_eq(calls, 2, "a callback after iothread_stop");
	close(fd);
}

Test(iothread, stop_accepts_null)
{
	iothread_stop(NULL);
}
