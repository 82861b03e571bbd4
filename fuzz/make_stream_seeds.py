#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/stream_fuzz.cpp into fuzz/corpus/stream/.  Each seed is
mode, pattern, behaviour (see the comment above LLVMFuzzerTestOneInput), then plaintext frames
(encrypted by the harness after its handshake) or raw pre-handshake bytes.
Usage: make_stream_seeds.py [OUT_DIR]"""
import os, sys

out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'corpus', 'stream')

def varint(v):
    b = bytearray()
    while v >= 0x80:
        b.append((v & 0x7f) | 0x80)
        v >>= 7
    b.append(v)
    return bytes(b)

def vfield(n, v):  # protobuf varint field
    return varint(n << 3) + varint(v)

def bfield(n, data):  # protobuf length-delimited field
    return varint(n << 3 | 2) + varint(len(data)) + data

def frame(ch, typ, body=b''):
    header = varint(ch << 4 | typ)
    return varint(len(header) + len(body)) + header + body

HANDSHAKE, OPENS, RESPONDER, BAD_CAP = 2, 4, 1, 0x40
def chunk(k):  # receive pieces of 2^(k-1) bytes
    return k << 3

conversation = b''.join([
    frame(1, 1, bfield(1, b'a') + vfield(2, 1)),                       # Options
    frame(1, 2, vfield(1, 1) + vfield(2, 0)),                          # Status
    frame(1, 5, vfield(1, 0) + vfield(2, 1048576)),                    # Want
    frame(1, 3, vfield(1, 0) + vfield(2, 1048576) + bfield(3, bytes.fromhex('0f02e0'))),  # Have
    frame(1, 7, vfield(1, 3) + vfield(4, 2)),                          # Request
    frame(1, 9, vfield(1, 3) + bfield(2, b'block') +
          bfield(3, vfield(1, 6) + bfield(2, b'\xab' * 32) + vfield(3, 5)) +
          bfield(4, b'\x5e' * 64)),                                    # Data
    frame(1, 15, varint(0) + b'ping'),                                 # Extension
    frame(1, 4, vfield(1, 2)),                                         # Unhave
    frame(1, 6, vfield(1, 0)),                                         # Unwant
    frame(1, 8, vfield(1, 3)),                                         # Cancel
    b'\x00',                                                           # keep-alive
    frame(2, 5, vfield(1, 0) + vfield(2, 8192)),
    frame(1, 10),                                                      # Close{}
    frame(9, 10, bfield(1, b'\x42' * 32)),                             # Close{dk} unknown
    frame(1, 2, vfield(1, 1)),                                         # after Close: ignored
])
stream_level = b''.join([
    frame(0, 1, bfield(1, b'x') + bfield(1, b'y')),
    frame(0, 15, varint(1) + b'hi'),
    frame(3, 11, b'\xff\xff'), frame(3, 12), frame(3, 13, b'\x01'), frame(3, 14, b'\x00' * 5),
])
unknown_open = frame(5, 0, bfield(1, b'\x17' * 32) + bfield(2, b'\xca' * 32)) + frame(5, 5, vfield(1, 0))

seeds = {
    'conversation': bytes([HANDSHAKE | OPENS, 0x1f, 0x0f]) + conversation,
    'conversation_chunked_responder': bytes([HANDSHAKE | OPENS | RESPONDER | chunk(3), 0xa8, 0x03]) + conversation,
    'conversation_bytewise': bytes([HANDSHAKE | OPENS | chunk(1), 0x37, 0x0c]) + conversation,
    'bad_capability': bytes([HANDSHAKE | OPENS | BAD_CAP, 0x1f, 0x00]) + conversation,
    'stream_level': bytes([HANDSHAKE, 0x1f, 0x02]) + stream_level,
    'unknown_open': bytes([HANDSHAKE | RESPONDER, 0x18, 0x01]) + unknown_open,
    'open_bad_dk_length': bytes([HANDSHAKE, 0x1f, 0x00]) + frame(1, 0, bfield(1, b'\x01' * 5)),
    'oversize_frame': bytes([HANDSHAKE | OPENS, 0x1f, 0x00]) + varint(8388610) + b'\x13',
    'malformed_have': bytes([HANDSHAKE | OPENS, 0x1f, 0x00]) + frame(1, 3),
    'long_varint': bytes([HANDSHAKE, 0x1f, 0x00]) + b'\xff' * 9,
    'keep_alives': bytes([HANDSHAKE | chunk(1), 0xf0, 0x00]) + b'\x00' * 4,
    'garbage_initiator': bytes([0, 0x1f, 0x00]) + b'\xff' * 200,
    'garbage_responder_m1_shape': bytes([RESPONDER | chunk(2), 0x1f, 0x00]) + b'\x3a' + b'\x07' * 58 + b'\x00' * 20,
}
os.makedirs(out_dir, exist_ok=True)
for name, blob in seeds.items():
    with open(os.path.join(out_dir, name), 'wb') as f:
        f.write(blob)
print('wrote', len(seeds), 'seeds to', out_dir)
