/* domain.c - the start-of-day layout of a 64-bit PV kernel, checked before it is written. */
#include "xen/domain.h"

#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shadow/pagewalk.h"
#include "xen/families.h"

/* Xen's dom0_build.c protections: everything user-accessible (the guest kernel is CPL3). */
#define BASE_PROT (PTE_P | PTE_W | PTE_A | PTE_U)
#define L1_PROT	  BASE_PROT
#define LN_PROT	  (BASE_PROT | PTE_D)

#define PAGE_UP(x) (((x) + XEN_PAGE_SIZE - 1) & ~(XEN_PAGE_SIZE - 1))

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

void xen_hypercall_page_fill(uint8_t *page)
{
	/* Xen's pv_ring3_init_hypercall_page (xen/arch/x86/pv/hypercall.c): RCX and R11 are
	 * saved around the syscall because the kernel's syscall clobbers them; iret does not
	 * return, and leaves RAX, R11, RCX on the stack as struct iret_context expects. */
	memset(page, 0xcc, XEN_PAGE_SIZE);
	for (uint32_t i = 0; i < XEN_PAGE_SIZE / 32; i++) {
		uint8_t *p = page + i * 32;

		if (i == __HYPERVISOR_iret) {
			static const uint8_t head[] = {0x51, 0x41, 0x53, 0x50, 0xb8};

			memcpy(p, head, sizeof(head));
			memcpy(p + 5, &i, 4);
			p[9] = 0x0f, p[10] = 0x05;
			continue;
		}
		p[0] = 0x51;		  /* push %rcx */
		p[1] = 0x41, p[2] = 0x53; /* push %r11 */
		p[3] = 0xb8;		  /* mov $i, %eax */
		memcpy(p + 4, &i, 4);
		p[8] = 0x0f, p[9] = 0x05;   /* syscall */
		p[10] = 0x41, p[11] = 0x5b; /* pop %r11 */
		p[12] = 0x59;		    /* pop %rcx */
		p[13] = 0xc3;		    /* ret */
	}
}

/* Tables needed to map [lo, hi) with 4 KiB pages: Xen's NR() per level, plus the L4. */
static uint64_t tables_needed(uint64_t lo, uint64_t hi)
{
	uint64_t n = 1;

	for (unsigned shift = 39; shift >= 21; shift -= 9) {
		uint64_t m = (1ULL << shift) - 1;

		n += (((hi + m) & ~m) - (lo & ~m)) >> shift;
	}
	return n;
}

/* Places the pieces after the kernel (dom0_build.c's order); false if it wraps. */
static bool place(struct xen_layout *l, const struct xen_notes *n, uint64_t module_len,
		  uint64_t nr_pages)
{
	uint64_t va;

	l->v_start = n->virt_base;
	l->kern_start = n->virt_kstart;
	l->kern_end = n->virt_kend;
	l->mod_len = module_len;
	va = PAGE_UP(l->kern_end);
	if (module_len && !n->mod_start_pfn) {
		l->mod_start = va;
		va = PAGE_UP(va + module_len);
	}
	l->p2m_start = va;
	l->p2m_end = va + nr_pages * 8;
	l->start_info = PAGE_UP(l->p2m_end);
	l->xenstore = l->start_info + XEN_PAGE_SIZE;
	l->console = l->xenstore + XEN_PAGE_SIZE;
	l->pt_start = l->console + XEN_PAGE_SIZE;
	for (l->nr_pt_frames = 2;; l->nr_pt_frames++) {
		l->stack_start = l->pt_start + l->nr_pt_frames * XEN_PAGE_SIZE;
		l->stack_end = l->stack_start + XEN_PAGE_SIZE;
		l->v_end = (l->stack_end + (4ULL << 20) - 1) & ~((4ULL << 20) - 1);
		if (l->v_end - l->stack_end < (512ULL << 10))
			l->v_end += 4ULL << 20;
		if (l->v_end <= l->v_start || l->nr_pt_frames > 4096)
			return false;
		if (tables_needed(l->v_start, l->v_end) <= l->nr_pt_frames)
			break;
	}
	return l->p2m_start >= l->kern_end && l->v_end > l->stack_end;
}

struct segment {
	uint64_t offset, filesz, gpa, memsz;
};

/* Checks every PT_LOAD segment: in the image, in the region. Returns the count or -1. */
static int check_segments(const uint8_t *img, size_t len, const struct xen_notes *n,
			  uint64_t region, struct segment *segs, unsigned max, char *err,
			  size_t errlen)
{
	Elf64_Ehdr eh;
	unsigned count = 0;

	memcpy(&eh, img, sizeof(eh)); /* xen_notes_parse checked the size and class */
	if (eh.e_machine != EM_X86_64)
		return fail(err, errlen, "ELF machine %u is not x86-64", eh.e_machine);
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, img + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || !ph.p_memsz)
			continue;
		if (ph.p_filesz > ph.p_memsz || !range_within(ph.p_offset, ph.p_filesz, len))
			return fail(err, errlen, "segment %u: data lies outside the file", i);
		/* guest frame = (virtual - VIRT_BASE): p_paddr - PADDR_OFFSET */
		uint64_t gpa = ph.p_paddr - n->paddr_offset;

		if (!range_within(gpa, ph.p_memsz, region))
			return fail(err, errlen, "segment %u lies outside the bootstrap region", i);
		if (count == max)
			return fail(err, errlen, "more than %u loadable segments", max);
		segs[count++] = (struct segment){ph.p_offset, ph.p_filesz, gpa, ph.p_memsz};
	}
	return (int)count;
}

/* Builds the bootstrap tables for [v_start, v_end) in the frames from pt_gpa on. */
static uint64_t build_tables(struct xen_domain *d, const struct xen_layout *l)
{
	struct guest_mem *mem = d->mem;
	uint64_t pt_gpa = xen_layout_gpa(l, l->pt_start);
	uint64_t next = pt_gpa + XEN_PAGE_SIZE; /* the L4 is the first frame */
	uint64_t pt_end = pt_gpa + l->nr_pt_frames * XEN_PAGE_SIZE;

	d->frame_type[pt_gpa / XEN_PAGE_SIZE] = XEN_FRAME_L4 | XEN_FRAME_PINNED;
	for (uint64_t va = l->v_start; va < l->v_end; va += XEN_PAGE_SIZE) {
		uint64_t table = pt_gpa, gpa = xen_layout_gpa(l, va);

		for (unsigned level = 4; level > 1; level--) {
			unsigned idx = (va >> (12 + 9 * (level - 1))) & 511;
			uint64_t *e = GPA_PTR(mem, table + idx * 8, 8);

			if (!(*e & PTE_P)) {
				*e = next | LN_PROT; /* place() counted these frames */
				d->frame_type[next / XEN_PAGE_SIZE] = (uint8_t)(level - 1);
				next += XEN_PAGE_SIZE;
			}
			table = *e & PTE_ADDR_MASK;
		}
		uint64_t *pte = GPA_PTR(mem, table + ((va >> 12) & 511) * 8, 8);
		bool is_table = gpa >= pt_gpa && gpa < pt_end;

		/* the tables are mapped read-only: the guest changes them by hypercall or ptwr */
		*pte = gpa | (is_table ? L1_PROT & ~PTE_W : L1_PROT);
	}
	return pt_gpa;
}

static void fill_start_info(struct xen_domain *d, const struct xen_layout *l,
			    const struct xen_notes *n, const struct xen_build_params *p)
{
	start_info_t *si = GPA_PTR(d->mem, xen_layout_gpa(l, l->start_info), sizeof(*si));

	memset(si, 0, sizeof(*si));
	snprintf(si->magic, sizeof(si->magic), "xen-3.0-x86_64");
	si->nr_pages = l->nr_pages;
	si->shared_info = l->shared_info_gpa;
	si->flags = n->mod_start_pfn ? SIF_MOD_START_PFN : 0;
	si->store_mfn = xen_layout_gpa(l, l->xenstore) / XEN_PAGE_SIZE;
	si->store_evtchn = p->store_port;
	si->console.domU.mfn = xen_layout_gpa(l, l->console) / XEN_PAGE_SIZE;
	si->console.domU.evtchn = p->console_port;
	si->pt_base = l->pt_start;
	si->nr_pt_frames = l->nr_pt_frames;
	si->mfn_list = l->p2m_start;
	si->mod_start = l->mod_start;
	si->mod_len = l->mod_len;
	if (p->cmdline)
		snprintf((char *)si->cmd_line, sizeof(si->cmd_line), "%s", p->cmdline);
}

/* Frames of lodger's M2P for a RAM of ram_pages: the entries (8 bytes per frame), their
 * L1 tables, one L2, one L3. */
static uint64_t m2p_frames(uint64_t ram_pages)
{
	uint64_t data = (ram_pages + 511) / 512;

	return data + (data + 511) / 512 + 2;
}

/*
 * lodger's M2P, mapped read-only at XEN_M2P_REPORTED through its own tables in frames
 * [first, ...): m2p[mfn] = mfn for every frame of the domain (nr_pages and lodger's reserved
 * ones), INVALID_M2P_ENTRY (all ones) after. Linux reads it for every PTE it reads
 * (mfn_to_pfn); mapped, those reads are plain loads instead of traps.
 */
static void build_m2p(struct xen_domain *d, uint64_t first)
{
	uint64_t entries = d->nr_pages + XEN_RESERVED_PAGES, data = (entries + 511) / 512;
	uint64_t nl1 = (data + 511) / 512, l3 = first, l2 = first + 1, l1 = first + 2;
	uint64_t dat = l1 + nl1, ro = PTE_P | PTE_U | PTE_A;
	uint64_t *m = GPA_PTR(d->mem, dat * XEN_PAGE_SIZE, data * XEN_PAGE_SIZE);
	uint64_t *t1 = GPA_PTR(d->mem, l1 * XEN_PAGE_SIZE, nl1 * XEN_PAGE_SIZE);
	uint64_t *t2 = GPA_PTR(d->mem, l2 * XEN_PAGE_SIZE, XEN_PAGE_SIZE);
	uint64_t *t3 = GPA_PTR(d->mem, l3 * XEN_PAGE_SIZE, XEN_PAGE_SIZE);

	for (uint64_t i = 0; i < data * 512; i++)
		m[i] = i < entries ? i : ~0ULL;
	for (uint64_t j = 0; j < data; j++)
		t1[j] = (dat + j) * XEN_PAGE_SIZE | ro | PTE_NX;
	for (uint64_t k = 0; k < nl1; k++)
		t2[k] = (l1 + k) * XEN_PAGE_SIZE | ro;
	t3[0] = l2 * XEN_PAGE_SIZE | ro;
	d->m2p_l4e = l3 * XEN_PAGE_SIZE | ro;
}

int xen_domain_build(struct xen_domain *d, const uint8_t *img, size_t len,
		     const struct xen_notes *n, const struct xen_build_params *p,
		     struct xen_layout *l, char *err, size_t errlen)
{
	struct segment segs[16];
	uint64_t ram_pages = d->mem->ram_size / XEN_PAGE_SIZE, region, need;
	int nsegs;

	memset(l, 0, sizeof(*l));
	if (!n->count || !n->elf64)
		return fail(err, errlen, "not a 64-bit Xen PV kernel");
	if (ram_pages <= XEN_RESERVED_PAGES + m2p_frames(ram_pages))
		return fail(err, errlen, "no guest RAM");
	l->nr_pages = ram_pages - XEN_RESERVED_PAGES - m2p_frames(ram_pages);
	l->shared_info_gpa = l->nr_pages * XEN_PAGE_SIZE;
	l->hypercall_page = n->hypercall_page;
	if (!place(l, n, p->module ? p->module_len : 0, l->nr_pages))
		return fail(err, errlen, "the bootstrap region from VIRT_BASE %#llx wraps around",
			    (unsigned long long)n->virt_base);
	if (l->v_start < __HYPERVISOR_VIRT_END && l->v_end > __HYPERVISOR_VIRT_START)
		return fail(err, errlen, "the bootstrap region [%#llx, %#llx) overlaps Xen's hole",
			    (unsigned long long)l->v_start, (unsigned long long)l->v_end);
	region = l->v_end - l->v_start;
	need = region + (n->mod_start_pfn ? PAGE_UP(l->mod_len) : 0);
	if (need > l->nr_pages * XEN_PAGE_SIZE)
		return fail(err, errlen,
			    "the kernel's start-of-day layout needs %llu KiB, more than the %llu "
			    "KiB of guest RAM (try a larger -m)",
			    (unsigned long long)(need >> 10),
			    (unsigned long long)(l->nr_pages * XEN_PAGE_SIZE >> 10));
	if (l->hypercall_page != XEN_NOTES_UNSET &&
	    (l->hypercall_page < l->v_start || l->hypercall_page >= l->v_end ||
	     l->v_end - l->hypercall_page < XEN_PAGE_SIZE))
		return fail(err, errlen, "Xen note HYPERCALL_PAGE %#llx lies outside the region",
			    (unsigned long long)l->hypercall_page);
	nsegs = check_segments(img, len, n, l->kern_end - l->v_start, segs, 16, err, errlen);
	if (nsegs < 0)
		return -1;
	d->frame_type = calloc(l->nr_pages, 1);
	if (!d->frame_type)
		return fail(err, errlen, "out of memory");

	/* Checked: now write. RAM is zero from mem_alloc_ram. */
	d->nr_pages = l->nr_pages;
	d->shared_info_gpa = l->shared_info_gpa;
	d->console_gpa = xen_layout_gpa(l, l->console);
	d->store_gpa = xen_layout_gpa(l, l->xenstore);
	d->console_port = p->console_port;
	d->store_port = p->store_port;
	for (int i = 0; i < nsegs; i++) {
		uint8_t *dst = GPA_PTR(d->mem, segs[i].gpa, segs[i].memsz);

		memcpy(dst, img + segs[i].offset, segs[i].filesz);
		memset(dst + segs[i].filesz, 0, segs[i].memsz - segs[i].filesz);
	}
	if (l->mod_len) {
		uint64_t gpa = n->mod_start_pfn ? region : xen_layout_gpa(l, l->mod_start);

		memcpy(GPA_PTR(d->mem, gpa, l->mod_len), p->module, l->mod_len);
		if (n->mod_start_pfn)
			l->mod_start = gpa / XEN_PAGE_SIZE;
	}
	uint64_t *p2m = GPA_PTR(d->mem, xen_layout_gpa(l, l->p2m_start), l->nr_pages * 8);

	for (uint64_t pfn = 0; pfn < l->nr_pages; pfn++)
		p2m[pfn] = pfn; /* identity: pfn == mfn */
	fill_start_info(d, l, n, p);
	if (l->hypercall_page != XEN_NOTES_UNSET)
		xen_hypercall_page_fill(
			GPA_PTR(d->mem, xen_layout_gpa(l, l->hypercall_page), XEN_PAGE_SIZE));
	l->cr3 = build_tables(d, l);
	build_m2p(d, l->nr_pages + XEN_RESERVED_PAGES);
	xen_m2p_install(d, l->cr3 / XEN_PAGE_SIZE);
	struct shared_info *sh = GPA_PTR(d->mem, d->shared_info_gpa, sizeof(*sh));

	sh->vcpu_info[0].evtchn_upcall_mask = 1; /* entered with events masked */
	l->entry = n->entry;
	l->rsp = l->stack_end;
	l->rsi = l->start_info;
	return 0;
}

void xen_vcpu_init(struct xen_vcpu *v, struct xen_domain *d, const struct xen_layout *l)
{
	memset(v, 0, sizeof(*v));
	v->d = d;
	v->regs.rip = l->entry;
	v->regs.rsp = l->rsp;
	v->regs.rsi = l->rsi;
	v->regs.rflags = 0x202; /* IF and the must-be-one bit, as Xen */
	v->regs.cs = FLAT_KERNEL_CS;
	v->regs.ss = FLAT_KERNEL_SS;
	v->kernel_mode = true;
	v->kernel_cr3 = l->cr3;
	v->vcpu_info_gpa = d->shared_info_gpa; /* vcpu_info[0] is at offset 0 */
	v->nxe = true;
	v->dr[6] = XEN_DR6_DEFAULT;
	v->dr[7] = XEN_DR7_DEFAULT;
}

bool xen_m2p_install(struct xen_domain *d, uint64_t l4_mfn)
{
	uint64_t *e;

	if (!d->m2p_l4e || !xen_frame_ok(d, l4_mfn))
		return false;
	e = GPA_PTR(d->mem, l4_mfn * XEN_PAGE_SIZE + ((XEN_M2P_REPORTED >> 39) & 511) * 8, 8);
	if (*e == d->m2p_l4e)
		return false;
	*e = d->m2p_l4e;
	return true;
}

void xen_domain_free(struct xen_domain *d)
{
	free(d->frame_type);
	d->frame_type = NULL;
}
