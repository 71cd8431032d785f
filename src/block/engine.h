/*
 * engine.h - the block engine: one disk image (a raw file or a block device) served
 * asynchronously through io_uring (docs/block.md).
 *
 * The device model owns the requests (struct blk_req): it queues them with blk_submit
 * while it walks a ring, then calls blk_kick once per guest notification, which is the
 * one io_uring_submit of the batch. Completions are announced on blk_event_fd (an
 * eventfd registered with the ring); the I/O thread's event loop sees it readable and
 * calls blk_complete, which hands each finished request back with 0 or -errno. Nothing
 * here polls, and nothing blocks the submitter except the synchronous fallback.
 *
 * Threads: blk_submit/blk_kick from one thread (the vCPU's), blk_complete from one other
 * (the I/O thread's). io_uring's rings are single-producer single-consumer each way;
 * the fallback's list of finished requests has its own lock.
 */
#ifndef LODGER_BLOCK_ENGINE_H
#define LODGER_BLOCK_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define BLK_SECTOR_SIZE 512u

/* QEMU's cache= modes (docs/block.md gives what each means for durability). */
enum blk_cache {
	BLK_CACHE_WRITEBACK,	/* the default: host page cache, flush = fdatasync */
	BLK_CACHE_NONE,		/* O_DIRECT, flush = fdatasync */
	BLK_CACHE_WRITETHROUGH, /* O_DSYNC: every write durable when acknowledged */
	BLK_CACHE_DIRECTSYNC,	/* O_DIRECT | O_DSYNC */
	BLK_CACHE_UNSAFE,	/* host page cache, flushes ignored */
};

enum blk_aio {
	BLK_AIO_IO_URING, /* the default */
	BLK_AIO_THREADS,  /* synchronous, in the submitting thread */
};

struct blk_options {
	const char *path;
	bool readonly;
	enum blk_cache cache;
	enum blk_aio aio;
};

enum blk_op { BLK_OP_READ, BLK_OP_WRITE, BLK_OP_FLUSH, BLK_OP_DISCARD };

struct blk_req {
	enum blk_op op;
	uint64_t offset;   /* bytes; a multiple of BLK_SECTOR_SIZE */
	uint64_t len;	   /* discard: bytes; read/write: filled in from iov */
	struct iovec *iov; /* read/write buffers (the caller's, live until completion) */
	unsigned iovcnt;
	void *opaque; /* the caller's */
	/* the engine's */
	void *bounce;	      /* an aligned copy, where O_DIRECT needs one */
	int result;	      /* fallback: the finished request's 0 or -errno */
	struct blk_req *next; /* fallback: the finished list */
};

struct blk_engine;

/* Called by blk_complete for each finished request: result is 0 or -errno. */
typedef void (*blk_done_fn)(void *ctx, struct blk_req *req, int result);

/*
 * Opens and locks the image. Returns 0, or -errno with `err` holding one phrase for the
 * user ("is locked by another process ...", "size 1000 is not a multiple of 512 bytes").
 */
int blk_open(struct blk_engine **out, const struct blk_options *opt, char *err, size_t errlen);
void blk_close(struct blk_engine *e);

uint64_t blk_size(const struct blk_engine *e); /* bytes, a multiple of BLK_SECTOR_SIZE */
bool blk_readonly(const struct blk_engine *e);
bool blk_uses_io_uring(const struct blk_engine *e);
bool blk_discard_supported(const struct blk_engine *e); /* probed at open */
int blk_event_fd(const struct blk_engine *e);
/* The image's descriptor: for tests that put a failing file (/dev/full) in its place. */
int blk_fd(const struct blk_engine *e);

/*
 * Queues one request (nothing reaches the host before blk_kick with io_uring). Checks it
 * first: a write or discard on a read-only image is -EROFS, a range past the end or
 * not sector-aligned is -EINVAL, a discard the host cannot do is -EOPNOTSUPP; those
 * return at once and the request is not queued. 0 when queued: exactly one completion
 * will follow.
 */
int blk_submit(struct blk_engine *e, struct blk_req *req);

/* Sends what blk_submit queued to the host (one io_uring_submit). */
void blk_kick(struct blk_engine *e);

/* Hands every finished request to fn; returns how many. Clears the eventfd. */
unsigned blk_complete(struct blk_engine *e, blk_done_fn fn, void *ctx);

/* Requests queued or in flight. */
unsigned blk_inflight(const struct blk_engine *e);

/* Parsers for the option values; -1 when unknown. */
int blk_cache_parse(const char *s, enum blk_cache *c);
int blk_aio_parse(const char *s, enum blk_aio *a);
const char *blk_cache_name(enum blk_cache c);
const char *blk_aio_name(enum blk_aio a);

#endif
