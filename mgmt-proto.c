/*
 * What the management server (mgmt.c) and the subcommands (mgmt-client.c)
 * share: where the control sockets live, which VM names are allowed, and
 * the line format of the protocol (see include/lkvm/mgmt.h).  No KVM in
 * here, so the unit test exercises it anywhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "lkvm/mgmt.h"

static bool name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* The name becomes a file name: no '/', no "..", no hidden or option-like names. */
bool mgmt_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > MGMT_NAME_MAX || name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char_ok(name[i]))
			return false;
	return true;
}

static const char *home_dir(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home && home[0] == '/')
		return home;
	pw = getpwuid(geteuid());
	return pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
}

/* A directory of ours that only we can enter: sockets there are private. */
static int check_dir(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_uid != geteuid())
		return -EPERM;
	if ((st.st_mode & 077) && chmod(path, 0700) < 0)
		return -errno;
	return 0;
}

int mgmt_dir(char *buf, size_t size, bool create)
{
	const char *base = getenv("XDG_RUNTIME_DIR");
	const char *sub = "lkvm";
	int n;

	/* The XDG spec says to ignore a relative XDG_RUNTIME_DIR. */
	if (!base || base[0] != '/') {
		base = home_dir();
		sub = ".lkvm";
		if (!base)
			return -ENOENT;
	}
	n = snprintf(buf, size, "%s/%s", strcmp(base, "/") ? base : "", sub);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	if (create && mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return check_dir(buf);
}

int mgmt_socket_path(const char *name, bool create_dir, char *buf, size_t size)
{
	char dir[MGMT_PATH_MAX];
	int ret, n;

	if (!mgmt_name_valid(name))
		return -EINVAL;
	ret = mgmt_dir(dir, sizeof(dir), create_dir);
	if (ret)
		return ret;
	n = snprintf(buf, size, "%s/%s.sock", dir, name);
	if (n < 0 || (size_t)n >= size || (size_t)n >= MGMT_PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int mgmt_lock_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int err = -errno;

			close(fd);
			return err;
		}
	}
	return fd;
}

static void set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = {
		.tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000,
	};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int mgmt_connect(const char *path, int timeout_ms)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	set_timeouts(fd, timeout_ms);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* A word: printable ASCII without spaces, as both sides may log it. */
static bool word_ok(const char *w)
{
	if (!*w)
		return false;
	for (; *w; w++)
		if (*w <= ' ' || *w > '~')
			return false;
	return true;
}

int mgmt_parse_request(const char *line, struct mgmt_request *req)
{
	size_t plen = strlen(MGMT_PROTO);
	char *p, *sp;

	memset(req, 0, sizeof(*req));
	if (strlen(line) >= sizeof(req->buf))
		return -EINVAL;
	/* The version is checked first so an old server can say why it refuses. */
	if (strncmp(line, MGMT_PROTO, plen) || (line[plen] != ' ' && line[plen] != '\0'))
		return -EPROTO;
	if (line[plen] != ' ')
		return -EINVAL;
	strcpy(req->buf, line + plen + 1);
	for (p = req->buf; p; p = sp) {
		sp = strchr(p, ' ');
		if (sp)
			*sp++ = '\0';
		if (req->argc == MGMT_MAX_ARGS || !word_ok(p))
			return -EINVAL;
		req->argv[req->argc++] = p;
	}
	return 0;
}

int mgmt_format_request(char *buf, size_t size, int argc, const char *const *argv)
{
	size_t len;
	int n;

	if (argc < 1 || argc > MGMT_MAX_ARGS)
		return -EINVAL;
	n = snprintf(buf, size, "%s", MGMT_PROTO);
	if (n < 0 || (size_t)n >= size)
		return -E2BIG;
	len = n;
	for (int i = 0; i < argc; i++) {
		if (!word_ok(argv[i]))
			return -EINVAL;
		n = snprintf(buf + len, size - len, " %s", argv[i]);
		if (n < 0 || (size_t)n >= size - len)
			return -E2BIG;
		len += n;
	}
	if (len + 2 > size || len + 1 > MGMT_LINE_MAX)
		return -E2BIG;
	buf[len++] = '\n';
	buf[len] = '\0';
	return (int)len;
}

void mgmt_reader_init(struct mgmt_reader *r, int fd)
{
	r->fd = fd;
	r->len = 0;
}

/* Move a complete line out of the buffer, if there is one. */
static ssize_t take_line(struct mgmt_reader *r, char *line, size_t size)
{
	char *nl = memchr(r->buf, '\n', r->len);
	size_t n;

	if (!nl)
		return -EAGAIN;
	n = nl - r->buf;
	if (n >= size)
		return -E2BIG;
	memcpy(line, r->buf, n);
	line[n] = '\0';
	r->len -= n + 1;
	memmove(r->buf, nl + 1, r->len);
	return (ssize_t)n;
}

ssize_t mgmt_read_line(struct mgmt_reader *r, char *line, size_t size)
{
	for (;;) {
		ssize_t n = take_line(r, line, size);

		if (n != -EAGAIN)
			return n;
		if (r->len == sizeof(r->buf))
			return -E2BIG;
		n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		if (n == 0)
			return r->len ? -EPIPE : 0;
		r->len += n;
	}
}

enum mgmt_reply_kind mgmt_reply_kind(const char *line, const char **text)
{
	*text = "";
	if (!strcmp(line, "OK"))
		return MGMT_REPLY_OK;
	if (!strncmp(line, "DATA ", 5) || !strcmp(line, "DATA")) {
		*text = line[4] ? line + 5 : "";
		return MGMT_REPLY_DATA;
	}
	if (!strncmp(line, "ERR ", 4)) {
		*text = line + 4;
		return MGMT_REPLY_ERR;
	}
	*text = line;
	return MGMT_REPLY_BAD;
}

bool mgmt_parse_u64(const char *s, u64 max, u64 *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

int mgmt_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		p += n;
		len -= n;
	}
	return 0;
}
