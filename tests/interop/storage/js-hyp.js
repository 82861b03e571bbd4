#!/usr/bin/env node
'use strict'

// A small JS model of the `hyp storage` contract, built on the JS reference stack.
// It exists only to self-check storage.test.js (run the tests with
// HYP_BIN=tests/interop/storage/js-hyp.js): if the tests pass against this model,
// a failure against our C++ hyp points at hyp, not at the test. It is not a specification.

const fs = require('fs')
const path = require('path')
const flat = require('flat-tree')
const hcrypto = require('hypercore-crypto')
const Bitfield = require('hypercore/lib/bitfield')
const TreeIndex = require('hypercore/lib/tree-index')
const js = require('../lib/jsstore')
const cli = require('../lib/cli_args')

class UsageError extends Error {}

function die (msg) {
  process.stderr.write('hyp: ' + msg + '\n')
  process.exit(1)
}

function parseArgs (argv) {
  return cli.parseArgs(argv, { flags: ['json'], Error: UsageError })
}

function parseKey (s) {
  return cli.parseKey(s, UsageError)
}

function dkOf (keyHex) {
  return js.hex(hcrypto.discoveryKey(Buffer.from(keyHex, 'hex')))
}

function allCores (dir) {
  const out = []
  for (const a of safeDir(dir)) {
    if (!/^[0-9a-f]{2}$/.test(a)) continue
    for (const b of safeDir(path.join(dir, a))) {
      for (const dk of safeDir(path.join(dir, a, b))) {
        const keyFile = path.join(dir, a, b, dk, 'key')
        if (!fs.existsSync(keyFile)) continue
        const key = fs.readFileSync(keyFile)
        if (key.length !== 32) continue
        out.push({ key: js.hex(key), discoveryKey: dk })
      }
    }
  }
  return out
}

function safeDir (d) {
  try {
    return fs.readdirSync(d).sort()
  } catch {
    return []
  }
}

function nameOf (dir, dk) {
  const n = js.readNameFile(dir, dk)
  if (!n) return null
  const s = n.toString('utf8')
  if (Buffer.from(s).equals(n) && !/[\x00-\x1f\x7f\ufffd]/.test(s)) return s
  return n.toString('hex')
}

async function withStore (dir, fn) {
  const store = await js.openStore(dir)
  try {
    return await fn(store)
  } finally {
    await js.closeStore(store)
  }
}

function requireCore (dir, keyHex) {
  if (!fs.existsSync(path.join(js.coreDir(dir, dkOf(keyHex)), 'key'))) throw new UsageError('no core with key ' + keyHex + ' in ' + dir)
}

async function ls (dir, opts) {
  const cores = allCores(dir)
  const rows = []
  await withStore(dir, async store => {
    for (const c of cores) {
      const core = store.get({ key: c.key, sparse: true })
      const row = { key: c.key, discoveryKey: c.discoveryKey, name: nameOf(dir, c.discoveryKey), length: 0, byteLength: 0, writable: false }
      try {
        await js.ready(core)
        Object.assign(row, { length: core.length, byteLength: core.byteLength, writable: core.writable })
      } catch (err) {
        process.stderr.write('hyp: cannot open core ' + c.key + ': ' + err.message + '\n')
      }
      rows.push(row)
    }
  })
  if (opts.json) process.stdout.write(JSON.stringify(rows) + '\n')
  else for (const r of rows) process.stdout.write([r.key, r.discoveryKey, r.name === null ? '-' : r.name, r.length, r.byteLength, r.writable ? 'writable' : 'read-only'].join('\t') + '\n')
}

async function cat (dir, opts) {
  const key = parseKey(opts._[0] || '')
  requireCore(dir, key)
  await withStore(dir, async store => {
    const core = store.get({ key, sparse: true })
    await js.ready(core)
    const start = opts.start === undefined ? 0 : Number(opts.start)
    const end = opts.end === undefined ? core.length : Number(opts.end)
    for (let i = start; i < end; i++) {
      if (i >= core.length || !core.has(i)) throw new UsageError('block ' + i + ' is not available (length ' + core.length + ')')
      const b = await js.get(core, i, { wait: false })
      if (opts.json) await write(JSON.stringify({ seq: i, value: b.toString('base64') }) + '\n')
      else await write(b)
    }
  })
}

function write (data) {
  return new Promise(resolve => (process.stdout.write(data) ? resolve() : process.stdout.once('drain', resolve)))
}

async function append (dir, opts) {
  let values
  let target
  if (opts.name !== undefined) {
    target = { name: opts.name }
    values = opts._
  } else {
    target = { key: parseKey(opts._[0] || '') }
    requireCore(dir, target.key)
    values = opts._.slice(1)
  }
  let blocks
  if (opts.file !== undefined) blocks = [fs.readFileSync(opts.file), ...values.map(v => Buffer.from(v))]
  else if (values.length) blocks = values.map(v => Buffer.from(v))
  else {
    const input = fs.readFileSync(0)
    blocks = []
    let s = 0
    for (let i = 0; i < input.length; i++) {
      if (input[i] === 10) {
        blocks.push(input.subarray(s, i))
        s = i + 1
      }
    }
    if (s < input.length) blocks.push(input.subarray(s))
  }
  await withStore(dir, async store => {
    const core = store.get(target)
    await js.ready(core)
    if (!core.writable) throw new UsageError('core ' + js.hex(core.key) + ' is not writable')
    if (blocks.length) await js.append(core, blocks)
    const o = { key: js.hex(core.key), length: core.length, byteLength: core.byteLength }
    if (opts.json) process.stdout.write(JSON.stringify(o) + '\n')
    else process.stdout.write('key ' + o.key + '\nlength ' + o.length + '\nbyteLength ' + o.byteLength + '\n')
  })
}

// Read-only check of one core directory. Returns a list of problems ("<file>: <what>").
function verifyCore (cdir) {
  const problems = []
  const read = f => {
    try {
      return fs.readFileSync(path.join(cdir, f))
    } catch {
      return null
    }
  }
  const key = read('key')
  if (!key || key.length !== 32) return ['key: missing or not 32 bytes']
  const tree = read('tree') || Buffer.alloc(0)
  const data = read('data') || Buffer.alloc(0)
  const sigs = read('signatures') || Buffer.alloc(0)
  const bits = read('bitfield') || Buffer.alloc(0)

  const pageSize = bits.length >= 32 ? bits.readUInt16BE(5) : 3584
  const pages = []
  for (let off = 32; off < bits.length; off += pageSize) {
    const p = Buffer.alloc(pageSize)
    bits.copy(p, 0, off, Math.min(bits.length, off + pageSize))
    pages.push(p)
  }
  const bitfield = Bitfield(pageSize, pages)
  const treeIndex = TreeIndex(bitfield.tree)
  const length = treeIndex.blocks()

  const node = i => {
    const off = 32 + 40 * i
    if (off + 40 > tree.length) return null
    const slot = tree.subarray(off, off + 40)
    if (slot.every(b => b === 0)) return null
    return { index: i, hash: slot.subarray(0, 32), size: Number(slot.readBigUInt64BE(32)) }
  }

  // every node the bitfield claims must be stored, and parents must hash their children
  let missing = 0
  for (let i = 0; i < 2 * length; i++) {
    if (!treeIndex.get(i)) continue
    const n = node(i)
    if (!n) {
      if (missing++ < 5) problems.push('tree: node ' + i + ' is marked present but not stored')
      continue
    }
    if (i & 1) {
      const [l, r] = flat.children(i)
      const ln = node(l)
      const rn = node(r)
      if (ln && rn && !hcrypto.parent(ln, rn).equals(n.hash)) problems.push('tree: parent node ' + i + ' does not match its children')
    }
  }

  // every stored block must hash to its leaf
  for (let b = 0; b < length; b++) {
    if (!bitfield.get(b)) continue
    const leaf = node(2 * b)
    if (!leaf) continue
    let offset = 0
    let ok = true
    for (const r of flat.fullRoots(2 * b)) {
      const rn = node(r)
      if (!rn) { ok = false; break }
      offset += rn.size
    }
    if (!ok) {
      problems.push('tree: cannot locate block ' + b + ' in data')
      continue
    }
    const blk = data.subarray(offset, offset + leaf.size)
    if (blk.length !== leaf.size || !hcrypto.data(blk).equals(leaf.hash)) problems.push('data: block ' + b + ' does not match its hash')
  }

  // every stored signature must verify against the roots of its length
  for (let s = 0; 32 + 64 * (s + 1) <= sigs.length; s++) {
    const sig = sigs.subarray(32 + 64 * s, 32 + 64 * (s + 1))
    if (sig.every(b => b === 0)) continue
    const roots = flat.fullRoots(2 * (s + 1)).map(node)
    if (roots.some(r => !r)) {
      problems.push('signatures: signature for length ' + (s + 1) + ' has no stored roots')
      continue
    }
    if (!hcrypto.verify(hcrypto.signable(roots, s + 1), sig, key)) problems.push('signatures: signature for length ' + (s + 1) + ' is invalid')
  }
  return problems
}

async function verify (dir, opts) {
  let cores = allCores(dir)
  if (opts._[0] !== undefined) {
    const key = parseKey(opts._[0])
    requireCore(dir, key)
    cores = cores.filter(c => c.key === key)
  }
  let bad = 0
  for (const c of cores) {
    const problems = verifyCore(js.coreDir(dir, c.discoveryKey))
    if (problems.length) {
      bad++
      for (const p of problems) process.stderr.write('damaged core ' + c.key + ' ' + p + '\n')
    }
  }
  process.stdout.write(cores.length + ' cores checked, ' + bad + ' damaged\n')
  if (bad) process.exit(2)
}

async function rm (dir, opts) {
  const key = parseKey(opts._[0] || '')
  requireCore(dir, key)
  const cdir = js.coreDir(dir, dkOf(key))
  fs.rmSync(cdir, { recursive: true, force: true })
}

async function main () {
  const argv = process.argv.slice(2)
  if (argv[0] !== 'storage') throw new UsageError('usage: hyp storage ls|cat|append|verify|rm --storage DIR ...')
  const sub = argv[1]
  const opts = parseArgs(argv.slice(2))
  if (!opts.storage) throw new UsageError('--storage DIR is required')
  const dir = path.resolve(opts.storage)
  const cmds = { ls, cat, append, verify, rm }
  if (!cmds[sub]) throw new UsageError('unknown command ' + sub)
  await cmds[sub](dir, opts)
}

main().catch(err => die(err.message))
