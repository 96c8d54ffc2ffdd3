/*
 * CMOS RTC model: the time a guest reads through ports 0x70/0x71 against
 * the host clock, data modes, status registers, setting the clock, and
 * index masking.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "lkvm/kvm.h"
#include "lkvm/rtc.h"
#include "../unit.h"

/* Weak stand-in so the glue links without kvm.o and can be checked. */
static struct {
	u64 base, len;
	bus_handler_fn fn;
	void *opaque;
} bus_seen;

__attribute__((weak)) int bus_register(struct bus *bus, u64 base, u64 len,
				       bus_handler_fn fn, void *opaque,
				       const char *name)
{
	bus_seen.base = base;
	bus_seen.len = len;
	bus_seen.fn = fn;
	bus_seen.opaque = opaque;
	return 0;
}

static struct rtc rtc;
static struct timespec fake_now;

static void fake_clock(struct timespec *ts)
{
	*ts = fake_now;
}

/* 2024-02-29 13:05:09 UTC, a Thursday. */
static void use_fake_clock(void)
{
	struct tm tm = { .tm_year = 124, .tm_mon = 1, .tm_mday = 29,
			 .tm_hour = 13, .tm_min = 5, .tm_sec = 9 };

	fake_now.tv_sec = timegm(&tm);
	fake_now.tv_nsec = 0;
	rtc.clock = fake_clock;
}

static u8 cmos_read(u8 idx)
{
	u8 v = idx | 0x80;	/* NMI disabled, as Linux does */

	rtc_io(&rtc, 0, &v, 1, true);
	v = 0x5a;
	rtc_io(&rtc, 1, &v, 1, false);
	return v;
}

static void cmos_write(u8 idx, u8 val)
{
	rtc_io(&rtc, 0, &idx, 1, true);
	rtc_io(&rtc, 1, &val, 1, true);
}

static int bcd(u8 v)
{
	return (v >> 4) * 10 + (v & 0xf);
}

static bool is_bcd(u8 v)
{
	return (v >> 4) <= 9 && (v & 0xf) <= 9;
}

/* Read the clock the way a guest does: retry if the second moved. */
static time_t read_guest_time(bool binary, bool *all_bcd)
{
	int (*dec)(u8) = binary ? NULL : bcd;
	u8 r[7];
	struct tm tm = { 0 };

	do {
		r[0] = cmos_read(RTC_SECONDS);
		r[1] = cmos_read(RTC_MINUTES);
		r[2] = cmos_read(RTC_HOURS);
		r[3] = cmos_read(RTC_DAY);
		r[4] = cmos_read(RTC_MONTH);
		r[5] = cmos_read(RTC_YEAR);
		r[6] = cmos_read(RTC_CENTURY);
	} while (r[0] != cmos_read(RTC_SECONDS));
	if (all_bcd) {
		*all_bcd = true;
		for (int i = 0; i < 7; i++)
			*all_bcd = *all_bcd && is_bcd(r[i]);
	}
	tm.tm_sec = dec ? dec(r[0]) : r[0];
	tm.tm_min = dec ? dec(r[1]) : r[1];
	tm.tm_hour = dec ? dec(r[2]) : r[2];
	tm.tm_mday = dec ? dec(r[3]) : r[3];
	tm.tm_mon = (dec ? dec(r[4]) : r[4]) - 1;
	tm.tm_year = (dec ? dec(r[6]) : r[6]) * 100 + (dec ? dec(r[5]) : r[5]) - 1900;
	return timegm(&tm);
}

static void test_host_time_bcd(void)
{
	bool all_bcd;
	time_t t;

	rtc_init(&rtc);
	CHECK_EQ(cmos_read(RTC_REG_B), 0x02);
	t = read_guest_time(false, &all_bcd);
	CHECK(all_bcd);
	CHECK(llabs((long long)(t - time(NULL))) <= 2);
}

static void test_host_time_binary(void)
{
	time_t t;

	rtc_init(&rtc);
	cmos_write(RTC_REG_B, 0x06);
	CHECK_EQ(cmos_read(RTC_REG_B), 0x06);
	t = read_guest_time(true, NULL);
	CHECK(llabs((long long)(t - time(NULL))) <= 2);
}

static void test_fields_and_weekday(void)
{
	rtc_init(&rtc);
	use_fake_clock();
	CHECK_EQ(cmos_read(RTC_SECONDS), 0x09);
	CHECK_EQ(cmos_read(RTC_MINUTES), 0x05);
	CHECK_EQ(cmos_read(RTC_HOURS), 0x13);
	CHECK_EQ(cmos_read(RTC_WEEKDAY), 5);	/* Sunday = 1 */
	CHECK_EQ(cmos_read(RTC_DAY), 0x29);
	CHECK_EQ(cmos_read(RTC_MONTH), 0x02);
	CHECK_EQ(cmos_read(RTC_YEAR), 0x24);
	CHECK_EQ(cmos_read(RTC_CENTURY), 0x20);

	cmos_write(RTC_REG_B, 0x06);		/* binary */
	CHECK_EQ(cmos_read(RTC_DAY), 29);
	CHECK_EQ(cmos_read(RTC_YEAR), 24);
	CHECK_EQ(cmos_read(RTC_CENTURY), 20);
}

static void test_12_hour_mode(void)
{
	rtc_init(&rtc);
	use_fake_clock();
	cmos_write(RTC_REG_B, 0x00);		/* BCD, 12-hour */
	CHECK_EQ(cmos_read(RTC_HOURS), 0x81);	/* 1 PM */
	fake_now.tv_sec -= 13 * 3600;		/* 00:05 */
	CHECK_EQ(cmos_read(RTC_HOURS), 0x12);	/* 12 AM */
	fake_now.tv_sec += 12 * 3600;		/* 12:05 */
	CHECK_EQ(cmos_read(RTC_HOURS), 0x92);	/* 12 PM */
	fake_now.tv_sec += 11 * 3600;		/* 23:05 */
	cmos_write(RTC_REG_B, 0x04);		/* binary, 12-hour */
	CHECK_EQ(cmos_read(RTC_HOURS), 0x80 | 11);

	/* Setting the hour in 12-hour form: 3 AM in BCD. */
	cmos_write(RTC_REG_B, 0x00);
	cmos_write(RTC_HOURS, 0x03);
	cmos_write(RTC_REG_B, 0x02);
	CHECK_EQ(cmos_read(RTC_HOURS), 0x03);
	cmos_write(RTC_REG_B, 0x00);
	cmos_write(RTC_HOURS, 0x87);		/* 7 PM */
	cmos_write(RTC_REG_B, 0x02);
	CHECK_EQ(cmos_read(RTC_HOURS), 0x19);
}

static void test_reg_a_uip(void)
{
	rtc_init(&rtc);
	use_fake_clock();
	CHECK_EQ(cmos_read(RTC_REG_A), 0x26);
	fake_now.tv_nsec = 999900000;		/* inside the 244 us lead */
	CHECK_EQ(cmos_read(RTC_REG_A), 0xa6);
	fake_now.tv_nsec = 999000000;
	CHECK_EQ(cmos_read(RTC_REG_A), 0x26);
	fake_now.tv_nsec = 999900000;
	cmos_write(RTC_REG_B, 0x82);		/* SET: no updates, no UIP */
	CHECK_EQ(cmos_read(RTC_REG_A), 0x26);
	cmos_write(RTC_REG_A, 0xff);		/* UIP is read-only */
	CHECK_EQ(cmos_read(RTC_REG_A), 0x7f);
}

/* Real time: UIP must show up rarely and never stay set. */
static void test_uip_never_stuck(void)
{
	int clear = 0;

	rtc_init(&rtc);
	for (int i = 0; i < 1000; i++)
		if (!(cmos_read(RTC_REG_A) & RTC_A_UIP))
			clear++;
	CHECK(clear >= 900);
}

static void test_reg_c_and_d(void)
{
	rtc_init(&rtc);
	use_fake_clock();
	cmos_read(RTC_REG_C);			/* sync with the fake clock */
	CHECK_EQ(cmos_read(RTC_REG_C), 0x00);
	fake_now.tv_sec++;
	CHECK_EQ(cmos_read(RTC_REG_C), 0x10);	/* update ended */
	CHECK_EQ(cmos_read(RTC_REG_C), 0x00);	/* cleared by the read */
	cmos_write(RTC_REG_B, 0x12);		/* UIE */
	fake_now.tv_sec++;
	CHECK_EQ(cmos_read(RTC_REG_C), 0x90);
	CHECK_EQ(cmos_read(RTC_REG_C), 0x00);
	cmos_write(RTC_REG_C, 0xff);
	CHECK_EQ(cmos_read(RTC_REG_C), 0x00);

	CHECK_EQ(cmos_read(RTC_REG_D), 0x80);
	cmos_write(RTC_REG_D, 0x00);
	CHECK_EQ(cmos_read(RTC_REG_D), 0x80);
}

static void test_index_masking(void)
{
	u8 v;

	rtc_init(&rtc);
	cmos_write(0x40, 0xab);
	cmos_write(0x41, 0xcd);
	v = 0x80 | 0x40;			/* NMI bit must not index */
	rtc_io(&rtc, 0, &v, 1, true);
	rtc_io(&rtc, 1, &v, 1, false);
	CHECK_EQ(v, 0xab);
	v = 0x41;
	rtc_io(&rtc, 0, &v, 1, true);
	rtc_io(&rtc, 1, &v, 1, false);
	CHECK_EQ(v, 0xcd);
	v = 0xff;				/* index 0x7f, last byte */
	rtc_io(&rtc, 0, &v, 1, true);
	v = 0x77;
	rtc_io(&rtc, 1, &v, 1, true);
	CHECK_EQ(cmos_read(0x7f), 0x77);
	CHECK_EQ(cmos_read(RTC_REG_D | 0x80), 0x80);
}

/* Set the clock under B.SET; it runs on from the guest's time. */
static void test_guest_sets_clock(void)
{
	rtc_init(&rtc);
	use_fake_clock();
	cmos_write(RTC_REG_B, 0x82);
	cmos_write(RTC_CENTURY, 0x19);
	cmos_write(RTC_YEAR, 0x99);
	cmos_write(RTC_MONTH, 0x12);
	cmos_write(RTC_DAY, 0x31);
	cmos_write(RTC_HOURS, 0x23);
	cmos_write(RTC_MINUTES, 0x59);
	cmos_write(RTC_SECONDS, 0x58);
	fake_now.tv_sec += 5;			/* frozen meanwhile */
	CHECK_EQ(cmos_read(RTC_SECONDS), 0x58);
	CHECK_EQ(cmos_read(RTC_YEAR), 0x99);
	cmos_write(RTC_REG_B, 0x02);
	CHECK_EQ(cmos_read(RTC_SECONDS), 0x58);
	CHECK_EQ(cmos_read(RTC_WEEKDAY), 6);	/* 1999-12-31: Friday */
	fake_now.tv_sec += 3;
	CHECK_EQ(cmos_read(RTC_SECONDS), 0x01);
	CHECK_EQ(cmos_read(RTC_MINUTES), 0x00);
	CHECK_EQ(cmos_read(RTC_HOURS), 0x00);
	CHECK_EQ(cmos_read(RTC_DAY), 0x01);
	CHECK_EQ(cmos_read(RTC_MONTH), 0x01);
	CHECK_EQ(cmos_read(RTC_YEAR), 0x00);
	CHECK_EQ(cmos_read(RTC_CENTURY), 0x20);

	/* Without SET a single field moves the running clock. */
	cmos_write(RTC_MINUTES, 0x30);
	CHECK_EQ(cmos_read(RTC_MINUTES), 0x30);
	CHECK_EQ(cmos_read(RTC_SECONDS), 0x01);
	fake_now.tv_sec += 60;
	CHECK_EQ(cmos_read(RTC_MINUTES), 0x31);
	cmos_write(RTC_WEEKDAY, 0x03);		/* derived: ignored */
	CHECK_EQ(cmos_read(RTC_WEEKDAY), 7);	/* 2000-01-01: Saturday */

	/* Garbage from the guest is normalised, never crashes. */
	cmos_write(RTC_REG_B, 0x86);
	cmos_write(RTC_MONTH, 0xff);
	cmos_write(RTC_CENTURY, 0xff);
	cmos_write(RTC_SECONDS, 0xff);
	cmos_write(RTC_REG_B, 0x06);
	cmos_read(RTC_SECONDS);
	cmos_read(RTC_CENTURY);
}

static void test_cmos_ram_and_preset(void)
{
	rtc_init(&rtc);
	rtc_cmos_set(&rtc, 0x34, 0x12);
	rtc_cmos_set(&rtc, 0x35, 0x34);
	CHECK_EQ(cmos_read(0x34), 0x12);
	CHECK_EQ(cmos_read(0x35), 0x34);
	rtc_cmos_set(&rtc, RTC_REG_D, 0);		/* refused */
	rtc_cmos_set(&rtc, RTC_CENTURY, 0x99);	/* refused */
	rtc_cmos_set(&rtc, 200, 1);		/* out of range: ignored */
	CHECK_EQ(cmos_read(RTC_REG_D), 0x80);
	CHECK(cmos_read(RTC_CENTURY) != 0x99);
	cmos_write(0x0e, 0x5a);
	CHECK_EQ(cmos_read(0x0e), 0x5a);
}

static void test_access_widths(void)
{
	u8 d[8] = { 0x10, 0x66 };

	rtc_init(&rtc);
	rtc_io(&rtc, 0, d, 2, true);		/* outw: index, then data */
	CHECK_EQ(cmos_read(0x10), 0x66);
	memset(d, 0, sizeof(d));
	rtc_io(&rtc, 0, d, 2, false);		/* inw: index, then data */
	CHECK_EQ(d[0], 0x90);			/* index 0x10 | NMI bit */
	CHECK_EQ(d[1], 0x66);
	memset(d, 0, sizeof(d));
	rtc_io(&rtc, 1, d, 4, false);
	CHECK_EQ(d[0], 0x66);
	CHECK_EQ(d[1], 0xff);
	CHECK_EQ(d[3], 0xff);
	rtc_io(&rtc, 5, d, 8, true);
	rtc_io(&rtc, 0, d, 64, false);
	CHECK_EQ(cmos_read(0x10), 0x66);
}

static void test_register_glue(void)
{
	struct kvm kvm;

	memset(&kvm, 0, sizeof(kvm));
	memset(&bus_seen, 0, sizeof(bus_seen));
	CHECK_EQ(rtc_register(&kvm, &rtc), 0);
	CHECK_EQ(bus_seen.base, 0x70);
	CHECK_EQ(bus_seen.len, 2);
	CHECK(bus_seen.fn == rtc_io);
	CHECK(bus_seen.opaque == &rtc);
	CHECK_EQ(cmos_read(RTC_REG_D), 0x80);
}

int main(void)
{
	RUN(test_host_time_bcd);
	RUN(test_host_time_binary);
	RUN(test_fields_and_weekday);
	RUN(test_12_hour_mode);
	RUN(test_reg_a_uip);
	RUN(test_uip_never_stuck);
	RUN(test_reg_c_and_d);
	RUN(test_index_masking);
	RUN(test_guest_sets_clock);
	RUN(test_cmos_ram_and_preset);
	RUN(test_access_widths);
	RUN(test_register_glue);
	return unit_summary();
}
