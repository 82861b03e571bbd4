'use strict'

// Replication benchmark driver: times downloading a whole core over TCP on loopback for the four
// pairs JS→JS, JS→ours, ours→JS and ours→ours (server → downloader), checks every copy, and
// prints one table of ratios against JS→JS followed by one JSON line. See bench/README.md.
// --generation 9 (the default): hypercore 9.12 against `hyp replicate`; --generation 11: JS
// corestore 7.12.5 / hypercore 11.37.1 (store.replicate() over the socket) against `hyp replicate
// --generation 11` (secret-stream + protomux), plus one core's crypto floor (hs_v11_core_bench
// --replication-floor: secretstream push + pull + BLAKE2b per block).
// Run it inside a loopback-only network namespace (bench/run-replication.sh does that); it refuses
// to start when any network interface other than lo exists.
//
//   node bench/replication_bench.js [--hyp build/hyp] [--sizes 1024:50000,65536:1600] [--reps 3]
//                                   [--warmup 1] [--cases js-js,js-hs,hs-js,hs-hs] [--tmp DIR]
//                                   [--timeout 300] [--generation 9|11]
//                                   [--floor-bin build/bench/hs_v11_core_bench]
//
// The hyp path may also come from HS_HYP; the JS packages are loaded from tests/interop/node_modules
// (HS_INTEROP_DIR overrides the folder). Exit status: 0 when every run finished and every check
// passed, 2 when a run failed or a check failed, 1 on errors. Timings are never asserted.

const fs = require('fs')
const os = require('os')
const net = require('net')
const path = require('path')
const { spawn, spawnSync, execFileSync } = require('child_process')
const {
  ROOT, requireJs, now, secondsSince, noop, p, parseFlags, parseSizes, checkRepetitions, makeBlocks, track,
  killAll, spawnWaiting, stopChild, checkLoopbackOnly, tempBase, privateCopy, median, sizeLabel, fmtNum, runText,
  printChecks, jsonHead, printTable, aimCell
} = require('./lib/common')
const hypercore = requireJs('hypercore')
// Loaded on first use (--generation 11 only).
let Corestore7 = null
function corestore7 (dir) {
  if (!Corestore7) Corestore7 = requireJs('corestore-v7')
  return new Corestore7(dir)
}

const HOST = '127.0.0.1' // servers listen here
const BIND = '127.0.0.2' // downloaders connect from here
// case id -> [server side, downloading side]; 'hs' is ours (the hyp binary)
const CASES = { 'js-js': ['js', 'js'], 'js-hs': ['js', 'hs'], 'hs-js': ['hs', 'js'], 'hs-hs': ['hs', 'hs'] }
// ours→ours / JS→JS, per block size: issue 3 (generation 9), issue 13 (generation 11)
const AIMS = { 9: { 1024: 10, 65536: 4 }, 11: { 1024: 5, 65536: 2 } }
// Generation 11: ours→ours within 1.5x of one core's crypto floor
const FLOOR_AIM = 1 / 1.5
let GEN = 9 // set from --generation; the roles get it as an argument

function parseArgs (argv) {
  const o = parseFlags(argv, {
    hyp: process.env.HS_HYP || path.join(ROOT, 'build', 'hyp'),
    sizes: '1024:50000,65536:1600',
    reps: 3,
    warmup: 1,
    cases: Object.keys(CASES).join(','),
    tmp: null,
    timeout: 300,
    generation: 9,
    floorBin: process.env.HS_V11_CORE_BENCH || path.join(ROOT, 'build', 'bench', 'hs_v11_core_bench')
  }, {}, __filename)
  if (o.generation !== 9 && o.generation !== 11) throw new Error('--generation must be 9 or 11')
  GEN = o.generation
  o.workloads = parseSizes(o.sizes)
  o.caseList = o.cases.split(',')
  for (const c of o.caseList) if (!CASES[c]) throw new Error('unknown case ' + c + ' (js-js, js-hs, hs-js, hs-hs)')
  checkRepetitions(o)
  if (!(o.timeout > 0)) throw new Error('--timeout must be > 0')
  return o
}

// --- deterministic content ----------------------------------------------------------------------
// Block i: xorshift32 seeded with (i + 1) * 0x9E3779B1 mod 2^32 (0 -> 1); each 32-bit word gives
// four bytes from a 64-letter alphabet (low byte first). Printable and newline-free, because
// `hyp storage append` takes one block per stdin line.

const ALPHABET = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/')

function blocksOf (w) { return makeBlocks(w.blocks, w.blockBytes, ALPHABET) }

function sampleIndices (n) {
  return [...new Set([0, 1, Math.floor(n / 3), Math.floor(n / 2), n - 2, n - 1])].filter(i => i >= 0 && i < n)
}

// --- child processes ------------------------------------------------------------------------------

// Resolves with { code, signal, stdout, stderr, seconds } where seconds runs from just before
// spawn() to the 'exit' event; kills the child after timeoutS.
function runChild (cmd, args, timeoutS, opts = {}) {
  return new Promise((resolve, reject) => {
    const t0 = now()
    const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }))
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stdout.on('data', d => { stdout += d })
    child.stderr.on('data', d => {
      stderr += d
      if (opts.onStderr) opts.onStderr(stderr)
    })
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, timeoutS * 1000)
    child.on('error', err => { clearTimeout(timer); reject(err) })
    child.on('exit', (code, signal) => {
      const seconds = secondsSince(t0)
      clearTimeout(timer)
      // 'exit' can come before the pipes drain; wait for both to close.
      let open = 2
      const done = () => { if (--open === 0) resolve({ code, signal, stdout, stderr, seconds, timedOut }) }
      if (child.stdout.readableEnded) done(); else child.stdout.on('close', done)
      if (child.stderr.readableEnded) done(); else child.stderr.on('close', done)
    })
  })
}

// Starts a server (ours: `hyp replicate --listen`; JS: this script with --role js-serve) and
// waits for its "listening HOST:PORT" line on stderr.
async function startServer (o, side, dir, key) {
  const [cmd, args] = side === 'hs'
    ? [o.hyp, ['replicate', ...genArgs(), '--storage', dir, key, '--listen', HOST + ':0']]
    : [process.execPath, [__filename, '--role', 'js-serve', '--dir', dir, '--generation', String(GEN)]]
  const s = await spawnWaiting(side + ' server', cmd, args, process.env, /^listening (\S+):(\d+)$/m, 30)
  s.side = side
  s.address = s.match[1] + ':' + s.match[2]
  return s
}

function stopServer (server) { return stopChild(server, 10000) }

function genArgs () { return GEN === 11 ? ['--generation', '11'] : [] }

// --- source cores (not timed) -------------------------------------------------------------------

function writeOursSource (o, dir, linesFile, w) {
  const fd = fs.openSync(linesFile, 'r')
  try {
    const r = spawnSync(o.hyp, ['storage', 'append', ...genArgs(), '--storage', dir, '--name', 'bench', '--json'], {
      stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8'
    })
    if (r.error) throw new Error('hyp storage append: ' + r.error.message)
    if (r.status !== 0) throw new Error('hyp storage append failed (' + (r.signal || r.status) + '): ' + r.stderr)
    const j = JSON.parse(r.stdout)
    if (j.length !== w.blocks || j.byteLength !== w.blocks * w.blockBytes) {
      throw new Error('hyp storage append wrote ' + r.stdout.trim() + ', expected ' + w.blocks + ' blocks')
    }
    return j.key
  } finally {
    fs.closeSync(fd)
  }
}

function writeLinesFile (file, blocks) {
  const fd = fs.openSync(file, 'w')
  try {
    const nl = Buffer.from('\n')
    let batch = []
    let bytes = 0
    for (const b of blocks) {
      batch.push(b, nl)
      bytes += b.length + 1
      if (bytes >= 8 << 20) { fs.writeSync(fd, Buffer.concat(batch)); batch = []; bytes = 0 }
    }
    if (batch.length) fs.writeSync(fd, Buffer.concat(batch))
  } finally {
    fs.closeSync(fd)
  }
}

async function writeJsSource (dir, blocks) {
  if (GEN === 11) {
    const store = corestore7(dir)
    const core = store.get({ name: 'bench' })
    await core.ready()
    const batch = Math.max(1, Math.floor((1 << 20) / blocks[0].length))
    for (let i = 0; i < blocks.length; i += batch) await core.append(blocks.slice(i, i + batch))
    const key = core.key.toString('hex')
    await store.close()
    return key
  }
  const feed = hypercore(dir)
  await p(cb => feed.ready(cb))
  const batch = Math.max(1, Math.floor((1 << 20) / blocks[0].length))
  for (let i = 0; i < blocks.length; i += batch) {
    await p(cb => feed.append(blocks.slice(i, i + batch), cb))
  }
  const key = feed.key.toString('hex')
  await p(cb => feed.close(cb))
  return key
}

// --- one download (timed) and its checks (not timed) --------------------------------------------

async function downloadOnce (o, side, server, key, dir, w) {
  if (side === 'hs') {
    let connectedAt = null
    const t0 = now()
    const r = await runChild(o.hyp, ['replicate', ...genArgs(), '--storage', dir, key, '--connect', server.address,
      '--bind', BIND, '--json'], o.timeout, {
      onStderr: s => { if (connectedAt === null && /^peer \S+ connected$/m.test(s)) connectedAt = now() }
    })
    if (r.timedOut) throw new Error('hyp replicate timed out after ' + o.timeout + ' s' + tail(r.stderr))
    if (r.code !== 0) throw new Error('hyp replicate exited ' + (r.signal || r.code) + tail(r.stderr))
    let j
    try { j = JSON.parse(r.stdout.trim().split('\n').pop()) } catch (err) {
      throw new Error('hyp replicate printed no JSON summary: ' + JSON.stringify(r.stdout))
    }
    if (j.key !== key || j.length !== w.blocks || j.downloaded !== w.blocks) {
      throw new Error('hyp replicate summary ' + JSON.stringify(j) + ', expected length and downloaded ' + w.blocks)
    }
    return {
      seconds: r.seconds,
      connected_s: connectedAt === null ? null : r.seconds - Number(connectedAt - t0) / 1e9
    }
  }
  const r = await runChild(process.execPath, [__filename, '--role', 'js-download', '--dir', dir, '--key', key,
    '--connect', server.address, '--bind', BIND, '--length', String(w.blocks), '--generation', String(GEN)], o.timeout)
  if (r.timedOut) throw new Error('JS download timed out after ' + o.timeout + ' s' + tail(r.stderr))
  if (r.code !== 0) throw new Error('JS download exited ' + (r.signal || r.code) + tail(r.stderr))
  const j = JSON.parse(r.stdout.trim().split('\n').pop())
  return { seconds: j.seconds, connected_s: j.seconds, process_s: r.seconds }
}

function tail (s) {
  return s.trim() ? '\n' + s.trim().split('\n').slice(-10).join('\n') : ''
}

async function checkCopy (o, side, key, dir, w, blocks) {
  const samples = sampleIndices(w.blocks)
  if (side === 'hs') {
    const v = spawnSync(o.hyp, ['storage', 'verify', '--storage', dir, key], { encoding: 'utf8' })
    if (v.status !== 0) throw new Error('hyp storage verify exited ' + v.status + ': ' + v.stdout + v.stderr)
    if (!new RegExp('verified 1 core, ' + w.blocks + ' blocks').test(v.stdout)) {
      throw new Error('hyp storage verify: ' + v.stdout.trim())
    }
    const ls = spawnSync(o.hyp, ['storage', 'ls', '--storage', dir, '--json'], { encoding: 'utf8' })
    const core = ls.status === 0 ? JSON.parse(ls.stdout).find(c => c.key === key) : null
    if (!core || core.length !== w.blocks || core.byteLength !== w.blocks * w.blockBytes) {
      throw new Error('hyp storage ls: ' + ls.stdout.trim() + ls.stderr)
    }
    for (const i of samples) {
      const c = spawnSync(o.hyp, ['storage', 'cat', '--storage', dir, key, '--start', String(i), '--end', String(i + 1),
        '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 })
      const got = c.status === 0 ? Buffer.from(JSON.parse(c.stdout).value, 'base64') : null
      if (!got || !got.equals(blocks[i])) throw new Error('hyp storage cat: block ' + i + ' differs from the source')
    }
    return
  }
  if (GEN === 11) {
    const store = corestore7(dir)
    try {
      const core = store.get({ key: Buffer.from(key, 'hex') })
      await core.ready()
      if (core.length !== w.blocks || core.byteLength !== w.blocks * w.blockBytes) {
        throw new Error('JS copy has length ' + core.length + ', byteLength ' + core.byteLength)
      }
      if (core.contiguousLength !== w.blocks) {
        throw new Error('JS copy holds ' + core.contiguousLength + ' of ' + w.blocks + ' blocks in a row')
      }
      for (const i of samples) {
        const b = await core.get(i, { wait: false })
        if (!b || !b.equals(blocks[i])) throw new Error('JS copy: block ' + i + ' differs from the source')
      }
    } finally {
      await store.close().catch(noop)
    }
    return
  }
  const feed = hypercore(dir, Buffer.from(key, 'hex'), { sparse: true })
  try {
    await p(cb => feed.ready(cb))
    if (feed.length !== w.blocks || feed.byteLength !== w.blocks * w.blockBytes) {
      throw new Error('JS copy has length ' + feed.length + ', byteLength ' + feed.byteLength)
    }
    const have = feed.downloaded(0, w.blocks)
    if (have !== w.blocks) throw new Error('JS copy holds ' + have + ' of ' + w.blocks + ' blocks')
    for (const i of samples) {
      const b = await p(cb => feed.get(i, { wait: false }, cb))
      if (!b.equals(blocks[i])) throw new Error('JS copy: block ' + i + ' differs from the source')
    }
  } finally {
    await p(cb => feed.close(cb)).catch(noop)
  }
}

// --- roles run as child processes -------------------------------------------------------------

function roleArgs (argv) {
  const a = {}
  for (let i = 0; i < argv.length; i += 2) a[argv[i].replace(/^--/, '')] = argv[i + 1]
  return a
}

async function jsServe11 (a) {
  const store = corestore7(a.dir)
  const core = store.get({ name: 'bench' }) // open, so that every connection finds it at once
  await core.ready()
  const server = net.createServer(socket => {
    const stream = store.replicate(false)
    socket.on('error', noop)
    stream.on('error', noop)
    socket.pipe(stream).pipe(socket)
  })
  server.listen(0, HOST, () => {
    const addr = server.address()
    process.stderr.write('listening ' + addr.address + ':' + addr.port + '\n')
  })
  const stop = () => { server.close(); store.close().then(() => process.exit(0), () => process.exit(0)) }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

async function jsDownload11 (a) {
  const length = Number(a.length)
  const store = corestore7(a.dir)
  const core = store.get({ key: Buffer.from(a.key, 'hex') })
  await core.ready()
  const [host, port] = a.connect.split(':')
  const t0 = now()
  const socket = net.connect({ host, port: Number(port), localAddress: a.bind })
  const stream = store.replicate(true)
  socket.on('error', err => { console.error('socket error: ' + err.message); process.exit(1) })
  stream.on('error', err => { console.error('stream error: ' + err.message); process.exit(1) })
  socket.pipe(stream).pipe(socket)
  await core.update({ wait: true })
  if (core.length < length) throw new Error('the server has ' + core.length + ' blocks, expected ' + length)
  await core.download({ start: 0, end: length }).done()
  const seconds = secondsSince(t0)
  const downloaded = core.contiguousLength
  stream.destroy()
  socket.destroy()
  await store.close()
  console.log(JSON.stringify({ seconds, length: core.length, downloaded }))
}

async function jsServe (a) {
  if (a.generation === '11') return jsServe11(a)
  const feed = hypercore(a.dir)
  await p(cb => feed.ready(cb))
  const server = net.createServer(socket => {
    const stream = feed.replicate(false, { live: true })
    socket.on('error', noop)
    stream.on('error', noop)
    socket.pipe(stream).pipe(socket)
  })
  server.listen(0, HOST, () => {
    const addr = server.address()
    process.stderr.write('listening ' + addr.address + ':' + addr.port + '\n')
  })
  const stop = () => { server.close(); feed.close(() => process.exit(0)) }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

async function jsDownload (a) {
  if (a.generation === '11') return jsDownload11(a)
  const length = Number(a.length)
  const feed = hypercore(a.dir, Buffer.from(a.key, 'hex'))
  await p(cb => feed.ready(cb))
  const [host, port] = a.connect.split(':')
  const t0 = now()
  const socket = net.connect({ host, port: Number(port), localAddress: a.bind })
  const stream = feed.replicate(true, { live: true })
  socket.on('error', err => { console.error('socket error: ' + err.message); process.exit(1) })
  stream.on('error', err => { console.error('stream error: ' + err.message); process.exit(1) })
  socket.pipe(stream).pipe(socket)
  await p(cb => feed.download({ start: 0, end: length }, cb))
  const seconds = secondsSince(t0)
  stream.destroy()
  socket.destroy()
  await p(cb => feed.close(cb))
  console.log(JSON.stringify({ seconds, length: feed.length, downloaded: feed.downloaded(0, length) }))
}

// --- driver -----------------------------------------------------------------------------------

function sideLabel (s) { return s === 'hs' ? 'ours' : 'JS' }

function printReport (rows) {
  const floor = rows.some(r => r.floor_mb_per_s !== undefined)
  const head = ['server -> downloader', 'block', 'blocks', 'MB/s', 'blocks/s', 'vs JS->JS', 'aim']
  if (floor) head.push('floor MB/s', 'of floor', 'floor aim')
  const body = rows.map(r => {
    const cells = [
      sideLabel(r.server) + ' -> ' + sideLabel(r.downloader),
      sizeLabel(r.block_bytes),
      fmtNum(r.blocks),
      r.median_s === null ? 'FAILED' : r.mb_per_s.toFixed(1),
      r.median_s === null ? '-' : fmtNum(r.blocks_per_s),
      r.ratio === null ? '-' : r.ratio.toFixed(2) + 'x',
      aimCell(r.aim, r.ratio)
    ]
    if (floor) {
      cells.push(r.floor_mb_per_s === undefined ? '' : r.floor_mb_per_s.toFixed(0),
        r.of_floor === null || r.of_floor === undefined ? '' : (100 * r.of_floor).toFixed(0) + '%',
        r.case !== 'hs-hs' || r.of_floor === null ? '' : '>= 67% ' + (r.of_floor >= FLOOR_AIM ? 'met' : 'NOT met'))
    }
    return cells
  })
  printTable([[head, body]], i => i === 0 || i === 1 || i === head.length - 1)
}

async function runWorkload (o, w, base, problems) {
  const tag = w.blockBytes + 'x' + w.blocks
  const blocks = blocksOf(w)
  const src = { js: path.join(base, 'src-js-' + tag), hs: path.join(base, 'src-hs-' + tag) }
  const lines = path.join(base, 'lines-' + tag)
  writeLinesFile(lines, blocks)
  const keys = { hs: writeOursSource(o, src.hs, lines, w) }
  fs.rmSync(lines, { force: true })
  keys.js = await writeJsSource(src.js, blocks)
  process.stderr.write(`${tag}: source cores written (ours ${keys.hs.slice(0, 8)}…, JS ${keys.js.slice(0, 8)}…)\n`)

  const samples = {}
  for (const c of o.caseList) samples[c] = []
  try {
    for (let rep = 0; rep < o.warmup + o.reps; rep++) {
      const timed = rep >= o.warmup
      for (const c of o.caseList) {
        const [serverSide, downSide] = CASES[c]
        const dir = path.join(base, 'dst-' + c + '-' + tag + '-' + rep)
        let r = null
        let server = null
        try {
          // A fresh server for every download: a JS server that just served a copy can stay busy
          // for a while after the downloader has closed, which would slow the next case.
          server = await startServer(o, serverSide, src[serverSide], keys[serverSide])
          r = await downloadOnce(o, downSide, server, keys[serverSide], dir, w)
          await stopServer(server)
          server = null
          await checkCopy(o, downSide, keys[serverSide], dir, w, blocks)
        } catch (err) {
          problems.push(`${c} ${tag} rep ${rep}: ${err.message}`)
          process.stderr.write(`${c} ${tag} rep ${rep}: FAILED: ${err.message}\n`)
          r = null
        } finally {
          if (server) await stopServer(server)
          fs.rmSync(dir, { recursive: true, force: true })
        }
        if (r) {
          process.stderr.write(`${c} ${tag} rep ${rep}${timed ? '' : ' (warm-up)'}: ${r.seconds.toFixed(3)} s\n`)
          if (timed) samples[c].push(r)
        }
      }
    }
  } finally {
    for (const d of Object.values(src)) fs.rmSync(d, { recursive: true, force: true })
  }
  return samples
}

async function main () {
  const o = parseArgs(process.argv.slice(2))
  checkLoopbackOnly('bench/run-replication.sh')
  if (!fs.existsSync(o.hyp)) throw new Error(o.hyp + ' does not exist: build it (bench/run-replication.sh) or pass --hyp')
  const { base, cleanup } = tempBase({ tmp: o.tmp, prefix: 'hs-replication-bench-' })
  // Run a private copy of hyp (bench/lib/common.js privateCopy).
  const hypSource = o.hyp
  const hyp = privateCopy(hypSource, base)
  const hypMtime = hyp.info.mtime
  o.hyp = hyp.copy
  const loadBefore = os.loadavg()
  const problems = []
  const rows = []
  try {
    for (const w of o.workloads) {
      const samples = await runWorkload(o, w, base, problems)
      const bytes = w.blocks * w.blockBytes
      const stat = c => {
        const s = samples[c]
        if (!s || s.length < o.reps) return null
        return median(s.map(x => x.seconds))
      }
      const jsjs = stat('js-js')
      for (const c of o.caseList) {
        const m = stat(c)
        const [server, downloader] = CASES[c]
        rows.push({
          case: c,
          server,
          downloader,
          block_bytes: w.blockBytes,
          blocks: w.blocks,
          samples_s: samples[c].map(x => x.seconds),
          connected_samples_s: samples[c].map(x => x.connected_s),
          median_s: m,
          mb_per_s: m === null ? null : bytes / m / 1e6,
          blocks_per_s: m === null ? null : w.blocks / m,
          ratio: m === null || jsjs === null ? null : jsjs / m,
          aim: c === 'hs-hs' && AIMS[GEN][w.blockBytes] ? AIMS[GEN][w.blockBytes] : null
        })
      }
    }
    if (GEN === 11) {
      // One core's crypto floor for the same workloads (not timed against anything else).
      if (!fs.existsSync(o.floorBin)) throw new Error(o.floorBin + ' does not exist: build hs_v11_core_bench or pass --floor-bin')
      const f = JSON.parse(execFileSync(o.floorBin, ['--replication-floor', '--sizes', o.sizes, '--batch', '1',
        '--reps', String(o.reps), '--warmup', String(o.warmup)], { encoding: 'utf8' }))
      for (const r of rows) {
        const fl = f.floor.find(x => x.block_bytes === r.block_bytes)
        r.floor_mb_per_s = fl.mb_per_s
        r.of_floor = r.mb_per_s === null ? null : r.mb_per_s / fl.mb_per_s
      }
    }
    const loadAfter = os.loadavg()
    const js = GEN === 11 ? 'corestore 7.12.5 / hypercore 11.37.1' : 'hypercore 9.12.0'
    console.log(`replication bench (generation ${GEN}): ${js} (node ${process.version}) vs ${path.relative(ROOT, hypSource) || hypSource} (${hypMtime}); ` +
      runText(o, loadBefore, loadAfter))
    printReport(rows)
    printChecks(problems, 'checks: every copy holds every block (hyp storage verify / JS downloaded()), sampled ' +
      'blocks equal the source')
    console.log(JSON.stringify({
      ...jsonHead('replication', o, loadBefore, loadAfter),
      generation: GEN,
      hyp: hypSource,
      hyp_mtime: hypMtime,
      checks_ok: problems.length === 0,
      problems,
      rows
    }))
    if (problems.length) process.exitCode = 2
  } finally {
    cleanup()
  }
}

if (process.argv[2] === '--role') {
  const a = roleArgs(process.argv.slice(4))
  const run = { 'js-serve': jsServe, 'js-download': jsDownload }[process.argv[3]]
  if (!run) {
    console.error('unknown role ' + process.argv[3])
    process.exit(1)
  }
  run(a).catch(err => {
    console.error(process.argv[3] + ':', err && err.stack ? err.stack : err)
    process.exit(1)
  })
} else {
  main().catch(err => {
    killAll()
    console.error('replication_bench:', err && err.stack ? err.stack : err)
    process.exit(1)
  })
}
