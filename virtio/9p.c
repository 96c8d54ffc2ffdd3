/*
 * virtio-9p transport (device id 9): one request queue; each chain holds a
 * T-message (device-readable) and room for the R-message (writable).
 *
 * A small pool of worker threads serves requests, so one slow host call
 * (fsync of a big file, a FIFO) does not stall the whole share.  The queue
 * itself is touched only under q_lock, which makes the pool "one device
 * thread at a time" for the virtio core.  Kick suppression: a worker that
 * pops a request wakes one idle worker to look for the next; the last one
 * to find nothing turns guest kicks back on before it sleeps.
 *
 * Tflush: the reply to the flushed request must reach the guest before
 * Rflush, so a flush waits until no other worker still serves its old tag.
 * Flushes never wait for flushes, so two of them cannot wait for each other.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <linux/virtio_9p.h>
#include <linux/virtio_ids.h>
#include "lkvm/kvm.h"
#include "lkvm/log.h"
#include "lkvm/virtio.h"
#include "lkvm/virtio-9p.h"
#include "lkvm/sandbox.h"

#define P9_QUEUE_SIZE 256
#define P9_WORKERS 4

struct virtio_9p;

struct p9_worker {
	struct virtio_9p *dev;
	pthread_t thread;
	struct virtq_elem *elem;
	u8 *req, *reply;	/* P9_MAX_MSIZE each */
	u32 hdr_len;		/* bytes of req fetched when the request was taken */
	/* Under q_lock: what this worker is serving, for Tflush. */
	bool busy, is_flush;
	u16 tag;
};

struct virtio_9p {
	struct virtio_device vdev;
	struct p9_fs fs;
	u8 config[sizeof(struct virtio_9p_config) + P9_TAG_MAX];

	pthread_mutex_t q_lock;		/* the queue, stop, workers' busy/tag */
	pthread_cond_t work_cond;	/* a kick, or stop */
	pthread_cond_t done_cond;	/* a request finished, or stop */
	bool stop;
	unsigned int nr_running;	/* control path only */
	struct p9_worker workers[P9_WORKERS];
};

static struct virtio_9p *to_9p(struct virtio_device *vdev)
{
	return container_of(vdev, struct virtio_9p, vdev);
}

/* ---- moving messages between the chain and our buffers ---- */

/*
 * Bytes [from, cap) of the chain's readable part into the same place in
 * buf; the readable length up to cap.  Each byte is fetched from guest
 * memory once: the header when the request is taken, the rest later.
 */
static u32 gather(const struct virtq_elem *e, u8 *buf, u32 from, u32 cap)
{
	u32 pos = 0;

	for (unsigned int i = 0; i < e->out_num && pos < cap; i++) {
		u32 len = (u32)MIN(e->iov[i].iov_len, (size_t)(cap - pos));

		if (pos + len > from) {
			u32 skip = from > pos ? from - pos : 0;

			memcpy(buf + pos + skip, (const u8 *)e->iov[i].iov_base + skip, len - skip);
		}
		pos += len;
	}
	return pos;
}

static void scatter(const struct virtq_elem *e, const u8 *buf, u32 len)
{
	u32 done = 0;

	for (unsigned int i = e->out_num; i < e->out_num + e->in_num && done < len; i++) {
		u32 c = (u32)MIN(e->iov[i].iov_len, (size_t)(len - done));

		memcpy(e->iov[i].iov_base, buf + done, c);
		done += c;
	}
}

/* ---- the worker pool ---- */

/* With q_lock held: pop the next request into w, or arm kicks and say no. */
static bool take_request(struct virtio_9p *dev, struct p9_worker *w)
{
	struct virt_queue *vq = &dev->vdev.vqs[0];
	u8 type = 0;
	u16 tag = P9_NOTAG;

	virtq_disable_notify(vq);
	if (!virtq_pop(vq, w->elem) &&
	    (!virtq_enable_notify_and_check(vq) || !virtq_pop(vq, w->elem)))
		return false;
	/* The tag a Tflush looks for is the one this request is served with. */
	w->hdr_len = gather(w->elem, w->req, 0, P9_HDR_SIZE);
	p9_peek_header(w->req, w->hdr_len, &type, &tag);
	w->busy = true;
	w->is_flush = type == P9_TFLUSH;
	w->tag = tag;
	return true;
}

static bool tag_in_flight(struct virtio_9p *dev, struct p9_worker *self, u16 tag)
{
	for (unsigned int i = 0; i < P9_WORKERS; i++) {
		struct p9_worker *w = &dev->workers[i];

		if (w != self && w->busy && !w->is_flush && w->tag == tag)
			return true;
	}
	return false;
}

static void wait_flushed(struct virtio_9p *dev, struct p9_worker *self, u32 len)
{
	struct p9_in in;
	u16 oldtag;

	p9_in_init(&in, self->req, len);
	p9_get_bytes(&in, P9_HDR_SIZE);
	oldtag = p9_get_u16(&in);
	if (in.bad)
		return;	/* p9_handle answers the malformed flush */
	pthread_mutex_lock(&dev->q_lock);
	while (!dev->stop && tag_in_flight(dev, self, oldtag))
		pthread_cond_wait(&dev->done_cond, &dev->q_lock);
	pthread_mutex_unlock(&dev->q_lock);
}

/* Serve the popped request; the reply's length. */
static u32 serve(struct virtio_9p *dev, struct p9_worker *w)
{
	u32 len = gather(w->elem, w->req, w->hdr_len, P9_MAX_MSIZE), cap;
	u32 msize = __atomic_load_n(&dev->fs.msize, __ATOMIC_RELAXED);
	u32 n;

	if (w->is_flush)
		wait_flushed(dev, w, len);
	cap = (u32)MIN(w->elem->in_len, (size_t)msize);
	n = p9_handle(&dev->fs, w->req, len, w->reply, cap);
	scatter(w->elem, w->reply, n);
	return n;
}

static void *worker_main(void *arg)
{
	struct p9_worker *w = arg;
	struct virtio_9p *dev = w->dev;
	struct virt_queue *vq = &dev->vdev.vqs[0];
	u32 len;

	pthread_setname_np(pthread_self(), "virtio-9p");
	pthread_mutex_lock(&dev->q_lock);
	for (;;) {
		while (!dev->stop && !take_request(dev, w))
			pthread_cond_wait(&dev->work_cond, &dev->q_lock);
		if (dev->stop)
			break;
		/* Kicks are off now: let an idle worker look for the next request. */
		pthread_cond_signal(&dev->work_cond);
		pthread_mutex_unlock(&dev->q_lock);
		len = serve(dev, w);
		pthread_mutex_lock(&dev->q_lock);
		virtq_push(vq, w->elem->head, len);
		virtq_signal_if_needed(vq);
		w->busy = false;
		pthread_cond_broadcast(&dev->done_cond);
	}
	pthread_mutex_unlock(&dev->q_lock);
	return NULL;
}

static void stop_workers(struct virtio_9p *dev)
{
	pthread_mutex_lock(&dev->q_lock);
	dev->stop = true;
	pthread_cond_broadcast(&dev->work_cond);
	pthread_cond_broadcast(&dev->done_cond);
	pthread_mutex_unlock(&dev->q_lock);
	for (unsigned int i = 0; i < dev->nr_running; i++)
		pthread_join(dev->workers[i].thread, NULL);
	dev->nr_running = 0;
	for (unsigned int i = 0; i < P9_WORKERS; i++)
		dev->workers[i].busy = false;
}

/* ---- device ops ---- */

static void p9_queue_notify(struct virtio_device *vdev, struct virt_queue *vq)
{
	struct virtio_9p *dev = to_9p(vdev);

	pthread_mutex_lock(&dev->q_lock);
	pthread_cond_signal(&dev->work_cond);
	pthread_mutex_unlock(&dev->q_lock);
}

static int p9_activate(struct virtio_device *vdev)
{
	struct virtio_9p *dev = to_9p(vdev);
	int ret;

	dev->stop = false;
	/* Requests queued before DRIVER_OK are found by the first take. */
	for (unsigned int i = 0; i < P9_WORKERS; i++) {
		ret = sandbox_thread_create(&dev->workers[i].thread, NULL, SANDBOX_9P, worker_main,
				     &dev->workers[i]);
		if (ret) {
			pr_err_ratelimited("virtio-9p: cannot start a worker thread (error %d)", ret);
			stop_workers(dev);
			return -ret;
		}
		dev->nr_running++;
	}
	return 0;
}

static void p9_reset(struct virtio_device *vdev)
{
	struct virtio_9p *dev = to_9p(vdev);

	stop_workers(dev);
	/* The driver starts a new session with Tversion: no fid survives. */
	p9_fs_reset(&dev->fs);
}

static const struct virtio_device_ops p9_ops = {
	.name = "9p",
	.device_id = VIRTIO_ID_9P,
	.nr_queues = 1,
	.max_queue_size = P9_QUEUE_SIZE,
	.features = 1ULL << VIRTIO_9P_MOUNT_TAG,
	.queue_notify = p9_queue_notify,
	.reset = p9_reset,
	.activate = p9_activate,
};

/* ---- set-up ---- */

int virtio_9p_parse_spec(const char *spec, struct p9_params *p, const char **why)
{
	const char *comma = strchr(spec, ','), *tag, *opt;
	size_t dir_len, tag_len;

	memset(p, 0, sizeof(*p));
	dir_len = comma ? (size_t)(comma - spec) : strlen(spec);
	if (!dir_len) {
		*why = "missing directory (use DIR,TAG[,ro])";
		return -EINVAL;
	}
	if (dir_len >= sizeof(p->dir)) {
		*why = "directory path too long";
		return -EINVAL;
	}
	if (!comma || !comma[1] || comma[1] == ',') {
		*why = "missing mount tag (use DIR,TAG[,ro])";
		return -EINVAL;
	}
	tag = comma + 1;
	opt = strchr(tag, ',');
	tag_len = opt ? (size_t)(opt - tag) : strlen(tag);
	if (tag_len > P9_TAG_MAX) {
		*why = "mount tag longer than 64 bytes";
		return -EINVAL;
	}
	if (opt && strcmp(opt + 1, "ro")) {
		*why = "unknown option after the tag (only ro)";
		return -EINVAL;
	}
	memcpy(p->dir, spec, dir_len);
	memcpy(p->tag, tag, tag_len);
	p->readonly = opt != NULL;
	return 0;
}

static void p9_free(struct virtio_9p *dev)
{
	for (unsigned int i = 0; i < P9_WORKERS; i++) {
		virtq_elem_free(dev->workers[i].elem);
		free(dev->workers[i].req);
		free(dev->workers[i].reply);
	}
	pthread_mutex_destroy(&dev->q_lock);
	pthread_cond_destroy(&dev->work_cond);
	pthread_cond_destroy(&dev->done_cond);
	free(dev);
}

static int alloc_workers(struct virtio_9p *dev)
{
	for (unsigned int i = 0; i < P9_WORKERS; i++) {
		struct p9_worker *w = &dev->workers[i];

		w->dev = dev;
		w->elem = virtq_elem_alloc(&dev->vdev.vqs[0]);
		w->req = malloc(P9_MAX_MSIZE);
		w->reply = malloc(P9_MAX_MSIZE);
		if (!w->elem || !w->req || !w->reply)
			return -ENOMEM;
	}
	return 0;
}

int virtio_9p_init(struct kvm *kvm, const struct p9_params *p, struct virtio_device **out)
{
	struct virtio_9p *dev = calloc(1, sizeof(*dev));
	struct virtio_9p_config *cfg;
	size_t tag_len = strnlen(p->tag, P9_TAG_MAX);
	int ret;

	if (!dev)
		return -ENOMEM;
	pthread_mutex_init(&dev->q_lock, NULL);
	pthread_cond_init(&dev->work_cond, NULL);
	pthread_cond_init(&dev->done_cond, NULL);
	ret = p9_fs_init(&dev->fs, p->dir, p->readonly);
	if (ret) {
		pr_err("virtio-9p: cannot export '%s': %s", p->dir, strerror(-ret));
		p9_free(dev);
		return ret;
	}
	/* Every fid holds a descriptor or two: allow as many as we may. */
	fd_budget_raise_limit();
	cfg = (struct virtio_9p_config *)dev->config;
	cfg->tag_len = htole16((u16)tag_len);
	memcpy(cfg->tag, p->tag, tag_len);
	ret = virtio_device_init(&dev->vdev, &p9_ops, &kvm->mem, dev->config,
				 (u32)(sizeof(*cfg) + tag_len));
	if (ret) {
		p9_fs_destroy(&dev->fs);
		p9_free(dev);
		return ret;
	}
	ret = alloc_workers(dev);
	if (ret) {
		virtio_device_exit(&dev->vdev);
		p9_fs_destroy(&dev->fs);
		p9_free(dev);
		return ret;
	}
	pr_debug("virtio-9p: '%s' as tag '%s'%s%s", dev->fs.root_path, p->tag,
		 p->readonly ? ", read-only" : "",
		 dev->fs.use_openat2 ? "" : ", without openat2");
	*out = &dev->vdev;
	return 0;
}

void virtio_9p_exit(struct virtio_device *vdev)
{
	struct virtio_9p *dev = to_9p(vdev);

	virtio_device_reset(vdev);
	virtio_device_exit(vdev);
	p9_fs_destroy(&dev->fs);
	p9_free(dev);
}
