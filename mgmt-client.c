/*
 * The management subcommands: lkvm list, stop, pause, resume, balloon,
 * stat and debug.  Each talks to running VMs over their control sockets
 * (protocol in include/lkvm/mgmt.h).
 *
 * Exit status: 0 done; 1 the VM is missing, does not answer, or refused
 * (its message is printed); 2 bad command line.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "lkvm/mgmt.h"
#include "lkvm/options.h"

#define CLIENT_TIMEOUT_MS 10000
#define STOP_WAIT_MS 30000
#define EXIT_FAIL 1

typedef void (*data_fn)(const char *text, void *arg);

static void print_data(const char *text, void *arg)
{
	puts(text);
}

/* ---- one request ---- */

/*
 * Read the reply: DATA lines go to on_data; returns 0 after OK, 1 after
 * ERR (printed) or a broken reply.
 */
static int read_reply(const char *cmd, const char *name, int fd, data_fn on_data, void *arg)
{
	struct mgmt_reader r;
	char line[MGMT_LINE_MAX];
	const char *text;

	mgmt_reader_init(&r, fd);
	for (;;) {
		ssize_t n = mgmt_read_line(&r, line, sizeof(line));

		if (n <= 0 && n != -E2BIG) {
			fprintf(stderr, "lkvm %s: VM '%s' %s\n", cmd, name,
				n == -ETIMEDOUT ? "does not answer" : "closed the connection");
			return EXIT_FAIL;
		}
		switch (n < 0 ? MGMT_REPLY_BAD : mgmt_reply_kind(line, &text)) {
		case MGMT_REPLY_DATA:
			if (on_data)
				on_data(text, arg);
			break;
		case MGMT_REPLY_OK:
			return 0;
		case MGMT_REPLY_ERR:
			fprintf(stderr, "lkvm %s: VM '%s': %s\n", cmd, name, text);
			return EXIT_FAIL;
		default:
			fprintf(stderr, "lkvm %s: VM '%s' sent an unexpected reply\n", cmd, name);
			return EXIT_FAIL;
		}
	}
}

/* Remove path if it is still stale, under the directory lock. */
static bool remove_if_stale(const char *path)
{
	char dir[MGMT_PATH_MAX];
	int lock, fd;
	bool removed = false;

	if (mgmt_dir(dir, sizeof(dir), false))
		return false;
	lock = mgmt_lock_dir(dir);
	if (lock < 0)
		return false;
	fd = mgmt_connect(path, CLIENT_TIMEOUT_MS);
	if (fd == -ECONNREFUSED)
		removed = unlink(path) == 0;
	else if (fd >= 0)
		close(fd);
	close(lock);
	return removed;
}

/* Connect to VM name: an fd, or -1 after saying why. */
static int connect_vm(const char *cmd, const char *name)
{
	char path[MGMT_PATH_MAX];
	int ret = mgmt_socket_path(name, false, path, sizeof(path));

	if (ret == -EINVAL) {
		fprintf(stderr, "lkvm %s: '%s' is not a valid VM name\n", cmd, name);
		return -1;
	}
	if (!ret)
		ret = mgmt_connect(path, CLIENT_TIMEOUT_MS);
	if (ret >= 0)
		return ret;
	if (ret == -ENOENT || ret == -ECONNREFUSED) {
		if (ret == -ECONNREFUSED)
			remove_if_stale(path);
		fprintf(stderr, "lkvm %s: no VM named '%s' is running\n", cmd, name);
	} else {
		fprintf(stderr, "lkvm %s: cannot reach VM '%s': %s\n", cmd, name, strerror(-ret));
	}
	return -1;
}

static int send_request(const char *cmd, const char *name, int fd, int argc,
			const char *const *argv)
{
	char line[MGMT_LINE_MAX];
	int n = mgmt_format_request(line, sizeof(line), argc, argv);

	if (n < 0) {
		fprintf(stderr, "lkvm %s: bad request argument\n", cmd);
		return -1;
	}
	if (mgmt_write_all(fd, line, n)) {
		fprintf(stderr, "lkvm %s: VM '%s' does not answer\n", cmd, name);
		return -1;
	}
	return 0;
}

/* One request to VM name; the exit status. */
static int vm_request(const char *cmd, const char *name, int argc, const char *const *argv,
		      data_fn on_data, void *arg)
{
	int fd = connect_vm(cmd, name), ret = EXIT_FAIL;

	if (fd < 0)
		return EXIT_FAIL;
	if (!send_request(cmd, name, fd, argc, argv))
		ret = read_reply(cmd, name, fd, on_data, arg);
	close(fd);
	return ret;
}

/* ---- command lines ---- */

static int usage(const char *cmd, const char *text, const char *why)
{
	if (why)
		fprintf(stderr, "lkvm %s: %s\n", cmd, why);
	fprintf(why ? stderr : stdout, "usage: lkvm %s%s%s\n", cmd, *text ? " " : "", text);
	return why ? LKVM_EXIT_USAGE : 0;
}

/*
 * [--name NAME] and, if flag is not NULL, [--FLAG]; nothing else.  -1
 * when parsed (*name NULL if not given), else the exit status (--help, or
 * a usage error).  Which of them are required is the caller's to say.
 */
static int parse_name_flag(int argc, char **argv, const char *text, const char **name,
			   const char *flag, bool *flag_given)
{
	/* With flag NULL its entry ends the table. */
	const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ flag, no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*name = NULL;
	if (flag_given)
		*flag_given = false;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (opt == 'n')
			*name = optarg;
		else if (opt == 'f')
			*flag_given = true;
		else if (opt == 'h')
			return usage(argv[0], text, NULL);
		else
			return usage(argv[0], text, "bad or incomplete option");
	}
	if (optind < argc)
		return usage(argv[0], text, "unexpected argument");
	return -1;
}

static int simple_command(int argc, char **argv, const char *request)
{
	const char *text = "--name NAME", *name;
	int ret = parse_name_flag(argc, argv, text, &name, NULL, NULL);

	if (ret >= 0)
		return ret;
	if (!name)
		return usage(argv[0], text, "--name is required");
	return vm_request(argv[0], name, 1, &request, NULL, NULL);
}

int cmd_pause(int argc, char **argv)
{
	return simple_command(argc, argv, "pause");
}

int cmd_resume(int argc, char **argv)
{
	return simple_command(argc, argv, "resume");
}

/* ---- list ---- */

struct info {
	char pid[16];
	char state[16];
};

/* Pick pid= and state= out of "name=.. pid=.. state=.." */
static void parse_info(const char *text, void *arg)
{
	struct info *info = arg;
	char copy[MGMT_LINE_MAX], *save, *w;

	snprintf(copy, sizeof(copy), "%s", text);
	for (w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (!strncmp(w, "pid=", 4))
			snprintf(info->pid, sizeof(info->pid), "%s", w + 4);
		else if (!strncmp(w, "state=", 6))
			snprintf(info->state, sizeof(info->state), "%s", w + 6);
	}
}

/* Names of all sockets in the directory, sorted; returns the count or -errno. */
static int socket_names(char ***out)
{
	char dir[MGMT_PATH_MAX];
	struct dirent **ents;
	char **names;
	int n, count = 0, ret = mgmt_dir(dir, sizeof(dir), false);

	*out = NULL;
	if (ret)
		return ret == -ENOENT ? 0 : ret;
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0)
		return -errno;
	names = calloc(n + 1, sizeof(*names));
	for (int i = 0; i < n; i++) {
		size_t len = strlen(ents[i]->d_name);

		if (names && len > 5 && !strcmp(ents[i]->d_name + len - 5, ".sock")) {
			ents[i]->d_name[len - 5] = '\0';
			if (mgmt_name_valid(ents[i]->d_name))
				names[count++] = strdup(ents[i]->d_name);
		}
		free(ents[i]);
	}
	free(ents);
	*out = names;
	return names ? count : -ENOMEM;
}

static void free_names(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* One row of `lkvm list`; a stale socket is removed instead. */
static void list_one(const char *name)
{
	static const char *info_req = "info";
	char path[MGMT_PATH_MAX];
	struct info info = { "-", "unresponsive" };
	int fd;

	if (mgmt_socket_path(name, false, path, sizeof(path)))
		return;
	fd = mgmt_connect(path, CLIENT_TIMEOUT_MS);
	if (fd == -ECONNREFUSED) {
		if (remove_if_stale(path))
			fprintf(stderr, "lkvm list: removed the stale socket of '%s'"
				" (that VM is gone)\n", name);
		return;
	}
	if (fd < 0)
		return;		/* vanished meanwhile */
	if (send_request("list", name, fd, 1, &info_req) ||
	    read_reply("list", name, fd, parse_info, &info))
		snprintf(info.state, sizeof(info.state), "unresponsive");
	close(fd);
	printf("%-24s %-8s %s\n", name, info.pid, info.state);
}

int cmd_list(int argc, char **argv)
{
	char **names;
	int n;

	if (argc > 1)
		return usage(argv[0], "", strcmp(argv[1], "--help") ? "no arguments expected" : NULL);
	n = socket_names(&names);
	if (n < 0) {
		fprintf(stderr, "lkvm list: cannot read the socket directory: %s\n", strerror(-n));
		return EXIT_FAIL;
	}
	printf("%-24s %-8s %s\n", "NAME", "PID", "STATE");
	for (int i = 0; i < n; i++)
		list_one(names[i]);
	free_names(names, n);
	return 0;
}

/* ---- stop ---- */

/* Send "stop": the connection fd (EOF comes when the VM exits), or -1. */
static int stop_begin(const char *name)
{
	static const char *stop_req = "stop";
	int fd = connect_vm("stop", name);

	if (fd < 0)
		return -1;
	if (send_request("stop", name, fd, 1, &stop_req) ||
	    read_reply("stop", name, fd, NULL, NULL)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait for the VM behind fd to exit: the server closes it last thing. */
static int stop_wait(const char *name, int fd)
{
	struct timeval tv = { .tv_sec = STOP_WAIT_MS / 1000 };
	char c;
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	do
		n = read(fd, &c, 1);
	while (n > 0 || (n < 0 && errno == EINTR));
	close(fd);
	if (n < 0) {
		fprintf(stderr, "lkvm stop: VM '%s' has not exited %d s after the request\n",
			name, STOP_WAIT_MS / 1000);
		return EXIT_FAIL;
	}
	return 0;
}

static int stop_all(void)
{
	char **names;
	int n = socket_names(&names), *fds, ret = 0;

	if (n < 0) {
		fprintf(stderr, "lkvm stop: cannot read the socket directory: %s\n", strerror(-n));
		return EXIT_FAIL;
	}
	fds = calloc(n + 1, sizeof(*fds));
	if (!fds) {
		free_names(names, n);
		return EXIT_FAIL;
	}
	/* Ask all first, then wait: the VMs shut down in parallel. */
	for (int i = 0; i < n; i++) {
		char path[MGMT_PATH_MAX];
		int probe = -1;

		fds[i] = -1;
		if (!mgmt_socket_path(names[i], false, path, sizeof(path)))
			probe = mgmt_connect(path, CLIENT_TIMEOUT_MS);
		if (probe == -ECONNREFUSED) {
			remove_if_stale(path);	/* a dead VM: nothing to stop */
			continue;
		}
		if (probe >= 0)
			close(probe);
		fds[i] = stop_begin(names[i]);
		if (fds[i] < 0)
			ret = EXIT_FAIL;
	}
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0 && stop_wait(names[i], fds[i]))
			ret = EXIT_FAIL;
	free(fds);
	free_names(names, n);
	return ret;
}

int cmd_stop(int argc, char **argv)
{
	const char *text = "--name NAME | --all", *name;
	bool all;
	int fd, ret = parse_name_flag(argc, argv, text, &name, "all", &all);

	if (ret >= 0)
		return ret;
	if (!name == !all)
		return usage(argv[0], text, "give either --name or --all");
	if (all)
		return stop_all();
	fd = stop_begin(name);
	return fd < 0 ? EXIT_FAIL : stop_wait(name, fd);
}

/* ---- balloon and stat ---- */

/* What the VM accepts (mgmt.c): checked here for a usage message. */
static bool valid_mib(const char *s)
{
	u64 mib;

	return mgmt_parse_u64(s, MGMT_BALLOON_MAX_MIB, &mib) && mib;
}

int cmd_balloon(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "inflate", required_argument, NULL, 'i' },
		{ "deflate", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *text = "--name NAME --inflate MiB | --deflate MiB";
	const char *name = NULL, *req[3] = { "balloon", NULL, NULL };
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case 'n': name = optarg; break;
		case 'h': return usage(argv[0], text, NULL);
		case 'i': case 'd':
			if (req[1])
				return usage(argv[0], text, "give one of --inflate and --deflate");
			if (!valid_mib(optarg))
				return usage(argv[0], text, "the size is a positive number of MiB");
			req[1] = opt == 'i' ? "inflate" : "deflate";
			req[2] = optarg;
			break;
		default: return usage(argv[0], text, "bad or incomplete option");
		}
	}
	if (optind < argc)
		return usage(argv[0], text, "unexpected argument");
	if (!name || !req[1])
		return usage(argv[0], text, "give --name and one of --inflate and --deflate");
	return vm_request(argv[0], name, 3, req, print_data, NULL);
}

int cmd_stat(int argc, char **argv)
{
	const char *text = "--name NAME [--memory]";
	const char *name, *req[2] = { "stat", "memory" };
	bool memory;
	int ret = parse_name_flag(argc, argv, text, &name, "memory", &memory);

	if (ret >= 0)
		return ret;
	if (!name)
		return usage(argv[0], text, "--name is required");
	return vm_request(argv[0], name, memory ? 2 : 1, req, print_data, NULL);
}

/* ---- debug ---- */

#define MAX_DEBUG_ACTIONS 8

int cmd_debug(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "dump", no_argument, NULL, 'd' },
		{ "nmi", required_argument, NULL, 'N' },
		{ "sysrq", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *text = "--name NAME [--dump] [--nmi CPU] [--sysrq KEY]";
	const char *name = NULL, *actions[MAX_DEBUG_ACTIONS][2];
	int opt, n = 0, ret = 0;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (opt == 'n') {
			name = optarg;
			continue;
		}
		if (opt == 'h')
			return usage(argv[0], text, NULL);
		if ((opt != 'd' && opt != 'N' && opt != 's') || n == MAX_DEBUG_ACTIONS)
			return usage(argv[0], text, "bad or incomplete option");
		if (opt == 's' && strlen(optarg) != 1)
			return usage(argv[0], text, "--sysrq takes one character");
		if (opt == 'N' && (optarg[0] < '0' || optarg[0] > '9'))
			return usage(argv[0], text, "--nmi takes a vCPU number");
		actions[n][0] = opt == 'd' ? "dump" : opt == 'N' ? "nmi" : "sysrq";
		actions[n++][1] = opt == 'd' ? NULL : optarg;
	}
	if (optind < argc)
		return usage(argv[0], text, "unexpected argument");
	if (!name || !n)
		return usage(argv[0], text, "give --name and at least one of --dump, --nmi, --sysrq");
	/* In the order given, stopping at the first failure. */
	for (int i = 0; i < n && !ret; i++)
		ret = vm_request(argv[0], name, actions[i][1] ? 2 : 1, actions[i],
				 print_data, NULL);
	return ret;
}
