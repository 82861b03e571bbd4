'use strict'

// Interop smoke test of the replication stream layer (docs/formats/wire.md): our Stream (Noise XX
// handshake, XSalsa20 transport, frames, channels, capabilities) in tests/interop/stream_peer.cpp
// against a JS hypercore 9.12.0 feed replicating over TCP (hypercore-protocol 8.0.7), with ours
// initiating and ours responding.
//
//   STREAM_PEER_BIN=/work/main/build/tests/stream_peer node --test tests/interop/stream.test.js
//
// Network: loopback only (the JS side listens on 127.0.0.1, our peer binds 127.0.0.2); ctest runs
// it inside the loopback-only namespace of scripts/test.sh (docs/testing.md "Isolation").

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('fs')
const net = require('net')

const { startJsonPeer, event } = require('./lib/json_peer')

const hypercore = require('hypercore')
const ram = require('random-access-memory')
const bitfieldRle = require('bitfield-rle')

const PEER_BIN = process.env.STREAM_PEER_BIN
if (!PEER_BIN || !fs.existsSync(PEER_BIN)) {
  throw new Error('STREAM_PEER_BIN must name the stream_peer binary (build target stream_peer)')
}
const TIMEOUT = { timeout: 60000 }
const WINDOW = 1048576

// ---------------------------------------------------------------------------------------------
// helpers

// Runs stream_peer; collects its JSON lines (lib/json_peer.js). `lines` fills as they arrive.
function startPeer (args) {
  return startJsonPeer(PEER_BIN, args, { lineMax: 300 })
}

function once (emitter, name) {
  return new Promise((resolve) => emitter.once(name, resolve))
}

async function makeFeed (blocks) {
  const feed = hypercore(ram)
  await new Promise((resolve, reject) => feed.append(blocks, (err) => err ? reject(err) : resolve()))
  return feed
}

// A feed of 3 blocks: 'a', 'b' and 200 kB of pseudo-random bytes (crosses many TCP segments).
function blocks () {
  const big = Buffer.alloc(200000)
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24
  return [Buffer.from('a'), Buffer.from('b'), big]
}

// Records what the JS side of one replication stream saw.
function watchJs (feed, stream) {
  const seen = { errors: [], peerOpen: false, peerRemove: false, closed: false }
  stream.on('error', (err) => seen.errors.push(err.message))
  stream.on('close', () => { seen.closed = true })
  feed.on('peer-open', () => { seen.peerOpen = true })
  feed.on('peer-remove', () => { seen.peerRemove = true })
  return seen
}

function listen (server, host) {
  return new Promise((resolve) => server.listen(0, host, () => resolve(server.address().port)))
}

// Checks the lines of a peer that opened `feed`, sent Want{0, 1048576} and Request{2}, and quit
// after the Data: handshake keys, capability accepted both ways, the JS answers, close.
function checkReplicationLines (p, feed, jsStream, initiator) {
  const hex = (b) => b.toString('hex')
  const dk = hex(feed.discoveryKey)
  const hs = p.lines.find(event('handshake'))
  assert.ok(hs, 'handshake line\n' + p.describe())
  assert.equal(hs.initiator, initiator)
  assert.equal(hs.remotePublicKey, hex(jsStream.publicKey), 'we see the JS static key')
  assert.equal(hs.publicKey, hex(jsStream.remotePublicKey), 'JS sees our static key')

  const open = p.lines.find(event('open'))
  assert.deepEqual(open, { event: 'open', discoveryKey: dk, localId: 1 })
  // remote-open means the JS capability verified on our side.
  const ro = p.lines.find(event('remote-open'))
  assert.ok(ro, 'the JS Open was accepted\n' + p.describe())
  assert.equal(ro.discoveryKey, dk)
  assert.equal(ro.localId, 1)

  const msgs = p.lines.filter(event('message'))
  assert.ok(msgs.every((m) => m.channel === 1), 'everything arrives on our channel 1')
  // A writable JS feed does not download: Status{uploading: true, downloading: false}.
  const status = msgs.find((m) => m.type === 'Status')
  assert.deepEqual(status, { event: 'message', channel: 1, type: 'Status', uploading: true, downloading: false })
  // Answering our Want: first the length hint Have{start: length - 1} (length omitted), then the
  // window with its RLE bitfield (replicate.js:156-170).
  const haves = msgs.filter((m) => m.type === 'Have')
  assert.deepEqual(haves[0], { event: 'message', channel: 1, type: 'Have', start: feed.length - 1 })
  const win = haves.find((h) => h.length === WINDOW)
  assert.ok(win, 'a Have for the whole window\n' + p.describe())
  assert.equal(win.start, 0)
  const bits = bitfieldRle.decode(Buffer.from(win.bitfield, 'hex'))
  assert.equal(bits[0], 0xe0, 'blocks 0, 1 and 2 are set')
  assert.ok(bits.subarray(1).every((b) => b === 0))
  // Answering our Request{2}: the 200 kB block, a proof node and a signature.
  const data = msgs.find((m) => m.type === 'Data')
  assert.ok(data, 'a Data message\n' + p.describe())
  assert.equal(data.index, 2)
  assert.equal(data.value, blocks()[2].toString('hex'))
  assert.equal(data.signature, true)
  assert.ok(data.nodes >= 1)

  const closes = p.lines.filter(event('close'))
  assert.equal(closes.length, 1, 'one close\n' + p.describe())
  assert.equal(closes[0].code, 'closed')
  assert.match(closes[0].message, /done: got the data/)
  assert.ok(p.lines.find(event('channel-close')), 'our channel closed')
}

const PEER_ARGS = ['--want', '--request', '2', '--quit-after', 'data', '--timeout-ms', '20000']

// ---------------------------------------------------------------------------------------------
// tests

test('ours initiating: handshake, capabilities, messages and close with a JS responder', TIMEOUT, async () => {
  const feed = await makeFeed(blocks())
  let jsStream = null
  let seen = null
  const server = net.createServer((socket) => {
    socket.on('error', () => {})
    jsStream = feed.replicate(false, { live: true })
    seen = watchJs(feed, jsStream)
    socket.pipe(jsStream).pipe(socket)
  })
  const port = await listen(server, '127.0.0.1')
  const p = startPeer(['--connect', '127.0.0.1:' + port, '--bind', '127.0.0.2', '--key', feed.key.toString('hex'), ...PEER_ARGS])
  try {
    const res = await p.exited
    assert.deepEqual(res, { code: 0, signal: null }, p.describe())
    const conn = p.lines.find(event('connected'))
    assert.equal(conn.localAddress, '127.0.0.2')
    assert.equal(conn.remotePort, port)
    checkReplicationLines(p, feed, jsStream, true)
    // JS accepted our capability (peer-open needs a verified remote Open) and our Close.
    assert.ok(seen.peerOpen, 'JS emitted peer-open')
    await waitUntil(() => seen.peerRemove && seen.closed)
    assert.deepEqual(seen.errors, [], 'the JS stream saw no error')
  } finally {
    p.kill()
    server.close()
    await new Promise((resolve) => feed.close(resolve))
  }
})

test('ours responding: a JS initiator connects to our listener', TIMEOUT, async () => {
  const feed = await makeFeed(blocks())
  // --max-output 0: our reader pauses whenever output is unwritten (the high-water path).
  const p = startPeer(['--listen', '127.0.0.2:0', '--key', feed.key.toString('hex'), '--max-output', '0', ...PEER_ARGS])
  let socket = null
  try {
    const l = await p.waitFor(event('listening'))
    assert.equal(l.host, '127.0.0.2')
    socket = net.connect(l.port, '127.0.0.2')
    socket.on('error', () => {})
    const jsStream = feed.replicate(true, { live: true })
    const seen = watchJs(feed, jsStream)
    socket.pipe(jsStream).pipe(socket)
    const res = await p.exited
    assert.deepEqual(res, { code: 0, signal: null }, p.describe())
    checkReplicationLines(p, feed, jsStream, false)
    assert.ok(seen.peerOpen, 'JS emitted peer-open')
    await waitUntil(() => seen.peerRemove && seen.closed)
    assert.deepEqual(seen.errors, [], 'the JS stream saw no error')
  } finally {
    p.kill()
    if (socket) socket.destroy()
    await new Promise((resolve) => feed.close(resolve))
  }
})

test('a core we do not open is refused with Close{discoveryKey}; stream-level extensions arrive', TIMEOUT, async () => {
  const feed = await makeFeed(blocks())
  let jsStream = null
  let seen = null
  let jsSocket = null
  const server = net.createServer((socket) => {
    jsSocket = socket
    socket.on('error', () => {})
    jsStream = feed.replicate(false, { live: true })
    seen = watchJs(feed, jsStream)
    // Stream-level extension (hypercore-protocol index.js:11-20): Options{['hello']} then
    // Extension{0, 'world'} on channel 0.
    const ext = jsStream.registerExtension('hello', { encoding: 'binary' })
    ext.send(Buffer.from('world'))
    socket.pipe(jsStream).pipe(socket)
  })
  const port = await listen(server, '127.0.0.1')
  const p = startPeer(['--connect', '127.0.0.1:' + port, '--bind', '127.0.0.2', '--timeout-ms', '20000'])
  try {
    const dk = await p.waitFor(event('discovery-key'))
    assert.equal(dk.discoveryKey, feed.discoveryKey.toString('hex'))
    // Our Close{discoveryKey} makes JS close its channel (index.js:178-204): the peer goes away.
    await waitUntil(() => seen && seen.peerRemove)
    assert.equal(seen.peerOpen, false, 'JS never saw an Open from us')
    const opts = await p.waitFor(event('stream-options'))
    assert.deepEqual(opts.extensions, ['hello'])
    const ext = await p.waitFor(event('stream-extension'))
    assert.equal(ext.id, 0)
    assert.equal(ext.payload, Buffer.from('world').toString('hex'))
    assert.equal(p.lines.filter(event('remote-open')).length, 0)
    assert.equal(p.lines.filter(event('message')).length, 0, 'nothing routed to a channel')
    // Ending the connection from the JS side closes our stream cleanly.
    jsSocket.end()
    jsStream.destroy()
    const res = await p.exited
    assert.equal(res.code, 0, p.describe())
    const close = p.lines.find(event('close'))
    assert.equal(close.code, 'closed', p.describe())
    assert.deepEqual(seen.errors, [])
  } finally {
    p.kill()
    server.close()
    await new Promise((resolve) => feed.close(resolve))
  }
})

test('a JS Open with a wrong capability closes our stream', TIMEOUT, async () => {
  const feed = await makeFeed(blocks())
  const Protocol = require('hypercore-protocol')
  const server = net.createServer((socket) => {
    socket.on('error', () => {})
    const jsStream = new Protocol(false, { live: true })
    jsStream.on('error', () => {})
    // A raw JS channel for the core whose Open carries 32 wrong bytes instead of the capability
    // (a given capability is sent as is: simple-hypercore-protocol index.js:190-194).
    const ch = jsStream.channelizer.createChannel(feed.discoveryKey)
    ch.key = feed.key
    jsStream.channelizer.attachLocal(ch)
    jsStream.state.open(ch.localId, { discoveryKey: feed.discoveryKey, capability: Buffer.alloc(32, 7) })
    socket.pipe(jsStream).pipe(socket)
  })
  const port = await listen(server, '127.0.0.1')
  const p = startPeer(['--connect', '127.0.0.1:' + port, '--bind', '127.0.0.2', '--key', feed.key.toString('hex'), '--timeout-ms', '20000'])
  try {
    const res = await p.exited
    assert.equal(res.code, 0, p.describe())
    const closes = p.lines.filter(event('close'))
    assert.equal(closes.length, 1, p.describe())
    assert.equal(closes[0].code, 'verification failed')
    assert.match(closes[0].message, /Invalid remote channel capability/)
    assert.equal(p.lines.filter(event('remote-open')).length, 0, p.describe())
  } finally {
    p.kill()
    server.close()
    await new Promise((resolve) => feed.close(resolve))
  }
})

async function waitUntil (cond, ms = 10000) {
  const start = Date.now()
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error('condition not met within ' + ms + ' ms')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
