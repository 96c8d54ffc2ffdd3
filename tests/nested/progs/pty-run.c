/*
 * pty-run CMD [ARGS...]: run CMD with a new pseudo-terminal as its
 * controlling terminal and stdin/stdout/stderr, as an interactive user's
 * shell would have.  Our stdin is typed into the terminal, the terminal's
 * output goes to our stdout; the exit status is CMD's (128+N on signal N).
 * For the nested cases that drive `lkvm run` interactively (busybox has
 * no script(1)).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static void child(const char *slave, char **argv)
{
	int fd;

	setsid();
	fd = open(slave, O_RDWR);
	if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0) {
		perror("pty-run: slave");
		_exit(126);
	}
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
	execvp(argv[0], argv);
	perror("pty-run: exec");
	_exit(127);
}

int main(int argc, char **argv)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	int master = posix_openpt(O_RDWR | O_NOCTTY), st;
	int in_open = 1;
	pid_t pid;
	char buf[4096];

	if (argc < 2) {
		fprintf(stderr, "usage: pty-run CMD [ARGS...]\n");
		return 2;
	}
	if (master < 0 || grantpt(master) || unlockpt(master)) {
		perror("pty-run: no pseudo-terminal (is devpts mounted?)");
		return 2;
	}
	ioctl(master, TIOCSWINSZ, &ws);
	pid = fork();
	if (pid == 0)
		child(ptsname(master), argv + 1);
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = master, .events = POLLIN },
			{ .fd = in_open ? 0 : -1, .events = POLLIN },
		};
		ssize_t n;

		if (poll(p, 2, 100) < 0 && errno != EINTR)
			break;
		if (p[0].revents) {
			n = read(master, buf, sizeof(buf));
			if (n <= 0)
				break;	/* EIO: the last slave fd closed */
			if (write(1, buf, n) < 0)
				break;
		}
		if (p[1].revents) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0)
				in_open = 0;
			else if (write(master, buf, n) < 0)
				break;
		}
		if (waitpid(pid, &st, WNOHANG) == pid)
			goto done;
	}
	waitpid(pid, &st, 0);
done:
	/* What is still buffered on the terminal. */
	while (poll(&(struct pollfd){ .fd = master, .events = POLLIN }, 1, 0) > 0) {
		ssize_t n = read(master, buf, sizeof(buf));

		if (n <= 0 || write(1, buf, n) < 0)
			break;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
