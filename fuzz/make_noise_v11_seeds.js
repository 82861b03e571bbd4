// Writes the seed corpus of fuzz/noise_v11_fuzz.cpp (fuzz/corpus/noise_v11/): honest handshakes
// by the pinned JS noise-handshake with the target's fixed keys, in its input format, so that the
// fuzzer starts from inputs that complete, plus a few broken ones. Run after `npm ci` in
// tests/interop:   node fuzz/make_noise_v11_seeds.js
'use strict'
const path = require('path')
const fs = require('fs')
const { createRequire } = require('module')
const req = createRequire(path.join(__dirname, '../tests/interop/package.json'))
const Noise = req('noise-handshake')
const curve = req('noise-curve-ed')

const key = (byte) => curve.generateKeyPair(Buffer.alloc(32, byte))
const out = path.join(__dirname, 'corpus/noise_v11')
fs.mkdirSync(out, { recursive: true })

function transcript (pattern, withPayload) {
  const i = new Noise(pattern, true, key(0x11), { curve })
  const r = new Noise(pattern, false, key(0x22), { curve })
  i.initialise(Buffer.alloc(0), pattern === 'IK' ? key(0x22).publicKey : undefined)
  r.initialise(Buffer.alloc(0))
  i.e = key(0x33)
  r.e = key(0x44)
  const payload = withPayload ? Buffer.from('pay') : Buffer.alloc(0)
  const messages = []
  const count = pattern === 'XX' ? 3 : 2
  for (let k = 0; k < count; k++) {
    const [w, rd] = k % 2 === 0 ? [i, r] : [r, i]
    const m = w.send(payload)
    messages.push(Buffer.from(m))
    rd.recv(m)
  }
  return messages
}

const framed = (messages) => Buffer.concat(messages.flatMap((m) => {
  const len = Buffer.alloc(2)
  len.writeUInt16LE(m.length)
  return [len, m]
}))

for (const pattern of ['XX', 'IK']) {
  for (const withPayload of [false, true]) {
    const messages = transcript(pattern, withPayload)
    const count = messages.length
    for (let first = 0; first < count; first++) {
      // The peer's messages from `first` on: every other one.
      const peer = messages.filter((_, k) => k >= first && (k - first) % 2 === 0)
      const mode = (pattern === 'IK' ? 1 : 0) | (first << 1) | (withPayload ? 8 : 0)
      const name = `${pattern.toLowerCase()}_m${first}${withPayload ? '_payload' : ''}`
      fs.writeFileSync(path.join(out, name), Buffer.concat([Buffer.from([mode]), framed(peer)]))
      const broken = Buffer.from(peer[0])
      broken[broken.length - 1] ^= 0x80
      fs.writeFileSync(path.join(out, name + '_tampered'), Buffer.concat([Buffer.from([mode]), framed([broken])]))
    }
  }
}
fs.writeFileSync(path.join(out, 'xx_m0_short'), Buffer.from([0, 5, 0, 1, 2, 3, 4, 5]))
console.log('wrote', fs.readdirSync(out).length, 'seeds')
