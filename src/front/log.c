/* log.c - error lines and -d debug categories. */
#include "front/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const struct log_category_name log_categories[] = {
	{"exit", LOG_EXIT, "every KVM exit, with its reason"},
	{"io", LOG_IO, "port and MMIO accesses no device claims (read as open bus)"},
	{"boot", LOG_BOOT, "RAM layout, where the kernel and initrd load, KVM backend"},
	{"serial", LOG_SERIAL, "16550A register accesses"},
	{"cpu", LOG_CPU, "the vCPU's entry state (direct mode)"},
	{"emul", LOG_EMUL, "instructions lodger completes that KVM could not"},
	{"trap", LOG_TRAP, "shadow mode: every trap from the guest and how it was handled"},
	{"shadow", LOG_SHADOW, "shadow mode: shadow page-table fills and flushes"},
	{"stub", LOG_STUB, "shadow mode: where the monitor stub is placed"},
	{"reloc", LOG_RELOC,
	 "shadow mode: each relocation of the stub (from, to, kind, reason, cost)"},
	{"xen", LOG_XEN,
	 "Xen PV guests: every hypercall (arguments, result, RIP, stack top), bounce, event"},
	{NULL, 0, NULL},
};

static unsigned enabled_mask;
static FILE *debug_file;

int log_parse_categories(const char *list, unsigned *mask, const char **bad, size_t *bad_len)
{
	unsigned m = 0;
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ",");
		bool found = false;

		if (len == 3 && strncmp(p, "all", 3) == 0) {
			for (const struct log_category_name *c = log_categories; c->name; c++)
				m |= c->mask;
			found = true;
		}
		for (const struct log_category_name *c = log_categories; !found && c->name; c++) {
			if (strlen(c->name) == len && strncmp(p, c->name, len) == 0) {
				m |= c->mask;
				found = true;
			}
		}
		if (!found) {
			*bad = p;
			*bad_len = len;
			return -1;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	*mask = m;
	return 0;
}

void log_set_mask(unsigned mask)
{
	enabled_mask = mask;
}

bool log_enabled(unsigned category)
{
	return enabled_mask & category;
}

int log_open_file(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	setvbuf(f, NULL, _IOLBF, 0);
	log_close();
	debug_file = f;
	return 0;
}

void log_close(void)
{
	if (debug_file)
		fclose(debug_file);
	debug_file = NULL;
}

FILE *log_stream(void)
{
	return debug_file ? debug_file : stderr;
}

void log_put_line(FILE *f, const char *prefix, const char *msg)
{
	fputs(prefix, f);
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('\n', f);
}

static void vprint(FILE *f, const char *prefix, const char *fmt, va_list ap)
{
	char *msg = NULL;

	if (vasprintf(&msg, fmt, ap) < 0) {
		fprintf(f, "%sout of memory\n", prefix);
		return;
	}
	log_put_line(f, prefix, msg);
	free(msg);
}

void pr_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint(stderr, "lodger: ", fmt, ap);
	va_end(ap);
}

void pr_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint(stderr, "lodger: warning: ", fmt, ap);
	va_end(ap);
}

void pr_debug_cat(unsigned category, const char *fmt, ...)
{
	const char *name = "?";
	char prefix[32];
	va_list ap;

	for (const struct log_category_name *c = log_categories; c->name; c++)
		if (c->mask == category)
			name = c->name;
	snprintf(prefix, sizeof(prefix), "[%s] ", name);
	va_start(ap, fmt);
	vprint(log_stream(), prefix, fmt, ap);
	va_end(ap);
}
