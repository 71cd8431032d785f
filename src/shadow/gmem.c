/* gmem.c - guest linear memory access with the guest's own permissions. */
#include "shadow/gmem.h"

#include <stdlib.h>
#include <string.h>

#include "arch/x86.h"
#include "front/log.h"
#include "shadow/pagewalk.h"

/* One page-bounded piece: translate, check, and return a host pointer (or NULL for a
 * frame that is not RAM, which reads as all ones and ignores writes). */
static bool translate(const struct gview *v, uint64_t la, bool write, bool fetch, void **host,
		      uint64_t *gpa, unsigned len, struct gfault *f)
{
	struct walk w;
	enum walk_status ws = pagewalk(v->mem, v->cr3, la, &w);
	uint32_t access =
		(write ? PFEC_W : 0) | (v->user ? PFEC_U : 0) | (fetch && v->nxe ? PFEC_I : 0);

	if (ws == WALK_NONCANONICAL) {
		*f = (struct gfault){.vector = 13, .error = 0};
		return false;
	}
	if (ws != WALK_OK) {
		uint32_t p = ws == WALK_RESERVED ? PFEC_P | PFEC_RSVD : 0;

		*f = (struct gfault){.vector = 14, .error = access | p, .cr2 = la};
		return false;
	}
	if ((v->user && !w.user) || (write && !w.writable && (v->user || v->wp)) ||
	    (fetch && v->nxe && !w.executable)) {
		*f = (struct gfault){.vector = 14, .error = access | PFEC_P, .cr2 = la};
		return false;
	}
	pagewalk_set_ad(v->mem, &w, write);
	*gpa = w.gpa;
	*host = w.gpa < v->monitor_hi && w.gpa + len > v->monitor_lo
			? NULL
			: gpa_ptr_guest(v->mem, w.gpa, len);
	return true;
}

/* Translates every page first, so an access that faults part-way writes nothing. */
static bool access(const struct gview *v, uint64_t la, void *buf, unsigned len, bool write,
		   bool fetch, struct gfault *f)
{
	struct {
		void *host;
		uint64_t gpa;
		unsigned len;
	} piece[4];
	unsigned n = 0;
	uint8_t *p = buf;

	if (len > 2 * 0x1000) { /* callers never need more: a lodger bug, not a guest fault */
		pr_err("bug: guest memory access of %u bytes", len);
		abort();
	}
	/* The architecture checks the whole access is canonical before any page walk. */
	if (len && (!canonical(la) || !canonical(la + len - 1))) {
		*f = (struct gfault){.vector = 13, .error = 0};
		return false;
	}
	for (uint64_t a = la, left = len; left; n++) {
		unsigned chunk = 0x1000 - (a & 0xfff);

		if (chunk > left)
			chunk = left;
		if (!translate(v, a, write, fetch, &piece[n].host, &piece[n].gpa, chunk, f))
			return false;
		piece[n].len = chunk;
		a += chunk;
		left -= chunk;
	}
	for (unsigned i = 0; i < n; p += piece[i++].len) {
		if (!write && piece[i].host)
			memcpy(p, piece[i].host, piece[i].len);
		else if (!write)
			memset(p, 0xff, piece[i].len);
		else if (piece[i].host) {
			memcpy(piece[i].host, p, piece[i].len);
			if (v->written)
				v->written(v->written_ctx, piece[i].gpa, piece[i].len);
		}
	}
	return true;
}

bool gmem_read(const struct gview *v, uint64_t la, void *dst, unsigned len, bool fetch,
	       struct gfault *f)
{
	return access(v, la, dst, len, false, fetch, f);
}

bool gmem_write(const struct gview *v, uint64_t la, const void *src, unsigned len, struct gfault *f)
{
	return access(v, la, (void *)src, len, true, false, f);
}
