'use strict'

// Runs our C++ `hyperspace` daemon (path in HYPERSPACE_BIN) as a black box for the JS client.
// Every daemon gets a unique socket name; the caller sets process.env.TMPDIR once (lib users:
// setTmpdir()) so that the daemon and @hyperspace/client agree on `<os.tmpdir()>/<name>.sock`.

const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawn } = require('child_process')

const { executableFromEnv } = require('./util')

function hyperspaceBin () {
  return executableFromEnv('HYPERSPACE_BIN', 'point it at our C++ hyperspace binary, e.g. ' +
    'HYPERSPACE_BIN=/work/main/build/hyperspace HYP_BIN=/work/main/build/hyp node --test tests/interop/daemon.test.js')
}

// A private temp folder used as TMPDIR by this process, its daemons and its hyp runs.
// (Socket paths must stay under 108 bytes, so keep it short.)
let tmpRoot = null
function setTmpdir () {
  if (tmpRoot) return tmpRoot
  tmpRoot = fs.mkdtempSync(path.join('/tmp', 'hsd-'))
  process.env.TMPDIR = tmpRoot
  return tmpRoot
}

function cleanupTmpdir () {
  if (!tmpRoot) return
  if (process.env.HYP_TEST_KEEP) {
    process.stderr.write('# kept ' + tmpRoot + '\n')
    return
  }
  fs.rmSync(tmpRoot, { recursive: true, force: true })
}

let counter = 0
function uniqueName (label) {
  return 'hs-' + (label || 't') + '-' + process.pid + '-' + (++counter)
}

function socketPath (name) {
  return path.join(os.tmpdir(), name + '.sock')
}

// Starts a daemon. opts: { name, storage, memory, port, host, cacheSize, args[], env, logLevel,
// nofileSoft }.
// Resolves a handle once it prints "Listening on ..."; rejects if it exits first.
function startDaemon (opts = {}) {
  const bin = hyperspaceBin()
  const name = opts.name || (opts.port === undefined ? uniqueName(opts.label) : undefined)
  const args = []
  if (name) args.push('--host', name)
  if (opts.host) args.push('--host', opts.host)
  if (opts.port !== undefined) args.push('--port', String(opts.port))
  if (opts.memory) args.push('--memory-only')
  if (opts.storage) args.push('--storage', opts.storage)
  if (opts.cacheSize !== undefined) args.push('--cache-size', String(opts.cacheSize))
  args.push('--log-level', opts.logLevel || 'debug')
  // Networking stays on loopback: an explicit DHT bootstrap (a dead port unless the test gives
  // one), any free network port, no LAN discovery, unless the test sets opts.network.
  if (opts.network) args.push(...opts.network)
  else args.push('--network-port', '0', '--no-local-discovery', '--bootstrap', '127.0.0.1:9')
  if (opts.args) args.push(...opts.args)
  const env = { ...process.env, ...(opts.env || {}) }
  const stdio = ['ignore', 'pipe', 'pipe']
  // opts.nofileSoft: start it with that soft open-file limit (the shell execs it: same pid).
  const child = opts.nofileSoft
    ? spawn('/bin/sh', ['-c', 'ulimit -Sn ' + Number(opts.nofileSoft) + ' && exec "$0" "$@"', bin, ...args], { stdio, env })
    : spawn(bin, args, { stdio, env })
  const handle = watchDaemon({ name, args, child, port: null }, {
    onListening: h => {
      const tcp = h.endpoint.match(/:(\d+)$/)
      if (opts.port !== undefined && tcp) h.port = Number(tcp[1])
    }
  })
  return handle
}

// Completes the handle { child, args, ... } of a daemon process that was just spawned with its
// stdout and stderr piped: `stdout` and `stderr` collect its output, `exited` resolves
// { code, signal } (also in `exitCode`, `signal`), `listening` resolves the handle once it prints
// "Listening on <endpoint>" (`endpoint`; opts.onListening(handle) runs first) and rejects after
// 15 s or when the daemon exits first (opts.what names it, opts.hint is added to that error).
function watchDaemon (handle, opts = {}) {
  const what = opts.what || 'daemon'
  const child = handle.child
  handle.stdout = ''
  handle.stderr = ''
  handle.exitCode = undefined
  handle.exited = new Promise(resolve => {
    child.on('close', (code, signal) => {
      handle.exitCode = code
      handle.signal = signal
      resolve({ code, signal })
    })
  })
  child.stderr.on('data', d => { handle.stderr += d })
  handle.listening = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(what + ' did not start within 15 s: ' + describe(handle))), 15000)
    child.stdout.on('data', d => {
      handle.stdout += d
      const m = handle.stdout.match(/Listening on (\S+)/)
      if (m) {
        clearTimeout(timer)
        handle.endpoint = m[1]
        if (opts.onListening) opts.onListening(handle)
        resolve(handle)
      }
    })
    handle.exited.then(() => {
      clearTimeout(timer)
      reject(new Error(what + ' exited before listening' + (opts.hint ? ' (' + opts.hint + ')' : '') + ': ' + describe(handle)))
    })
  })
  handle.listening.catch(() => {}) // a daemon expected to refuse is awaited through `exited`
  return handle
}

async function runningDaemon (opts) {
  const d = startDaemon(opts)
  await d.listening
  return d
}

// SIGTERM (or `signal`), then waits for the exit. Resolves { code, signal }.
async function stopDaemon (d, signal = 'SIGTERM') {
  if (d.exitCode !== undefined) return { code: d.exitCode, signal: d.signal }
  d.child.kill(signal)
  const timer = setTimeout(() => d.child.kill('SIGKILL'), 15000)
  const res = await d.exited
  clearTimeout(timer)
  return res
}

// Clients connected now, from the daemon's log (needs --log-level info or lower).
function clientCount (d) {
  const count = re => (d.stderr.match(re) || []).length
  return count(/client \d+ connected \(/g) - count(/client \d+ disconnected: /g)
}

function describe (d) {
  return 'hyperspace ' + d.args.join(' ') + ' (exit ' + d.exitCode + (d.signal ? ', signal ' + d.signal : '') + ')' +
    '\nstdout: ' + d.stdout.slice(-2000) + '\nstderr: ' + d.stderr.slice(-4000)
}

module.exports = {
  hyperspaceBin,
  setTmpdir,
  cleanupTmpdir,
  uniqueName,
  socketPath,
  startDaemon,
  watchDaemon,
  runningDaemon,
  stopDaemon,
  clientCount,
  describe
}
