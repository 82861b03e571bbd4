// Generates the byte-exact fixtures of tests/unit/rpc/{messages,framing}_test.cpp with the pinned
// JS codec (@hyperspace/rpc messages.js on protocol-buffers-encodings, arpeecee's frame writer).
// Run with Node 20 after installing tests/interop:
//   node tests/unit/rpc/js/make_fixtures.js
// and paste each printed block into the table of the same name in the C++ tests (then
// clang-format them). The case names must match the C++ objects built in messages_test.cpp
// (js_cases()).
'use strict'
const path = require('path')
const { createRequire } = require('module')
const req = createRequire(path.join(__dirname, '../../../interop/package.json'))
const messages = req('@hyperspace/rpc/messages')
const Parser = req('arpeecee/parser')
const RPC = req('arpeecee')

const fill = (n, b) => Buffer.alloc(n, b)
const peerA = { remotePublicKey: fill(32, 0x11), remoteAddress: '10.0.0.1', type: 'tcp' }
const peerB = { remotePublicKey: fill(32, 0x22), remoteAddress: '::1', type: 'utp' }
const status = { discoveryKey: fill(32, 0xaa), announce: true, lookup: true }

// [case name, message type, object]
const cases = [
  ['Void', null, null],
  ['Peer', 'Peer', peerA],
  ['Peer/empty', 'Peer', { remotePublicKey: Buffer.alloc(0), remoteAddress: '', type: '' }],
  ['HyperspaceStatusResponse', 'HyperspaceStatusResponse',
    { apiVersion: '1.15.1', holepunchable: false, remoteAddress: '', version: '3.19.0' }],
  ['HyperspaceStatusResponse/minimal', 'HyperspaceStatusResponse', { apiVersion: 'x' }],
  ['OpenRequest/name', 'OpenRequest', { id: 0, name: 'foo' }],
  ['OpenRequest/key', 'OpenRequest', { id: 5, key: fill(32, 0xab), weak: true }],
  ['OpenRequest/empties', 'OpenRequest', { id: 300, key: Buffer.alloc(0), name: '', weak: false }],
  ['OpenRequest/unicode', 'OpenRequest', { id: 1, name: 'h\u00e9llo \u2603 \u{1f600}' }],
  ['OpenResponse', 'OpenResponse', {
    key: fill(32, 0x01), length: 10, byteLength: 1000, writable: true, peers: [peerA, peerB],
    discoveryKey: fill(32, 0x02)
  }],
  ['OpenResponse/minimal', 'OpenResponse', { key: fill(32, 0x03), length: 0, byteLength: 0, writable: false }],
  ['FeedEvent', 'FeedEvent', { key: fill(32, 0x04) }],
  ['OpenNetworkResponse', 'OpenNetworkResponse', { publicKey: fill(32, 0x05), peers: [peerA] }],
  ['OpenNetworkResponse/nopeers', 'OpenNetworkResponse', { publicKey: fill(32, 0x06), peers: [] }],
  ['NetworkStatus', 'NetworkStatus', { discoveryKey: fill(32, 0x07), announce: true, lookup: false, remember: false }],
  ['NetworkStatus/minimal', 'NetworkStatus', { discoveryKey: fill(32, 0x08) }],
  ['ConfigureNetworkRequest', 'ConfigureNetworkRequest', { configuration: status, flush: true }],
  ['ConfigureNetworkRequest/full', 'ConfigureNetworkRequest', {
    configuration: { discoveryKey: fill(32, 0x09), announce: false, lookup: true, remember: false },
    flush: false, copyFrom: fill(32, 0x0a), overwrite: false
  }],
  ['NetworkStatusRequest', 'NetworkStatusRequest', { discoveryKey: fill(32, 0x0b) }],
  ['NetworkStatusResponse', 'NetworkStatusResponse', { status }],
  ['NetworkStatusResponse/empty', 'NetworkStatusResponse', {}],
  ['AllNetworkStatusesResponse', 'AllNetworkStatusesResponse', {
    statuses: [status, { discoveryKey: fill(32, 0x0c), remember: true }]
  }],
  ['AllNetworkStatusesResponse/empty', 'AllNetworkStatusesResponse', { statuses: [] }],
  ['RegisterNetworkExtensionRequest', 'RegisterNetworkExtensionRequest', { resourceId: 7, name: 'ext' }],
  ['NetworkExtensionMessage', 'NetworkExtensionMessage',
    { id: 1, resourceId: 2, remotePublicKey: fill(32, 0x0d), data: Buffer.from('payload') }],
  ['NetworkExtensionMessage/minimal', 'NetworkExtensionMessage', { id: 0, resourceId: 0, data: Buffer.alloc(0) }],
  ['CloseRequest', 'CloseRequest', { id: 3 }],
  ['GetRequest', 'GetRequest', { id: 0, seq: 5, resourceId: 7 }],
  ['GetRequest/full', 'GetRequest',
    { id: 1, seq: Number.MAX_SAFE_INTEGER, resourceId: 9, wait: false, ifAvailable: false, onWaitId: 3 }],
  ['GetRequest/explicit-true', 'GetRequest', { id: 2, seq: 0, resourceId: 0, wait: true, ifAvailable: true, onWaitId: 0 }],
  ['GetResponse', 'GetResponse', { block: Buffer.from('hello') }],
  ['GetResponse/empty-block', 'GetResponse', { block: Buffer.alloc(0) }],
  ['GetResponse/no-block', 'GetResponse', {}],
  ['AppendRequest', 'AppendRequest', { id: 0, blocks: [Buffer.from('hi')] }],
  ['AppendRequest/many', 'AppendRequest', { id: 2, blocks: [Buffer.from('a'), Buffer.alloc(0), fill(130, 0x5a)] }],
  ['AppendRequest/none', 'AppendRequest', { id: 1, blocks: [] }],
  ['AppendResponse', 'AppendResponse', { length: 3, byteLength: 10, seq: 2 }],
  ['UpdateRequest', 'UpdateRequest', { id: 0 }],
  ['UpdateRequest/full', 'UpdateRequest', { id: 1, minLength: 10, ifAvailable: false, hash: false }],
  ['SeekRequest', 'SeekRequest', { id: 0, byteOffset: 100 }],
  ['SeekRequest/full', 'SeekRequest', { id: 1, byteOffset: 200, start: 1, end: 9, wait: false, ifAvailable: true }],
  ['SeekResponse', 'SeekResponse', { seq: 4, blockOffset: 2 }],
  ['HasRequest', 'HasRequest', { id: 1, seq: 9 }],
  ['HasResponse/true', 'HasResponse', { has: true }],
  ['HasResponse/false', 'HasResponse', { has: false }],
  ['CancelRequest', 'CancelRequest', { id: 1, resourceId: 2 }],
  ['DownloadRequest', 'DownloadRequest', { id: 0, resourceId: 1, blocks: [3, 300] }],
  ['DownloadRequest/range', 'DownloadRequest', { id: 1, resourceId: 2, start: 0, end: 100, linear: true, live: false }],
  ['DownloadedRequest', 'DownloadedRequest', { id: 1 }],
  ['DownloadedRequest/range', 'DownloadedRequest', { id: 1, start: 0, end: 10 }],
  ['DownloadedResponse', 'DownloadedResponse', { bytes: 5 }],
  ['UndownloadRequest', 'UndownloadRequest', { id: 1, resourceId: 4 }],
  ['LockRequest', 'LockRequest', { id: 2 }],
  ['WatchDownloadsRequest', 'WatchDownloadsRequest', { id: 3 }],
  ['UnwatchDownloadsRequest', 'UnwatchDownloadsRequest', { id: 4 }],
  ['WatchUploadsRequest', 'WatchUploadsRequest', { id: 5 }],
  ['UnwatchUploadsRequest', 'UnwatchUploadsRequest', { id: 6 }],
  ['AppendEvent', 'AppendEvent', { id: 0, length: 1, byteLength: 2 }],
  ['PeerEvent', 'PeerEvent', { id: 0, peer: peerB }],
  ['CloseEvent', 'CloseEvent', { id: 4 }],
  ['WaitEvent', 'WaitEvent', { id: 1, onWaitId: 2, seq: 3 }],
  ['DownloadEvent', 'DownloadEvent', { id: 1, seq: 2, byteLength: 3 }],
  ['DownloadEvent/minimal', 'DownloadEvent', { id: 1, seq: 2 }],
  ['UploadEvent', 'UploadEvent', { id: 1, seq: 2, byteLength: 3 }],
  ['RegisterExtensionRequest', 'RegisterExtensionRequest', { id: 1, resourceId: 2, name: 'hello-ext' }],
  ['UnregisterExtensionRequest', 'UnregisterExtensionRequest', { id: 1, resourceId: 2 }],
  ['ExtensionMessage', 'ExtensionMessage', { id: 1, resourceId: 2, remotePublicKey: fill(32, 0x0e), data: Buffer.from('x') }],
  ['ExtensionMessage/broadcast', 'ExtensionMessage', { id: 0, resourceId: 3, data: Buffer.alloc(0) }],
  ['RPCError/ecanceled', 'RPCError', { message: 'x', code: 'ECANCELED', errno: -11 }],
  ['RPCError/message', 'RPCError', { message: 'Block not available from peers' }],
  ['RPCError/details', 'RPCError', { message: '', errno: 0, details: 'd' }],
  ['RPCError/int32-min', 'RPCError', { message: 'm', errno: -2147483648 }],
  ['RPCError/int32-max', 'RPCError', { message: 'm', errno: 2147483647 }],
  ['RPCError/positive', 'RPCError', { message: 'm', code: '', errno: 5 }]
]

const hex = (b) => Buffer.from(b).toString('hex')
// A C++ string literal, split into adjacent literals so that lines stay under 100 columns.
const literal = (h) => {
  const parts = []
  for (let i = 0; i < h.length; i += 72) parts.push(`"${h.slice(i, i + 72)}"`)
  return parts.length ? parts.join('\n        ') : '""'
}
const encodingOf = (type) => (type ? messages[type] : RPC.NULL)

console.log('// kMessageFixtures')
for (const [name, type, obj] of cases) {
  const enc = encodingOf(type)
  const bytes = type ? enc.encode(obj) : Buffer.alloc(0)
  // The JS decoder must read back what it wrote (sanity check of the case itself).
  if (type) enc.decode(bytes)
  console.log(`    {"${name}",\n        ${literal(hex(bytes))}},`)
}

// Frames as arpeecee writes them (docs/formats/rpc.md "Example frames").
const parser = new Parser()
const frames = [
  ['status-request', 0, 1, 1, 1, null, null],
  ['status-response', 1, 1, 1, 1, 'HyperspaceStatusResponse',
    { apiVersion: '1.15.1', holepunchable: false, remoteAddress: '', version: '3.19.0' }],
  ['open-request', 0, 2, 1, 1, 'OpenRequest', { id: 0, name: 'foo' }],
  ['append-request', 0, 3, 2, 2, 'AppendRequest', { id: 0, blocks: [Buffer.from('hi')] }],
  ['get-request', 0, 3, 1, 3, 'GetRequest', { id: 0, seq: 5, resourceId: 7 }],
  ['on-append-event', 0, 3, 16, 0, 'AppendEvent', { id: 0, length: 1, byteLength: 2 }],
  ['error-response', 2, 3, 1, 3, 'RPCError', { message: 'Block not available from peers' }],
  ['configure-request', 0, 4, 2, 4, 'ConfigureNetworkRequest', { configuration: status, flush: true }],
  ['stop-no-reply', 0, 1, 2, 0, null, null],
  ['big-id', 1, 3, 27, 300, null, null],
  ['large-payload', 1, 3, 1, 1, 'GetResponse', { block: fill(200, 0x33) }]
]
console.log('// kFrameFixtures: name, type, service, method, id, payload type, frame')
for (const [name, type, service, method, id, msg, obj] of frames) {
  const buf = parser.send(type, service, method, id, obj, encodingOf(msg))
  console.log(`    {"${name}",\n        ${literal(hex(buf))}},`)
}

// Node's UTF-8 decoding of ill-formed bytes (what the JS string decoder yields).
const utf8 = [
  'efbbbf41', 'e08041', 'f09f98', 'eda080', 'c0af', 'f4908080', 'e282', 'ff', '41c3', 'c3a9e282ac',
  'f09f9880', '80bf41', 'e0a0', 'f0908080f0', 'edbfbf', 'f48fbfbf', 'c241'
]
console.log('// kUtf8Fixtures: input, decoded')
for (const h of utf8) {
  const decoded = Buffer.from(h, 'hex').toString('utf-8')
  console.log(`    {"${h}", "${hex(Buffer.from(decoded, 'utf-8'))}"},`)
}

// The method table as generated into @hyperspace/rpc/index.js, and how @hyperspace/client calls
// each method ("reply" = request(), "no-reply" = requestNoReply(), "none" = never called).
const fs = require('fs')
const rpcSource = fs.readFileSync(req.resolve('@hyperspace/rpc'), 'utf-8')
const clientSource = fs.readFileSync(req.resolve('@hyperspace/client'), 'utf-8')
const serviceNames = { 1: 'hyperspace', 2: 'corestore', 3: 'hypercore', 4: 'network' }
const encodingName = (e) => (e === 'RPC.NULL' ? 'Void' : e.replace(/^messages\./, ''))
const token = /defineService\(\{ id: (\d+) \}\)|this\._(\w+) = service\.defineMethod\(\{\s*id: (\d+),\s*requestEncoding: ([\w.]+),\s*responseEncoding: ([\w.]+)/g
console.log('// kJsMethods: service, method, name, request, response, client call')
let service = 0
for (const m of rpcSource.matchAll(token)) {
  if (m[1]) { service = Number(m[1]); continue }
  const call = `.${serviceNames[service]}.${m[2]}`
  const mode = clientSource.includes(call + 'NoReply(') ? 'no-reply'
    : clientSource.includes(call + '(') ? 'reply' : 'none'
  console.log(`    {${service}, ${m[3]}, "${m[2]}", "${encodingName(m[4])}", "${encodingName(m[5])}", "${mode}"},`)
}
