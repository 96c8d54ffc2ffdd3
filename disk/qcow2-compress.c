/*
 * qcow2 compressed clusters: raw deflate (zlib without header), starting
 * at a byte offset and spanning whole 512-byte sectors.  The last cluster
 * decompressed is kept, as sequential reads hit it several times.
 */
#include <errno.h>
#include <stdlib.h>
#include <zlib.h>
#include "disk/qcow2-int.h"

static int stream(struct qcow2 *s, z_stream **zp)
{
	z_stream *z = s->zstream;

	if (z) {
		*zp = z;
		return inflateReset(z) == Z_OK ? 0 : -EIO;
	}
	z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	/* Negative window bits: raw deflate; 15 accepts any window size. */
	if (inflateInit2(z, -15) != Z_OK) {
		free(z);
		return -ENOMEM;
	}
	s->zstream = z;
	*zp = z;
	return 0;
}

int qcow2_decompress(struct qcow2 *s, const struct qcow2_map *m, const u8 **out)
{
	/* The last sector may be cut short by the end of the file. */
	u64 len = MIN(m->csize, s->file_end - m->host);
	z_stream *z;
	int ret, zret;

	if (s->cout_entry && s->cout_entry == m->entry) {
		*out = s->cout_buf;
		return 0;
	}
	s->cout_entry = 0;
	if (!s->cin_buf) {
		s->cin_buf = malloc(2 * s->cluster_size);
		s->cout_buf = malloc(s->cluster_size);
		if (!s->cin_buf || !s->cout_buf) {
			free(s->cin_buf);
			free(s->cout_buf);
			s->cin_buf = s->cout_buf = NULL;
			return -ENOMEM;
		}
	}
	*out = s->cout_buf;
	ret = qcow2_pread(s, s->cin_buf, len, m->host);
	if (!ret)
		ret = stream(s, &z);
	if (ret)
		return ret;
	z->next_in = s->cin_buf;
	z->avail_in = (uInt)len;
	z->next_out = s->cout_buf;
	z->avail_out = (uInt)s->cluster_size;
	zret = inflate(z, Z_FINISH);
	/* Decompression stops once a whole cluster came out. */
	if (z->avail_out != 0 || (zret != Z_STREAM_END && zret != Z_OK && zret != Z_BUF_ERROR))
		return qcow2_corrupt(s, "compressed cluster at 0x%llx does not decompress (zlib %d)",
				     (unsigned long long)m->host, zret);
	s->cout_entry = m->entry;
	return 0;
}

void qcow2_decompress_free(struct qcow2 *s)
{
	if (s->zstream) {
		inflateEnd(s->zstream);
		free(s->zstream);
		s->zstream = NULL;
	}
}
