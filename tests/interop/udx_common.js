'use strict'

// Shared by tests/interop/udx*.test.js: the byte pattern both ends write and check, our peer
// (tests/interop/udx_peer.cpp) and udx-native streams connected to it, and the udx-native side of a
// transfer. Loopback only.

const crypto = require('crypto')
const fs = require('fs')

const UDX = require('udx-native')
const { startJsonPeer } = require('./lib/json_peer')

const PEER_BIN = process.env.UDX_PEER_BIN
if (!PEER_BIN || !fs.existsSync(PEER_BIN)) {
  throw new Error('UDX_PEER_BIN must name the udx_peer binary (build target udx_peer)')
}

// Byte i of every payload is (i * 31 + floor(i / 2048)) & 0xff (udx_peer.cpp computes the same);
// it repeats every 512 KiB, so one precomputed buffer serves every slice of up to one period.
const PERIOD = 2048 * 256
const PATTERN = Buffer.alloc(2 * PERIOD)
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = (i * 31 + Math.floor(i / 2048)) & 0xff

function pattern (from, n) {
  if (n > PERIOD) throw new Error('pattern slices are at most one period')
  const off = from % PERIOD
  return PATTERN.subarray(off, off + n)
}

// sha256 of `size` pattern bytes, as udx_peer reports it.
function patternSha256 (size) {
  const h = crypto.createHash('sha256')
  for (let done = 0; done < size;) {
    const n = Math.min(PERIOD, size - done)
    h.update(pattern(done, n))
    done += n
  }
  return h.digest('hex')
}

// Our peer with `count` streams on one socket and as many udx-native streams on one udx-native
// socket, connected pairwise (udx-native stream i: id 1000 + i; ours: 2000 + i). `target` (optional)
// gives the address each side sends to instead of the other's own socket, for a relay in between:
// target({ jsPort, ourPort }) -> { jsSendsTo, weSendTo } (ports on 127.0.0.1).
async function pair (peerArgs, { count = 1, relay = null } = {}) {
  const udx = new UDX()
  const socket = udx.createSocket()
  socket.bind(0, '127.0.0.1')
  const jsPort = socket.address().port
  let ourTarget = jsPort
  let setOurPort = null
  if (relay) {
    const r = await relay.start(jsPort)
    ourTarget = r.ourSide
    setOurPort = r.setOurPort
  }
  const peer = startJsonPeer(PEER_BIN, ['--local-id', '2000', '--remote-id', '1000', '--remote-port',
    String(ourTarget), '--streams', String(count), ...peerArgs], { stdin: 'pipe', waitMs: 120000 })
  const listening = await peer.waitFor((l) => l.event === 'listening')
  let jsTarget = listening.port
  if (relay) jsTarget = setOurPort(listening.port)
  const streams = []
  for (let i = 0; i < count; i++) {
    const s = udx.createStream(1000 + i)
    s.connect(socket, 2000 + i, jsTarget, '127.0.0.1')
    streams.push(s)
  }
  peer.child.stdin.write('go\n')
  const close = async () => {
    peer.kill()
    for (const s of streams) s.destroy()
    await socket.close()
    if (relay) await relay.close()
  }
  return { udx, socket, stream: streams[0], streams, peer, close }
}

// Writes `size` pattern bytes on `stream` (then ends it) and reads the other side to its end.
// Resolves with { received, ok, sha256 } once the stream closed.
function runJsSide (stream, size) {
  return new Promise((resolve, reject) => {
    let received = 0
    let ok = true
    const hash = crypto.createHash('sha256')
    stream.on('data', (d) => {
      for (let at = 0; at < d.length && ok;) {
        const n = Math.min(PERIOD, d.length - at)
        if (!d.subarray(at, at + n).equals(pattern(received + at, n))) ok = false
        at += n
      }
      hash.update(d)
      received += d.length
    })
    stream.on('error', reject)
    stream.on('close', () => resolve({ received, ok, sha256: hash.digest('hex') }))
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

module.exports = { UDX, PERIOD, pattern, patternSha256, pair, runJsSide }
