#!/usr/bin/env python3
"""Write the seed corpora in tests/fuzz/corpus/<target>/: small valid inputs
(well-formed rings, a 9P session, qcow2 images from qemu-img, block
requests, a driver's register sequence) for the fuzzer to mutate.

Run from anywhere: python3 tests/fuzz/make-seeds.py.  The corpus is
committed; rerun only after changing an input layout.  The qcow2 seeds need
qemu-img (skipped with a warning without it)."""

import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def save(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


class Ram:
    """Guest RAM image; offsets relative to its start."""

    def __init__(self, size):
        self.buf = bytearray(size)
        self.end = 0

    def put(self, off, data):
        self.buf[off:off + len(data)] = data
        self.end = max(self.end, off + len(data))

    def bytes(self):
        return bytes(self.buf[:self.end])


# ---- virtqueues ----

VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, VRING_DESC_F_INDIRECT = 1, 2, 4


def desc(addr, length, flags=0, nxt=0):
    return struct.pack("<QIHH", addr, length, flags, nxt)


class Ring:
    """A split ring in a Ram image, filled the way a driver does."""

    def __init__(self, ram, base_gpa, desc_off, avail_off, used_off, qsize):
        self.ram, self.base = ram, base_gpa
        self.desc_off, self.avail_off, self.used_off = desc_off, avail_off, used_off
        self.qsize = qsize
        self.next_desc = 0
        self.avail_idx = 0
        ram.put(avail_off, bytes(6 + 2 * qsize))
        ram.put(used_off, bytes(6 + 8 * qsize))

    def gpa(self, off):
        return self.base + off

    def chain(self, bufs):
        """bufs: (offset, len, writable); returns the head."""
        head = self.next_desc
        for i, (off, length, w) in enumerate(bufs):
            d = self.next_desc % self.qsize
            self.next_desc += 1
            flags = (VRING_DESC_F_WRITE if w else 0) | \
                (VRING_DESC_F_NEXT if i + 1 < len(bufs) else 0)
            self.ram.put(self.desc_off + 16 * d,
                         desc(self.gpa(off), length, flags, (d + 1) % self.qsize))
        return head % self.qsize

    def indirect(self, table_off, bufs):
        """A one-descriptor chain pointing to an indirect table."""
        for i, (off, length, w) in enumerate(bufs):
            flags = (VRING_DESC_F_WRITE if w else 0) | \
                (VRING_DESC_F_NEXT if i + 1 < len(bufs) else 0)
            self.ram.put(table_off + 16 * i, desc(self.gpa(off), length, flags, i + 1))
        d = self.next_desc % self.qsize
        self.next_desc += 1
        self.ram.put(self.desc_off + 16 * d,
                     desc(self.gpa(table_off), 16 * len(bufs), VRING_DESC_F_INDIRECT))
        return d

    def offer(self, head):
        slot = self.avail_off + 4 + 2 * (self.avail_idx % self.qsize)
        self.ram.put(slot, struct.pack("<H", head))
        self.avail_idx = (self.avail_idx + 1) & 0xffff
        self.ram.put(self.avail_off + 2, struct.pack("<H", self.avail_idx))


VQ_RAM_GPA = 0x10000
VQ_OPS, VQ_OP_LEN, VQ_HDR = 32, 6, 32
(OP_POP_PUSH, OP_POP_HOLD, OP_PUSH_HELD, OP_DISABLE_NOTIFY, OP_ENABLE_NOTIFY,
 OP_SIGNAL, OP_GUEST_WRITE, OP_HAS_AVAIL, OP_KICK, OP_RESET) = range(10)


def vq_input(flags, qsize, a, b, c, ops, ram):
    hdr = struct.pack("<BHQQQ", flags, qsize, a, b, c).ljust(VQ_HDR, b"\0")
    body = b"".join(struct.pack("<BBHH", *op) for op in ops)
    body = body.ljust(VQ_OPS * VQ_OP_LEN, b"\0")
    return hdr + body + ram.bytes()


def vq_ring_sample(ring, with_indirect):
    ring.offer(ring.chain([(0x400, 16, False), (0x500, 64, True)]))
    if with_indirect:
        ring.offer(ring.indirect(0x300, [(0x600, 8, False), (0x700, 32, True),
                                         (0x800, 1, True)]))
    ring.offer(ring.chain([(0x900, 512, True)]))
    ring.offer(ring.chain([(0xc00, 4, False), (0xd00, 4, False), (0xe00, 4, True)]))


def virtq_seeds():
    all_f = 1 | 2 | 4 | 16
    pops = [(OP_POP_PUSH, 0, 0, 0)] * 6
    for name, flags, with_ind in (("modern-all", all_f, True),
                                  ("modern-plain", 1 | 16, False),
                                  ("legacy-driver", 0, False)):
        ram = Ram(0x10000)
        ring = Ring(ram, VQ_RAM_GPA, 0x0, 0x100, 0x200, 16)
        vq_ring_sample(ring, with_ind)
        save("fuzz-virtq", name, vq_input(flags, 16, VQ_RAM_GPA, VQ_RAM_GPA + 0x100,
                                          VQ_RAM_GPA + 0x200, pops, ram))
    # Legacy PFN layout: desc at pfn*4096, avail after it, used at `align`.
    ram = Ram(0x10000)
    ring = Ring(ram, VQ_RAM_GPA, 0x0, 16 * 16, 0x200, 16)
    vq_ring_sample(ring, False)
    save("fuzz-virtq", "legacy-pfn", vq_input(8, 16, VQ_RAM_GPA // 4096, 4096, 0x200,
                                              pops, ram))
    # A device that holds requests, batches, races with the guest, is kicked
    # and reset.
    ram = Ram(0x10000)
    ring = Ring(ram, VQ_RAM_GPA, 0x0, 0x100, 0x200, 16)
    vq_ring_sample(ring, True)
    ops = [(OP_DISABLE_NOTIFY, 0, 0, 0), (OP_POP_HOLD, 0, 0, 0), (OP_POP_HOLD, 0, 0, 0),
           (OP_PUSH_HELD, 0, 0, 0), (OP_SIGNAL, 0, 0, 0),
           (OP_GUEST_WRITE, 0, 0x102, 6), (OP_HAS_AVAIL, 0, 0, 0),
           (OP_ENABLE_NOTIFY, 0, 0, 0), (OP_KICK, 0, 0, 0), (OP_RESET, 0, 0, 0),
           (OP_KICK, 0, 0, 0)]
    save("fuzz-virtq", "ops-mix", vq_input(all_f, 16, VQ_RAM_GPA, VQ_RAM_GPA + 0x100,
                                           VQ_RAM_GPA + 0x200, ops, ram))


# fuzz-virtq-packed: the same layout, three more operations (a packed driver).
OP_GUEST_ADD, OP_GUEST_TAKE, OP_GUEST_EVENT = 10, 11, 12
PACKED_AVAIL, PACKED_USED = 1 << 7, 1 << 15


def pdesc(addr, length, pid, flags):
    return struct.pack("<QIHH", addr, length, pid, flags)


def virtq_packed_seeds():
    t = "fuzz-virtq-packed"
    all_f = 1 | 2 | 4 | 16
    g = VQ_RAM_GPA
    ring_args = (g, g + 0x100, g + 0x200)
    pops = [(OP_POP_PUSH, 0, 0, 0)] * 6
    # Three chains in the ring with the first lap's flags, one indirect.
    ram = Ram(0x10000)
    av = PACKED_AVAIL
    ram.put(0x00, pdesc(g + 0x400, 16, 0, av | VRING_DESC_F_NEXT))
    ram.put(0x10, pdesc(g + 0x500, 64, 0, av | VRING_DESC_F_WRITE))
    ram.put(0x20, pdesc(g + 0x900, 512, 1, av | VRING_DESC_F_WRITE))
    ram.put(0x30, pdesc(g + 0x300, 48, 2, av | VRING_DESC_F_INDIRECT))
    ram.put(0x300, pdesc(g + 0x600, 8, 0, 0) + pdesc(g + 0x700, 32, 0, VRING_DESC_F_WRITE) +
            pdesc(g + 0x800, 1, 0, VRING_DESC_F_WRITE))
    save(t, "ring-chains", vq_input(all_f, 16, *ring_args, pops, ram))
    save(t, "ring-plain", vq_input(1 | 16, 16, *ring_args, pops, Ram(0x10000)))
    # The driver and device taking turns round the ring several times.
    ops = []
    for i in range(10):
        ops += [(OP_GUEST_ADD, i, 0x0100 * i, 64), (OP_POP_PUSH, 0, 0, 0),
                (OP_GUEST_TAKE, 0, 0, 0)]
    save(t, "driver-turns", vq_input(all_f, 5, *ring_args, ops, Ram(0x400)))
    # Event suppression both ways, batches, a kick and a reset.
    ops = [(OP_GUEST_ADD, 5, 0x100, 32), (OP_GUEST_ADD, 2, 0x200, 32),
           (OP_GUEST_EVENT, 0, 2, 0x8001), (OP_DISABLE_NOTIFY, 0, 0, 0),
           (OP_POP_HOLD, 0, 0, 0), (OP_POP_HOLD, 0, 0, 0), (OP_PUSH_HELD, 0, 0, 0),
           (OP_SIGNAL, 0, 0, 0), (OP_GUEST_TAKE, 0, 0, 0), (OP_GUEST_EVENT, 0, 1, 0),
           (OP_ENABLE_NOTIFY, 0, 0, 0), (OP_GUEST_ADD, 1, 0x300, 8), (OP_KICK, 0, 0, 0),
           (OP_RESET, 0, 0, 0), (OP_GUEST_ADD, 3, 0x400, 16), (OP_KICK, 0, 0, 0)]
    save(t, "events-mix", vq_input(all_f, 16, *ring_args, ops, Ram(0x400)))


# ---- 9P2000.L ----

NOFID, NOTAG = 0xffffffff, 0xffff
O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_DIRECTORY = 0, 1, 2, 0o100, 0o1000, 0o200000


def s9(text):
    b = text.encode() if isinstance(text, str) else text
    return struct.pack("<H", len(b)) + b


class P9:
    """A 9P session: T-messages with increasing tags."""

    def __init__(self):
        self.msgs = []
        self.tag = 0

    def msg(self, mtype, body, tag=None):
        if tag is None:
            tag, self.tag = self.tag, self.tag + 1
        self.msgs.append(struct.pack("<IBH", 7 + len(body), mtype, tag) + body)
        return self

    def version(self, msize=8192, v="9P2000.L"):
        return self.msg(100, struct.pack("<I", msize) + s9(v), NOTAG)

    def attach(self, fid=0):
        return self.msg(104, struct.pack("<II", fid, NOFID) + s9("root") + s9("") +
                        struct.pack("<I", 0))

    def walk(self, fid, newfid, *names):
        return self.msg(110, struct.pack("<IIH", fid, newfid, len(names)) +
                        b"".join(s9(n) for n in names))

    def lopen(self, fid, flags):
        return self.msg(12, struct.pack("<II", fid, flags))

    def lcreate(self, fid, name, flags, mode):
        return self.msg(14, struct.pack("<I", fid) + s9(name) + struct.pack("<III", flags, mode, 0))

    def read(self, fid, off, count):
        return self.msg(116, struct.pack("<IQI", fid, off, count))

    def write(self, fid, off, data):
        return self.msg(118, struct.pack("<IQI", fid, off, len(data)) + data)

    def clunk(self, fid):
        return self.msg(120, struct.pack("<I", fid))

    def remove(self, fid):
        return self.msg(122, struct.pack("<I", fid))

    def getattr(self, fid):
        return self.msg(24, struct.pack("<IQ", fid, 0x3fff))

    def setattr(self, fid, valid, mode=0, uid=0, gid=0, size=0, at=0, mt=0):
        return self.msg(26, struct.pack("<IIIIIQQQQQ", fid, valid, mode, uid, gid, size,
                                        at, 0, mt, 0))

    def readdir(self, fid, off, count):
        return self.msg(40, struct.pack("<IQI", fid, off, count))

    def statfs(self, fid):
        return self.msg(8, struct.pack("<I", fid))

    def mkdir(self, dfid, name, mode=0o755):
        return self.msg(72, struct.pack("<I", dfid) + s9(name) + struct.pack("<II", mode, 0))

    def symlink(self, dfid, name, target):
        return self.msg(16, struct.pack("<I", dfid) + s9(name) + s9(target) + struct.pack("<I", 0))

    def mknod(self, dfid, name, mode, major=0, minor=0):
        return self.msg(18, struct.pack("<I", dfid) + s9(name) +
                        struct.pack("<IIII", mode, major, minor, 0))

    def rename(self, fid, dfid, name):
        return self.msg(20, struct.pack("<II", fid, dfid) + s9(name))

    def renameat(self, olddfid, oldname, newdfid, newname):
        return self.msg(74, struct.pack("<I", olddfid) + s9(oldname) +
                        struct.pack("<I", newdfid) + s9(newname))

    def unlinkat(self, dfid, name, flags=0):
        return self.msg(76, struct.pack("<I", dfid) + s9(name) + struct.pack("<I", flags))

    def link(self, dfid, fid, name):
        return self.msg(70, struct.pack("<II", dfid, fid) + s9(name))

    def readlink(self, fid):
        return self.msg(22, struct.pack("<I", fid))

    def fsync(self, fid, datasync=0):
        return self.msg(50, struct.pack("<II", fid, datasync))

    def lock(self, fid, ltype):
        return self.msg(52, struct.pack("<IBIQQI", fid, ltype, 0, 0, 100, 1) + s9("guest"))

    def getlock(self, fid, ltype):
        return self.msg(54, struct.pack("<IBQQI", fid, ltype, 0, 100, 1) + s9("guest"))

    def xattrwalk(self, fid, newfid, name):
        return self.msg(30, struct.pack("<II", fid, newfid) + s9(name))

    def xattrcreate(self, fid, name):
        return self.msg(32, struct.pack("<I", fid) + s9(name) + struct.pack("<QI", 8, 0))

    def flush(self, oldtag):
        return self.msg(108, struct.pack("<H", oldtag))

    def auth(self):
        return self.msg(102, struct.pack("<I", 5) + s9("root") + s9("") + struct.pack("<I", 0))

    def bytes(self, flags=0, room=0):
        return struct.pack("<BI", flags, room) + b"".join(self.msgs)


def p9_seeds():
    t = "fuzz-9p"
    save(t, "read-file", P9().version().attach().walk(0, 1, "d", "b").lopen(1, O_RDONLY)
         .read(1, 0, 100).getattr(1).clunk(1).bytes())
    save(t, "readdir", P9().version().attach().walk(0, 1).lopen(1, O_RDONLY | O_DIRECTORY)
         .readdir(1, 0, 4096).readdir(1, 3, 64).getattr(0).statfs(0).clunk(1).bytes())
    create = (P9().version().attach().walk(0, 1).lcreate(1, "new", O_RDWR | O_CREAT, 0o644)
              .write(1, 0, b"written by the guest\n").fsync(1).read(1, 0, 64)
              .setattr(1, 0x8, size=4).setattr(1, 0x1 | 0x20 | 0x100, mode=0o600, mt=12345)
              .mkdir(0, "dir").symlink(0, "sl", "new").mknod(0, "fifo", 0o10644)
              .walk(0, 2, "new").link(0, 2, "hard").rename(2, 0, "moved")
              .renameat(0, "hard", 0, "hard2").unlinkat(0, "hard2")
              .walk(0, 3, "dir").remove(3).unlinkat(0, "sl").clunk(1).clunk(2))
    save(t, "create-modify", create.bytes())
    save(t, "create-modify-ro", create.bytes(flags=1))
    save(t, "create-modify-no-openat2", create.bytes(flags=2))
    save(t, "escape-attempts", P9().version().attach()
         .walk(0, 1, "up").lopen(1, O_RDONLY).walk(0, 2, "..", "..").getattr(2)
         .walk(0, 3, "esc").lopen(3, O_RDONLY).readlink(3).walk(0, 4, "l").readlink(4)
         .lopen(4, O_RDWR).walk(0, 5, "p").lopen(5, O_RDONLY).read(5, 0, 10)
         .walk(0, 6, "null").lopen(6, O_RDWR).walk(0, 7, "up", "outside", "secret")
         .setattr(3, 0x1, mode=0o777).symlink(0, "x", "/").walk(0, 8, "x").lopen(8, O_RDONLY)
         .bytes())
    save(t, "locks-xattr-flush", P9().version().attach().walk(0, 1, "a").lopen(1, O_RDWR)
         .lock(1, 1).getlock(1, 0).lock(1, 2).xattrwalk(1, 2, "user.x").xattrcreate(1, "user.y")
         .flush(3).auth().clunk(1).bytes())
    save(t, "small-msize", P9().version(msize=4096).attach().walk(0, 1, "a").lopen(1, O_RDONLY)
         .read(1, 0, 8000).walk(0, 2).lopen(2, O_DIRECTORY).readdir(2, 0, 30).bytes(room=64))


# ---- qcow2 ----

QOP_READ, QOP_WRITE, QOP_FLUSH, QOP_DISCARD, QOP_WRITE_ZEROES, QOP_WRITE_READ = range(6)


def qcow2_input(image, ops, readonly=False):
    body = b"".join(struct.pack("<BBHQ", k, a, n - 1, o) for k, a, n, o in ops)
    return struct.pack("<B", 1 if readonly else 0) + body.ljust(8 * 12, b"\0") + image


def run(*cmd, cwd=None):
    subprocess.run(cmd, check=True, cwd=cwd, stdout=subprocess.DEVNULL)


def qcow2_full_refcounts():
    """Every cluster the refcount table covers counted as used (one block of
    all-ones 16-bit refcounts behind all 64 table entries): the first
    allocation has to move the refcount table."""
    cb, cs = 9, 512
    buf = bytearray(4 * cs)
    struct.pack_into(">IIQIIQIIQQIIQQQQII", buf, 0, 0x514649fb, 3, 0, 0, cb, 0x10000, 0, 2,
                     3 * cs, cs, 1, 0, 0, 0, 0, 0, 4, 104)
    for i in range(cs // 8):
        struct.pack_into(">Q", buf, cs + 8 * i, 2 * cs)
    for i in range(0, cs, 2):
        struct.pack_into(">H", buf, 2 * cs + i, 1)
    return bytes(buf)


def qcow2_seeds():
    if not shutil.which("qemu-img") or not shutil.which("qemu-io"):
        print("WARNING: qemu-img/qemu-io not found: no qcow2 seeds", file=sys.stderr)
        return
    t = "fuzz-qcow2"
    save(t, "refcounts-full", qcow2_input(qcow2_full_refcounts(), [
        (QOP_WRITE_READ, 1, 1024, 0), (QOP_WRITE, 2, 512, 8192), (QOP_READ, 0, 4096, 0)]))
    ops = [(QOP_READ, 0, 4096, 0), (QOP_WRITE_READ, 1, 1024, 512),
           (QOP_WRITE, 0x40, 512, 8192), (QOP_READ, 3, 16384, 1000),
           (QOP_WRITE_ZEROES, 1, 16, 4096), (QOP_DISCARD, 0, 16, 16384),
           (QOP_FLUSH, 0, 1, 0), (QOP_WRITE_READ, 2, 3000, 20000)]
    with tempfile.TemporaryDirectory() as d:
        def img(name, opts, size="64K", io=(), base=None):
            path = os.path.join(d, name)
            cmd = ["qemu-img", "create", "-q", "-f", "qcow2", "-o", opts]
            if base:
                cmd += ["-b", base, "-F", "raw"]
            run(*cmd, path, size, cwd=d)
            for c in io:
                run("qemu-io", "-f", "qcow2", "-c", c, path, cwd=d)
            with open(path, "rb") as f:
                return f.read()

        data = ("write -P 0x11 0 1k", "write -P 0x22 8k 512", "write -z 16k 4k")
        save(t, "v3-512", qcow2_input(img("a", "cluster_size=512", io=data), ops))
        save(t, "v3-512-ro", qcow2_input(img("b", "cluster_size=512", io=data), ops, True))
        save(t, "v2-512", qcow2_input(img("c", "compat=0.10,cluster_size=512",
                                          io=data[:2]), ops))
        save(t, "v3-4k-refcount1", qcow2_input(
            img("d", "cluster_size=4096,refcount_bits=1", io=data), ops))
        save(t, "v3-512-refcount64", qcow2_input(
            img("e", "cluster_size=512,refcount_bits=64", io=data), ops))
        save(t, "v3-empty-1M", qcow2_input(img("f", "cluster_size=512", size="1M"), ops))
        # A backing file named relative to the image, as the harness provides.
        with open(os.path.join(d, "base.raw"), "wb") as f:
            f.write(bytes((i * 7 + i // 512) & 0xff for i in range(0x10000)))
        save(t, "backing-raw", qcow2_input(
            img("g", "cluster_size=512", io=("write -P 0x33 512 512",), base="base.raw"), ops))
        # Backing chains the harness can resolve: the image itself (a loop,
        # refused at depth 16) and a raw file declared qcow2.
        for name, bfile, bfmt in (("backing-self-loop", "img.qcow2", "qcow2"),
                                  ("backing-format-mismatch", "base.raw", "qcow2")):
            path = os.path.join(d, name)
            run("qemu-img", "create", "-q", "-u", "-f", "qcow2", "-o", "cluster_size=512",
                "-b", bfile, "-F", bfmt, path, "64K")
            with open(path, "rb") as f:
                save(t, name, qcow2_input(f.read(), ops))
        # Compressed clusters: convert text-like data with -c.
        raw = os.path.join(d, "text.raw")
        with open(raw, "wb") as f:
            f.write((b"lkvm fuzz compressed cluster " * 1200)[:32768])
        comp = os.path.join(d, "comp.qcow2")
        run("qemu-img", "convert", "-c", "-O", "qcow2", "-o", "cluster_size=4096", raw, comp)
        with open(comp, "rb") as f:
            save(t, "compressed-4k", qcow2_input(f.read(), ops))


# ---- virtio-blk ----

BLK_RAM_GPA = 0x10000
(BLK_T_IN, BLK_T_OUT, BLK_T_FLUSH, BLK_T_GET_ID, BLK_T_DISCARD,
 BLK_T_WRITE_ZEROES) = 0, 1, 4, 8, 11, 13
BFL_V1, BFL_INDIRECT, BFL_EVENT_IDX, BFL_FLUSH, BFL_DISCARD, BFL_WZ, BFL_RO, BFL_LEGACY = \
    1, 2, 4, 8, 16, 32, 64, 128


def blk_hdr(t, sector):
    return struct.pack("<IIQ", t, 0, sector)


def blk_input(flags, with_indirect=False):
    qsize = 64
    ram = Ram(0x10000)
    ring = Ring(ram, BLK_RAM_GPA, 0x0, 0x400, 0x600, qsize)
    slot = [0x1000]

    def buf(data=None, length=None):
        """Place data (or length zero bytes) in RAM; (offset, length)."""
        data = data if data is not None else bytes(length)
        off = slot[0]
        ram.put(off, data)
        slot[0] = (off + len(data) + 15) & ~15
        return off, len(data)

    def req(parts):
        ring.offer(ring.chain(parts))

    def rd(t, sector, n):
        h, s = buf(blk_hdr(t, sector)), buf(b"\xee")
        d = buf(length=n)
        return [(h[0], h[1], False), (d[0], d[1], True), (s[0], 1, True)]

    req(rd(BLK_T_IN, 2, 1024))
    h, d = buf(blk_hdr(BLK_T_OUT, 4)), buf(bytes(range(256)) * 4)
    s = buf(b"\xee")
    req([(h[0], 16, False), (d[0], 512, False), (d[0] + 512, 512, False), (s[0], 1, True)])
    h, s = buf(blk_hdr(BLK_T_FLUSH, 0)), buf(b"\xee")
    req([(h[0], 16, False), (s[0], 1, True)])
    req(rd(BLK_T_GET_ID, 0, 20))
    for t, fl in ((BLK_T_DISCARD, 0), (BLK_T_WRITE_ZEROES, 1)):
        h = buf(blk_hdr(t, 0) + struct.pack("<QII", 8, 8, fl) + struct.pack("<QII", 64, 2, fl))
        s = buf(b"\xee")
        req([(h[0], h[1], False), (s[0], 1, True)])
    req(rd(99, 0, 8))                          # unsupported type
    h = buf(blk_hdr(BLK_T_IN, 0))
    req([(h[0], 16, False)])                   # no status byte
    req(rd(BLK_T_IN, 127, 1024))               # runs past the end
    h, d = buf(blk_hdr(BLK_T_IN, 1)), buf(length=513)
    req([(h[0], 4, False), (h[0] + 4, 12, False), (d[0], 513, True)])  # status in data
    h = buf(blk_hdr(BLK_T_OUT, 6) + bytes(512))
    s = buf(b"\xee")
    req([(h[0], h[1], False), (s[0], 1, True)])  # header and data in one buffer
    if with_indirect:
        h, d, s = buf(blk_hdr(BLK_T_IN, 3)), buf(length=512), buf(b"\xee")
        ring.offer(ring.indirect(0x900, [(h[0], 16, False), (d[0], 512, True), (s[0], 1, True)]))
    hdr = struct.pack("<BHHHHB", flags, qsize, 0x0, 0x400, 0x600, 0).ljust(16, b"\0")
    return hdr + ram.bytes()


def blk_seeds():
    t = "fuzz-virtio-blk"
    modern = BFL_V1 | BFL_FLUSH | BFL_DISCARD | BFL_WZ
    save(t, "all-types", blk_input(modern))
    save(t, "all-types-indirect-event-idx", blk_input(modern | BFL_INDIRECT | BFL_EVENT_IDX, True))
    save(t, "all-types-ro", blk_input(BFL_V1 | BFL_FLUSH | BFL_RO))
    save(t, "legacy-writethrough", blk_input(BFL_LEGACY))


# ---- virtio-pci ----

PCI_RAM_GPA = 0x100000
T_CFG, T_BAR0, T_BAR1, T_BAR4, T_PORT = range(5)
WIDTH = {1: 0, 2: 1, 4: 2, 8: 3}
# Modern common configuration (struct virtio_pci_common_cfg).
CC_DFSELECT, CC_DF, CC_GFSELECT, CC_GF, CC_MSIX, CC_NUMQ, CC_STATUS, CC_GEN = \
    0x00, 0x04, 0x08, 0x0c, 0x10, 0x12, 0x14, 0x15
CC_QSEL, CC_QSIZE, CC_QMSIX, CC_QENABLE, CC_QNOFF = 0x16, 0x18, 0x1a, 0x1c, 0x1e
CC_QDESC, CC_QDRIVER, CC_QDEVICE = 0x20, 0x28, 0x30
ISR_OFF, DEVCFG_OFF, NOTIFY_OFF = 0x1000, 0x2000, 0x3000
# Legacy I/O registers.
L_HOSTF, L_GUESTF, L_PFN, L_QNUM, L_QSEL, L_NOTIFY, L_STATUS, L_ISR = 0, 4, 8, 12, 14, 16, 18, 19
MSIX_CAP, CFG_CAP = 0x40, 0x90


class PciOps:
    def __init__(self):
        self.ops = []

    def op(self, target, write, width, off, value=0):
        self.ops.append(struct.pack("<BBHQ", (target << 1) | int(write), WIDTH[width], off, value))
        return self

    def w(self, target, width, off, value):
        return self.op(target, True, width, off, value)

    def r(self, target, width, off):
        return self.op(target, False, width, off)

    def bytes(self, flags, ram):
        assert len(self.ops) <= 64, len(self.ops)
        body = b"".join(self.ops).ljust(64 * 12, b"\0")
        return struct.pack("<B", flags).ljust(8, b"\0") + body + ram.bytes()


def pci_modern(flags):
    ram = Ram(0x10000)
    vq_ring_sample(Ring(ram, PCI_RAM_GPA, 0x0, 0x100, 0x200, 16), True)
    o = PciOps()
    o.w(T_CFG, 2, 0x04, 0x7)                        # memory, I/O, bus master
    o.w(T_CFG, 2, MSIX_CAP + 2, 0x8000)             # MSI-X enable
    for v in range(3):
        o.w(T_BAR1, 4, 16 * v, 0xfee00000).w(T_BAR1, 4, 16 * v + 8, 0x40 + v)
        o.w(T_BAR1, 4, 16 * v + 12, 0)
    o.w(T_BAR4, 1, CC_STATUS, 1).w(T_BAR4, 1, CC_STATUS, 3)
    o.w(T_BAR4, 4, CC_DFSELECT, 1).r(T_BAR4, 4, CC_DF)
    o.w(T_BAR4, 4, CC_GFSELECT, 0).w(T_BAR4, 4, CC_GF, (1 << 5) | (1 << 28) | (1 << 29))
    o.w(T_BAR4, 4, CC_GFSELECT, 1).w(T_BAR4, 4, CC_GF, 1)
    o.w(T_BAR4, 1, CC_STATUS, 0xb).r(T_BAR4, 1, CC_STATUS)
    o.w(T_BAR4, 2, CC_MSIX, 0).r(T_BAR4, 2, CC_NUMQ)
    o.w(T_BAR4, 2, CC_QSEL, 0).w(T_BAR4, 2, CC_QSIZE, 16).w(T_BAR4, 2, CC_QMSIX, 1)
    o.w(T_BAR4, 4, CC_QDESC, PCI_RAM_GPA).w(T_BAR4, 4, CC_QDESC + 4, 0)
    o.w(T_BAR4, 4, CC_QDRIVER, PCI_RAM_GPA + 0x100).w(T_BAR4, 4, CC_QDRIVER + 4, 0)
    o.w(T_BAR4, 8, CC_QDEVICE, PCI_RAM_GPA + 0x200)
    o.w(T_BAR4, 2, CC_QENABLE, 1).r(T_BAR4, 2, CC_QNOFF)
    o.w(T_BAR4, 1, CC_STATUS, 0xf).r(T_BAR4, 1, CC_GEN)
    o.w(T_BAR4, 2, NOTIFY_OFF, 0)                   # kick queue 0
    o.r(T_BAR4, 1, ISR_OFF).r(T_BAR4, 4, DEVCFG_OFF).w(T_BAR4, 2, DEVCFG_OFF + 2, 0x1234)
    # The PCI configuration access capability: read the status byte.
    o.w(T_CFG, 1, CFG_CAP + 4, 4).w(T_CFG, 4, CFG_CAP + 8, CC_STATUS)
    o.w(T_CFG, 4, CFG_CAP + 12, 1).r(T_CFG, 1, CFG_CAP + 16).w(T_CFG, 1, CFG_CAP + 16, 0xf)
    o.r(T_BAR1, 8, 0x800)                           # pending bits
    o.w(T_BAR4, 1, CC_STATUS, 0)                    # reset
    return o.bytes(flags, ram)


def pci_legacy(flags):
    ram = Ram(0x10000)
    # Legacy layout for 256 entries: avail after the descriptors, used at 4 KiB.
    vq_ring_sample(Ring(ram, PCI_RAM_GPA, 0x0, 0x1000, 0x2000, 256), False)
    o = PciOps()
    o.w(T_CFG, 2, 0x04, 0x5)                        # I/O, bus master
    o.w(T_BAR0, 1, L_STATUS, 1).w(T_BAR0, 1, L_STATUS, 3).r(T_BAR0, 4, L_HOSTF)
    o.w(T_BAR0, 4, L_GUESTF, (1 << 5) | (1 << 28) | (1 << 29))
    o.w(T_BAR0, 2, L_QSEL, 0).r(T_BAR0, 2, L_QNUM)
    o.w(T_BAR0, 4, L_PFN, PCI_RAM_GPA // 4096).r(T_BAR0, 4, L_PFN)
    o.w(T_BAR0, 1, L_STATUS, 7).w(T_BAR0, 2, L_NOTIFY, 0).r(T_BAR0, 1, L_ISR)
    o.r(T_BAR0, 4, 20).w(T_BAR0, 1, 21, 0x55)      # device config (no MSI-X)
    o.w(T_BAR0, 2, L_QSEL, 1).w(T_BAR0, 4, L_PFN, 0).w(T_BAR0, 1, L_STATUS, 0)
    return o.bytes(flags, ram)


def pci_bars():
    o = PciOps()
    for bar in (0, 1, 4):
        off = 0x10 + 4 * bar
        o.w(T_CFG, 4, off, 0xffffffff).r(T_CFG, 4, off)  # sizing
    o.w(T_CFG, 4, 0x10, 0xd000).w(T_CFG, 4, 0x14, 0xc1000000).w(T_CFG, 4, 0x20, 0xc2000000)
    o.w(T_CFG, 2, 0x04, 0x7).w(T_BAR4, 1, CC_STATUS, 1).r(T_BAR0, 1, L_STATUS)
    o.w(T_CFG, 2, 0x04, 0x0).r(T_BAR4, 1, CC_STATUS).w(T_CFG, 4, 0x20, 0xc0004000)
    o.w(T_CFG, 2, 0x04, 0x407).r(T_CFG, 4, 0x3c).r(T_CFG, 4, 0x00).r(T_CFG, 2, 0x06)
    return o.bytes(0, Ram(16))


def pci_seeds():
    t = "fuzz-virtio-pci"
    save(t, "modern-msix", pci_modern(0))
    save(t, "modern-no-ioeventfd-no-irqfd", pci_modern(2 | 4))
    save(t, "legacy-transitional", pci_legacy(0))
    save(t, "legacy-only", pci_legacy(1))
    save(t, "bar-moves", pci_bars())


# ---- virtio-mmio ----

(M_MAGIC, M_VERSION, M_DEVID, M_DEVF, M_DEVF_SEL, M_DRVF, M_DRVF_SEL, M_PAGE, M_QSEL,
 M_QMAX, M_QNUM, M_QALIGN, M_QPFN, M_QREADY, M_NOTIFY, M_ISR, M_ACK, M_STATUS) = \
    (0x0, 0x4, 0x8, 0x10, 0x14, 0x20, 0x24, 0x28, 0x30, 0x34, 0x38, 0x3c, 0x40, 0x44,
     0x50, 0x60, 0x64, 0x70)
M_QDESC, M_QDRIVER, M_QDEVICE, M_SHM_SEL, M_SHM_LEN, M_GEN, M_CONFIG = \
    0x80, 0x90, 0xa0, 0xac, 0xb0, 0xfc, 0x100


class MmioOps:
    def __init__(self):
        self.ops = []

    def op(self, legacy, write, width, off, value=0):
        self.ops.append(struct.pack("<BBHI", (int(legacy) << 1) | int(write), WIDTH[width],
                                    off, value))
        return self

    def w(self, off, value, legacy=False, width=4):
        return self.op(legacy, True, width, off, value)

    def r(self, off, legacy=False, width=4):
        return self.op(legacy, False, width, off)

    def bytes(self, flags, ram):
        assert len(self.ops) <= 64, len(self.ops)
        body = b"".join(self.ops).ljust(64 * 8, b"\0")
        return struct.pack("<B", flags).ljust(8, b"\0") + body + ram.bytes()


def mmio_seeds():
    t = "fuzz-virtio-mmio"
    for flags in (0, 1):
        ram = Ram(0x10000)
        vq_ring_sample(Ring(ram, PCI_RAM_GPA, 0x0, 0x100, 0x200, 16), True)
        o = MmioOps()
        o.r(M_MAGIC).r(M_VERSION).r(M_DEVID).w(M_STATUS, 1).w(M_STATUS, 3)
        o.w(M_DEVF_SEL, 1).r(M_DEVF).w(M_DRVF_SEL, 0).w(M_DRVF, (1 << 5) | (1 << 28) | (1 << 29))
        o.w(M_DRVF_SEL, 1).w(M_DRVF, 1).w(M_STATUS, 0xb).r(M_STATUS)
        o.w(M_QSEL, 0).r(M_QMAX).w(M_QNUM, 16)
        o.w(M_QDESC, PCI_RAM_GPA).w(M_QDESC + 4, 0).w(M_QDRIVER, PCI_RAM_GPA + 0x100)
        o.w(M_QDRIVER + 4, 0).w(M_QDEVICE, PCI_RAM_GPA + 0x200).w(M_QDEVICE + 4, 0)
        o.w(M_QREADY, 1).r(M_QREADY).w(M_STATUS, 0xf).w(M_NOTIFY, 0)
        o.r(M_ISR).w(M_ACK, 1).r(M_GEN).w(M_SHM_SEL, 0).r(M_SHM_LEN)
        o.r(M_CONFIG, width=1).w(M_CONFIG + 2, 0xbeef, width=2).r(M_CONFIG, width=8)
        o.w(M_STATUS, 0).w(M_QREADY, 0)
        save(t, f"modern{'-exits' if flags else ''}", o.bytes(flags, ram))
    # Legacy (version 1): page size, alignment and PFN.
    ram = Ram(0x10000)
    vq_ring_sample(Ring(ram, PCI_RAM_GPA, 0x0, 16 * 16, 0x400, 16), False)
    o = MmioOps()
    L = True
    o.r(M_VERSION, L).w(M_STATUS, 1, L).w(M_STATUS, 3, L).r(M_DEVF, L)
    o.w(M_DRVF, (1 << 5) | (1 << 28), L).w(M_PAGE, 4096, L).w(M_QSEL, 0, L).r(M_QMAX, L)
    o.w(M_QNUM, 16, L).w(M_QALIGN, 0x400, L).w(M_QPFN, PCI_RAM_GPA // 4096, L).r(M_QPFN, L)
    o.w(M_STATUS, 7, L).w(M_NOTIFY, 0, L).r(M_ISR, L).w(M_ACK, 3, L)
    o.w(M_QSEL, 1, L).w(M_QPFN, 0, L).w(M_STATUS, 0, L).w(M_QPFN, 0, L)
    save(t, "legacy", o.bytes(0, ram))


# ---- virtio-balloon ----

BAL_RAM_GPA = 0x100000
BOP_KICK, BOP_SET_TARGET, BOP_STATS, BOP_GET, BOP_CFG_W, BOP_CFG_R, BOP_GUEST_W, BOP_RESET = \
    range(8)


def balloon_input(flags, ops):
    ram = Ram(0x40000)
    rings = [Ring(ram, BAL_RAM_GPA, 0x400 * q, 0x400 * q + 0x100, 0x400 * q + 0x200, 16)
             for q in range(3)]
    first = BAL_RAM_GPA // 4096
    pfns = [first + 0x20, first + 0x21, first + 0x22, first + 0x30, 5, 0xffffffff, first + 0x3f]
    ram.put(0x1000, b"".join(struct.pack("<I", p) for p in pfns))
    rings[0].offer(rings[0].chain([(0x1000, 12, False), (0x100c, 4 * (len(pfns) - 3), False)]))
    ram.put(0x1100, struct.pack("<I", first + 0x20))
    rings[1].offer(rings[1].chain([(0x1100, 4, False)]))
    stats = b"".join(struct.pack("<HQ", tag, 1000 + tag) for tag in (0, 4, 5, 15, 99))
    ram.put(0x1200, stats)
    rings[2].offer(rings[2].chain([(0x1200, len(stats), False)]))
    hdr = struct.pack("<B", flags) + b"".join(
        struct.pack("<HHHH", 16, 0x400 * q, 0x400 * q + 0x100, 0x400 * q + 0x200)
        for q in range(3))
    body = b"".join(struct.pack("<BBH", *op) for op in ops).ljust(16 * 4, b"\0")
    return hdr.ljust(32, b"\0") + body + ram.bytes()


def balloon_seeds():
    t = "fuzz-virtio-balloon"
    ops = [(BOP_SET_TARGET, 1, 32), (BOP_GET, 0, 0), (BOP_CFG_W, 4, 7), (BOP_CFG_R, 0, 2),
           (BOP_STATS, 0, 0), (BOP_KICK, 0, 0), (BOP_KICK, 1, 0), (BOP_KICK, 2, 0),
           (BOP_GUEST_W, 2, 0x102), (BOP_KICK, 0, 0), (BOP_RESET, 0, 0), (BOP_KICK, 0, 0)]
    save(t, "inflate-deflate-stats", balloon_input(1 | 8 | 16, ops))
    save(t, "legacy-event-idx-indirect", balloon_input(32 | 4 | 2 | 16, ops))


# ---- virtio-net ----

NET_RAM_GPA = 0x100000
(NOP_KICK, NOP_DELIVER, NOP_DELIVER_HDR, NOP_RX_FLUSH, NOP_CFG_W, NOP_CFG_R, NOP_GUEST_W,
 NOP_RESET, NOP_STATS) = range(9)
NF_CSUM, NF_GUEST_CSUM, NF_GUEST_TSO4, NF_MAC, NF_HOST_TSO4, NF_MRG_RXBUF, NF_STATUS, \
    NF_CTRL_VQ, NF_CTRL_RX, NF_CTRL_MAC_ADDR = 0, 1, 7, 5, 11, 15, 16, 17, 18, 23


def net_hdr(hdr_len, flags=0, gso=0, hdr_size=0, gso_size=0, csum_start=0, csum_off=0):
    h = struct.pack("<BBHHHH", flags, gso, hdr_size, gso_size, csum_start, csum_off)
    return (h + struct.pack("<H", 0))[:hdr_len]


def net_input(features, flags, hdr_len):
    ram = Ram(0x40000)
    rx = Ring(ram, NET_RAM_GPA, 0x0, 0x100, 0x200, 16)
    tx = Ring(ram, NET_RAM_GPA, 0x400, 0x500, 0x600, 16)
    ctrl = Ring(ram, NET_RAM_GPA, 0x800, 0x900, 0xa00, 16)
    for i in range(4):                                   # receive buffers
        rx.offer(rx.chain([(0x4000 + 0x800 * i, 0x800, True)]))
    eth = bytes.fromhex("ffffffffffff525400123456" "0800") + bytes(46)
    ram.put(0x1000, net_hdr(hdr_len) + eth)              # plain frame
    tx.offer(tx.chain([(0x1000, hdr_len + len(eth), False)]))
    ram.put(0x1100, net_hdr(hdr_len, 1, 0, 0, 0, 34, 16))  # checksum offload, split
    ram.put(0x1200, eth)
    tx.offer(tx.chain([(0x1100, hdr_len, False), (0x1200, len(eth), False)]))
    ram.put(0x1300, net_hdr(hdr_len, 1, 1, 54, 1448, 34, 16) + bytes(2000))  # TSO4
    tx.offer(tx.chain([(0x1300, hdr_len + 2000, False)]))
    tx.offer(tx.chain([(0x1000, 8, False)]))              # too short
    tx.offer(tx.chain([(0x1000, hdr_len + len(eth), False), (0x1c00, 4, True)]))  # writable
    cmds = [bytes([0, 0, 1]),                             # RX PROMISC on
            bytes([1, 0]) + struct.pack("<I", 1) + bytes(6) + struct.pack("<I", 0),
            bytes([1, 1]) + bytes.fromhex("525400abcdef"),  # MAC_ADDR_SET
            bytes([9, 9])]                                 # unknown class
    at = 0x2000
    for c in cmds:
        ram.put(at, c)
        ctrl.offer(ctrl.chain([(at, len(c), False), (at + 0x80, 1, True)]))
        at += 0x100
    ram.put(0x8000, net_hdr(12, 2, 0) + eth * 30)        # frames to receive
    hdr = struct.pack("<IB", features, flags) + b"".join(
        struct.pack("<HHHH", 16, 0x400 * q, 0x400 * q + 0x100, 0x400 * q + 0x200)
        for q in range(3))
    ops = [(NOP_KICK, 1, 0, 0), (NOP_KICK, 2, 0, 0), (NOP_DELIVER, 0, 60, 0x800c),
           (NOP_DELIVER_HDR, 0, 1500, 0x8000), (NOP_DELIVER, 0, 5000, 0x800c),
           (NOP_RX_FLUSH, 0, 0, 0), (NOP_KICK, 0, 0, 0), (NOP_STATS, 0, 0, 0),
           (NOP_CFG_R, 0, 3, 0), (NOP_CFG_W, 1, 0x5452, 0x2), (NOP_RESET, 0, 0, 0),
           (NOP_DELIVER, 0, 100, 0x800c), (NOP_KICK, 1, 0, 0)]
    body = b"".join(struct.pack("<BBHH", *op) for op in ops).ljust(32 * 6, b"\0")
    return hdr.ljust(32, b"\0") + body + ram.bytes()


def net_seeds():
    t = "fuzz-virtio-net"
    ctl = (1 << NF_CTRL_VQ) | (1 << NF_CTRL_RX) | (1 << NF_CTRL_MAC_ADDR)
    off = (1 << NF_CSUM) | (1 << NF_GUEST_CSUM) | (1 << NF_HOST_TSO4) | (1 << NF_GUEST_TSO4)
    base = (1 << NF_MAC) | (1 << NF_STATUS)
    save(t, "modern-mergeable-offloads",
         net_input(base | ctl | off | (1 << NF_MRG_RXBUF) | (1 << 29) | (1 << 31), 0, 12))
    save(t, "modern-plain-small-frames", net_input(base | ctl | (1 << 31), 4, 12))
    save(t, "legacy-no-offloads", net_input(base | ctl | (1 << 28), 1 | 2, 10))


def main():
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    virtq_seeds()
    virtq_packed_seeds()
    p9_seeds()
    qcow2_seeds()
    blk_seeds()
    pci_seeds()
    mmio_seeds()
    balloon_seeds()
    net_seeds()
    for t in sorted(os.listdir(CORPUS)):
        print(f"{t}: {len(os.listdir(os.path.join(CORPUS, t)))} seeds")


if __name__ == "__main__":
    main()
