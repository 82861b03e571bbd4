'use strict'

// A JS hypercore 9.12.0 replication peer over plain TCP on loopback, for the `hyp replicate`
// interop tests (docs/behaviour/replication.md). It replicates one core with
// `feed.replicate(isInitiator, {live: true})` piped to a socket, exactly like a hypercore 9 app
// does without the Hyperspace networker (so the 127.0.0.1 rule of docs/testing.md "Addresses" does
// not apply here).
//
// Used in-process by replicate.test.js, and runnable on its own to reproduce a failure by hand
// (see the usage text at the end of this file, or `node tests/interop/lib/jspeer.js --help`).
//
// Network: listeners bind 127.0.0.1 (or the host given, which must be a loopback address) and
// outgoing sockets bind 127.0.0.1 as their source; anything else is refused.

const net = require('net')
const path = require('path')
const fs = require('fs')
const hypercore = require('hypercore')
const ram = require('random-access-memory')
const js = require('./jsstore')

function isLoopback (host) {
  return typeof host === 'string' && /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

function assertLoopback (host, what) {
  if (!isLoopback(host)) throw new Error(what + ' must be an explicit 127.0.0.0/8 address, got ' + JSON.stringify(host))
}

function parseHostPort (s) {
  const m = /^(.*):(\d+)$/.exec(String(s))
  if (!m) throw new Error('expected HOST:PORT, got ' + JSON.stringify(s))
  return { host: m[1], port: Number(m[2]) }
}

function keyHex (key) {
  if (Buffer.isBuffer(key)) return key.toString('hex')
  const s = String(key)
  return s.startsWith('hyper://') ? s.slice(8).replace(/\/$/, '') : s
}

// ---------------------------------------------------------------------------------------------
// opening a core

// Opens one JS hypercore 9.
//   kind 'corestore' (default): in a corestore 5 folder opened the way Hyperspace opens it
//        (lib/jsstore.js openStore: hypercore-default-storage, bitfield flock'ed); by `name`
//        (writable, created if missing) or by `key` (a replica).
//   kind 'plain': `hypercore(dir, key)`.
//   kind 'ram': `hypercore(random-access-memory, key)`.
// opts.sparse: default false (a non-sparse feed downloads everything, live, by itself).
// Resolves { feed, store, close() }.
async function openCore (opts = {}) {
  const kind = opts.kind || 'corestore'
  const sparse = !!opts.sparse
  const key = opts.key ? Buffer.from(keyHex(opts.key), 'hex') : null
  if (kind === 'corestore') {
    if (!opts.dir) throw new Error('openCore: corestore needs dir')
    const store = await js.openStore(opts.dir)
    const feed = key ? store.get({ key, sparse }) : store.get({ name: opts.name || 'jspeer', sparse })
    await js.ready(feed)
    return { feed, store, close: () => js.closeStore(store) }
  }
  let storage
  if (kind === 'plain') {
    if (!opts.dir) throw new Error('openCore: plain needs dir')
    storage = opts.dir
  } else if (kind === 'ram') {
    storage = ram
  } else {
    throw new Error('openCore: unknown kind ' + kind)
  }
  const feed = key ? hypercore(storage, key, { sparse }) : hypercore(storage, { sparse })
  await js.ready(feed)
  return { feed, store: null, close: () => js.toPromise(cb => feed.close(cb)) }
}

// ---------------------------------------------------------------------------------------------
// connections

// Every listener and connection made here, so a test runner can tear everything down even after
// a test timed out (closeAll).
const live = { servers: new Set(), conns: new Set() }

async function closeAll () {
  const servers = [...live.servers]
  const conns = [...live.conns]
  live.servers.clear()
  live.conns.clear()
  for (const s of servers) s.close()
  await Promise.all(conns.map(c => (typeof c.destroy === 'function' ? c.destroy() : null)))
}

// One replication stream over one socket. Records what happened on it.
class Conn {
  constructor (feed, socket, initiator, opts = {}) {
    this.feed = feed
    this.socket = socket
    this.initiator = initiator
    this.errors = []
    this.socketErrors = []
    this.remoteAddress = null
    this.remotePort = null
    this.localAddress = null
    this.localPort = null
    this.peerOpen = false
    this.downloads = 0 // blocks JS received on this connection
    this.uploads = 0 // blocks JS sent on this connection
    this.closedAt = null
    // opts.store: replicate the whole corestore on this stream, as Hyperspace does per connection
    // (`store.replicate(isInitiator, {live: true})`: every open core, and remote Opens of cores the
    // store lacks are answered with Close{discoveryKey}).
    this.stream = opts.store
      ? opts.store.replicate(initiator, { live: true })
      : feed.replicate(initiator, { live: true, ...(opts.replicateOpts || {}) })
    live.conns.add(this)
    this.stream.on('error', err => this.errors.push(err.message))
    socket.on('error', err => this.socketErrors.push(err.code || err.message))
    this._onDownload = (index, data, peer) => { if (peer && peer.stream && peer.stream.stream === this.stream) this.downloads++ }
    this._onUpload = (index, data, peer) => { if (peer && peer.stream && peer.stream.stream === this.stream) this.uploads++ }
    this._onPeerOpen = peer => { if (peer && peer.stream && peer.stream.stream === this.stream) this.peerOpen = true }
    feed.on('download', this._onDownload)
    feed.on('upload', this._onUpload)
    feed.on('peer-open', this._onPeerOpen)
    this.closed = new Promise(resolve => {
      let n = 2
      const done = () => {
        if (--n > 0) return
        this.closedAt = Date.now()
        live.conns.delete(this)
        feed.removeListener('download', this._onDownload)
        feed.removeListener('upload', this._onUpload)
        feed.removeListener('peer-open', this._onPeerOpen)
        resolve()
      }
      socket.once('close', done)
      this.stream.once('close', done)
    })
    // Whichever side goes away first takes the other with it.
    socket.once('close', () => this.stream.destroy())
    this.stream.once('close', () => socket.destroy())
    socket.pipe(this.stream).pipe(socket)
  }

  _addresses () {
    this.remoteAddress = this.socket.remoteAddress
    this.remotePort = this.socket.remotePort
    this.localAddress = this.socket.localAddress
    this.localPort = this.socket.localPort
  }

  get isClosed () { return this.closedAt !== null }

  destroy () {
    this.stream.destroy()
    this.socket.destroy()
    return this.closed
  }

  describe () {
    return 'JS conn ' + (this.initiator ? 'initiator' : 'responder') +
      ' local ' + this.localAddress + ':' + this.localPort + ' remote ' + this.remoteAddress + ':' + this.remotePort +
      ' peerOpen=' + this.peerOpen + ' downloads=' + this.downloads + ' uploads=' + this.uploads +
      ' closed=' + this.isClosed + ' streamErrors=' + JSON.stringify(this.errors) + ' socketErrors=' + JSON.stringify(this.socketErrors)
  }
}

// JS responder: `net.createServer(s => s.pipe(feed.replicate(false, {live: true})).pipe(s))`.
// Resolves { host, port, conns, close() }. close() stops listening and destroys every connection.
function listen (feed, opts = {}) {
  const host = opts.host || '127.0.0.1'
  assertLoopback(host, 'listen host')
  const conns = []
  const server = net.createServer(socket => {
    if (!live.servers.has(server)) return socket.destroy()
    const c = new Conn(feed, socket, false, opts)
    c._addresses()
    conns.push(c)
    if (opts.onConnection) opts.onConnection(c)
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port || 0, host, () => {
      server.removeListener('error', reject)
      live.servers.add(server)
      const port = server.address().port
      resolve({
        host,
        port,
        conns,
        server,
        close: () => new Promise(resolve => {
          live.servers.delete(server)
          server.close(() => resolve())
          for (const c of conns) c.destroy()
        })
      })
    })
  })
}

// JS initiator: `net.connect({host, port, localAddress: '127.0.0.1'})` piped to
// `feed.replicate(true, {live: true})`. Resolves the Conn once the TCP connection is up; rejects if
// it cannot connect.
function connect (feed, opts) {
  const host = opts.host
  const localAddress = opts.localAddress || '127.0.0.1'
  assertLoopback(host, 'connect host')
  assertLoopback(localAddress, 'connect localAddress')
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port: opts.port, localAddress })
    const onErr = err => reject(err)
    socket.once('error', onErr)
    socket.once('connect', () => {
      socket.removeListener('error', onErr)
      const c = new Conn(feed, socket, true, opts)
      c._addresses()
      resolve(c)
    })
  })
}

// A JS initiator that keeps dialing `target()` ({host, port} or null = wait) and redials after every
// disconnect or failed dial, every `retryMs`. Returns { conns, attempts, stop() }.
function redial (feed, target, opts = {}) {
  const retryMs = opts.retryMs || 100
  const state = { conns: [], attempts: 0, failures: [], stopped: false, current: null }
  let timer = null
  const schedule = () => {
    if (state.stopped) return
    timer = setTimeout(attempt, retryMs)
  }
  const attempt = async () => {
    timer = null
    if (state.stopped) return
    const t = target()
    if (!t) return schedule()
    state.attempts++
    let c
    try {
      c = await connect(feed, { ...opts, host: t.host, port: t.port })
    } catch (err) {
      state.failures.push(err.code || err.message)
      return schedule()
    }
    if (state.stopped) { c.destroy(); return }
    state.conns.push(c)
    state.current = c
    await c.closed
    if (state.current === c) state.current = null
    schedule()
  }
  attempt()
  const stopper = { destroy: () => state.stop() }
  live.conns.add(stopper)
  state.stop = async () => {
    live.conns.delete(stopper)
    state.stopped = true
    if (timer) clearTimeout(timer)
    await Promise.all(state.conns.map(c => c.destroy()))
  }
  return state
}

// ---------------------------------------------------------------------------------------------
// misbehaving peers (raw TCP, no hypercore)

// A listener whose every connection is handed to `onSocket(socket)`, which may write anything.
// Records what the remote sent. Resolves { host, port, sockets, received(), close() }.
function rawListen (onSocket, opts = {}) {
  const host = opts.host || '127.0.0.1'
  assertLoopback(host, 'listen host')
  const sockets = []
  let received = 0
  const server = net.createServer(socket => {
    if (!live.servers.has(server)) return socket.destroy()
    sockets.push(socket)
    live.conns.add(socket)
    socket.once('close', () => live.conns.delete(socket))
    socket.on('error', () => {})
    socket.on('data', d => { received += d.length })
    onSocket(socket)
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port || 0, host, () => {
      server.removeListener('error', reject)
      live.servers.add(server)
      resolve({
        host,
        port: server.address().port,
        sockets,
        received: () => received,
        close: () => new Promise(resolve => {
          live.servers.delete(server)
          server.close(() => resolve())
          for (const s of sockets) s.destroy()
        })
      })
    })
  })
}

// Keeps writing `chunk`-sized pseudo-random garbage (from `bytes(n)`) to the socket, each chunk
// `intervalMs` after the previous one was flushed, until it closes or `total` bytes were written;
// never closes it itself. Returns a function giving the bytes written so far.
function spewGarbage (socket, bytes, { chunk = 65536, total = 8 * 1024 * 1024, intervalMs = 0 } = {}) {
  let sent = 0
  const tick = () => {
    if (socket.destroyed || sent >= total) return
    const buf = bytes(Math.min(chunk, total - sent))
    sent += buf.length
    socket.write(buf, err => { if (!err) setTimeout(tick, intervalMs) })
  }
  tick()
  return () => sent
}

// Completes a real Noise XX handshake on `socket` as a hypercore-protocol 8 responder (or
// initiator), then stops speaking the protocol and spews garbage on the raw socket (after the
// handshake the transport is a bare XSalsa20 stream: the receiver decrypts the garbage to random
// frames). Resolves { handshook: promise, sent() }.
function handshakeThenGarbage (socket, bytes, opts = {}) {
  const Protocol = require('hypercore-protocol')
  const stream = new Protocol(!!opts.initiator, { live: true, timeout: false })
  stream.on('error', () => {})
  let sent = () => 0
  // Wired by hand (not pipe) so the protocol can be cut off from the socket after the handshake.
  const toStream = d => stream.write(d)
  const toSocket = d => socket.write(d)
  socket.on('data', toStream)
  stream.on('data', toSocket)
  const handshook = new Promise(resolve => {
    stream.once('handshake', () => {
      socket.removeListener('data', toStream)
      stream.removeListener('data', toSocket)
      stream.destroy()
      sent = spewGarbage(socket, bytes, opts)
      resolve(true)
    })
    socket.once('close', () => { stream.destroy(); resolve(false) })
  })
  return { handshook, sent: () => sent() }
}

// Makes `feed` serve a wrong value for block `index` (same length, flipped bytes), while its
// proofs and signatures stay the real ones: the receiver's merkle check must reject it.
function tamperBlock (feed, index) {
  const orig = feed._getBuffer
  let served = 0
  feed._getBuffer = function (i, cb) {
    return orig.call(this, i, (err, value) => {
      if (err || i !== index || !value) return cb(err, value)
      served++
      const bad = Buffer.from(value)
      if (bad.length === 0) return cb(null, Buffer.from('x'))
      for (let j = 0; j < bad.length; j++) bad[j] ^= 0x5a
      cb(null, bad)
    })
  }
  return { served: () => served, restore: () => { feed._getBuffer = orig } }
}

// ---------------------------------------------------------------------------------------------
// waiting and reading

function sleep (ms) {
  return new Promise(resolve => setTimeout(resolve, ms))
}

// Polls `cond` (sync or async) until truthy; rejects after `ms` with `what()`.
async function waitFor (cond, ms, what) {
  const start = Date.now()
  for (;;) {
    const v = await cond()
    if (v) return v
    if (Date.now() - start > ms) {
      throw new Error('timed out after ' + ms + ' ms waiting for ' + (typeof what === 'function' ? what() : what))
    }
    await sleep(25)
  }
}

// Resolves when feed holds every block in [start, end) (feed.download's callback).
function download (feed, range) {
  return js.download(feed, range)
}

// Resolves once the feed knows a signed length >= minLength (feed.update; a sparse feed learns
// the remote length only this way or by downloading).
function update (feed, minLength) {
  return js.toPromise(cb => feed.update({ minLength }, cb))
}

// Number of blocks of [start, end) the feed holds.
function countHave (feed, start, end) {
  let n = 0
  for (let i = start; i < end; i++) if (feed.has(i)) n++
  return n
}

// The indexes in [0, length) the feed holds, as sorted [start, end) ranges.
function heldRanges (feed, length = feed.length) {
  const out = []
  let s = -1
  for (let i = 0; i < length; i++) {
    const h = feed.has(i)
    if (h && s === -1) s = i
    if (!h && s !== -1) { out.push([s, i]); s = -1 }
  }
  if (s !== -1) out.push([s, length])
  return out
}

// Blocks [start, end), read locally (never from the network: rejects if one is missing).
async function readBlocks (feed, start, end) {
  const out = []
  for (let i = start; i < end; i++) {
    if (!feed.has(i)) throw new Error('JS feed lacks block ' + i)
    out.push(await js.get(feed, i, { wait: false }))
  }
  return out
}

module.exports = {
  closeAll,
  openCore,
  listen,
  connect,
  redial,
  rawListen,
  spewGarbage,
  handshakeThenGarbage,
  tamperBlock,
  waitFor,
  sleep,
  download,
  update,
  countHave,
  heldRanges,
  readBlocks,
  parseHostPort,
  isLoopback,
  keyHex,
  Conn
}

// ---------------------------------------------------------------------------------------------
// command line: a JS peer to run against `hyp replicate` by hand

const USAGE = `usage: node tests/interop/lib/jspeer.js OPTIONS
  --dir DIR            corestore folder (created if missing); --plain: plain hypercore(DIR)
  --ram                in-memory feed instead of a folder
  --name NAME          open (and create) the writable core NAME   (corestore only)
  --key KEY            open the core KEY (64 hex or hyper://) as a replica
  --sparse             sparse feed (with --key)
  --append N           append N blocks first (--size BYTES each, default 1024; content pseudo-random)
  --listen HOST:PORT   serve: net.createServer(s => s.pipe(feed.replicate(false, {live: true})).pipe(s))
  --connect HOST:PORT  dial from 127.0.0.1 and pipe feed.replicate(true, {live: true})
  --start N --end M    download [N, M) (default: everything, live)
  --exit-when-done     exit 0 once [start, end) is held (needs --end)
  --whole-store        replicate the whole corestore per connection (store.replicate(isInitiator,
                       {live: true}), as Hyperspace does); cores it lacks are refused with Close
Prints one JSON line per event on stdout: opened, listening, connection, download-done, status
(every second), close. Runs until SIGINT/SIGTERM. Loopback addresses only.`

async function cli (argv) {
  const o = { size: 1024 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(a + ' needs a value')
      return argv[++i]
    }
    if (a === '--help' || a === '-h') { process.stdout.write(USAGE + '\n'); return }
    else if (a === '--dir') o.dir = next()
    else if (a === '--plain') o.plain = true
    else if (a === '--ram') o.ram = true
    else if (a === '--name') o.name = next()
    else if (a === '--key') o.key = next()
    else if (a === '--sparse') o.sparse = true
    else if (a === '--append') o.append = Number(next())
    else if (a === '--size') o.size = Number(next())
    else if (a === '--listen') o.listen = parseHostPort(next())
    else if (a === '--connect') o.connect = parseHostPort(next())
    else if (a === '--start') o.start = Number(next())
    else if (a === '--end') o.end = Number(next())
    else if (a === '--exit-when-done') o.exitWhenDone = true
    else if (a === '--whole-store') o.wholeStore = true
    else throw new Error('unknown argument ' + a + '\n' + USAGE)
  }
  if (!o.listen === !o.connect) throw new Error('give exactly one of --listen and --connect\n' + USAGE)
  const print = obj => process.stdout.write(JSON.stringify(obj) + '\n')
  const kind = o.ram ? 'ram' : o.plain ? 'plain' : 'corestore'
  if (kind !== 'ram') {
    if (!o.dir) throw new Error('--dir or --ram is required')
    fs.mkdirSync(path.resolve(o.dir), { recursive: true })
  }
  const core = await openCore({ kind, dir: o.dir, key: o.key, name: o.name, sparse: o.sparse })
  const feed = core.feed
  if (o.wholeStore && !core.store) throw new Error('--whole-store needs a corestore folder')
  const connOpts = o.wholeStore ? { store: core.store } : {}
  if (o.append) {
    const seed = require('crypto').createHash('sha256').update('jspeer:' + feed.key.toString('hex')).digest()
    const blocks = []
    for (let i = 0; i < o.append; i++) {
      const c = require('crypto').createCipheriv('aes-256-ctr', seed, Buffer.alloc(16, i & 0xff))
      blocks.push(c.update(Buffer.alloc(o.size)))
      if (blocks.length === 1000 || i === o.append - 1) await js.append(feed, blocks.splice(0))
    }
  }
  print({ event: 'opened', key: feed.key.toString('hex'), discoveryKey: feed.discoveryKey.toString('hex'), length: feed.length, byteLength: feed.byteLength, writable: feed.writable })
  const ranged = o.start !== undefined || o.end !== undefined
  if (ranged) {
    const range = { start: o.start || 0, end: o.end === undefined ? -1 : o.end }
    feed.download(range, err => {
      print({ event: 'download-done', error: err ? err.message : null, start: range.start, end: range.end })
      if (o.exitWhenDone) shutdown(err ? 1 : 0)
    })
  }
  const conns = []
  const onConn = c => {
    conns.push(c)
    print({ event: 'connection', initiator: c.initiator, remote: c.remoteAddress + ':' + c.remotePort, local: c.localAddress + ':' + c.localPort })
    c.closed.then(() => print({ event: 'close', remote: c.remoteAddress + ':' + c.remotePort, downloads: c.downloads, uploads: c.uploads, errors: c.errors }))
  }
  let server = null
  if (o.listen) {
    server = await listen(feed, { ...connOpts, host: o.listen.host, port: o.listen.port, onConnection: onConn })
    print({ event: 'listening', host: server.host, port: server.port })
  } else {
    onConn(await connect(feed, { ...connOpts, host: o.connect.host, port: o.connect.port }))
  }
  const status = setInterval(() => print({ event: 'status', length: feed.length, have: countHave(feed, 0, feed.length) }), 1000)
  let closing = false
  async function shutdown (code) {
    if (closing) return
    closing = true
    clearInterval(status)
    if (server) await server.close()
    await Promise.all(conns.map(c => c.destroy()))
    print({ event: 'status', length: feed.length, have: countHave(feed, 0, feed.length) })
    await core.close()
    process.exit(code)
  }
  process.on('SIGINT', () => shutdown(0))
  process.on('SIGTERM', () => shutdown(0))
  if (o.connect) conns[0].closed.then(() => shutdown(0))
}

if (require.main === module) {
  cli(process.argv.slice(2)).catch(err => {
    process.stderr.write('jspeer: ' + err.message + '\n')
    process.exit(2)
  })
}
