'use strict'

// Interop of our UDX (src/v11/udx, src/v11/udx_io; docs/formats/udx.md) with udx-native 1.21.3:
// tests/interop/udx_peer.cpp holds our streams on one UDP socket, this file the others on a
// udx-native socket, both on 127.0.0.1. Each side as the writer: 1 B, 64 KiB, 4 MB and 100 MB with
// every byte checked (a shared pattern) and a sha256 compared; END both ways (both streams close
// cleanly); DESTROY in each direction; MESSAGE datagrams echoed back; 50 streams on one socket
// pair at once. The same through a lossy relay: udx_lossy.test.js.
//
//   UDX_PEER_BIN=build/tests/udx_peer node --test tests/interop/udx.test.js
//
// Network: loopback only; ctest runs it inside the loopback-only namespace of scripts/test.sh.

const { test } = require('node:test')
const assert = require('node:assert/strict')

const { pattern, patternSha256, pair, runJsSide } = require('./udx_common')

const TIMEOUT = { timeout: 120000 }

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
  assert.equal(js.sha256, patternSha256(ours), 'checksum of what udx-native received')
  assert.equal(done.sha256, patternSha256(theirs), 'checksum of what we received')
  return done
}

for (const [name, ours, theirs] of [
  ['1 byte each way', 1, 1],
  ['ours writes 64 KiB', 65536, 0],
  ['udx-native writes 64 KiB', 0, 65536],
  ['ours writes 4 MB', 4000000, 10],
  ['udx-native writes 4 MB', 10, 4000000],
  ['4 MB both ways at once', 4000000, 4000000],
  ['ours writes 100 MB', 100000000, 0],
  ['udx-native writes 100 MB', 0, 100000000]
]) {
  test(name, TIMEOUT, async (t) => {
    const started = Date.now()
    const done = await transfer(t, { ours, theirs })
    const ms = Date.now() - started
    const mb = Math.max(ours, theirs) / 1e6
    t.diagnostic(`${name}: ${ms} ms (${(mb / (ms / 1000)).toFixed(1)} MB/s), our retransmits ${done.retransmits}, timeouts ${done.timeouts}`)
  })
}

// 50 streams on one socket pair at once, both directions on every stream, each with its own
// size so that a byte delivered to the wrong stream shows.
test('50 streams on one socket pair, both ways at once', TIMEOUT, async (t) => {
  const count = 50
  const ours = 200000
  const p = await pair(['--send', String(ours)], { count })
  t.after(p.close)
  const theirs = (i) => 1000 + i * 4099
  const js = await Promise.all(p.streams.map((s, i) => runJsSide(s, theirs(i))))
  await p.peer.waitFor((l) => l.event === 'all-done')
  const expected = patternSha256(ours)
  for (let i = 0; i < count; i++) {
    const done = p.peer.lines.find((l) => l.event === 'done' && l.index === i)
    assert.ok(done, `our stream ${i} reported`)
    assert.equal(js[i].received, ours, `udx-native stream ${i} received every byte`)
    assert.ok(js[i].ok, `udx-native stream ${i}: bytes in order, unchanged`)
    assert.equal(js[i].sha256, expected, `udx-native stream ${i}: checksum`)
    assert.equal(done.received, theirs(i), `our stream ${i} received every byte`)
    assert.ok(done.ok, `our stream ${i}: bytes in order, unchanged`)
    assert.equal(done.sha256, patternSha256(theirs(i)), `our stream ${i}: checksum`)
    assert.equal(done.reason, 'ended', `our stream ${i} closed cleanly`)
  }
})

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
