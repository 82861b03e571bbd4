'use strict'

// Helpers shared by the tests that drive daemons through @hyperspace/client (daemon.test.js,
// daemon_tcp.test.js, swarm.test.js, faults.test.js). Call d.setTmpdir() before using them.

const assert = require('node:assert/strict')
const net = require('net')

const d = require('./daemon')
const { runHyp, describeRun } = require('./hyp')

// A client on `daemon` (UNIX socket by name, or TCP by port), closed by the test's cleanup list.
function connect (daemon, cleanup, opts = {}) {
  const Client = require('@hyperspace/client')
  const client = new Client(daemon.port ? { port: daemon.port, host: opts.host } : { host: daemon.name })
  cleanup.push(async () => { try { await client.close() } catch (_) {} })
  return client
}

// A JS hyperspace 3.19 server on the DHT of `bootstrap` (HOST:PORT; no LAN discovery, any free
// port, fresh storage in the temp folder) and a client of it, both closed by the cleanup list.
async function jsServerClient (bootstrap, cleanup, label) {
  const { startJsServer } = require('./network')
  const name = await startJsServer(bootstrap, cleanup, label)
  return connect({ name }, cleanup)
}

// Runs fn(cleanup) and then every registered cleanup, newest first, even when fn fails.
async function withCleanup (fn) {
  const cleanup = []
  try {
    return await fn(cleanup)
  } finally {
    for (const c of cleanup.reverse()) await c()
  }
}

function daemonCleanup (cleanup, daemon) {
  cleanup.push(async () => { await d.stopDaemon(daemon) })
  return daemon
}

async function hypJson (args) {
  const res = await runHyp(args, { timeout: 30000 })
  assert.equal(res.code, 0, describeRun(res))
  return JSON.parse(res.stdout.toString())
}

async function waitUntil (fn, timeout = 10000) {
  const deadline = Date.now() + timeout
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('condition not met within ' + timeout + ' ms: ' + fn.toString())
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

// Whether this host has ::1 (false where IPv6 is disabled).
async function ipv6Loopback () {
  const server = net.createServer()
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host: '::1', port: 0, ipv6Only: true }, resolve)
    })
    return true
  } catch (_) {
    return false
  } finally {
    server.close()
  }
}

module.exports = { connect, jsServerClient, withCleanup, daemonCleanup, hypJson, waitUntil, ipv6Loopback }
