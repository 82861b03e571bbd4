'use strict'

// Interop tests for `hyp storage` (our C++ binary, path in HYP_BIN) against the JS reference
// storage stack of Hyperspace 3.19 (corestore 5.8.2 / hypercore 9.12.0, hypercore-default-storage).
//
//   HYP_BIN=/work/main/build/hyp node --test tests/interop/storage.test.js
//
// HYP_TEST_SEED=<n> replays a run's pseudo-random content; HYP_TEST_KEEP=1 keeps the temp folders.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('fs')
const path = require('path')
const nodeCrypto = require('crypto')

const { hypBin, runHyp, hypOk, hypFail, describeRun, lsArray } = require('./lib/hyp')
const js = require('./lib/jsstore')
const { Rng, testSeed, mkTmp, cleanupTmp, sha256, BlockDigest, snapshot, contentSnapshot, JsonLines, parseJsonLines } = require('./lib/util')
const fx = require('./storage/fixtures')

hypBin() // throws a clear error right away when HYP_BIN is unset or not executable

const SEED = testSeed()
const LS_FIELDS = ['byteLength', 'discoveryKey', 'generation', 'key', 'length', 'name', 'writable']
const SLOW = { timeout: 180000 }

after(cleanupTmp)

// ---------------------------------------------------------------------------------------------
// helpers

function rangeArgs (range = {}) {
  const a = []
  if (range.start !== undefined) a.push('--start', String(range.start))
  if (range.end !== undefined) a.push('--end', String(range.end))
  return a
}

function rangeLabel (range = {}) {
  return '[' + (range.start === undefined ? '' : range.start) + ', ' + (range.end === undefined ? '' : range.end) + ')'
}

// `hyp storage ls --json`, checked for shape; returns Map key -> entry.
// With opts.damagedKey, a non-zero exit is accepted if stderr names that core (the others must still be listed).
async function lsJson (dir, opts = {}) {
  const args = ['storage', 'ls', '--storage', dir, '--json']
  const res = opts.damagedKey ? await runHyp(args) : await hypOk(args)
  if (res.code !== 0) {
    assert.equal(res.signal, null, 'ls did not crash: ' + describeRun(res))
    assert.ok(res.stderr.includes(opts.damagedKey), 'ls exits non-zero only to report the damaged core: ' + describeRun(res))
  }
  const map = new Map()
  for (const o of lsArray(res)) {
    assert.deepEqual(Object.keys(o).sort(), LS_FIELDS, 'ls --json entry has exactly the contract fields: ' + JSON.stringify(o))
    assert.ok(!map.has(o.key), 'ls --json lists ' + o.key + ' once')
    map.set(o.key, o)
  }
  return map
}

// The JS core `name` of store, ready, with the length and byteLength the model has for it.
async function jsCoreAsModel (store, model, name) {
  const c = model.core(name)
  const core = store.get({ name })
  await js.ready(core)
  assert.equal(core.length, c.blocks.length, 'JS length of ' + name)
  assert.equal(core.byteLength, model.byteLength(name), 'JS byteLength of ' + name)
  return { c, core }
}

function lsEntry (c) {
  return {
    key: c.key,
    discoveryKey: c.discoveryKey,
    name: c.name,
    length: c.length,
    byteLength: c.byteLength,
    writable: c.writable,
    generation: 9
  }
}

async function catRaw (dir, key, range) {
  const res = await hypOk(['storage', 'cat', '--storage', dir, key, ...rangeArgs(range)])
  return res.stdout
}

// `cat --json`: checks one {"seq", "value"} object per line, consecutive seqs from `first`.
function checkCatJsonObjects (objs, first) {
  return objs.map((o, i) => {
    assert.deepEqual(Object.keys(o).sort(), ['seq', 'value'], 'cat --json line fields: ' + JSON.stringify(o).slice(0, 200))
    assert.equal(o.seq, first + i, 'cat --json seq')
    assert.equal(typeof o.value, 'string')
    const buf = Buffer.from(o.value, 'base64')
    assert.equal(buf.toString('base64'), o.value, 'cat --json value is canonical base64 (seq ' + o.seq + ')')
    return buf
  })
}

async function catJson (dir, key, range = {}) {
  const res = await hypOk(['storage', 'cat', '--storage', dir, key, '--json', ...rangeArgs(range)])
  return checkCatJsonObjects(parseJsonLines(res.stdout), range.start || 0)
}

function assertBlocks (actual, expected, what) {
  assert.equal(actual.length, expected.length, what + ': number of blocks')
  for (let i = 0; i < expected.length; i++) {
    if (!actual[i].equals(expected[i])) {
      assert.fail(what + ': block ' + i + ' differs (got ' + actual[i].length + ' bytes sha256 ' + sha256(actual[i]) +
        ', want ' + expected[i].length + ' bytes sha256 ' + sha256(expected[i]) + ')')
    }
  }
}

function assertBytes (actual, expected, what) {
  if (!actual.equals(expected)) {
    assert.fail(what + ': got ' + actual.length + ' bytes sha256 ' + sha256(actual) +
      ', want ' + expected.length + ' bytes sha256 ' + sha256(expected))
  }
}

// Both forms of cat for blocks[range] of a core.
async function checkCat (dir, key, blocks, range = {}, what = '') {
  const start = range.start === undefined ? 0 : range.start
  const end = range.end === undefined ? blocks.length : range.end
  const want = blocks.slice(start, end)
  const label = (what || key) + ' ' + rangeLabel(range)
  assertBytes(await catRaw(dir, key, range), Buffer.concat(want), 'cat ' + label)
  assertBlocks(await catJson(dir, key, range), want, 'cat --json ' + label)
}

// Matches a block index as a whole number in an error message.
function mentionsIndex (text, i) {
  return new RegExp('(^|[^0-9])' + i + '([^0-9]|$)').test(text)
}

function appendJson (res) {
  const text = res.stdout.toString()
  const trimmed = text.replace(/\n$/, '')
  assert.ok(!trimmed.includes('\n'), 'append --json prints a single line: ' + JSON.stringify(text.slice(0, 300)))
  let o
  try {
    o = JSON.parse(trimmed)
  } catch (err) {
    assert.fail('append --json did not print JSON: ' + describeRun(res))
  }
  for (const f of ['key', 'length', 'byteLength']) assert.ok(f in o, 'append --json has field ' + f + ': ' + trimmed)
  assert.match(o.key, /^[0-9a-f]{64}$/)
  return o
}

function masterKeyOf (dir) {
  const mk = fs.readFileSync(path.join(dir, 'master_key'))
  assert.equal(mk.length, 32, 'master_key is 32 bytes')
  return mk
}

function filesUnder (dir) {
  if (!fs.existsSync(dir)) return []
  const out = []
  const walk = d => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name))
      else out.push(path.join(d, e.name))
    }
  }
  walk(dir)
  return out
}

function flipByte (file, offset) {
  const fd = fs.openSync(file, 'r+')
  try {
    const b = Buffer.alloc(1)
    assert.equal(fs.readSync(fd, b, 0, 1, offset), 1, 'byte ' + offset + ' exists in ' + file)
    b[0] ^= 0x5a
    fs.writeSync(fd, b, 0, 1, offset)
  } finally {
    fs.closeSync(fd)
  }
}

// Our model of a core written by `hyp storage append`.
class Model {
  constructor () {
    this.cores = new Map() // name -> { key, blocks }
  }

  core (name) {
    if (!this.cores.has(name)) this.cores.set(name, { name, key: null, blocks: [] })
    return this.cores.get(name)
  }

  byteLength (name) {
    return this.core(name).blocks.reduce((a, b) => a + b.length, 0)
  }
}

// Runs an append, checks its --json output against the model and updates the model.
async function appendChecked (dir, model, name, target, values, opts = {}) {
  const args = ['storage', 'append', '--storage', dir, ...target, '--json']
  if (opts.file) args.push('--file', opts.file)
  for (const v of values || []) args.push(v)
  const res = await hypOk(args, { input: opts.input })
  const o = appendJson(res)
  const c = model.core(name)
  if (c.key) assert.equal(o.key, c.key, 'append keeps the key of ' + name)
  c.key = o.key
  c.blocks.push(...opts.blocks)
  assert.equal(o.length, c.blocks.length, 'append prints the new length of ' + name)
  assert.equal(o.byteLength, model.byteLength(name), 'append prints the new byteLength of ' + name)
  return o
}

// JS reads block i of core (local only), failing with context instead of a bare storage error.
async function jsRead (core, i, what) {
  try {
    return await js.get(core, i, { wait: false })
  } catch (err) {
    assert.fail('JS cannot read block ' + i + ' of ' + what + ': ' + err.message)
  }
}

async function jsAuditClean (core, length, what) {
  const report = await js.audit(core)
  assert.deepEqual(report, { valid: length, invalid: 0 }, 'JS audit of ' + what + ' (hypercore audit result {valid, invalid})')
}

function stdinLines (blocks) {
  return Buffer.concat(blocks.map(b => Buffer.concat([b, Buffer.from('\n')])))
}

// ---------------------------------------------------------------------------------------------
// (1) JS writes, ours reads

describe('JS corestore 5 writes a storage folder, hyp storage reads it', () => {
  let dir
  let fixture
  const byLabel = label => fixture.cores.find(c => c.label === label)

  before(async () => {
    dir = mkTmp('js2ours')
    fixture = await fx.buildJsStore(dir, new Rng(SEED))
  })

  it('ls --json lists exactly the keys, discovery keys, names, lengths, byteLengths and writable flags JS wrote', async () => {
    const listed = await lsJson(dir)
    assert.deepEqual([...listed.keys()].sort(), fixture.cores.map(c => c.key).sort(), 'same set of cores')
    for (const c of fixture.cores) assert.deepEqual(listed.get(c.key), lsEntry(c), 'ls --json entry of ' + c.label)
    // spot checks of the name kinds the contract distinguishes
    assert.equal(listed.get(byLabel('alpha').key).name, 'alpha')
    assert.equal(listed.get(byLabel('unicode').key).name, fx.NAMES.unicode)
    assert.match(listed.get(byLabel('unnamed-40').key).name, /^[0-9a-f]{64}$/)
    assert.equal(listed.get(byLabel('remote-sparse').key).name, null)
  })

  it('ls without --json shows every key, discovery key and ASCII name', async () => {
    const out = (await hypOk(['storage', 'ls', '--storage', dir])).stdout.toString()
    for (const c of fixture.cores) {
      assert.ok(out.includes(c.key), 'plain ls shows key of ' + c.label)
      assert.ok(out.includes(c.discoveryKey), 'plain ls shows discovery key of ' + c.label)
      if (c.nameBuf && /^[ -~]+$/.test(c.name)) assert.ok(out.includes(c.name), 'plain ls shows name ' + c.name)
    }
  })

  it('cat (raw and --json) returns exactly the blocks JS wrote, for every complete core', async () => {
    for (const c of fixture.cores) {
      if (!c.blocks || c.blocks.includes(null)) continue
      await checkCat(dir, c.key, c.blocks, {}, c.label)
    }
  })

  it('cat --start/--end returns exactly the requested blocks', async () => {
    const alpha = byLabel('alpha')
    const ranges = [
      { start: 1, end: 3 }, { start: 2 }, { end: 2 }, { start: 4, end: 4 }, { start: 0, end: alpha.length },
      { start: alpha.length - 1 }, { start: 2, end: 3 }, { start: 0, end: 1 }, { start: alpha.length }
    ]
    for (const r of ranges) await checkCat(dir, alpha.key, alpha.blocks, r, 'alpha')

    const rng = new Rng(SEED ^ 0x1234)
    const u = byLabel('unnamed-40')
    for (let i = 0; i < 6; i++) {
      const s = rng.int(0, u.length)
      const e = rng.int(s, u.length)
      await checkCat(dir, u.key, u.blocks, { start: s, end: e }, 'unnamed-40')
    }
    const rf = byLabel('remote-full')
    await checkCat(dir, rf.key, rf.blocks, { start: 1, end: 5 }, 'remote-full')

    // the blocks of a sparse remote core that were replicated in
    const sp = byLabel('remote-sparse')
    for (const i of sp.present) {
      const r = { start: i, end: i + 1 }
      assertBytes(await catRaw(dir, sp.key, r), sp.blocks[i], 'remote-sparse cat ' + rangeLabel(r))
      assertBlocks(await catJson(dir, sp.key, r), [sp.blocks[i]], 'remote-sparse cat --json ' + rangeLabel(r))
    }
  })

  it('KEY may be given as hyper://<hex>', async () => {
    const alpha = byLabel('alpha')
    assertBytes(await catRaw(dir, 'hyper://' + alpha.key), Buffer.concat(alpha.blocks), 'cat hyper://')
    await hypOk(['storage', 'verify', '--storage', dir, 'hyper://' + alpha.key])
  })

  it('cat of the 100k-block core matches JS (sha256 of raw, per-block digest of --json, exact ranges)', SLOW, async () => {
    const big = byLabel('big')
    assert.equal(big.length, fx.BIG_BLOCKS)

    const raw = nodeCrypto.createHash('sha256')
    let rawBytes = 0
    const r1 = await runHyp(['storage', 'cat', '--storage', dir, big.key], { onStdout: d => { raw.update(d); rawBytes += d.length } })
    assert.equal(r1.code, 0, describeRun(r1))
    assert.equal(rawBytes, big.byteLength, 'raw cat byte count')
    assert.equal(raw.digest('hex'), big.big.rawSha256, 'sha256 of raw cat')

    const digest = new BlockDigest()
    let next = 0
    const parser = new JsonLines(o => {
      if (o.seq !== next) throw new Error('cat --json seq ' + o.seq + ', expected ' + next)
      const [buf] = checkCatJsonObjects([o], next)
      digest.add(buf)
      next++
    })
    let parseError = null
    const r2 = await runHyp(['storage', 'cat', '--storage', dir, big.key, '--json'], {
      onStdout: d => { if (!parseError) try { parser.push(d) } catch (e) { parseError = e } }
    })
    assert.equal(r2.code, 0, describeRun(r2))
    if (parseError) throw parseError
    parser.end()
    assert.equal(digest.count, big.big.count, 'cat --json block count')
    assert.equal(digest.digest(), big.big.blockDigest, 'per-block digest of cat --json')

    for (const [s, e] of fx.BIG_KEEP) {
      const want = []
      for (let i = s; i < e; i++) want.push(big.big.kept.get(i))
      const blocks = new Array(e).fill(null)
      for (let i = s; i < e; i++) blocks[i] = want[i - s]
      await checkCat(dir, big.key, blocks, { start: s, end: e }, 'big')
    }
  })

  it('verify exits 0 on the JS-written folder, prints a summary and writes nothing', SLOW, async () => {
    const before = snapshot(dir)
    const res = await hypOk(['storage', 'verify', '--storage', dir])
    assert.ok((res.stdout.toString() + res.stderr).trim().length > 0, 'verify prints a summary')
    for (const label of ['alpha', 'unnamed-40', 'remote-full', 'remote-sparse', 'remote-empty', 'zeros', 'none']) {
      await hypOk(['storage', 'verify', '--storage', dir, byLabel(label).key])
    }
    assert.deepEqual(snapshot(dir), before, 'verify left every file (content and mtime) untouched')
  })

  // Damage one core in a copy of the folder; the others must stay readable.
  async function checkDamage (label, file, damage, fileWord) {
    const copy = mkTmp('damaged-' + label)
    fs.cpSync(dir, copy, { recursive: true })
    const victim = byLabel(label)
    const victimFile = path.join(js.coreDir(copy, victim.discoveryKey), file)
    damage(victimFile)

    const before = snapshot(copy)
    const res = await hypFail(['storage', 'verify', '--storage', copy])
    const out = res.stdout.toString() + res.stderr
    assert.ok(out.includes(victim.key), 'verify names the damaged core ' + victim.key + ': ' + describeRun(res))
    assert.match(out, new RegExp('\\b' + fileWord + '\\b'), 'verify names the damaged file: ' + describeRun(res))
    const one = await hypFail(['storage', 'verify', '--storage', copy, victim.key])
    assert.ok((one.stdout.toString() + one.stderr).includes(victim.key), 'verify KEY names the damaged core')
    assert.deepEqual(snapshot(copy), before, 'verify wrote nothing to the damaged folder')

    // every other core still verifies, lists and reads
    const listed = await lsJson(copy, { damagedKey: victim.key })
    for (const c of fixture.cores) {
      if (c === victim) continue
      assert.deepEqual(listed.get(c.key), lsEntry(c), 'after damaging ' + label + ', ls --json entry of ' + c.label)
    }
    for (const other of ['alpha', 'unnamed-40', 'remote-full']) {
      if (other === label) continue
      const c = byLabel(other)
      await checkCat(copy, c.key, c.blocks, {}, other + ' next to a damaged core')
      await hypOk(['storage', 'verify', '--storage', copy, c.key])
    }
  }

  it('verify fails naming core and file when one byte of a data file is flipped; others still list and cat', SLOW, async () => {
    const alpha = byLabel('alpha')
    const off = alpha.blocks[0].length + alpha.blocks[1].length + 500000 // inside the 1 MiB block
    await checkDamage('alpha', 'data', f => flipByte(f, off), 'data')
  })

  it('verify fails naming core and file when a tree file is truncated; others still list and cat', SLOW, async () => {
    await checkDamage('unnamed-40', 'tree', f => fs.truncateSync(f, 32 + 40 * 20), 'tree')
  })

  it('verify fails naming core and file when a signature is damaged; others still list and cat', SLOW, async () => {
    const big = byLabel('big')
    await checkDamage('big', 'signatures', f => flipByte(f, 32 + 64 * (big.length - 1) + 10), 'signatures')
  })
})

// ---------------------------------------------------------------------------------------------
// (2) ours writes, JS reads and appends, ours reads again

describe('hyp storage append writes a fresh folder, JS corestore 5 reads and extends it', () => {
  let dir
  let files
  const model = new Model()
  const MANY = 20000
  const UNI = 'ünï 名前'
  const names = () => [...model.cores.keys()]
  let jsAppended = false

  before(() => {
    dir = mkTmp('ours2js')
    files = mkTmp('ours2js-files')
  })

  it('append creates named cores (0 B, 1 B, 1 MiB --file, values, stdin lines, 20k lines) with corestore 5 keys', SLOW, async () => {
    const rng = new Rng(SEED ^ 0xbeef)
    const mib = rng.bytes(fx.MiB)
    const mibFile = path.join(files, 'one-mib.bin')
    fs.writeFileSync(mibFile, mib)
    const bin = Buffer.concat([Buffer.from('line1\nline2\r\n\0\0'), rng.bytes(5000), Buffer.from('\n')])
    const binFile = path.join(files, 'binary.bin')
    fs.writeFileSync(binFile, bin)

    await appendChecked(dir, model, 'first', ['--name', 'first'], [''], { blocks: [Buffer.alloc(0)] })
    await appendChecked(dir, model, 'empty-only', ['--name', 'empty-only'], [''], { blocks: [Buffer.alloc(0)] })
    await appendChecked(dir, model, 'first', ['--name', 'first'], ['x'], { blocks: [Buffer.from('x')] })
    await appendChecked(dir, model, 'first', ['--name', 'first'], [], { file: mibFile, blocks: [mib] })
    await appendChecked(dir, model, 'first', ['--name', 'first'], ['a', 'bb', 'ccc'], { blocks: ['a', 'bb', 'ccc'].map(s => Buffer.from(s)) })
    await appendChecked(dir, model, 'lines', ['--name', 'lines'], [], {
      input: 'one\n\nthree\n', blocks: ['one', '', 'three'].map(s => Buffer.from(s))
    })
    const many = []
    for (let i = 0; i < MANY; i++) many.push(Buffer.from('line ' + i + ' ' + rng.bytes(rng.int(0, 30)).toString('base64')))
    many[7] = Buffer.alloc(0)
    many[MANY - 2] = Buffer.alloc(0)
    await appendChecked(dir, model, 'many', ['--name', 'many'], [], { input: stdinLines(many), blocks: many })
    await appendChecked(dir, model, UNI, ['--name', UNI], [], { file: binFile, blocks: [bin] })

    // addressing by KEY and hyper://KEY
    await appendChecked(dir, model, 'first', [model.core('first').key], ['tail'], { blocks: [Buffer.from('tail')] })
    await appendChecked(dir, model, 'lines', ['hyper://' + model.core('lines').key], ['via-url'], { blocks: [Buffer.from('via-url')] })

    // plain output: key, length and byteLength
    const plain = await hypOk(['storage', 'append', '--storage', dir, '--name', 'plain', 'hello', 'world!'])
    model.core('plain').blocks.push(Buffer.from('hello'), Buffer.from('world!'))
    const mk = masterKeyOf(dir)
    const plainKey = js.hex(js.derivePublicKey(mk, 'plain'))
    model.core('plain').key = plainKey
    const text = plain.stdout.toString()
    assert.ok(text.includes(plainKey), 'plain append output shows the key: ' + text)
    assert.match(text, /(^|\D)2(\D|$)/, 'plain append output shows length 2: ' + text)
    assert.match(text, /(^|\D)11(\D|$)/, 'plain append output shows byteLength 11: ' + text)

    // every key is the corestore 5 derivation from master_key and name
    for (const c of model.cores.values()) {
      assert.equal(c.key, js.hex(js.derivePublicKey(mk, c.name)), 'key of ' + c.name + ' is derived like corestore 5')
    }
  })

  it('ls --json lists the new cores with their names, lengths and writable: true', async () => {
    const listed = await lsJson(dir)
    assert.deepEqual([...listed.keys()].sort(), [...model.cores.values()].map(c => c.key).sort())
    for (const c of model.cores.values()) {
      assert.deepEqual(listed.get(c.key), {
        key: c.key,
        discoveryKey: js.hex(js.discoveryKey(Buffer.from(c.key, 'hex'))),
        name: c.name,
        length: c.blocks.length,
        byteLength: model.byteLength(c.name),
        writable: true,
        generation: 9
      }, 'ls --json entry of ' + c.name)
    }
  })

  it('JS store.get({name}) gives the same keys, identical bytes, a clean audit, and appends', SLOW, async () => {
    const store = await js.openStore(dir)
    try {
      for (const name of names()) {
        const { c, core } = await jsCoreAsModel(store, model, name)
        assert.equal(js.hex(core.key), c.key, 'JS key of ' + name)
        assert.equal(core.writable, true, 'JS sees ' + name + ' writable')
        for (let i = 0; i < c.blocks.length; i++) {
          const b = await jsRead(core, i, name)
          if (!b.equals(c.blocks[i])) assert.fail('JS reads block ' + i + ' of ' + name + ' differently')
        }
        await jsAuditClean(core, c.blocks.length, name)
      }

      const first = store.get({ name: 'first' })
      const more = [Buffer.from('js-1'), Buffer.alloc(0), Buffer.from([7])]
      await js.append(first, more)
      model.core('first').blocks.push(...more)
      const many = store.get({ name: 'many' })
      const batch = []
      for (let i = 0; i < 1000; i++) batch.push(Buffer.from('js line ' + i))
      await js.append(many, batch)
      model.core('many').blocks.push(...batch)
      const fromJs = store.get({ name: 'from-js' })
      await js.ready(fromJs)
      const fj = [Buffer.from('made'), Buffer.from('by'), Buffer.from('js')]
      await js.append(fromJs, fj)
      model.core('from-js').key = js.hex(fromJs.key)
      model.core('from-js').blocks.push(...fj)
    } finally {
      await js.closeStore(store)
    }
    jsAppended = true
  })

  it('hyp reads what JS appended, and verify exits 0', SLOW, async () => {
    assert.ok(jsAppended, 'previous step ran')
    const listed = await lsJson(dir)
    for (const c of model.cores.values()) {
      const e = listed.get(c.key)
      assert.ok(e, 'ls lists ' + c.name)
      assert.equal(e.length, c.blocks.length, 'ls length of ' + c.name)
      assert.equal(e.byteLength, model.byteLength(c.name), 'ls byteLength of ' + c.name)
      assert.equal(e.name, c.name)
      assert.equal(e.writable, true)
    }
    await checkCat(dir, model.core('first').key, model.core('first').blocks, {}, 'first')
    await checkCat(dir, model.core('from-js').key, model.core('from-js').blocks, {}, 'from-js')
    await checkCat(dir, model.core('many').key, model.core('many').blocks, { start: MANY - 10, end: MANY + 1000 }, 'many')
    const all = await catRaw(dir, model.core('many').key)
    assertBytes(all, Buffer.concat(model.core('many').blocks), 'cat many')
    const res = await hypOk(['storage', 'verify', '--storage', dir])
    assert.ok((res.stdout.toString() + res.stderr).trim().length > 0, 'verify prints a summary')
  })

  it('hyp appends after JS (by name, also to a JS-created core); JS audits clean again; verify exits 0', SLOW, async () => {
    assert.ok(jsAppended, 'previous step ran')
    await appendChecked(dir, model, 'first', ['--name', 'first'], ['again'], { blocks: [Buffer.from('again')] })
    await appendChecked(dir, model, 'from-js', ['--name', 'from-js'], [], { input: 'ours\n', blocks: [Buffer.from('ours')] })
    await appendChecked(dir, model, 'many', ['--name', 'many'], [], { input: 'x\ny\n', blocks: [Buffer.from('x'), Buffer.from('y')] })

    const store = await js.openStore(dir)
    try {
      for (const name of names()) {
        const { c, core } = await jsCoreAsModel(store, model, name)
        const last = c.blocks.length - 1
        assert.ok((await jsRead(core, last, name)).equals(c.blocks[last]), 'JS last block of ' + name)
        await jsAuditClean(core, c.blocks.length, name)
      }
    } finally {
      await js.closeStore(store)
    }
    await hypOk(['storage', 'verify', '--storage', dir])
  })
})

// ---------------------------------------------------------------------------------------------
// (3) contract details

describe('hyp storage contract details', () => {
  it('append from stdin: one block per line, empty lines kept, a last line without newline is a block', async () => {
    const dir = mkTmp('stdin')
    const model = new Model()
    const cases = [
      ['mixed', 'first\n\n\nfourth\n\nlast', ['first', '', '', 'fourth', '', 'last']],
      ['trailing-newline', 'a\nb\n', ['a', 'b']],
      ['one-empty-line', '\n', ['']],
      ['two-empty-lines', '\n\n', ['', '']],
      ['no-newline', 'no newline at all', ['no newline at all']],
      ['leading-empty', '\nx', ['', 'x']],
      ['utf8', 'ünï\n名前\n', ['ünï', '名前']]
    ]
    for (const [name, input, lines] of cases) {
      await appendChecked(dir, model, name, ['--name', name], [], { input, blocks: lines.map(s => Buffer.from(s)) })
      await checkCat(dir, model.core(name).key, model.core(name).blocks, {}, name)
    }
    const store = await js.openStore(dir)
    try {
      for (const [name] of cases) {
        const core = store.get({ name })
        await js.ready(core)
        assert.equal(js.hex(core.key), model.core(name).key)
        const got = []
        for (let i = 0; i < core.length; i++) got.push(await jsRead(core, i, name))
        assertBlocks(got, model.core(name).blocks, 'JS reads stdin blocks of ' + name)
        await jsAuditClean(core, model.core(name).blocks.length, name)
      }
    } finally {
      await js.closeStore(store)
    }
  })

  it('cat past the end fails and names the missing block', async () => {
    const dir = mkTmp('past-end')
    const res = appendJson(await hypOk(['storage', 'append', '--storage', dir, '--name', 'six', '--json', 'a', 'b', 'c', 'd', 'e', 'f']))
    assert.equal(res.length, 6)
    for (const json of [[], ['--json']]) {
      const r1 = await hypFail(['storage', 'cat', '--storage', dir, res.key, '--start', '0', '--end', '8', ...json])
      assert.ok(mentionsIndex(r1.stderr, 6), 'stderr names block 6: ' + describeRun(r1))
      const r2 = await hypFail(['storage', 'cat', '--storage', dir, res.key, '--start', '7', '--end', '9', ...json])
      assert.ok(mentionsIndex(r2.stderr, 7), 'stderr names block 7: ' + describeRun(r2))
    }
    await checkCat(dir, res.key, ['a', 'b', 'c', 'd', 'e', 'f'].map(s => Buffer.from(s)), { start: 5, end: 6 }, 'six')
  })

  it('cat of a block a sparse core does not have fails and names that block', async () => {
    const dir = mkTmp('sparse')
    const present = [3, 13]
    const { key, blocks } = await fx.buildSparseStore(dir, new Rng(SEED ^ 0x5a5a), 20, present)
    const listed = await lsJson(dir)
    assert.equal(listed.get(key).length, 20)
    assert.equal(listed.get(key).writable, false)
    assert.equal(listed.get(key).name, null)
    for (const i of present) {
      assertBytes(await catRaw(dir, key, { start: i, end: i + 1 }), blocks[i], 'sparse block ' + i)
      assertBlocks(await catJson(dir, key, { start: i, end: i + 1 }), [blocks[i]], 'sparse block ' + i + ' --json')
    }
    for (const [range, missing] of [[{ start: 13, end: 15 }, 14], [{ start: 5, end: 6 }, 5], [{ start: 2, end: 4 }, 2], [{}, 0]]) {
      for (const json of [[], ['--json']]) {
        const r = await hypFail(['storage', 'cat', '--storage', dir, key, ...rangeArgs(range), ...json])
        assert.ok(mentionsIndex(r.stderr, missing), 'stderr names missing block ' + missing + ': ' + describeRun(r))
      }
    }
  })

  it('rm deletes one core\'s files so ls no longer lists it; other cores are untouched', async () => {
    const dir = mkTmp('rm')
    const keys = {}
    for (const name of ['keep-1', 'gone-1', 'gone-2', 'keep-2']) {
      keys[name] = appendJson(await hypOk(['storage', 'append', '--storage', dir, '--name', name, '--json', name + '-a', name + '-b'])).key
    }
    const before = await lsJson(dir)
    const dk = k => js.hex(js.discoveryKey(Buffer.from(k, 'hex')))
    const keepSnap = contentSnapshot(js.coreDir(dir, dk(keys['keep-1'])))
    assert.ok(filesUnder(js.coreDir(dir, dk(keys['gone-1']))).length > 0)

    await hypOk(['storage', 'rm', '--storage', dir, keys['gone-1']])
    await hypOk(['storage', 'rm', '--storage', dir, 'hyper://' + keys['gone-2']])

    const after = await lsJson(dir)
    assert.deepEqual([...after.keys()].sort(), [keys['keep-1'], keys['keep-2']].sort(), 'ls lists only the kept cores')
    for (const k of after.keys()) assert.deepEqual(after.get(k), before.get(k))
    for (const g of ['gone-1', 'gone-2']) {
      assert.deepEqual(filesUnder(js.coreDir(dir, dk(keys[g]))), [], 'no files of ' + g + ' remain')
      const r = await hypFail(['storage', 'cat', '--storage', dir, keys[g]])
      assert.ok(r.stderr.trim().length > 0, 'cat of a removed core explains itself')
    }
    assert.deepEqual(contentSnapshot(js.coreDir(dir, dk(keys['keep-1']))), keepSnap, 'kept core files unchanged')
    await checkCat(dir, keys['keep-2'], [Buffer.from('keep-2-a'), Buffer.from('keep-2-b')], {}, 'keep-2')
    await hypOk(['storage', 'verify', '--storage', dir])

    // JS agrees: the kept cores are intact, a removed name starts over empty
    const store = await js.openStore(dir)
    try {
      const k1 = store.get({ name: 'keep-1' })
      await js.ready(k1)
      assert.equal(k1.length, 2)
      await jsAuditClean(k1, 2, 'keep-1')
      const g1 = store.get({ name: 'gone-1' })
      await js.ready(g1)
      assert.equal(js.hex(g1.key), keys['gone-1'])
      assert.equal(g1.length, 0, 'JS finds no blocks of a removed core')
    } finally {
      await js.closeStore(store)
    }
  })

  it('bad KEY arguments are rejected with a clear error, touching nothing', async () => {
    const dir = mkTmp('badkey')
    const good = appendJson(await hypOk(['storage', 'append', '--storage', dir, '--name', 'n', '--json', 'v'])).key
    const before = snapshot(dir)
    const bad = [
      'xyz',
      good.slice(0, 62),
      good + 'a',
      'g'.repeat(64),
      'hyper://zz',
      'hyper://' + good.slice(0, 63),
      'hyper:/' + good,
      ' ' + good
    ]
    for (const k of bad) {
      for (const cmd of [['cat', k], ['rm', k], ['verify', k], ['append', k, 'value']]) {
        const r = await hypFail(['storage', cmd[0], '--storage', dir, ...cmd.slice(1)])
        assert.match(r.stderr, /key/i, 'a clear error about the key: ' + describeRun(r))
      }
    }
    assert.deepEqual(snapshot(dir), before, 'rejected commands left the folder untouched')
    const ls = await lsJson(dir)
    assert.deepEqual([...ls.keys()], [good])
  })

  it('cat and verify of a well-formed key that is not stored fail', async () => {
    const dir = mkTmp('absent')
    appendJson(await hypOk(['storage', 'append', '--storage', dir, '--name', 'n', '--json', 'v']))
    const absent = nodeCrypto.randomBytes(32).toString('hex')
    for (const cmd of ['cat', 'verify']) {
      const r = await hypFail(['storage', cmd, '--storage', dir, absent])
      assert.ok(r.stderr.trim().length > 0, cmd + ' of an absent core explains itself')
    }
  })

  it('append to a core opened by key only (not writable) fails and changes nothing', async () => {
    const dir = mkTmp('readonly')
    const withBlocks = await fx.addKeyOnlyCore(dir, [Buffer.from('r0'), Buffer.from('r1')], true)
    const empty = await fx.addKeyOnlyCore(dir, [Buffer.from('never replicated')], false)
    assert.equal(withBlocks.length, 2)
    assert.equal(empty.length, 0)
    for (const c of [withBlocks, empty]) {
      const cdir = js.coreDir(dir, c.discoveryKey)
      const snap = contentSnapshot(cdir)
      const attempts = [
        [['storage', 'append', '--storage', dir, c.key, 'nope'], {}],
        [['storage', 'append', '--storage', dir, 'hyper://' + c.key, '--json', 'nope'], {}],
        [['storage', 'append', '--storage', dir, c.key], { input: 'line\n' }]
      ]
      for (const [args, opts] of attempts) {
        const r = await hypFail(args, opts)
        assert.ok(r.stderr.trim().length > 0, 'append to a read-only core explains itself: ' + describeRun(r))
      }
      assert.deepEqual(contentSnapshot(cdir), snap, 'read-only core files unchanged')
    }
    const listed = await lsJson(dir)
    assert.deepEqual(listed.get(withBlocks.key), { ...lsEntry(withBlocks), name: null })
    assert.deepEqual(listed.get(empty.key), { ...lsEntry(empty), name: null })
    await checkCat(dir, withBlocks.key, [Buffer.from('r0'), Buffer.from('r1')], {}, 'read-only core')
  })

  it('append while a JS process holds the core open fails on the bitfield flock and changes nothing', async () => {
    const dir = mkTmp('locked')
    const store = await js.openStore(dir)
    let key
    let cdir
    try {
      const core = store.get({ name: 'held' })
      await js.ready(core)
      await js.append(core, [Buffer.from('held-0')])
      key = js.hex(core.key)
      cdir = js.coreDir(dir, js.hex(core.discoveryKey))
      const snap = contentSnapshot(cdir)
      for (const target of [['--name', 'held'], [key]]) {
        const r = await hypFail(['storage', 'append', '--storage', dir, ...target, 'nope'])
        assert.ok(r.stderr.trim().length > 0, 'append to a locked core explains itself: ' + describeRun(r))
      }
      assert.deepEqual(contentSnapshot(cdir), snap, 'locked core files unchanged')
      assert.equal(core.length, 1)
    } finally {
      await js.closeStore(store)
    }
    const o = appendJson(await hypOk(['storage', 'append', '--storage', dir, '--name', 'held', '--json', 'ours-1']))
    assert.deepEqual([o.key, o.length, o.byteLength], [key, 2, 12], 'append works once JS has closed the store')
  })

  it('append by KEY to an unnamed JS core (random name file) works and JS reads it', async () => {
    const dir = mkTmp('unnamed-append')
    const store = await js.openStore(dir)
    const core = store.get()
    await js.ready(core)
    await js.append(core, [Buffer.from('js-0'), Buffer.from('js-1')])
    const key = js.hex(core.key)
    await js.closeStore(store)

    const o = appendJson(await hypOk(['storage', 'append', '--storage', dir, key, '--json', 'ours-2']))
    assert.deepEqual({ key: o.key, length: o.length, byteLength: o.byteLength }, { key, length: 3, byteLength: 14 })

    const store2 = await js.openStore(dir)
    try {
      const again = store2.get({ key })
      await js.ready(again)
      assert.equal(again.writable, true)
      assert.equal(again.length, 3)
      assert.ok((await jsRead(again, 2, 'unnamed core')).equals(Buffer.from('ours-2')))
      await jsAuditClean(again, 3, 'unnamed core')
      await js.append(again, [Buffer.from('js-3')])
    } finally {
      await js.closeStore(store2)
    }
    await checkCat(dir, key, ['js-0', 'js-1', 'ours-2', 'js-3'].map(s => Buffer.from(s)), {}, 'unnamed core')
    const listed = await lsJson(dir)
    assert.match(listed.get(key).name, /^[0-9a-f]{64}$/)
    await hypOk(['storage', 'verify', '--storage', dir])
  })
})

// Printed once so a failing run can be replayed.
after(() => process.stderr.write('# storage.test.js: HYP_TEST_SEED=' + SEED + '\n'))
