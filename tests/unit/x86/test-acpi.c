/*
 * ACPI tables (x86/acpi.c), the PM register block (x86/acpi-pm.c) and
 * pvpanic (hw/pvpanic.c).  The tables are parsed here independently of
 * the builder; when iasl is installed they are also disassembled, the
 * DSDT is recompiled, and the result must match our AML byte for byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "../unit.h"
#include "x86/acpi.h"
#include "x86/acpi-pm.h"
#include "lkvm/pvpanic.h"

#define TABLES_GPA 0xe0000ULL
#define TABLES_SIZE 0x20000

static u8 area[TABLES_SIZE];

static u16 get16(const u8 *p) { return (u16)(p[0] | p[1] << 8); }
static u32 get32(const u8 *p) { return get16(p) | (u32)get16(p + 2) << 16; }
static u64 get64(const u8 *p) { return get32(p) | (u64)get32(p + 4) << 32; }

static u8 sum(const u8 *p, size_t len)
{
	u8 s = 0;

	while (len--)
		s += *p++;
	return s;
}

static struct acpi_config default_config(void)
{
	return (struct acpi_config){
		.nr_cpus = 4,
		.lapic_addr = 0xfee00000,
		.ioapic_addr = 0xfec00000,
		.ioapic_id = 4,
		.pm_base = 0x600,
		.sci_irq = 9,
		.pci_mmio_base = 0xc0000000,
		.pci_mmio_size = 0x3ec00000,
		.pvpanic_port = 0x505,
		.reset_port = 0x64,
		.reset_value = 0xfe,
	};
}

struct built {
	ssize_t used;
	u64 gpa;
	u64 rsdp;
};

static struct built build_at(const struct acpi_config *cfg, u64 gpa)
{
	struct built b = { .gpa = gpa };

	memset(area, 0xcc, sizeof(area));
	b.used = acpi_build_tables(area, sizeof(area), gpa, cfg, &b.rsdp);
	return b;
}

static struct built build(const struct acpi_config *cfg)
{
	return build_at(cfg, TABLES_GPA);
}

/* Host pointer of [gpa, gpa + len) if it is wholly inside the tables. */
static const u8 *span_at(const struct built *b, u64 gpa, size_t len)
{
	if (b->used <= 0 || gpa < b->gpa || gpa - b->gpa > (u64)b->used ||
	    len > (u64)b->used - (gpa - b->gpa))
		return NULL;
	return area + (gpa - b->gpa);
}

/* A table whose own length field (at +4) is at least min_len and fits. */
static const u8 *table_at(const struct built *b, u64 gpa, size_t min_len)
{
	const u8 *t = span_at(b, gpa, min_len);

	if (!t || get32(t + 4) < min_len)
		return NULL;
	return span_at(b, gpa, get32(t + 4));
}

/* An SDT: the signature matches, the length fits, the bytes sum to 0. */
static const u8 *sdt_at(const struct built *b, u64 gpa, const char *sig)
{
	const u8 *t = table_at(b, gpa, 36);

	CHECK(t != NULL);
	if (!t)
		return NULL;
	CHECK(memcmp(t, sig, 4) == 0);
	CHECK_EQ(sum(t, get32(t + 4)), 0);
	CHECK(memcmp(t + 10, "LKVM  ", 6) == 0);
	return t;
}

static const u8 *rsdp_of(const struct built *b)
{
	const u8 *r = span_at(b, b->rsdp, 36);

	CHECK(r != NULL);
	return r;
}

/* The table the XSDT lists under sig. */
static const u8 *find_table(const struct built *b, const char *sig)
{
	const u8 *xsdt = sdt_at(b, get64(rsdp_of(b) + 24), "XSDT");

	if (!xsdt)
		return NULL;
	for (u32 off = 36; off + 8 <= get32(xsdt + 4); off += 8) {
		const u8 *t = table_at(b, get64(xsdt + off), 36);

		if (t && !memcmp(t, sig, 4))
			return sdt_at(b, get64(xsdt + off), sig);
	}
	return NULL;
}

static const u8 *fadt_dsdt(const struct built *b)
{
	const u8 *fadt = find_table(b, "FACP");

	return fadt ? sdt_at(b, get64(fadt + 140), "DSDT") : NULL;
}

static void test_rsdp(void)
{
	struct acpi_config cfg = default_config();
	struct built b = build(&cfg);
	const u8 *r;

	CHECK(b.used > 0);
	CHECK_EQ(b.rsdp % 16, 0);
	r = rsdp_of(&b);
	if (!r)
		return;
	CHECK(memcmp(r, "RSD PTR ", 8) == 0);
	CHECK_EQ(sum(r, 20), 0);
	CHECK_EQ(sum(r, 36), 0);
	CHECK_EQ(r[15], 2);
	CHECK_EQ(get32(r + 20), 36);
	CHECK(memcmp(r + 9, "LKVM  ", 6) == 0);
}

static void test_root_tables(void)
{
	struct acpi_config cfg = default_config();
	struct built b = build(&cfg);
	const u8 *r = rsdp_of(&b);
	const u8 *xsdt, *rsdt;

	if (!r)
		return;
	xsdt = sdt_at(&b, get64(r + 24), "XSDT");
	rsdt = sdt_at(&b, get32(r + 16), "RSDT");
	if (!xsdt || !rsdt)
		return;
	CHECK_EQ(get32(xsdt + 4), 36 + 2 * 8);
	CHECK_EQ(get32(rsdt + 4), 36 + 2 * 4);
	for (int i = 0; i < 2; i++)
		CHECK_EQ(get64(xsdt + 36 + 8 * i), get32(rsdt + 36 + 4 * i));
	CHECK(find_table(&b, "FACP") != NULL);
	CHECK(find_table(&b, "APIC") != NULL);
}

static void test_fadt(void)
{
	struct acpi_config cfg = default_config();
	struct built b = build(&cfg);
	const u8 *f = find_table(&b, "FACP");
	const u8 *facs;
	u32 flags;

	if (!f)
		return;
	CHECK_EQ(get32(f + 4), 276);
	CHECK_EQ(f[8], 6);
	CHECK_EQ(get32(f + 40), get64(f + 140));	/* DSDT, X_DSDT */
	CHECK(fadt_dsdt(&b) != NULL);
	/* Exactly one of FIRMWARE_CTRL / X_FIRMWARE_CTRL. */
	CHECK_EQ(get64(f + 132), 0);
	CHECK_EQ(get32(f + 36) % 64, 0);
	facs = table_at(&b, get32(f + 36), 64);
	CHECK(facs != NULL);
	if (facs) {
		CHECK(memcmp(facs, "FACS", 4) == 0);
		CHECK_EQ(get32(facs + 4), 64);
	}
	CHECK_EQ(get16(f + 46), 9);			/* SCI_INT */
	CHECK_EQ(get32(f + 48), 0);			/* SMI_CMD */
	CHECK_EQ(get32(f + 56), 0x600 + ACPI_PM_EVT_OFF);
	CHECK_EQ(get32(f + 64), 0x600 + ACPI_PM_CNT_OFF);
	CHECK_EQ(get32(f + 76), 0x600 + ACPI_PM_TMR_OFF);
	CHECK_EQ(f[88], 4);
	CHECK_EQ(f[89], 2);
	CHECK_EQ(f[91], 4);
	/* X_ blocks: system I/O, same address, bit width = 8 * length. */
	static const struct { int x, legacy, len; } gas[] = {
		{ 148, 56, 4 }, { 172, 64, 2 }, { 208, 76, 4 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(gas); i++) {
		CHECK_EQ(f[gas[i].x], 1);
		CHECK_EQ(f[gas[i].x + 1], 8 * gas[i].len);
		CHECK_EQ(get64(f + gas[i].x + 4), get32(f + gas[i].legacy));
	}
	flags = get32(f + 112);
	CHECK(flags & (1u << 0));	/* WBINVD */
	CHECK(flags & (1u << 2));	/* PROC_C1 */
	CHECK(flags & (1u << 4));	/* PWR_BUTTON: none fixed */
	CHECK(flags & (1u << 5));	/* SLP_BUTTON: none fixed */
	CHECK(flags & (1u << 8));	/* TMR_VAL_EXT, as acpi-pm implements */
	CHECK(flags & (1u << 10));	/* RESET_REG_SUP */
	/* RESET_REG: one byte in system I/O, the i8042 command port. */
	CHECK_EQ(f[116], 1);
	CHECK_EQ(f[117], 8);
	CHECK_EQ(f[118], 0);
	CHECK_EQ(f[119], 1);
	CHECK_EQ(get64(f + 120), 0x64);
	CHECK_EQ(f[128], 0xfe);
	CHECK(!(flags & (1u << 20)));	/* not hardware-reduced */
	CHECK_EQ(get16(f + 109), 0x7);	/* legacy devices, 8042, no VGA */
}

/* Without a reset port the FADT claims no reset register. */
static void test_fadt_without_reset_reg(void)
{
	struct acpi_config cfg = default_config();
	struct built b;
	const u8 *f;

	cfg.reset_port = 0;
	b = build(&cfg);
	f = find_table(&b, "FACP");
	if (!f)
		return;
	CHECK(!(get32(f + 112) & (1u << 10)));
	CHECK_EQ(get64(f + 120), 0);
	CHECK_EQ(f[128], 0);
}

static void test_madt(void)
{
	struct acpi_config cfg = default_config();
	unsigned int ncpu = 0, nioapic = 0, niso = 0, nnmi = 0;
	struct built b;
	const u8 *m;
	u32 off, len;

	cfg.nr_cpus = 7;
	b = build(&cfg);
	m = find_table(&b, "APIC");
	if (!m)
		return;
	CHECK_EQ(get32(m + 36), 0xfee00000);
	CHECK_EQ(get32(m + 40) & 1, 1);		/* PCAT_COMPAT */
	len = get32(m + 4);
	for (off = 44; off + 2 <= len && m[off + 1] >= 2; off += m[off + 1]) {
		const u8 *e = m + off;

		switch (e[0]) {
		case 0:
			CHECK_EQ(e[1], 8);
			CHECK_EQ(e[3], ncpu);		/* APIC ids 0..n-1 */
			CHECK_EQ(get32(e + 4) & 1, 1);	/* enabled */
			ncpu++;
			break;
		case 1:
			CHECK_EQ(e[1], 12);
			CHECK_EQ(e[2], 4);
			CHECK_EQ(get32(e + 4), 0xfec00000);
			CHECK_EQ(get32(e + 8), 0);
			nioapic++;
			break;
		case 2:
			CHECK_EQ(e[1], 10);
			CHECK_EQ(e[3], 9);		/* the SCI, never IRQ 0 */
			CHECK_EQ(get32(e + 4), 9);
			CHECK_EQ(get16(e + 8), 0xd);	/* level, active high */
			niso++;
			break;
		case 4:
			CHECK_EQ(e[1], 6);
			CHECK_EQ(e[2], 0xff);
			CHECK_EQ(e[5], 1);		/* LINT1 */
			nnmi++;
			break;
		default:
			CHECK(0 && "unexpected MADT entry");
		}
	}
	CHECK_EQ(off, len);
	CHECK_EQ(ncpu, 7);
	CHECK_EQ(nioapic, 1);
	CHECK_EQ(niso, 1);
	CHECK_EQ(nnmi, 1);
}

/* AML PkgLength at p: the package's length and the size of the field. */
static u32 pkg_length(const u8 *p, unsigned int *field)
{
	unsigned int n = (p[0] >> 6) + 1;
	u32 len = n == 1 ? p[0] & 0x3f : p[0] & 0xf;

	for (unsigned int i = 1; i < n; i++)
		len |= (u32)p[i] << (4 + 8 * (i - 1));
	*field = n;
	return len;
}

static const u8 *memfind(const u8 *h, size_t hl, const void *n, size_t nl)
{
	for (size_t i = 0; i + nl <= hl; i++)
		if (!memcmp(h + i, n, nl))
			return h + i;
	return NULL;
}

/*
 * Walks the DSDT's top level: Name(_S5_, Package) and Scope(_SB_), whose
 * package must end exactly at the end of the table; returns _S5_'s SLP_TYP.
 */
static int check_dsdt_layout(const u8 *d)
{
	u32 len = get32(d + 4), off = 36, plen;
	unsigned int field;
	int slp_typ;

	CHECK(memcmp(d + off, "\x08_S5_\x12", 6) == 0);
	off += 6;
	plen = pkg_length(d + off, &field);
	CHECK_EQ(d[off + field], 4);			/* NumElements */
	CHECK_EQ(d[off + field + 1], 0x0a);		/* BytePrefix */
	slp_typ = d[off + field + 2];
	off += plen;
	if (off == len)
		return slp_typ;
	CHECK(memcmp(d + off, "\x10", 1) == 0);		/* ScopeOp */
	plen = pkg_length(d + off + 1, &field);
	CHECK(memcmp(d + off + 1 + field, "_SB_", 4) == 0);
	CHECK_EQ(off + 1 + plen, len);
	return slp_typ;
}

static void test_dsdt(void)
{
	struct acpi_config cfg = default_config();
	struct built b = build(&cfg);
	const u8 *d = fadt_dsdt(&b);
	u32 len;

	if (!d)
		return;
	len = get32(d + 4);
	CHECK_EQ(d[8], 2);
	CHECK_EQ(check_dsdt_layout(d), ACPI_PM_SLP_TYP_S5);
	CHECK(memfind(d, len, "PCI0", 4) != NULL);
	CHECK(memfind(d, len, "\x0c\x41\xd0\x0a\x03", 5) != NULL); /* PNP0A03 */
	CHECK(memfind(d, len, "QEMU0001", 9) != NULL);
	/* IO(Decode16, 0x505, 0x505, 1, 1) */
	CHECK(memfind(d, len, "\x47\x01\x05\x05\x05\x05\x01\x01", 8) != NULL);
	CHECK(memfind(d, len, "_PRT", 4) == NULL);

	cfg.pci_mmio_size = 0;
	cfg.pvpanic_port = 0;
	b = build(&cfg);
	d = fadt_dsdt(&b);
	if (!d)
		return;
	len = get32(d + 4);
	CHECK_EQ(check_dsdt_layout(d), ACPI_PM_SLP_TYP_S5);
	CHECK(memfind(d, len, "PCI0", 4) == NULL);
	CHECK(memfind(d, len, "QEMU0001", 8) == NULL);
}

static const struct acpi_mmio_dev mmio_devs[] = {
	{ .base = 0xfe800000, .size = 0x200, .gsi = 5 },
	{ .base = 0xfe800200, .size = 0x200, .gsi = 6 },
};

/* virtio-mmio devices: LNRO0005 with Memory32Fixed + Interrupt in _CRS. */
static void test_dsdt_virtio_mmio(void)
{
	struct acpi_config cfg = default_config();
	struct built b;
	const u8 *d;
	u32 len;

	cfg.mmio_devs = mmio_devs;
	cfg.nr_mmio_devs = 2;
	b = build(&cfg);
	d = fadt_dsdt(&b);
	if (!d)
		return;
	len = get32(d + 4);
	CHECK_EQ(check_dsdt_layout(d), ACPI_PM_SLP_TYP_S5);
	CHECK(memfind(d, len, "VR00", 4) != NULL);
	CHECK(memfind(d, len, "VR01", 4) != NULL);
	CHECK(memfind(d, len, "LNRO0005", 9) != NULL);
	/* Memory32Fixed(ReadWrite, 0xfe800200, 0x200) */
	CHECK(memfind(d, len, "\x86\x09\x00\x01\x00\x02\x80\xfe\x00\x02\x00\x00", 12) != NULL);
	/* Interrupt(ResourceConsumer, Level, ActiveHigh, Shared) { 6 } */
	CHECK(memfind(d, len, "\x89\x06\x00\x09\x01\x06\x00\x00\x00", 9) != NULL);

	cfg.nr_mmio_devs = ACPI_MAX_MMIO_DEVS + 1;
	CHECK_EQ(acpi_build_tables(area, sizeof(area), 0xe0000, &cfg, &(u64){ 0 }), -EINVAL);
}

/* A _PRT big enough to need two-byte package lengths. */
static void test_dsdt_long_packages(void)
{
	struct acpi_config cfg = default_config();
	struct built b;
	const u8 *d, *prt;

	for (int s = 0; s < ACPI_PCI_SLOTS; s++)
		cfg.pci_slot_gsi[s] = (u8)(16 + s % 8);
	b = build(&cfg);
	d = fadt_dsdt(&b);
	if (!d)
		return;
	CHECK_EQ(check_dsdt_layout(d), ACPI_PM_SLP_TYP_S5);
	prt = memfind(d, get32(d + 4), "_PRT\x12", 5);
	CHECK(prt != NULL);
	if (prt)
		CHECK_EQ(prt[5] >> 6, 1);	/* one extra PkgLength byte */
	/* Slot 31, INTD (pin 3) -> GSI 16 + 31 % 8 */
	CHECK(memfind(d, get32(d + 4),
		      "\x12\x0c\x04\x0c\xff\xff\x1f\x00\x0a\x03\x00\x0a\x17",
		      13) != NULL);
}

static void test_alignment(void)
{
	struct acpi_config cfg = default_config();
	struct built b = build_at(&cfg, TABLES_GPA + 4);
	const u8 *f;

	CHECK(b.used > 0);
	CHECK_EQ(b.rsdp % 16, 0);
	f = find_table(&b, "FACP");
	if (f)
		CHECK_EQ(get32(f + 36) % 64, 0);
}

static void test_too_small(void)
{
	struct acpi_config cfg = default_config();
	struct built b = build(&cfg);
	size_t need = (size_t)b.used;
	u64 rsdp;

	CHECK(b.used > 0);
	CHECK_EQ(acpi_build_tables(area, 0, TABLES_GPA, &cfg, &rsdp), -ENOSPC);
	CHECK_EQ(acpi_build_tables(area, 36, TABLES_GPA, &cfg, &rsdp), -ENOSPC);
	CHECK_EQ(acpi_build_tables(area, 200, TABLES_GPA, &cfg, &rsdp), -ENOSPC);
	CHECK_EQ(acpi_build_tables(area, need - 1, TABLES_GPA, &cfg, &rsdp),
		 -ENOSPC);
	CHECK_EQ(acpi_build_tables(area, need, TABLES_GPA, &cfg, &rsdp),
		 (ssize_t)need);
}

static void test_bad_config(void)
{
	struct acpi_config cfg = default_config();
	u64 rsdp;

	cfg.nr_cpus = 0;
	CHECK_EQ(acpi_build_tables(area, sizeof(area), TABLES_GPA, &cfg, &rsdp),
		 -EINVAL);
	cfg = default_config();
	cfg.pci_mmio_base = 0xf0000000;
	cfg.pci_mmio_size = 0x20000000;		/* crosses 4 GiB */
	CHECK_EQ(acpi_build_tables(area, sizeof(area), TABLES_GPA, &cfg, &rsdp),
		 -EINVAL);
}

/* ---- iasl ---------------------------------------------------------------- */

static bool have_iasl(void)
{
	return system("command -v iasl >/dev/null 2>&1") == 0;
}

static bool write_file(const char *dir, const char *name, const u8 *p,
		       size_t len)
{
	char path[256];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return false;
	ok = fwrite(p, 1, len, f) == len;
	return fclose(f) == 0 && ok;
}

static u8 *read_file(const char *dir, const char *name, size_t *len)
{
	static u8 data[65536];
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	*len = fread(data, 1, sizeof(data), f);
	fclose(f);
	return data;
}

/* Any line of iasl's output or listing that signals a problem. */
static bool file_has_complaint(const char *dir, const char *name)
{
	static const char *const bad[] = {
		"error", "warning", "incorrect", "invalid", "unknown",
	};
	size_t len;
	u8 *text = read_file(dir, name, &len);

	if (!text)
		return true;
	for (size_t i = 0; i < len; i++)
		text[i] = (u8)(text[i] >= 'A' && text[i] <= 'Z' ? text[i] + 32 : text[i]);
	/* The compiler's summary names "0 errors, 0 warnings": not a hit. */
	for (u8 *ok; (ok = (u8 *)memfind(text, len, "0 errors, 0 warnings", 20));)
		memset(ok, ' ', 20);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (memfind(text, len, bad[i], strlen(bad[i]))) {
			fprintf(stderr, "  iasl on %s: \"%s\"\n", name, bad[i]);
			return true;
		}
	}
	return false;
}

static bool run_iasl(const char *dir, const char *args, const char *log)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cd %s && iasl %s >%s 2>&1", dir, args, log);
	return system(cmd) == 0;
}

static void iasl_check_table(const char *dir, const u8 *t, const char *base)
{
	char dat[32], dsl[32], log[32], args[64];

	snprintf(dat, sizeof(dat), "%s.dat", base);
	snprintf(dsl, sizeof(dsl), "%s.dsl", base);
	snprintf(log, sizeof(log), "%s.log", base);
	snprintf(args, sizeof(args), "-d %s", dat);
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK(write_file(dir, dat, t, get32(t + 4)));
	CHECK(run_iasl(dir, args, log));
	CHECK(!file_has_complaint(dir, log));
	CHECK(!file_has_complaint(dir, dsl));
}

/* Disassemble, recompile: iasl's AML must be ours, byte for byte. */
static void iasl_roundtrip_dsdt(const char *dir, const u8 *d)
{
	size_t len;
	u8 *aml;

	if (!d)
		return;
	CHECK(run_iasl(dir, "dsdt.dsl", "dsdt-compile.log"));
	CHECK(!file_has_complaint(dir, "dsdt-compile.log"));
	aml = read_file(dir, "dsdt.aml", &len);
	CHECK(aml != NULL);
	if (!aml)
		return;
	CHECK_EQ(len, get32(d + 4));
	CHECK(len == get32(d + 4) && !memcmp(aml + 36, d + 36, len - 36));
}

static void iasl_check_config(const struct acpi_config *cfg)
{
	char dir[] = "/tmp/lkvm-test-acpi-XXXXXX";
	struct built b = build(cfg);
	const u8 *r = rsdp_of(&b), *f = find_table(&b, "FACP");
	char cmd[64];

	if (!r || !f || !mkdtemp(dir)) {
		CHECK(0 && "cannot set up the iasl check");
		return;
	}
	/* iasl does not disassemble a bare RSDP; test_rsdp covers it. */
	iasl_check_table(dir, sdt_at(&b, get64(r + 24), "XSDT"), "xsdt");
	iasl_check_table(dir, sdt_at(&b, get32(r + 16), "RSDT"), "rsdt");
	iasl_check_table(dir, f, "facp");
	iasl_check_table(dir, find_table(&b, "APIC"), "apic");
	iasl_check_table(dir, table_at(&b, get32(f + 36), 64), "facs");
	iasl_check_table(dir, fadt_dsdt(&b), "dsdt");
	iasl_roundtrip_dsdt(dir, fadt_dsdt(&b));
	if (!unit_case_failed) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK(system(cmd) == 0);
	} else {
		fprintf(stderr, "  iasl files kept in %s\n", dir);
	}
}

static void test_iasl(void)
{
	struct acpi_config cfg = default_config();

	iasl_check_config(&cfg);
	for (int s = 0; s < ACPI_PCI_SLOTS; s++)
		cfg.pci_slot_gsi[s] = (u8)(16 + s % 4);
	cfg.pvpanic_port = 0;
	cfg.nr_cpus = 64;
	iasl_check_config(&cfg);
	cfg.mmio_devs = mmio_devs;
	cfg.nr_mmio_devs = 2;
	iasl_check_config(&cfg);
}

/* ---- PM registers ------------------------------------------------------- */

static int poweroffs;

static void count_poweroff(void *opaque)
{
	poweroffs++;
}

static u64 pm_read(struct acpi_pm *pm, u64 off, u32 len, u64 now)
{
	u8 data[4] = { 0 };

	acpi_pm_access(pm, off, data, len, false, now);
	return get32(data) & (len == 4 ? 0xffffffffu : (1u << (8 * len)) - 1);
}

static void pm_write(struct acpi_pm *pm, u64 off, u32 len, u32 val)
{
	u8 data[4];

	data[0] = (u8)val;
	data[1] = (u8)(val >> 8);
	data[2] = (u8)(val >> 16);
	data[3] = (u8)(val >> 24);
	acpi_pm_access(pm, off, data, len, true, 0);
}

#define S5_CNT ((ACPI_PM_SLP_TYP_S5 << ACPI_PM1_CNT_SLP_TYP_SHIFT))

static void test_pm_poweroff(void)
{
	struct acpi_pm pm;

	poweroffs = 0;
	acpi_pm_init(&pm, 0, count_poweroff, NULL);
	CHECK_EQ(pm_read(&pm, ACPI_PM_CNT_OFF, 2, 0) & ACPI_PM1_CNT_SCI_EN, 1);
	/* Linux writes SLP_TYP first, then SLP_TYP | SLP_EN. */
	pm_write(&pm, ACPI_PM_CNT_OFF, 2, S5_CNT);
	CHECK_EQ(poweroffs, 0);
	CHECK_EQ(pm_read(&pm, ACPI_PM_CNT_OFF, 2, 0),
		 S5_CNT | ACPI_PM1_CNT_SCI_EN);
	pm_write(&pm, ACPI_PM_CNT_OFF, 2, S5_CNT | ACPI_PM1_CNT_SLP_EN);
	CHECK_EQ(poweroffs, 1);
	/* SLP_EN is write-only. */
	CHECK_EQ(pm_read(&pm, ACPI_PM_CNT_OFF, 2, 0) & ACPI_PM1_CNT_SLP_EN, 0);
	/* A byte write of the high half alone carries SLP_TYP and SLP_EN. */
	pm_write(&pm, ACPI_PM_CNT_OFF + 1, 1,
		 (S5_CNT | ACPI_PM1_CNT_SLP_EN) >> 8);
	CHECK_EQ(poweroffs, 2);
	/* So does a 32-bit write to the whole event+control area. */
	pm_write(&pm, ACPI_PM_CNT_OFF, 4, S5_CNT | ACPI_PM1_CNT_SLP_EN);
	CHECK_EQ(poweroffs, 3);
}

static void test_pm_other_sleep_types(void)
{
	struct acpi_pm pm;

	poweroffs = 0;
	acpi_pm_init(&pm, 0, count_poweroff, NULL);
	for (u32 typ = 0; typ < 8; typ++) {
		if (typ == ACPI_PM_SLP_TYP_S5)
			continue;
		pm_write(&pm, ACPI_PM_CNT_OFF, 2,
			 typ << ACPI_PM1_CNT_SLP_TYP_SHIFT | ACPI_PM1_CNT_SLP_EN);
	}
	CHECK_EQ(poweroffs, 0);
	/* An ignored sleep "wakes" at once; WAK_STS is write-1-to-clear. */
	CHECK(pm_read(&pm, ACPI_PM_EVT_OFF, 2, 0) & ACPI_PM1_WAK);
	pm_write(&pm, ACPI_PM_EVT_OFF, 2, 0);
	CHECK(pm_read(&pm, ACPI_PM_EVT_OFF, 2, 0) & ACPI_PM1_WAK);
	pm_write(&pm, ACPI_PM_EVT_OFF, 2, ACPI_PM1_WAK);
	CHECK_EQ(pm_read(&pm, ACPI_PM_EVT_OFF, 2, 0), 0);
}

static void test_pm_enable_and_bounds(void)
{
	struct acpi_pm pm;
	u8 data[4] = { 0x12, 0x34, 0x56, 0x78 };

	acpi_pm_init(&pm, 0, NULL, NULL);
	pm_write(&pm, ACPI_PM_EVT_OFF + 2, 2, 0xffff);
	CHECK_EQ(pm_read(&pm, ACPI_PM_EVT_OFF + 2, 2, 0),
		 ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN |
		 ACPI_PM1_SLPBTN | ACPI_PM1_RTC);
	/* The gap between control and timer reads as nothing there. */
	CHECK_EQ(pm_read(&pm, ACPI_PM_CNT_OFF + 2, 2, 0), 0xffff);
	/* Past the block: ignored, the buffer is not touched. */
	acpi_pm_access(&pm, ACPI_PM_BLOCK_LEN, data, 4, false, 0);
	CHECK_EQ(get32(data), 0x78563412);
	/* A read crossing the end fills only the bytes inside. */
	acpi_pm_access(&pm, ACPI_PM_BLOCK_LEN - 1, data, 4, false, 0);
	CHECK_EQ(data[1], 0x34);
}

static void test_pm_timer(void)
{
	struct acpi_pm pm;
	const u64 origin = 5000000000ULL;

	acpi_pm_init(&pm, origin, NULL, NULL);
	CHECK_EQ(pm_read(&pm, ACPI_PM_TMR_OFF, 4, origin), 0);
	CHECK_EQ(pm_read(&pm, ACPI_PM_TMR_OFF, 4, origin + 1000000000ULL),
		 3579545);
	CHECK_EQ(pm_read(&pm, ACPI_PM_TMR_OFF, 4, origin + 1000ULL), 3);
	/* 32 bits wide, as the FADT's TMR_VAL_EXT says: wraps after ~20 min. */
	CHECK_EQ(pm_read(&pm, ACPI_PM_TMR_OFF, 4, origin + 2000000000000ULL),
		 (u32)(3579545ULL * 2000));
	/* Byte reads see the same counter. */
	CHECK_EQ(pm_read(&pm, ACPI_PM_TMR_OFF + 1, 1, origin + 1000000000ULL),
		 (3579545 >> 8) & 0xff);
	/* Read-only. */
	pm_write(&pm, ACPI_PM_TMR_OFF, 4, 0);
	CHECK_EQ(pm_read(&pm, ACPI_PM_TMR_OFF, 4, origin + 1000000000ULL),
		 3579545);
}

static void test_pm_timer_real_clock(void)
{
	struct acpi_pm pm;
	struct timespec pause = { .tv_nsec = 100000000 };
	u64 t0, t1, ns0, ns1;
	double rate;

	acpi_pm_init(&pm, acpi_pm_now_ns(), NULL, NULL);
	ns0 = acpi_pm_now_ns();
	t0 = pm_read(&pm, ACPI_PM_TMR_OFF, 4, ns0);
	nanosleep(&pause, NULL);
	ns1 = acpi_pm_now_ns();
	t1 = pm_read(&pm, ACPI_PM_TMR_OFF, 4, ns1);
	rate = (double)(u32)(t1 - t0) * 1e9 / (double)(ns1 - ns0);
	CHECK(rate > 3579545 * 0.999 && rate < 3579545 * 1.001);
	CHECK(t1 - t0 > 300000);	/* really about 0.1 s worth */
}

/* ---- pvpanic ------------------------------------------------------------ */

static int panics;

static void count_panic(void *opaque)
{
	panics++;
}

static void test_pvpanic(void)
{
	struct pvpanic p;
	u8 v = 0;

	panics = 0;
	pvpanic_init(&p, count_panic, NULL);
	pvpanic_access(&p, 0, &v, 1, false);
	CHECK_EQ(v, PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);
	v = 0;
	pvpanic_access(&p, 0, &v, 1, true);
	CHECK_EQ(panics, 0);
	v = PVPANIC_CRASH_LOADED;
	pvpanic_access(&p, 0, &v, 1, true);
	CHECK_EQ(panics, 0);
	v = PVPANIC_PANICKED;
	pvpanic_access(&p, 0, &v, 1, true);
	CHECK_EQ(panics, 1);
	/* Reported once: a guest that keeps writing does not flood. */
	pvpanic_access(&p, 0, &v, 1, true);
	CHECK_EQ(panics, 1);
}

int main(void)
{
	RUN(test_rsdp);
	RUN(test_root_tables);
	RUN(test_dsdt_virtio_mmio);
	RUN(test_fadt);
	RUN(test_fadt_without_reset_reg);
	RUN(test_madt);
	RUN(test_dsdt);
	RUN(test_dsdt_long_packages);
	RUN(test_alignment);
	RUN(test_too_small);
	RUN(test_bad_config);
	if (have_iasl())
		RUN(test_iasl);
	else
		printf("SKIP: test_iasl: iasl not installed, tables not "
		       "disassembled (apt-get install acpica-tools)\n");
	RUN(test_pm_poweroff);
	RUN(test_pm_other_sleep_types);
	RUN(test_pm_enable_and_bounds);
	RUN(test_pm_timer);
	RUN(test_pm_timer_real_clock);
	RUN(test_pvpanic);
	return unit_summary();
}
