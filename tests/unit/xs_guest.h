/*
 * xs_guest.h - the guest's side of a xenstore ring for the tests: requests written into
 * req[] as Linux's xenbus writes them, replies and watch events read back from rsp[].
 */
#ifndef LODGER_TEST_XS_GUEST_H
#define LODGER_TEST_XS_GUEST_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <xen/io/xs_wire.h>

#include "xen/xenstore.h"

struct xs_guest {
	struct xenstore_domain_interface *r;
	struct xenstore *s;
	uint32_t req_id;
	/* the last reply */
	struct xsd_sockmsg h;
	char body[XENSTORE_PAYLOAD_MAX + 1];
	/* watch events seen, "path\0token" each as "path|token" */
	char events[64][256];
	unsigned nevents;
};

/* Raw bytes onto the request ring (no kick); false when it has no room. */
static inline bool xsg_put(struct xs_guest *g, const void *data, uint32_t len)
{
	const uint8_t *d = data;

	if (XENSTORE_RING_SIZE - (g->r->req_prod - g->r->req_cons) < len)
		return false;
	for (uint32_t i = 0; i < len; i++)
		g->r->req[MASK_XENSTORE_IDX(g->r->req_prod + i)] = (char)d[i];
	g->r->req_prod += len;
	return true;
}

/* Reads every message on the rsp ring: events into events[], the last reply into h/body.
 * Returns the number of replies. */
static inline unsigned xsg_drain(struct xs_guest *g)
{
	unsigned replies = 0;

	for (;;) {
		struct xsd_sockmsg h;
		uint32_t avail = g->r->rsp_prod - g->r->rsp_cons;
		char buf[sizeof(h) + XENSTORE_PAYLOAD_MAX + 1];

		if (avail < sizeof(h))
			break;
		for (uint32_t i = 0; i < sizeof(h); i++)
			((char *)&h)[i] = g->r->rsp[MASK_XENSTORE_IDX(g->r->rsp_cons + i)];
		if (avail < sizeof(h) + h.len)
			break;
		for (uint32_t i = 0; i < h.len; i++)
			buf[i] = g->r->rsp[MASK_XENSTORE_IDX(g->r->rsp_cons + sizeof(h) + i)];
		buf[h.len] = 0;
		g->r->rsp_cons += (uint32_t)sizeof(h) + h.len;
		if (h.type == XS_WATCH_EVENT) {
			if (g->nevents < 64) {
				size_t pl = strlen(buf);

				const char *tok = pl + 1 < h.len ? buf + pl + 1 : "";

				snprintf(g->events[g->nevents++], 256, "%.120s|%.120s", buf, tok);
			}
			continue;
		}
		g->h = h;
		memcpy(g->body, buf, h.len + 1);
		replies++;
	}
	return replies;
}

/* One request (payload of len bytes) in transaction tx; kicks, reads the reply. Returns
 * the reply's type (XS_ERROR with the name in body). A payload larger than the ring's
 * room goes in pieces, a kick after each, as xenbus sends it. */
static inline uint32_t xsg_req(struct xs_guest *g, uint32_t type, uint32_t tx, const void *payload,
			       uint32_t len)
{
	struct xsd_sockmsg h = {.type = type, .req_id = ++g->req_id, .tx_id = tx, .len = len};
	const char *p = payload;

	if (!xsg_put(g, &h, sizeof(h)))
		return XS_INVALID;
	while (len) {
		uint32_t room = XENSTORE_RING_SIZE - (g->r->req_prod - g->r->req_cons);
		uint32_t n = len < room ? len : room;

		if (!n || !xsg_put(g, p, n))
			return XS_INVALID;
		p += n, len -= n;
		if (len)
			xenstore_kick(g->s);
	}
	xenstore_kick(g->s);
	if (!xsg_drain(g) || g->h.req_id != h.req_id)
		return XS_INVALID;
	return g->h.type;
}

/* Two NUL-terminated strings back to back (path, token or path, value). */
static inline uint32_t xsg_req2(struct xs_guest *g, uint32_t type, uint32_t tx, const char *a,
				const char *b, bool nul_b)
{
	char buf[XENSTORE_PAYLOAD_MAX];
	size_t la = strlen(a) + 1, lb = strlen(b) + (nul_b ? 1 : 0);

	memcpy(buf, a, la);
	memcpy(buf + la, b, lb);
	return xsg_req(g, type, tx, buf, (uint32_t)(la + lb));
}

static inline uint32_t xsg_read(struct xs_guest *g, uint32_t tx, const char *path)
{
	return xsg_req(g, XS_READ, tx, path, (uint32_t)strlen(path) + 1);
}

static inline uint32_t xsg_write(struct xs_guest *g, uint32_t tx, const char *path,
				 const char *value)
{
	return xsg_req2(g, XS_WRITE, tx, path, value, false);
}

#endif
