/* prepare.c - loading a Xen PV kernel and its initrd, then the domain builder. */
#include "xen/prepare.h"

#include <stdlib.h>
#include <string.h>

#include "boot/loader.h"
#include "front/exitcode.h"
#include "front/log.h"

int xen_prepare(struct xen_domain *d, struct guest_mem *mem, const struct config *cfg,
		struct xen_layout *l)
{
	struct xen_build_params p = {.cmdline = cfg->append,
				     .console_port = XEN_CONSOLE_PORT,
				     .store_port = XEN_STORE_PORT};
	uint8_t *file = NULL, *img = NULL, *initrd = NULL; /* img: a bzImage's payload */
	const uint8_t *elf;
	size_t file_len, len, initrd_len = 0;
	struct xen_notes n;
	char err[256];
	int status = EXIT_BAD_IMAGE;

	memset(d, 0, sizeof(*d));
	d->mem = mem;
	if (load_file_max(cfg->kernel, cfg->mem_size, &file, &file_len, err, sizeof(err)) ||
	    kernel_elf_bytes(file, file_len, cfg->mem_size, &img, &elf, &len, err, sizeof(err))) {
		pr_err("kernel %s: %s", cfg->kernel, err);
		free(file);
		return EXIT_BAD_IMAGE;
	}
	if (cfg->initrd &&
	    load_file_max(cfg->initrd, cfg->mem_size, &initrd, &initrd_len, err, sizeof(err))) {
		pr_err("initrd %s: %s", cfg->initrd, err);
		goto out;
	}
	p.module = initrd;
	p.module_len = initrd_len;
	if (xen_notes_parse(elf, len, &n, err, sizeof(err)) != 1 ||
	    xen_notes_check(&n, err, sizeof(err)) ||
	    xen_domain_build(d, elf, len, &n, &p, l, err, sizeof(err))) {
		pr_err("kernel %s: %s", cfg->kernel, err);
		goto out;
	}
	pr_debug(LOG_BOOT,
		 "Xen PV kernel (GUEST_OS '%s'): region [%#llx, %#llx), kernel [%#llx, %#llx), "
		 "p2m %#llx, start_info %#llx, tables %#llx (%llu), stack %#llx, entry %#llx, "
		 "%llu pages, hypercall page %#llx",
		 n.guest_os, (unsigned long long)l->v_start, (unsigned long long)l->v_end,
		 (unsigned long long)l->kern_start, (unsigned long long)l->kern_end,
		 (unsigned long long)l->p2m_start, (unsigned long long)l->start_info,
		 (unsigned long long)l->pt_start, (unsigned long long)l->nr_pt_frames,
		 (unsigned long long)l->stack_start, (unsigned long long)l->entry,
		 (unsigned long long)l->nr_pages, (unsigned long long)l->hypercall_page);
	status = 0;
out:
	free(file);
	free(img);
	free(initrd);
	return status;
}
