/* RSP packet framing and hex helpers (see include/lkvm/gdb-rsp.h). */
#include <errno.h>
#include <string.h>
#include "lkvm/gdb-rsp.h"
#include "lkvm/hex.h"

void rsp_reader_init(struct rsp_reader *r)
{
	memset(r, 0, sizeof(*r));
}

static void start_packet(struct rsp_reader *r)
{
	r->state = RSP_DATA;
	r->len = 0;
	r->sum = 0;
	r->overlong = false;
}

static void store(struct rsp_reader *r, u8 byte)
{
	if (r->len < RSP_MAX_PAYLOAD)
		r->buf[r->len++] = byte;
	else
		r->overlong = true;
}

static enum rsp_event idle_byte(struct rsp_reader *r, u8 byte)
{
	switch (byte) {
	case '$': start_packet(r); return RSP_NONE;
	case 0x03: return RSP_INTERRUPT;
	case '+': return RSP_ACK;
	case '-': return RSP_NAK;
	default: return RSP_NONE;	/* noise between packets */
	}
}

enum rsp_event rsp_feed(struct rsp_reader *r, u8 byte)
{
	int v;

	switch (r->state) {
	case RSP_IDLE:
		return idle_byte(r, byte);
	case RSP_DATA:
		if (byte == '$') {		/* a new packet: drop the partial one */
			start_packet(r);
			return RSP_NONE;
		}
		if (byte == '#') {
			r->state = RSP_CSUM1;
			return RSP_NONE;
		}
		r->sum += byte;
		if (byte == '}')
			r->state = RSP_ESCAPE;
		else
			store(r, byte);
		return RSP_NONE;
	case RSP_ESCAPE:
		r->sum += byte;
		store(r, byte ^ 0x20);
		r->state = RSP_DATA;
		return RSP_NONE;
	case RSP_CSUM1:
		v = hex_digit(byte);
		if (v < 0) {
			r->state = RSP_IDLE;
			return RSP_BAD_PACKET;
		}
		r->csum_hi = (u8)v;
		r->state = RSP_CSUM2;
		return RSP_NONE;
	case RSP_CSUM2:
		r->state = RSP_IDLE;
		v = hex_digit(byte);
		if (v < 0 || (u8)(r->csum_hi << 4 | v) != r->sum || r->overlong)
			return RSP_BAD_PACKET;
		r->buf[r->len] = 0;
		return RSP_PACKET;
	}
	r->state = RSP_IDLE;
	return RSP_NONE;
}

int rsp_frame(char *out, size_t size, const void *payload, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const u8 *p = payload;
	size_t n = 0;
	u8 sum = 0;

	if (size < 4)
		return -ENOSPC;
	out[n++] = '$';
	for (size_t i = 0; i < len; i++) {
		u8 c = p[i];
		bool esc = c == '#' || c == '$' || c == '}' || c == '*';

		if (n + (esc ? 2 : 1) + 3 > size)
			return -ENOSPC;
		if (esc) {
			out[n++] = '}';
			sum += '}';
			c ^= 0x20;
		}
		out[n++] = (char)c;
		sum += c;
	}
	out[n++] = '#';
	out[n++] = hex[sum >> 4];
	out[n++] = hex[sum & 15];
	return (int)n;
}

int rsp_parse_hex(const char **p, u64 *v)
{
	const char *s = *p;
	u64 x = 0;
	int n = 0, d;

	while ((d = hex_digit((u8)*s)) >= 0) {
		if (++n > 16)
			return -EINVAL;
		x = x << 4 | (u64)d;
		s++;
	}
	if (!n)
		return -EINVAL;
	*v = x;
	*p = s;
	return 0;
}

int rsp_hex_decode(const char *s, size_t n, u8 *out)
{
	for (size_t i = 0; i < n; i++) {
		int b = hex_byte(s + 2 * i);

		if (b < 0)
			return b;
		out[i] = (u8)b;
	}
	return 0;
}

void rsp_hex_encode(const u8 *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = 0;
}
