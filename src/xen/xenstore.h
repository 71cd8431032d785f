/*
 * xenstore.h - xenstore served by lodger to the guest over its ring page and event channel
 * (start_info's store_mfn and store_evtchn), with xenstored's wire protocol
 * (<xen/io/xs_wire.h>, Xen's docs/misc/xenstore.txt) and tree (xen/xs_tree.h).
 *
 * The guest is one unprivileged domain (domid); lodger speaks as domain 0 through the
 * functions below, for the backends (xen/blkback.h) and the domain's start-of-day tree.
 * Everything runs in one thread, the vCPU's: xenstore_kick when the guest notifies the
 * store port, lodger's own calls from there or before the guest starts.
 *
 * The guest's requests: READ, WRITE, MKDIR, RM, DIRECTORY, GET_PERMS, SET_PERMS, WATCH
 * and UNWATCH (WATCH_EVENT on every change at or below the path, and once at once),
 * TRANSACTION_START/END (a copy of the tree; a commit after any other change is EAGAIN,
 * as oxenstored), GET_DOMAIN_PATH, IS_DOMAIN_INTRODUCED, RESET_WATCHES. Domain 0's
 * requests (CONTROL/DEBUG, INTRODUCE, RELEASE, SET_TARGET, RESUME) are EACCES; other types
 * EINVAL. Errors are XS_ERROR with the errno's name, as xenstored sends them. A ring whose
 * indices are dishonest or a message longer than XENSTORE_PAYLOAD_MAX ends the
 * connection: the page's `error` says why and nothing more is read.
 */
#ifndef LODGER_XEN_XENSTORE_H
#define LODGER_XEN_XENSTORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm/mem.h"
#include "xen/xs_tree.h"

#define XS_MAX_WATCHES	   128		/* the guest's; more is E2BIG (xenstored's quota) */
#define XS_MAX_TXNS	   10		/* open transactions; more is ENOSPC */
#define XS_MAX_TXN_CHANGES 1024		/* paths one transaction changes; more is ENOSPC */
#define XS_MAX_VALUE	   2048		/* bytes of a value the guest writes; more is ENOSPC */
#define XS_MAX_LOCAL_WATCH 16		/* lodger's own watches */
#define XS_OUT_MAX	   (256u << 10) /* replies and events the guest has not read yet */

struct xenstore;

/* Sets the guest's store port pending. */
typedef void (*xs_notify_fn)(void *ctx);
/* A change at or below a path lodger watches (absolute path of the change). */
typedef void (*xs_watch_fn)(void *ctx, const char *path);

struct xenstore_stats {
	uint64_t requests, errors, events, events_dropped;
};

/* The ring page is guest-physical ring_gpa (lodger's choice, inside RAM). NULL: ENOMEM. */
struct xenstore *xenstore_new(const struct guest_mem *mem, uint64_t ring_gpa, uint16_t domid,
			      xs_notify_fn notify, void *ctx);
void xenstore_free(struct xenstore *s);

/* The guest notified the store port: serve every complete request on the ring. */
void xenstore_kick(struct xenstore *s);

/* The connection's XENSTORE_ERROR_* (0 while it works). */
unsigned xenstore_error(const struct xenstore *s);
const struct xenstore_stats *xenstore_stats(const struct xenstore *s);

/* Domain 0's operations; absolute paths. 0 or -errno. */
int xenstore_write(struct xenstore *s, const char *path, const char *value);
int xenstore_printf(struct xenstore *s, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int xenstore_mkdir(struct xenstore *s, const char *path);
int xenstore_rm(struct xenstore *s, const char *path);
/* The value, NUL-terminated, cut to len - 1 bytes; -ENOENT. */
int xenstore_read(struct xenstore *s, const char *path, char *buf, size_t len);
/* Replaces the node's permission list (xen/xs_tree.h). */
int xenstore_set_perms(struct xenstore *s, const char *path, const struct xs_perm *p, unsigned n);
/* fn(ctx, changed_path) after every change at or below path, once the request that made it
 * is done (never from inside it). */
int xenstore_watch(struct xenstore *s, const char *path, xs_watch_fn fn, void *ctx);

#endif
