'use strict'

// LAN discovery in the daemon (reference §4.6): two of our daemons with mDNS on and no reachable
// DHT find each other and replicate; with both the DHT and mDNS they find each other by two
// routes and keep one connection. Needs its own loopback-only namespace with a multicast route:
//
//   unshare -n sh -c 'ip link set lo up && ip link set lo multicast on &&
//     ip route add 224.0.0.0/4 dev lo src 127.0.0.1 &&
//     exec env HYPERSPACE_BIN=build/hyperspace HYP_BIN=build/hyp node --test tests/interop/swarm_lan.test.js'
//
// Not registered in ctest yet: it passed every manual run, but hung once in a fresh-clone CI run
// (a get that never resolved); until that is understood it stays out of CI. The mDNS layer
// itself is covered in CI by mdns_test and interop_mdns.

const { describe, it, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawn } = require('child_process')

const d = require('./lib/daemon')

d.hyperspaceBin()
const TMP = d.setTmpdir()
const Client = require('@hyperspace/client')

after(d.cleanupTmpdir)

const T = { timeout: 120000 }

// Refuse to run anywhere but in an isolated namespace: mDNS would otherwise reach the LAN.
const ifaces = Object.keys(os.networkInterfaces())
if (ifaces.some(n => n !== 'lo')) {
  throw new Error('swarm_lan.test.js must run in a loopback-only network namespace (found ' + ifaces.join(', ') + ')')
}

async function ourDaemon (cleanup, label, network) {
  const daemon = await d.runningDaemon({ label, storage: fs.mkdtempSync(path.join(TMP, 'st-')), network })
  cleanup.push(async () => {
    const res = await d.stopDaemon(daemon)
    if (res.code !== 0) throw new Error('daemon did not stop cleanly: ' + d.describe(daemon))
  })
  return daemon
}

function connect (daemon, cleanup) {
  const client = new Client({ host: daemon.name })
  cleanup.push(async () => { try { await client.close() } catch (_) {} })
  return client
}

async function withCleanup (fn) {
  const cleanup = []
  try {
    await fn(cleanup)
  } finally {
    for (const c of cleanup.reverse()) await c()
  }
}

async function eventually (fn, ms, what) {
  const end = Date.now() + ms
  let last
  for (;;) {
    try { return await fn() } catch (err) { last = err }
    if (Date.now() > end) throw new Error(what + ' not met within ' + ms + ' ms: ' + (last && last.message))
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

function startHypDht () {
  const child = spawn(path.resolve(process.env.HYP_BIN), ['dht', '--host', '127.0.0.1', '--port', '0'],
    { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  return new Promise((resolve, reject) => {
    child.on('exit', code => reject(new Error('hyp dht exited with ' + code)))
    child.stdout.on('data', b => {
      out += b
      const m = out.match(/listening on (\d+\.\d+\.\d+\.\d+:\d+)/)
      if (!m) return
      child.removeAllListeners('exit')
      resolve({ address: m[1], stop: () => new Promise(resolve => { child.on('exit', resolve); child.kill('SIGTERM') }) })
    })
  })
}

async function replicateAndRead (ca, cb) {
  const core = ca.corestore().get()
  await core.ready()
  await core.append(Buffer.from('over the lan'))
  await ca.replicate(core)
  const mirror = cb.corestore().get(core.key)
  await mirror.ready()
  await cb.replicate(mirror)
  await eventually(async () => {
    assert.equal((await mirror.get(0)).toString(), 'over the lan')
  }, 30000, 'the reader gets the block')
  return { core, mirror }
}

describe('LAN discovery (mDNS)', () => {
  it('two daemons with no reachable DHT find each other by mDNS', T, async () => {
    await withCleanup(async cleanup => {
      const network = ['--network-port', '0', '--bootstrap', '127.0.0.1:9']
      const a = await ourDaemon(cleanup, 'lan-a', network)
      const b = await ourDaemon(cleanup, 'lan-b', network)
      await replicateAndRead(connect(a, cleanup), connect(b, cleanup))
    })
  })

  it('found by the DHT and by mDNS, they keep one connection', T, async () => {
    const boot = await startHypDht()
    await withCleanup(async cleanup => {
      cleanup.push(() => boot.stop())
      const network = ['--network-port', '0', '--bootstrap', boot.address]
      const a = await ourDaemon(cleanup, 'two-a', network)
      const b = await ourDaemon(cleanup, 'two-b', network)
      const ca = connect(a, cleanup)
      const cb = connect(b, cleanup)
      await replicateAndRead(ca, cb)
      await new Promise(resolve => setTimeout(resolve, 3000))
      await ca.network.ready()
      await cb.network.ready()
      assert.equal(ca.network.peers.length, 1)
      assert.equal(cb.network.peers.length, 1)
    })
  })

  it('--no-local-discovery keeps a daemon off the LAN', T, async () => {
    await withCleanup(async cleanup => {
      const a = await ourDaemon(cleanup, 'off-a', ['--network-port', '0', '--bootstrap', '127.0.0.1:9'])
      const b = await ourDaemon(cleanup, 'off-b', ['--network-port', '0', '--bootstrap', '127.0.0.1:9', '--no-local-discovery'])
      const ca = connect(a, cleanup)
      const cb = connect(b, cleanup)
      const core = ca.corestore().get()
      await core.ready()
      await core.append(Buffer.from('x'))
      await ca.replicate(core)
      const mirror = cb.corestore().get(core.key)
      await mirror.ready()
      await cb.replicate(mirror)
      await assert.rejects(mirror.get(0), /Block not available from peers/)
    })
  })
})
