'use strict'

// Client benchmark driver: the two stacks a user chooses between, our daemon driven by our C++
// client (build/bench/hs_client_bench) and the JS hyperspace 3.19 daemon driven by the JS client
// (@hyperspace/client 1.18, in this process), and the two crossed stacks (C++ client -> JS
// daemon, JS client -> our daemon), in one run: append 1 block per call, 100 blocks per call, get
// 1 block per call, with 1 and 16 calls in flight. Prints one table (blocks/s, daemon and client
// CPU per block, ratios), then one JSON line. See bench/README.md "Client". Run it inside a
// loopback-only network namespace (bench/run-client.sh does that); it refuses to start when any
// network interface other than lo exists.
//
//   node bench/client_bench.js [--hyperspace build/hyperspace] [--cpp build/bench/hs_client_bench]
//                              [--sizes 1024:4000,65536:1000] [--inflight 1,16] [--reps 3]
//                              [--warmup 1] [--batch 100] [--quick] [--tmp DIR]
//
// --quick is a smoke run: --sizes 1024:200,65536:100 --reps 1 --warmup 0. The daemon path may also
// come from HYPERSPACE_BIN, the C++ driver's from HS_CLIENT_BENCH. Exit status: 0 when every check
// passed, 2 when a check failed, 1 on errors. Timings are never asserted.

const fs = require('fs')
const os = require('os')
const path = require('path')
const { execFile } = require('child_process')
const {
  ROOT, requireJs, now, secondsSince, noop, parseFlags, parseSizes, checkRepetitions, makeBlocks, procCpu,
  selfCpu, stopChild, runDriver, startDaemon, withBootstrap, connectClient, checkCoreBlocks, checkLoopbackOnly,
  median, sizeLabel, fmtNum, runText, printChecks, printJsonLine, printTable
} = require('./lib/common')

const CASES = ['append1', 'append100', 'get1']
const CASE_LABEL = { append1: 'append 1/call', append100: 'append 100/call', get1: 'get 1/call' }
// client-daemon; 'hs' is ours
const STACKS = ['cpp-hs', 'js-js', 'cpp-js', 'js-hs']
const STACK_LABEL = { 'cpp-hs': 'C++→ours', 'js-js': 'JS→JS', 'cpp-js': 'C++→JS', 'js-hs': 'JS→ours' }

function parseArgs (argv) {
  const o = parseFlags(argv, {
    hyperspace: process.env.HYPERSPACE_BIN || path.join(ROOT, 'build', 'hyperspace'),
    cpp: process.env.HS_CLIENT_BENCH || path.join(ROOT, 'build', 'bench', 'hs_client_bench'),
    sizes: '1024:4000,65536:1000',
    inflight: '1,16',
    reps: 3,
    warmup: 1,
    batch: 100,
    quick: false,
    tmp: null
  }, {}, __filename)
  if (o.quick) Object.assign(o, { sizes: '1024:200,65536:100', reps: 1, warmup: 0 })
  if (!(o.batch >= 1)) throw new Error('--batch must be >= 1')
  o.workloads = parseSizes(o.sizes, { minBlocks: 2, batch: o.batch })
  o.inflightList = o.inflight.split(',').map(Number)
  if (o.inflightList.some(n => !(n >= 1 && n <= 1024))) throw new Error('--inflight wants counts 1 … 1024')
  checkRepetitions(o)
  return o
}

// --- the JS client's side (this process) ------------------------------------------------------------

// Runs call(i) for i = start, start + step, … < end, count calls in flight.
async function inFlight (count, start, end, step, call) {
  let next = start
  const worker = async () => {
    while (next < end) {
      const i = next
      next += step
      await call(i)
    }
  }
  await Promise.all(Array.from({ length: count }, worker))
}

// One repetition with `inflight` calls in flight on a new core: the cases of bench/client_bench.cpp,
// the same checks. Returns { append1: { seconds, daemon_cpu_s, client_cpu_s }, …, checked }.
async function jsRep (o, w, d, client, rep, inflight, blocks) {
  const n = w.blocks
  const name = 'cb-js-' + w.blockBytes + 'x' + n + '-' + rep + '-f' + inflight
  const core = client.corestore().get({ name })
  await core.ready()
  const res = {}
  const fail = msg => { throw new Error(msg) }
  const blockAt = new Array(2 * n).fill(-1) // index in the core -> block appended there
  const timed = async (c, fn) => {
    const cpuD = procCpu(d.pid)
    const cpuC = selfCpu()
    const t0 = now()
    await fn()
    res[c] = { seconds: secondsSince(t0), daemon_cpu_s: procCpu(d.pid) - cpuD, client_cpu_s: selfCpu() - cpuC }
  }
  // Each call must answer one of the call starts, each once (in order with one in flight).
  const appendCase = (c, start, step) => timed(c, () => inFlight(inflight, start, start + n, step, async i => {
    const seq = await core.append(step === 1 ? blocks[i] : blocks.slice(i, i + step))
    if (inflight === 1 && seq !== i) fail('append of block ' + i + ' returned index ' + seq)
    if (seq < start || seq >= start + n || (seq - start) % step !== 0 || blockAt[seq] !== -1) {
      fail('append of block ' + i + ' answered index ' + seq)
    }
    for (let k = 0; k < step; k++) blockAt[seq + k] = i + k
  }))
  try {
    if (core.length !== 0) fail('core ' + name + ' is not new (length ' + core.length + ')')
    await appendCase('append1', 0, 1)
    await appendCase('append100', n, o.batch)
    await timed('get1', () => inFlight(inflight, 0, n, 1, async i => {
      const b = await core.get(i)
      if (b.length !== w.blockBytes) fail('get(' + i + ') returned ' + b.length + ' bytes')
    }))
    res.checked = await checkCoreBlocks(core, blocks, w.blockBytes, rep, i => blockAt[i])
  } finally {
    await core.close().catch(noop)
  }
  return res
}

// --- the C++ client's side (hs_client_bench) --------------------------------------------------------

// One repetition of hs_client_bench on daemon d, every in-flight count; resolves with its JSON
// document (problems listed there).
function cppRep (o, w, d, rep) {
  const args = ['--socket', d.name, '--daemon-pid', String(d.pid), '--sizes', w.blockBytes + ':' + w.blocks,
    '--inflight', o.inflight, '--batch', String(o.batch), '--reps', '1', '--warmup', '0', '--first-rep', String(rep)]
  return new Promise((resolve, reject) => {
    execFile(o.cpp, args, { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (stderr) process.stderr.write(stderr)
      if (err && err.code !== 2) return reject(new Error('hs_client_bench ' + args.join(' ') + ' failed: ' + err.message))
      try { resolve(JSON.parse(stdout)) } catch (e) { reject(new Error('hs_client_bench printed no JSON: ' + e.message)) }
    })
  })
}

// --- driver -----------------------------------------------------------------------------------------

// Every repetition of one size on both daemons, the four stacks alternating so that a change in
// machine load hits all of them. Returns { '<stack>': [ { rep, warmup, inflight, cases } ] }.
async function runWorkload (o, w, base, env, bootstrapPort, problems) {
  const tag = w.blockBytes + 'x' + w.blocks
  const blocks = makeBlocks(2 * w.blocks, w.blockBytes)
  const out = Object.fromEntries(STACKS.map(s => [s, []]))
  const daemons = {}
  const clients = {}
  try {
    for (const side of ['js', 'hs']) {
      daemons[side] = await startDaemon(o.hyperspace, side, 'hscb-' + side + '-' + tag, path.join(base, side + '-' + tag),
        bootstrapPort, env)
      clients[side] = await connectClient(daemons[side].name)
    }
    for (let rep = 0; rep < o.warmup + o.reps; rep++) {
      const warmup = rep < o.warmup
      for (const side of ['js', 'hs']) {
        for (const inflight of o.inflightList) {
          const where = `js-${side} ${tag} rep ${rep} inflight ${inflight}`
          try {
            const cases = await jsRep(o, w, daemons[side], clients[side], rep, inflight, blocks)
            out['js-' + side].push({ rep, warmup, inflight, cases })
            process.stderr.write(where + ': ' + CASES.map(c => c + ' ' + cases[c].seconds.toFixed(3) + ' s').join(', ') + '\n')
          } catch (err) {
            problems.push(where + ': ' + err.message)
          }
        }
        const doc = await cppRep(o, w, daemons[side], rep)
        for (const p of doc.problems) problems.push(`cpp-${side} ${p}`)
        for (const s of doc.samples) out['cpp-' + side].push({ rep, warmup, inflight: s.inflight, cases: s.cases })
      }
    }
  } finally {
    for (const c of Object.values(clients)) {
      try { await c.close() } catch (_) {}
    }
    for (const d of Object.values(daemons)) await stopChild(d)
  }
  return out
}

// Medians of the timed samples of one stack, case and in-flight count.
function summarize (samples, w, c, inflight) {
  const timed = samples.filter(s => !s.warmup && s.inflight === inflight).map(s => s.cases[c])
  if (!timed.length) return null
  const m = median(timed.map(t => t.seconds))
  return {
    samples_s: timed.map(t => t.seconds),
    median_s: m,
    blocks_per_s: w.blocks / m,
    mb_per_s: w.blocks * w.blockBytes / m / 1e6,
    daemon_cpu_us_per_block: median(timed.map(t => t.daemon_cpu_s)) / w.blocks * 1e6,
    client_cpu_us_per_block: median(timed.map(t => t.client_cpu_s)) / w.blocks * 1e6
  }
}

function ratio (a, b) { return a && b ? a / b : null }
function fmtRatio (x) { return x === null ? '-' : x.toFixed(2) + 'x' }
function fmtUs (x) { return x === null || x === undefined ? '-' : x.toFixed(1) }

// Three sections with the same columns: blocks/s, daemon CPU µs per block, client CPU µs per block.
function printReport (rows) {
  const label = r => `${CASE_LABEL[r.case]}, ${sizeLabel(r.block_bytes)}, ${r.inflight} in flight`
  const cells = (r, key, fmt) => STACKS.map(s => r[s] ? fmt(r[s][key]) : '-')
  const sections = [
    [['blocks/s', ...STACKS.map(s => STACK_LABEL[s]), 'C++→ours / JS→JS', 'ours/JS, C++ client', 'ours/JS, JS client'],
      rows.map(r => [label(r), ...cells(r, 'blocks_per_s', fmtNum), fmtRatio(r.stack_ratio),
        fmtRatio(r.daemon_ratio_cpp), fmtRatio(r.daemon_ratio_js)])],
    [['daemon CPU µs/block', ...STACKS.map(s => STACK_LABEL[s]), '', 'JS/ours, C++ client', 'JS/ours, JS client'],
      rows.map(r => [label(r), ...cells(r, 'daemon_cpu_us_per_block', fmtUs), '',
        fmtRatio(ratio(r['cpp-js'] && r['cpp-js'].daemon_cpu_us_per_block, r['cpp-hs'] && r['cpp-hs'].daemon_cpu_us_per_block)),
        fmtRatio(ratio(r['js-js'] && r['js-js'].daemon_cpu_us_per_block, r['js-hs'] && r['js-hs'].daemon_cpu_us_per_block))])],
    [['client CPU µs/block', ...STACKS.map(s => STACK_LABEL[s]), '', 'JS/C++, our daemon', 'JS/C++, JS daemon'],
      rows.map(r => [label(r), ...cells(r, 'client_cpu_us_per_block', fmtUs), '',
        fmtRatio(ratio(r['js-hs'] && r['js-hs'].client_cpu_us_per_block, r['cpp-hs'] && r['cpp-hs'].client_cpu_us_per_block)),
        fmtRatio(ratio(r['js-js'] && r['js-js'].client_cpu_us_per_block, r['cpp-js'] && r['cpp-js'].client_cpu_us_per_block))])]
  ]
  printTable(sections, i => i === 0)
}

async function main () {
  const o = parseArgs(process.argv.slice(2))
  checkLoopbackOnly('bench/run-client.sh')
  for (const [bin, what] of [[o.hyperspace, '--hyperspace'], [o.cpp, '--cpp']]) {
    if (!fs.existsSync(bin)) throw new Error(bin + ' does not exist: build it (bench/run-client.sh) or pass ' + what)
  }
  await withBootstrap(__filename, { tmp: o.tmp, prefix: 'hscb-' }, async ({ base, env, bootstrapPort }) => {
    const loadBefore = os.loadavg()
    const problems = []
    const rows = []
    const perRep = {}
    for (const w of o.workloads) {
      const out = await runWorkload(o, w, base, env, bootstrapPort, problems)
      perRep[w.blockBytes + 'x' + w.blocks] = out
      for (const inflight of o.inflightList) {
        for (const c of CASES) {
          const row = { case: c, block_bytes: w.blockBytes, blocks: w.blocks, inflight }
          for (const s of STACKS) row[s] = summarize(out[s], w, c, inflight)
          const bps = s => row[s] && row[s].blocks_per_s
          row.stack_ratio = ratio(bps('cpp-hs'), bps('js-js'))
          row.daemon_ratio_cpp = ratio(bps('cpp-hs'), bps('cpp-js'))
          row.daemon_ratio_js = ratio(bps('js-hs'), bps('js-js'))
          rows.push(row)
        }
      }
    }
    const loadAfter = os.loadavg()
    const ver = requireJs('hyperspace/package.json').version
    const cver = requireJs('@hyperspace/client/package.json').version
    console.log(`client bench: ${path.relative(ROOT, o.cpp) || o.cpp} and @hyperspace/client ${cver} against ` +
      `${path.relative(ROOT, o.hyperspace) || o.hyperspace} and hyperspace ${ver} (node ${process.version}); ` +
      runText(o, loadBefore, loadAfter))
    printReport(rows)
    printChecks(problems, 'checks: every append answered its index once (in order with 1 in flight), every get the ' +
      'block size; length and byteLength matched; every block (rep 0) or a sample read back equal to what was appended there')
    printJsonLine('client', o, [loadBefore, loadAfter], problems,
      { batch: o.batch, inflight: o.inflightList, rows, per_rep: perRep })
  })
}

runDriver('client_bench', main)
