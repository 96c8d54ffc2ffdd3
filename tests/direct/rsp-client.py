#!/usr/bin/env python3
"""Malformed and hostile RSP input against lkvm's gdb stub (tests/direct/gdb.sh).

usage: rsp-client.py PORT RELEASE MAGIC   (hex addresses of gdb_release, gdb_magic)
Connects to 127.0.0.1:PORT (lkvm run --gdb PORT --gdb-wait), sends each
bad packet, interrupts the running guest with 0x03 (Ctrl-C), checks the stub's answer (a '-' or an error reply, never a
crash or a hang), then detaches so the guest can finish.  Exit 0 if every
answer was right, else 1 with the first wrong one on the last line.
"""
import socket
import sys
import time


def frame(payload: bytes) -> bytes:
    return b"$" + payload + b"#%02x" % (sum(payload) & 0xFF)


class Stub:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def read_byte(self):
        if not self.buf:
            self.buf = self.s.recv(65536)
            if not self.buf:
                raise EOFError("connection closed by lkvm")
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def reply(self):
        """The payload of the next packet, skipping acks."""
        while self.read_byte() != b"$":
            pass
        data = b""
        while (c := self.read_byte()) != b"#":
            data += c
        cs = self.read_byte() + self.read_byte()
        if int(cs, 16) != sum(data) & 0xFF:
            raise ValueError("bad checksum from lkvm")
        self.s.sendall(b"+")
        return data

    def ack(self):
        """The next ack byte ('+' or '-')."""
        while (c := self.read_byte()) not in (b"+", b"-"):
            pass
        return c

    def cmd(self, payload: bytes):
        self.s.sendall(frame(payload))
        return self.reply()


def main():
    st = Stub(int(sys.argv[1]))
    checks = []

    def expect(what, got, ok):
        print(f"{'ok  ' if ok else 'BAD '}{what}: {got!r}")
        if not ok:
            checks.append(f"{what}: got {got!r}")

    expect("? after connect", st.cmd(b"?"), lambda r: r.startswith(b"T05"))
    # Framing errors: a '-' and no reply.
    st.s.sendall(b"$g#00")
    expect("bad checksum", st.ack(), lambda r: r == b"-")
    st.s.sendall(b"$g#zz")
    expect("bad checksum hex", st.ack(), lambda r: r == b"-")
    st.s.sendall(frame(b"m" + b"1" * 10000))
    expect("overlong packet", st.ack(), lambda r: r == b"-")
    st.s.sendall(b"$m10000,4")   # truncated: a new packet starts before '#'
    expect("truncated then good", st.cmd(b"?"), lambda r: r.startswith(b"T05"))
    st.s.sendall(b"garbage between packets")
    expect("noise, then a packet", st.cmd(b"qC"), lambda r: r == b"QC1")
    bad = [
        (b"m", b"E01"), (b"mzz,4", b"E01"), (b"m10000", b"E01"), (b"m10000,", b"E01"),
        (b"m10000,4x", b"E01"), (b"m11111111111111111,4", b"E01"),
        (b"mffffffffffff0000,10", b"E14"),          # unmapped
        (b"M10000,4:00", b"E01"), (b"M10000,2:zzzz", b"E01"),
        (b"M10000,ffffffffffffffff:00", b"E01"),     # huge length
        (b"Mffffffffffff0000,1:00", b"E14"),
        (b"G00", b"E01"), (b"pzz", b"E01"), (b"p1000", b"E22"), (b"P0=00", b"E01"),
        (b"Z0", b"E01"), (b"Z0,zz,1", b"E01"), (b"Z2,10001,8", b"E22"),
        (b"Z0,ffffffffffff0000,1", b"E14"), (b"Z9,0,1", b""),
        (b"Hg99", b"E01"), (b"Hx1", b"E01"), (b"T0", b"E01"), (b"T2", b"E01"),
        (b"qXfer:features:read:other.xml:0,10", b"E00"),
        (b"qXfer:features:read:target.xml:zz", b"E01"),
        (b"vCont;x", b"E01"), (b"vCont;s:99", b"E01"), (b"c1234", b"E01"),
        (b"\x01\x02", b""),
    ]
    for pkt, want in bad:
        expect(f"packet {pkt[:24]!r}", st.cmd(pkt), lambda r, w=want: r == w)
    # Huge read lengths are cut to what fits a packet.
    r = st.cmd(b"m10000,100000")
    expect("huge m length", len(r), lambda n: 0 < n <= 4096)
    # The stub still works: registers and the target description.
    expect("g after all that", len(st.cmd(b"g")), lambda n: n == 2 * 552)
    x = st.cmd(b"qXfer:features:read:target.xml:0,fff")
    expect("target.xml", x[:1], lambda r: r in (b"m", b"l") and b"i386:x86-64" in x)
    # Ctrl-C: a running guest (spinning on gdb_release) stops with SIGINT.
    st.s.sendall(frame(b"c"))
    expect("continue is acknowledged", st.ack(), lambda r: r == b"+")
    time.sleep(0.5)
    st.s.sendall(b"\x03")
    expect("Ctrl-C stops the guest", st.reply(), lambda r: r.startswith(b"T02thread:01;"))
    expect("registers after Ctrl-C", len(st.cmd(b"g")), lambda n: n == 2 * 552)
    release, magic = sys.argv[2], sys.argv[3]
    expect("release the guest", st.cmd(b"M%s,8:0100000000000000" % release.encode()),
           lambda r: r == b"OK")
    expect("rewrite gdb_magic", st.cmd(b"M%s,8:00eeffc000000000" % magic.encode()),
           lambda r: r == b"OK")
    st.s.sendall(b"$D#44")
    expect("detach", st.reply(), lambda r: r == b"OK")
    if checks:
        print("wrong answers: " + "; ".join(checks))
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, EOFError, ValueError) as e:
        print(f"client error: {e}")
        sys.exit(1)
