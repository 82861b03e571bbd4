'use strict'

// secret-stream throughput over loopback TCP, ours <-> ours against JS <-> JS
// (@hyperswarm/secret-stream 6.9.2), 1 KiB and 64 KiB messages, as ratios in one run, with CPU
// per MB and how close ours comes to one core's XChaCha20-Poly1305 secretstream (bench/README.md
// "secret-stream"). Options:
//   --bin PATH      our driver (default build/bench/hs_secret_stream_bench)
//   --total BYTES   bytes per run (default 268435456 = 256 MiB; JS at 1 KiB gets a quarter)
//   --reps N        runs per case, the median is shown (default 3)
// Timings are never asserted; the exit status is 2 only when a run lost or corrupted data.

const path = require('path')
const net = require('net')
const { execFileSync } = require('child_process')
const c = require('./lib/common')

const o = c.parseFlags(process.argv.slice(2), {
  bin: path.join(c.ROOT, 'build', 'bench', 'hs_secret_stream_bench'),
  total: 256 * 1024 * 1024,
  reps: 3
}, {}, __filename)

const SecretStream = c.requireJs('@hyperswarm/secret-stream')

// JS <-> JS in this process: one sender, one receiver, over a loopback socket.
function jsRun (size, total) {
  return new Promise((resolve, reject) => {
    let received = 0
    const server = net.createServer(socket => {
      const rx = new SecretStream(false, socket)
      rx.on('data', d => { received += d.byteLength })
      rx.on('end', () => rx.end())
      rx.on('error', reject)
    })
    server.listen(0, '127.0.0.1', async () => {
      const cpu0 = c.selfCpu()
      const t0 = c.now()
      const tx = new SecretStream(true, net.connect(server.address().port, '127.0.0.1'))
      tx.on('error', reject)
      tx.on('close', () => {
        const secs = c.secondsSince(t0)
        const cpu = c.selfCpu() - cpu0
        server.close()
        const mb = received / 1e6
        resolve({ bytes: received, ok: received === Math.ceil(total / size) * size, mb_per_s: mb / secs, cpu_ms_per_mb: 1000 * cpu / mb })
      })
      const message = Buffer.alloc(size, 0x5a)
      for (let sent = 0; sent < total; sent += size) {
        if (!tx.write(message)) await new Promise(resolve => tx.once('drain', resolve))
      }
      tx.end()
    })
  })
}

function oursRun (mode, size, total) {
  const out = execFileSync(o.bin, ['--mode', mode, '--size', String(size), '--total', String(total)], { encoding: 'utf8' })
  return JSON.parse(out.trim().split('\n').pop())
}

async function main () {
  const sections = []
  const samples = []
  let failed = false
  const head = ['message', 'stack', 'MB/s', 'CPU ms/MB', 'ours / JS', 'of the floor']
  const rows = []
  for (const size of [1024, 65536]) {
    const jsTotal = size < 4096 ? Math.floor(o.total / 4) : o.total
    const runs = { js: [], ours: [], floor: [] }
    for (let r = 0; r < o.reps; r++) {
      runs.js.push(await jsRun(size, jsTotal))
      runs.ours.push(oursRun('tcp', size, o.total))
      runs.floor.push(oursRun('floor', size, o.total))
    }
    for (const [k, v] of Object.entries(runs)) {
      for (const s of v) {
        samples.push({ stack: k, size, ...s })
        if (!s.ok) failed = true
      }
    }
    const med = k => ({ mbs: c.median(runs[k].map(s => s.mb_per_s)), cpu: c.median(runs[k].map(s => s.cpu_ms_per_mb)) })
    const js = med('js')
    const ours = med('ours')
    const floor = med('floor')
    rows.push([c.sizeLabel(size), 'JS <-> JS', c.fmtNum(js.mbs), js.cpu.toFixed(2), '', ''])
    rows.push([c.sizeLabel(size), 'ours <-> ours', c.fmtNum(ours.mbs), ours.cpu.toFixed(2),
      (ours.mbs / js.mbs).toFixed(2) + 'x', (100 * ours.mbs / floor.mbs).toFixed(0) + ' %'])
    rows.push([c.sizeLabel(size), 'floor: push + pull, one core', c.fmtNum(floor.mbs), floor.cpu.toFixed(2), '', ''])
  }
  sections.push([head, rows])
  c.printTable(sections, i => i < 2)
  console.log('(ours / JS: throughput ratio; of the floor: our throughput against one core encrypting and ' +
    'decrypting every byte once, which both ends together must do)')
  console.log(JSON.stringify({ bench: 'secret_stream', total: o.total, reps: o.reps, samples }))
  if (failed) {
    console.error('secret_stream_bench: a run lost or corrupted data')
    process.exit(2)
  }
}

main().catch(err => { console.error(err); process.exit(1) })
