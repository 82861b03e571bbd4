'use strict'

// Interop of our UDX (src/v11/udx, src/v11/udx_io; docs/formats/udx.md) with udx-native 1.21.3:
// tests/interop/udx_peer.cpp holds one stream on its own UDP socket, this file the other on a
// udx-native socket, both on 127.0.0.1. Each side as the writer: 1 B, 64 KiB and 4 MB with every
// byte checked (a shared pattern) and a checksum compared; END both ways (both streams close
// cleanly); DESTROY in each direction; MESSAGE datagrams echoed back.
//
//   UDX_PEER_BIN=build/tests/udx_peer node --test tests/interop/udx.test.js
//
// Network: loopback only; ctest runs it inside the loopback-only namespace of scripts/test.sh.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('fs')

const UDX = require('udx-native')
const { startJsonPeer } = require('./lib/json_peer')

const PEER_BIN = process.env.UDX_PEER_BIN
if (!PEER_BIN || !fs.existsSync(PEER_BIN)) {
  throw new Error('UDX_PEER_BIN must name the udx_peer binary (build target udx_peer)')
}
const TIMEOUT = { timeout: 120000 }

// Byte i of every payload (udx_peer.cpp computes the same).
function pattern (from, n) {
  const b = Buffer.alloc(n)
  for (let k = 0; k < n; k++) {
    const i = from + k
    b[k] = (i * 31 + Math.floor(i / 2048)) & 0xff
  }
  return b
}

// FNV-1a 64 over the bytes, as a decimal string (as udx_peer reports it).
function fnvUpdate (h, buf) {
  for (const x of buf) h = BigInt.asUintN(64, (h ^ BigInt(x)) * 0x100000001b3n)
  return h
}

// Our peer and a udx-native stream connected to each other. `peerArgs` go to udx_peer.
async function pair (peerArgs) {
  const udx = new UDX()
  const socket = udx.createSocket()
  socket.bind(0, '127.0.0.1')
  const stream = udx.createStream(1)
  const peer = startJsonPeer(PEER_BIN, ['--local-id', '2', '--remote-id', '1', '--remote-port',
    String(socket.address().port), ...peerArgs], { stdin: 'pipe', waitMs: 60000 })
  const listening = await peer.waitFor((l) => l.event === 'listening')
  stream.connect(socket, 2, listening.port, '127.0.0.1')
  peer.child.stdin.write('go\n')
  const close = async () => {
    peer.kill()
    await socket.close()
  }
  return { udx, socket, stream, peer, close }
}

// Writes `size` pattern bytes on `stream` (then ends it) and reads the other side to its end.
function runJsSide (stream, size) {
  return new Promise((resolve, reject) => {
    let received = 0
    let ok = true
    let hash = 0xcbf29ce484222325n
    stream.on('data', (d) => {
      if (!d.equals(pattern(received, d.length))) ok = false
      hash = fnvUpdate(hash, d)
      received += d.length
    })
    stream.on('error', reject)
    stream.on('close', () => resolve({ received, ok, fnv: hash.toString() }))
    let sent = 0
    const step = 65536
    const writeMore = () => {
      while (sent < size) {
        const n = Math.min(step, size - sent)
        const more = stream.write(pattern(sent, n))
        sent += n
        if (!more) { stream.once('drain', writeMore); return }
      }
      stream.end()
    }
    writeMore()
  })
}

async function transfer (t, { ours, theirs }) {
  const p = await pair(['--send', String(ours)])
  t.after(p.close)
  const js = await runJsSide(p.stream, theirs)
  const done = await p.peer.waitFor((l) => l.event === 'done')
  assert.equal(js.received, ours, 'udx-native received every byte we sent')
  assert.ok(js.ok, 'udx-native received our bytes in order, unchanged')
  assert.equal(done.received, theirs, 'we received every byte udx-native sent\n' + p.peer.describe())
  assert.ok(done.ok, 'we received udx-native bytes in order, unchanged')
  assert.equal(done.reason, 'ended', 'our stream closed cleanly after END both ways')
  if (ours > 0) {
    const expected = fnvUpdate(0xcbf29ce484222325n, pattern(0, ours)).toString()
    assert.equal(js.fnv, expected, 'checksum of what udx-native received')
  }
  return done
}

for (const [name, ours, theirs] of [
  ['1 byte each way', 1, 1],
  ['ours writes 64 KiB', 65536, 0],
  ['udx-native writes 64 KiB', 0, 65536],
  ['ours writes 4 MB', 4000000, 10],
  ['udx-native writes 4 MB', 10, 4000000],
  ['4 MB both ways at once', 4000000, 4000000]
]) {
  test(name, TIMEOUT, async (t) => {
    const started = Date.now()
    const done = await transfer(t, { ours, theirs })
    t.diagnostic(`${name}: ${Date.now() - started} ms, our retransmits ${done.retransmits}, timeouts ${done.timeouts}`)
  })
}

test('udx-native destroys: our stream is reset', TIMEOUT, async (t) => {
  const p = await pair(['--send', '0'])
  t.after(p.close)
  p.stream.on('error', () => {})
  p.stream.write(pattern(0, 1000))
  await new Promise((resolve) => setTimeout(resolve, 300))
  p.stream.destroy()
  const done = await p.peer.waitFor((l) => l.event === 'done')
  assert.equal(done.received, 1000)
  assert.match(done.reason, /reset/)
})

test('ours destroys: udx-native sees ECONNRESET', TIMEOUT, async (t) => {
  const p = await pair(['--send', '0', '--destroy-after', '1000'])
  t.after(p.close)
  const err = new Promise((resolve) => {
    p.stream.on('error', resolve)
    p.stream.on('close', () => resolve(null))
  })
  p.stream.write(pattern(0, 1000))
  const e = await err
  assert.ok(e, 'udx-native reported an error')
  assert.equal(e.code, 'ECONNRESET')
  const done = await p.peer.waitFor((l) => l.event === 'done')
  assert.match(done.reason, /destroyed/)
})

test('MESSAGE datagrams both ways', TIMEOUT, async (t) => {
  const p = await pair(['--send', '0', '--echo-messages'])
  t.after(p.close)
  const echoed = []
  p.stream.on('message', (m) => echoed.push(m.toString()))
  const sent = []
  for (let i = 0; i < 10; i++) {
    sent.push('message ' + i)
    await p.stream.send(Buffer.from('message ' + i))
  }
  const deadline = Date.now() + 10000
  while (echoed.length < sent.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  assert.deepEqual(echoed.sort(), sent.sort(), 'every message came back (loopback drops none)')
  const closed = runJsSide(p.stream, 0)
  await closed
  const done = await p.peer.waitFor((l) => l.event === 'done')
  assert.equal(done.reason, 'ended')
})
