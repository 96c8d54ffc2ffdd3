#ifndef LKVM_MGMT_H
#define LKVM_MGMT_H
/*
 * Management of running VMs.
 *
 * Each `lkvm run` listens on a UNIX stream socket DIR/NAME.sock (mode 0600)
 * where DIR is $XDG_RUNTIME_DIR/lkvm, or ~/.lkvm without it (mode 0700).
 * The subcommands (lkvm list, stop, pause, resume, balloon, stat, debug)
 * connect to it.  The directory is flock()ed while a server binds its name
 * and while `lkvm list` decides a socket is stale, so neither can mistake
 * a socket that is being set up for a dead one.
 *
 * Protocol, version 1: one request per connection, text lines.
 *   client:  "LKVM/1 COMMAND [ARG...]\n"   (single spaces, at most
 *            MGMT_MAX_ARGS words after the version, MGMT_LINE_MAX bytes)
 *   server:  any number of "DATA text\n", then "OK\n" or "ERR message\n";
 *            then it closes the connection, except after "stop": that
 *            connection stays open until the VM has exited, so a client
 *            that waits for EOF knows the VM is gone.
 * A request with another version gets "ERR unsupported protocol ...".
 *
 * Commands: info | stop | pause | resume | balloon inflate|deflate MIB |
 *           stat [memory] | dump | nmi CPU | sysrq KEY
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "lkvm/compiler.h"

struct kvm;

#define MGMT_PROTO "LKVM/1"
#define MGMT_NAME_MAX 64	/* characters of a VM name */
#define MGMT_LINE_MAX 512	/* bytes of one line, newline included */
#define MGMT_MAX_ARGS 4		/* command word plus arguments */
#define MGMT_PATH_MAX 108	/* sizeof(sockaddr_un.sun_path) */
#define MGMT_BALLOON_MAX_MIB (1ULL << 32)	/* largest MIB of "balloon" */

/* ---- `lkvm run` side (mgmt.c) ---- */

/*
 * Listen on the socket for name (NULL: "guest-<pid>", announced with one
 * info line) and serve it from a thread.  Call after kvm_cpus_create().
 * Returns 0; -EEXIST when a live VM already has the name, -EINVAL for a
 * bad name (both printed: refuse to run).  When the socket cannot be set
 * up at all (no usable directory...) it warns and returns 0: the VM runs
 * unmanaged.  The socket is also removed at exit() (die() included).
 */
int mgmt_server_start(struct kvm *kvm, const char *name);
/* Stop serving and remove the socket; after kvm_cpus_stop(); idempotent. */
void mgmt_server_stop(void);

/* ---- subcommands (mgmt-client.c); argv[0] is the command name ---- */

int cmd_list(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_balloon(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_debug(int argc, char **argv);

/* ---- shared by both sides and the unit test (mgmt-proto.c) ---- */

/* 1 to MGMT_NAME_MAX of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool mgmt_name_valid(const char *name);
/* The socket directory, created (0700) when create; 0 or -errno. */
int mgmt_dir(char *buf, size_t size, bool create);
/* DIR/NAME.sock; 0, -EINVAL for a bad name, -ENAMETOOLONG, or mgmt_dir's. */
int mgmt_socket_path(const char *name, bool create_dir, char *buf, size_t size);
/* flock() the directory exclusively: an fd to close, or -errno. */
int mgmt_lock_dir(const char *dir);

/*
 * Connect to the socket at path: an fd (with send/receive timeouts of
 * timeout_ms), -ENOENT (no socket), -ECONNREFUSED (stale: nobody
 * listens) or another -errno.
 */
int mgmt_connect(const char *path, int timeout_ms);

struct mgmt_request {
	int argc;		/* >= 1: argv[0] is the command */
	char *argv[MGMT_MAX_ARGS];
	char buf[MGMT_LINE_MAX];
};

/* Parse one request line (newline already removed): 0, -EPROTO, -EINVAL. */
int mgmt_parse_request(const char *line, struct mgmt_request *req);
/* Format a request line with its newline: its length, or -EINVAL/-E2BIG. */
int mgmt_format_request(char *buf, size_t size, int argc, const char *const *argv);

/* A line reader over a socket. */
struct mgmt_reader {
	int fd;
	size_t len;
	char buf[MGMT_LINE_MAX];
};

void mgmt_reader_init(struct mgmt_reader *r, int fd);
/*
 * Next line without its newline into line (size >= MGMT_LINE_MAX): its
 * length, 0 at EOF before any byte, -E2BIG for an over-long line,
 * -ETIMEDOUT, or another -errno.
 */
ssize_t mgmt_read_line(struct mgmt_reader *r, char *line, size_t size);

enum mgmt_reply_kind { MGMT_REPLY_DATA, MGMT_REPLY_OK, MGMT_REPLY_ERR, MGMT_REPLY_BAD };
/* Classify a reply line; *text is what follows "DATA " or "ERR " ("" for OK). */
enum mgmt_reply_kind mgmt_reply_kind(const char *line, const char **text);

/* A number argument: decimal digits only, at most max; false if not. */
bool mgmt_parse_u64(const char *s, u64 max, u64 *out);

/* Write all of buf (no SIGPIPE): 0 or -errno. */
int mgmt_write_all(int fd, const void *buf, size_t len);

#endif
