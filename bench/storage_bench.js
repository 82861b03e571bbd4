'use strict'

// Storage benchmark driver: runs the append/get workload on JS hypercore 9.12 (default
// random-access-file storage) in this process, then spawns hs_storage_bench with the same
// parameters, checks that both wrote byte-identical SLEEP files and read back the same blocks,
// and prints one table of ratios (ours / JS) followed by one JSON line. See bench/README.md.
//
//   node bench/storage_bench.js [--bin build/bench/hs_storage_bench] [--sizes 1024:20000,65536:3000]
//                               [--reps 3] [--warmup 1] [--batch 100] [--tmp DIR] [--js-only]
//
// The binary path may also come from HS_STORAGE_BENCH; the JS packages are loaded from
// tests/interop/node_modules (HS_INTEROP_DIR overrides the folder). Exit status: 0 when every
// check passed, 2 when a content or file check failed, 1 on errors. Timings are never asserted.

const fs = require('fs')
const os = require('os')
const path = require('path')
const { execFileSync } = require('child_process')
const {
  ROOT, requireJs, now, secondsSince, p, parseFlags, parseSizes, checkRepetitions, makeBlocks, shuffled, tempBase, median,
  sizeLabel, fmtNum, runText, printChecks, jsonHead, printTable, aimCell
} = require('./lib/common')
const hypercore = requireJs('hypercore')
const hypercoreCrypto = requireJs('hypercore-crypto')
const sodium = requireJs('sodium-native')

const CASES = ['append1', 'append100', 'get_seq', 'get_rand']
const SLEEP_FILES = ['data', 'tree', 'signatures', 'bitfield', 'key']
const AIM = { append1: null, append100: 5, get_seq: 10, get_rand: 10 }

function parseArgs (argv) {
  const o = parseFlags(argv, {
    bin: process.env.HS_STORAGE_BENCH || path.join(ROOT, 'build', 'bench', 'hs_storage_bench'),
    sizes: '1024:20000,65536:3000',
    reps: 3,
    warmup: 1,
    batch: 100,
    tmp: null,
    jsOnly: false,
    seed: '00'.repeat(32)
  }, {}, __filename)
  o.workloads = parseSizes(o.sizes, { minBlocks: 2, batch: o.batch })
  checkRepetitions(o)
  if (!/^[0-9a-f]{64}$/i.test(o.seed)) throw new Error('--seed must be 64 hex characters')
  return o
}

// --- deterministic content, identical to storage_bench.cpp ---------------------------------

// Block i: makeBlocks in bench/lib/common.js (xorshift32 seeded with (i + 1) * 0x9E3779B1 mod 2^32,
// words little-endian), as storage_bench.cpp; the get_rand order: shuffled, also there.

function blake2b (buf) {
  const out = Buffer.alloc(32)
  sodium.crypto_generichash(out, buf)
  return out.toString('hex')
}

function fileDigests (dir) {
  const out = {}
  for (const name of SLEEP_FILES) {
    const p = path.join(dir, name)
    if (fs.existsSync(p)) out[name] = blake2b(fs.readFileSync(p))
  }
  return out
}

// --- callback helpers (no promise per operation inside the timed loops) ---------------------

function openFeed (dir, kp) {
  const feed = hypercore(dir, kp.publicKey, { secretKey: kp.secretKey })
  return p(cb => feed.ready(cb)).then(() => feed)
}

function appendEach (feed, blocks, cb) {
  let i = 0
  next(null)
  function next (err) {
    if (err) return cb(err)
    if (i === blocks.length) return cb(null)
    feed.append(blocks[i++], next)
  }
}

function appendBatches (feed, blocks, batch, cb) {
  let i = 0
  next(null)
  function next (err) {
    if (err) return cb(err)
    if (i === blocks.length) return cb(null)
    const list = blocks.slice(i, i + batch)
    i += batch
    feed.append(list, next)
  }
}

function getAll (feed, order, cb) {
  let i = 0
  let bytes = 0
  next(null, null)
  function next (err, data) {
    if (err) return cb(err)
    if (data) bytes += data.length
    if (i === order.length) return cb(null, bytes)
    feed.get(order[i++], next)
  }
}

// --- JS side ----------------------------------------------------------------------------------

async function runJs (o, w, kp, base) {
  const blocks = makeBlocks(w.blocks, w.blockBytes)
  const order = shuffled(w.blocks)
  const samples = { append1: [], append100: [], get_seq: [], get_rand: [] }
  const check = { append1: {}, append100: {} }
  const total = w.blocks * w.blockBytes

  // The first o.warmup repetitions are not recorded; the checks run in the very first one.
  for (let rep = 0; rep < o.warmup + o.reps; rep++) {
    const timed = rep >= o.warmup
    const record = (name, s) => { if (timed) samples[name].push(s) }
    const tag = w.blockBytes + '-' + rep
    {
      const dir = path.join(base, 'js-append1-' + tag)
      const feed = await openFeed(dir, kp)
      const t = now()
      await p(cb => appendEach(feed, blocks, cb))
      record('append1', secondsSince(t))
      if (rep === 0) check.append1.signature = await finalSignature(feed)
      await p(cb => feed.close(cb))
      if (rep === 0) check.append1.files = fileDigests(dir)
      fs.rmSync(dir, { recursive: true, force: true })
    }
    const dir = path.join(base, 'js-append100-' + tag)
    const feed = await openFeed(dir, kp)
    let t = now()
    await p(cb => appendBatches(feed, blocks, o.batch, cb))
    record('append100', secondsSince(t))

    const seq = order.map((_, i) => i)
    t = now()
    let got = await p(cb => getAll(feed, seq, cb))
    record('get_seq', secondsSince(t))
    if (got !== total) throw new Error('JS get_seq returned ' + got + ' bytes, expected ' + total)
    t = now()
    got = await p(cb => getAll(feed, order, cb))
    record('get_rand', secondsSince(t))
    if (got !== total) throw new Error('JS get_rand returned ' + got + ' bytes, expected ' + total)

    if (rep === 0) {
      for (let i = 0; i < w.blocks; i++) {
        const b = await p(cb => feed.get(i, cb))
        if (!b.equals(blocks[i])) throw new Error('JS get(' + i + ') returned different bytes than appended')
      }
      check.append100.get_blake2b = {}
      for (const i of sampleIndices(w.blocks)) {
        check.append100.get_blake2b[i] = blake2b(await p(cb => feed.get(i, cb)))
      }
      check.append100.signature = await finalSignature(feed)
    }
    await p(cb => feed.close(cb))
    if (rep === 0) check.append100.files = fileDigests(dir)
    fs.rmSync(dir, { recursive: true, force: true })
  }

  const results = CASES.map(name => {
    const s = median(samples[name])
    return {
      case: name,
      block_bytes: w.blockBytes,
      blocks: w.blocks,
      batch: name === 'append100' ? o.batch : 1,
      samples_s: samples[name],
      median_s: s,
      blocks_per_s: w.blocks / s,
      mib_per_s: total / s / (1 << 20)
    }
  })
  return { results, check }
}

function sampleIndices (n) {
  return [...new Set([0, 1, Math.floor(n / 3), Math.floor(n / 2), n - 2, n - 1])].sort((a, b) => a - b)
}

function finalSignature (feed) {
  return p(cb => feed._storage.getSignature(feed.length - 1, cb)).then(s => s.toString('hex'))
}

// --- driver -----------------------------------------------------------------------------------

function runOurs (o, base) {
  if (!fs.existsSync(o.bin)) {
    throw new Error(o.bin + ' does not exist: build it (bench/run-storage.sh) or pass --bin')
  }
  const out = execFileSync(o.bin, [
    '--tmp', base,
    '--sizes', o.sizes,
    '--reps', String(o.reps),
    '--warmup', String(o.warmup),
    '--batch', String(o.batch),
    '--seed', o.seed
  ], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 })
  return JSON.parse(out)
}

function compareChecks (js, ours) {
  const problems = []
  for (const size of Object.keys(js)) {
    for (const c of ['append1', 'append100']) {
      const a = js[size][c]
      const b = (ours[size] || {})[c] || {}
      if (a.signature !== b.signature) problems.push(`${size} ${c}: final signature differs`)
      for (const f of SLEEP_FILES) {
        if ((a.files || {})[f] !== (b.files || {})[f]) problems.push(`${size} ${c}: file ${f} differs`)
      }
      for (const [i, h] of Object.entries(a.get_blake2b || {})) {
        if ((b.get_blake2b || {})[i] !== h) problems.push(`${size} ${c}: get(${i}) differs`)
      }
    }
  }
  return problems
}

function label (r) {
  const size = sizeLabel(r.block_bytes)
  const name = {
    append1: 'append 1/call',
    append100: 'append ' + r.batch + '/call',
    get_seq: 'get sequential',
    get_rand: 'get random'
  }[r.case]
  return name + ', ' + size
}

function printReport (rows) {
  const head = ['case', 'JS blocks/s', 'ours blocks/s', 'ratio', 'JS MiB/s', 'ours MiB/s', 'aim']
  const body = rows.map(r => [
    r.label,
    fmtNum(r.js_blocks_per_s),
    r.hs_blocks_per_s === null ? '-' : fmtNum(r.hs_blocks_per_s),
    r.ratio === null ? '-' : r.ratio.toFixed(2) + 'x',
    r.js_mib_per_s.toFixed(1),
    r.hs_mib_per_s === null ? '-' : r.hs_mib_per_s.toFixed(1),
    aimCell(r.aim, r.ratio)
  ])
  printTable([[head, body]], i => i === 0 || i === head.length - 1)
}

async function main () {
  const o = parseArgs(process.argv.slice(2))
  const { base, cleanup } = tempBase({ tmp: o.tmp, prefix: 'hs-storage-bench-' })
  const kp = hypercoreCrypto.keyPair(Buffer.from(o.seed, 'hex'))
  const loadBefore = os.loadavg()[0]
  try {
    const js = { results: [], check: {} }
    for (const w of o.workloads) {
      const r = await runJs(o, w, kp, base)
      js.results.push(...r.results)
      js.check[w.blockBytes] = r.check
      process.stderr.write(`js ${w.blockBytes} B x ${w.blocks}: done\n`)
    }
    const ours = o.jsOnly ? null : runOurs(o, base)
    if (ours && ours.public_key !== kp.publicKey.toString('hex')) throw new Error('key pairs differ between JS and ours')

    const rows = js.results.map(j => {
      const h = ours && ours.results.find(r => r.case === j.case && r.block_bytes === j.block_bytes)
      return {
        case: j.case,
        label: label(j),
        block_bytes: j.block_bytes,
        blocks: j.blocks,
        batch: j.batch,
        js_blocks_per_s: j.blocks_per_s,
        hs_blocks_per_s: h ? h.blocks_per_s : null,
        ratio: h ? h.blocks_per_s / j.blocks_per_s : null,
        js_mib_per_s: j.mib_per_s,
        hs_mib_per_s: h ? h.mib_per_s : null,
        js_samples_s: j.samples_s,
        hs_samples_s: h ? h.samples_s : null,
        aim: AIM[j.case]
      }
    })
    const problems = ours ? compareChecks(js.check, ours.check) : []
    const loadAfter = os.loadavg()[0]
    console.log(`storage bench: hypercore 9.12.0 (node ${process.version}) vs hs ${ours ? ours.version : '-'}; ` +
      runText(o, loadBefore, loadAfter) + ' (other processes skew the figures)')
    printReport(rows)
    if (ours) {
      printChecks(problems, 'checks: every get() matched the appended bytes on both sides; SLEEP files and final ' +
        'signatures identical to JS', 'CHECKS FAILED')
    }
    console.log(JSON.stringify({
      ...jsonHead('storage', o, loadBefore, loadAfter),
      checks_ok: ours ? problems.length === 0 : null,
      problems,
      rows: rows.map(({ label, ...r }) => r)
    }))
    if (problems.length) process.exitCode = 2
  } finally {
    cleanup()
  }
}

main().catch(err => {
  console.error('storage_bench:', err && err.stack ? err.stack : err)
  process.exit(1)
})
