/*
 * ACPI fixed-hardware power-management registers (PM1a event/control and
 * the PM timer), the part of "ACPI hardware" an OS needs to power off.
 *
 * The guest may access the block with any width at any offset, so the
 * registers are modelled byte by byte.  No SCI is ever raised: nothing
 * here sets a status bit the guest could enable an interrupt for, except
 * WAK_STS after an ignored sleep request so a guest polling for wake-up
 * does not spin forever.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "lkvm/kvm.h"
#include "lkvm/log.h"
#include "x86/acpi-pm.h"

#define PM1_CNT_KEPT (ACPI_PM1_CNT_BM_RLD | ACPI_PM1_CNT_SLP_TYP)
#define PM1_EN_BITS (ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | \
		     ACPI_PM1_SLPBTN | ACPI_PM1_RTC)

u64 acpi_pm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

u32 acpi_pm_timer_ticks(u64 elapsed_ns)
{
	/* 128-bit product: elapsed_ns * 3.58e6 overflows 64 bits after ~85 min. */
	return (u32)((unsigned __int128)elapsed_ns * ACPI_PM_TMR_HZ /
		     1000000000ULL);
}

void acpi_pm_init(struct acpi_pm *pm, u64 now_ns,
		  void (*poweroff)(void *opaque), void *opaque)
{
	pthread_mutex_init(&pm->lock, NULL);
	pm->sts = 0;
	pm->en = 0;
	pm->cnt = 0;
	pm->origin_ns = now_ns;
	pm->warned_sleep = false;
	pm->poweroff = poweroff;
	pm->opaque = opaque;
}

static u8 byte_of(u32 v, unsigned int i)
{
	return (u8)(v >> (8 * i));
}

static u8 pm_read_byte(struct acpi_pm *pm, u64 off, u32 timer)
{
	if (off < ACPI_PM_EVT_OFF + 2)
		return byte_of(pm->sts, off - ACPI_PM_EVT_OFF);
	if (off < ACPI_PM_EVT_OFF + ACPI_PM_EVT_LEN)
		return byte_of(pm->en, off - ACPI_PM_EVT_OFF - 2);
	if (off >= ACPI_PM_CNT_OFF && off < ACPI_PM_CNT_OFF + ACPI_PM_CNT_LEN)
		/* ACPI mode is always on: there is no SMI_CMD to switch it. */
		return byte_of(pm->cnt | ACPI_PM1_CNT_SCI_EN,
			       off - ACPI_PM_CNT_OFF);
	if (off >= ACPI_PM_TMR_OFF && off < ACPI_PM_TMR_OFF + ACPI_PM_TMR_LEN)
		return byte_of(timer, off - ACPI_PM_TMR_OFF);
	return 0xff;
}

static void set_byte(u16 *reg, unsigned int i, u8 v)
{
	*reg = (u16)((*reg & ~(0xffu << (8 * i))) | ((u32)v << (8 * i)));
}

/* Returns true if the access touched PM1_CNT (new value in *cnt). */
static bool pm_write_byte(struct acpi_pm *pm, u64 off, u8 v, u16 *cnt)
{
	if (off < ACPI_PM_EVT_OFF + 2) {
		pm->sts &= (u16)~((u32)v << (8 * (off - ACPI_PM_EVT_OFF)));
	} else if (off < ACPI_PM_EVT_OFF + ACPI_PM_EVT_LEN) {
		set_byte(&pm->en, off - ACPI_PM_EVT_OFF - 2, v);
		pm->en &= PM1_EN_BITS;
	} else if (off >= ACPI_PM_CNT_OFF &&
		   off < ACPI_PM_CNT_OFF + ACPI_PM_CNT_LEN) {
		set_byte(cnt, off - ACPI_PM_CNT_OFF, v);
		return true;
	}
	return false;	/* the timer and the gap are read-only */
}

/* Returns true if the guest asked for S5. */
static bool pm_write_cnt(struct acpi_pm *pm, u16 val)
{
	unsigned int typ;

	pm->cnt = val & PM1_CNT_KEPT;
	if (!(val & ACPI_PM1_CNT_SLP_EN))
		return false;
	typ = (val & ACPI_PM1_CNT_SLP_TYP) >> ACPI_PM1_CNT_SLP_TYP_SHIFT;
	if (typ == ACPI_PM_SLP_TYP_S5)
		return true;
	if (!pm->warned_sleep) {
		pr_warn("acpi: guest requested unsupported sleep type %u; ignored",
			typ);
		pm->warned_sleep = true;
	}
	/* "Wake up" at once so a guest waiting for WAK_STS carries on. */
	pm->sts |= ACPI_PM1_WAK;
	return false;
}

void acpi_pm_access(struct acpi_pm *pm, u64 offset, u8 *data, u32 len,
		    bool is_write, u64 now_ns)
{
	bool cnt_written = false, poweroff = false;
	u32 timer = 0;
	u16 cnt;

	if (offset >= ACPI_PM_BLOCK_LEN)
		return;
	len = (u32)MIN((u64)len, ACPI_PM_BLOCK_LEN - offset);

	pthread_mutex_lock(&pm->lock);
	cnt = pm->cnt;
	if (!is_write)
		timer = acpi_pm_timer_ticks(now_ns - pm->origin_ns);
	for (u32 i = 0; i < len; i++) {
		if (is_write)
			cnt_written |= pm_write_byte(pm, offset + i, data[i], &cnt);
		else
			data[i] = pm_read_byte(pm, offset + i, timer);
	}
	if (cnt_written)
		poweroff = pm_write_cnt(pm, cnt);
	pthread_mutex_unlock(&pm->lock);

	if (poweroff && pm->poweroff)
		pm->poweroff(pm->opaque);
}

static void acpi_pm_bus_handler(void *opaque, u64 offset, u8 *data, u32 len,
				bool is_write)
{
	acpi_pm_access(opaque, offset, data, len, is_write, acpi_pm_now_ns());
}

static void acpi_pm_poweroff(void *opaque)
{
	pr_debug("acpi: guest requested S5 (soft off)");
	kvm_request_stop(opaque, VM_STOP_POWEROFF);
}

int acpi_pm_register(struct kvm *kvm, u16 base)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	int ret;

	if (!pm)
		return -ENOMEM;
	acpi_pm_init(pm, acpi_pm_now_ns(), acpi_pm_poweroff, kvm);
	/* The device lives as long as the VM: freed only on failure. */
	ret = bus_register(&kvm->pio_bus, base, ACPI_PM_BLOCK_LEN,
			   acpi_pm_bus_handler, pm, "acpi-pm");
	if (ret < 0) {
		pthread_mutex_destroy(&pm->lock);
		free(pm);
	}
	return ret;
}
