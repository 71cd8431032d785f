/* io.c - port-I/O and MMIO range registry and dispatch. */
#include "kvm/io.h"

#include <errno.h>
#include <string.h>

#include "front/log.h"
#include "kvm/mem.h"

int io_register(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn handler,
		void *opaque, const char *name)
{
	if (!len || !handler || !range_within(base, len, UINT64_MAX))
		return -EINVAL;
	for (unsigned i = 0; i < bus->count; i++)
		if (ranges_overlap(base, len, bus->ranges[i].base, bus->ranges[i].len))
			return -EINVAL;
	if (bus->count == IO_BUS_MAX_RANGES)
		return -ENOSPC;
	bus->ranges[bus->count++] = (struct io_range){base, len, handler, opaque, name};
	return 0;
}

static const struct io_range *find_range(const struct io_bus *bus, uint64_t addr, unsigned len)
{
	for (unsigned i = 0; i < bus->count; i++) {
		const struct io_range *r = &bus->ranges[i];

		if (addr >= r->base && range_within(addr - r->base, len, r->len))
			return r;
	}
	return NULL;
}

bool io_claimed(const struct io_bus *bus, uint64_t addr, unsigned len)
{
	return find_range(bus, addr, len) != NULL;
}

bool io_dispatch(struct io_bus *bus, uint64_t addr, uint8_t *data, unsigned len, bool is_write)
{
	const struct io_range *r = find_range(bus, addr, len);

	if (r) {
		r->handler(r->opaque, addr - r->base, data, len, is_write);
		return true;
	}
	if (is_write) {
		uint64_t v = 0;

		memcpy(&v, data, len < sizeof(v) ? len : sizeof(v));
		pr_debug(LOG_IO, "unclaimed %s write %#llx len %u value %#llx", bus->name,
			 (unsigned long long)addr, len, (unsigned long long)v);
	} else {
		memset(data, 0xff, len);
		pr_debug(LOG_IO, "unclaimed %s read %#llx len %u: open bus", bus->name,
			 (unsigned long long)addr, len);
	}
	return false;
}
