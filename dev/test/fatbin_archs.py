#!/usr/bin/env python3
"""Lists the GPU code a CUDA executable carries: one line per fatbin entry, "elf sm_90" or
"ptx compute_90". cuobjdump does this too, but not every CUDA install has it.

A fatbin (the .nv_fatbin section) is a sequence of blobs, each a 16-byte header (magic
0xBA55ED50, u16 version, u16 header size, u64 payload size) and entries, each with a
header (u16 kind: 1 = PTX, 2 = ELF; u16 version; u32 header size; u64 payload size;
...; u32 architecture at byte 28) followed by its payload."""
import struct
import sys

MAGIC = struct.pack("<I", 0xBA55ED50)


def entries(data):
    pos = data.find(MAGIC)
    while pos >= 0:
        _, hsz, fsz = struct.unpack("<HHQ", data[pos + 4:pos + 16])
        p, end = pos + hsz, pos + hsz + fsz
        while p + 32 <= end:
            kind, _, ehs = struct.unpack("<HHI", data[p:p + 8])
            size = struct.unpack("<Q", data[p + 8:p + 16])[0]
            arch = struct.unpack("<I", data[p + 28:p + 32])[0]
            yield kind, arch
            if ehs == 0:
                break
            p += ehs + size
        pos = data.find(MAGIC, max(end, pos + 4))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: fatbin_archs.py EXECUTABLE")
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    found = sorted({("ptx compute_%d" if k == 1 else "elf sm_%d") % a for k, a in entries(data) if k in (1, 2)})
    if not found:
        sys.exit("%s: no CUDA fatbin found" % sys.argv[1])
    print("\n".join(found))


main()
