/* The queue worker thread (include/lkvm/virtio-worker.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "lkvm/log.h"
#include "lkvm/virtio-worker.h"

void virtq_worker_init(struct virtq_worker *w, const struct virtq_worker_ops *ops,
		       void *opaque, const char *name, enum sandbox_role role)
{
	memset(w, 0, sizeof(*w));
	w->ops = ops;
	w->opaque = opaque;
	w->role = role;
	snprintf(w->name, sizeof(w->name), "%s", name);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
}

void virtq_worker_destroy(struct virtq_worker *w)
{
	virtq_worker_stop(w);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
}

static void *worker_thread(void *arg)
{
	struct virtq_worker *w = arg;

	pthread_setname_np(pthread_self(), w->name);
	if (w->ops->thread_init)
		w->ops->thread_init(w->opaque);
	for (;;) {
		unsigned int events;

		pthread_mutex_lock(&w->lock);
		while (!w->pending && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop) {
			pthread_mutex_unlock(&w->lock);
			return NULL;
		}
		events = w->pending;
		w->pending = 0;
		pthread_mutex_unlock(&w->lock);
		w->ops->work(w->opaque, events);
	}
}

int virtq_worker_start(struct virtq_worker *w)
{
	sigset_t all, old;
	int ret;

	w->stop = false;
	w->pending = VIRTQ_WORKER_KICK;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = sandbox_thread_create(&w->thread, NULL, w->role, worker_thread, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		pr_err_ratelimited("%s: cannot start the thread: %s", w->name, strerror(ret));
		return -ret;
	}
	w->running = true;
	return 0;
}

void virtq_worker_stop(struct virtq_worker *w)
{
	if (!w->running)
		return;
	pthread_mutex_lock(&w->lock);
	__atomic_store_n(&w->stop, true, __ATOMIC_RELAXED);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->running = false;
}

void virtq_worker_post(struct virtq_worker *w, unsigned int events)
{
	pthread_mutex_lock(&w->lock);
	w->pending |= events;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}
