#ifndef LKVM_HEX_H
#define LKVM_HEX_H
/* Hex digits in text lkvm parses (gdb packets, MAC addresses), either case. */
#include <errno.h>

/* The value of one hex digit, or -EINVAL. */
static inline int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -EINVAL;
}

/* The byte spelled by the two hex digits at s, or -EINVAL (s[1] is not read after a bad s[0]). */
static inline int hex_byte(const char *s)
{
	int hi = hex_digit((unsigned char)s[0]), lo;

	if (hi < 0)
		return hi;
	lo = hex_digit((unsigned char)s[1]);
	return lo < 0 ? lo : hi << 4 | lo;
}

#endif
