/* bootmap.c - the boot identity map and descriptor tables, built in reserved RAM. */
#include "boot/bootmap.h"

#include <stdbool.h>
#include <string.h>

#include "arch/x86.h"
#include "lodger/boot.h"
#include "lodger/stub_abi.h"

const struct selectors direct_selectors = {
	.kernel_cs = LODGER_SEL_KERNEL_CS,
	.kernel_ds = LODGER_SEL_KERNEL_DS,
	.user32_cs = LODGER_SEL_USER32_CS,
	.user_ds = LODGER_SEL_USER_DS,
	.user_cs = LODGER_SEL_USER_CS,
	.boot_tss = LODGER_SEL_BOOT_TSS,
};

const struct selectors shadow_selectors = {
	.kernel_cs = STUB_GUEST_KERNEL_CS,
	.kernel_ds = STUB_GUEST_KERNEL_DS,
	.user32_cs = STUB_GUEST_USER32_CS,
	.user_ds = STUB_GUEST_USER_DS,
	.user_cs = STUB_GUEST_USER_CS,
	.boot_tss = STUB_TSS_SEL,
};

#define PTE_P	(1ULL << 0)
#define PTE_RW	(1ULL << 1)
#define PTE_PWT (1ULL << 3)
#define PTE_PCD (1ULL << 4)
#define PTE_PS	(1ULL << 7)

#define PAGE   0x1000ULL
#define NR_PDS (LODGER_IDENTITY_MAP_END >> 30)

void boot_layout_init(struct boot_layout *layout, uint64_t ram_size)
{
	layout->reserved = ram_size - LODGER_RESERVED_SIZE;
	layout->pml4 = layout->reserved;
	layout->gdt = layout->reserved + 0x6000;
	layout->tss = layout->reserved + 0x7000;
	layout->fdt = layout->reserved + 0x10000;
}

static void build_identity_map(struct guest_mem *mem, const struct boot_layout *l)
{
	uint64_t *pml4 = GPA_PTR(mem, l->pml4, PAGE);
	uint64_t pdpt_gpa = l->pml4 + PAGE, pd_gpa = pdpt_gpa + PAGE;
	uint64_t *pdpt = GPA_PTR(mem, pdpt_gpa, PAGE);
	uint64_t *pd = GPA_PTR(mem, pd_gpa, NR_PDS * PAGE);

	memset(pml4, 0, (2 + NR_PDS) * PAGE);
	pml4[0] = pdpt_gpa | PTE_P | PTE_RW;
	for (uint64_t g = 0; g < NR_PDS; g++)
		pdpt[g] = (pd_gpa + g * PAGE) | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < NR_PDS * 512; i++) {
		uint64_t pa = i << 21;
		uint64_t cache = pa >= LODGER_DEVICE_WINDOW ? PTE_PCD | PTE_PWT : 0;

		pd[i] = pa | PTE_P | PTE_RW | PTE_PS | cache;
	}
}

static void build_gdt_tss(struct guest_mem *mem, const struct boot_layout *l,
			  const struct selectors *sel)
{
	uint64_t *gdt = GPA_PTR(mem, l->gdt, BOOT_GDT_ENTRIES * 8);
	uint8_t *tss = GPA_PTR(mem, l->tss, BOOT_TSS_LIMIT + 1);
	uint64_t base = l->tss, limit = BOOT_TSS_LIMIT;

	memset(gdt, 0, BOOT_GDT_ENTRIES * 8);
	gdt[sel->kernel_cs >> 3] = x86_code_data_desc(true, true, sel->kernel_cs & 3);
	gdt[sel->kernel_ds >> 3] = x86_code_data_desc(false, false, sel->kernel_ds & 3);
	gdt[sel->user32_cs >> 3] = x86_code_data_desc(true, false, 3);
	gdt[sel->user_ds >> 3] = x86_code_data_desc(false, false, 3);
	gdt[sel->user_cs >> 3] = x86_code_data_desc(true, true, 3);
	/* 16-byte system descriptor: busy 64-bit TSS (type 0xb), as TR is loaded. */
	x86_tss_desc(&gdt[sel->boot_tss >> 3], base, limit);

	memset(tss, 0, BOOT_TSS_LIMIT + 1);
	/* I/O map base past the limit: no I/O permission bitmap. */
	tss[TSS_IOPB] = BOOT_TSS_LIMIT + 1;
}

void bootmap_build(struct guest_mem *mem, const struct boot_layout *layout,
		   const struct selectors *sel)
{
	build_identity_map(mem, layout);
	build_gdt_tss(mem, layout, sel);
}
