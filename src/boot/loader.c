/* loader.c - ELF64 kernel loading, with every field of the file checked first. */
#include "boot/loader.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Sanity cap: a kernel image larger than the largest RAM cannot fit anyway. */
#define MAX_IMAGE_SIZE (3ULL << 30)

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int load_file(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *p;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return fail(err, errlen, "%s", strerror(errno));
	if (fstat(fd, &st) < 0) {
		int e = errno;

		close(fd);
		return fail(err, errlen, "%s", strerror(e));
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_IMAGE_SIZE) {
		close(fd);
		return fail(err, errlen, "%s",
			    S_ISREG(st.st_mode) ? "larger than any guest RAM"
						: "not a regular file");
	}
	p = malloc(st.st_size ? st.st_size : 1);
	if (!p) {
		close(fd);
		return fail(err, errlen, "out of memory");
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, p + done, st.st_size - done);

		if (n <= 0) {
			int e = n < 0 ? errno : EIO;

			free(p);
			close(fd);
			return fail(err, errlen, "%s", strerror(e));
		}
		done += n;
	}
	close(fd);
	*buf = p;
	*len = done;
	return 0;
}

static int check_header(const Elf64_Ehdr *eh, size_t len, char *err, size_t errlen)
{
	if (len < EI_NIDENT || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return fail(err, errlen, "not an ELF file");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return fail(err, errlen, "ELF class %u: lodger loads 64-bit ELF (ELFCLASS64)",
			    eh->e_ident[EI_CLASS]);
	if (len < sizeof(*eh))
		return fail(err, errlen, "truncated ELF header");
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return fail(err, errlen, "not little-endian ELF");
	if (eh->e_machine != EM_X86_64)
		return fail(err, errlen, "ELF machine %u: lodger loads x86-64 (EM_X86_64 = %u)",
			    eh->e_machine, EM_X86_64);
	if (eh->e_type != ET_EXEC)
		return fail(err, errlen, "ELF type %u: lodger loads executables (ET_EXEC)",
			    eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return fail(err, errlen, "program header size %u, expected %zu", eh->e_phentsize,
			    sizeof(Elf64_Phdr));
	if (eh->e_phnum == 0)
		return fail(err, errlen, "no program headers");
	if (!range_within(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), len))
		return fail(err, errlen, "program headers lie outside the file");
	return 0;
}

static int check_segment(const Elf64_Phdr *ph, unsigned idx, size_t len,
			 const struct guest_mem *mem, const struct mem_range *reserved,
			 unsigned nreserved, char *err, size_t errlen)
{
	if (ph->p_filesz > ph->p_memsz)
		return fail(err, errlen, "segment %u: file size larger than memory size", idx);
	if (!range_within(ph->p_offset, ph->p_filesz, len))
		return fail(err, errlen, "segment %u: data lies outside the file", idx);
	if (!gpa_ok(mem, ph->p_paddr, ph->p_memsz))
		return fail(err, errlen,
			    "segment %u: [%#llx, +%#llx) lies outside guest RAM (%llu MiB)", idx,
			    (unsigned long long)ph->p_paddr, (unsigned long long)ph->p_memsz,
			    (unsigned long long)(mem->ram_size >> 20));
	for (unsigned r = 0; r < nreserved; r++)
		if (ranges_overlap(ph->p_paddr, ph->p_memsz, reserved[r].start, reserved[r].size))
			return fail(err, errlen,
				    "segment %u: [%#llx, +%#llx) overlaps reserved RAM [%#llx, "
				    "%#llx)",
				    idx, (unsigned long long)ph->p_paddr,
				    (unsigned long long)ph->p_memsz,
				    (unsigned long long)reserved[r].start,
				    (unsigned long long)(reserved[r].start + reserved[r].size));
	return 0;
}

int elf_load(const uint8_t *buf, size_t len, struct guest_mem *mem,
	     const struct mem_range *reserved, unsigned nreserved, struct boot_image *out,
	     char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	bool entry_loaded = false;
	unsigned loads = 0;

	memset(&eh, 0, sizeof(eh));
	memcpy(&eh, buf, len < sizeof(eh) ? len : sizeof(eh));
	if (check_header(&eh, len, err, errlen))
		return -1;

	/* Check every segment before copying any, so a bad image leaves RAM untouched. */
	for (unsigned pass = 0; pass < 2; pass++) {
		out->low = UINT64_MAX;
		out->high = 0;
		for (unsigned i = 0; i < eh.e_phnum; i++) {
			Elf64_Phdr ph;

			memcpy(&ph, buf + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
			if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
				continue;
			if (pass == 0) {
				if (check_segment(&ph, i, len, mem, reserved, nreserved, err,
						  errlen))
					return -1;
				loads++;
				if (eh.e_entry >= ph.p_paddr &&
				    eh.e_entry - ph.p_paddr < ph.p_memsz)
					entry_loaded = true;
				continue;
			}
			uint8_t *dst = GPA_PTR(mem, ph.p_paddr, ph.p_memsz);

			memcpy(dst, buf + ph.p_offset, ph.p_filesz);
			memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
			if (ph.p_paddr < out->low)
				out->low = ph.p_paddr;
			if (ph.p_paddr + ph.p_memsz > out->high)
				out->high = ph.p_paddr + ph.p_memsz;
		}
		if (pass == 0 && !loads)
			return fail(err, errlen, "no loadable (PT_LOAD) segment");
		if (pass == 0 && !entry_loaded)
			return fail(err, errlen,
				    "entry point %#llx is not inside a loaded segment "
				    "(e_entry must be a physical address)",
				    (unsigned long long)eh.e_entry);
	}
	out->entry = eh.e_entry;
	return 0;
}
