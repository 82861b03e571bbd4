#!/usr/bin/env python3
"""Packs one core folder into a feed_open fuzz input: key, then tree, bitfield, signatures, data
with 3-byte big-endian length prefixes.  Usage: make_feed_seed.py CORE_DIR OUT_FILE"""
import sys, os
core, out = sys.argv[1], sys.argv[2]
def read(name):
    p = os.path.join(core, name)
    return open(p, 'rb').read() if os.path.exists(p) else b''
blob = read('key')[:32]
for name in ('tree', 'bitfield', 'signatures', 'data'):
    b = read(name)[:(1 << 24) - 1]
    blob += len(b).to_bytes(3, 'big') + b
open(out, 'wb').write(blob)
