'use strict'

// Interop test of LAN discovery (docs/formats/mdns.md): our Mdns (tests/interop/mdns_peer.cpp) and
// JS @hyperswarm/discovery 2.0.1 (multicast-dns 7.2.5 with its default options, as Hyperspace uses
// it) find each other's announces in both directions, ignore their own, and stop answering after
// leave.
//
//   MDNS_PEER_BIN=/work/main/build/tests/mdns_peer unshare -n sh -c 'ip link set lo up &&
//     ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo src 127.0.0.1 &&
//     exec node --test tests/interop/mdns.test.js'
//
// Network: multicast on loopback only. ctest runs it exactly like that (tests/CMakeLists.txt), in
// a namespace of its own; the file refuses to run where any other interface exists.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('fs')
const os = require('os')
const crypto = require('crypto')
const { execFileSync } = require('child_process')

const discovery = require('@hyperswarm/discovery')
const { startJsonPeer, listWaiter } = require('./lib/json_peer')

const PEER_BIN = process.env.MDNS_PEER_BIN
if (!PEER_BIN || !fs.existsSync(PEER_BIN)) {
  throw new Error('MDNS_PEER_BIN must name the mdns_peer binary (build target mdns_peer)')
}
// Never multicast on a real network.
const ifaces = Object.keys(os.networkInterfaces())
if (ifaces.some((name) => name !== 'lo')) {
  throw new Error('mdns.test.js must run in a loopback-only network namespace (found interfaces: ' +
    ifaces.join(', ') + '); see the header of this file')
}
const route = execFileSync('ip', ['route', 'show', 'table', 'all', '224.0.0.0/4'], { encoding: 'utf8' })
if (!route.includes('dev lo')) {
  throw new Error('no multicast route on lo: run `ip link set lo multicast on && ip route add ' +
    '224.0.0.0/4 dev lo src 127.0.0.1` in the namespace first (see the header of this file)')
}

const TIMEOUT = { timeout: 60000 }
const children = []
const discoveries = []
const topics = [] // JS lookups and announces: their timers keep node alive until destroyed
// Everything a test started is stopped when it ends, passed or failed (withCleanup below); this
// is only the last line of defence (a hook that did not run must not leave the suite hanging).
after(cleanupAll)

function cleanupAll () {
  for (const c of children.splice(0)) c.kill()
  for (const t of topics.splice(0)) t.destroy()
  for (const d of discoveries.splice(0)) d.destroy({ force: true })
}

// Runs a test body; whatever it started (peers, JS discoveries) is stopped in `finally`.
function withCleanup (body) {
  return async () => {
    try {
      await body()
    } finally {
      cleanupAll()
    }
  }
}

// Runs mdns_peer; collects its JSON lines. Commands go to its stdin; ending stdin closes it.
function startPeer (args) {
  const peer = startJsonPeer(PEER_BIN, args, { stdin: 'pipe', waitMs: 15000 })
  const { child, lines, exited, describe } = peer
  const handle = {
    ...peer,
    command: (c) => child.stdin.write(c + '\n'),
    // Ends stdin; the peer must close cleanly and exit 0.
    async stop () {
      child.stdin.end()
      const { code } = await exited
      assert.equal(code, 0, 'mdns_peer exit code\n' + describe())
      assert.ok(lines.some((l) => l.event === 'closed'), describe())
    }
  }
  children.push(handle)
  return handle
}

function newDiscovery () {
  // No DHT traffic: no bootstrap nodes. mDNS runs with multicast-dns' defaults.
  const d = discovery({ bootstrap: [] })
  d.on('error', () => {})
  for (const verb of ['lookup', 'announce']) {
    const f = d[verb].bind(d)
    d[verb] = (...args) => { const t = f(...args); topics.push(t); return t }
  }
  discoveries.push(d)
  return d
}

// Peers emitted by a JS topic.
function collect (topic) {
  const peers = []
  const waiter = listWaiter(peers, {
    timeoutMessage: () => 'timed out waiting for a JS peer event; got ' + JSON.stringify(peers.map(short)),
    ms: 15000
  })
  topic.on('peer', (p) => {
    peers.push(p)
    waiter.notify()
  })
  topic.on('update', () => {}) // DHT rounds fail without bootstrap nodes; irrelevant here
  const waitFor = waiter.waitFor
  return { peers, waitFor }
}

function short (p) {
  return { host: p.host, port: p.port, local: p.local }
}

function delay (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function peerLine (topic, port) {
  return (l) => l.event === 'peer' && l.topic === topic.toString('hex') && l.port === port
}

test('JS announces, ours looks up', TIMEOUT, withCleanup(async () => {
  const topic = crypto.randomBytes(32)
  const d = newDiscovery()
  const ann = d.announce(topic, { port: 41001 })
  collect(ann)
  await delay(200)
  const p = startPeer(['--topic', topic.toString('hex'), '--lookup', '--requery-ms', '2000'])
  const ready = await p.waitFor((l) => l.event === 'ready')
  assert.equal(ready.domain, topic.slice(0, 20).toString('hex') + '.hyperswarm.local')
  const found = await p.waitFor(peerLine(topic, 41001))
  assert.equal(found.host, '127.0.0.1')
  await p.stop()
  ann.destroy()
}))

test('ours announces, JS looks up', TIMEOUT, withCleanup(async () => {
  const topic = crypto.randomBytes(32)
  const p = startPeer(['--topic', topic.toString('hex'), '--announce', '--port', '41002'])
  await p.waitFor((l) => l.event === 'ready')
  await delay(200)
  const d = newDiscovery()
  const look = d.lookup(topic)
  const seen = collect(look)
  // JS queries at once; our answer carries target 0.0.0.0, so JS uses the packet's source.
  const peer = await seen.waitFor((x) => x.port === 41002)
  assert.deepEqual(short(peer), { host: '127.0.0.1', port: 41002, local: true })
  assert.ok(peer.topic.equals(topic))
  // An announce-only peer reports nothing.
  assert.equal(p.lines.filter((l) => l.event === 'peer').length, 0, p.describe())
  await p.stop()
  look.destroy()
}))

test('both announce and look up: each finds the other, never itself', TIMEOUT, withCleanup(async () => {
  const topic = crypto.randomBytes(32)
  const d = newDiscovery()
  const js = d.announce(topic, { port: 41003, lookup: true })
  const seen = collect(js)
  const p = startPeer(['--topic', topic.toString('hex'), '--announce', '--lookup', '--port', '41004',
    '--requery-ms', '1000'])
  await p.waitFor((l) => l.event === 'ready')
  await p.waitFor(peerLine(topic, 41003))
  await seen.waitFor((x) => x.port === 41004)
  // Let a few more rounds of queries and answers pass (ours re-queries every second).
  await delay(2500)
  assert.ok(!p.lines.some(peerLine(topic, 41004)), 'ours reported itself\n' + p.describe())
  assert.ok(!seen.peers.some((x) => x.port === 41003), 'JS reported itself: ' +
    JSON.stringify(seen.peers.map(short)))
  await p.stop()
  js.destroy()
}))

test('after leave, ours stops answering; join answers again', TIMEOUT, withCleanup(async () => {
  const topic = crypto.randomBytes(32)
  const p = startPeer(['--topic', topic.toString('hex'), '--announce', '--port', '41005'])
  await p.waitFor((l) => l.event === 'ready')
  p.command('leave')
  await p.waitFor((l) => l.event === 'left')
  const d = newDiscovery()
  const first = d.lookup(topic)
  const none = collect(first)
  // JS queried once at once; nothing may answer.
  await delay(2000)
  assert.equal(none.peers.length, 0, 'answered after leave: ' + JSON.stringify(none.peers.map(short)) +
    '\n' + p.describe())
  first.destroy()

  // Joining again announces at once (unsolicited), which a new JS lookup also hears.
  const second = d.lookup(topic)
  const seen = collect(second)
  await delay(200)
  p.command('join')
  await p.waitFor((l) => l.event === 'joined')
  const peer = await seen.waitFor((x) => x.port === 41005)
  assert.equal(peer.host, '127.0.0.1')
  await p.stop()
  second.destroy()
}))
