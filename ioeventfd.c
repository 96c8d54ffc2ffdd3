/*
 * eventfd-backed guest notifications, dispatched from one epoll thread.
 *
 * Lifetime: an epoll_wait() that began before ioevent_del() may still
 * return the removed record.  So a removed record, and its eventfd with
 * it, is freed only once the thread has finished every wait that may
 * have begun before the removal; until then it is marked dead and its
 * events are ignored.  The descriptor is never closed under the thread's
 * feet, so its number cannot be reused by another file the thread would
 * then read from.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "lkvm/ioeventfd.h"
#include "lkvm/kvm.h"
#include "lkvm/log.h"
#include "lkvm/sandbox.h"

struct ioevent {
	struct kvm *kvm;
	int fd;
	u64 addr;
	u32 len;
	bool pio, datamatch;
	u64 match;
	ioevent_fn fn;
	void *opaque;
	bool dead;		/* atomic: removed, waiting to be freed */
	u64 removed_in;		/* the wait under way when it was removed */
	struct ioevent *next_dead;
};

static pthread_once_t epoll_once = PTHREAD_ONCE_INIT;
static int epoll_fd = -1;

static pthread_mutex_t dead_lock = PTHREAD_MUTEX_INITIALIZER;
static u64 waits_begun;			/* under dead_lock */
static struct ioevent *dead_list;	/* under dead_lock */

static void free_record(struct ioevent *ev)
{
	close(ev->fd);
	free(ev);
}

/* Before each wait: free the records no earlier wait can still return. */
static void begin_wait(void)
{
	struct ioevent **p, *ev, *reap = NULL;

	pthread_mutex_lock(&dead_lock);
	for (p = &dead_list; (ev = *p);) {
		if (ev->removed_in <= waits_begun) {
			*p = ev->next_dead;
			ev->next_dead = reap;
			reap = ev;
		} else {
			p = &ev->next_dead;
		}
	}
	waits_begun++;
	pthread_mutex_unlock(&dead_lock);
	while ((ev = reap)) {
		reap = ev->next_dead;
		free_record(ev);
	}
}

static void *ioevent_thread(void *arg UNUSED)
{
	struct epoll_event events[16];

	pthread_setname_np(pthread_self(), "ioeventfd");
	for (;;) {
		int n;

		begin_wait();
		n = epoll_wait(epoll_fd, events, ARRAY_SIZE(events), -1);
		for (int i = 0; i < n; i++) {
			struct ioevent *ev = events[i].data.ptr;
			u64 count;

			if (__atomic_load_n(&ev->dead, __ATOMIC_ACQUIRE))
				continue;
			if (read(ev->fd, &count, sizeof(count)) == sizeof(count))
				ev->fn(ev->opaque);
		}
	}
	return NULL;
}

static void ioevent_start(void)
{
	pthread_t t;

	epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (epoll_fd < 0 || sandbox_thread_create(&t, NULL, SANDBOX_IOEVENT, ioevent_thread, NULL)) {
		pr_warn("ioeventfd thread unavailable: queue notifications will use exits");
		if (epoll_fd >= 0)
			close(epoll_fd);
		epoll_fd = -1;
		return;
	}
	pthread_detach(t);
}

int ioevent_add(struct kvm *kvm, u64 addr, u32 len, bool pio, bool datamatch,
		u64 match, ioevent_fn fn, void *opaque, struct ioevent **out)
{
	struct epoll_event e = { .events = EPOLLIN };
	struct ioevent *ev;
	int ret;

	pthread_once(&epoll_once, ioevent_start);
	if (epoll_fd < 0)
		return -ENODEV;
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	*ev = (struct ioevent){ .kvm = kvm, .addr = addr, .len = len, .pio = pio,
				.datamatch = datamatch, .match = match, .fn = fn,
				.opaque = opaque };
	ev->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ev->fd < 0) {
		ret = -errno;
		free(ev);
		return ret;
	}
	ret = kvm_ioeventfd(kvm, addr, len, pio, ev->fd, datamatch, match, true);
	if (ret)
		goto fail;
	e.data.ptr = ev;
	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, ev->fd, &e)) {
		ret = -errno;
		kvm_ioeventfd(kvm, addr, len, pio, ev->fd, datamatch, match, false);
		goto fail;
	}
	*out = ev;
	return 0;
fail:
	close(ev->fd);
	free(ev);
	return ret;
}

void ioevent_del(struct ioevent *ev)
{
	if (!ev)
		return;
	epoll_ctl(epoll_fd, EPOLL_CTL_DEL, ev->fd, NULL);
	kvm_ioeventfd(ev->kvm, ev->addr, ev->len, ev->pio, ev->fd, ev->datamatch,
		      ev->match, false);
	__atomic_store_n(&ev->dead, true, __ATOMIC_RELEASE);
	pthread_mutex_lock(&dead_lock);
	ev->removed_in = waits_begun;
	ev->next_dead = dead_list;
	dead_list = ev;
	pthread_mutex_unlock(&dead_lock);
}
