// Generates the byte-exact fixtures in tests/unit/protocol/messages_test.cpp and
// tests/unit/protocol/stream_fixture_test.cpp from the pinned JS packages (simple-hypercore-protocol
// 2.1.2, simple-message-channels 1.2.1, noise-protocol 3.0.1). Run with Node 20 after installing
// tests/interop:
//   node tests/unit/protocol/js/make_fixtures.js
// and paste each section into the table named in its header comment. The tests need nothing at run
// time. The C++ side builds the same values by case name; keep both lists in step.
'use strict'
const path = require('path')
const { createRequire } = require('module')
const req = createRequire(path.join(__dirname, '../../../interop/package.json'))

const messages = req('simple-hypercore-protocol/messages')
const SMC = req('simple-message-channels')
const dh = req('noise-protocol/dh')
const XOR = req('simple-hypercore-protocol/lib/xor')
const SimpleProtocol = req('simple-hypercore-protocol')

const fill = (byte, n) => Buffer.alloc(n, byte)
const seq = (n) => Buffer.from(Array.from({ length: n }, (_, i) => i & 0xff))
const hex = (b) => Buffer.from(b).toString('hex')

// One value per case; the C++ test (make_case in messages_test.cpp) builds the same value by name.
const cases = [
  ['open_min', 0, 'Open', { discoveryKey: fill(0xd1, 32) }],
  ['open_capability', 0, 'Open', { discoveryKey: fill(0xd1, 32), capability: fill(0xca, 32) }],
  ['open_empty_key', 0, 'Open', { discoveryKey: Buffer.alloc(0) }],
  ['options_empty', 1, 'Options', {}],
  ['options_full', 1, 'Options', { extensions: ['a', 'hypertrie', 'z\u00fc'], ack: true }],
  ['options_ack_false', 1, 'Options', { ack: false }],
  ['status_empty', 2, 'Status', {}],
  ['status_not_uploading', 2, 'Status', { uploading: false }],
  ['status_both', 2, 'Status', { uploading: true, downloading: false }],
  ['have_start', 3, 'Have', { start: 0 }],
  ['have_length_one', 3, 'Have', { start: 5, length: 1 }],
  ['have_big', 3, 'Have', { start: 2 ** 40 + 3, length: 2 ** 33, bitfield: Buffer.from([0x0f, 0x02, 0xe0]), ack: true }],
  ['have_empty_bitfield', 3, 'Have', { start: 0, length: 1048576, bitfield: Buffer.alloc(0) }],
  ['have_max_safe', 3, 'Have', { start: 2 ** 53 - 1, ack: false }],
  ['unhave_start', 4, 'Unhave', { start: 3 }],
  ['unhave_zero_length', 4, 'Unhave', { start: 0, length: 0 }],
  ['want_window', 5, 'Want', { start: 0, length: 1048576 }],
  ['want_start', 5, 'Want', { start: 2 ** 32 }],
  ['unwant', 6, 'Unwant', { start: 1, length: 2 }],
  ['request_min', 7, 'Request', { index: 0 }],
  ['request_full', 7, 'Request', { index: 7, bytes: 0, hash: true, nodes: 2 ** 35 + 1 }],
  ['request_bytes', 7, 'Request', { index: 0, bytes: 123456789012 }],
  ['cancel', 8, 'Cancel', { index: 3, bytes: 100, hash: false }],
  ['data_min', 9, 'Data', { index: 0 }],
  ['data_full', 9, 'Data', {
    index: 5,
    value: Buffer.from('hello'),
    nodes: [{ index: 10, hash: fill(0xab, 32), size: 5 }, { index: 3, hash: fill(0xcd, 32), size: 2 ** 34 }],
    signature: fill(0x5e, 64)
  }],
  ['data_empty_fields', 9, 'Data', { index: 1, value: Buffer.alloc(0), signature: Buffer.alloc(0) }],
  ['data_big_value', 9, 'Data', { index: 2 ** 40, value: seq(300) }],
  ['close_empty', 10, 'Close', {}],
  ['close_key', 10, 'Close', { discoveryKey: fill(0xd1, 32) }]
]

console.log('// ---- messages_test.cpp kJsMessages: {name, type, body hex}')
for (const [name, type, enc, value] of cases) {
  console.log(`    {"${name}", ${type}, "${hex(messages[enc].encode(value))}"},`)
}
console.log(`    // NoisePayload{nonce: 24 x 55}: ${hex(messages.NoisePayload.encode({ nonce: fill(0x55, 24) }))}`)

// Frames as simple-message-channels writes them (extension bodies as simple-hypercore-protocol does).
const smc = new SMC({
  types: [messages.Open, messages.Options, messages.Status, messages.Have, messages.Unhave, messages.Want,
    messages.Unwant, messages.Request, messages.Cancel, messages.Data, messages.Close].map((encoding) => ({ encoding }))
})
const ext = (id, payload) => {
  const v = req('varint')
  return Buffer.concat([Buffer.from(v.encode(id)), payload])
}
const frames = [
  ['frame_options_ch0', 0, 1, { extensions: ['x'] }],
  ['frame_have_ch1', 1, 3, { start: 0, length: 1048576, bitfield: Buffer.alloc(0) }],
  ['frame_want_ch300', 300, 5, { start: 0, length: 1048576 }],
  ['frame_close_ch7', 7, 10, {}],
  ['frame_extension_ch2', 2, 15, ext(300, Buffer.from('hi'))],
  ['frame_extension_empty', 1, 15, ext(0, Buffer.alloc(0))]
]
console.log('// ---- messages_test.cpp kJsFrames: {name, channel, type, frame hex}')
for (const [name, ch, type, value] of frames) {
  console.log(`    {"${name}", ${ch}, ${type}, "${hex(smc.send(ch, type, value))}"},`)
}

// A whole stream in both directions with deterministic keys: the static and ephemeral key pairs and
// payload nonces of docs/known-answers.md, then messages of assorted sizes so the keystream
// position crosses 64-byte blocks at many offsets.
const ephemeral = [fill(0x33, 32), fill(0x44, 32)]
dh.generateKeypair = (pk, sk) => dh.generateSeedKeypair(pk, sk, ephemeral.shift())
const nonces = [fill(0x55, 24), fill(0x66, 24)]
XOR.nonce = () => nonces.shift()

const wire = { a: [], b: [] }
const pending = []
const a = new SimpleProtocol(true, {
  keyPair: SimpleProtocol.keyPair(fill(0x11, 32)),
  send: (d) => { wire.a.push(Buffer.from(d)); pending.push(() => b.recv(Buffer.from(d))) },
  onhandshake: () => pending.push(() => sendA())
})
const b = new SimpleProtocol(false, {
  keyPair: SimpleProtocol.keyPair(fill(0x22, 32)),
  send: (d) => { wire.b.push(Buffer.from(d)); pending.push(() => a.recv(Buffer.from(d))) },
  onhandshake: () => pending.push(() => sendB())
})
const publicKey = Buffer.from('8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c', 'hex')
const discoveryKey = Buffer.from('c1feb82a2b3ba065ffed9f6addcf19ac250793bcab748986a1b4272c62da20e6', 'hex')

function sendA () {
  a.open(1, { key: publicKey, discoveryKey })
  a.ping()
  a.options(1, { extensions: ['hypertrie'], ack: false })
  a.have(1, { start: 0, length: 1048576, bitfield: Buffer.from([0x0f, 0x02, 0xe0]) })
  a.data(1, { index: 3, value: seq(200), nodes: [{ index: 6, hash: fill(0xab, 32), size: 200 }], signature: fill(0x5e, 64) })
  a.ping()
  a.extension(1, 0, Buffer.from('ping'))
  a.close(1)
}
function sendB () {
  b.open(1, { key: publicKey, discoveryKey })
  b.status(1, { uploading: false, downloading: true })
  b.want(1, { start: 0, length: 1048576 })
  b.request(1, { index: 3, nodes: 2 })
  b.ping()
  b.cancel(1, { index: 3 })
  b.close(1, { discoveryKey })
}
// Handshakes whose initiator sends unusual payloads, run with noise-protocol directly. Same keys
// as above; the responder's payload is NoisePayload{nonce: 24 x 66}.
const noise = req('noise-protocol')
function payloadCase (payload1, payload3) {
  ephemeral.push(fill(0x33, 32), fill(0x44, 32))
  const i = noise.initialize('XX', true, Buffer.alloc(0), SimpleProtocol.keyPair(fill(0x11, 32)))
  const r = noise.initialize('XX', false, Buffer.alloc(0), SimpleProtocol.keyPair(fill(0x22, 32)))
  const out = Buffer.alloc(65535)
  const scratch = Buffer.alloc(65535)
  noise.writeMessage(i, payload1, out)
  const m1 = Buffer.from(out.subarray(0, noise.writeMessage.bytes))
  noise.readMessage(r, m1, scratch)
  noise.writeMessage(r, messages.NoisePayload.encode({ nonce: fill(0x66, 24) }), out)
  const m2 = Buffer.from(out.subarray(0, noise.writeMessage.bytes))
  noise.readMessage(i, m2, scratch)
  noise.writeMessage(i, payload3, out)
  const m3 = Buffer.from(out.subarray(0, noise.writeMessage.bytes))
  return [m1, m3]
}
const good = messages.NoisePayload.encode({ nonce: fill(0x55, 24) })
const payloadCases = [
  ['no_payload', Buffer.alloc(0), Buffer.alloc(0)],
  ['garbage_payload', Buffer.from([0xff, 0xff]), Buffer.from([0xff, 0xff])],
  ['short_nonce', messages.NoisePayload.encode({ nonce: fill(0x55, 16) }), messages.NoisePayload.encode({ nonce: fill(0x55, 16) })],
  ['payload_only_in_m1', good, Buffer.alloc(0)],
  ['payload_with_unknown_field', Buffer.concat([good, Buffer.from([0x10, 0x07])]), Buffer.concat([good, Buffer.from([0x10, 0x07])])]
]
console.log('// ---- noise_test.cpp kPayloadCases: {name, m1 hex, m3 hex} (no length prefixes)')
for (const [name, p1, p3] of payloadCases) {
  const [m1, m3] = payloadCase(p1, p3)
  console.log(`    {"${name}", "${hex(m1)}",\n     "${hex(m3)}"},`)
}

// The handshake starts on process.nextTick, so pump the queued deliveries until nothing is left.
let idle = 0
function pump () {
  if (pending.length) {
    idle = 0
    while (pending.length) pending.shift()()
  } else if (++idle > 10) {
    return report()
  }
  setImmediate(pump)
}
setImmediate(pump)

function report () {
  console.log('// ---- stream_fixture_test.cpp kInitiatorChunks: initiator -> responder (handshake, then transport)')
  for (const c of wire.a) console.log(`    "${hex(c)}",`)
  console.log('// ---- stream_fixture_test.cpp kResponderChunks: responder -> initiator')
  for (const c of wire.b) console.log(`    "${hex(c)}",`)
  console.log(`// capability sent by the initiator: ${hex(a.capability(publicKey))}`)
  console.log(`// capability sent by the responder: ${hex(b.capability(publicKey))}`)
}
