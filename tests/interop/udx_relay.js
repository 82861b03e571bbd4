'use strict'

// A lossy UDP relay for tests/interop/udx_lossy.test.js and bench/run-udx.sh (the kernel here has
// no netem): two sockets on 127.0.0.1, one facing each end. Every datagram is forwarded to the
// other end after `delayMs`, and by seeded rules (a fixed PRNG, so a run can be replayed) dropped
// with probability `loss`, sent twice with `duplicate`, or held `reorderMs` longer with `reorder`
// (so later datagrams overtake it). Counts what it did per direction.

const dgram = require('dgram')

// mulberry32: a small seeded PRNG, [0, 1).
function prng (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

class LossyRelay {
  constructor ({ seed = 1, loss = 0, duplicate = 0, reorder = 0, delayMs = 0, reorderMs = 10 } = {}) {
    this.opts = { loss, duplicate, reorder, delayMs, reorderMs }
    this.random = prng(seed)
    this.stats = { forwarded: 0, dropped: 0, duplicated: 0, reordered: 0 }
    this.timers = new Set()
    this.closed = false
  }

  // Binds both sockets; `aPort` is side A's own port. A sends to facingA, whose datagrams leave
  // through facingB towards B; B sends to facingB, whose datagrams leave through facingA towards
  // A (so each end sees every datagram come from the address it sends to). Returns
  // { ourSide: the port B sends to, setOurPort(bPort) -> the port A sends to }.
  async start (aPort) {
    this.aPort = aPort
    this.bPort = 0
    this.facingA = dgram.createSocket('udp4')
    this.facingB = dgram.createSocket('udp4')
    for (const s of [this.facingA, this.facingB]) {
      await new Promise((resolve) => s.bind(0, '127.0.0.1', resolve))
      try { s.setRecvBufferSize(8 << 20); s.setSendBufferSize(8 << 20) } catch {}
    }
    this.facingA.on('message', (m) => { if (this.bPort) this.forward(m, this.facingB, this.bPort) })
    this.facingB.on('message', (m) => this.forward(m, this.facingA, this.aPort))
    return {
      ourSide: this.facingB.address().port,
      setOurPort: (bPort) => { this.bPort = bPort; return this.facingA.address().port }
    }
  }

  // `via` sends `m` to `port` after the rules have had their say.
  forward (m, via, port) {
    if (this.closed) return
    const { loss, duplicate, reorder, delayMs, reorderMs } = this.opts
    if (this.random() < loss) { this.stats.dropped++; return }
    let copies = 1
    if (this.random() < duplicate) { copies = 2; this.stats.duplicated++ }
    let delay = delayMs
    if (this.random() < reorder) { delay += reorderMs; this.stats.reordered++ }
    for (let i = 0; i < copies; i++) this.later(delay, () => { this.stats.forwarded++; via.send(m, port, '127.0.0.1') })
  }

  later (ms, fn) {
    if (ms <= 0) { fn(); return }
    const t = setTimeout(() => { this.timers.delete(t); if (!this.closed) fn() }, ms)
    this.timers.add(t)
  }

  async close () {
    if (this.closed) return
    this.closed = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    await Promise.all([this.facingA, this.facingB].map((s) => new Promise((resolve) => s.close(resolve))))
  }
}

module.exports = { LossyRelay, prng }
