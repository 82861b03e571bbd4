// Generates the byte-exact fixtures of tests/unit/hypercore/bitfield_test.cpp (kFixtures) and,
// with --rle, the vectors of bitfield_rle_test.cpp, from the pinned JS packages (hypercore 9.12.0
// lib/bitfield.js, bitfield-rle 2.2.1). Needs Node 20 and `npm ci` in tests/interop:
//   node tests/unit/hypercore/js/bitfield_fixture.js > /tmp/fixtures.inc
//   node tests/unit/hypercore/js/bitfield_fixture.js --rle > /tmp/rle.inc
// The output is pasted into the C++ tests, which need nothing at run time. The op language below
// is interpreted identically by Runner in bitfield_test.cpp; keep both interpreters in step.
//
// Ops (space-separated tokens, ';' between ops):
//   S a b v   set(i, v) for i in [a, b)               s i v  set(i, v), result 1/0
//   A a b     append-like: set(i, true) and mark tree node 2i with TreeIndex.set propagation
//   T i v     tree.set(i, v), result 1/0              t a b  total(a, b), result
//   m a b     iterator(a, b).next(), result (-1 none) D      write dirty pages, result n, p...
//   F         write dirty pages, reload from the file  P n    F, but truncate the file to n bytes
//   c a n     compress(a, n), results: byte length and FNV-1a 32 of the RLE bytes
//   R seed count domain   seeded random ops; their results are folded into one FNV-1a result
'use strict'
const path = require('path')
const { createRequire } = require('module')
const req = createRequire(path.join(__dirname, '../../../interop/package.json'))
const Bitfield = req('hypercore/lib/bitfield')
const flat = req('flat-tree')
const rle = req('bitfield-rle')

const PAGE = 3584
const fnv = (buf) => { let h = 2166136261; for (const x of buf) h = Math.imul(h ^ x, 16777619) >>> 0; return h }

function treeIndexSet (tree, index) { // hypercore lib/tree-index.js TreeIndex.set
  if (!tree.set(index, true)) return false
  while (tree.get(flat.sibling(index))) {
    index = flat.parent(index)
    if (!tree.set(index, true)) break
  }
  return true
}

class Runner {
  constructor () {
    this.b = new Bitfield(PAGE, [])
    this.file = Buffer.alloc(0)
    this.results = []
  }

  flush () {
    const dirty = []
    let next
    while ((next = this.b.pages.lastUpdate()) !== null) {
      const end = next.offset + PAGE
      if (this.file.length < end) this.file = Buffer.concat([this.file, Buffer.alloc(end - this.file.length)])
      next.buffer.copy(this.file, next.offset)
      dirty.push(next.offset / PAGE)
    }
    return dirty.sort((a, b) => a - b)
  }

  reload (truncate) {
    this.flush()
    if (truncate !== undefined) this.file = this.file.slice(0, truncate)
    const pages = [] // storage.js statAndReadAll: slices of the file, the last one maybe partial
    for (let i = 0; i < this.file.length; i += PAGE) pages.push(Buffer.from(this.file.slice(i, i + PAGE)))
    this.b = new Bitfield(PAGE, pages)
  }

  random (seed, count, dom) {
    let x = seed >>> 0
    const next = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x }
    let h = 2166136261
    const fold = (v) => { h = Math.imul(h ^ (v < 0 ? 0xffffffff : v), 16777619) >>> 0 }
    const b = () => this.b
    for (let k = 0; k < count; k++) {
      const op = next() % 16
      if (op < 6) b().set(next() % dom, true)
      else if (op < 8) b().set(next() % dom, false)
      else if (op === 8) { const s = next() % dom; const n = next() % 4096; for (let i = s; i < s + n; i++) b().set(i, true) }
      else if (op === 9) { const s = next() % dom; const n = next() % 1024; for (let i = s; i < s + n; i++) b().set(i, false) }
      else if (op === 10) { const i = next() % (2 * dom); fold(b().tree.set(i, (next() & 1) === 1) ? 1 : 0) }
      else if (op === 11) { const s = next() % dom; const e = s + next() % dom; fold(e === 0 ? 0 : b().total(s, e)) }
      else if (op < 14) { const s = next() % dom; const e = s + next() % dom; fold(e === 0 ? -1 : b().iterator(s, e).next()) }
      else if (op === 14) { for (const p of this.flush()) fold(p) }
      else if (next() % 8 === 0) this.reload()
    }
    return h
  }

  run (ops) {
    for (const op of ops.split(';').map(s => s.trim()).filter(Boolean)) {
      const [c, ...a] = op.split(/\s+/)
      const n = a.map(Number)
      const b = this.b
      switch (c) {
        case 'S': for (let i = n[0]; i < n[1]; i++) b.set(i, n[2] === 1); break
        case 's': this.results.push(b.set(n[0], n[1] === 1) ? 1 : 0); break
        case 'A': for (let i = n[0]; i < n[1]; i++) { b.set(i, true); treeIndexSet(b.tree, 2 * i) } break
        case 'T': this.results.push(b.tree.set(n[0], n[1] === 1) ? 1 : 0); break
        case 't': this.results.push(b.total(n[0], n[1])); break // callers never pass end 0 here
        case 'm': this.results.push(b.iterator(n[0], n[1]).next()); break
        case 'D': { const d = this.flush(); this.results.push(d.length, ...d); break }
        case 'F': this.reload(); break
        case 'P': this.reload(n[0]); break
        case 'c': { const enc = b.compress(n[0], n[1]); this.results.push(enc.length, fnv(enc)); break }
        case 'R': this.results.push(this.random(n[0], n[1], n[2])); break
        default: throw new Error('bad op ' + op)
      }
    }
  }
}

const scenarios = [
  ['three_blocks', 'A 0 3; D'],
  ['sequential_20000', 'A 0 20000; D; c 0 0; c 0 8192; c 8192 8192; c 16384 1048576; c 0 1048576; c 1048576 8192; c 8192 0'],
  ['sequential_data_only', 'S 0 20000 1; t 0 20000; t 5 19999; m 0 20000; m 0 20001; D'],
  ['sparse_far', 's 100000 1; D; s 5000000 1; D; s 5000001 1; s 5000000 1; t 0 6000000; m 100000 100002; D; c 98304 8192; c 4997120 8192; c 0 0; c 0 1048576; c 4194304 1048576'],
  ['noop_set_grows_pages', 's 5000000 0; s 0 1; s 1 1; S 2 64 1; D; m 0 100; D'],
  ['unsets', 'S 0 70000 1; D; S 100 200 0; s 8191 0; s 8192 0; S 16384 24576 0; D; m 0 70000; m 200 70000; t 0 70000; D'],
  ['tree_bits', 'T 0 1; T 0 1; T 16383 1; T 16384 1; T 40000 1; T 40000 0; D'],
  ['load_then_set', 'A 0 10000; F; s 10000 1; s 20000 1; m 0 30000; D; S 5000 5100 0; D'],
  ['load_partial_page', 'A 0 9000; P 4000; s 9000 1; s 3 0; D'],
  ['load_zero_pages', 's 30000 1; F; s 0 1; S 1 8 1; D'],
  ['expand_via_total', 'S 0 300 1; D; t 0 100000; D; m 0 3000000; D'],
  ['stale_parent', 'S 0 8192 1; s 40000 1; D; m 0 50000; m 0 8193; t 0 50000; S 8192 8300 1; m 0 50000; m 8000 50000; D'],
  ['random_small', 'R 1 20000 20000; D'],
  ['random_medium', 'R 7 20000 300000; D; c 0 0; c 0 1048576; c 8192 16384; c 294912 8192'],
  ['random_large', 'R 99 3000 1200000; D'],
  ['random_reload', 'R 12345 30000 70000; F; R 777 5000 70000; D']
]

const hex = (buf) => Buffer.from(buf).toString('hex')

// `--rle`: the vectors of tests/unit/hypercore/bitfield_rle_test.cpp instead. An input is given as
// a spec: space-separated tokens `xx` (one byte) or `xx*n` (n copies), or `rand:n` for n bytes of
// the biased generator below. Outputs longer than 200 hex digits are given as '#', the byte length,
// ':' and the FNV-1a 32 of the bytes.
if (process.argv.includes('--rle')) {
  const biased = (n) => { // runs of 00/ff mixed with literal bytes, as real bitfields look
    let x = n
    const next = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x }
    const out = []
    while (out.length < n) {
      const k = next() % 4
      const len = 1 + next() % (k === 3 ? 6 : 300)
      for (let i = 0; i < len; i++) out.push(k === 0 ? 0 : k === 1 ? 255 : k === 2 ? (next() & 255) : 0x80)
    }
    return Buffer.from(out.slice(0, n))
  }
  const parse = (spec) => {
    if (spec.startsWith('rand:')) return biased(Number(spec.slice(5)))
    const out = []
    for (const t of spec.split(' ').filter(Boolean)) {
      const [b, n] = t.split('*')
      for (let i = 0; i < (n === undefined ? 1 : Number(n)); i++) out.push(parseInt(b, 16))
    }
    return Buffer.from(out)
  }
  const show = (buf) => hex(buf).length <= 200 ? hex(buf) : `#${buf.length}:${fnv(buf)}`
  const enc = ['ff ff ff e0 00 00 00 00', '', '00*10', 'ff', 'ff ff', 'ff*63', 'ff*64', 'ff*5000',
    '00*10 ff', '01 02 03', 'ff 01 ff 01 ff 01 ff', '00 ff 00 ff 00 ff 00 00 ff ff',
    'e0 ff*3 07 00*200 01', 'ff*1024 00*1024 ff*7 fe', '80*3 00*300', '00 00 01 00 00 ff ff 02',
    'rand:90', 'rand:300', 'rand:700', 'rand:4000', 'rand:20000']
  console.log('// encode: input spec, JS output')
  for (const e of enc) console.log(`    {"${e}", "${show(rle.encode(parse(e)))}"},`)
  const dec = ['', '00', '01', '03', '0f', '02e0', '0f02e0', '0400ff', '0f0f', '05', '07',
    '0401020f', 'fd6f0204', '8101', '8301', '02ff02ff', '0cffffffffffff', '0b', '00000f00']
  console.log('// decode with align(4): input hex, JS output')
  for (const d of dec) console.log(`    {"${d}", "${show(rle.align(4).decode(Buffer.from(d, 'hex')))}"},`)
  const bad = ['80', '04aa', '06aabb', 'ff', '0fff', '0f0480']
  console.log('// decode errors')
  for (const d of bad) {
    let r
    try { r = 'ok ' + hex(rle.align(4).decode(Buffer.from(d, 'hex'))) } catch (e) { r = 'throws ' + e.message }
    console.log(`    // ${d}: ${r}`)
  }
  process.exit(0)
}
// A page is given as the hex of its RLE encoding, or, when that is long (random scenarios), as
// '#' and the FNV-1a 32 of its 3584 bytes.
const describe = (buf) => {
  const enc = hex(rle.encode(buf))
  return enc.length <= 256 ? enc : '#' + fnv(buf).toString(16).padStart(8, '0')
}
for (const [name, ops] of scenarios) {
  const r = new Runner()
  r.run(ops)
  const b = r.b
  const pages = []
  for (let p = 0; p < b.pages.length; p++) {
    const page = b.pages.get(p, true)
    if (page && page.buffer.some(x => x)) pages.push(`{${p}, "${describe(page.buffer)}"}`)
  }
  console.log(`    {"${name}", "${ops}",\n     {${r.results.join(', ')}},\n` +
    `     ${b.pages.length}, ${b.data.length}, ${b.tree.length}, ${b.index.length},\n` +
    `     {${pages.join(',\n      ')}}},`)
}
