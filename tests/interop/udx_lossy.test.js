'use strict'

// Our UDX against udx-native 1.21.3 through a lossy relay (tests/interop/udx_relay.js: a UDP
// forwarder between the two ends that drops, duplicates, reorders and delays datagrams by seeded
// rules; the kernel here has no netem). 1 % and 5 % loss, each with 20 ms delay each way, 1 %
// duplicates and 2 % of datagrams held 10 ms longer: each side as the writer, and both at once,
// everything arrives intact (sha256) and in order (every byte checked), and both ends close
// cleanly after END both ways. Then a few streams at once on one socket pair through the relay.
//
//   UDX_PEER_BIN=build/tests/udx_peer node --test tests/interop/udx_lossy.test.js
//
// Network: loopback only; ctest runs it inside a loopback-only namespace.

const { test } = require('node:test')
const assert = require('node:assert/strict')

const { patternSha256, pair, runJsSide } = require('./udx_common')
const { LossyRelay } = require('./udx_relay')

const TIMEOUT = { timeout: 180000 }

function relay (loss, seed) {
  return new LossyRelay({ seed, loss, duplicate: 0.01, reorder: 0.02, delayMs: 20, reorderMs: 10 })
}

async function transfer (t, { ours, theirs, loss, seed, count = 1 }) {
  const r = relay(loss, seed)
  const p = await pair(['--send', String(ours)], { relay: r, count })
  t.after(p.close)
  const started = Date.now()
  const js = await Promise.all(p.streams.map((s) => runJsSide(s, theirs)))
  await p.peer.waitFor((l) => l.event === 'all-done')
  const ms = Date.now() - started
  for (let i = 0; i < count; i++) {
    const done = p.peer.lines.find((l) => l.event === 'done' && l.index === i)
    const where = `stream ${i}\n` + p.peer.describe()
    assert.equal(js[i].received, ours, 'udx-native received every byte we sent, ' + where)
    assert.ok(js[i].ok, 'udx-native received our bytes in order, unchanged, ' + where)
    assert.equal(js[i].sha256, patternSha256(ours), 'checksum of what udx-native received, ' + where)
    assert.equal(done.received, theirs, 'we received every byte udx-native sent, ' + where)
    assert.ok(done.ok, 'we received udx-native bytes in order, unchanged, ' + where)
    assert.equal(done.sha256, patternSha256(theirs), 'checksum of what we received, ' + where)
    // udx-native closes as soon as both ENDs are acknowledged; when its last ack is lost our END
    // stays unanswered and our stream closes as "ended, our END unacknowledged" (stream.h).
    assert.match(done.reason, /^ended/, 'our stream closed cleanly after END both ways, ' + where)
  }
  assert.ok(r.stats.dropped > 0, 'the relay dropped datagrams')
  const first = p.peer.lines.find((l) => l.event === 'done')
  t.diagnostic(`loss ${loss * 100}%: ours ${ours} B, udx-native ${theirs} B x ${count}: ${ms} ms; relay ` +
    `${JSON.stringify(r.stats)}; our retransmits ${first.retransmits}, timeouts ${first.timeouts}`)
}

let seed = 1
for (const loss of [0.01, 0.05]) {
  const size = 1000000
  test(`${loss * 100}% loss, 20 ms delay: ours writes ${size} B`, TIMEOUT, (t) =>
    transfer(t, { ours: size, theirs: 0, loss, seed: seed++ }))
  test(`${loss * 100}% loss, 20 ms delay: udx-native writes ${size} B`, TIMEOUT, (t) =>
    transfer(t, { ours: 0, theirs: size, loss, seed: seed++ }))
  test(`${loss * 100}% loss, 20 ms delay: both write ${size} B at once`, TIMEOUT, (t) =>
    transfer(t, { ours: size, theirs: size, loss, seed: seed++ }))
}

test('5% loss, 20 ms delay: 10 streams on one socket pair, both ways', TIMEOUT, (t) =>
  transfer(t, { ours: 100000, theirs: 100000, loss: 0.05, seed: 99, count: 10 }))
