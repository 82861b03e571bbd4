'use strict'

// What the benchmark drivers in bench/*.js share: the pinned JS packages, argument parsing, the
// deterministic block content, /proc readings, child processes, the temp folder and the report
// table. Nothing here is timed itself; see bench/README.md.

const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawn } = require('child_process')
const { createRequire } = require('module')

const ROOT = path.resolve(__dirname, '..', '..')
const interopDir = process.env.HS_INTEROP_DIR || path.join(ROOT, 'tests', 'interop')
// require() of the pinned JS packages in tests/interop/node_modules
const requireJs = createRequire(path.join(interopDir, 'package.json'))

function now () { return process.hrtime.bigint() }
function secondsSince (t) { return Number(process.hrtime.bigint() - t) / 1e9 }
function noop () {}
function sleep (ms) { return new Promise(resolve => setTimeout(resolve, ms)) }
// A promise for a Node-style callback API: await p(cb => feed.ready(cb))
function p (fn) {
  return new Promise((resolve, reject) => fn((err, v) => err ? reject(err) : resolve(v)))
}

// --- arguments ------------------------------------------------------------------------------------

// Parses argv into o, which holds the defaults: each key of o is an option, --perfArgs spelled
// --perf-args, that takes a number when its default is one, takes no value and sets true when its
// default is false, and takes a string otherwise. flags adds options or overrides those: it maps an
// option to [key, parse], parse being a function of the value (Number, path.resolve, …) or the
// constant the option sets without taking a value. -h / --help prints the usage comment at the top
// of the driver (its lines 3 … up to the first line that is not a comment).
function parseFlags (argv, o, flags, script) {
  const table = {}
  for (const [key, v] of Object.entries(o)) {
    const parse = typeof v === 'number' ? Number : v === false ? true : String
    table['--' + key.replace(/[A-Z]/g, c => '-' + c.toLowerCase())] = [key, parse]
  }
  Object.assign(table, flags)
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '-h' || a === '--help') {
      const lines = fs.readFileSync(script, 'utf8').split('\n').slice(2)
      console.log(lines.slice(0, lines.findIndex(l => !l.startsWith('//'))).join('\n'))
      process.exit(0)
    }
    const f = table[a]
    if (!f) throw new Error('unknown argument ' + a + ' (--help lists them)')
    const [key, parse] = f
    if (typeof parse !== 'function') {
      o[key] = parse
      continue
    }
    if (i + 1 >= argv.length) throw new Error(a + ' needs a value')
    o[key] = parse(argv[++i])
  }
  return o
}

// --sizes BYTES:BLOCKS[,...] -> [{ blockBytes, blocks }]; with batch, BLOCKS must be a multiple of it.
function parseSizes (sizes, { minBlocks = 1, batch = null } = {}) {
  return sizes.split(',').map(s => {
    const [bytes, blocks] = s.split(':').map(Number)
    if (!(bytes >= 1) || !(blocks >= minBlocks) || (batch !== null && blocks % batch !== 0)) {
      throw new Error(batch !== null
        ? '--sizes wants BYTES:BLOCKS with BLOCKS a multiple of --batch, got ' + s
        : '--sizes wants BYTES:BLOCKS[,...], got ' + s)
    }
    return { blockBytes: bytes, blocks }
  })
}

function checkRepetitions (o) {
  if (!(o.reps >= 1)) throw new Error('--reps must be >= 1')
  if (!(o.warmup >= 0)) throw new Error('--warmup must be >= 0')
}

// --sides js,hs -> ['js', 'hs'] ('hs' is ours)
function parseSides (sides) {
  const list = sides.split(',')
  for (const s of list) if (s !== 'js' && s !== 'hs') throw new Error('unknown side ' + s + ' (js, hs)')
  return list
}

// --- deterministic content ------------------------------------------------------------------------
// Block i: xorshift32 seeded (i + 1) * 0x9E3779B1 mod 2^32 (0 -> 1), each 32-bit word giving four
// bytes, low byte first (the last word cut short when the block size is not a multiple of 4), as
// bench/storage_bench.cpp. With an alphabet of 64 letters, each byte b is alphabet[b & 63] instead.

function fillBlock (i, out, alphabet = null) {
  let x = Math.imul(i + 1, 0x9E3779B1) >>> 0
  if (x === 0) x = 1
  for (let j = 0; j < out.length; j += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0
    for (let k = 0; k < 4 && j + k < out.length; k++) {
      const b = (x >>> (8 * k)) & 0xff
      out[j + k] = alphabet ? alphabet[b & 63] : b
    }
  }
}

// Blocks 0 … count-1, views into one buffer.
function makeBlocks (count, bytes, alphabet = null) {
  const data = Buffer.alloc(count * bytes)
  const blocks = new Array(count)
  for (let i = 0; i < count; i++) {
    blocks[i] = data.subarray(i * bytes, (i + 1) * bytes)
    fillBlock(i, blocks[i], alphabet)
  }
  return blocks
}

// 0 … n-1 in the benchmarks' seeded order: Fisher-Yates with xorshift32 seeded 0x2545F491, for
// k = n-1 … 1 swapping k with next() % (k + 1) (bench/lib/blocks.h shuffled is the same).
function shuffled (n) {
  const v = new Array(n)
  for (let i = 0; i < n; i++) v[i] = i
  let x = 0x2545F491
  for (let k = n - 1; k >= 1; k--) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0
    const j = x % (k + 1)
    const t = v[k]; v[k] = v[j]; v[j] = t
  }
  return v
}

// The indices of a core of total = 2N blocks that repetitions after the first read back: both
// ends and the middle of each half, and 16 more from xorshift32 seeded 0x2545F491.
function sampleIndices (total) {
  const n = total / 2
  const s = new Set([0, 1, n >> 1, n - 1, n, n + 1, n + (n >> 1), total - 2, total - 1])
  let x = 0x2545F491
  for (let k = 0; k < 16; k++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0
    s.add(x % total)
  }
  return [...s].filter(i => i >= 0 && i < total).sort((a, b) => a - b)
}

// --- /proc readings -------------------------------------------------------------------------------

// VmRSS (resident now) and VmHWM (peak resident) of a process in bytes; null once it is gone.
function procMemory (pid) {
  let status
  try { status = fs.readFileSync('/proc/' + pid + '/status', 'utf8') } catch (_) { return null }
  const kb = key => {
    const m = new RegExp('^' + key + ':\\s+(\\d+) kB', 'm').exec(status)
    return m ? Number(m[1]) * 1024 : null
  }
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

// CPU time of a process in seconds, summed over its threads (schedstat: nanoseconds on CPU); null
// once it is gone.
function procCpu (pid) {
  let ns = 0
  let tasks
  try { tasks = fs.readdirSync('/proc/' + pid + '/task') } catch (_) { return null }
  for (const t of tasks) {
    try {
      ns += Number(fs.readFileSync('/proc/' + pid + '/task/' + t + '/schedstat', 'utf8').split(' ')[0])
    } catch (_) {} // the thread ended meanwhile
  }
  return ns / 1e9
}

// CPU time of this process (user + system) in seconds
function selfCpu () {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

// --- child processes ------------------------------------------------------------------------------

const children = new Set()

// Remembers child until it exits, so that killAll() can end it.
function track (child) {
  children.add(child)
  child.on('exit', () => children.delete(child))
  child.on('error', () => children.delete(child))
  return child
}

function killAll () {
  for (const c of children) {
    try { c.kill('SIGKILL') } catch (_) {}
  }
}

// Spawns cmd and resolves { label, child, pid, match, out() } once its output (stdout and stderr
// together) matches re; rejects, with the end of that output, when it exits first or does not
// match within timeoutS.
function spawnWaiting (label, cmd, args, env, re, timeoutS = 60) {
  return new Promise((resolve, reject) => {
    const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env }))
    let out = ''
    let settled = false
    const timer = setTimeout(() => fail(new Error(label + ' did not print ' + re + ' in ' + timeoutS + ' s')), timeoutS * 1000)
    function fail (err) {
      if (settled) return
      settled = true
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(new Error(err.message + (out ? '\n' + out.slice(-4000) : '')))
    }
    const keep = d => {
      out += d
      if (out.length > 1 << 20) out = out.slice(-65536)
      const m = re.exec(out)
      if (m && !settled) {
        settled = true
        clearTimeout(timer)
        resolve({ label, child, pid: child.pid, match: m, out: () => out })
      }
    }
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    child.on('error', fail)
    child.on('exit', (code, signal) => fail(new Error(label + ' exited early (' + (signal || code) + ')')))
  })
}

// SIGTERM to c.child (c as spawnWaiting resolves it), SIGKILL after ms; resolves with its exit
// code, or the signal's name when a signal ended it.
function stopChild (c, ms = 15000) {
  return new Promise(resolve => {
    const ch = c.child
    if (ch.exitCode !== null || ch.signalCode !== null) return resolve(ch.exitCode === null ? ch.signalCode : ch.exitCode)
    const timer = setTimeout(() => ch.kill('SIGKILL'), ms)
    ch.on('exit', (code, signal) => { clearTimeout(timer); resolve(code === null ? signal : code) })
    ch.kill('SIGTERM')
  })
}

// A JS @hyperswarm/dht 4 bootstrap node on host (docs/testing.md "A local DHT bootstrap node"),
// the body of a driver's `--role bootstrap` child: prints "listening on HOST:PORT".
function dhtBootstrapRole (host = '127.0.0.1') {
  const dht = requireJs('@hyperswarm/dht')({ bootstrap: false, ephemeral: false })
  dht.listen(0, host, () => console.log('listening on ' + host + ':' + dht.address().port))
  const stop = () => { dht.destroy(); process.exit(0) }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

// The bootstrap node of dhtBootstrapRole() as a child process: script is the driver, which runs
// dhtBootstrapRole() for `--role bootstrap`. Resolves as spawnWaiting, match[1] being the port.
function startBootstrap (script) {
  return spawnWaiting('DHT bootstrap', process.execPath, [script, '--role', 'bootstrap'], process.env,
    /^listening on \S+:(\d+)$/m)
}

// A daemon listening on the UNIX socket <TMPDIR>/<name>.sock, storage in dir, bootstrapping from
// 127.0.0.1:bootstrapPort: side 'hs' is ours (the binary at hyperspace, mDNS off, warnings only),
// 'js' the JS package's own bin/index.js. Resolves as spawnWaiting, plus side and name.
async function startDaemon (hyperspace, side, name, dir, bootstrapPort, env) {
  const boot = '127.0.0.1:' + bootstrapPort
  const [cmd, args] = side === 'hs'
    ? [hyperspace, ['--storage', dir, '--host', name, '--bootstrap', boot, '--no-local-discovery',
        '--log-level', 'warn']]
    : [process.execPath, [requireJs.resolve('hyperspace/bin/index.js'), '-s', dir, '-h', name, '-b', boot,
        '--no-migrate']]
  const d = await spawnWaiting(side === 'hs' ? 'our daemon' : 'JS daemon', cmd, args, env, /Listening on (\S+)/m)
  d.side = side
  d.name = name
  return d
}

// The frame of a run whose daemons bootstrap from a local DHT node: a temp folder under tmp
// (default /tmp: socket paths must stay under 108 bytes; tempBase with daemonEnv), the node
// (startBootstrap(script)), then body({ base, env, bootstrapPort }); stops the node and cleans up
// however body ends.
async function withBootstrap (script, { tmp, prefix }, body) {
  const { base, env, cleanup } = tempBase({ tmp: tmp || '/tmp', prefix, daemonEnv: true })
  let bootstrap = null
  try {
    bootstrap = await startBootstrap(script)
    return await body({ base, env, bootstrapPort: Number(bootstrap.match[1]) })
  } finally {
    if (bootstrap) await stopChild(bootstrap)
    cleanup()
  }
}

// An @hyperspace/client connected to the daemon on <TMPDIR>/<name>.sock.
async function connectClient (name) {
  const Client = requireJs('@hyperspace/client')
  const client = new Client({ host: name })
  if (client._client) client._client.on('error', noop)
  await client.ready()
  return client
}

// The body of a driver whose children include startBootstrap(): `--role bootstrap` runs
// dhtBootstrapRole(), anything else main(), then exits (explicitly: a client socket to a daemon
// that did not stop would keep Node alive); an error kills the children and exits 1.
function runDriver (name, main) {
  if (process.argv[2] === '--role') {
    if (process.argv[3] !== 'bootstrap') {
      console.error('unknown role ' + process.argv[3])
      process.exit(1)
    }
    return dhtBootstrapRole()
  }
  main().then(() => process.exit(), err => {
    killAll()
    console.error(name + ':', err && err.stack ? err.stack : err)
    process.exit(1)
  })
}

// The untimed checks after a repetition on a core that should hold total = blocks.length blocks
// of `bytes` each: length, byteLength, then get() of every block (rep 0) or of
// sampleIndices(total), each equal to blocks[blockOf(i)] (the block appended at index i). Throws
// on the first difference; resolves with the number of blocks read back.
async function checkCoreBlocks (core, blocks, bytes, rep, blockOf = i => i) {
  const total = blocks.length
  if (core.length !== total) throw new Error('length ' + core.length + ', expected ' + total)
  if (core.byteLength !== total * bytes) throw new Error('byteLength ' + core.byteLength + ', expected ' + total * bytes)
  const idx = rep === 0 ? [...Array(total).keys()] : sampleIndices(total)
  for (const i of idx) {
    const b = await core.get(i)
    if (!Buffer.isBuffer(b) || !b.equals(blocks[blockOf(i)])) {
      throw new Error('get(' + i + ') differs from block ' + blockOf(i) + ', appended there')
    }
  }
  return idx.length
}

// --- environment ----------------------------------------------------------------------------------

// Throws unless lo is the only network interface (runner: the script that sets the namespace up).
function checkLoopbackOnly (runner) {
  const names = Object.keys(os.networkInterfaces())
  if (names.some(n => n !== 'lo')) {
    throw new Error('refusing to run outside a loopback-only network namespace (interfaces: ' + names.join(', ') +
      '); use ' + runner)
  }
}

// A new temp folder <tmp or the system's>/<prefix>XXXXXX. cleanup() (once: kills every tracked
// child, removes the folder unless keep) runs on exit and on SIGINT / SIGTERM (then exit 130).
// home: also a <base>/home folder; daemonEnv: TMPDIR (where @hyperspace/client looks for the
// daemons' sockets) set to the folder in this process, and { env } for the daemons with TMPDIR
// and HOME there.
function tempBase ({ tmp = null, prefix, keep = false, daemonEnv = false }) {
  const base = fs.mkdtempSync(path.join(tmp || os.tmpdir(), prefix))
  let env = null
  if (daemonEnv) {
    fs.mkdirSync(path.join(base, 'home'))
    process.env.TMPDIR = base
    env = { ...process.env, TMPDIR: base, HOME: path.join(base, 'home') }
  }
  let cleaned = false
  const cleanup = () => {
    if (cleaned) return
    cleaned = true
    killAll()
    if (!keep) fs.rmSync(base, { recursive: true, force: true })
    else process.stderr.write('kept ' + base + '\n')
  }
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { cleanup(); process.exit(130) })
  process.on('exit', cleanup)
  return { base, env, cleanup }
}

// Copies the binary at src into dir (a rebuild during the run must not mix two versions, or catch
// the file half-linked); returns { copy, info: { path, mtime } }.
function privateCopy (src, dir) {
  const copy = path.join(dir, path.basename(src))
  fs.copyFileSync(src, copy)
  fs.chmodSync(copy, 0o755)
  return { copy, info: { path: src, mtime: fs.statSync(src).mtime.toISOString() } }
}

// --- report ---------------------------------------------------------------------------------------

function median (v) {
  const s = [...v].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function sizeLabel (b) { return b % 1024 === 0 ? (b / 1024) + ' KiB' : b + ' B' }
function fmtNum (x) { return x === null ? '-' : Math.round(x).toLocaleString('en-US') }
// before, after: os.loadavg() or one of its figures
function loadText (before, after) {
  const fmt = v => [].concat(v).map(x => x.toFixed(2)).join(' ')
  return `load average ${fmt(before)} before, ${fmt(after)} after`
}

// The end of every driver's first output line: "median of 3 after 1 warm-up; 2 cores; load …".
function runText (o, loadBefore, loadAfter) {
  return `median of ${o.reps} after ${o.warmup} warm-up; ${os.cpus().length} cores; ${loadText(loadBefore, loadAfter)}`
}

// Prints the failed checks under `failed`, or okText (what was checked) when none failed.
function printChecks (problems, okText, failed = 'FAILURES') {
  console.log(problems.length ? failed + ':\n  ' + problems.join('\n  ') : okText)
}

// The fields every driver's JSON line starts with.
function jsonHead (bench, o, loadBefore, loadAfter) {
  return {
    bench,
    date: new Date().toISOString(),
    node: process.version,
    cores: os.cpus().length,
    loadavg_before: loadBefore,
    loadavg_after: loadAfter,
    reps: o.reps,
    warmup: o.warmup
  }
}

// Prints the JSON line of a run: jsonHead(), then fields, checks_ok and problems; sets the exit
// status to 2 when a check failed.
function printJsonLine (bench, o, loads, problems, fields) {
  console.log(JSON.stringify({ ...jsonHead(bench, o, ...loads), checks_ok: problems.length === 0, problems, ...fields }))
  if (problems.length) process.exitCode = 2
}

// Prints sections ([[head, body rows], …], all cells strings) as one table with one set of column
// widths; columns whose index leftAligned(i) is true are padded on the right, the others on the left.
function printTable (sections, leftAligned) {
  const all = sections.flatMap(([head, body]) => [head, ...body])
  const widths = all[0].map((_, i) => Math.max(...all.map(r => r[i].length)))
  const pad = (c, i) => leftAligned(i) ? c.padEnd(widths[i]) : c.padStart(widths[i])
  const line = cells => cells.map(pad).join('  ').trimEnd()
  for (const [head, body] of sections) {
    console.log(line(head))
    console.log(widths.map(w => '-'.repeat(w)).join('  '))
    for (const b of body) console.log(line(b))
  }
}

// The aim column: ">= 5x met" / ">= 5x NOT met", empty without an aim or a ratio.
function aimCell (aim, ratio) {
  return aim === null || aim === undefined || ratio === null ? '' : '>= ' + aim + 'x ' + (ratio >= aim ? 'met' : 'NOT met')
}

module.exports = {
  ROOT,
  interopDir,
  requireJs,
  now,
  secondsSince,
  noop,
  sleep,
  p,
  parseFlags,
  parseSizes,
  checkRepetitions,
  parseSides,
  fillBlock,
  makeBlocks,
  shuffled,
  sampleIndices,
  procMemory,
  procCpu,
  selfCpu,
  track,
  killAll,
  spawnWaiting,
  stopChild,
  dhtBootstrapRole,
  runDriver,
  startBootstrap,
  startDaemon,
  withBootstrap,
  connectClient,
  checkCoreBlocks,
  checkLoopbackOnly,
  tempBase,
  privateCopy,
  median,
  sizeLabel,
  fmtNum,
  loadText,
  runText,
  printChecks,
  jsonHead,
  printJsonLine,
  printTable,
  aimCell
}
