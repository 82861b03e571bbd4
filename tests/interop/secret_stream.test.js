'use strict'

// Our secret-stream (src/v11/secretstream, driven by tests/interop/secret_stream_peer.cpp)
// against JS @hyperswarm/secret-stream 6.9.2 over TCP on loopback, each side as initiator and
// responder: the handshake and both remote public keys, messages of 0 B, 1 B, 64 KiB and the
// largest one frame holds, 100 MiB each way with checksums, half-close both ways; and JS-side
// misbehaviour (garbage, a wrong stream id, a tampered message) closing our stream with the
// right reason.
//
//   SECRET_STREAM_PEER_BIN=build/tests/secret_stream_peer node --test tests/interop/secret_stream.test.js

const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('crypto')
const net = require('net')
const path = require('path')

const SecretStream = require('@hyperswarm/secret-stream')
const { startJsonPeer } = require('./lib/json_peer')

const T = { timeout: 180000 }
const MAX_MESSAGE = (1 << 24) - 1 - 17
const SIZES = [0, 1, 65536, MAX_MESSAGE]
const BULK = { size: 1 << 20, count: 100 }  // 100 MiB

function peerBin () {
  const b = process.env.SECRET_STREAM_PEER_BIN
  if (!b) throw new Error('SECRET_STREAM_PEER_BIN is not set')
  return path.resolve(b)
}

const sha = b => crypto.createHash('sha256').update(b).digest('hex')
const seedOf = n => Buffer.alloc(32, n)

function sendArgs () {
  return ['--send', SIZES.join(','), '--repeat', BULK.size + ':' + BULK.count, '--end']
}

// The JS end: sends SIZES then BULK, ends, and records what it receives.
function jsEnd (isInitiator, socket) {
  const s = new SecretStream(isInitiator, socket, { keyPair: SecretStream.keyPair(seedOf(9)) })
  const got = []
  const sent = []
  let ended = false
  s.on('data', d => got.push({ size: d.byteLength, sha256: sha(d) }))
  s.on('end', () => { ended = true })
  s.on('error', () => {})
  const closed = new Promise(resolve => s.on('close', resolve))
  const done = (async () => {
    await s.opened
    const all = SIZES.concat(Array(BULK.count).fill(BULK.size))
    for (const n of all) {
      const m = crypto.randomBytes(n)
      sent.push({ size: n, sha256: sha(m) })
      if (!s.write(m)) await new Promise(resolve => s.once('drain', resolve))
    }
    s.end()
  })()
  return { s, got, sent, closed, done, isEnded: () => ended }
}

async function exchange (ourRole) {
  let ours, js, server
  if (ourRole === 'responder') {
    ours = startJsonPeer(peerBin(), ['--listen', '127.0.0.1:0', '--seed', '3', ...sendArgs()], { waitMs: 120000 })
    const { port } = await ours.waitFor(l => l.event === 'listening')
    const socket = net.connect(port, '127.0.0.1')
    js = jsEnd(true, socket)
  } else {
    const accepted = new Promise(resolve => {
      server = net.createServer(socket => resolve(jsEnd(false, socket)))
    })
    await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
    ours = startJsonPeer(peerBin(), ['--connect', '127.0.0.1:' + server.address().port, '--seed', '3', ...sendArgs()], { waitMs: 120000 })
    js = await accepted
  }
  try {
    const open = await ours.waitFor(l => l.event === 'open')
    await js.s.opened
    // Identities: each side sees the other's static key.
    assert.equal(open.remotePublicKey, SecretStream.keyPair(seedOf(9)).publicKey.toString('hex'))
    assert.equal(js.s.remotePublicKey.toString('hex'), open.publicKey)
    assert.equal(open.publicKey, SecretStream.keyPair(seedOf(3)).publicKey.toString('hex'))

    const closed = await ours.waitFor(l => l.event === 'closed', 120000)
    await js.done
    await js.closed
    assert.equal(closed.code, 'closed', ours.describe())
    assert.equal(closed.message, 'ended', ours.describe())
    assert.ok(ours.lines.some(l => l.event === 'end'), 'we saw the JS side end')
    assert.ok(js.isEnded(), 'the JS side saw our end')

    // JS -> ours: every message, in order, byte-identical.
    const received = ours.lines.filter(l => l.event === 'message').map(({ size, sha256 }) => ({ size, sha256 }))
    assert.equal(received.length, js.sent.length)
    assert.deepEqual(received, js.sent)
    // ours -> JS, the empty message included (JS delivers empty messages unless keep-alives are on).
    const ourSent = ours.lines.filter(l => l.event === 'sent').map(({ size, sha256 }) => ({ size, sha256 }))
    assert.equal(ourSent.length, SIZES.length + BULK.count)
    assert.deepEqual(js.got, ourSent)
  } finally {
    ours.kill()
    if (server) server.close()
  }
}

// A TCP relay between a JS client and our responder that changes the JS side's bytes.
async function tampered (mutate) {
  const ours = startJsonPeer(peerBin(), ['--listen', '127.0.0.1:0', '--seed', '3'])
  const { port } = await ours.waitFor(l => l.event === 'listening')
  const relay = net.createServer(client => {
    const upstream = net.connect(port, '127.0.0.1')
    let offset = 0
    client.on('data', d => {
      const copy = Buffer.from(d)
      mutate(copy, offset)
      offset += d.byteLength
      upstream.write(copy)
    })
    upstream.on('data', d => client.write(d))
    const stop = () => { client.destroy(); upstream.destroy() }
    client.on('error', stop)
    upstream.on('error', stop)
    upstream.on('close', stop)
  })
  await new Promise(resolve => relay.listen(0, '127.0.0.1', resolve))
  const socket = net.connect(relay.address().port, '127.0.0.1')
  const s = new SecretStream(true, socket, { keyPair: SecretStream.keyPair(seedOf(9)) })
  s.on('error', () => {})
  s.opened.then(ok => { if (ok) s.write(Buffer.from('hello there')) })
  try {
    return await ours.waitFor(l => l.event === 'closed', 30000)
  } finally {
    s.destroy()
    relay.close()
    ours.kill()
  }
}

// Byte offsets of the JS initiator's frames: m0 (35), m2 (67), setup (3 + 56), then messages.
const SETUP_AT = 35 + 67
const FIRST_MESSAGE_AT = SETUP_AT + 59

describe('secret-stream: ours and JS @hyperswarm/secret-stream 6.9.2 over TCP', () => {
  it('JS initiator, our responder: sizes up to the frame limit, 100 MiB each way, half-close', T, () => exchange('responder'))
  it('our initiator, JS responder: the same', T, () => exchange('initiator'))

  it('garbage instead of a handshake closes ours with HandshakeFailed', T, async () => {
    const ours = startJsonPeer(peerBin(), ['--listen', '127.0.0.1:0', '--seed', '3'])
    const { port } = await ours.waitFor(l => l.event === 'listening')
    const socket = net.connect(port, '127.0.0.1')
    socket.on('error', () => {})
    socket.write(Buffer.concat([Buffer.from([32, 0, 0]), crypto.randomBytes(32), Buffer.from([64, 0, 0]), crypto.randomBytes(64)]))
    const closed = await ours.waitFor(l => l.event === 'closed')
    socket.destroy()
    assert.equal(closed.code, 'handshake failed', ours.describe())
  })

  it('a wrong stream id closes ours with a protocol error', T, async () => {
    const closed = await tampered((buf, offset) => {
      const i = SETUP_AT + 3 + 5 - offset  // a byte of the stream id
      if (i >= 0 && i < buf.length) buf[i] ^= 1
    })
    assert.equal(closed.code, 'protocol error')
    assert.match(closed.message, /stream id/)
  })

  it('a tampered message closes ours with VerificationFailed', T, async () => {
    const closed = await tampered((buf, offset) => {
      const i = FIRST_MESSAGE_AT + 3 + 4 - offset  // a ciphertext byte of the first message
      if (i >= 0 && i < buf.length) buf[i] ^= 0x80
    })
    assert.equal(closed.code, 'verification failed')
    assert.match(closed.message, /did not decrypt/)
  })
})
