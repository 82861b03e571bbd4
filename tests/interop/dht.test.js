'use strict'

// Interop of our DHT (src/v9/swarm/dht) with @hyperswarm/dht 4.0.1 / dht-rpc 4.9.6
// (docs/formats/dht.md): one DHT of 30 nodes, 15 JS (ephemeral: false) and 15 ours
// (tests/interop/dht_peer), announcers on both sides over several topics; every lookup, from every
// node of both kinds, must find exactly the announcers of its topic, and unannounced records must
// disappear. It runs twice: bootstrapped by `hyp dht` (JS nodes use our node as bootstrap) and by a
// JS bootstrap node (our nodes use the JS node).
//
//   HYP_BIN=build/hyp DHT_PEER_BIN=build/tests/dht_peer node --test tests/interop/dht.test.js
//
// Network: loopback only; ctest runs it inside the loopback-only namespace of scripts/test.sh
// (docs/testing.md "Isolation").

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('fs')
const crypto = require('crypto')
const readline = require('readline')
const { spawn } = require('child_process')
const DHT = require('@hyperswarm/dht')

const HYP_BIN = process.env.HYP_BIN
const PEER_BIN = process.env.DHT_PEER_BIN
for (const [name, bin] of [['HYP_BIN', HYP_BIN], ['DHT_PEER_BIN', PEER_BIN]]) {
  if (!bin || !fs.existsSync(bin)) throw new Error(name + ' must name the built binary')
}
const HOST = '127.0.0.1'
const TIMEOUT = { timeout: 240000 }
const children = new Set()
after(() => { for (const c of children) c.kill('SIGKILL') })

// ---------------------------------------------------------------------------------------------
// helpers

function lineReader (stream) {
  const lines = []
  const waiters = new Set()
  let closed = false
  const rl = readline.createInterface({ input: stream })
  rl.on('line', (l) => { lines.push(l); for (const w of [...waiters]) w() })
  rl.on('close', () => { closed = true; for (const w of [...waiters]) w() })
  // Resolves the first line (removed from the queue) for which pick(line) returns non-undefined.
  function next (pick, ms, what) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { waiters.delete(check); reject(new Error('timed out waiting for ' + what)) }, ms)
      function check () {
        for (let i = 0; i < lines.length; i++) {
          const v = pick(lines[i])
          if (v !== undefined) {
            lines.splice(i, 1)
            clearTimeout(timer)
            waiters.delete(check)
            resolve(v)
            return
          }
        }
        if (closed) { clearTimeout(timer); waiters.delete(check); reject(new Error('stream closed waiting for ' + what)) }
      }
      waiters.add(check)
      check()
    })
  }
  return { next }
}

function track (child, name) {
  children.add(child)
  let stderr = ''
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-20000) })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    children.delete(child)
    resolve({ code, signal, stderr })
  }))
  return { exited, stderr: () => stderr, name }
}

// `hyp dht` on an ephemeral port; resolves its address from "DHT node listening on H:P".
async function startHypDht (bootstrap) {
  const args = ['dht', '--host', HOST, '--port', '0', '--log-level', 'debug']
  for (const b of bootstrap) args.push('--bootstrap', b)
  const child = spawn(HYP_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const t = track(child, 'hyp dht')
  const out = lineReader(child.stdout)
  const address = await out.next((l) => {
    const m = /^DHT node listening on (\S+):(\d+)$/.exec(l)
    return m ? m[1] + ':' + m[2] : undefined
  }, 20000, 'hyp dht to listen')
  if (bootstrap.length) {
    await out.next((l) => /^DHT node bootstrapped: [1-9]\d* nodes known$/.test(l) ? true : undefined, 30000, 'hyp dht to bootstrap')
  }
  return { address, child, ...t }
}

// dht_peer with n of our nodes; `cmd(obj)` sends one command and resolves its result line.
async function startOurs (n, bootstrap, extra = []) {
  const args = ['--nodes', String(n), '--host', HOST, ...extra]
  for (const b of bootstrap) args.push('--bootstrap', b)
  const child = spawn(PEER_BIN, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  const t = track(child, 'dht_peer')
  const out = lineReader(child.stdout)
  const json = (l) => { try { return JSON.parse(l) } catch { return undefined } }
  const listening = await out.next((l) => { const j = json(l); return j && j.event === 'listening' ? j : undefined }, 20000, 'dht_peer to listen')
  const ready = await out.next((l) => { const j = json(l); return j && j.event === 'ready' ? j : undefined }, 60000, 'dht_peer to bootstrap')
  let nextId = 1
  function cmd (c) {
    const id = nextId++
    child.stdin.write(JSON.stringify({ ...c, id }) + '\n')
    return out.next((l) => { const j = json(l); return j && j.id === id ? j : undefined }, 60000, 'dht_peer ' + JSON.stringify(c))
  }
  async function quit () {
    child.stdin.end()
    return t.exited
  }
  return { ports: listening.ports, tables: ready.tables, cmd, quit, ...t }
}

function startJs (bootstrap, ephemeral = false) {
  return new Promise((resolve, reject) => {
    const dht = DHT({ bootstrap, ephemeral })
    dht.on('error', reject)
    dht.listen(0, HOST, () => dht.ready(() => resolve(dht)))
  })
}

const jsAnnounce = (dht, topic, port) => new Promise((resolve, reject) =>
  dht.announce(topic, { port }, (err, res) => err ? reject(err) : resolve(res)))
const jsUnannounce = (dht, topic, port) => new Promise((resolve, reject) =>
  dht.unannounce(topic, { port }, (err, res) => err ? reject(err) : resolve(res)))
const jsLookup = (dht, topic) => new Promise((resolve, reject) =>
  dht.lookup(topic, (err, res) => {
    if (err) return reject(err)
    const found = new Set()
    for (const r of res) for (const p of r.peers || []) found.add(p.host + ':' + p.port)
    resolve([...found].sort())
  }))

// ---------------------------------------------------------------------------------------------
// the mixed network

// bootstrapAddress: where everyone bootstraps. 15 JS nodes and 15 of ours; 4 topics; announcers
// are 2 JS and 2 ours per topic (each with its own port); every node looks up every topic.
async function mixedNetwork (bootstrapAddress) {
  const js = []
  const ours = await startOurs(15, [bootstrapAddress])
  try {
    for (let i = 0; i < 15; i++) js.push(await startJs([bootstrapAddress]))
    assert.ok(ours.tables.every((n) => n >= 1), 'every node of ours knows someone: ' + ours.tables)

    const topics = [0, 1, 2, 3].map(() => crypto.randomBytes(32))
    const expected = topics.map(() => new Set())
    let port = 30000
    for (let t = 0; t < topics.length; t++) {
      for (let k = 0; k < 2; k++) {
        const p = port++
        await jsAnnounce(js[(t * 2 + k) % 15], topics[t], p)
        expected[t].add(HOST + ':' + p)
        const q = port++
        const r = await ours.cmd({ op: 'announce', node: (t * 2 + k) % 15, topic: topics[t].toString('hex'), port: q })
        assert.ok(r.ok, 'our announce: ' + JSON.stringify(r))
        assert.ok(r.responses > 0)
        expected[t].add(HOST + ':' + q)
      }
    }
    const sorted = (s) => [...s].sort()

    // Both kinds store both kinds' records: JS nodes accepted our UPDATEs (our tokens echoed
    // back), and our nodes hold records too.
    const ourPorts = new Set()
    for (let p = 30001; p < port; p += 2) ourPorts.add(p)
    const heldByJs = new Set()
    for (const d of js) {
      for (const t of topics) {
        for (const rec of d._peers.get(t.toString('hex'), 1000)) heldByJs.add(rec.readUInt16BE(4))
      }
    }
    for (const p of ourPorts) assert.ok(heldByJs.has(p), 'some JS node stores our announce of port ' + p)
    const stored = (await ours.cmd({ op: 'status' })).stored
    assert.ok(stored.reduce((a, b) => a + b, 0) >= 16, 'our nodes store records: ' + stored)

    for (let t = 0; t < topics.length; t++) {
      for (let n = 0; n < 15; n++) {
        assert.deepEqual(await jsLookup(js[n], topics[t]), sorted(expected[t]), `JS node ${n}, topic ${t}`)
        const r = await ours.cmd({ op: 'lookup', node: n, topic: topics[t].toString('hex') })
        assert.ok(r.ok, JSON.stringify(r))
        assert.deepEqual(r.peers, sorted(expected[t]), `our node ${n}, topic ${t}`)
      }
    }

    // One JS and one of ours leave topic 0.
    await jsUnannounce(js[0], topics[0], 30000)
    expected[0].delete(HOST + ':30000')
    const u = await ours.cmd({ op: 'unannounce', node: 0, topic: topics[0].toString('hex'), port: 30001 })
    assert.ok(u.ok, JSON.stringify(u))
    expected[0].delete(HOST + ':30001')
    for (let n = 0; n < 15; n += 2) {
      assert.deepEqual(await jsLookup(js[n], topics[0]), sorted(expected[0]), `JS node ${n} after unannounce`)
      const r = await ours.cmd({ op: 'lookup', node: n, topic: topics[0].toString('hex') })
      assert.deepEqual(r.peers, sorted(expected[0]), `our node ${n} after unannounce`)
    }

    // Ephemeral clients (how a Hyperspace daemon runs its DHT), JS and ours, announce and look up.
    const ephJs = await startJs([bootstrapAddress], true)
    js.push(ephJs) // destroyed with the others
    const ephOurs = await startOurs(1, [bootstrapAddress], ['--ephemeral'])
    try {
      await jsAnnounce(ephJs, topics[1], 31000)
      expected[1].add(HOST + ':31000')
      const r = await ephOurs.cmd({ op: 'announce', node: 0, topic: topics[1].toString('hex'), port: 31001 })
      assert.ok(r.ok, 'ephemeral announce: ' + JSON.stringify(r))
      expected[1].add(HOST + ':31001')
      for (let t = 0; t < topics.length; t++) {
        assert.deepEqual(await jsLookup(ephJs, topics[t]), sorted(expected[t]), `ephemeral JS, topic ${t}`)
        const l = await ours.cmd({ op: 'lookup', node: 14, topic: topics[t].toString('hex') })
        assert.deepEqual(l.peers, sorted(expected[t]), `our node 14, topic ${t}`)
        const e = await ephOurs.cmd({ op: 'lookup', node: 0, topic: topics[t].toString('hex') })
        assert.deepEqual(e.peers, sorted(expected[t]), `our ephemeral node, topic ${t}`)
      }
      assert.deepEqual(await jsLookup(js[3], topics[1]), sorted(expected[1]))
    } finally {
      const exit = await ephOurs.quit()
      assert.equal(exit.code, 0, 'ephemeral dht_peer exit: ' + exit.stderr)
    }

    // Our persistent nodes learned their address from the JS and our responders.
    const status = await ours.cmd({ op: 'status' })
    assert.ok(status.tables.every((n) => n >= 10), 'routing tables: ' + status.tables)
    for (let i = 0; i < 15; i++) assert.equal(status.remote[i], HOST + ':' + ours.ports[i])
  } finally {
    for (const d of js) d.destroy()
    const exit = await ours.quit()
    assert.equal(exit.code, 0, 'dht_peer exit: ' + exit.stderr)
  }
}

test('30-node mixed DHT bootstrapped by `hyp dht`', TIMEOUT, async () => {
  const boot = await startHypDht([])
  try {
    await mixedNetwork(boot.address)
  } finally {
    boot.child.kill('SIGTERM')
    const exit = await boot.exited
    assert.equal(exit.code, 0, 'hyp dht exit: ' + exit.stderr)
  }
})

test('30-node mixed DHT bootstrapped by a JS node', TIMEOUT, async () => {
  const boot = DHT({ bootstrap: false, ephemeral: false })
  await new Promise((resolve) => boot.listen(0, HOST, resolve))
  try {
    await mixedNetwork(HOST + ':' + boot.address().port)
  } finally {
    boot.destroy()
  }
})

test('hyp dht joins a JS DHT, answers JS queries and exits cleanly on SIGINT', TIMEOUT, async () => {
  const jsBoot = DHT({ bootstrap: false, ephemeral: false })
  await new Promise((resolve) => jsBoot.listen(0, HOST, resolve))
  const ours = await startHypDht([HOST + ':' + jsBoot.address().port])
  const js = await startJs([ours.address])
  try {
    // The JS node bootstrapped through `hyp dht` and found the JS bootstrap node through it.
    const ids = js.getNodes().map((n) => n.host + ':' + n.port)
    assert.ok(ids.includes(ours.address), 'JS routing table has hyp dht: ' + ids)
    assert.ok(ids.includes(HOST + ':' + jsBoot.address().port), 'JS routing table: ' + ids)
    const topic = crypto.randomBytes(32)
    const res = await jsAnnounce(js, topic, 4242)
    assert.ok(Array.isArray(res))
    assert.deepEqual(await jsLookup(jsBoot, topic), [HOST + ':4242'])
    // Ping our node directly: the pong carries the address it saw.
    const [h, p] = ours.address.split(':')
    const pong = await new Promise((resolve, reject) => js.ping({ host: h, port: Number(p) }, (err, r) => err ? reject(err) : resolve(r)))
    assert.equal(pong.host + ':' + pong.port, HOST + ':' + js.address().port)
  } finally {
    js.destroy()
    jsBoot.destroy()
    ours.child.kill('SIGINT')
    const exit = await ours.exited
    assert.equal(exit.code, 0, 'hyp dht exit: ' + exit.stderr)
  }
})
