#!/usr/bin/env python3
"""Compares two training states (llmc/train_state.h) section by section, except the
"run_config" section (the run's flags, paths included: run_config.h), which differs between
runs that compute the same thing (-o, -y, -z). Exit 0 when every other section is equal.
   usage: state_cmp.py A B"""
import struct, sys

def sections(path):
    b = open(path, 'rb').read()
    magic, version, n = struct.unpack('<III', b[:12])
    assert magic == 0x53545342 and version == 1, path + ': not a training state'
    out, pos = {}, 16
    for _ in range(n):
        tag = b[pos:pos + 16].rstrip(b'\0').decode()
        size = struct.unpack('<Q', b[pos + 16:pos + 24])[0]
        out[tag] = b[pos + 32:pos + 32 + size]
        pos += 32 + size
    return out

a, b = sections(sys.argv[1]), sections(sys.argv[2])
a.pop('run_config', None)
b.pop('run_config', None)
differ = sorted(t for t in set(a) | set(b) if a.get(t) != b.get(t))
if differ:
    print('%s and %s differ in section(s) %s' % (sys.argv[1], sys.argv[2], ', '.join(differ)))
    sys.exit(1)
