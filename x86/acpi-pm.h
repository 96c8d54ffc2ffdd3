#ifndef LKVM_X86_ACPI_PM_H
#define LKVM_X86_ACPI_PM_H

#include <stdbool.h>
#include <pthread.h>
#include "lkvm/compiler.h"

struct kvm;

/*
 * The ACPI fixed-hardware PM registers on port I/O, as one block:
 *   base+0  PM1a_EVT_BLK  PM1_STS (2 bytes) then PM1_EN (2 bytes)
 *   base+4  PM1a_CNT_BLK  PM1_CNT (2 bytes)
 *   base+8  PM_TMR_BLK    32-bit free-running 3.579545 MHz counter
 * The FADT built by acpi.c describes exactly this layout.
 */
#define ACPI_PM_EVT_OFF		0
#define ACPI_PM_EVT_LEN		4
#define ACPI_PM_CNT_OFF		4
#define ACPI_PM_CNT_LEN		2
#define ACPI_PM_TMR_OFF		8
#define ACPI_PM_TMR_LEN		4
#define ACPI_PM_BLOCK_LEN	12

#define ACPI_PM_TMR_HZ		3579545ULL

/* PM1_STS / PM1_EN bits. */
#define ACPI_PM1_TMR		(1u << 0)
#define ACPI_PM1_GBL		(1u << 5)
#define ACPI_PM1_PWRBTN		(1u << 8)
#define ACPI_PM1_SLPBTN		(1u << 9)
#define ACPI_PM1_RTC		(1u << 10)
#define ACPI_PM1_WAK		(1u << 15)	/* status only */

/* PM1_CNT bits. */
#define ACPI_PM1_CNT_SCI_EN	(1u << 0)
#define ACPI_PM1_CNT_BM_RLD	(1u << 1)
#define ACPI_PM1_CNT_GBL_RLS	(1u << 2)
#define ACPI_PM1_CNT_SLP_TYP_SHIFT 10
#define ACPI_PM1_CNT_SLP_TYP	(7u << ACPI_PM1_CNT_SLP_TYP_SHIFT)
#define ACPI_PM1_CNT_SLP_EN	(1u << 13)

/* The SLP_TYP value the DSDT's \_S5_ package announces for soft-off. */
#define ACPI_PM_SLP_TYP_S5	5

/*
 * Register state, free of KVM so it can be unit-tested.  poweroff() is
 * called (with the lock held, at most once per request) when the guest
 * asks for S5.
 */
struct acpi_pm {
	pthread_mutex_t lock;
	u16 sts;
	u16 en;
	u16 cnt;		/* only BM_RLD and SLP_TYP are kept */
	u64 origin_ns;		/* CLOCK_MONOTONIC time the timer read 0 */
	bool warned_sleep;
	void (*poweroff)(void *opaque);
	void *opaque;
};

void acpi_pm_init(struct acpi_pm *pm, u64 now_ns,
		  void (*poweroff)(void *opaque), void *opaque);
/* One guest access to the block; offset is relative to its base. */
void acpi_pm_access(struct acpi_pm *pm, u64 offset, u8 *data, u32 len,
		    bool is_write, u64 now_ns);
/* PM_TMR value (32 bits) after elapsed_ns of running. */
u32 acpi_pm_timer_ticks(u64 elapsed_ns);
u64 acpi_pm_now_ns(void);

/* Create the device and put it on kvm->pio_bus at base; 0 or -errno. */
int acpi_pm_register(struct kvm *kvm, u16 base);

#endif
