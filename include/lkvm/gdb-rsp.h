#ifndef LKVM_GDB_RSP_H
#define LKVM_GDB_RSP_H
/*
 * The framing layer of GDB's remote serial protocol (GDB manual,
 * "Remote Protocol"): $payload#cs packets, +/- acknowledgements, the
 * interrupt byte 0x03, '}' escapes.  No I/O and no KVM: bytes in,
 * events out, so every malformed input can be unit-tested.
 */
#include <stdbool.h>
#include <stddef.h>
#include "lkvm/compiler.h"

/* Largest payload accepted or sent; advertised as PacketSize. */
#define RSP_MAX_PAYLOAD 4096

enum rsp_event {
	RSP_NONE,		/* byte consumed, nothing complete yet */
	RSP_PACKET,		/* a good packet: reader.buf[0..len) */
	RSP_BAD_PACKET,		/* checksum wrong, bad hex, or too long: send '-' */
	RSP_INTERRUPT,		/* 0x03 outside a packet */
	RSP_ACK,
	RSP_NAK,
};

struct rsp_reader {
	enum { RSP_IDLE, RSP_DATA, RSP_ESCAPE, RSP_CSUM1, RSP_CSUM2 } state;
	u8 buf[RSP_MAX_PAYLOAD + 1];	/* NUL-terminated for parsing */
	size_t len;
	u8 sum;		/* running checksum of the raw bytes */
	u8 csum_hi;
	bool overlong;
};

void rsp_reader_init(struct rsp_reader *r);
enum rsp_event rsp_feed(struct rsp_reader *r, u8 byte);

/*
 * Frame payload as $...#cs into out, escaping '#', '$', '}' and '*'.
 * Returns the framed length, or -ENOSPC.
 */
int rsp_frame(char *out, size_t size, const void *payload, size_t len);

/* Hex helpers for command arguments (digits: lkvm/hex.h).  All return -EINVAL on bad input. */
/* Parses hex digits at *p (at most 16), advancing *p past them. */
int rsp_parse_hex(const char **p, u64 *v);
/* Decodes 2*n hex digits at s into out. */
int rsp_hex_decode(const char *s, size_t n, u8 *out);
/* Encodes n bytes as 2*n hex digits plus a NUL; out needs 2n+1 bytes. */
void rsp_hex_encode(const u8 *in, size_t n, char *out);

#endif
