'use strict'

// Second-generation core benchmark driver: runs the append/get workload on JS hypercore 11.37.1
// (its RocksDB storage) in this process, then spawns hs_v11_core_bench with the same parameters;
// both sides sign with the same key pair, so the final tree hashes and signatures must be equal
// and the same blocks must read back. Then the memory of one process holding --cores open cores
// (JS corestore 7 against ours), each process measured on its own. Prints one table of ratios
// (ours / JS) and one JSON line. See bench/README.md "Second-generation cores".
//
//   node bench/v11_core_bench.js [--bin build/bench/hs_v11_core_bench] [--sizes 1024:20000,65536:3000]
//                                [--reps 3] [--warmup 1] [--batch 100] [--cores 10000] [--tmp DIR]
//                                [--js-only]
//
// The binary path may also come from HS_V11_CORE_BENCH. Exit status: 0 when every check passed,
// 2 when a content check failed, 1 on errors. Timings are never asserted.

const fs = require('fs')
const os = require('os')
const path = require('path')
const { execFileSync } = require('child_process')
const {
  ROOT, requireJs, now, secondsSince, parseFlags, parseSizes, checkRepetitions, makeBlocks, shuffled, tempBase, median,
  sizeLabel, fmtNum, runText, printChecks, jsonHead, printTable, aimCell, procMemory
} = require('./lib/common')

const CASES = ['append1', 'append100', 'get_seq', 'get_rand']
const AIM = { append1: null, append100: null, get_seq: null, get_rand: null, memory: 10 }

function parseArgs (argv) {
  const o = parseFlags(argv, {
    bin: process.env.HS_V11_CORE_BENCH || path.join(ROOT, 'build', 'bench', 'hs_v11_core_bench'),
    sizes: '1024:20000,65536:3000',
    reps: 3,
    warmup: 1,
    batch: 100,
    cores: 10000,
    tmp: null,
    jsOnly: false,
    seed: '00'.repeat(32),
    memoryChild: null
  }, {}, __filename)
  if (o.memoryChild !== null) return o
  o.workloads = parseSizes(o.sizes, { minBlocks: 2, batch: o.batch })
  checkRepetitions(o)
  if (!/^[0-9a-f]{64}$/i.test(o.seed)) throw new Error('--seed must be 64 hex characters')
  if (!(o.cores >= 0)) throw new Error('--cores must be >= 0')
  return o
}

function blake2b (buf) {
  const sodium = requireJs('hypercore-crypto-v11/node_modules/sodium-native')
  const out = Buffer.alloc(32)
  sodium.crypto_generichash(out, buf)
  return out.toString('hex')
}

function sampleIndices (n) {
  return [...new Set([0, 1, Math.floor(n / 3), Math.floor(n / 2), n - 2, n - 1])].sort((a, b) => a - b)
}

async function head (core) {
  return { tree_hash: (await core.treeHash()).toString('hex'), signature: core.state.signature.toString('hex') }
}

// --- JS side ----------------------------------------------------------------------------------

async function runJs (o, w, keyPair, base) {
  const Hypercore = requireJs('hypercore-v11')
  const blocks = makeBlocks(w.blocks, w.blockBytes)
  const order = shuffled(w.blocks)
  const samples = { append1: [], append100: [], get_seq: [], get_rand: [] }
  const check = { append1: {}, append100: {} }
  const total = w.blocks * w.blockBytes
  for (let rep = 0; rep < o.warmup + o.reps; rep++) {
    const timed = rep >= o.warmup
    const record = (name, s) => { if (timed) samples[name].push(s) }
    const tag = w.blockBytes + '-' + rep
    {
      const dir = path.join(base, 'js-append1-' + tag)
      const core = new Hypercore(dir, { keyPair })
      await core.ready()
      const t = now()
      for (const b of blocks) await core.append(b)
      record('append1', secondsSince(t))
      if (rep === 0) check.append1 = await head(core)
      await core.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
    const dir = path.join(base, 'js-append100-' + tag)
    const core = new Hypercore(dir, { keyPair })
    await core.ready()
    let t = now()
    for (let i = 0; i < blocks.length; i += o.batch) await core.append(blocks.slice(i, i + o.batch))
    record('append100', secondsSince(t))
    for (const [name, list] of [['get_seq', order.map((_, i) => i)], ['get_rand', order]]) {
      t = now()
      let got = 0
      for (const i of list) got += (await core.get(i)).length
      record(name, secondsSince(t))
      if (got !== total) throw new Error(`JS ${name} returned ${got} bytes, expected ${total}`)
    }
    if (rep === 0) {
      for (let i = 0; i < w.blocks; i++) {
        if (!(await core.get(i)).equals(blocks[i])) throw new Error('JS get(' + i + ') differs from what was appended')
      }
      check.append100 = await head(core)
      check.append100.get_blake2b = {}
      for (const i of sampleIndices(w.blocks)) check.append100.get_blake2b[i] = blake2b(await core.get(i))
    }
    await core.close()
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

// One process that opens o.cores cores by name in one corestore, appends one 1 KiB block to each
// and keeps them all open; prints {rss_before, rss_after, seconds} as JSON.
async function memoryChild (o) {
  const Corestore = requireJs('corestore-v7')
  const dir = o.memoryChild
  const block = Buffer.alloc(1024, 7)
  if (global.gc) global.gc()
  const before = procMemory(process.pid).rss
  const store = new Corestore(dir)
  await store.ready()
  const cores = []
  const t = now()
  for (let i = 0; i < o.cores; i++) {
    const core = store.get({ name: 'core-' + i })
    await core.ready()
    await core.append(block)
    cores.push(core)
  }
  const seconds = secondsSince(t)
  if (global.gc) global.gc()
  const after = procMemory(process.pid).rss
  console.log(JSON.stringify({ rss_before: before, rss_after: after, seconds, cores: cores.length }))
  await store.close()
}

function runMemory (o, base, side) {
  const dir = path.join(base, side + '-memory')
  const out = side === 'js'
    ? execFileSync(process.execPath, ['--expose-gc', __filename, '--memory-child', dir, '--cores', String(o.cores)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    : execFileSync(o.bin, ['--memory', dir, '--cores', String(o.cores)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  fs.rmSync(dir, { recursive: true, force: true })
  return JSON.parse(out)
}

// --- driver -----------------------------------------------------------------------------------

function runOurs (o, base) {
  if (!fs.existsSync(o.bin)) {
    throw new Error(o.bin + ' does not exist: build it (bench/run-v11-core.sh) or pass --bin')
  }
  const out = execFileSync(o.bin, [
    '--tmp', base, '--sizes', o.sizes, '--reps', String(o.reps), '--warmup', String(o.warmup),
    '--batch', String(o.batch), '--seed', o.seed
  ], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 })
  return JSON.parse(out)
}

function compareChecks (js, ours) {
  const problems = []
  for (const size of Object.keys(js)) {
    for (const c of ['append1', 'append100']) {
      const a = js[size][c]
      const b = (ours[size] || {})[c] || {}
      if (a.tree_hash !== b.tree_hash) problems.push(`${size} ${c}: tree hash differs`)
      if (a.signature !== b.signature) problems.push(`${size} ${c}: signature differs`)
      for (const [i, h] of Object.entries(a.get_blake2b || {})) {
        if ((b.get_blake2b || {})[i] !== h) problems.push(`${size} ${c}: get(${i}) differs`)
      }
    }
  }
  return problems
}

function label (r) {
  const name = {
    append1: 'append 1/call',
    append100: 'append ' + r.batch + '/call',
    get_seq: 'get sequential',
    get_rand: 'get random'
  }[r.case]
  return name + ', ' + sizeLabel(r.block_bytes)
}

async function main () {
  const o = parseArgs(process.argv.slice(2))
  if (o.memoryChild !== null) return memoryChild(o)
  const { base, cleanup } = tempBase({ tmp: o.tmp, prefix: 'hs-v11-core-bench-' })
  const crypto = requireJs('hypercore-crypto-v11')
  const keyPair = crypto.keyPair(Buffer.from(o.seed, 'hex'))
  const loadBefore = os.loadavg()[0]
  try {
    const js = { results: [], check: {} }
    for (const w of o.workloads) {
      const r = await runJs(o, w, keyPair, base)
      js.results.push(...r.results)
      js.check[w.blockBytes] = r.check
      process.stderr.write(`js ${w.blockBytes} B x ${w.blocks}: done\n`)
    }
    const ours = o.jsOnly ? null : runOurs(o, base)
    if (ours && ours.public_key !== keyPair.publicKey.toString('hex')) throw new Error('key pairs differ between JS and ours')
    const rows = js.results.map(j => {
      const h = ours && ours.results.find(r => r.case === j.case && r.block_bytes === j.block_bytes)
      // The floor (append cases): BLAKE2b of each block + one Ed25519 signature per call.
      const f = ours && (ours.floor || []).find(r => r.case === j.case && r.block_bytes === j.block_bytes)
      return {
        case: j.case,
        label: label(j),
        block_bytes: j.block_bytes,
        blocks: j.blocks,
        batch: j.batch,
        js: j.blocks_per_s,
        hs: h ? h.blocks_per_s : null,
        ratio: h ? h.blocks_per_s / j.blocks_per_s : null,
        js_mib_per_s: j.mib_per_s,
        hs_mib_per_s: h ? h.mib_per_s : null,
        js_samples_s: j.samples_s,
        hs_samples_s: h ? h.samples_s : null,
        floor: f ? f.blocks_per_s : null,
        of_floor: f && h ? h.blocks_per_s / f.blocks_per_s : null,
        aim: AIM[j.case]
      }
    })
    let memory = null
    if (o.cores > 0) {
      const jm = runMemory(o, base, 'js')
      const hm = o.jsOnly ? null : runMemory(o, base, 'hs')
      memory = { cores: o.cores, js: jm, hs: hm }
      const per = m => (m.rss_after - m.rss_before) / o.cores
      rows.push({
        case: 'memory',
        label: `memory per open core (${o.cores} cores), bytes`,
        js: per(jm),
        hs: hm ? per(hm) : null,
        // Less is better here: the ratio is JS / ours, so > 1 means ours is smaller.
        ratio: hm ? per(jm) / per(hm) : null,
        aim: AIM.memory
      })
    }
    const problems = ours ? compareChecks(js.check, ours.check) : []
    const loadAfter = os.loadavg()[0]
    console.log(`v11 core bench: hypercore 11.37.1 / corestore 7.12.5 (node ${process.version}) vs hs ` +
      `${ours ? ours.version : '-'}; ` + runText(o, loadBefore, loadAfter) + ' (other processes skew the figures)')
    const headRow = ['case', 'JS', 'ours', 'ratio', 'JS MiB/s', 'ours MiB/s', 'floor', 'ours/floor', 'aim']
    const body = rows.map(r => [
      r.label + (r.case === 'memory' ? '' : ', blocks/s'),
      fmtNum(r.js),
      r.hs === null ? '-' : fmtNum(r.hs),
      r.ratio === null ? '-' : r.ratio.toFixed(2) + 'x',
      r.js_mib_per_s === undefined ? '' : r.js_mib_per_s.toFixed(1),
      r.hs_mib_per_s === undefined || r.hs_mib_per_s === null ? '' : r.hs_mib_per_s.toFixed(1),
      r.floor === undefined || r.floor === null ? '' : fmtNum(r.floor),
      r.of_floor === undefined || r.of_floor === null ? '' : (100 * r.of_floor).toFixed(0) + '%',
      aimCell(r.aim, r.ratio)
    ])
    printTable([[headRow, body]], i => i === 0 || i === headRow.length - 1)
    if (ours) {
      printChecks(problems, 'checks: every get() matched the appended bytes on both sides; final tree hashes and ' +
        'signatures identical to JS', 'CHECKS FAILED')
    }
    console.log(JSON.stringify({
      ...jsonHead('v11_core', o, loadBefore, loadAfter),
      checks_ok: ours ? problems.length === 0 : null,
      problems,
      memory,
      rows: rows.map(({ label, ...r }) => r)
    }))
    if (problems.length) process.exitCode = 2
  } finally {
    cleanup()
  }
}

main().catch(err => {
  console.error('v11_core_bench:', err && err.stack ? err.stack : err)
  process.exit(1)
})
