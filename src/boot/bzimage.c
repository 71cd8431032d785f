/* bzimage.c - the setup header of a Linux bzImage, and its payload decompressed. */
#include "boot/bzimage.h"

#include <asm/bootparam.h>
#include <lzma.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

/* The boot protocol that introduced payload_offset and payload_length. */
#define PROTOCOL_PAYLOAD 0x0208
/* liblzma's memory for the dictionary: Linux's xz_wrap.sh uses 32 MiB at most. */
#define XZ_MEMLIMIT (256ULL << 20)
/* Linux's zstd -22 --ultra uses a 2^27-byte window; more is refused. */
#define ZSTD_WINDOW_LOG_MAX 27

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The setup header, from a zero-filled copy so a short file reads as zeros. */
static struct setup_header read_header(const uint8_t *buf, size_t len)
{
	struct boot_params bp;

	memset(&bp, 0, sizeof(bp));
	memcpy(&bp, buf, len < sizeof(bp) ? len : sizeof(bp));
	return bp.hdr;
}

bool bzimage_detect(const uint8_t *buf, size_t len)
{
	return len >= 0x206 && memcmp(buf + 0x202, "HdrS", 4) == 0;
}

void bzimage_release(const uint8_t *buf, size_t len, char *out, size_t outlen)
{
	struct setup_header h = read_header(buf, len);
	size_t off = (size_t)h.kernel_version + 0x200, n = 0;

	if (outlen)
		out[0] = '\0';
	if (!h.kernel_version || off >= len || !outlen)
		return;
	/* The string is "6.1.0-57-amd64 (debian-kernel@...) #1 SMP ...": keep its first word,
	 * printable characters only (it ends up on the user's terminal). */
	while (off + n < len && n + 1 < outlen && buf[off + n] > ' ' && buf[off + n] < 0x7f) {
		out[n] = (char)buf[off + n];
		n++;
	}
	out[n] = '\0';
}

/* Each compression Linux's Kconfig offers for the kernel, by its leading bytes. */
enum compression { COMP_NONE, COMP_XZ, COMP_GZIP, COMP_ZSTD, COMP_REFUSED, COMP_UNKNOWN };

static enum compression identify(const uint8_t *p, size_t n, const char **name)
{
	static const struct {
		const char *magic;
		size_t len;
		enum compression kind;
		const char *name;
	} table[] = {
		{"\xfd\x37\x7a\x58\x5a\x00", 6, COMP_XZ, "xz"},
		{"\x1f\x8b", 2, COMP_GZIP, "gzip"},
		{"\x28\xb5\x2f\xfd", 4, COMP_ZSTD, "zstd"},
		{"\x7f\x45\x4c\x46", 4, COMP_NONE, "uncompressed"},
		{"BZh", 3, COMP_REFUSED, "bzip2"},
		{"\x5d\0\0", 3, COMP_REFUSED, "lzma"},
		{"\x89LZO", 4, COMP_REFUSED, "lzo"},
		{"\x02\x21\x4c\x18", 4, COMP_REFUSED, "lz4"},
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (n >= table[i].len && memcmp(p, table[i].magic, table[i].len) == 0) {
			*name = table[i].name;
			return table[i].kind;
		}
	*name = "unknown";
	return COMP_UNKNOWN;
}

/* Each decompressor returns 0, or -1 with err filled; `out` holds `cap` bytes. */
static int too_big(char *err, size_t errlen, const char *name, size_t cap)
{
	return fail(err, errlen,
		    "bzImage %s payload decompresses to more than its declared %zu bytes "
		    "(corrupt)",
		    name, cap);
}

static int unxz(const uint8_t *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen,
		char *err, size_t errlen)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret r = lzma_stream_decoder(&s, XZ_MEMLIMIT, 0);

	if (r != LZMA_OK)
		return fail(err, errlen, "cannot start the xz decoder (liblzma error %d)", r);
	s.next_in = in;
	s.avail_in = inlen;
	s.next_out = out;
	s.avail_out = cap;
	do
		r = lzma_code(&s, LZMA_FINISH);
	while (r == LZMA_OK);
	*outlen = cap - s.avail_out;
	lzma_end(&s);
	switch (r) {
	case LZMA_STREAM_END:
		return 0;
	case LZMA_BUF_ERROR:
		return s.avail_out == 0 ? too_big(err, errlen, "xz", cap)
					: fail(err, errlen, "bzImage xz payload is truncated");
	case LZMA_MEMLIMIT_ERROR:
		return fail(err, errlen,
			    "bzImage xz payload needs more than %llu MiB to decompress",
			    XZ_MEMLIMIT >> 20);
	default:
		return fail(err, errlen, "bzImage xz payload is corrupt (liblzma error %d)", r);
	}
}

static int gunzip(const uint8_t *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen,
		  char *err, size_t errlen)
{
	z_stream s;
	int r;

	memset(&s, 0, sizeof(s));
	if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK) /* 16: a gzip wrapper */
		return fail(err, errlen, "cannot start the gzip decoder");
	/* zlib counts in uInt: feed at most 1 GiB at a time on both sides. */
	const size_t step = 1U << 30;
	size_t in_done = 0, out_done = 0;

	do {
		if (s.avail_in == 0) {
			s.next_in = (Bytef *)(in + in_done);
			s.avail_in = (uInt)(inlen - in_done < step ? inlen - in_done : step);
			in_done += s.avail_in;
		}
		if (s.avail_out == 0) {
			s.next_out = out + out_done;
			s.avail_out = (uInt)(cap - out_done < step ? cap - out_done : step);
			out_done += s.avail_out;
		}
		r = inflate(&s, Z_FINISH);
	} while (r == Z_OK || (r == Z_BUF_ERROR && ((s.avail_in == 0 && in_done < inlen) ||
						    (s.avail_out == 0 && out_done < cap))));
	*outlen = out_done - s.avail_out;
	bool out_full = s.avail_out == 0 && out_done == cap;
	inflateEnd(&s);
	if (r == Z_STREAM_END)
		return 0;
	if (r == Z_BUF_ERROR)
		return out_full ? too_big(err, errlen, "gzip", cap)
				: fail(err, errlen, "bzImage gzip payload is truncated");
	return fail(err, errlen, "bzImage gzip payload is corrupt (%s)",
		    s.msg ? s.msg : "zlib error");
}

static int unzstd(const uint8_t *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen,
		  char *err, size_t errlen)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer ib = {in, inlen, 0};
	ZSTD_outBuffer ob = {out, cap, 0};
	size_t r = 1;
	int ret = 0;

	if (!d)
		return fail(err, errlen, "cannot start the zstd decoder");
	ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX);
	for (;;) {
		size_t in_before = ib.pos, out_before = ob.pos;

		r = ZSTD_decompressStream(d, &ob, &ib);
		if (ZSTD_isError(r)) {
			ret = fail(err, errlen, "bzImage zstd payload is corrupt (%s)",
				   ZSTD_getErrorName(r));
			break;
		}
		if (r == 0) /* the frame is complete */
			break;
		if (ib.pos == in_before && ob.pos == out_before) {
			ret = ob.pos == ob.size
				      ? too_big(err, errlen, "zstd", cap)
				      : fail(err, errlen, "bzImage zstd payload is truncated");
			break;
		}
	}
	*outlen = ob.pos;
	ZSTD_freeDCtx(d);
	return ret;
}

int bzimage_extract(const uint8_t *buf, size_t len, uint64_t limit, uint8_t **elf, size_t *elf_len,
		    char *err, size_t errlen)
{
	struct setup_header h = read_header(buf, len);
	const char *name;
	uint32_t declared;
	int r;

	if (!bzimage_detect(buf, len))
		return fail(err, errlen, "no Linux boot setup header (\"HdrS\" at 0x202)");
	if (h.version < PROTOCOL_PAYLOAD)
		return fail(err, errlen,
			    "Linux boot protocol %u.%02u, older than 2.08 (no payload_offset): "
			    "an old zImage or bzImage",
			    h.version >> 8, h.version & 0xff);
	/* setup_sects 0 means 4, for compatibility with ancient kernels (boot.rst). */
	uint64_t start = ((uint64_t)(h.setup_sects ? h.setup_sects : 4) + 1) * 512;
	uint64_t off = start + h.payload_offset;

	if (off > len || h.payload_length > len - off)
		return fail(err, errlen,
			    "bzImage payload [%#llx, +%#x) lies outside the file (%zu bytes): "
			    "truncated",
			    (unsigned long long)off, h.payload_length, len);
	const uint8_t *in = buf + off;
	size_t inlen = h.payload_length;
	enum compression kind = identify(in, inlen, &name);

	if (kind == COMP_UNKNOWN)
		return fail(
			err, errlen,
			"bzImage payload in an unknown format (leading bytes %02x %02x %02x %02x)",
			inlen > 0 ? in[0] : 0, inlen > 1 ? in[1] : 0, inlen > 2 ? in[2] : 0,
			inlen > 3 ? in[3] : 0);
	if (kind == COMP_REFUSED)
		return fail(err, errlen,
			    "bzImage payload compressed with %s: lodger decompresses xz, gzip and "
			    "zstd",
			    name);
	if (kind == COMP_NONE) {
		declared = h.payload_length;
	} else {
		if (inlen < 8)
			return fail(err, errlen, "bzImage %s payload of %zu bytes is truncated",
				    name, inlen);
		memcpy(&declared, in + inlen - 4, 4); /* little-endian, like the host */
	}
	/* The bound before any work: a decompression bomb costs nothing. */
	if (declared > limit)
		return fail(err, errlen,
			    "bzImage payload decompresses to %u MiB, more than guest RAM "
			    "(%llu MiB)",
			    declared >> 20, (unsigned long long)(limit >> 20));
	uint8_t *out = malloc(declared ? declared : 1);

	if (!out)
		return fail(err, errlen, "out of memory for the %u-byte kernel", declared);
	switch (kind) {
	case COMP_XZ:
		r = unxz(in, inlen, out, declared, elf_len, err, errlen);
		break;
	case COMP_GZIP:
		r = gunzip(in, inlen, out, declared, elf_len, err, errlen);
		break;
	case COMP_ZSTD:
		r = unzstd(in, inlen, out, declared, elf_len, err, errlen);
		break;
	default:
		memcpy(out, in, declared);
		*elf_len = declared;
		r = 0;
		break;
	}
	if (r) {
		free(out);
		return -1;
	}
	*elf = out;
	return 0;
}
