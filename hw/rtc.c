/*
 * CMOS real-time clock, written from the MC146818A register description.
 *
 * There is no ticking state: every read of a time register converts
 * "host now + offset" to the guest's format (BCD or binary, 12 or 24
 * hour) as register B asks.  A guest that sets the clock moves the offset,
 * so it keeps seeing its own time.  While B.SET is 1 the clock is frozen
 * in a struct tm that the guest edits field by field; clearing SET starts
 * it again from there, as the chip does.
 */
#include <string.h>

#include "lkvm/kvm.h"
#include "lkvm/rtc.h"

/* The chip raises UIP this long before each once-a-second update. */
#define UIP_LEAD_NS	244000L
#define NSEC_PER_SEC	1000000000L

#define RTC_REG_A_DEFAULT	0x26	/* 32.768 kHz base, 1024 Hz rate */
#define RTC_B_INT_ENABLES	0x70	/* PIE, AIE, UIE */
#define RTC_C_IRQF		0x80
#define RTC_HOUR_PM		0x80

static void host_clock(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

static bool is_time_reg(unsigned int idx)
{
	switch (idx) {
	case RTC_SECONDS: case RTC_MINUTES: case RTC_HOURS: case RTC_WEEKDAY:
	case RTC_DAY: case RTC_MONTH: case RTC_YEAR: case RTC_CENTURY:
		return true;
	default:
		return false;
	}
}

static bool setting(const struct rtc *rtc)
{
	return rtc->cmos[RTC_REG_B] & RTC_B_SET;
}

static u8 encode(const struct rtc *rtc, int v)
{
	if (rtc->cmos[RTC_REG_B] & RTC_B_DM_BINARY)
		return (u8)v;
	v = ((v % 100) + 100) % 100;
	return (u8)(((v / 10) << 4) | (v % 10));
}

static int decode(const struct rtc *rtc, u8 v)
{
	if (rtc->cmos[RTC_REG_B] & RTC_B_DM_BINARY)
		return v;
	return (v >> 4) * 10 + (v & 0x0f);
}

/* The guest's clock at host time now, broken down. */
static void guest_tm(const struct rtc *rtc, const struct timespec *now,
		     struct tm *tm)
{
	time_t t = now->tv_sec + rtc->offset;

	if (setting(rtc)) {
		*tm = rtc->frozen;
		return;
	}
	if (!gmtime_r(&t, tm))
		memset(tm, 0, sizeof(*tm));
}

static u8 encode_hour(const struct rtc *rtc, int hour)
{
	int h12;

	if (rtc->cmos[RTC_REG_B] & RTC_B_24H)
		return encode(rtc, hour);
	h12 = hour % 12 ? hour % 12 : 12;
	return encode(rtc, h12) | (hour >= 12 ? RTC_HOUR_PM : 0);
}

static int decode_hour(const struct rtc *rtc, u8 val)
{
	if (rtc->cmos[RTC_REG_B] & RTC_B_24H)
		return decode(rtc, val);
	return decode(rtc, val & ~RTC_HOUR_PM) % 12 +
	       (val & RTC_HOUR_PM ? 12 : 0);
}

static u8 read_time_reg(struct rtc *rtc, unsigned int idx)
{
	struct timespec now;
	struct tm tm;
	int year;

	rtc->clock(&now);
	guest_tm(rtc, &now, &tm);
	year = tm.tm_year + 1900;
	switch (idx) {
	case RTC_SECONDS:
		return encode(rtc, tm.tm_sec);
	case RTC_MINUTES:
		return encode(rtc, tm.tm_min);
	case RTC_HOURS:
		return encode_hour(rtc, tm.tm_hour);
	case RTC_WEEKDAY:
		return encode(rtc, tm.tm_wday + 1);	/* Sunday is 1 */
	case RTC_DAY:
		return encode(rtc, tm.tm_mday);
	case RTC_MONTH:
		return encode(rtc, tm.tm_mon + 1);
	case RTC_YEAR:
		return encode(rtc, year % 100);
	default:
		return encode(rtc, year / 100);
	}
}

/* The weekday follows from the date, so writes to it are dropped. */
static void write_time_reg(struct rtc *rtc, unsigned int idx, u8 val)
{
	struct timespec now;
	struct tm tm;
	int year;

	rtc->clock(&now);
	guest_tm(rtc, &now, &tm);
	year = tm.tm_year + 1900;
	switch (idx) {
	case RTC_SECONDS:
		tm.tm_sec = decode(rtc, val);
		break;
	case RTC_MINUTES:
		tm.tm_min = decode(rtc, val);
		break;
	case RTC_HOURS:
		tm.tm_hour = decode_hour(rtc, val);
		break;
	case RTC_DAY:
		tm.tm_mday = decode(rtc, val);
		break;
	case RTC_MONTH:
		tm.tm_mon = decode(rtc, val) - 1;
		break;
	case RTC_YEAR:
		tm.tm_year = year / 100 * 100 + decode(rtc, val) - 1900;
		break;
	case RTC_CENTURY:
		tm.tm_year = decode(rtc, val) * 100 + year % 100 - 1900;
		break;
	default:
		return;
	}
	tm.tm_isdst = 0;
	if (setting(rtc))
		rtc->frozen = tm;
	else
		rtc->offset = timegm(&tm) - now.tv_sec;
}

static void write_reg_b(struct rtc *rtc, u8 val)
{
	bool was_set = setting(rtc), set = val & RTC_B_SET;
	struct timespec now;

	rtc->clock(&now);
	if (set && !was_set)
		guest_tm(rtc, &now, &rtc->frozen);
	if (was_set && !set) {
		rtc->frozen.tm_isdst = 0;
		rtc->offset = timegm(&rtc->frozen) - now.tv_sec;
	}
	rtc->cmos[RTC_REG_B] = val;
}

static u8 read_reg_a(struct rtc *rtc)
{
	struct timespec now;
	u8 val = rtc->cmos[RTC_REG_A];

	rtc->clock(&now);
	if (!setting(rtc) && now.tv_nsec >= NSEC_PER_SEC - UIP_LEAD_NS)
		val |= RTC_A_UIP;
	return val;
}

/* Register C: flags since the last read, cleared by reading. */
static u8 read_reg_c(struct rtc *rtc)
{
	struct timespec now;
	time_t guest_sec;
	u8 val = rtc->cmos[RTC_REG_C];

	rtc->clock(&now);
	guest_sec = now.tv_sec + rtc->offset;
	if (!setting(rtc) && guest_sec != rtc->last_c_read)
		val |= RTC_C_UF;
	if (val & rtc->cmos[RTC_REG_B] & RTC_B_INT_ENABLES)
		val |= RTC_C_IRQF;
	rtc->last_c_read = guest_sec;
	rtc->cmos[RTC_REG_C] = 0;
	return val;
}

static u8 data_read(struct rtc *rtc)
{
	unsigned int idx = rtc->index;

	if (is_time_reg(idx))
		return read_time_reg(rtc, idx);
	switch (idx) {
	case RTC_REG_A:
		return read_reg_a(rtc);
	case RTC_REG_C:
		return read_reg_c(rtc);
	case RTC_REG_D:
		return RTC_D_VRT;	/* battery good, RAM and time valid */
	default:
		return rtc->cmos[idx];
	}
}

static void data_write(struct rtc *rtc, u8 val)
{
	unsigned int idx = rtc->index;

	if (is_time_reg(idx)) {
		write_time_reg(rtc, idx, val);
		return;
	}
	switch (idx) {
	case RTC_REG_A:
		rtc->cmos[idx] = val & ~RTC_A_UIP;
		break;
	case RTC_REG_B:
		write_reg_b(rtc, val);
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break;			/* read-only */
	default:
		rtc->cmos[idx] = val;
		break;
	}
}

void rtc_init(struct rtc *rtc)
{
	struct timespec now;

	memset(rtc, 0, sizeof(*rtc));
	pthread_mutex_init(&rtc->lock, NULL);
	rtc->clock = host_clock;
	rtc->cmos[RTC_REG_A] = RTC_REG_A_DEFAULT;
	rtc->cmos[RTC_REG_B] = RTC_B_24H;
	rtc->cmos[RTC_REG_D] = RTC_D_VRT;
	host_clock(&now);
	rtc->last_c_read = now.tv_sec;
}

/* Wider accesses are split into byte accesses to 0x70, 0x71 as on ISA. */
void rtc_io(void *opaque, u64 offset, u8 *data, u32 len, bool is_write)
{
	struct rtc *rtc = opaque;

	if (len > 8)
		len = 8;
	pthread_mutex_lock(&rtc->lock);
	for (u32 i = 0; i < len; i++) {
		u64 port = offset + i;

		if (port == 0 && is_write) {
			rtc->index = data[i] & 0x7f;
			rtc->nmi_masked = data[i] & 0x80;
		} else if (port == 0) {
			data[i] = rtc->index | (rtc->nmi_masked ? 0x80 : 0);
		} else if (port == 1 && is_write) {
			data_write(rtc, data[i]);
		} else if (port == 1) {
			data[i] = data_read(rtc);
		} else if (!is_write) {
			data[i] = 0xff;
		}
	}
	pthread_mutex_unlock(&rtc->lock);
}

void rtc_cmos_set(struct rtc *rtc, u8 index, u8 value)
{
	if (index >= RTC_CMOS_SIZE || is_time_reg(index) ||
	    (index >= RTC_REG_A && index <= RTC_REG_D))
		return;
	pthread_mutex_lock(&rtc->lock);
	rtc->cmos[index] = value;
	pthread_mutex_unlock(&rtc->lock);
}

int rtc_register(struct kvm *kvm, struct rtc *rtc)
{
	rtc_init(rtc);
	return bus_register(&kvm->pio_bus, RTC_INDEX_PORT, RTC_NR_PORTS,
			    rtc_io, rtc, "rtc");
}
