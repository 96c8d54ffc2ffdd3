/*
 * AF_VSOCK echo test for the nested vsock case, built static for both the
 * guest (L2) and the host side (L1):
 *
 *   vsock-echo serve PORT COUNT     accept COUNT connections one after the
 *                                   other, echo each back; per connection
 *                                   print "vsock_served_bytes_N=..." and
 *                                   "vsock_served_sum_N=..."
 *   vsock-echo msg CID PORT TEXT    send TEXT, print "vsock_reply=..."
 *   vsock-echo send CID PORT BYTES  send BYTES of pseudo-random data while
 *                                   reading the echo; print the byte counts
 *                                   and FNV-1a sums of both directions
 *
 * "serve" prints "VSOCK-LISTENING" once it listens.  Exit status 0 when
 * everything went through, 1 otherwise; every run ends within 120 s.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define CHUNK 65536
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

static unsigned long parse_ulong(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (*s == '\0' || *end) {
		fprintf(stderr, "vsock-echo: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

/* Echo one connection until the peer's EOF. */
static int echo_one(int fd, int n)
{
	static unsigned char buf[CHUNK];
	uint64_t sum = FNV_OFFSET, bytes = 0;
	ssize_t r;

	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || write_all(fd, buf, r))
			return 1;
		sum = fnv1a(sum, buf, r);
		bytes += r;
	}
	printf("vsock_served_bytes_%d=%" PRIu64 "\nvsock_served_sum_%d=%016" PRIx64 "\n",
	       n, bytes, n, sum);
	fflush(stdout);
	return 0;
}

static int serve(unsigned int port, int count)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port,
	};
	int ls = socket(AF_VSOCK, SOCK_STREAM, 0), ret = 0;

	if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof(addr)) || listen(ls, 4)) {
		perror("vsock-echo: listen");
		return 1;
	}
	printf("VSOCK-LISTENING\n");
	fflush(stdout);
	for (int i = 1; i <= count; i++) {
		int fd = accept(ls, NULL, NULL);

		if (fd < 0) {
			perror("vsock-echo: accept");
			return 1;
		}
		ret |= echo_one(fd, i);
		close(fd);
	}
	close(ls);
	return ret;
}

/* Connect, retrying while the listener is not there yet. */
static int connect_to(unsigned int cid, unsigned int port)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port,
	};

	for (int tries = 0; tries < 100; tries++) {
		int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

		if (fd < 0) {
			perror("vsock-echo: socket");
			return -1;
		}
		if (!connect(fd, (struct sockaddr *)&addr, sizeof(addr)))
			return fd;
		close(fd);
		if (errno != ECONNREFUSED && errno != ECONNRESET && errno != ETIMEDOUT)
			break;
		usleep(100000);
	}
	perror("vsock-echo: connect");
	return -1;
}

static int msg(unsigned int cid, unsigned int port, const char *text)
{
	char reply[256];
	size_t len = strlen(text), got = 0;
	int fd = connect_to(cid, port);

	if (fd < 0 || len >= sizeof(reply) || write_all(fd, text, len))
		return 1;
	shutdown(fd, SHUT_WR);
	while (got < sizeof(reply) - 1) {
		ssize_t r = read(fd, reply + got, sizeof(reply) - 1 - got);

		if (r <= 0)
			break;
		got += r;
	}
	reply[got] = '\0';
	printf("vsock_reply=%s\n", reply);
	close(fd);
	return strcmp(reply, text) != 0;
}

struct sender {
	int fd;
	uint64_t bytes;
	uint64_t sum;
	int failed;
};

/* xorshift64: reproducible data that no layer can compress or dedupe. */
static void *send_data(void *arg)
{
	static unsigned char buf[CHUNK];
	struct sender *s = arg;
	uint64_t x = 0x9e3779b97f4a7c15ULL, left = s->bytes;

	s->sum = FNV_OFFSET;
	while (left) {
		size_t n = left < sizeof(buf) ? left : sizeof(buf);

		for (size_t i = 0; i < n; i += 8) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			memcpy(buf + i, &x, n - i < 8 ? n - i : 8);
		}
		s->sum = fnv1a(s->sum, buf, n);
		if (write_all(s->fd, buf, n)) {
			s->failed = 1;
			break;
		}
		left -= n;
	}
	shutdown(s->fd, SHUT_WR);
	return NULL;
}

static int send_and_check(unsigned int cid, unsigned int port, uint64_t bytes)
{
	static unsigned char buf[CHUNK];
	struct sender s = { .bytes = bytes };
	uint64_t sum = FNV_OFFSET, got = 0;
	struct timespec t0, t1;
	pthread_t t;
	ssize_t r;

	s.fd = connect_to(cid, port);
	if (s.fd < 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_create(&t, NULL, send_data, &s);
	while ((r = read(s.fd, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		sum = fnv1a(sum, buf, r);
		got += r;
	}
	pthread_join(t, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(s.fd);
	printf("vsock_sent_bytes=%" PRIu64 "\nvsock_sent_sum=%016" PRIx64 "\n"
	       "vsock_recv_bytes=%" PRIu64 "\nvsock_recv_sum=%016" PRIx64 "\n"
	       "vsock_round_trip_ms=%ld\n", bytes, s.sum, got, sum,
	       (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	return s.failed || got != bytes || sum != s.sum;
}

int main(int argc, char **argv)
{
	alarm(120);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "serve"))
		return serve(parse_ulong(argv[2]), (int)parse_ulong(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "msg"))
		return msg(parse_ulong(argv[2]), parse_ulong(argv[3]), argv[4]);
	if (argc == 5 && !strcmp(argv[1], "send"))
		return send_and_check(parse_ulong(argv[2]), parse_ulong(argv[3]),
				      parse_ulong(argv[4]));
	fprintf(stderr, "usage: vsock-echo serve PORT COUNT | msg CID PORT TEXT |"
		" send CID PORT BYTES\n");
	return 2;
}
