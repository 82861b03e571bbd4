'use strict'

// Our second-generation replication (src/v11/replication over our secret-stream + protomux; the
// test peer tests/interop/replicate_v11_peer.cpp, path in REPLICATE_V11_PEER_BIN) against JS
// corestore 7.12.5 / hypercore 11.37.1 over plain TCP on loopback: `store.replicate(initiator)`
// piped to a net.Socket. JS -> ours (5000 blocks of 0-2 KiB, 64 KiB blocks, identical blocks),
// ours -> JS (JS checks every block), live both ways, sparse ranges, truncate + append followed
// both ways, extensions each way, and misbehaving JS peers (a man in the middle that knows the
// key: wrong capability, tampered block, bad upgrade signature, garbage after the handshake)
// that leave our core as it was. See docs/replication-v11.md.
//
// The last part drives `hyp replicate --generation 11` (HYP_BIN) on its file storage: JS -> hyp
// -> JS again, and the misbehaving peers leaving the storage folder byte-identical.
//
//   unshare -n sh -c 'ip link set lo up && exec env REPLICATE_V11_PEER_BIN=$PWD/build/tests/replicate_v11_peer \
//     HYP_BIN=$PWD/build/hyp node --test tests/interop/replicate_v11.test.js'

const { describe, it, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('fs')
const net = require('net')
const os = require('os')
const path = require('path')

const Corestore = require('corestore-v7')
const SecretStream = require('@hyperswarm/secret-stream')
const Protomux = require('protomux')
const c = require('compact-encoding')
const sodium = require('sodium-native')
const m = require('hypercore-v11/lib/messages')
const caps = require('hypercore-v11/lib/caps')
const crypto = require('crypto')
const { spawn } = require('child_process')
const { startJsonPeer } = require('./lib/json_peer')

const T = { timeout: 180000 }
const tmpDirs = []
const stores = []
const servers = []
const peers = []

after(async () => {
  for (const p of peers) p.kill()
  for (const s of servers) s.close()
  for (const s of stores) await s.close().catch(() => {})
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true })
})

function peerBin () {
  const b = process.env.REPLICATE_V11_PEER_BIN
  if (!b) throw new Error('REPLICATE_V11_PEER_BIN is not set')
  return path.resolve(b)
}

function newStore () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repl-v11-'))
  tmpDirs.push(dir)
  const store = new Corestore(dir)
  stores.push(store)
  return store
}

// The C++ peer's block(i): (i * 2654435761) mod (max + 1) bytes, byte j = (i * 131 + j * 7) & 255.
function oursBlock (i, max = 2048) {
  const size = (i * 2654435761) % (max + 1)
  const b = Buffer.alloc(size)
  for (let j = 0; j < size; j++) b[j] = (i * 131 + j * 7) & 255
  return b
}

// A seeded generator for JS content.
function rng (seed) {
  let s = seed >>> 0
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s }
}
function randomBlocks (n, max, seed) {
  const r = rng(seed)
  const out = []
  for (let i = 0; i < n; i++) {
    const size = i === 0 ? 0 : i === 1 ? max : r() % (max + 1)
    const b = Buffer.alloc(size)
    for (let j = 0; j < size; j++) b[j] = r() & 255
    out.push(b)
  }
  return out
}

// The peer's state digest: BLAKE2b-256 over u64be(index) || u64be(size) || value per block.
function digest (entries) {
  const parts = []
  for (const [i, v] of entries) {
    const h = Buffer.alloc(16)
    h.writeBigUInt64BE(BigInt(i), 0)
    h.writeBigUInt64BE(BigInt(v.length), 8)
    parts.push(h, v)
  }
  const out = Buffer.alloc(32)
  sodium.crypto_generichash_batch(out, parts)
  return out.toString('hex')
}
const EMPTY = digest([])

async function jsDigest (core, start = 0, end = core.length) {
  const entries = []
  for (let i = start; i < end; i++) if (await core.has(i)) entries.push([i, await core.get(i)])
  return digest(entries)
}

// A JS server that replicates `store` with each connection (JS is the responder).
async function jsServe (store) {
  const server = net.createServer(socket => {
    const s = store.replicate(false)
    s.on('error', () => {})
    socket.on('error', () => {})
    socket.pipe(s).pipe(socket)
  })
  servers.push(server)
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  return server.address().port
}

// JS dials our peer (JS is the initiator).
function jsConnect (store, port) {
  const socket = net.connect(port, '127.0.0.1')
  const s = store.replicate(true)
  s.on('error', () => {})
  socket.on('error', () => {})
  socket.pipe(s).pipe(socket)
  return { socket, stream: s }
}

function ours (args) {
  const p = startJsonPeer(peerBin(), args, { stdin: 'pipe', waitMs: 120000, lineMax: 300 })
  peers.push(p)
  p.send = line => p.child.stdin.write(line + '\n')
  p.state = async () => {
    const n = p.lines.filter(l => l.event === 'state').length
    p.send('state')
    await p.waitFor(l => l.event === 'state' && p.lines.filter(x => x.event === 'state').indexOf(l) >= n)
    return p.lines.filter(l => l.event === 'state')[n]
  }
  p.waitState = async (pred, ms = 60000) => {
    const until = Date.now() + ms
    for (;;) {
      const s = await p.state()
      if (pred(s)) return s
      if (Date.now() > until) throw new Error('state never matched: ' + JSON.stringify(s) + '\n' + p.describe())
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
  p.finish = async () => {
    p.send('end')
    const done = await p.waitFor(l => l.event === 'done')
    await p.exited
    return done
  }
  return p
}

async function until (pred, ms = 60000, what = 'condition') {
  const end = Date.now() + ms
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('timed out waiting for ' + what)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

async function jsWriter (blocks) {
  const store = newStore()
  const core = store.get({ name: 'w' })
  await core.ready()
  for (let i = 0; i < blocks.length; i += 500) await core.append(blocks.slice(i, i + 500))
  return { store, core }
}

async function oursReadsFromJs (blocks, extraArgs = []) {
  const { store, core } = await jsWriter(blocks)
  const port = await jsServe(store)
  const started = Date.now()
  const p = ours(['--key', core.key.toString('hex'), '--connect', '127.0.0.1:' + port, ...extraArgs])
  await p.waitFor(l => l.event === 'synced')
  const ms = Date.now() - started
  const s = await p.state()
  const bytes = blocks.reduce((n, b) => n + b.length, 0)
  process.stderr.write(`# JS -> ours: ${blocks.length} blocks, ${(bytes / 1e6).toFixed(1)} MB in ${ms} ms\n`)
  return { p, s, core, store }
}

describe('JS writes, ours reads', () => {
  it('5000 blocks of 0-2 KiB', T, async () => {
    const blocks = randomBlocks(5000, 2048, 1)
    const { p, s, core } = await oursReadsFromJs(blocks)
    assert.equal(s.length, 5000)
    assert.equal(s.blocks, 5000)
    assert.equal(s.digest, await jsDigest(core))
    const done = await p.finish()
    assert.equal(done.downloaded, 5000)
  })

  it('64 KiB blocks', T, async () => {
    const blocks = randomBlocks(160, 65536, 2).map(b => b.length === 65536 ? b : Buffer.concat([b, Buffer.alloc(65536 - b.length, 7)]))
    const { p, s, core } = await oursReadsFromJs(blocks)
    assert.equal(s.blocks, 160)
    assert.equal(s.digest, await jsDigest(core))
    await p.finish()
  })

  it('every block identical', T, async () => {
    const same = Buffer.alloc(1000, 0x61)
    const blocks = Array.from({ length: 1000 }, () => same)
    const { p, s, core } = await oursReadsFromJs(blocks)
    assert.equal(s.blocks, 1000)
    assert.equal(s.digest, await jsDigest(core))
    await p.finish()
  })

  it('a sparse range, then a single block', T, async () => {
    const blocks = randomBlocks(1000, 512, 3)
    const { p, s, core } = await oursReadsFromJs(blocks, ['--start', '100', '--end', '200'])
    assert.equal(s.length, 1000)
    assert.equal(s.blocks, 100)
    assert.equal(s.contiguous, 0)
    assert.equal(s.digest, await jsDigest(core, 100, 200))
    p.send('get 777')
    const got = await p.waitFor(l => l.event === 'got')
    assert.equal(got.size, blocks[777].length)
    assert.equal((await p.state()).blocks, 101)
    await p.finish()
  })
})

describe('ours writes, JS reads', () => {
  it('3000 blocks, every one checked by JS', T, async () => {
    const p = ours(['--write', '3000', '--max-size', '2048', '--listen', '127.0.0.1:0'])
    const { key } = await p.waitFor(l => l.event === 'key')
    const { port } = await p.waitFor(l => l.event === 'listening')
    const store = newStore()
    const core = store.get({ key: Buffer.from(key, 'hex') })
    await core.ready()
    const started = Date.now()
    jsConnect(store, port)
    await until(async () => core.peers.length === 1, 20000, 'JS to see our peer')
    assert.equal(await core.update({ wait: true }), true)
    assert.equal(core.length, 3000)
    await core.download({ start: 0, end: 3000 }).done()
    process.stderr.write(`# ours -> JS: 3000 blocks in ${Date.now() - started} ms\n`)
    for (let i = 0; i < 3000; i++) assert.deepEqual(await core.get(i), oursBlock(i), 'block ' + i)
    const done = await p.finish()
    assert.equal(done.uploaded, 3000)
  })

  it('a sparse range', T, async () => {
    const p = ours(['--write', '1000', '--listen', '127.0.0.1:0'])
    const { key } = await p.waitFor(l => l.event === 'key')
    const { port } = await p.waitFor(l => l.event === 'listening')
    const store = newStore()
    const core = store.get({ key: Buffer.from(key, 'hex') })
    await core.ready()
    jsConnect(store, port)
    await until(async () => core.peers.length === 1, 20000, 'JS to see our peer')
    assert.equal(await core.update({ wait: true }), true)
    assert.equal(core.length, 1000)
    await core.download({ start: 500, end: 600 }).done()
    assert.equal(await core.has(499), false)
    assert.equal(await core.has(600), false)
    for (let i = 500; i < 600; i++) assert.deepEqual(await core.get(i), oursBlock(i))
    assert.deepEqual(await core.get(42), oursBlock(42))
    await p.finish()
  })
})

describe('live', () => {
  it('JS appends, ours follows', T, async () => {
    const { store, core } = await jsWriter(randomBlocks(10, 100, 4))
    const port = await jsServe(store)
    const p = ours(['--key', core.key.toString('hex'), '--connect', '127.0.0.1:' + port, '--live'])
    await p.waitState(s => s.contiguous === 10)
    for (let round = 0; round < 5; round++) {
      await core.append(randomBlocks(20, 300, 10 + round))
      const s = await p.waitState(s => s.contiguous === core.length)
      assert.equal(s.digest, await jsDigest(core))
    }
    await p.finish()
  })

  it('ours appends, JS follows', T, async () => {
    const p = ours(['--write', '10', '--listen', '127.0.0.1:0'])
    const { key } = await p.waitFor(l => l.event === 'key')
    const { port } = await p.waitFor(l => l.event === 'listening')
    const store = newStore()
    const core = store.get({ key: Buffer.from(key, 'hex') })
    await core.ready()
    jsConnect(store, port)
    core.download({ start: 0, end: -1 })
    await until(async () => core.contiguousLength === 10, 60000, 'JS to hold 10 blocks')
    for (let round = 0; round < 5; round++) {
      p.send('append 15')
      const want = 10 + 15 * (round + 1)
      await until(async () => core.contiguousLength === want, 60000, 'JS to hold ' + want + ' blocks')
    }
    for (let i = 0; i < core.length; i++) assert.deepEqual(await core.get(i), oursBlock(i))
    await p.finish()
  })
})

describe('truncate and append', () => {
  it('JS truncates, ours follows the fork', T, async () => {
    const { store, core } = await jsWriter(randomBlocks(50, 200, 5))
    const port = await jsServe(store)
    const p = ours(['--key', core.key.toString('hex'), '--connect', '127.0.0.1:' + port, '--live'])
    await p.waitState(s => s.contiguous === 50)
    await core.truncate(30)
    await core.append(randomBlocks(15, 200, 6))
    const s = await p.waitState(s => s.fork === core.fork && s.contiguous === core.length)
    assert.equal(s.length, 45)
    assert.equal(s.fork, 1)
    assert.equal(s.digest, await jsDigest(core))
    await p.finish()
  })

  it('ours truncates, JS follows the fork', T, async () => {
    const p = ours(['--write', '40', '--listen', '127.0.0.1:0'])
    const { key } = await p.waitFor(l => l.event === 'key')
    const { port } = await p.waitFor(l => l.event === 'listening')
    const store = newStore()
    const core = store.get({ key: Buffer.from(key, 'hex') })
    await core.ready()
    jsConnect(store, port)
    core.download({ start: 0, end: -1 })
    await until(async () => core.contiguousLength === 40, 60000, 'JS to hold 40 blocks')
    p.send('truncate 25')
    p.send('append-text after-the-fork')
    await until(async () => core.fork === 1 && core.length === 26 && core.contiguousLength === 26, 60000,
      'JS to follow the truncate')
    assert.deepEqual(await core.get(24), oursBlock(24))
    assert.equal((await core.get(25)).toString(), 'after-the-fork')
    await p.finish()
  })
})

describe('extensions', () => {
  it('each way', T, async () => {
    const { store, core } = await jsWriter(randomBlocks(3, 10, 7))
    const received = []
    const ext = core.registerExtension('chat', { encoding: 'utf-8', onmessage: msg => received.push(msg) })
    const port = await jsServe(store)
    const p = ours(['--key', core.key.toString('hex'), '--connect', '127.0.0.1:' + port, '--live', '--extension', 'chat'])
    await p.waitFor(l => l.event === 'open')
    await until(async () => core.peers.length === 1, 20000, 'the JS core to see our peer')
    ext.broadcast('hello ours')
    ext.broadcast('and again')
    const got = await p.waitFor(l => l.event === 'extension' && l.message === 'and again')
    assert.equal(got.name, 'chat')
    assert.ok(p.lines.some(l => l.event === 'extension' && l.message === 'hello ours'))
    p.send('ext chat hello js')
    p.send('ext chat twice')
    await until(async () => received.length === 2, 20000, 'JS to receive two extension messages')
    assert.deepEqual(received, ['hello js', 'twice'])
    await p.finish()
  })
})

// A JS man in the middle that knows the key: terminates our secret-stream, replicates with a real
// JS core on the other side, and forwards the hypercore/alpha messages, misbehaving as `mode`
// says: 'capability' (opens with a wrong capability), 'block' (flips a byte of every block),
// 'signature' (flips a bit of every upgrade signature), 'garbage' (raw bytes on the socket once
// the handshake is done).
async function liar (store, core, mode) {
  const server = net.createServer(async socket => {
    socket.on('error', () => {})
    const outer = new SecretStream(false, socket)
    outer.on('error', () => {})
    if (mode === 'garbage') {
      await outer.opened
      // One frame of the right shape whose contents do not decrypt.
      socket.write(Buffer.concat([Buffer.from([200, 0, 0]), Buffer.alloc(200, 0xab)]))
      return
    }
    const inner = store.replicate(true)
    inner.on('error', () => {})
    const mid = new SecretStream(false)
    mid.on('error', () => {})
    inner.pipe(mid.rawStream).pipe(inner)
    await Promise.all([outer.opened, mid.opened])
    const toOurs = channel(outer, msgs => toJs, mode === 'capability')
    const toJs = channel(mid, msgs => toOurs, false)
    function channel (stream, other, wrongCap) {
      const mux = Protomux.from(stream)
      const ch = mux.createChannel({
        protocol: 'hypercore/alpha',
        id: core.discoveryKey,
        handshake: m.wire.handshake,
        messages: Array.from({ length: 10 }, (_, type) => ({
          encoding: c.raw,
          onmessage (buf) { forward(other(), type, buf, stream === outer) }
        }))
      })
      const cap = caps.replicate(stream.isInitiator, core.key, stream.handshakeHash)
      if (wrongCap) cap[0] ^= 1
      ch.open({ seeks: false, capability: cap })
      return ch
    }
    function forward (to, type, buf, fromOurs) {
      if (!fromOurs && type === 3) {
        const d = c.decode(m.wire.data, buf)
        if (mode === 'block' && d.block) {
          if (d.block.value.length > 0) d.block.value[0] ^= 1
          else d.block.value = Buffer.from([1])
        }
        if (mode === 'signature' && d.upgrade) d.upgrade.signature[3] ^= 0x10
        buf = c.encode(m.wire.data, d)
      }
      to.messages[type].send(buf)
    }
  })
  servers.push(server)
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  return server.address().port
}

describe('misbehaving JS peers leave our core as it was', () => {
  for (const mode of ['capability', 'signature', 'block', 'garbage']) {
    it(mode, T, async () => {
      const { store, core } = await jsWriter(randomBlocks(30, 100, 8))
      const port = await liar(store, core, mode)
      const p = ours(['--key', core.key.toString('hex'), '--connect', '127.0.0.1:' + port, '--end', '30'])
      if (mode === 'garbage') {
        const done = await p.waitFor(l => l.event === 'done')
        assert.notEqual(done.code, 'Ok')
      } else {
        const err = await p.waitFor(l => l.event === 'peer-error')
        assert.match(err.message, mode === 'capability' ? /capability/ : /failed verification/)
      }
      const s = p.lines.find(l => l.event === 'done') ? p.lines.find(l => l.event === 'state') : await p.state()
      assert.equal(s.blocks, 0)
      assert.equal(s.digest, EMPTY)
      // Nothing unverified reached the head either: a liar about signatures moved nothing; a liar
      // about blocks could only pass on the writer's genuine signed head.
      if (mode !== 'block') assert.equal(s.length, 0)
      else assert.ok(s.length === 0 || s.length === 30)
      if (!p.lines.find(l => l.event === 'done')) await p.finish()
    })
  }
})

// ---------------------------------------------------------------------------------------------
// hyp replicate --generation 11 (our CLI, on our file storage)

function hypBin () {
  const b = process.env.HYP_BIN
  if (!b) throw new Error('HYP_BIN is not set')
  return path.resolve(b)
}

const hyps = []
after(() => { for (const h of hyps) if (h.exitCode === null) h.kill('SIGKILL') })

// Runs hyp; resolves { code, stdout, stderr } once it exits (at most ms).
function hyp (args, ms = 120000) {
  return new Promise((resolve, reject) => {
    const child = spawn(hypBin(), args, { stdio: ['ignore', 'pipe', 'pipe'] })
    hyps.push(child)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => { stdout += d })
    child.stderr.on('data', d => { stderr += d })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('hyp ' + args.join(' ') + ' timed out\n' + stderr)) }, ms)
    child.on('exit', code => { clearTimeout(timer); resolve({ code, stdout, stderr, child }) })
  })
}

// Every file under dir: relative path -> sha256 of its bytes.
function snapshotFolder (dir) {
  const out = {}
  const walk = d => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out[path.relative(dir, p)] = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex')
    }
  }
  walk(dir)
  return out
}

function tmpFolder () {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'repl-v11-hyp-'))
  tmpDirs.push(d)
  return d
}

describe('hyp replicate --generation 11', () => {
  it('JS -> hyp (5000 blocks) -> a fresh JS reader, the folder created', T, async () => {
    const blocks = randomBlocks(5000, 2048, 21)
    const { store, core } = await jsWriter(blocks)
    const port = await jsServe(store)
    const dir = path.join(tmpFolder(), 'not', 'yet')
    const key = core.key.toString('hex')
    const started = Date.now()
    const r = await hyp(['replicate', '--generation', '11', '--storage', dir, key, '--connect', '127.0.0.1:' + port, '--json'])
    process.stderr.write(`# JS -> hyp: 5000 blocks in ${Date.now() - started} ms (process included)\n`)
    assert.equal(r.code, 0, r.stderr)
    const summary = JSON.parse(r.stdout)
    assert.deepEqual(Object.keys(summary).sort(), ['downloaded', 'key', 'length', 'peer', 'uploaded'])
    assert.equal(summary.key, key)
    assert.equal(summary.length, 5000)
    assert.equal(summary.downloaded, 5000)
    // Again: nothing left to download.
    const again = await hyp(['replicate', '--generation', '11', '--storage', dir, key, '--connect', '127.0.0.1:' + port, '--json'])
    assert.equal(again.code, 0, again.stderr)
    assert.equal(JSON.parse(again.stdout).downloaded, 0)
    // Our storage now serves a JS reader that never met the writer.
    const seeding = spawn(hypBin(), ['replicate', '--generation', '11', '--storage', dir, key, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] })
    hyps.push(seeding)
    const hport = await new Promise((resolve, reject) => {
      let err = ''
      seeding.stderr.on('data', d => { err += d; const m = /listening [\d.]+:(\d+)/.exec(err); if (m) resolve(Number(m[1])) })
      seeding.on('exit', () => reject(new Error('hyp exited: ' + err)))
    })
    const store2 = newStore()
    const reader = store2.get({ key: core.key })
    await reader.ready()
    jsConnect(store2, hport)
    await until(async () => reader.peers.length === 1, 20000, 'JS to see hyp')
    assert.equal(await reader.update({ wait: true }), true)
    await reader.download({ start: 0, end: 5000 }).done()
    for (let i = 0; i < 5000; i++) assert.deepEqual(await reader.get(i), blocks[i], 'block ' + i)
    seeding.kill('SIGTERM')
    const code = await new Promise(resolve => seeding.on('exit', resolve))
    assert.equal(code, 0)
  })

  for (const mode of ['capability', 'signature', 'block', 'garbage']) {
    it('a misbehaving peer (' + mode + ') leaves the storage folder byte-identical', T, async () => {
      const { store, core } = await jsWriter(randomBlocks(30, 100, 22))
      const key = core.key.toString('hex')
      const dir = tmpFolder()
      // First, honestly: the head (length 30) and blocks 0..9 (all 30 when the lie is about the
      // next upgrade, so that nothing genuine is left to fetch through the liar).
      const honest = await jsServe(store)
      const honestEnd = mode === 'signature' ? '30' : '10'
      const r = await hyp(['replicate', '--generation', '11', '--storage', dir, key, '--connect', '127.0.0.1:' + honest, '--end', honestEnd])
      assert.equal(r.code, 0, r.stderr)
      // The writer moves on, so that the liar has an upgrade to lie about (only then: a genuine
      // signed upgrade relayed by a liar about blocks is still the writer's head, and stored).
      if (mode === 'signature') await core.append(randomBlocks(10, 100, 23))
      const before = snapshotFolder(dir)
      const port = await liar(store, core, mode)
      const bad = await hyp(['replicate', '--generation', '11', '--storage', dir, key, '--connect', '127.0.0.1:' + port, '--end', '40'])
      assert.equal(bad.code, 1, bad.stderr)
      if (mode === 'capability') assert.match(bad.stderr, /capability/)
      if (mode === 'signature' || mode === 'block') assert.match(bad.stderr, /failed verification/)
      assert.deepEqual(snapshotFolder(dir), before)
    })
  }
})
