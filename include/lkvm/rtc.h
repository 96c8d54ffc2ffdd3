#ifndef LKVM_RTC_H
#define LKVM_RTC_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>
#include "lkvm/compiler.h"

struct kvm;

/*
 * The PC's CMOS RTC (MC146818-style) behind ports 0x70 (index; bit 7 is
 * the NMI mask, stored but ignored) and 0x71 (data).  128 bytes of CMOS;
 * the time registers are computed from the host clock (UTC) at each read,
 * plus an offset the guest creates by setting the clock.  No interrupts
 * are generated (IRQ 8 stays low); register C reports the update-ended
 * flag to guests that poll it.
 */
#define RTC_INDEX_PORT	0x70
#define RTC_NR_PORTS	2
#define RTC_CMOS_SIZE	128

/* Register indexes. */
#define RTC_SECONDS	0x00
#define RTC_MINUTES	0x02
#define RTC_HOURS	0x04
#define RTC_WEEKDAY	0x06
#define RTC_DAY		0x07
#define RTC_MONTH	0x08
#define RTC_YEAR	0x09
#define RTC_REG_A	0x0a
#define RTC_REG_B	0x0b
#define RTC_REG_C	0x0c
#define RTC_REG_D	0x0d
#define RTC_CENTURY	0x32

#define RTC_A_UIP	0x80
#define RTC_B_SET	0x80
#define RTC_B_DM_BINARY	0x04
#define RTC_B_24H	0x02
#define RTC_C_UF	0x10
#define RTC_D_VRT	0x80

struct rtc {
	pthread_mutex_t lock;
	u8 index;
	bool nmi_masked;
	u8 cmos[RTC_CMOS_SIZE];
	time_t offset;		/* guest's clock minus the host's, seconds */
	struct tm frozen;	/* the clock being set while B.SET is 1 */
	time_t last_c_read;	/* guest second of the last register C read */
	/* Host UTC clock; tests may replace it after rtc_init(). */
	void (*clock)(struct timespec *ts);
};

void rtc_init(struct rtc *rtc);
/* Bus handler (opaque = the rtc): offset 0 index, 1 data. */
void rtc_io(void *opaque, u64 offset, u8 *data, u32 len, bool is_write);
/* Preset a plain CMOS byte for firmware (not the clock registers). */
void rtc_cmos_set(struct rtc *rtc, u8 index, u8 value);
/* rtc_init() and put it on kvm->pio_bus at 0x70-0x71; 0 or -errno. */
int rtc_register(struct kvm *kvm, struct rtc *rtc);

#endif
