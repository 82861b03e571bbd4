'use strict'

// Networked daemons for interop tests: our `hyp dht` as the bootstrap node, a JS hyperspace 3.19
// server, and our daemon, all on loopback with LAN discovery off (docs/testing.md). Call
// d.setTmpdir() first.

const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawn } = require('child_process')

const d = require('./daemon')
const { hypBin } = require('./hyp')

// Our persistent DHT node (`hyp dht`), resolved with { address, stop() } once it listens.
function startHypDht () {
  const child = spawn(hypBin(), ['dht', '--host', '127.0.0.1', '--port', '0', '--log-level', 'debug'],
    { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stderr.on('data', b => { err += b })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('hyp dht did not start: ' + out + err)), 10000)
    child.on('exit', code => {
      clearTimeout(timer)
      reject(new Error('hyp dht exited with ' + code + ': ' + out + err))
    })
    child.stdout.on('data', b => {
      out += b
      const m = out.match(/listening on (\d+\.\d+\.\d+\.\d+:\d+)/)
      if (!m) return
      clearTimeout(timer)
      child.removeAllListeners('exit')
      resolve({
        address: m[1],
        async stop () {
          if (child.exitCode !== null) return
          const exited = new Promise(resolve => child.on('exit', resolve))
          child.kill('SIGTERM')
          await exited
        }
      })
    })
  })
}

// A JS hyperspace server on a unique socket name, closed by `cleanup`. Resolves its name.
async function startJsServer (bootstrap, cleanup, label) {
  const { Server } = require('hyperspace')
  const name = d.uniqueName(label)
  const server = new Server({
    storage: fs.mkdtempSync(path.join(os.tmpdir(), 'js-')),
    host: name,
    noMigrate: true,
    network: { bootstrap: [bootstrap], preferredPort: 0, ephemeral: true, announceLocalNetwork: false }
  })
  server.on('client-open', c => c.on('error', () => {}))
  await server.ready()
  cleanup.push(() => server.close())
  return name
}

// Our daemon on the network (opts.bind: the address its peer sockets bind, 127.0.0.2 when a JS
// hyperspace must accept it), stopped cleanly by `cleanup`.
async function startOurDaemon (bootstrap, cleanup, opts = {}) {
  const network = ['--network-port', '0', '--no-local-discovery', '--bootstrap', bootstrap]
  if (opts.bind) network.push('--bind-address', opts.bind)
  const daemon = await d.runningDaemon({
    label: opts.label || 'net',
    storage: fs.mkdtempSync(path.join(os.tmpdir(), 'st-')),
    network
  })
  cleanup.push(async () => {
    const res = await d.stopDaemon(daemon)
    if (res.code !== 0) throw new Error('daemon did not stop cleanly: ' + d.describe(daemon))
  })
  return daemon
}

module.exports = { startHypDht, startJsServer, startOurDaemon }
