/*
 * ACPI tables for x86 guests, written from the ACPI 6.3 specification.
 *
 * Everything is built with explicit little-endian stores at the offsets
 * the specification gives, not with packed structs, so the layout is the
 * one on the page whatever the host compiler does.  The DSDT's AML is
 * encoded by a tiny emitter below; it knows only the handful of opcodes
 * this DSDT needs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "x86/acpi.h"
#include "x86/acpi-pm.h"

#define OEM_ID		"LKVM  "	/* 6 bytes */
#define OEM_REVISION	1
#define CREATOR_ID	"LKVM"
#define CREATOR_REVISION 1

#define SDT_HEADER_LEN	36
#define SDT_CHECKSUM	9

/* ---- little-endian stores ---------------------------------------------- */

static void put8(u8 *p, size_t off, u8 v)
{
	p[off] = v;
}

static void put16(u8 *p, size_t off, u16 v)
{
	p[off] = (u8)v;
	p[off + 1] = (u8)(v >> 8);
}

static void put32(u8 *p, size_t off, u32 v)
{
	put16(p, off, (u16)v);
	put16(p, off + 2, (u16)(v >> 16));
}

static void put64(u8 *p, size_t off, u64 v)
{
	put32(p, off, (u32)v);
	put32(p, off + 4, (u32)(v >> 32));
}

static u8 checksum(const u8 *p, size_t len)
{
	u8 sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (u8)-sum;
}

/* ---- the output area ---------------------------------------------------- */

struct area {
	u8 *buf;
	size_t size;
	size_t used;
	u64 gpa;
	bool full;
};

/* Offset of len zeroed bytes aligned to align in guest addresses. */
static size_t area_alloc(struct area *a, size_t len, size_t align)
{
	size_t off = (size_t)(ALIGN_UP(a->gpa + a->used, (u64)align) - a->gpa);

	if (a->full || off > a->size || len > a->size - off) {
		a->full = true;
		return 0;
	}
	memset(a->buf + off, 0, len);
	a->used = off + len;
	return off;
}

static u64 area_gpa(const struct area *a, size_t off)
{
	return a->gpa + off;
}

/* ---- System Description Table header (ACPI 6.3, 5.2.6) ------------------ */

static void sdt_header(u8 *t, const char *sig, u32 len, u8 rev)
{
	char table_id[9] = "LKVM";

	memcpy(table_id + 4, sig, 4);
	memcpy(t, sig, 4);
	put32(t, 4, len);
	put8(t, 8, rev);
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, table_id, 8);
	put32(t, 24, OEM_REVISION);
	memcpy(t + 28, CREATOR_ID, 4);
	put32(t, 32, CREATOR_REVISION);
}

static void sdt_finish(u8 *t, u32 len)
{
	put32(t, 4, len);
	t[SDT_CHECKSUM] = 0;
	t[SDT_CHECKSUM] = checksum(t, len);
}

/* ---- AML emitter (ACPI 6.3, chapter 20) --------------------------------- */

#define AML_ZERO	0x00
#define AML_ONE		0x01
#define AML_NAME	0x08
#define AML_BYTE	0x0a
#define AML_WORD	0x0b
#define AML_DWORD	0x0c
#define AML_STRING	0x0d
#define AML_QWORD	0x0e
#define AML_SCOPE	0x10
#define AML_BUFFER	0x11
#define AML_PACKAGE	0x12
#define AML_EXT		0x5b
#define AML_DEVICE	0x82	/* after AML_EXT */
#define AML_ONES	0xff

struct aml {
	u8 *p;
	size_t cap;
	size_t len;
	bool full;
};

static void aml_bytes(struct aml *a, const void *src, size_t n)
{
	if (a->full || n > a->cap - a->len) {
		a->full = true;
		return;
	}
	memcpy(a->p + a->len, src, n);
	a->len += n;
}

static void aml_byte(struct aml *a, u8 b)
{
	aml_bytes(a, &b, 1);
}

static void aml_le(struct aml *a, u64 v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		aml_byte(a, (u8)(v >> (8 * i)));
}

static void aml_name_seg(struct aml *a, const char seg[4])
{
	aml_bytes(a, seg, 4);
}

static void aml_integer(struct aml *a, u64 v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO);
	} else if (v == 1) {
		aml_byte(a, AML_ONE);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE);
		aml_le(a, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD);
		aml_le(a, v, 2);
	} else if (v <= 0xffffffff) {
		aml_byte(a, AML_DWORD);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD);
		aml_le(a, v, 8);
	}
}

static void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING);
	aml_bytes(a, s, strlen(s) + 1);
}

/*
 * A PkgLength counts its own bytes, and its size (1 to 4 bytes) depends
 * on the length, so open a package with one byte reserved and widen it
 * when the package is closed.
 */
static size_t aml_pkg_open(struct aml *a)
{
	size_t at = a->len;

	aml_byte(a, 0);
	return at;
}

static void aml_pkg_close(struct aml *a, size_t at)
{
	size_t body, total;
	unsigned int n;

	if (a->full)
		return;
	body = a->len - at - 1;
	if (body + 1 <= 0x3f)
		n = 1;
	else if (body + 2 <= 0xfff)
		n = 2;
	else if (body + 3 <= 0xfffff)
		n = 3;
	else
		n = 4;
	total = body + n;
	if (total > 0xfffffff || n - 1 > a->cap - a->len) {
		a->full = true;
		return;
	}
	memmove(a->p + at + n, a->p + at + 1, body);
	a->len += n - 1;
	if (n == 1) {
		a->p[at] = (u8)total;
		return;
	}
	/* Lead byte: count of following bytes in bits 7:6, low nibble. */
	a->p[at] = (u8)(((n - 1) << 6) | (total & 0xf));
	for (unsigned int i = 1; i < n; i++)
		a->p[at + i] = (u8)(total >> (4 + 8 * (i - 1)));
}

static void aml_name_int(struct aml *a, const char name[4], u64 v)
{
	aml_byte(a, AML_NAME);
	aml_name_seg(a, name);
	aml_integer(a, v);
}

static void aml_name_buffer(struct aml *a, const char name[4],
			    const u8 *data, size_t len)
{
	size_t pkg;

	aml_byte(a, AML_NAME);
	aml_name_seg(a, name);
	aml_byte(a, AML_BUFFER);
	pkg = aml_pkg_open(a);
	aml_integer(a, len);
	aml_bytes(a, data, len);
	aml_pkg_close(a, pkg);
}

static size_t aml_device_open(struct aml *a, const char name[4])
{
	size_t pkg;

	aml_byte(a, AML_EXT);
	aml_byte(a, AML_DEVICE);
	pkg = aml_pkg_open(a);
	aml_name_seg(a, name);
	return pkg;
}

/* A compressed EISA id such as "PNP0A03", as the 32-bit integer AML uses. */
static u32 eisa_id(const char *id)
{
	static const char hex[] = "0123456789ABCDEF";
	u32 vendor = ((u32)(id[0] - '@') << 10) | ((u32)(id[1] - '@') << 5) |
		     (u32)(id[2] - '@');
	u32 product = 0;

	for (int i = 3; i < 7; i++)
		product = (product << 4) |
			  (u32)(strchr(hex, id[i]) - hex);
	/* Stored big-endian: vendor bytes first, then the product bytes. */
	return (u32)(vendor >> 8) | ((vendor & 0xff) << 8) |
	       ((product >> 8) << 16) | ((product & 0xff) << 24);
}

/* ---- resource descriptors (ACPI 6.3, 6.4) ------------------------------- */

struct res {
	u8 b[128];
	size_t len;
};

#define RES_WORD_ADDR	0x88
#define RES_DWORD_ADDR	0x87
#define RES_IO		0x47
#define RES_END		0x79

#define RES_TYPE_MEM	0
#define RES_TYPE_IO	1
#define RES_TYPE_BUS	2
/* Producer (bit 0 clear), positive decode, min and max fixed. */
#define RES_GEN_FLAGS	0x0c

static u8 *res_take(struct res *r, size_t n)
{
	u8 *p = r->b + r->len;

	r->len += n;	/* callers stay far below sizeof(r->b) */
	return p;
}

static void res_word_addr(struct res *r, u8 type, u8 type_flags, u16 min,
			  u16 max)
{
	u8 *p = res_take(r, 16);

	put8(p, 0, RES_WORD_ADDR);
	put16(p, 1, 13);
	put8(p, 3, type);
	put8(p, 4, RES_GEN_FLAGS);
	put8(p, 5, type_flags);
	put16(p, 6, 0);			/* granularity */
	put16(p, 8, min);
	put16(p, 10, max);
	put16(p, 12, 0);		/* translation offset */
	put16(p, 14, (u16)(max - min + 1));
}

static void res_dword_mem(struct res *r, u32 min, u32 max)
{
	u8 *p = res_take(r, 26);

	put8(p, 0, RES_DWORD_ADDR);
	put16(p, 1, 23);
	put8(p, 3, RES_TYPE_MEM);
	put8(p, 4, RES_GEN_FLAGS);
	put8(p, 5, 0x01);		/* read-write, non-cacheable */
	put32(p, 6, 0);
	put32(p, 10, min);
	put32(p, 14, max);
	put32(p, 18, 0);
	put32(p, 22, max - min + 1);
}

static void res_io(struct res *r, u16 port, u8 len)
{
	u8 *p = res_take(r, 8);

	put8(p, 0, RES_IO);
	put8(p, 1, 0x01);		/* 16-bit decode */
	put16(p, 2, port);
	put16(p, 4, port);
	put8(p, 6, 1);			/* alignment */
	put8(p, 7, len);
}

/* Memory32Fixed: a read-write window. */
static void res_mem32_fixed(struct res *r, u32 base, u32 len)
{
	u8 *p = res_take(r, 12);

	put8(p, 0, 0x86);
	put16(p, 1, 9);
	put8(p, 3, 0x01);		/* read-write */
	put32(p, 4, base);
	put32(p, 8, len);
}

/* Extended Interrupt: one level-triggered, active-high GSI, shareable. */
static void res_ext_irq(struct res *r, u32 gsi)
{
	u8 *p = res_take(r, 9);

	put8(p, 0, 0x89);
	put16(p, 1, 6);
	put8(p, 3, 0x09);		/* consumer, level, active high, shared */
	put8(p, 4, 1);			/* one interrupt */
	put32(p, 5, gsi);
}

static void res_end(struct res *r)
{
	u8 *p = res_take(r, 2);

	put8(p, 0, RES_END);
	put8(p, 1, 0);			/* checksum 0: "treat as valid" */
}

/* ---- DSDT ---------------------------------------------------------------- */

static void dsdt_s5(struct aml *a)
{
	size_t pkg;

	aml_byte(a, AML_NAME);
	aml_name_seg(a, "_S5_");
	aml_byte(a, AML_PACKAGE);
	pkg = aml_pkg_open(a);
	aml_byte(a, 4);
	aml_integer(a, ACPI_PM_SLP_TYP_S5);	/* PM1a_CNT.SLP_TYP */
	aml_integer(a, ACPI_PM_SLP_TYP_S5);	/* PM1b_CNT.SLP_TYP (none) */
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_pkg_close(a, pkg);
}

static void pci0_crs(struct aml *a, const struct acpi_config *cfg)
{
	struct res r = { .len = 0 };
	u64 last = cfg->pci_mmio_base + cfg->pci_mmio_size - 1;

	res_word_addr(&r, RES_TYPE_BUS, 0, 0, 0);
	/* I/O windows around the config ports 0xCF8-0xCFF; entire range. */
	res_word_addr(&r, RES_TYPE_IO, 0x03, 0x0000, 0x0cf7);
	res_word_addr(&r, RES_TYPE_IO, 0x03, 0x0d00, 0xffff);
	res_dword_mem(&r, (u32)cfg->pci_mmio_base, (u32)last);
	res_end(&r);
	aml_name_buffer(a, "_CRS", r.b, r.len);
}

static unsigned int prt_entries(const struct acpi_config *cfg)
{
	unsigned int n = 0;

	for (unsigned int s = 0; s < ACPI_PCI_SLOTS; s++)
		n += cfg->pci_slot_gsi[s] ? 4 : 0;
	return n;
}

/* Package { device address (slot, any function), pin, Zero, GSI } */
static void prt_entry(struct aml *a, unsigned int slot, unsigned int pin,
		      u8 gsi)
{
	size_t pkg;

	aml_byte(a, AML_PACKAGE);
	pkg = aml_pkg_open(a);
	aml_byte(a, 4);
	aml_integer(a, ((u64)slot << 16) | 0xffff);
	aml_integer(a, pin);
	aml_integer(a, 0);	/* no link device: the last field is a GSI */
	aml_integer(a, gsi);
	aml_pkg_close(a, pkg);
}

static void pci0_prt(struct aml *a, const struct acpi_config *cfg)
{
	unsigned int n = prt_entries(cfg);
	size_t pkg;

	if (!n)
		return;
	aml_byte(a, AML_NAME);
	aml_name_seg(a, "_PRT");
	aml_byte(a, AML_PACKAGE);
	pkg = aml_pkg_open(a);
	aml_byte(a, (u8)n);
	for (unsigned int s = 0; s < ACPI_PCI_SLOTS; s++)
		for (unsigned int pin = 0; cfg->pci_slot_gsi[s] && pin < 4; pin++)
			prt_entry(a, s, pin, cfg->pci_slot_gsi[s]);
	aml_pkg_close(a, pkg);
}

static void dsdt_pci0(struct aml *a, const struct acpi_config *cfg)
{
	size_t dev = aml_device_open(a, "PCI0");

	/* No _ADR: a device has either a _HID or an _ADR, never both. */
	aml_name_int(a, "_HID", eisa_id("PNP0A03"));
	aml_name_int(a, "_UID", 0);
	aml_name_int(a, "_BBN", 0);
	pci0_crs(a, cfg);
	pci0_prt(a, cfg);
	aml_pkg_close(a, dev);
}

static void dsdt_pvpanic(struct aml *a, u16 port)
{
	struct res r = { .len = 0 };
	size_t dev = aml_device_open(a, "PVPN");

	aml_byte(a, AML_NAME);
	aml_name_seg(a, "_HID");
	aml_string(a, "QEMU0001");	/* the id Linux's pvpanic driver binds */
	res_io(&r, port, 1);
	res_end(&r);
	aml_name_buffer(a, "_CRS", r.b, r.len);
	aml_pkg_close(a, dev);
}

static void dsdt_virtio_mmio(struct aml *a, unsigned int i,
			     const struct acpi_mmio_dev *d)
{
	struct res r = { .len = 0 };
	char name[5];
	size_t dev;

	snprintf(name, sizeof(name), "VR%02u", i % 100);
	dev = aml_device_open(a, name);
	aml_byte(a, AML_NAME);
	aml_name_seg(a, "_HID");
	aml_string(a, "LNRO0005");
	aml_name_int(a, "_UID", i);
	res_mem32_fixed(&r, d->base, d->size);
	res_ext_irq(&r, d->gsi);
	res_end(&r);
	aml_name_buffer(a, "_CRS", r.b, r.len);
	aml_pkg_close(a, dev);
}

static void dsdt_sb(struct aml *a, const struct acpi_config *cfg)
{
	size_t scope;

	if (!cfg->pci_mmio_size && !cfg->pvpanic_port && !cfg->nr_mmio_devs)
		return;
	aml_byte(a, AML_SCOPE);
	scope = aml_pkg_open(a);
	aml_name_seg(a, "_SB_");
	if (cfg->pci_mmio_size)
		dsdt_pci0(a, cfg);
	if (cfg->pvpanic_port)
		dsdt_pvpanic(a, cfg->pvpanic_port);
	for (unsigned int i = 0; i < cfg->nr_mmio_devs; i++)
		dsdt_virtio_mmio(a, i, &cfg->mmio_devs[i]);
	aml_pkg_close(a, scope);
}

/* The AML's size is known only once emitted, so it is built in place. */
static size_t build_dsdt(struct area *ar, const struct acpi_config *cfg)
{
	size_t off = area_alloc(ar, SDT_HEADER_LEN, 8);
	struct aml a;
	u8 *t;

	if (ar->full)
		return 0;
	t = ar->buf + off;
	a = (struct aml){ .p = t + SDT_HEADER_LEN,
			  .cap = ar->size - off - SDT_HEADER_LEN };
	dsdt_s5(&a);
	dsdt_sb(&a, cfg);
	if (a.full) {
		ar->full = true;
		return 0;
	}
	ar->used = off + SDT_HEADER_LEN + a.len;
	/* Revision 2: AML integers are 64 bits wide. */
	sdt_header(t, "DSDT", 0, 2);
	sdt_finish(t, (u32)(SDT_HEADER_LEN + a.len));
	return off;
}

/* ---- FACS (5.2.10) ------------------------------------------------------- */

#define FACS_LEN 64

static size_t build_facs(struct area *ar)
{
	size_t off = area_alloc(ar, FACS_LEN, 64);
	u8 *t = ar->buf + off;

	if (ar->full)
		return 0;
	memcpy(t, "FACS", 4);
	put32(t, 4, FACS_LEN);
	put8(t, 32, 2);		/* version */
	return off;
}

/* ---- FADT (5.2.9) -------------------------------------------------------- */

#define FADT_LEN		276
#define FADT_REVISION		6
#define FADT_MINOR		3

#define FADT_FIRMWARE_CTRL	36
#define FADT_DSDT		40
#define FADT_PM_PROFILE		45
#define FADT_SCI_INT		46
#define FADT_SMI_CMD		48
#define FADT_PM1A_EVT_BLK	56
#define FADT_PM1A_CNT_BLK	64
#define FADT_PM_TMR_BLK		76
#define FADT_PM1_EVT_LEN	88
#define FADT_PM1_CNT_LEN	89
#define FADT_PM_TMR_LEN		91
#define FADT_P_LVL2_LAT		96
#define FADT_P_LVL3_LAT		98
#define FADT_IAPC_BOOT_ARCH	109
#define FADT_FLAGS		112
#define FADT_RESET_REG		116
#define FADT_RESET_VALUE	128
#define FADT_MINOR_VERSION	131
#define FADT_X_FIRMWARE_CTRL	132
#define FADT_X_DSDT		140
#define FADT_X_PM1A_EVT_BLK	148
#define FADT_X_PM1A_CNT_BLK	172
#define FADT_X_PM_TMR_BLK	208

#define FADT_F_WBINVD		(1u << 0)
#define FADT_F_PROC_C1		(1u << 2)
#define FADT_F_PWR_BUTTON	(1u << 4)	/* set: no fixed power button */
#define FADT_F_SLP_BUTTON	(1u << 5)	/* set: no fixed sleep button */
#define FADT_F_FIX_RTC		(1u << 6)	/* set: no RTC wake status */
#define FADT_F_TMR_VAL_EXT	(1u << 8)	/* 32-bit PM timer */
#define FADT_F_RESET_REG_SUP	(1u << 10)	/* RESET_REG is valid */

#define BOOT_ARCH_LEGACY_DEVICES (1u << 0)
#define BOOT_ARCH_8042		(1u << 1)
#define BOOT_ARCH_VGA_NOT_PRESENT (1u << 2)

#define GAS_SPACE_IO		1
#define GAS_ACCESS_BYTE		1
#define GAS_ACCESS_WORD		2
#define GAS_ACCESS_DWORD	3

/* A Generic Address Structure (5.2.3.2) for a port-I/O register. */
static void put_gas_io(u8 *t, size_t off, unsigned int bytes, u8 access,
		       u64 port)
{
	put8(t, off, GAS_SPACE_IO);
	put8(t, off + 1, (u8)(bytes * 8));	/* must equal 8 * the _LEN */
	put8(t, off + 2, 0);
	put8(t, off + 3, access);
	put64(t, off + 4, port);
}

static void fadt_pm_blocks(u8 *t, u16 base)
{
	u32 evt = base + ACPI_PM_EVT_OFF;
	u32 cnt = base + ACPI_PM_CNT_OFF;
	u32 tmr = base + ACPI_PM_TMR_OFF;

	put32(t, FADT_PM1A_EVT_BLK, evt);
	put32(t, FADT_PM1A_CNT_BLK, cnt);
	put32(t, FADT_PM_TMR_BLK, tmr);
	put8(t, FADT_PM1_EVT_LEN, ACPI_PM_EVT_LEN);
	put8(t, FADT_PM1_CNT_LEN, ACPI_PM_CNT_LEN);
	put8(t, FADT_PM_TMR_LEN, ACPI_PM_TMR_LEN);
	/* PM1 status and enable halves are 16-bit registers. */
	put_gas_io(t, FADT_X_PM1A_EVT_BLK, ACPI_PM_EVT_LEN, GAS_ACCESS_WORD, evt);
	put_gas_io(t, FADT_X_PM1A_CNT_BLK, ACPI_PM_CNT_LEN, GAS_ACCESS_WORD, cnt);
	put_gas_io(t, FADT_X_PM_TMR_BLK, ACPI_PM_TMR_LEN, GAS_ACCESS_DWORD, tmr);
}

static size_t build_fadt(struct area *ar, const struct acpi_config *cfg,
			 u64 facs, u64 dsdt)
{
	size_t off = area_alloc(ar, FADT_LEN, 8);
	u8 *t = ar->buf + off;

	if (ar->full)
		return 0;
	sdt_header(t, "FACP", FADT_LEN, FADT_REVISION);
	/* The spec allows only one of FIRMWARE_CTRL / X_FIRMWARE_CTRL. */
	put32(t, FADT_FIRMWARE_CTRL, (u32)facs);
	put32(t, FADT_DSDT, (u32)dsdt);
	put64(t, FADT_X_DSDT, dsdt);
	put8(t, FADT_PM_PROFILE, 0);		/* unspecified */
	put16(t, FADT_SCI_INT, cfg->sci_irq);
	/* SMI_CMD 0: no SMM, the platform is always in ACPI mode. */
	put32(t, FADT_SMI_CMD, 0);
	fadt_pm_blocks(t, cfg->pm_base);
	/* Latencies above the maxima mean "C2/C3 not supported". */
	put16(t, FADT_P_LVL2_LAT, 101);
	put16(t, FADT_P_LVL3_LAT, 1001);
	put16(t, FADT_IAPC_BOOT_ARCH, BOOT_ARCH_LEGACY_DEVICES |
		 BOOT_ARCH_8042 | BOOT_ARCH_VGA_NOT_PRESENT);
	put32(t, FADT_FLAGS, FADT_F_WBINVD | FADT_F_PROC_C1 |
		 FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON | FADT_F_FIX_RTC |
		 FADT_F_TMR_VAL_EXT | (cfg->reset_port ? FADT_F_RESET_REG_SUP : 0));
	if (cfg->reset_port) {
		put_gas_io(t, FADT_RESET_REG, 1, GAS_ACCESS_BYTE, cfg->reset_port);
		put8(t, FADT_RESET_VALUE, cfg->reset_value);
	}
	put8(t, FADT_MINOR_VERSION, FADT_MINOR);
	sdt_finish(t, FADT_LEN);
	return off;
}

/* ---- MADT (5.2.12) ------------------------------------------------------- */

#define MADT_REVISION		5
#define MADT_PCAT_COMPAT	(1u << 0)
#define MADT_LAPIC		0
#define MADT_IOAPIC		1
#define MADT_ISO		2
#define MADT_LAPIC_NMI		4
#define MADT_LAPIC_ENABLED	(1u << 0)
/* MPS INTI flags: polarity bits 1:0, trigger mode bits 3:2. */
#define MPS_ACTIVE_HIGH		0x1
#define MPS_LEVEL		(0x3 << 2)

static size_t madt_len(const struct acpi_config *cfg)
{
	return 44 + 8 * (size_t)cfg->nr_cpus + 12 + 10 + 6;
}

static size_t build_madt(struct area *ar, const struct acpi_config *cfg)
{
	size_t len = madt_len(cfg), off = area_alloc(ar, len, 8), p;
	u8 *t = ar->buf + off;

	if (ar->full)
		return 0;
	sdt_header(t, "APIC", (u32)len, MADT_REVISION);
	put32(t, 36, (u32)cfg->lapic_addr);
	put32(t, 40, MADT_PCAT_COMPAT);
	p = 44;
	for (unsigned int i = 0; i < cfg->nr_cpus; i++, p += 8) {
		put8(t, p, MADT_LAPIC);
		put8(t, p + 1, 8);
		put8(t, p + 2, (u8)i);		/* processor UID */
		put8(t, p + 3, (u8)i);		/* APIC id */
		put32(t, p + 4, MADT_LAPIC_ENABLED);
	}
	put8(t, p, MADT_IOAPIC);
	put8(t, p + 1, 12);
	put8(t, p + 2, cfg->ioapic_id);
	put32(t, p + 4, (u32)cfg->ioapic_addr);
	put32(t, p + 8, 0);			/* GSI base */
	p += 12;
	/*
	 * Only the SCI needs an override: KVM routes ISA IRQ n to IOAPIC pin
	 * n (the PIT included), which is what "no override" means.
	 */
	put8(t, p, MADT_ISO);
	put8(t, p + 1, 10);
	put8(t, p + 2, 0);			/* ISA */
	put8(t, p + 3, cfg->sci_irq);
	put32(t, p + 4, cfg->sci_irq);
	put16(t, p + 8, MPS_ACTIVE_HIGH | MPS_LEVEL);
	p += 10;
	put8(t, p, MADT_LAPIC_NMI);
	put8(t, p + 1, 6);
	put8(t, p + 2, 0xff);			/* all processors */
	put16(t, p + 3, 0);			/* conforms to the bus */
	put8(t, p + 5, 1);			/* LINT1 */
	sdt_finish(t, (u32)len);
	return off;
}

/* ---- root tables (5.2.5, 5.2.7, 5.2.8) ----------------------------------- */

static size_t build_root(struct area *ar, const char *sig, unsigned int width,
			 const u64 *tables, unsigned int n)
{
	size_t len = SDT_HEADER_LEN + (size_t)width * n;
	size_t off = area_alloc(ar, len, 8);
	u8 *t = ar->buf + off;

	if (ar->full)
		return 0;
	sdt_header(t, sig, (u32)len, 1);
	for (unsigned int i = 0; i < n; i++) {
		if (width == 8)
			put64(t, SDT_HEADER_LEN + 8 * i, tables[i]);
		else
			put32(t, SDT_HEADER_LEN + 4 * i, (u32)tables[i]);
	}
	sdt_finish(t, (u32)len);
	return off;
}

#define RSDP_LEN 36

static void fill_rsdp(u8 *t, u64 rsdt, u64 xsdt)
{
	memcpy(t, "RSD PTR ", 8);
	memcpy(t + 9, OEM_ID, 6);
	put8(t, 15, 2);			/* revision: XSDT present */
	put32(t, 16, (u32)rsdt);
	put32(t, 20, RSDP_LEN);
	put64(t, 24, xsdt);
	put8(t, 8, checksum(t, 20));		/* ACPI 1.0 part */
	put8(t, 32, checksum(t, RSDP_LEN));	/* whole structure */
}

static int check_config(const struct acpi_config *cfg, u64 gpa, size_t size)
{
	u64 mmio_end = cfg->pci_mmio_base + cfg->pci_mmio_size;

	/* xAPIC entries: ids 0..254 (255 is the broadcast id). */
	if (cfg->nr_cpus == 0 || cfg->nr_cpus > 255)
		return -EINVAL;
	/* The RSDT and the 32-bit FADT fields need tables below 4 GiB. */
	if (gpa + size > (1ULL << 32) || gpa + size < gpa)
		return -EINVAL;
	if (cfg->lapic_addr >> 32 || cfg->ioapic_addr >> 32 || cfg->sci_irq > 15)
		return -EINVAL;
	if (cfg->pci_mmio_size &&
	    (mmio_end > (1ULL << 32) || mmio_end <= cfg->pci_mmio_base))
		return -EINVAL;
	if ((u32)cfg->pm_base + ACPI_PM_BLOCK_LEN > 0x10000)
		return -EINVAL;
	if (cfg->nr_mmio_devs > ACPI_MAX_MMIO_DEVS ||
	    (cfg->nr_mmio_devs && !cfg->mmio_devs))
		return -EINVAL;
	return 0;
}

ssize_t acpi_build_tables(void *buf, size_t size, u64 gpa,
			  const struct acpi_config *cfg, u64 *rsdp_gpa)
{
	struct area ar = { .buf = buf, .size = size, .gpa = gpa };
	size_t rsdp, facs, dsdt, fadt, madt, xsdt, rsdt;
	u64 tables[2];
	int ret = check_config(cfg, gpa, size);

	if (ret)
		return ret;
	/* The RSDP first: firmware-style scans look for it on 16-byte steps. */
	rsdp = area_alloc(&ar, RSDP_LEN, 16);
	facs = build_facs(&ar);
	dsdt = build_dsdt(&ar, cfg);
	fadt = build_fadt(&ar, cfg, area_gpa(&ar, facs), area_gpa(&ar, dsdt));
	madt = build_madt(&ar, cfg);
	tables[0] = area_gpa(&ar, fadt);
	tables[1] = area_gpa(&ar, madt);
	xsdt = build_root(&ar, "XSDT", 8, tables, 2);
	rsdt = build_root(&ar, "RSDT", 4, tables, 2);
	if (ar.full)
		return -ENOSPC;
	fill_rsdp(ar.buf + rsdp, area_gpa(&ar, rsdt), area_gpa(&ar, xsdt));
	*rsdp_gpa = area_gpa(&ar, rsdp);
	return (ssize_t)ar.used;
}
