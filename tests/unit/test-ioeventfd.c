/*
 * The ioeventfd dispatcher's lifetime rule (ioeventfd.c): a record
 * removed while the epoll thread still holds it from a wait that began
 * before the removal is neither dispatched nor has its descriptor closed
 * (and its number reused) under the thread.  KVM's side is faked:
 * kvm_ioeventfd() is wrapped at link time (Makefile: UNIT_WRAP_ioeventfd)
 * and hands the test each eventfd.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "lkvm/ioeventfd.h"
#include "lkvm/kvm.h"
#include "unit.h"

int __wrap_kvm_ioeventfd(struct kvm *kvm, u64 addr, u32 len, bool pio, int fd,
			 bool datamatch, u64 match, bool assign);

static int last_fd = -1;

int __wrap_kvm_ioeventfd(struct kvm *kvm, u64 addr, u32 len, bool pio, int fd,
			 bool datamatch, u64 match, bool assign)
{
	if (assign)
		last_fd = fd;
	return 0;
}

/* A handler that can be held inside, to keep the epoll thread in a batch. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool hold, inside;
	int calls;
};

static struct gate gates[3];

static void handler(void *opaque)
{
	struct gate *g = opaque;

	pthread_mutex_lock(&g->lock);
	g->calls++;
	g->inside = true;
	pthread_cond_broadcast(&g->cond);
	while (g->hold)
		pthread_cond_wait(&g->cond, &g->lock);
	g->inside = false;
	pthread_mutex_unlock(&g->lock);
}

static bool wait_inside(struct gate *g)
{
	bool ok;

	pthread_mutex_lock(&g->lock);
	for (int i = 0; i < 500 && !g->inside; i++) {
		pthread_mutex_unlock(&g->lock);
		usleep(2000);
		pthread_mutex_lock(&g->lock);
	}
	ok = g->inside;
	pthread_mutex_unlock(&g->lock);
	return ok;
}

static void release(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->hold = false;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static int calls(struct gate *g)
{
	int n;

	pthread_mutex_lock(&g->lock);
	n = g->calls;
	pthread_mutex_unlock(&g->lock);
	return n;
}

static void signal_fd(int fd)
{
	u64 one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		perror("eventfd write");
}

static void test_removed_while_held(void)
{
	static struct kvm kvm;
	struct ioevent *ev[3];
	int fd[3], p[2], pending = 0;

	for (int i = 0; i < 3; i++) {
		pthread_mutex_init(&gates[i].lock, NULL);
		pthread_cond_init(&gates[i].cond, NULL);
		CHECK_EQ(ioevent_add(&kvm, 0x1000 + i, 2, true, false, 0, handler, &gates[i],
				     &ev[i]), 0);
		fd[i] = last_fd;
	}
	/* Hold the thread in record 0's handler... */
	gates[0].hold = gates[1].hold = true;
	signal_fd(fd[0]);
	CHECK(wait_inside(&gates[0]));
	/* ...so that its next wait returns records 1 and 2 together... */
	signal_fd(fd[1]);
	signal_fd(fd[2]);
	release(&gates[0]);
	CHECK(wait_inside(&gates[1]));
	/* ...and remove record 2 while the thread holds it from that wait. */
	ioevent_del(ev[2]);
	/* A file opened now would take a closed descriptor's number. */
	CHECK(pipe(p) == 0);
	CHECK(write(p[1], "8 bytes!", 8) == 8);
	release(&gates[1]);
	usleep(100000);
	CHECK_EQ(calls(&gates[2]), 0);
	CHECK(ioctl(p[0], FIONREAD, &pending) == 0);
	CHECK_EQ(pending, 8);	/* nobody read the new file */
	CHECK(p[0] != fd[2]);

	/* Two more waits: record 2 is freed, its eventfd closed. */
	for (int i = 0; i < 2; i++) {
		int before = calls(&gates[0]);

		signal_fd(fd[0]);
		for (int j = 0; j < 500 && calls(&gates[0]) == before; j++)
			usleep(2000);
	}
	usleep(20000);
	CHECK(fcntl(fd[2], F_GETFD) < 0 && errno == EBADF);
	ioevent_del(ev[0]);
	ioevent_del(ev[1]);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	RUN(test_removed_while_held);
	return unit_summary();
}
