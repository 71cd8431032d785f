/* mem.c - guest RAM and monitor memory: allocation and bounds-checked access. */
#include "kvm/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "front/log.h"

static void *map_zeroed(uint64_t size)
{
	/* NORESERVE: a 3 GiB guest that touches 10 MiB costs 10 MiB. */
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int mem_alloc_ram(struct guest_mem *mem, uint64_t size)
{
	mem->ram = map_zeroed(size);
	if (!mem->ram)
		return -errno;
	mem->ram_size = size;
	return 0;
}

int mem_alloc_monitor(struct guest_mem *mem, uint64_t gpa, uint64_t size)
{
	mem->monitor = map_zeroed(size);
	if (!mem->monitor)
		return -errno;
	mem->monitor_gpa = gpa;
	mem->monitor_size = size;
	return 0;
}

void mem_free(struct guest_mem *mem)
{
	if (mem->ram)
		munmap(mem->ram, mem->ram_size);
	if (mem->monitor)
		munmap(mem->monitor, mem->monitor_size);
	mem->ram = mem->monitor = NULL;
	mem->ram_size = mem->monitor_size = 0;
}

bool range_within(uint64_t start, uint64_t size, uint64_t limit)
{
	uint64_t end;

	if (__builtin_add_overflow(start, size, &end))
		return false;
	return end <= limit;
}

bool ranges_overlap(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size)
{
	if (!a_size || !b_size)
		return false;
	/* Compare last bytes, so ranges ending at 2^64 do not wrap. */
	return a <= b + (b_size - 1) && b <= a + (a_size - 1);
}

bool gpa_ok(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	return mem->ram && range_within(gpa, len, mem->ram_size);
}

void *gpa_ptr_guest(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	return gpa_ok(mem, gpa, len) ? mem->ram + gpa : NULL;
}

void *gpa_ptr_checked(const struct guest_mem *mem, uint64_t gpa, uint64_t len, const char *file,
		      int line)
{
	if (!gpa_ok(mem, gpa, len)) {
		pr_err("%s:%d: bug: guest-physical range %#llx+%#llx outside RAM", file, line,
		       (unsigned long long)gpa, (unsigned long long)len);
		abort();
	}
	return mem->ram + gpa;
}

void *mon_ptr_checked(const struct guest_mem *mem, uint64_t off, uint64_t len, const char *file,
		      int line)
{
	if (!mem->monitor || !range_within(off, len, mem->monitor_size)) {
		pr_err("%s:%d: bug: monitor range %#llx+%#llx outside monitor memory", file, line,
		       (unsigned long long)off, (unsigned long long)len);
		abort();
	}
	return mem->monitor + off;
}
