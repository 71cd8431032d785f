/* drive_opt.c - parsing disks: -drive and [drive], QEMU's names. */
#include "front/drive_opt.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "front/config.h"

static int __attribute__((format(printf, 2, 3))) why_fail(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, CONFIG_WHY_MAX, fmt, ap);
	va_end(ap);
	return -1;
}

int drive_list_add(struct drive_list *l)
{
	if (l->n == DRIVE_MAX)
		return -1;
	l->d[l->n++] = (struct drive_config){
		.iface = DRIVE_IF_VIRTIO,
		.cache = BLK_CACHE_WRITEBACK,
		.aio = BLK_AIO_IO_URING,
	};
	return 0;
}

void drive_list_free(struct drive_list *l)
{
	for (unsigned i = 0; i < l->n; i++)
		free(l->d[i].file);
	memset(l, 0, sizeof(*l));
}

void drive_list_move(struct drive_list *dst, struct drive_list *src)
{
	if (dst->n + src->n > DRIVE_MAX) {
		dst->overflow = true;
		drive_list_free(src);
		return;
	}
	memcpy(&dst->d[dst->n], src->d, src->n * sizeof(src->d[0]));
	dst->n += src->n;
	dst->overflow |= src->overflow;
	memset(src, 0, sizeof(*src));
}

static int parse_onoff(const char *s, bool *b, char *why)
{
	if (!strcmp(s, "on") || !strcmp(s, "yes") || !strcmp(s, "true"))
		*b = true;
	else if (!strcmp(s, "off") || !strcmp(s, "no") || !strcmp(s, "false"))
		*b = false;
	else
		return why_fail(why, "expected on or off");
	return 0;
}

int drive_set_key(struct drive_config *d, const char *key, const char *val, char *why)
{
	if (!strcmp(key, "file")) {
		char *copy;

		if (!*val)
			return why_fail(why, "file: empty path");
		copy = strdup(val);
		if (!copy)
			return why_fail(why, "out of memory");
		free(d->file);
		d->file = copy;
		return 0;
	}
	if (!strcmp(key, "format"))
		return strcmp(val, "raw")
			       ? why_fail(why, "format=%s: lodger reads only raw images", val)
			       : 0;
	if (!strcmp(key, "if")) {
		if (!strcmp(val, "virtio"))
			d->iface = DRIVE_IF_VIRTIO;
		else if (!strcmp(val, "xen"))
			d->iface = DRIVE_IF_XEN;
		else
			return why_fail(why, "if=%s: unsupported interface (virtio or xen)", val);
		return 0;
	}
	if (!strcmp(key, "readonly")) {
		if (parse_onoff(val, &d->readonly, why))
			return why_fail(why, "readonly=%s: expected on or off", val);
		return 0;
	}
	if (!strcmp(key, "cache"))
		return blk_cache_parse(val, &d->cache)
			       ? why_fail(why,
					  "cache=%s: unknown mode (writeback, none, writethrough, "
					  "directsync or unsafe)",
					  val)
			       : 0;
	if (!strcmp(key, "aio"))
		return blk_aio_parse(val, &d->aio)
			       ? why_fail(why, "aio=%s: unknown engine (io_uring or threads)", val)
			       : 0;
	if (!strcmp(key, "id"))
		return 0; /* a name for QEMU's monitor; lodger has none */
	if (!strcmp(key, "media"))
		return strcmp(val, "disk") ? why_fail(why, "media=%s: only disk", val) : 0;
	return why_fail(why,
			"unknown property '%s' (lodger knows file, format, if, readonly, cache, "
			"aio, id and media)",
			key);
}

int drive_check(const struct drive_config *d, char *why)
{
	if (!d->file)
		return why_fail(why, "no file= given");
	return 0;
}

int drive_parse(struct drive_list *l, const char *arg, char *why)
{
	char *copy, *rest, *item;
	struct drive_config *d;
	int r = 0;

	if (drive_list_add(l))
		return why_fail(why, "too many drives (lodger has %d slots)", DRIVE_MAX);
	d = &l->d[l->n - 1];
	copy = rest = strdup(arg);
	if (!copy)
		return why_fail(why, "out of memory");
	while (!r && (item = strsep(&rest, ","))) {
		char *eq = strchr(item, '=');

		if (!eq) {
			r = why_fail(why, "'%s' is not key=value", item);
			break;
		}
		*eq = '\0';
		r = drive_set_key(d, item, eq + 1, why);
	}
	free(copy);
	if (!r)
		r = drive_check(d, why);
	return r;
}

void drive_print(const struct drive_list *l, FILE *out)
{
	for (unsigned i = 0; i < l->n; i++) {
		const struct drive_config *d = &l->d[i];

		fputs("\n[drive]\n", out);
		if (d->file)
			config_print_str(out, "file", d->file);
		fputs("  format = \"raw\"\n  if = \"virtio\"\n", out);
		if (d->iface == DRIVE_IF_XEN)
			fprintf(out, "  if = \"xen\"\n");
		fprintf(out, "  readonly = \"%s\"\n", d->readonly ? "on" : "off");
		fprintf(out, "  cache = \"%s\"\n", blk_cache_name(d->cache));
		fprintf(out, "  aio = \"%s\"\n", blk_aio_name(d->aio));
	}
}
