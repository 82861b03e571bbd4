'use strict'

// UDX throughput and CPU per MB (bench/README.md "UDX"): ours <-> ours (tests/interop/udx_peer.cpp
// twice) against udx-native <-> udx-native (bench/udx_native_peer.js twice), one stream, one side
// writing --total bytes, on loopback: clean, and through the lossy relay of the interop tests
// (tests/interop/udx_relay.js: 1 % loss, 20 ms delay each way). Every byte is checked and hashed
// by the receiver. Prints one line per run and the ratios (ours / udx-native) of the medians.
//   node bench/udx_bench.js --bin build/tests/udx_peer [--total BYTES] [--lossy-total BYTES] [--reps N]
//                           [--only clean|lossy]

const dgram = require('dgram')
const path = require('path')
const { startJsonPeer } = require('../tests/interop/lib/json_peer')
const { LossyRelay } = require('../tests/interop/udx_relay')

const args = process.argv.slice(2)
const opt = (name, dflt) => { const i = args.indexOf(name); return i === -1 ? dflt : args[i + 1] }
const BIN = opt('--bin')
const TOTAL = Number(opt('--total', 200e6))
const LOSSY_TOTAL = Number(opt('--lossy-total', 4e6))
const REPS = Number(opt('--reps', 3))
const ONLY = opt('--only', null) // 'clean' or 'lossy': run one part
const NATIVE = path.join(__dirname, 'udx_native_peer.js')

async function freePort () {
  const s = dgram.createSocket('udp4')
  await new Promise((resolve) => s.bind(0, '127.0.0.1', resolve))
  const p = s.address().port
  await new Promise((resolve) => s.close(resolve))
  return p
}

function start (kind, argv) {
  return kind === 'ours'
    ? startJsonPeer(BIN, argv, { stdin: 'pipe', waitMs: 600000 })
    : startJsonPeer(process.execPath, [NATIVE, ...argv], { stdin: 'pipe', waitMs: 600000 })
}

async function once (kind, total, lossy) {
  const pa = await freePort()
  const pb = await freePort()
  let aTarget = pb
  let bTarget = pa
  let relay = null
  if (lossy) {
    relay = new LossyRelay({ seed: 7, loss: 0.01, delayMs: 20 })
    const r = await relay.start(pa)
    bTarget = r.ourSide
    aTarget = r.setOurPort(pb)
  }
  const a = start(kind, ['--local-id', '1', '--remote-id', '2', '--port', String(pa), '--remote-port', String(aTarget), '--send', String(total)])
  const b = start(kind, ['--local-id', '2', '--remote-id', '1', '--port', String(pb), '--remote-port', String(bTarget), '--send', '0'])
  await a.waitFor((l) => l.event === 'listening')
  await b.waitFor((l) => l.event === 'listening')
  b.child.stdin.write('go\n')
  a.child.stdin.write('go\n')
  const [ra, rb] = await Promise.all([a, b].map((p) => p.waitFor((l) => l.event === 'all-done')))
  const done = b.lines.find((l) => l.event === 'done')
  const sent = a.lines.find((l) => l.event === 'done')
  a.kill(); b.kill()
  if (relay) await relay.close()
  if (!done || done.received !== total || !done.ok) throw new Error(`${kind}: the receiver got ${done && done.received} of ${total} bytes (ok ${done && done.ok})\n` + b.describe())
  const ms = Math.max(ra.ms, rb.ms)
  const mb = total / 1e6
  // Our peer also tells the sender's retransmissions and RTO expiries.
  const extra = sent && sent.retransmits !== undefined
    ? `, sender ${sent.retransmits} retransmits (${sent.fast_losses} found by acks, ${sent.tail_probes} tail probes), ` +
      `${sent.timeouts} timeouts; receiver ${done.duplicate_data} duplicates, ${done.dropped_data} dropped` + (relay ? `; relay ${JSON.stringify(relay.stats)}` : '')
    : ''
  return { mbps: mb / (ms / 1000), cpuPerMb: (ra.cpu_ms + rb.cpu_ms) / mb, sender: ra.cpu_ms / mb, receiver: rb.cpu_ms / mb, extra }
}

const median = (xs) => { const s = xs.slice().sort((x, y) => x - y); return s[Math.floor(s.length / 2)] }

async function main () {
  if (!BIN) throw new Error('--bin must name build/tests/udx_peer')
  for (const lossy of [false, true]) {
    if (ONLY && ONLY !== (lossy ? 'lossy' : 'clean')) continue
    const total = lossy ? LOSSY_TOTAL : TOTAL
    const res = {}
    for (const kind of ['ours', 'udx-native']) {
      const runs = []
      for (let i = 0; i < REPS; i++) {
        const r = await once(kind, total, lossy)
        runs.push(r)
        console.log(`${lossy ? 'lossy (1% loss, 20 ms)' : 'clean'} ${kind} ${total} B: ${r.mbps.toFixed(1)} MB/s, ` +
          `CPU ${r.cpuPerMb.toFixed(2)} ms/MB (sender ${r.sender.toFixed(2)}, receiver ${r.receiver.toFixed(2)})${r.extra}`)
      }
      res[kind] = { mbps: median(runs.map((r) => r.mbps)), cpu: median(runs.map((r) => r.cpuPerMb)) }
    }
    const o = res.ours
    const n = res['udx-native']
    console.log(`== ${lossy ? 'lossy' : 'clean'}: ours ${o.mbps.toFixed(1)} MB/s, ${o.cpu.toFixed(2)} ms CPU/MB; ` +
      `udx-native ${n.mbps.toFixed(1)} MB/s, ${n.cpu.toFixed(2)} ms CPU/MB; throughput ratio ${(o.mbps / n.mbps).toFixed(2)}x, ` +
      `CPU/MB ratio ${(o.cpu / n.cpu).toFixed(2)}x`)
  }
}

main().catch((e) => { console.error(e); process.exit(1) })
