#!/usr/bin/env python3
# Writes fuzz/corpus/hypercore_v11/: one seed per encoding in tests/fixtures/v11/hypercore.json
# (messages, manifests, multisigs, signatures), prefixed with the selector byte that
# fuzz/hypercore_v11_fuzz.cpp reads. Run from the repository root.
import json, os

SELECTOR = {'handshake': 0, 'sync': 1, 'request': 2, 'cancel': 3, 'data': 4, 'noData': 5,
            'want': 6, 'unwant': 7, 'bitfield': 8, 'range': 9, 'extension': 10,
            'manifest': 11, 'multiSignature': 12, 'multiSignaturev0': 13}
fixture = json.load(open('tests/fixtures/v11/hypercore.json'))
out = 'fuzz/corpus/hypercore_v11'
os.makedirs(out, exist_ok=True)
count = {}
def seed(name, selector, body):
    n = count.get(name, 0)
    count[name] = n + 1
    with open(os.path.join(out, f'{name}_{n:03d}'), 'wb') as f:
        f.write(bytes([selector]) + body)
for c in fixture['messages']:
    body = bytes.fromhex(c.get('encoded', c.get('input')))
    seed(c['type'], SELECTOR[c['type']], body)
for c in fixture['signatures']:
    if c.get('signature'):
        seed('signature', 14 if c['manifest']['version'] else 15, bytes.fromhex(c['signature']))
