/*
 * fdt.c - a small read-only flattened-device-tree reader (devicetree spec v0.4, ch. 5).
 *
 * Hand-written rather than libfdt: Debian's libfdt is a hosted library (built with the
 * stack protector, _FORTIFY_SOURCE and PIC, against glibc), so it cannot be linked into a
 * freestanding guest, and vendoring its sources is more than the few lookups a test
 * needs. Every offset read from the blob is bounds-checked against totalsize.
 */
#include "rt.h"

#define FDT_MAGIC      0xd00dfeed
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE   2
#define FDT_PROP       3
#define FDT_NOP	       4
#define FDT_END	       9

/* Header fields, big-endian u32 each. */
#define HDR_MAGIC	 0
#define HDR_TOTALSIZE	 4
#define HDR_OFF_STRUCT	 8
#define HDR_OFF_STRINGS	 12
#define HDR_OFF_RSVMAP	 16
#define HDR_VERSION	 20
#define HDR_SIZE_STRINGS 32
#define HDR_SIZE_STRUCT	 36

static uint32_t hdr(const void *fdt, unsigned off)
{
	return rt_be32((const uint8_t *)fdt + off);
}

uint32_t rt_fdt_totalsize(const void *fdt)
{
	return hdr(fdt, HDR_TOTALSIZE);
}

bool rt_fdt_valid(const void *fdt)
{
	uint32_t size;

	if (!fdt || ((uintptr_t)fdt & 7) || hdr(fdt, HDR_MAGIC) != FDT_MAGIC)
		return false;
	size = hdr(fdt, HDR_TOTALSIZE);
	return hdr(fdt, HDR_VERSION) >= 17 && size >= 40 &&
	       hdr(fdt, HDR_OFF_STRUCT) + hdr(fdt, HDR_SIZE_STRUCT) <= size &&
	       hdr(fdt, HDR_OFF_STRINGS) + hdr(fdt, HDR_SIZE_STRINGS) <= size &&
	       hdr(fdt, HDR_OFF_RSVMAP) < size;
}

static size_t str_len(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

/* The struct block, as [base, base + size) with offsets relative to base. */
struct cursor {
	const uint8_t *base;
	uint32_t size;
};

static struct cursor struct_block(const void *fdt)
{
	struct cursor c = {(const uint8_t *)fdt + hdr(fdt, HDR_OFF_STRUCT),
			   hdr(fdt, HDR_SIZE_STRUCT)};
	return c;
}

static uint32_t align4(uint32_t v)
{
	return (v + 3) & ~3u;
}

/*
 * Reads the token at *off and advances past it (and its payload). For FDT_BEGIN_NODE,
 * *name is the node name; for FDT_PROP, *name is the property name, *val and *len its
 * value. Returns the token, or 0 on a malformed blob.
 */
static uint32_t next_token(const void *fdt, struct cursor c, uint32_t *off, const char **name,
			   const void **val, uint32_t *len)
{
	uint32_t tok, plen, nameoff;

	if (*off + 4 > c.size)
		return 0;
	tok = rt_be32(c.base + *off);
	*off += 4;
	switch (tok) {
	case FDT_BEGIN_NODE: {
		size_t n = str_len((const char *)c.base + *off, c.size - *off);
		if (*off + n >= c.size)
			return 0;
		*name = (const char *)c.base + *off;
		*off = align4(*off + (uint32_t)n + 1);
		return tok;
	}
	case FDT_PROP:
		if (*off + 8 > c.size)
			return 0;
		plen = rt_be32(c.base + *off);
		nameoff = rt_be32(c.base + *off + 4);
		*off += 8;
		if (plen > c.size - *off || nameoff >= hdr(fdt, HDR_SIZE_STRINGS))
			return 0;
		*name = (const char *)fdt + hdr(fdt, HDR_OFF_STRINGS) + nameoff;
		*val = c.base + *off;
		*len = plen;
		*off = align4(*off + plen);
		return tok;
	case FDT_END_NODE:
	case FDT_NOP:
	case FDT_END:
		return tok;
	default:
		return 0;
	}
}

/* Does a node name match one path component? "memory" matches "memory@0", as in libfdt. */
static bool name_matches(const char *node, const char *comp, size_t n)
{
	bool has_unit = false;

	for (size_t i = 0; i < n; i++) {
		if (node[i] != comp[i])
			return false;
		has_unit |= comp[i] == '@';
	}
	return node[n] == '\0' || (node[n] == '@' && !has_unit);
}

int rt_fdt_path_offset(const void *fdt, const char *path)
{
	struct cursor c = struct_block(fdt);
	uint32_t off = 0, tok_off, len;
	const char *name, *comp = path;
	const void *val;
	int depth = 0, matched = 0; /* depth of the current node; components matched so far */

	if (*path != '/')
		return -1;
	for (;;) {
		tok_off = off;
		switch (next_token(fdt, c, &off, &name, &val, &len)) {
		case FDT_BEGIN_NODE:
			depth++;
			if (depth == 1) { /* the root, whose name is "" */
				while (*comp == '/')
					comp++;
				if (!*comp)
					return (int)tok_off;
				break;
			}
			if (depth == matched + 2) {
				size_t n = 0;
				while (comp[n] && comp[n] != '/')
					n++;
				if (name_matches(name, comp, n)) {
					matched++;
					comp += n;
					while (*comp == '/')
						comp++;
					if (!*comp)
						return (int)tok_off;
				}
			}
			break;
		case FDT_END_NODE:
			/* Leaving the last matched node means the rest of the path is not there. */
			if (depth == matched + 1 && matched > 0)
				return -1;
			depth--;
			if (depth == 0)
				return -1;
			break;
		case FDT_PROP:
		case FDT_NOP:
			break;
		default: /* FDT_END or malformed */
			return -1;
		}
	}
}

const void *rt_fdt_getprop(const void *fdt, int node, const char *name, uint32_t *len)
{
	struct cursor c = struct_block(fdt);
	uint32_t off = (uint32_t)node, plen;
	const char *n;
	const void *val;

	if (node < 0 || next_token(fdt, c, &off, &n, &val, &plen) != FDT_BEGIN_NODE)
		return NULL;
	/* Properties come before subnodes (spec 5.4.1), so stop at the first other token. */
	for (;;) {
		uint32_t tok = next_token(fdt, c, &off, &n, &val, &plen);
		if (tok == FDT_NOP)
			continue;
		if (tok != FDT_PROP)
			return NULL;
		for (size_t i = 0;; i++) {
			if (n[i] != name[i])
				break;
			if (!name[i]) {
				if (len)
					*len = plen;
				return val;
			}
		}
	}
}

const char *rt_fdt_getprop_string(const void *fdt, int node, const char *name)
{
	uint32_t len;
	const char *s = rt_fdt_getprop(fdt, node, name, &len);

	if (!s || len == 0 || s[len - 1] != '\0')
		return NULL;
	return s;
}

bool rt_fdt_getprop_u32(const void *fdt, int node, const char *name, uint32_t *out)
{
	uint32_t len;
	const void *v = rt_fdt_getprop(fdt, node, name, &len);

	if (!v || len != 4)
		return false;
	*out = rt_be32(v);
	return true;
}

int rt_fdt_next_compatible(const void *fdt, int after, const char *compat)
{
	struct cursor c = struct_block(fdt);
	uint32_t off = 0, tok_off, len;
	const char *name;
	const void *val;

	if (after >= 0) { /* step past that node's own FDT_BEGIN_NODE */
		off = (uint32_t)after;
		if (next_token(fdt, c, &off, &name, &val, &len) != FDT_BEGIN_NODE)
			return -1;
	}
	for (;;) {
		uint32_t tok;

		tok_off = off;
		tok = next_token(fdt, c, &off, &name, &val, &len);
		if (tok == FDT_BEGIN_NODE) {
			const char *s = rt_fdt_getprop_string(fdt, (int)tok_off, "compatible");

			if (s && rt_streq(s, compat))
				return (int)tok_off;
		} else if (tok == 0 || tok == FDT_END) {
			return -1;
		}
	}
}

/* The reservation block: (address, size) big-endian u64 pairs, ended by (0, 0). */
int rt_fdt_num_mem_rsv(const void *fdt)
{
	const uint8_t *p = (const uint8_t *)fdt + hdr(fdt, HDR_OFF_RSVMAP);
	const uint8_t *end = (const uint8_t *)fdt + rt_fdt_totalsize(fdt);
	int n = 0;

	for (; p + 16 <= end; p += 16, n++)
		if (rt_be64(p) == 0 && rt_be64(p + 8) == 0)
			return n;
	return -1;
}

bool rt_fdt_get_mem_rsv(const void *fdt, int i, uint64_t *addr, uint64_t *size)
{
	const uint8_t *p = (const uint8_t *)fdt + hdr(fdt, HDR_OFF_RSVMAP) + 16 * (uint32_t)i;

	if (i < 0 || i >= rt_fdt_num_mem_rsv(fdt))
		return false;
	*addr = rt_be64(p);
	*size = rt_be64(p + 8);
	return true;
}
