#!/usr/bin/env python3
"""Writes seeds for fuzz/dht_node_fuzz.cpp into fuzz/corpus/dht_node/: each datagram of the
dht_message corpus as a plain datagram from the bootstrap node and as a response to the node's
requests, echoes of the node's own datagrams, queries, and clock steps past the request timeouts."""
import os

here = os.path.dirname(os.path.abspath(__file__))
src = os.path.join(here, "corpus", "dht_message")
out = os.path.join(here, "corpus", "dht_node")
os.makedirs(out, exist_ok=True)


def datagram(op, who, payload):
    return bytes([op, who, len(payload) & 0xFF, len(payload) >> 8]) + payload


for name in sorted(os.listdir(src)):
    with open(os.path.join(src, name), "rb") as f:
        payload = f.read()
    with open(os.path.join(out, name), "wb") as f:
        f.write(datagram(0, 0, payload) + datagram(1, 0, payload) + datagram(1, 1, payload)
                + bytes([2, 20, 4, 0, 2, 200]))
# The node answers itself (echoes), starts queries, cancels one, and lets time pass.
with open(os.path.join(out, "echo_and_queries"), "wb") as f:
    f.write(bytes([4, 0, 4, 1, 4, 2, 3, 0, 7, 3, 1, 8, 3, 3, 0, 4, 0, 2, 20, 4, 3, 2, 200, 2, 200]))
