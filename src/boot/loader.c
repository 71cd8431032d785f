/*
 * loader.c - reading kernel and initrd files, naming the kernel's format, and ELF64
 * loading, with every field of the file checked first.
 */
#include "boot/loader.h"

#include "boot/bzimage.h"
#include "boot/imagekind.h"
#include "front/log.h"

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

/* What lodger boots, the end of every refusal of a kernel it recognises but cannot boot. */
#define LODGER_BOOTS "lodger boots Xen PV kernels and its own 64-bit ELF kernels (docs/linux.md)"

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *file_type(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "a special file";
}

int load_file_max(const char *path, uint64_t max, uint8_t **buf, size_t *len, char *err,
		  size_t errlen)
{
	struct stat st;
	uint8_t *p;
	size_t done = 0;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0)
		return fail(err, errlen, "%s", strerror(errno));
	if (fstat(fd, &st) < 0) {
		int e = errno;

		close(fd);
		return fail(err, errlen, "%s", strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, errlen, "not a regular file (%s)", file_type(st.st_mode));
	}
	/* By its size, before a byte is read: a 3 GiB file costs nothing to refuse. */
	if ((uint64_t)st.st_size > max || (uint64_t)st.st_size > MAX_IMAGE_SIZE) {
		close(fd);
		return fail(err, errlen, "%llu MiB, larger than guest RAM (%llu MiB)",
			    (unsigned long long)(((uint64_t)st.st_size + (1 << 20) - 1) >> 20),
			    (unsigned long long)(max >> 20));
	}
	p = malloc(st.st_size ? st.st_size : 1);
	if (!p) {
		close(fd);
		return fail(err, errlen, "out of memory");
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, p + done, st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* 0: the file shrank while being read. */
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

int load_file(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
	return load_file_max(path, MAX_IMAGE_SIZE, buf, len, err, errlen);
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

int kernel_elf_bytes(const uint8_t *buf, size_t len, uint64_t limit, uint8_t **owned,
		     const uint8_t **elf, size_t *elf_len, char *err, size_t errlen)
{
	char what[128];
	enum image_kind kind = image_identify(buf, len, what, sizeof(what));

	*owned = NULL;
	*elf = buf;
	*elf_len = len;
	/* Other ELF classes go on: the notes reader names a 32-bit Xen PV kernel itself. */
	if (kind == IMAGE_OTHER && !(len >= SELFMAG && !memcmp(buf, ELFMAG, SELFMAG))) {
		fail(err, errlen, "%s: " LODGER_BOOTS, what);
		return -1;
	}
	if (kind != IMAGE_BZIMAGE)
		return 0;
	if (bzimage_extract(buf, len, limit, owned, elf_len, err, errlen))
		return -1;
	*elf = *owned;
	return 0;
}

int kernel_load(const uint8_t *buf, size_t len, struct guest_mem *mem,
		const struct mem_range *reserved, unsigned nreserved, struct boot_image *out,
		char *err, size_t errlen)
{
	char what[128], release[64] = "";
	uint8_t *elf = NULL;
	size_t elf_len = len;
	const char *form = "vmlinux";
	int r = -1;
	enum image_kind kind = image_identify(buf, len, what, sizeof(what));

	if (kind == IMAGE_BZIMAGE) {
		bzimage_release(buf, len, release, sizeof(release));
		if (bzimage_extract(buf, len, mem->ram_size, &elf, &elf_len, err, errlen))
			return -1;
		buf = elf;
		form = "bzImage";
		kind = image_identify(buf, elf_len, what, sizeof(what));
		if (kind == IMAGE_ELF64) /* a bzImage holds Linux, notes or not */
			kind = IMAGE_LINUX_NO_XEN;
		if (kind == IMAGE_OTHER || kind == IMAGE_BZIMAGE) {
			fail(err, errlen,
			     "Linux bzImage whose payload is not an ELF64 vmlinux (%s)",
			     kind == IMAGE_OTHER ? what : "another bzImage");
			goto out;
		}
	}
	pr_debug(LOG_BOOT, "kernel: %s%s%s, %zu bytes of ELF, %s", elf ? form : "ELF file",
		 *release ? " " : "", release, elf_len,
		 kind == IMAGE_XEN_PV	      ? "Xen PV notes"
		 : kind == IMAGE_LINUX_NO_XEN ? "Linux without Xen PV notes"
		 : kind == IMAGE_ELF64	      ? "lodger's boot protocol"
					      : what);
	switch (kind) {
	case IMAGE_ELF64:
		r = elf_load(buf, elf_len, mem, reserved, nreserved, out, err, errlen);
		break;
	case IMAGE_LINUX_NO_XEN:
		fail(err, errlen, "Linux kernel (%s%s%s) without Xen PV support: " LODGER_BOOTS,
		     form, *release ? " " : "", release);
		break;
	case IMAGE_XEN_PV:
		/* Reached only with personality=native: auto and xen take the Xen PV path
		 * (xen/prepare.c) before this loader runs. */
		fail(err, errlen,
		     "%s kernel (%s%s%s) with Xen PV support: it boots with personality=auto or "
		     "xen, not native (docs/linux.md)",
		     elf || elf_has_linux_note(buf, elf_len) ? "Linux" : "Xen PV", form,
		     *release ? " " : "", release);
		break;
	default:
		fail(err, errlen, "%s: " LODGER_BOOTS, what);
		break;
	}
out:
	free(elf);
	return r;
}
