'use strict'

// secret-stream over UDX: our v11::SecretStream with its pump unchanged (src/v11/secretstream/
// secret_stream_pump.h) over our UDX stream as a duplex (src/v11/udx_io/duplex.h), driven by
// tests/interop/udx_secret_stream_peer.cpp, against JS @hyperswarm/secret-stream over a udx-native
// stream, each side as initiator: the handshake and both public keys, messages of 1 B, 64 KiB and
// 20 x 1 MiB each way with checksums, half-close both ways, both ends closing cleanly.
//
//   UDX_SECRET_STREAM_PEER_BIN=build/tests/udx_secret_stream_peer node --test tests/interop/udx_secret_stream.test.js
//
// Network: loopback only; ctest runs it inside a loopback-only namespace.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('crypto')
const fs = require('fs')

const UDX = require('udx-native')
const SecretStream = require('@hyperswarm/secret-stream')
const { startJsonPeer } = require('./lib/json_peer')

const BIN = process.env.UDX_SECRET_STREAM_PEER_BIN
if (!BIN || !fs.existsSync(BIN)) {
  throw new Error('UDX_SECRET_STREAM_PEER_BIN must name the udx_secret_stream_peer binary')
}
const T = { timeout: 120000 }
const SIZES = [1, 65536].concat(Array(20).fill(1 << 20))
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex')

// What udx_secret_stream_peer sends as message i of size n.
function ourMessage (i, n) {
  const b = Buffer.alloc(n)
  for (let k = 0; k < n; k++) b[k] = (i * 7 + k) & 0xff
  return b
}

async function run (t, { weInitiate }) {
  const udx = new UDX()
  const socket = udx.createSocket()
  socket.bind(0, '127.0.0.1')
  const args = ['--local-id', '2', '--remote-id', '1', '--remote-port', String(socket.address().port),
    '--seed', '3', '--repeat', '1:1', '--repeat', '65536:1', '--repeat', String(1 << 20) + ':20', '--end']
  if (weInitiate) args.push('--initiator')
  const peer = startJsonPeer(BIN, args, { stdin: 'pipe', waitMs: 100000, lineMax: 300 })
  const raw = udx.createStream(1)
  t.after(async () => { peer.kill(); raw.destroy(); await socket.close() })
  const { port } = await peer.waitFor((l) => l.event === 'listening')
  raw.connect(socket, 2, port, '127.0.0.1')
  peer.child.stdin.write('go\n')

  const keyPair = SecretStream.keyPair(Buffer.alloc(32, 9))
  const s = new SecretStream(!weInitiate, raw, { keyPair })
  const got = []
  let ended = false
  s.on('data', (d) => got.push({ size: d.byteLength, sha256: sha(d) }))
  s.on('end', () => { ended = true })
  const errors = []
  s.on('error', (e) => errors.push(e))
  const closed = new Promise((resolve) => s.on('close', resolve))
  await s.opened
  const sent = []
  for (const n of SIZES) {
    const m = crypto.randomBytes(n)
    sent.push({ size: n, sha256: sha(m) })
    if (!s.write(m)) await new Promise((resolve) => s.once('drain', resolve))
  }
  s.end()

  const open = await peer.waitFor((l) => l.event === 'open')
  assert.equal(open.publicKey, s.remotePublicKey.toString('hex'), 'JS sees our static key')
  assert.equal(open.remotePublicKey, keyPair.publicKey.toString('hex'), 'we see the JS static key')
  const closedLine = await peer.waitFor((l) => l.event === 'closed')
  await closed
  assert.deepEqual(errors, [], 'no error on the JS side')
  assert.ok(ended, 'JS saw our end')
  assert.equal(closedLine.code, 'closed', peer.describe())
  assert.equal(closedLine.message, 'ended', 'our pump ended cleanly both ways\n' + peer.describe())
  assert.match(closedLine.udx, /^ended/, 'our UDX stream closed after END both ways')
  const ours = peer.lines.filter((l) => l.event === 'message').map((l) => ({ size: l.size, sha256: l.sha256 }))
  assert.deepEqual(ours, sent, 'we received every JS message, in order, unchanged')
  assert.ok(peer.lines.some((l) => l.event === 'end'), 'we saw the JS end')
  const expected = SIZES.map((n, i) => ({ size: n, sha256: sha(ourMessage(i, n)) }))
  assert.deepEqual(got, expected, 'JS received every message of ours, in order, unchanged')
}

test('secret-stream over UDX: JS initiates', T, (t) => run(t, { weInitiate: false }))
test('secret-stream over UDX: we initiate', T, (t) => run(t, { weInitiate: true }))
