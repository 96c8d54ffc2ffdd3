/*
 * The image formats lkvm knows.  Probing walks them in this order and the
 * first whose probe claims the image wins; raw, which claims nothing, is
 * last and takes the rest.  A new format adds itself here.
 */
#include <stddef.h>
#include <string.h>
#include "disk/disk-int.h"

const struct disk_format *const disk_formats[] = {
	&disk_format_qcow2,
	&disk_format_raw,
	NULL,
};

const struct disk_format *disk_format_find(const char *name)
{
	for (const struct disk_format *const *f = disk_formats; *f; f++)
		if (!strcmp((*f)->name, name))
			return *f;
	return NULL;
}
