'use strict'

// Many @hyperspace/client clients against one daemon, measuring the daemon's memory from
// /proc/<pid>/status: used by daemon.test.js (a bound on peak memory) and by
// bench/rpc_memory_bench.js (the figures). Linux only.
//
// manyClients({ pid, connect, clients, concurrency, log }) runs three phases:
//   1. connect `clients` clients, each asking for the status once (an RPC session, no core);
//   2. each opens a core of its own (name mem-<i>) and appends one 64-byte block;
//   3. closes every client, then waits until the daemon's client count is back to `base`.
// `connect()` returns a new, not yet ready Client. `clientCount()` (async) returns the daemon's
// number of connected clients. Resolves the figures in kB (as /proc reports them):
//   { before, sessions, cores, peak, after }: VmRSS before phase 1, after 1, after 2, VmHWM at
//   the end of phase 2, VmRSS once every client is gone.

const fs = require('fs')

function procStatus (pid) {
  const text = fs.readFileSync('/proc/' + pid + '/status', 'utf8')
  const field = name => {
    const m = text.match(new RegExp('^' + name + ':\\s+(\\d+) kB', 'm'))
    if (!m) throw new Error('no ' + name + ' in /proc/' + pid + '/status')
    return Number(m[1])
  }
  return { rss: field('VmRSS'), hwm: field('VmHWM') }
}

async function inBatches (items, concurrency, fn) {
  for (let i = 0; i < items.length; i += concurrency) {
    await Promise.all(items.slice(i, i + concurrency).map(fn))
  }
}

function sleep (ms) {
  return new Promise(resolve => setTimeout(resolve, ms))
}

async function manyClients ({ pid, connect, clientCount, clients = 1000, concurrency = 50, log = () => {} }) {
  const indices = Array.from({ length: clients }, (_, i) => i)
  const open = []
  const figures = { clients }
  try {
    const base = await clientCount()
    figures.before = procStatus(pid).rss

    await inBatches(indices, concurrency, async i => {
      const client = connect()
      open[i] = client
      const st = await client.status()
      if (st.apiVersion !== '1.15.1') throw new Error('client ' + i + ': unexpected status ' + JSON.stringify(st))
    })
    const connected = await clientCount()
    if (connected !== base + clients) throw new Error(connected + ' clients connected, expected ' + (base + clients))
    figures.sessions = procStatus(pid).rss
    log('phase 1: ' + clients + ' sessions, VmRSS ' + figures.sessions + ' kB')

    const block = Buffer.alloc(64, 0x61)
    await inBatches(indices, concurrency, async i => {
      const core = open[i].corestore().get({ name: 'mem-' + i })
      await core.append(block)
      if (core.length !== 1) throw new Error('client ' + i + ': core length ' + core.length + ' after one append')
    })
    const st = procStatus(pid)
    figures.cores = st.rss
    log('phase 2: ' + clients + ' cores, VmRSS ' + figures.cores + ' kB')

    await inBatches(indices, concurrency, async i => {
      const c = open[i]
      open[i] = null
      await c.close() // destroys the RPC stream (returns nothing to wait for)
    })
    const deadline = Date.now() + 30000
    while ((await clientCount()) > base) {
      if (Date.now() > deadline) throw new Error('clients still connected 30 s after closing them all')
      await sleep(50)
    }
    await sleep(1500) // sessions release what they held, then the daemon trims the heap (500 ms)
    const end = procStatus(pid)
    figures.peak = end.hwm
    figures.after = end.rss
    log('phase 3: all closed, VmRSS ' + figures.after + ' kB, VmHWM ' + figures.peak + ' kB')
    return figures
  } finally {
    for (const c of open) {
      try { if (c) await c.close() } catch (_) {}
    }
  }
}

module.exports = { manyClients, procStatus }
