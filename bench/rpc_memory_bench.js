'use strict'

// RPC memory measurement: N @hyperspace/client clients connect to one of our `hyperspace`
// daemons, each asks for the status, then opens a core of its own and appends one block; then
// all disconnect. Prints the daemon's VmRSS after each phase, its peak (VmHWM) and the RSS once
// every client is gone, then one JSON line. See bench/README.md ("RPC memory").
//
//   node bench/rpc_memory_bench.js [--hyperspace build/hyperspace] [--clients 1000]
//                                  [--storage] [--tcp] [--concurrency 50] [--cache-size N]
//
// --storage: cores on disk in a temp folder (default: --memory-only). --tcp: clients connect
// over TCP on 127.0.0.1 (default: the UNIX socket). No network traffic leaves the machine (the
// daemon's DHT bootstrap is a dead loopback port), but run it in a loopback-only namespace like
// every other benchmark. --cache-size is the daemon's (default 1000: the cores stay open, in
// memory, after their clients leave; 0 closes them, so the RSS after shows what the sessions
// and cores gave back).

const path = require('path')
const { ROOT, interopDir, requireJs, parseFlags } = require('./lib/common')

function parseArgs (argv) {
  const o = parseFlags(argv, {
    hyperspace: process.env.HYPERSPACE_BIN || path.join(ROOT, 'build', 'hyperspace'),
    clients: 1000,
    concurrency: 50,
    storage: false,
    tcp: false,
    cacheSize: null
  }, { '--cache-size': ['cacheSize', Number] }, __filename)
  if (!(o.clients > 0) || !(o.concurrency > 0)) throw new Error('--clients and --concurrency must be positive')
  return o
}

async function main () {
  const o = parseArgs(process.argv.slice(2))
  process.env.HYPERSPACE_BIN = path.resolve(o.hyperspace)
  const d = require(path.join(interopDir, 'lib', 'daemon'))
  const { manyClients } = require(path.join(interopDir, 'lib', 'many_clients'))
  const tmp = d.setTmpdir()
  const Client = requireJs('@hyperspace/client')
  const fs = require('fs')
  const opts = { logLevel: 'info', label: 'mem' }
  if (o.tcp) opts.port = 0
  if (o.cacheSize !== null) opts.cacheSize = o.cacheSize
  if (o.storage) opts.storage = fs.mkdtempSync(path.join(tmp, 'storage-'))
  else opts.memory = true
  const daemon = await d.runningDaemon(opts)
  try {
    const connect = () => new Client(o.tcp ? { host: '127.0.0.1', port: daemon.port } : { host: daemon.name })
    const figures = await manyClients({
      pid: daemon.child.pid,
      connect,
      clientCount: async () => d.clientCount(daemon),
      clients: o.clients,
      concurrency: o.concurrency,
      log: line => console.error('# ' + line)
    })
    const mb = kb => (kb / 1024).toFixed(1) + ' MiB'
    const perSession = Math.round((figures.sessions - figures.before) * 1024 / o.clients)
    const perClient = Math.round((figures.cores - figures.before) * 1024 / o.clients)
    console.log('daemon ' + o.hyperspace + ', ' + o.clients + ' clients over ' + (o.tcp ? 'TCP' : 'the UNIX socket') +
      ', cores ' + (o.storage ? 'on disk' : 'in memory') +
      (o.cacheSize !== null ? ', --cache-size ' + o.cacheSize : ''))
    console.log('  VmRSS before                 ' + mb(figures.before))
    console.log('  VmRSS, clients connected     ' + mb(figures.sessions) + '  (' + perSession + ' bytes per session)')
    console.log('  VmRSS, one core each         ' + mb(figures.cores) + '  (' + perClient + ' bytes per client with its core)')
    console.log('  VmHWM (peak)                 ' + mb(figures.peak))
    console.log('  VmRSS after all disconnected ' + mb(figures.after))
    console.log(JSON.stringify({ ...figures, perSessionBytes: perSession, perClientBytes: perClient, storage: o.storage, tcp: o.tcp, cacheSize: o.cacheSize }))
  } finally {
    await d.stopDaemon(daemon)
    d.cleanupTmpdir()
  }
}

main().catch(err => {
  console.error(err.stack || err)
  process.exit(1)
})
