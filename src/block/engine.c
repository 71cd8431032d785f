/*
 * engine.c - raw images on io_uring, with a synchronous fallback.
 *
 * Flushes are IORING_OP_FSYNC with IORING_FSYNC_DATASYNC and IOSQE_IO_DRAIN, so a flush
 * starts only after every request queued before it has finished: a write the guest
 * sent before its flush is durable when the flush is acknowledged, even when both came
 * in one batch. Discard is fallocate(PUNCH_HOLE | KEEP_SIZE), probed once at open.
 */
#include "block/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <liburing.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "front/log.h"

#define RING_DEPTH   256 /* above any queue the devices offer (virtio-blk: 128) */
#define BOUNCE_ALIGN 4096

struct blk_engine {
	int fd;
	int efd;
	uint64_t size;
	bool readonly;
	bool direct; /* O_DIRECT: buffers must be aligned */
	bool discard;
	enum blk_cache cache;
	bool uring;
	struct io_uring ring;
	unsigned queued;      /* prepared, not yet submitted */
	unsigned inflight;    /* queued or in the kernel */
	pthread_mutex_t lock; /* the fallback's done list, and inflight */
	struct blk_req *done_head, **done_tail;
};

static const char *const cache_names[] = {
	[BLK_CACHE_WRITEBACK] = "writeback",
	[BLK_CACHE_NONE] = "none",
	[BLK_CACHE_WRITETHROUGH] = "writethrough",
	[BLK_CACHE_DIRECTSYNC] = "directsync",
	[BLK_CACHE_UNSAFE] = "unsafe",
};
static const char *const aio_names[] = {
	[BLK_AIO_IO_URING] = "io_uring", [BLK_AIO_THREADS] = "threads"};

int blk_cache_parse(const char *s, enum blk_cache *c)
{
	for (size_t i = 0; i < sizeof(cache_names) / sizeof(cache_names[0]); i++)
		if (strcmp(s, cache_names[i]) == 0) {
			*c = (enum blk_cache)i;
			return 0;
		}
	return -1;
}

int blk_aio_parse(const char *s, enum blk_aio *a)
{
	for (size_t i = 0; i < sizeof(aio_names) / sizeof(aio_names[0]); i++)
		if (strcmp(s, aio_names[i]) == 0) {
			*a = (enum blk_aio)i;
			return 0;
		}
	return -1;
}

const char *blk_cache_name(enum blk_cache c)
{
	return (unsigned)c < sizeof(cache_names) / sizeof(cache_names[0]) ? cache_names[c] : "?";
}

const char *blk_aio_name(enum blk_aio a)
{
	return (unsigned)a < sizeof(aio_names) / sizeof(aio_names[0]) ? aio_names[a] : "?";
}

static int open_flags(const struct blk_options *opt)
{
	int flags = (opt->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;

	if (opt->cache == BLK_CACHE_NONE || opt->cache == BLK_CACHE_DIRECTSYNC)
		flags |= O_DIRECT;
	if (opt->cache == BLK_CACHE_WRITETHROUGH || opt->cache == BLK_CACHE_DIRECTSYNC)
		flags |= O_DSYNC;
	return flags;
}

/* QEMU's way: an open-file-description lock, so a second process (or a second open in
 * this one) is refused whoever it is, and the lock goes with the last close. */
static int lock_image(int fd, bool readonly)
{
	struct flock fl = {.l_type = readonly ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET};
	/* A lodger killed a moment ago still holds its lock while the kernel tears its
	 * io_uring down (asynchronously, with the image's file referenced): give that up to
	 * LOCK_WAIT_MS before calling the image taken. */
	enum { LOCK_WAIT_MS = 2000, LOCK_POLL_MS = 20 };
	const struct timespec poll = {.tv_nsec = LOCK_POLL_MS * 1000000L};

	for (int waited = 0;; waited += LOCK_POLL_MS) {
		if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
			return 0;
		if ((errno != EAGAIN && errno != EACCES) || waited >= LOCK_WAIT_MS)
			return -errno;
		nanosleep(&poll, NULL);
	}
}

static int image_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Punching a hole past the end is a no-op where holes exist and EOPNOTSUPP elsewhere. */
static bool probe_discard(int fd, uint64_t size, bool is_blockdev)
{
	if (is_blockdev)
		return true; /* blkdev_fallocate; a refusal later becomes "unsupported" */
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)size,
			 BLK_SECTOR_SIZE) == 0;
}

static bool warned_fallback;

static void start_io_uring(struct blk_engine *e, const struct blk_options *opt)
{
	int r;

	if (opt->aio == BLK_AIO_THREADS)
		return;
	r = io_uring_queue_init(RING_DEPTH, &e->ring, 0);
	if (r == 0) {
		r = io_uring_register_eventfd(&e->ring, e->efd);
		if (r == 0) {
			e->uring = true;
			return;
		}
		io_uring_queue_exit(&e->ring);
	}
	/* Said once per process, however many drives. */
	if (!warned_fallback) {
		warned_fallback = true;
		pr_warn("io_uring unavailable (%s): block I/O is synchronous", strerror(-r));
	}
}

int blk_open(struct blk_engine **out, const struct blk_options *opt, char *err, size_t errlen)
{
	struct blk_engine *e = calloc(1, sizeof(*e));
	struct stat st;
	int r;

	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	e->efd = -1;
	e->fd = open(opt->path, open_flags(opt));
	if (e->fd < 0) {
		r = -errno;
		if (r == -EINVAL && (open_flags(opt) & O_DIRECT))
			snprintf(err, errlen,
				 "cache=%s needs O_DIRECT, which its filesystem refuses",
				 blk_cache_name(opt->cache));
		else
			snprintf(err, errlen, "%s", strerror(-r));
		goto fail;
	}
	r = lock_image(e->fd, opt->readonly);
	if (r) {
		if (r == -EAGAIN || r == -EACCES)
			snprintf(err, errlen,
				 "is locked by another process (another lodger using it?)");
		else
			snprintf(err, errlen, "cannot lock it: %s", strerror(-r));
		goto fail;
	}
	r = image_size(e->fd, &e->size);
	if (r) {
		snprintf(err, errlen, "%s",
			 r == -EINVAL ? "not a regular file or block device" : strerror(-r));
		goto fail;
	}
	if (e->size % BLK_SECTOR_SIZE) {
		r = -EINVAL;
		snprintf(err, errlen, "size %llu is not a multiple of %u bytes",
			 (unsigned long long)e->size, BLK_SECTOR_SIZE);
		goto fail;
	}
	e->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e->efd < 0) {
		r = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(-r));
		goto fail;
	}
	fstat(e->fd, &st);
	e->readonly = opt->readonly;
	e->cache = opt->cache;
	e->direct = open_flags(opt) & O_DIRECT;
	e->discard = !opt->readonly && probe_discard(e->fd, e->size, S_ISBLK(st.st_mode));
	pthread_mutex_init(&e->lock, NULL);
	e->done_tail = &e->done_head;
	start_io_uring(e, opt);
	*out = e;
	return 0;

fail:
	if (e->fd >= 0)
		close(e->fd);
	free(e);
	return r;
}

void blk_close(struct blk_engine *e)
{
	if (!e)
		return;
	if (e->uring) {
		/* Wait for what is in flight: the kernel may still write into its buffers. */
		while (e->inflight) {
			struct io_uring_cqe *cqe;

			if (e->queued) {
				io_uring_submit(&e->ring);
				e->queued = 0;
			}
			if (io_uring_wait_cqe(&e->ring, &cqe) < 0)
				break;
			struct blk_req *req = io_uring_cqe_get_data(cqe);

			free(req->bounce);
			req->bounce = NULL;
			io_uring_cqe_seen(&e->ring, cqe);
			e->inflight--;
		}
		io_uring_queue_exit(&e->ring);
	}
	pthread_mutex_destroy(&e->lock);
	close(e->efd);
	close(e->fd);
	free(e);
}

uint64_t blk_size(const struct blk_engine *e)
{
	return e->size;
}

bool blk_readonly(const struct blk_engine *e)
{
	return e->readonly;
}

bool blk_uses_io_uring(const struct blk_engine *e)
{
	return e->uring;
}

int blk_event_fd(const struct blk_engine *e)
{
	return e->efd;
}

bool blk_discard_supported(const struct blk_engine *e)
{
	return e->discard;
}

int blk_fd(const struct blk_engine *e)
{
	return e->fd;
}

unsigned blk_inflight(const struct blk_engine *e)
{
	return __atomic_load_n(&e->inflight, __ATOMIC_RELAXED);
}

static uint64_t iov_total(const struct iovec *iov, unsigned n, bool *aligned)
{
	uint64_t total = 0;

	*aligned = true;
	for (unsigned i = 0; i < n; i++) {
		if ((uintptr_t)iov[i].iov_base % BLK_SECTOR_SIZE ||
		    iov[i].iov_len % BLK_SECTOR_SIZE)
			*aligned = false;
		total += iov[i].iov_len;
	}
	return total;
}

/* Sets up an aligned copy for O_DIRECT when the guest's buffers are not aligned. */
static int prepare_bounce(struct blk_engine *e, struct blk_req *req, bool aligned)
{
	req->bounce = NULL;
	if (!e->direct || aligned || !req->len)
		return 0;
	req->bounce = aligned_alloc(BOUNCE_ALIGN,
				    (req->len + BOUNCE_ALIGN - 1) & ~(uint64_t)(BOUNCE_ALIGN - 1));
	if (!req->bounce)
		return -ENOMEM;
	if (req->op == BLK_OP_WRITE) {
		uint8_t *p = req->bounce;

		for (unsigned i = 0; i < req->iovcnt; i++) {
			memcpy(p, req->iov[i].iov_base, req->iov[i].iov_len);
			p += req->iov[i].iov_len;
		}
	}
	return 0;
}

/* A read through a bounce buffer is copied out when it finishes. */
static void finish_bounce(struct blk_req *req, int result)
{
	if (!req->bounce)
		return;
	if (req->op == BLK_OP_READ && result == 0) {
		const uint8_t *p = req->bounce;

		for (unsigned i = 0; i < req->iovcnt; i++) {
			memcpy(req->iov[i].iov_base, p, req->iov[i].iov_len);
			p += req->iov[i].iov_len;
		}
	}
	free(req->bounce);
	req->bounce = NULL;
}

/* A transfer's byte count or -errno, as 0 or -errno; short means the host ran out. */
static int transfer_result(const struct blk_req *req, int64_t r)
{
	if (r < 0)
		return (int)r;
	if (req->op != BLK_OP_READ && req->op != BLK_OP_WRITE)
		return 0;
	if ((uint64_t)r != req->len)
		return req->op == BLK_OP_WRITE ? -ENOSPC : -EIO;
	return 0;
}

static int validate(struct blk_engine *e, struct blk_req *req, bool *aligned)
{
	*aligned = true;
	switch (req->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		req->len = iov_total(req->iov, req->iovcnt, aligned);
		if (req->op == BLK_OP_WRITE && e->readonly)
			return -EROFS;
		if (req->iovcnt > IOV_MAX)
			return -EINVAL;
		break;
	case BLK_OP_DISCARD:
		if (e->readonly)
			return -EROFS;
		if (!e->discard)
			return -EOPNOTSUPP;
		break;
	case BLK_OP_FLUSH:
		return 0;
	default:
		return -EINVAL;
	}
	if (req->offset % BLK_SECTOR_SIZE || req->len % BLK_SECTOR_SIZE || req->offset > e->size ||
	    req->len > e->size - req->offset)
		return -EINVAL;
	return 0;
}

/* The fallback: the request runs here and now, and waits on the done list. */
static int run_sync(struct blk_engine *e, struct blk_req *req)
{
	struct iovec one = {req->bounce, req->len};
	const struct iovec *iov = req->bounce ? &one : req->iov;
	int iovcnt = req->bounce ? 1 : (int)req->iovcnt;
	int64_t r = 0;

	switch (req->op) {
	case BLK_OP_READ:
		r = preadv(e->fd, iov, iovcnt, (off_t)req->offset);
		break;
	case BLK_OP_WRITE:
		r = pwritev(e->fd, iov, iovcnt, (off_t)req->offset);
		break;
	case BLK_OP_FLUSH:
		r = fdatasync(e->fd);
		break;
	case BLK_OP_DISCARD:
		r = fallocate(e->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)req->offset,
			      (off_t)req->len);
		break;
	}
	if (r < 0)
		r = -errno;
	return transfer_result(req, r);
}

static void done_push(struct blk_engine *e, struct blk_req *req, int result)
{
	req->result = result;
	req->next = NULL;
	pthread_mutex_lock(&e->lock);
	*e->done_tail = req;
	e->done_tail = &req->next;
	pthread_mutex_unlock(&e->lock);
}

static struct io_uring_sqe *get_sqe(struct blk_engine *e)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->ring);

	if (!sqe) { /* the submission ring is full: send the batch so far */
		io_uring_submit(&e->ring);
		e->queued = 0;
		sqe = io_uring_get_sqe(&e->ring);
	}
	return sqe;
}

int blk_submit(struct blk_engine *e, struct blk_req *req)
{
	struct io_uring_sqe *sqe;
	bool aligned;
	int r = validate(e, req, &aligned);

	if (r)
		return r;
	if (req->op == BLK_OP_FLUSH && e->cache == BLK_CACHE_UNSAFE) {
		/* cache=unsafe: the flush is acknowledged and does nothing */
		__atomic_add_fetch(&e->inflight, 1, __ATOMIC_RELAXED);
		done_push(e, req, 0);
		return 0;
	}
	r = prepare_bounce(e, req, aligned);
	if (r)
		return r;
	__atomic_add_fetch(&e->inflight, 1, __ATOMIC_RELAXED);
	if (!e->uring) {
		r = run_sync(e, req);
		finish_bounce(req, r);
		done_push(e, req, r);
		return 0;
	}
	sqe = get_sqe(e);
	if (!sqe) {
		__atomic_sub_fetch(&e->inflight, 1, __ATOMIC_RELAXED);
		free(req->bounce);
		req->bounce = NULL;
		return -EAGAIN;
	}
	switch (req->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		if (req->bounce) {
			if (req->op == BLK_OP_READ)
				io_uring_prep_read(sqe, e->fd, req->bounce, (unsigned)req->len,
						   req->offset);
			else
				io_uring_prep_write(sqe, e->fd, req->bounce, (unsigned)req->len,
						    req->offset);
		} else if (req->op == BLK_OP_READ) {
			io_uring_prep_readv(sqe, e->fd, req->iov, req->iovcnt, req->offset);
		} else {
			io_uring_prep_writev(sqe, e->fd, req->iov, req->iovcnt, req->offset);
		}
		break;
	case BLK_OP_FLUSH:
		io_uring_prep_fsync(sqe, e->fd, IORING_FSYNC_DATASYNC);
		io_uring_sqe_set_flags(sqe, IOSQE_IO_DRAIN);
		break;
	case BLK_OP_DISCARD:
		io_uring_prep_fallocate(sqe, e->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					req->offset, req->len);
		break;
	}
	io_uring_sqe_set_data(sqe, req);
	e->queued++;
	return 0;
}

void blk_kick(struct blk_engine *e)
{
	if (e->uring && e->queued) {
		io_uring_submit(&e->ring);
		e->queued = 0;
	}
	/* The fallback's (and cache=unsafe flushes') work is done: wake the event loop once
	 * for the batch. */
	pthread_mutex_lock(&e->lock);
	bool any = e->done_head != NULL;
	pthread_mutex_unlock(&e->lock);
	if (any)
		eventfd_write(e->efd, 1);
}

unsigned blk_complete(struct blk_engine *e, blk_done_fn fn, void *ctx)
{
	eventfd_t ignored;
	unsigned n = 0;

	eventfd_read(e->efd, &ignored); /* before reaping, so a later completion re-arms it */
	for (;;) {
		struct blk_req *req;

		pthread_mutex_lock(&e->lock);
		req = e->done_head;
		if (req) {
			e->done_head = req->next;
			if (!e->done_head)
				e->done_tail = &e->done_head;
		}
		pthread_mutex_unlock(&e->lock);
		if (!req)
			break;
		__atomic_sub_fetch(&e->inflight, 1, __ATOMIC_RELAXED);
		fn(ctx, req, req->result);
		n++;
	}
	while (e->uring) {
		struct io_uring_cqe *cqe;
		struct blk_req *req;
		int r;

		if (io_uring_peek_cqe(&e->ring, &cqe) != 0)
			break;
		req = io_uring_cqe_get_data(cqe);
		r = transfer_result(req, cqe->res);
		io_uring_cqe_seen(&e->ring, cqe);
		finish_bounce(req, r);
		__atomic_sub_fetch(&e->inflight, 1, __ATOMIC_RELAXED);
		fn(ctx, req, r);
		n++;
	}
	return n;
}
