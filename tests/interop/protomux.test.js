'use strict'

// Our protomux over our secret-stream (tests/interop/protomux_peer.cpp) against JS protomux
// 3.12.1 over JS @hyperswarm/secret-stream 6.9.2, on TCP: a protocol with three message types on
// 100 channels, 50 opened by each side; a channel of an unknown protocol rejected (both ways);
// a channel closed by each side with the stream and the other channels kept; both roles.
//
//   PROTOMUX_PEER_BIN=build/tests/protomux_peer node --test tests/interop/protomux.test.js

const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const net = require('net')
const path = require('path')

const SecretStream = require('@hyperswarm/secret-stream')
const Protomux = require('protomux')
const c = require('compact-encoding')
const { startJsonPeer } = require('./lib/json_peer')
const { eventually } = require('./lib/util')

const T = { timeout: 120000 }
const N = 50

function peerBin () {
  const b = process.env.PROTOMUX_PEER_BIN
  if (!b) throw new Error('PROTOMUX_PEER_BIN is not set')
  return path.resolve(b)
}

// The JS side: opens j-0..j-49, accepts the peer's channels, sends three messages on each.
function jsSide (stream) {
  const mux = new Protomux(stream)
  const got = {}
  const opened = {}
  const closed = {}
  const rejected = []
  const channels = {}
  function channel (id) {
    const ch = mux.createChannel({
      protocol: 'test/proto',
      id: Buffer.from(id),
      handshake: c.raw,
      messages: [0, 1, 2].map(type => ({
        encoding: c.string,
        onmessage (m) { (got[id] = got[id] || []).push([type, m]) }
      })),
      onopen (handshake) {
        opened[id] = handshake.toString()
        for (let t = 0; t < 3; t++) ch.messages[t].send('t' + t + ':' + id)
      },
      onclose (isRemote) { closed[id] = isRemote }
    })
    channels[id] = ch
    return ch
  }
  mux.pair({ protocol: 'test/proto' }, id => { const ch = channel(id.toString()); if (ch) ch.open(Buffer.from('js')) })
  for (let i = 0; i < N; i++) channel('j-' + i).open(Buffer.from('js'))
  const stranger = mux.createChannel({
    protocol: 'js/only-protocol',
    onclose (isRemote) { if (isRemote) rejected.push('js/only-protocol') }
  })
  stranger.open()
  return { mux, got, opened, closed, rejected, channels }
}

async function run (ourRole) {
  let ours, jsStream, server
  if (ourRole === 'responder') {
    ours = startJsonPeer(peerBin(), ['--listen', '127.0.0.1:0', '--channels', String(N)], { stdin: 'pipe' })
    const { port } = await ours.waitFor(l => l.event === 'listening')
    jsStream = new SecretStream(true, net.connect(port, '127.0.0.1'))
  } else {
    const accepted = new Promise(resolve => {
      server = net.createServer(socket => resolve(new SecretStream(false, socket)))
    })
    await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
    ours = startJsonPeer(peerBin(), ['--connect', '127.0.0.1:' + server.address().port, '--channels', String(N)], { stdin: 'pipe' })
    jsStream = await accepted
  }
  jsStream.on('error', () => {})
  const js = jsSide(jsStream)
  try {
    // 100 channels open on both sides, with each other's handshakes.
    await eventually(() => assert.equal(ours.lines.filter(l => l.event === 'open').length, 2 * N), 30000, 'our 100 opens')
    await eventually(() => assert.equal(Object.keys(js.opened).length, 2 * N), 30000, 'JS 100 opens')
    assert.ok(ours.lines.filter(l => l.event === 'open').every(l => l.handshake === 'js'))
    assert.ok(Object.values(js.opened).every(h => h === 'cpp'))

    // Three typed messages on every channel, both ways.
    await eventually(() => {
      const ids = Object.keys(js.got)
      assert.equal(ids.length, 2 * N)
      for (const id of ids) assert.deepEqual(js.got[id], [[0, 't0:' + id], [1, 't1:' + id], [2, 't2:' + id]])
    }, 30000, 'JS receives 300 messages')
    await eventually(() => assert.equal(ours.lines.filter(l => l.event === 'message').length, 6 * N), 30000, 'we receive 300 messages')
    for (const l of ours.lines.filter(l => l.event === 'message')) assert.equal(l.payload, 't' + l.type + ':' + l.id)

    // Unknown protocols are rejected both ways; the stream stays.
    await ours.waitFor(l => l.event === 'rejected' && l.protocol === 'nobody/speaks-this')
    await eventually(() => assert.deepEqual(js.rejected, ['js/only-protocol']), 10000, 'JS sees its rejection')

    // Ours closed c-0 after its three messages; JS closes j-1; the others keep working.
    await eventually(() => assert.equal(js.closed['c-0'], true), 10000, 'JS sees c-0 closed')
    js.channels['j-1'].close()
    await ours.waitFor(l => l.event === 'closed' && l.id === 'j-1' && l.remote === true)
    js.channels['j-2'].messages[0].send('echo:still open')
    await eventually(() => assert.deepEqual(js.got['j-2'].at(-1), [1, 'still open']), 10000, 'the echo on j-2')
    assert.equal(jsStream.destroyed, false)

    // End: stdin closes, our side ends; the JS side ends back.
    ours.child.stdin.end()
    jsStream.end()
    const done = await ours.waitFor(l => l.event === 'done', 20000)
    assert.equal(done.message, 'ended', ours.describe())
  } finally {
    ours.kill()
    jsStream.destroy()
    if (server) server.close()
  }
}

describe('protomux: ours and JS protomux 3.12.1 over secret-stream', () => {
  it('our side responds', T, () => run('responder'))
  it('our side initiates', T, () => run('initiator'))
})
