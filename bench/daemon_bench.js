'use strict'

// Daemon (RPC) benchmark driver: runs the same @hyperspace/client 1.18 workload against our
// `hyperspace` daemon and against the JS hyperspace 3.19 daemon (its own bin/index.js), each a
// separate process with fresh storage, in one run: append 1 block per call, append 100 blocks per
// call, get 1 block per call; reads each daemon's RSS from /proc. Checks what it reads back, then
// prints one table of ratios (ours / JS) followed by one JSON line. See bench/README.md.
// Run it inside a loopback-only network namespace (bench/run-daemon.sh does that); it refuses to
// start when any network interface other than lo exists.
//
//   node bench/daemon_bench.js [--hyperspace build/hyperspace] [--sizes 1024:20000,65536:5000]
//                              [--reps 3] [--warmup 1] [--batch 100] [--sides js,hs] [--tmp DIR]
//                              [--perf DIR] [--perf-args "--call-graph dwarf -F 499"]
//
// The daemon path may also come from HYPERSPACE_BIN; the JS packages are loaded from
// tests/interop/node_modules (HS_INTEROP_DIR overrides the folder). --perf DIR records
// `perf record -p <our daemon>` around each case of one extra, untimed repetition into
// DIR/<size>-<case>.data. Exit status: 0 when every check passed, 2 when a check failed, 1 on
// errors. Timings are never asserted.

const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawn } = require('child_process')
const {
  ROOT, requireJs, now, secondsSince, noop, parseFlags, parseSizes, checkRepetitions, parseSides, makeBlocks,
  procMemory, procCpu, selfCpu, track, stopChild, runDriver, startDaemon, withBootstrap, connectClient,
  checkCoreBlocks, checkLoopbackOnly, median, sizeLabel, fmtNum, runText, printChecks, jsonHead, printTable,
  aimCell
} = require('./lib/common')

const CASES = ['append1', 'append100', 'get1']
const CASE_LABEL = { append1: 'append 1/call', append100: 'append 100/call', get1: 'get 1/call' }
const AIM = { append1: 6, append100: 5, get1: 10, rss: 10 } // issue 4; rss: JS RSS / ours

function parseArgs (argv) {
  const o = parseFlags(argv, {
    hyperspace: process.env.HYPERSPACE_BIN || path.join(ROOT, 'build', 'hyperspace'),
    sizes: '1024:20000,65536:5000',
    reps: 3,
    warmup: 1,
    batch: 100,
    sides: 'js,hs',
    tmp: null,
    perf: null,
    perfArgs: '--call-graph dwarf -F 499'
  }, { '--perf': ['perf', path.resolve] }, __filename)
  if (!(o.batch >= 1)) throw new Error('--batch must be >= 1')
  o.workloads = parseSizes(o.sizes, { minBlocks: 2, batch: o.batch })
  o.sideList = parseSides(o.sides)
  checkRepetitions(o)
  return o
}

// --- deterministic content ----------------------------------------------------------------------
// Block i (0 … 2N-1): xorshift32 seeded (i + 1) * 0x9E3779B1 mod 2^32 (0 -> 1), 32-bit words
// little-endian (makeBlocks in bench/lib/common.js, as bench/storage_bench.js). Blocks 0 … N-1 go
// in one per call, N … 2N-1 in calls of --batch.

// --- child processes ------------------------------------------------------------------------------

// perf record attached to pid until the returned stop() resolves.
async function startPerf (o, pid, file) {
  const args = ['record', ...o.perfArgs.split(/\s+/).filter(Boolean), '-p', String(pid), '-o', file]
  const child = track(spawn('perf', args, { stdio: ['ignore', 'ignore', 'pipe'] }))
  let err = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', d => { err += d })
  const exited = new Promise(resolve => child.on('exit', (code, signal) => resolve(code === null ? signal : code)))
  child.on('error', e => { err += e.message })
  await new Promise(resolve => setTimeout(resolve, 500)) // let it attach
  return async () => {
    child.kill('SIGINT')
    const code = await exited
    if (code !== 0 && code !== 'SIGINT') process.stderr.write('perf record exited ' + code + ': ' + err.slice(-2000) + '\n')
  }
}

// --- one repetition on one daemon -----------------------------------------------------------------

async function runRep (o, w, d, client, rep, blocks, problems) {
  const n = w.blocks
  const tag = w.blockBytes + 'x' + n
  const core = client.corestore().get({ name: 'bench-' + tag + '-' + rep })
  await core.ready()
  const res = {}
  const fail = msg => { throw new Error(msg) }
  const perfRep = o.perf && d.side === 'hs' && rep === o.warmup + o.reps
  const timed = async (c, fn) => {
    const stopPerf = perfRep ? await startPerf(o, d.pid, path.join(o.perf, tag + '-' + c + '.data')) : null
    const cpuD = procCpu(d.pid)
    try {
      const cpuC = selfCpu()
      const t0 = now()
      await fn()
      const seconds = secondsSince(t0)
      const daemonCpu = procCpu(d.pid) - cpuD
      const clientCpu = selfCpu() - cpuC
      res[c] = { seconds, daemon_cpu_s: daemonCpu, client_cpu_s: clientCpu }
    } finally {
      if (stopPerf) await stopPerf()
    }
  }
  try {
    if (core.length !== 0) fail('core bench-' + tag + '-' + rep + ' is not new (length ' + core.length + ')')
    await timed('append1', async () => {
      for (let i = 0; i < n; i++) {
        const seq = await core.append(blocks[i])
        if (seq !== i) fail('append of block ' + i + ' returned seq ' + seq)
      }
    })
    await timed('append100', async () => {
      for (let i = n; i < 2 * n; i += o.batch) {
        const seq = await core.append(blocks.slice(i, i + o.batch))
        if (seq !== i) fail('append of blocks ' + i + '… returned seq ' + seq)
      }
    })
    await timed('get1', async () => {
      for (let i = 0; i < n; i++) {
        const b = await core.get(i)
        if (b.length !== w.blockBytes) fail('get(' + i + ') returned ' + b.length + ' bytes')
      }
    })
    // Checks (not timed): length, byteLength, a sample of gets (every block in the first rep).
    res.checked = await checkCoreBlocks(core, blocks, w.blockBytes, rep)
  } catch (err) {
    problems.push(`${d.side} ${tag} rep ${rep}: ${err.message}`)
    process.stderr.write(`${d.side} ${tag} rep ${rep}: FAILED: ${err.message}\n`)
    return null
  } finally {
    await core.close().catch(noop)
  }
  res.memory = procMemory(d.pid)
  return res
}

// --- report -----------------------------------------------------------------------------------------

function fmtMB (x) { return x === null ? '-' : (x / 1e6).toFixed(1) }
function fmtUs (x) { return x === null ? '-' : x.toFixed(1) }

function printReport (rows, memRows) {
  const head = ['case', 'JS blocks/s', 'ours blocks/s', 'ratio', 'JS daemon CPU µs/blk', 'ours daemon CPU µs/blk', 'aim']
  const body = rows.map(r => [
    CASE_LABEL[r.case] + ', ' + sizeLabel(r.block_bytes),
    fmtNum(r.js ? r.js.blocks_per_s : null),
    fmtNum(r.hs ? r.hs.blocks_per_s : null),
    r.ratio === null ? '-' : r.ratio.toFixed(2) + 'x',
    fmtUs(r.js ? r.js.daemon_cpu_us_per_block : null),
    fmtUs(r.hs ? r.hs.daemon_cpu_us_per_block : null),
    aimCell(r.aim, r.ratio)
  ])
  const head2 = ['daemon memory', 'JS MB', 'ours MB', 'JS/ours', '', '', 'aim']
  const body2 = []
  for (const m of memRows) {
    body2.push(['RSS at end, ' + sizeLabel(m.block_bytes), fmtMB(m.js ? m.js.rss : null), fmtMB(m.hs ? m.hs.rss : null),
      m.rss_ratio === null ? '-' : m.rss_ratio.toFixed(1) + 'x', '', '', aimCell(AIM.rss, m.rss_ratio)])
    body2.push(['peak RSS (VmHWM), ' + sizeLabel(m.block_bytes), fmtMB(m.js ? m.js.hwm : null),
      fmtMB(m.hs ? m.hs.hwm : null), m.hwm_ratio === null ? '-' : m.hwm_ratio.toFixed(1) + 'x', '', '', ''])
  }
  printTable([[head, body], [head2, body2]], i => i === 0 || i === head.length - 1)
}

// --- driver -----------------------------------------------------------------------------------------

async function runWorkload (o, w, base, env, bootstrapPort, problems) {
  const tag = w.blockBytes + 'x' + w.blocks
  const blocks = makeBlocks(2 * w.blocks, w.blockBytes)
  const out = {}
  const daemons = {}
  const clients = {}
  try {
    for (const side of o.sideList) {
      const dir = path.join(base, side + '-' + tag)
      daemons[side] = await startDaemon(o.hyperspace, side, 'hsdb-' + side + '-' + tag, dir, bootstrapPort, env)
      clients[side] = await connectClient(daemons[side].name)
      out[side] = { idle: procMemory(daemons[side].pid), reps: [] }
    }
    process.stderr.write(`${tag}: daemons up (${o.sideList.map(s => s + ' pid ' + daemons[s].pid).join(', ')})\n`)
    // Repetitions alternate between the two daemons, so that a change in machine load hits both.
    for (let rep = 0; rep < o.warmup + o.reps; rep++) {
      for (const side of o.sideList) {
        const r = await runRep(o, w, daemons[side], clients[side], rep, blocks, problems)
        if (!r) continue
        out[side].reps.push({ rep, warmup: rep < o.warmup, ...r })
        process.stderr.write(`${side} ${tag} rep ${rep}${rep < o.warmup ? ' (warm-up)' : ''}: ` +
          CASES.map(c => c + ' ' + r[c].seconds.toFixed(3) + ' s').join(', ') +
          `, RSS ${fmtMB(r.memory.rss)} MB\n`)
      }
    }
    for (const side of o.sideList) out[side].final = procMemory(daemons[side].pid)
    // --perf: one more repetition on our daemon under perf record, after the memory readings and
    // outside the timed samples (perf slows the daemon down).
    if (o.perf && daemons.hs) {
      const rep = o.warmup + o.reps
      const r = await runRep(o, w, daemons.hs, clients.hs, rep, blocks, problems)
      if (r) process.stderr.write(`hs ${tag} rep ${rep} (under perf, not counted): ` +
        CASES.map(c => c + ' ' + r[c].seconds.toFixed(3) + ' s').join(', ') + '\n')
    }
  } finally {
    for (const side of Object.keys(clients)) {
      try { await clients[side].close() } catch (_) {}
    }
    for (const side of Object.keys(daemons)) {
      const code = await stopChild(daemons[side])
      if (out[side]) out[side].exit_code = code
    }
  }
  return out
}

async function main () {
  const o = parseArgs(process.argv.slice(2))
  checkLoopbackOnly('bench/run-daemon.sh')
  if (o.sideList.includes('hs') && !fs.existsSync(o.hyperspace)) {
    throw new Error(o.hyperspace + ' does not exist: build it (bench/run-daemon.sh) or pass --hyperspace')
  }
  if (o.perf) fs.mkdirSync(o.perf, { recursive: true })
  await withBootstrap(__filename, { tmp: o.tmp, prefix: 'hsdb-' }, async ({ base, env, bootstrapPort }) => {
    const loadBefore = os.loadavg()
    const problems = []
    const rows = []
    const memRows = []
    const sides = {}
    for (const w of o.workloads) {
      const out = await runWorkload(o, w, base, env, bootstrapPort, problems)
      sides[w.blockBytes + 'x' + w.blocks] = out
      for (const c of CASES) {
        const blocksPerCase = w.blocks
        const row = { case: c, block_bytes: w.blockBytes, blocks: blocksPerCase, batch: c === 'append100' ? o.batch : 1 }
        for (const side of o.sideList) {
          const timed = out[side].reps.filter(r => !r.warmup)
          if (timed.length < o.reps) { row[side] = null; continue }
          const m = median(timed.map(r => r[c].seconds))
          row[side] = {
            samples_s: timed.map(r => r[c].seconds),
            median_s: m,
            blocks_per_s: blocksPerCase / m,
            calls_per_s: blocksPerCase / row.batch / m,
            mib_per_s: blocksPerCase * w.blockBytes / m / (1 << 20),
            daemon_cpu_us_per_block: median(timed.map(r => r[c].daemon_cpu_s)) / blocksPerCase * 1e6,
            client_cpu_us_per_block: median(timed.map(r => r[c].client_cpu_s)) / blocksPerCase * 1e6
          }
        }
        row.ratio = row.js && row.hs ? row.hs.blocks_per_s / row.js.blocks_per_s : null
        row.aim = AIM[c]
        rows.push(row)
      }
      const mem = { block_bytes: w.blockBytes, blocks: w.blocks }
      for (const side of o.sideList) {
        mem[side] = out[side].final ? { rss: out[side].final.rss, hwm: out[side].final.hwm, idle_rss: out[side].idle.rss } : null
      }
      mem.rss_ratio = mem.js && mem.hs ? mem.js.rss / mem.hs.rss : null
      mem.hwm_ratio = mem.js && mem.hs ? mem.js.hwm / mem.hs.hwm : null
      memRows.push(mem)
    }
    const loadAfter = os.loadavg()
    const ver = requireJs('hyperspace/package.json').version
    const cver = requireJs('@hyperspace/client/package.json').version
    console.log(`daemon bench: @hyperspace/client ${cver} against hyperspace ${ver} (node ${process.version}) and ` +
      `${path.relative(ROOT, o.hyperspace) || o.hyperspace}; ${runText(o, loadBefore, loadAfter)}`)
    printReport(rows, memRows)
    printChecks(problems, 'checks: every append returned the expected seq, every get the block size; length and ' +
      'byteLength matched; every block (warm-up) or a sample (other reps) read back equal to what was appended')
    console.log(JSON.stringify({
      ...jsonHead('daemon', o, loadBefore, loadAfter),
      batch: o.batch,
      checks_ok: problems.length === 0,
      problems,
      rows,
      memory: memRows,
      per_rep: sides
    }))
    if (problems.length) process.exitCode = 2
  })
}

runDriver('daemon_bench', main)
