'use strict'

// Storage folders written by the JS reference (corestore 5.8.2 / hypercore 9.12.0),
// with a description of what each core must look like to any reader.

const fs = require('fs')
const path = require('path')
const assert = require('node:assert/strict')
const js = require('../lib/jsstore')
const { BlockDigest } = require('../lib/util')

const MiB = 1024 * 1024

// Names used by the JS -> ours fixture.
const NAMES = {
  alpha: 'alpha',
  unicode: 'ünïcødé/名前 ✓',
  exact32: 'name-of-exactly-thirty-two-bytes', // 32 ASCII bytes, like a random name's size
  zeros: 'only-empty-blocks',
  none: 'no-blocks-at-all',
  big: 'big-100k'
}
assert.equal(Buffer.byteLength(NAMES.exact32), 32)

const BIG_BLOCKS = 100000
const BIG_BATCH = 2000
// Ranges of the big core whose blocks are kept in memory for exact comparisons.
const BIG_KEEP = [[0, 5], [49990, 50100], [99950, 100000]]

function describeCore (core, extra) {
  return {
    key: js.hex(core.key),
    discoveryKey: js.hex(core.discoveryKey),
    length: core.length,
    byteLength: core.byteLength,
    writable: core.writable,
    ...extra
  }
}

async function appendAll (core, batches) {
  const blocks = []
  for (const batch of batches) {
    await js.append(core, batch)
    blocks.push(...batch)
  }
  return blocks
}

// A core written in an in-memory JS corestore elsewhere, opened by key in `store`,
// optionally replicated in (fully, or only `present` blocks when sparse).
async function remoteCore (store, blocks, { replicate = false, sparse = false, present = null } = {}) {
  const elsewhere = await js.openMemoryStore()
  const src = elsewhere.get()
  await js.ready(src)
  if (blocks.length) await js.append(src, blocks)

  const core = store.get({ key: src.key, sparse })
  await js.ready(core)
  if (replicate) {
    const stop = js.replicate(store, elsewhere)
    if (sparse) {
      for (const i of present) {
        const got = await js.get(core, i)
        assert.ok(got.equals(blocks[i]), 'replicated block ' + i)
      }
    } else {
      await js.download(core, { start: 0, end: blocks.length })
    }
    await stop()
  }
  await js.closeStore(elsewhere)
  return core
}

// The JS -> ours fixture: returns { masterKey, cores: [...] } where each core has
// key, discoveryKey, name (string | hex | null), length, byteLength, writable, and either
// blocks (Buffer[]; null entries for blocks not present) or big (digests).
async function buildJsStore (dir, rng) {
  const store = await js.openStore(dir)
  const cores = []
  const live = []

  // 1. named core with blocks of many sizes, single appends and batches
  {
    const core = store.get({ name: NAMES.alpha })
    await js.ready(core)
    const blocks = await appendAll(core, [
      [Buffer.alloc(0)],
      [Buffer.from('\n')],
      [rng.bytes(MiB)],
      [Buffer.from('hello world')],
      [rng.bytes(17), Buffer.alloc(0), rng.bytes(4096), rng.bytes(65537)],
      [Buffer.from([0])],
      [rng.bytes(rng.int(1, 300000))]
    ])
    live.push([core, { label: 'alpha', name: NAMES.alpha, blocks }])
  }

  // 2. named core, non-ASCII name
  {
    const core = store.get({ name: NAMES.unicode })
    await js.ready(core)
    const blocks = await appendAll(core, [[Buffer.from('ünï'), Buffer.from('\r\n\t')], [rng.bytes(999)]])
    live.push([core, { label: 'unicode', name: NAMES.unicode, blocks }])
  }

  // 3. named core whose name has the size of a random name
  {
    const core = store.get({ name: NAMES.exact32 })
    await js.ready(core)
    const blocks = await appendAll(core, [[Buffer.from('32')]])
    live.push([core, { label: 'exact32', name: NAMES.exact32, blocks }])
  }

  // 4. named core with only zero-length blocks (no data file is ever created)
  {
    const core = store.get({ name: NAMES.zeros })
    await js.ready(core)
    const blocks = await appendAll(core, [[Buffer.alloc(0)], [Buffer.alloc(0), Buffer.alloc(0)]])
    live.push([core, { label: 'zeros', name: NAMES.zeros, blocks }])
  }

  // 5. named core with no blocks
  {
    const core = store.get({ name: NAMES.none })
    await js.ready(core)
    live.push([core, { label: 'none', name: NAMES.none, blocks: [] }])
  }

  // 6. unnamed cores (corestore gives them a random 32-byte name)
  {
    const core = store.get()
    await js.ready(core)
    const batches = []
    let n = 0
    while (n < 40) {
      const size = Math.min(40 - n, rng.int(1, 7))
      const batch = []
      for (let i = 0; i < size; i++) batch.push(rng.bytes(rng.int(0, 5000)))
      batches.push(batch)
      n += size
    }
    const blocks = await appendAll(core, batches)
    live.push([core, { label: 'unnamed-40', unnamed: true, blocks }])
  }
  {
    const core = store.get()
    await js.ready(core)
    const blocks = await appendAll(core, [[rng.bytes(1)]])
    live.push([core, { label: 'unnamed-1', unnamed: true, blocks }])
  }

  // 7. 100k blocks, appended in batches
  {
    const core = store.get({ name: NAMES.big })
    await js.ready(core)
    const raw = require('crypto').createHash('sha256')
    const digest = new BlockDigest()
    const kept = new Map()
    const pool = rng.bytes(1 << 16)
    for (let start = 0; start < BIG_BLOCKS; start += BIG_BATCH) {
      const batch = []
      for (let i = start; i < start + BIG_BATCH; i++) {
        const size = i % 997 === 0 ? 0 : rng.int(1, 64)
        const off = rng.int(0, pool.length - size)
        const b = Buffer.concat([Buffer.from(i.toString(36)), pool.subarray(off, off + size)])
        batch.push(b)
        raw.update(b)
        digest.add(b)
        if (BIG_KEEP.some(([s, e]) => i >= s && i < e)) kept.set(i, b)
      }
      await js.append(core, batch)
    }
    live.push([core, {
      label: 'big',
      name: NAMES.big,
      big: { count: digest.count, bytes: digest.bytes, rawSha256: raw.digest('hex'), blockDigest: digest.digest(), kept }
    }])
  }

  // 8. remote cores opened by key only
  {
    const blocks = [Buffer.from('r0'), Buffer.alloc(0), rng.bytes(3000), Buffer.from('r3'), rng.bytes(70000), Buffer.from('r5')]
    const core = await remoteCore(store, blocks, { replicate: true })
    live.push([core, { label: 'remote-full', remote: true, blocks }])
  }
  {
    const blocks = []
    for (let i = 0; i < 10; i++) blocks.push(Buffer.from('sparse-' + i + '-' + rng.bytes(rng.int(0, 40)).toString('hex')))
    const present = [4, 7]
    const core = await remoteCore(store, blocks, { replicate: true, sparse: true, present })
    live.push([core, {
      label: 'remote-sparse',
      remote: true,
      present,
      sourceByteLength: blocks.reduce((a, b) => a + b.length, 0),
      blocks: blocks.map((b, i) => (present.includes(i) ? b : null))
    }])
  }
  {
    const core = await remoteCore(store, [Buffer.from('never replicated')], { replicate: false })
    live.push([core, { label: 'remote-empty', remote: true, blocks: [] }])
  }

  for (const [core, info] of live) {
    const d = describeCore(core, {})
    const entry = { ...info, ...d }
    if (info.unnamed) {
      const nameBuf = js.readNameFile(dir, d.discoveryKey)
      assert.ok(nameBuf && nameBuf.length === 32, 'unnamed core has a 32-byte random name file')
      entry.name = nameBuf.toString('hex')
      entry.nameBuf = nameBuf
    } else if (info.remote) {
      entry.name = null
    } else {
      entry.nameBuf = Buffer.from(info.name)
    }
    cores.push(entry)
  }

  await js.closeStore(store)

  // Sanity of the fixture itself (these describe the JS reference, not our code).
  const masterKey = fs.readFileSync(path.join(dir, 'master_key'))
  assert.equal(masterKey.length, 32)
  for (const c of cores) {
    if (c.nameBuf) {
      assert.ok(js.readNameFile(dir, c.discoveryKey).equals(c.nameBuf), c.label + ': name file')
      assert.equal(js.hex(js.derivePublicKey(masterKey, c.nameBuf)), c.key, c.label + ': name derives key')
      assert.equal(c.writable, true, c.label + ': writable')
    } else {
      assert.equal(js.readNameFile(dir, c.discoveryKey), null, c.label + ': no name file')
      assert.equal(c.writable, false, c.label + ': not writable')
    }
    if (c.blocks && !c.blocks.includes(null)) {
      assert.equal(c.length, c.blocks.length, c.label + ': length')
      assert.equal(c.byteLength, c.blocks.reduce((a, b) => a + b.length, 0), c.label + ': byteLength')
    }
    if (c.big) {
      assert.equal(c.length, c.big.count)
      assert.equal(c.byteLength, c.big.bytes)
    }
  }
  const sparse = cores.find(c => c.label === 'remote-sparse')
  assert.equal(sparse.length, 10)
  assert.equal(sparse.byteLength, sparse.sourceByteLength) // known from the replicated roots

  return { masterKey, cores }
}

// A fresh storage holding one sparse remote core of `length` blocks of which only
// `present` were replicated in. Returns { key, blocks }.
async function buildSparseStore (dir, rng, length, present) {
  const store = await js.openStore(dir)
  const blocks = []
  for (let i = 0; i < length; i++) blocks.push(Buffer.from('b' + i + ':' + rng.bytes(rng.int(1, 50)).toString('hex')))
  const core = await remoteCore(store, blocks, { replicate: true, sparse: true, present })
  assert.equal(core.length, length)
  for (let i = 0; i < length; i++) assert.equal(core.has(i), present.includes(i))
  const key = js.hex(core.key)
  await js.closeStore(store)
  return { key, blocks }
}

// A fresh or existing storage holding one core opened by key only (not writable).
async function addKeyOnlyCore (dir, blocks, replicate) {
  const store = await js.openStore(dir)
  const core = await remoteCore(store, blocks, { replicate })
  const out = describeCore(core, {})
  await js.closeStore(store)
  return out
}

module.exports = { NAMES, MiB, BIG_BLOCKS, BIG_KEEP, buildJsStore, buildSparseStore, addKeyOnlyCore }
