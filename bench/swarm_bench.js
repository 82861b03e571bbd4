'use strict'

// Networking benchmark driver: two of our `hyperspace` daemons against two JS hyperspace 3.19
// daemons, in one run. Each pair finds each other through a DHT bootstrap node and replicates over
// a veth pair between two network namespaces; @hyperspace/client 1.18 drives all four daemons.
// Measures the time to the first block (from the reader's client.replicate call until its
// core.get(0) resolves) and the replication throughput of a core of small and of large blocks
// (core.download({start: 0, end: N}) on the reader). Prints one table (ours / JS), then one JSON
// line. See bench/README.md ("Networking").
//
//   bench/run-swarm.sh [--sizes 1024:20000,65536:1600] [--reps 3] [--warmup 1] [--sides js,hs]
//                      [--bootstrap-impl js|hyp] [--settle 1000] [--timeout 180] [--tmp DIR]
//                      [--hyperspace build/hyperspace] [--hyp build/hyp] [--keep] [--log-level warn]
//
// --keep keeps the temp folder, with each daemon's output in <tag>-<a|b>.log; --log-level is our
// daemons' (default warn).
//
// Topology, set up by this driver (it must start inside a fresh loopback-only network namespace,
// and refuses otherwise; bench/run-swarm.sh does that): the driver's namespace A gets one end of
// a veth pair, 10.77.0.1/24; a second namespace B, held by a child `unshare -n` process, gets the
// other end, 10.77.0.2/24. No default route, nothing else. The DHT bootstrap node and the writer
// daemon run in A (on 10.77.0.1), the reader daemon in B (nsenter -n into the holder). The same for
// both pairs. The namespaces die with the holder and with the wrapper's PID namespace.
// Exit status: 0 when every check passed, 2 when a check or a step failed, 1 on errors.

const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawn, execFileSync } = require('child_process')
const {
  ROOT, requireJs, now, secondsSince, noop, sleep, parseFlags, parseSizes, checkRepetitions, parseSides, makeBlocks,
  procMemory, procCpu, track, killAll, spawnWaiting, stopChild, dhtBootstrapRole, connectClient, tempBase,
  privateCopy, median, sizeLabel, runText, printChecks, jsonHead, printTable
} = require('./lib/common')

const SIDE_LABEL = { js: 'JS', hs: 'ours' }
const NET = { a: '10.77.0.1', b: '10.77.0.2', prefix: 24, ifA: 'hsw0', ifB: 'hsw1' }
const TTFB_BYTES = 1024

function parseArgs (argv) {
  const o = parseFlags(argv, {
    hyperspace: process.env.HYPERSPACE_BIN || path.join(ROOT, 'build', 'hyperspace'),
    hyp: process.env.HYP_BIN || path.join(ROOT, 'build', 'hyp'),
    sizes: '1024:20000,65536:1600',
    reps: 3,
    warmup: 1,
    sides: 'js,hs',
    bootstrapImpl: 'js',
    settle: 1000,
    logLevel: 'warn',
    timeout: 180,
    tmp: null,
    keep: false,
    role: null
  }, {
    '--hyperspace': ['hyperspace', path.resolve],
    '--hyp': ['hyp', path.resolve],
    // internal: child process roles
    '--storage': ['roleStorage', String],
    '--host': ['roleHost', String],
    '--bootstrap': ['roleBootstrap', String]
  }, __filename)
  if (o.role) return o
  o.workloads = parseSizes(o.sizes, { minBlocks: 2 })
  o.sideList = parseSides(o.sides)
  if (!['js', 'hyp'].includes(o.bootstrapImpl)) throw new Error('--bootstrap-impl is js or hyp')
  checkRepetitions(o)
  return o
}

// --- deterministic content (makeBlocks in bench/lib/common.js, as bench/daemon_bench.js) ----------

function sampleIndices (n) {
  const s = new Set([0, 1, n >> 2, n >> 1, n - 2, n - 1])
  let x = 0x2545F491
  for (let k = 0; k < 24; k++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0
    s.add(x % n)
  }
  return [...s].filter(i => i >= 0 && i < n).sort((a, b) => a - b)
}

function withTimeout (prom, s, what) {
  let timer
  return Promise.race([
    prom,
    new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(what + ' timed out after ' + s + ' s')), s * 1000) })
  ]).finally(() => clearTimeout(timer))
}

// --- network namespaces ---------------------------------------------------------------------------

function netnsId (pid) { return fs.readlinkSync('/proc/' + pid + '/ns/net') }

function checkNamespace () {
  const names = Object.keys(os.networkInterfaces())
  let links = ''
  try { links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }) } catch (_) {}
  const linkNames = links.split('\n').filter(Boolean).map(l => l.split(':')[1].trim().split('@')[0])
  const others = [...new Set([...names, ...linkNames])].filter(n => n !== 'lo')
  if (others.length) {
    throw new Error('refusing to run outside a fresh loopback-only network namespace (interfaces: ' +
      [...new Set([...names, ...linkNames])].join(', ') + '); use bench/run-swarm.sh')
  }
}

function ip (args, nsPid) {
  const [cmd, full] = nsPid ? ['nsenter', ['-t', String(nsPid), '-n', 'ip', ...args]] : ['ip', args]
  execFileSync(cmd, full, { stdio: ['ignore', 'ignore', 'inherit'] })
}

function sysctl (key, value, nsPid) {
  const file = '/proc/sys/' + key.replace(/\./g, '/')
  const args = ['sh', '-c', 'echo ' + value + ' > ' + file]
  if (nsPid) execFileSync('nsenter', ['-t', String(nsPid), '-n', ...args])
  else execFileSync(args[0], args.slice(1))
}

// Namespace B: a holder process in a new network namespace (it exits when our stdin pipe closes,
// i.e. when this driver dies), one veth end in each namespace.
async function setupNetwork () {
  const holder = track(spawn('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec cat >/dev/null'],
    { stdio: ['pipe', 'ignore', 'inherit'] }))
  const mine = netnsId(process.pid)
  for (let i = 0; ; i++) {
    if (holder.exitCode !== null) throw new Error('unshare -n (namespace B holder) exited with ' + holder.exitCode)
    try {
      if (netnsId(holder.pid) !== mine) break
    } catch (_) {}
    if (i > 100) throw new Error('namespace B holder did not get its own network namespace')
    await sleep(20)
  }
  await sleep(50) // let it bring lo up
  const pid = holder.pid
  ip(['link', 'add', NET.ifA, 'type', 'veth', 'peer', 'name', NET.ifB])
  ip(['link', 'set', NET.ifB, 'netns', String(pid)])
  for (const [ifc, addr, ns] of [[NET.ifA, NET.a, null], [NET.ifB, NET.b, pid]]) {
    try { sysctl('net.ipv6.conf.' + ifc + '.disable_ipv6', 1, ns) } catch (_) {}
    ip(['addr', 'add', addr + '/' + NET.prefix, 'dev', ifc], ns)
    ip(['link', 'set', ifc, 'up'], ns)
  }
  ip(['link', 'set', 'lo', 'up'], pid)
  const routes = execFileSync('nsenter', ['-t', String(pid), '-n', 'ip', 'route'], { encoding: 'utf8' })
  if (/default/.test(routes)) throw new Error('namespace B has a default route: ' + routes)
  return { holder, pid, describe: `A (driver) ${NET.ifA} ${NET.a}/${NET.prefix} <-veth-> B ${NET.ifB} ${NET.b}/${NET.prefix}, no default route` }
}

// Command prefix running cmd in namespace 'a' (ours) or 'b' (the holder's).
function inNs (net, ns, cmd, args) {
  if (ns === 'a') return [cmd, args]
  return ['nsenter', ['-t', String(net.pid), '-n', cmd, ...args]]
}

// --- daemons --------------------------------------------------------------------------------------

async function startBootstrap (o, env) {
  if (o.bootstrapImpl === 'hyp') {
    const b = await spawnWaiting('hyp dht', o.hypCopy, ['dht', '--host', NET.a, '--port', '0', '--log-level', 'warn'],
      env, /listening on (\d+\.\d+\.\d+\.\d+):(\d+)/)
    b.address = b.match[1] + ':' + b.match[2]
    return b
  }
  const b = await spawnWaiting('JS DHT bootstrap', process.execPath, [__filename, '--role', 'bootstrap', '--host', NET.a],
    env, /^listening on (\d+\.\d+\.\d+\.\d+):(\d+)$/m)
  b.address = b.match[1] + ':' + b.match[2]
  return b
}

// A daemon in namespace ns ('a' writer, 'b' reader), UNIX socket <TMPDIR>/<name>.sock.
async function startDaemon (o, net, side, ns, name, dir, bootstrap, env) {
  const addr = ns === 'a' ? NET.a : NET.b
  const [cmd, args] = side === 'hs'
    ? inNs(net, ns, o.hyperspaceCopy, ['--storage', dir, '--host', name, '--network-port', '0', '--bind-address', addr,
        '--bootstrap', bootstrap, '--no-local-discovery', '--log-level', o.logLevel])
    : inNs(net, ns, process.execPath, [__filename, '--role', 'js-daemon', '--storage', dir, '--host', name,
        '--bootstrap', bootstrap])
  const d = await spawnWaiting(SIDE_LABEL[side] + ' daemon (' + ns + ')', cmd, args, env, /Listening on (\S+)/m)
  d.side = side
  d.name = name
  d.ns = ns
  return d
}

// The writer's side of "both sides configure": what client.replicate(core) configures (announce +
// lookup), plus flush: true, so that it resolves only once the announce round has finished. Plain
// client.replicate() does not wait for the announce (no flush; the ifAvailable update of a writable
// core returns at once), and a reader started right after it can then look the topic up before
// the bootstrap node holds the writer's record: neither side finds the other until the next DHT
// round, 5-10 minutes later (seen with our daemons, whose replicate() returns in 1-2 ms).
async function writerReplicate (client, core) {
  await client.network.configure(core.discoveryKey, { announce: true, lookup: true, flush: true })
}

// --- one repetition: fresh writer (A) and reader (B) daemons of one side --------------------------

async function runRep (o, net, side, rep, bootstrap, base, env, blocksBySize, problems) {
  const tag = side + '-' + rep
  const res = { rep, warmup: rep < o.warmup, ttfb: null, sizes: {} }
  const daemons = {}
  const clients = {}
  const t = o.timeout
  const log = msg => process.stderr.write(`${side} rep ${rep}${res.warmup ? ' (warm-up)' : ''}: ${msg}\n`)
  try {
    const [w, r] = await Promise.all(['a', 'b'].map(ns =>
      startDaemon(o, net, side, ns, 'hssw-' + tag + '-' + ns, path.join(base, tag + '-' + ns), bootstrap, env)))
    daemons.w = w
    daemons.r = r
    for (const k of ['w', 'r']) {
      clients[k] = await connectClient(daemons[k].name)
    }
    // Both daemons have bootstrapped their DHT by now on both sides (give them the same time).
    await sleep(o.settle)
    const wc = clients.w
    const rc = clients.r

    // (1) time to first block: a new core of one block.
    {
      const core = wc.corestore().get({ name: 'ttfb-' + tag })
      await core.ready()
      const block = makeBlocks(1, TTFB_BYTES)[0]
      await core.append(block)
      const tw = now()
      await withTimeout(writerReplicate(wc, core), t, 'writer replicate')
      const writerReplicateS = secondsSince(tw)
      const mirror = rc.corestore().get(core.key)
      await mirror.ready()
      const t0 = now()
      await withTimeout(rc.replicate(mirror), t, 'reader replicate')
      const replicateS = secondsSince(t0)
      let got
      let fallback = false
      try {
        got = await withTimeout(mirror.get(0), t, 'reader get(0)')
      } catch (err) {
        // Not counted: the default (ifAvailable) get gave up. Record it, then wait for the block.
        problems.push(`${SIDE_LABEL[side]} rep ${rep}: time to first block: get(0) failed (${err.message}); ` +
          'retried with ifAvailable: false')
        fallback = true
        got = await withTimeout(mirror.get(0, { ifAvailable: false }), t, 'reader get(0, ifAvailable false)')
      }
      const seconds = secondsSince(t0)
      if (!Buffer.isBuffer(got) || !got.equals(block)) throw new Error('time to first block: get(0) returned other bytes')
      // How the reader reached the writer: 'tcp' or 'utp' (JS races both, ours speaks TCP only).
      const peerTypes = (mirror.peers || []).map(p => p.type)
      res.ttfb = { seconds: fallback ? null : seconds, seconds_incl_fallback: seconds, replicate_s: replicateS,
        writer_replicate_s: writerReplicateS, fallback, peer_types: peerTypes }
      log(`first block ${(seconds * 1000).toFixed(0)} ms (reader replicate ${(replicateS * 1000).toFixed(0)} ms, ` +
        `writer replicate ${(writerReplicateS * 1000).toFixed(0)} ms; peers ${peerTypes.join(',') || 'none'})` +
        (fallback ? ' FALLBACK' : ''))
      await core.close().catch(noop)
      await mirror.close().catch(noop)
    }

    // (2) throughput: a new core of N blocks per size, downloaded whole by the reader.
    for (const wl of o.workloads) {
      const size = wl.blockBytes + 'x' + wl.blocks
      const blocks = blocksBySize[size]
      const n = wl.blocks
      const core = wc.corestore().get({ name: 'tp-' + size + '-' + tag })
      await core.ready()
      const batch = Math.max(1, Math.floor((1 << 20) / wl.blockBytes))
      const ta = now()
      for (let i = 0; i < n; i += batch) await core.append(blocks.slice(i, i + batch))
      const appendS = secondsSince(ta)
      if (core.length !== n) throw new Error(size + ': writer length ' + core.length + ', expected ' + n)
      await withTimeout(writerReplicate(wc, core), t, size + ' writer replicate')
      const mirror = rc.corestore().get(core.key)
      await mirror.ready()
      const t1 = now()
      await withTimeout(rc.replicate(mirror), t, size + ' reader replicate')
      const first = await withTimeout(mirror.get(0, { ifAvailable: false }), t, size + ' reader get(0)')
      const firstS = secondsSince(t1)
      if (!first.equals(blocks[0])) throw new Error(size + ': get(0) returned other bytes')
      const cpuW = procCpu(daemons.w.pid)
      const cpuR = procCpu(daemons.r.pid)
      const t2 = now()
      await withTimeout(mirror.download({ start: 0, end: n }), t, size + ' download')
      const seconds = secondsSince(t2)
      const writerCpu = procCpu(daemons.w.pid) - cpuW
      const readerCpu = procCpu(daemons.r.pid) - cpuR
      // Checks (untimed): length, downloaded count, sampled blocks (every block in rep 0).
      if (mirror.length !== n) throw new Error(size + ': reader length ' + mirror.length + ', expected ' + n)
      const have = await mirror.downloaded(0, n)
      if (have !== n) throw new Error(size + ': reader downloaded(0, N) = ' + have + ', expected ' + n)
      const idx = rep === 0 ? [...Array(n).keys()] : sampleIndices(n)
      for (const i of idx) {
        const b = await mirror.get(i, { ifAvailable: false })
        if (!Buffer.isBuffer(b) || !b.equals(blocks[i])) throw new Error(size + ': reader get(' + i + ') differs from the appended block')
      }
      const bytes = n * wl.blockBytes
      res.sizes[size] = {
        block_bytes: wl.blockBytes,
        blocks: n,
        seconds,
        mb_per_s: bytes / seconds / 1e6,
        first_block_s: firstS,
        append_s: appendS,
        writer_cpu_s: writerCpu,
        reader_cpu_s: readerCpu,
        checked: idx.length,
        peer_types: (mirror.peers || []).map(p => p.type),
        reader_memory: procMemory(daemons.r.pid),
        writer_memory: procMemory(daemons.w.pid)
      }
      log(`${size}: ${seconds.toFixed(3)} s, ${(bytes / seconds / 1e6).toFixed(1)} MB/s ` +
        `(writer CPU ${writerCpu.toFixed(2)} s, reader CPU ${readerCpu.toFixed(2)} s; first block ${(firstS * 1000).toFixed(0)} ms)`)
      await core.close().catch(noop)
      await mirror.close().catch(noop)
    }
  } catch (err) {
    problems.push(`${SIDE_LABEL[side]} rep ${rep}: ${err.message}`)
    log('FAILED: ' + err.message)
    res.failed = err.message
  } finally {
    for (const k of Object.keys(clients)) {
      try { await withTimeout(clients[k].close(), 10, 'client close') } catch (_) {}
    }
    for (const k of Object.keys(daemons)) {
      const code = await stopChild(daemons[k])
      res['exit_' + k] = code
      if (o.keep) fs.writeFileSync(path.join(base, tag + '-' + daemons[k].ns + '.log'), daemons[k].out())
      // Whatever the daemon printed besides its start and stop lines (ours: --log-level warn).
      const extra = daemons[k].out().split('\n').filter(l => l.trim() &&
        !/^(Listening on|Running hyperspace|Listening for peers on|Shutting down)/.test(l))
      if (extra.length) {
        res['log_' + k] = extra.slice(-20)
        log(`${k === 'w' ? 'writer' : 'reader'} daemon printed ${extra.length} line(s), last: ${extra[extra.length - 1].slice(0, 200)}`)
      }
      if (code !== 0 && code !== 'SIGTERM' && !res.failed) {
        problems.push(`${SIDE_LABEL[side]} rep ${rep}: ${k === 'w' ? 'writer' : 'reader'} daemon exited with ${code}`)
      }
    }
    if (!o.keep) {
      for (const ns of ['a', 'b']) fs.rmSync(path.join(base, tag + '-' + ns), { recursive: true, force: true })
    }
  }
  return res
}

// --- report ---------------------------------------------------------------------------------------

function printReport (rows) {
  const head = ['case', 'JS', 'ours', 'ours vs JS', 'JS samples', 'ours samples']
  const num = (r, x) => r.unit === 'ms' ? (x * 1000).toFixed(0) : r.unit === 'MB' ? x.toFixed(0) : x.toFixed(1)
  const fmt = (r, x) => x === null || x === undefined ? '-' : num(r, x) + ' ' + r.unit
  const samples = (r, side) => r[side] ? r[side].samples.map(x => num(r, x)).join(' ') : '-'
  const body = rows.map(r => [
    r.label,
    fmt(r, r.js ? r.js.median : null),
    fmt(r, r.hs ? r.hs.median : null),
    r.ratio === null ? '-' : r.ratio.toFixed(2) + 'x',
    samples(r, 'js'),
    samples(r, 'hs')
  ])
  printTable([[head, body]], i => i === 0 || i >= 4)
}

// --- driver ---------------------------------------------------------------------------------------

async function main () {
  const o = parseArgs(process.argv.slice(2))
  if (o.role === 'bootstrap') return dhtBootstrapRole(o.roleHost || '127.0.0.1')
  if (o.role === 'js-daemon') return jsDaemonRole(o)
  if (o.role) throw new Error('unknown role ' + o.role)
  checkNamespace()
  for (const [bin, need] of [[o.hyperspace, o.sideList.includes('hs')], [o.hyp, o.bootstrapImpl === 'hyp']]) {
    if (need && !fs.existsSync(bin)) throw new Error(bin + ' does not exist: build it or pass --hyperspace / --hyp')
  }
  const { base, env, cleanup } = tempBase({ tmp: o.tmp || '/tmp', prefix: 'hssw-', keep: o.keep, daemonEnv: true })

  // Copies of our binaries: a rebuild of build/ during the run cannot mix two versions.
  const binInfo = {}
  if (o.sideList.includes('hs')) {
    const c = privateCopy(o.hyperspace, base)
    o.hyperspaceCopy = c.copy
    binInfo.hyperspace = c.info
  }
  if (o.bootstrapImpl === 'hyp') {
    const c = privateCopy(o.hyp, base)
    o.hypCopy = c.copy
    binInfo.hyp = c.info
  }

  const blocksBySize = {}
  for (const w of o.workloads) blocksBySize[w.blockBytes + 'x' + w.blocks] = makeBlocks(w.blocks, w.blockBytes)

  const loadBefore = os.loadavg()
  const problems = []
  const perSide = {}
  for (const s of o.sideList) perSide[s] = []
  let bootstrap = null
  const net = await setupNetwork()
  process.stderr.write('network: ' + net.describe + '\n')
  try {
    bootstrap = await startBootstrap(o, env)
    process.stderr.write(`bootstrap: ${o.bootstrapImpl === 'hyp' ? 'our hyp dht' : 'JS @hyperswarm/dht 4'} on ${bootstrap.address}\n`)
    // Repetitions alternate between the two pairs (JS, ours, JS, ours, ...): a change in machine
    // load hits both.
    for (let rep = 0; rep < o.warmup + o.reps; rep++) {
      for (const side of o.sideList) {
        perSide[side].push(await runRep(o, net, side, rep, bootstrap.address, base, env, blocksBySize, problems))
      }
    }
    const loadAfter = os.loadavg()

    const rows = []
    const pick = (side, f) => perSide[side].filter(r => !r.warmup).map(f).filter(x => x !== null && x !== undefined)
    const summarize = (side, f, n) => {
      const v = pick(side, f)
      return v.length ? { samples: v, median: median(v), n: v.length } : null
    }
    {
      const row = { case: 'ttfb', label: 'time to first block (1 KiB)', unit: 'ms' }
      for (const s of o.sideList) row[s] = summarize(s, r => r.ttfb ? r.ttfb.seconds : null)
      row.ratio = row.js && row.hs ? row.js.median / row.hs.median : null // times faster
      rows.push(row)
      const row2 = { case: 'ttfb_replicate', label: '  of which reader replicate()', unit: 'ms' }
      for (const s of o.sideList) row2[s] = summarize(s, r => r.ttfb && !r.ttfb.fallback ? r.ttfb.replicate_s : null)
      row2.ratio = row2.js && row2.hs ? row2.js.median / row2.hs.median : null
      rows.push(row2)
    }
    for (const w of o.workloads) {
      const size = w.blockBytes + 'x' + w.blocks
      const label = sizeLabel(w.blockBytes) + ' x ' + w.blocks.toLocaleString('en-US')
      const row = { case: 'download', size, block_bytes: w.blockBytes, blocks: w.blocks, label: 'download ' + label, unit: 'MB/s' }
      for (const s of o.sideList) {
        row[s] = summarize(s, r => r.sizes[size] ? r.sizes[size].mb_per_s : null)
        if (row[s]) {
          const cpu = k => median(pick(s, r => r.sizes[size] ? r.sizes[size][k] : null))
          row[s].writer_cpu_s = cpu('writer_cpu_s')
          row[s].reader_cpu_s = cpu('reader_cpu_s')
          row[s].seconds = median(pick(s, r => r.sizes[size] ? r.sizes[size].seconds : null))
        }
      }
      row.ratio = row.js && row.hs ? row.hs.median / row.js.median : null
      rows.push(row)
      const row2 = { case: 'first_block_connected', size, label: '  first block of it, connected', unit: 'ms' }
      for (const s of o.sideList) row2[s] = summarize(s, r => r.sizes[size] ? r.sizes[size].first_block_s : null)
      row2.ratio = row2.js && row2.hs ? row2.js.median / row2.hs.median : null
      rows.push(row2)
    }

    // Memory: both daemons' peak RSS (VmHWM) after the last download of a repetition.
    for (const k of ['reader', 'writer']) {
      const row = { case: k + '_hwm', label: k + ' daemon peak RSS', unit: 'MB' }
      for (const s of o.sideList) {
        row[s] = summarize(s, r => {
          const last = Object.values(r.sizes).pop()
          return last && last[k + '_memory'] ? last[k + '_memory'].hwm / 1e6 : null
        })
      }
      row.ratio = row.js && row.hs ? row.js.median / row.hs.median : null
      rows.push(row)
    }

    const ver = requireJs('hyperspace/package.json').version
    const cver = requireJs('@hyperspace/client/package.json').version
    console.log(`swarm bench: two hyperspace ${ver} (node ${process.version}) daemons against two of ours ` +
      `(${path.relative(ROOT, o.hyperspace) || o.hyperspace}), driven by @hyperspace/client ${cver}; ` +
      `bootstrap ${o.bootstrapImpl === 'hyp' ? 'our hyp dht' : 'JS @hyperswarm/dht'}; ${net.describe}; ` +
      runText(o, loadBefore, loadAfter))
    printReport(rows)
    for (const r of rows.filter(r => r.case === 'download')) {
      const cpu = s => r[s] ? `${SIDE_LABEL[s]} writer ${(r[s].writer_cpu_s / r[s].seconds * 100).toFixed(0)} % / ` +
        `reader ${(r[s].reader_cpu_s / r[s].seconds * 100).toFixed(0)} % of a core` : ''
      console.log(`daemon CPU during ${r.label}: ${o.sideList.map(cpu).filter(Boolean).join('; ')}`)
    }
    console.log('ours vs JS: MB/s ours / JS for downloads; JS / ours for the first-block (time) and RSS rows (> 1: ours better)')
    printChecks(problems, 'checks: every first block and every downloaded core read back equal to what the writer ' +
      'appended (all blocks in rep 0, a sample after), reader length and downloaded(0, N) = N')
    console.log(JSON.stringify({
      ...jsonHead('swarm', o, loadBefore, loadAfter),
      bootstrap: o.bootstrapImpl,
      network: net.describe,
      binaries: binInfo,
      settle_ms: o.settle,
      checks_ok: problems.length === 0,
      problems,
      rows,
      per_rep: perSide
    }))
    if (problems.length) process.exitCode = 2
  } finally {
    if (bootstrap) await stopChild(bootstrap)
    try { net.holder.stdin.end() } catch (_) {}
    cleanup()
  }
}

// --- child roles ----------------------------------------------------------------------------------

// A JS hyperspace 3.19 server, the options of tests/interop/swarm.test.js (ephemeral DHT node,
// any free port, the given bootstrap only), in its own process.
async function jsDaemonRole (o) {
  const { Server } = requireJs('hyperspace')
  const server = new Server({
    storage: o.roleStorage,
    host: o.roleHost,
    noMigrate: true,
    network: { bootstrap: [o.roleBootstrap], preferredPort: 0, ephemeral: true, announceLocalNetwork: false }
  })
  server.on('client-open', c => c.on('error', noop))
  await server.ready()
  console.log('Listening on ' + path.join(os.tmpdir(), o.roleHost + '.sock'))
  let closing = false
  const stop = async () => {
    if (closing) return
    closing = true
    const timer = setTimeout(() => process.exit(0), 10000)
    try { await server.close() } catch (_) {}
    clearTimeout(timer)
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main().catch(err => {
  process.stderr.write((err && err.stack) || String(err))
  process.stderr.write('\n')
  killAll()
  process.exit(1)
})
