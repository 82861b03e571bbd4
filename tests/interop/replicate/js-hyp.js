#!/usr/bin/env node
'use strict'

// A small JS model of the `hyp replicate` contract (plus `hyp storage`, delegated to
// ../storage/js-hyp.js), built on the JS reference stack. It exists only to self-check
// replicate.test.js:
//
//   unshare -n sh -c 'ip link set lo up && exec env HYP_BIN=tests/interop/replicate/js-hyp.js node --test tests/interop/replicate.test.js'
//
// If the tests pass against this model but fail against our C++ hyp, the bug is in hyp. It is not a
// specification.
//
// Its corestore uses random-access-file without the bitfield flock, so the storage model's `ls` and
// `cat` can read the folder while a replicate model runs (our hyp allows read-only openers then).

const cli = require('../lib/cli_args')
const { parseKey } = cli

if (process.argv[2] === 'storage') {
  require('../storage/js-hyp.js')
} else {
  main().catch(err => {
    process.stderr.write('hyp: ' + err.message + '\n')
    process.exit(1)
  })
}

function parseArgs (argv) {
  return cli.parseArgs(argv, { flags: ['json', 'live'], lists: ['extension', 'send-extension'] })
}

function parseCount (s, what) {
  if (!/^\d+$/.test(s)) throw new Error(what + ' must be a block index, got ' + JSON.stringify(s))
  return Number(s)
}

async function main () {
  const path = require('path')
  const fs = require('fs')
  const Corestore = require('corestore')
  const raf = require('random-access-file')
  const jp = require('../lib/jspeer')
  const js = require('../lib/jsstore')

  const argv = process.argv.slice(2)
  if (argv[0] !== 'replicate') throw new Error('usage: hyp replicate|storage ...')
  const o = parseArgs(argv.slice(1))
  if (!o.storage) throw new Error('--storage DIR is required')
  if (o._.length !== 1) throw new Error('exactly one KEY is required')
  const key = parseKey(o._[0])
  if (!o.listen === !o.connect) throw new Error('give exactly one of --listen HOST:PORT and --connect HOST:PORT')
  const start = o.start === undefined ? 0 : parseCount(o.start, '--start')
  const end = o.end === undefined ? null : parseCount(o.end, '--end')
  const listenAt = o.listen ? jp.parseHostPort(o.listen) : null
  const connectTo = o.connect ? jp.parseHostPort(o.connect) : null

  const dir = path.resolve(o.storage)
  fs.mkdirSync(dir, { recursive: true })
  const store = new Corestore(p => raf(path.join(dir, p)))
  await store.ready()
  const feed = store.get({ key: Buffer.from(key, 'hex'), sparse: true })
  await js.ready(feed)
  const uploadMode = feed.writable

  // Core extensions: print what arrives, send the --send-extension texts when a peer opens the core.
  const exts = new Map()
  const sends = o['send-extension'].map(spec => {
    const eq = spec.indexOf('=')
    return eq === -1 ? [spec, ''] : [spec.slice(0, eq), spec.slice(eq + 1)]
  })
  for (const name of [...o.extension, ...sends.map(x => x[0])]) {
    if (exts.has(name)) continue
    exts.set(name, feed.registerExtension(name, {
      encoding: 'binary',
      onmessage: msg => process.stderr.write('extension ' + name + ' ' + Buffer.from(msg).toString('base64') + '\n')
    }))
  }
  feed.on('peer-open', p => {
    for (const [name, text] of sends) exts.get(name).send(Buffer.from(text), p)
  })

  let downloaded = 0
  let uploaded = 0
  let peer = null
  feed.on('download', () => downloaded++)
  feed.on('upload', () => uploaded++)

  let finished = false
  async function finish (code, reason) {
    if (finished) return
    finished = true
    if (reason) process.stderr.write('hyp: ' + reason + '\n')
    if (server) await server.close()
    for (const c of conns) await c.destroy()
    if (code === 0 && o.json) {
      process.stdout.write(JSON.stringify({ key, length: feed.length, downloaded, uploaded, peer }) + '\n')
    }
    await js.closeStore(store)
    process.exit(code)
  }
  process.on('SIGINT', () => finish(0))
  process.on('SIGTERM', () => finish(0))

  const conns = []
  let server = null

  // Download selection. Live (or listening): everything in range as it arrives. One-shot connect:
  // the blocks in range the remote says it has, once its first window Have arrives.
  const oneShot = !uploadMode && connectTo && !o.live
  if (!uploadMode && !oneShot) feed.download({ start, end: end === null ? -1 : end })

  feed.on('peer-add', p => {
    if (!oneShot) return
    const orig = p.onhave
    let decided = false
    p.onhave = function (have) {
      orig.call(this, have)
      if (decided || !have.bitfield) return
      decided = true
      const last = end === null ? p.remoteLength : Math.min(end, p.remoteLength)
      const blocks = []
      for (let i = start; i < last; i++) if (p.remoteBitfield.get(i) && !feed.has(i)) blocks.push(i)
      process.stderr.write('remote length ' + p.remoteLength + ', downloading ' + blocks.length + ' blocks\n')
      if (!blocks.length) {
        // make sure we hold the remote's signed length even with nothing to fetch
        feed.update({ minLength: p.remoteLength, ifAvailable: true }, () => finish(0))
        return
      }
      feed.download({ blocks }, err => (err ? finish(1, err.message) : finish(0)))
    }
  })

  // One-shot: the peer closed our channel while the connection stays up (it refused the core, e.g.
  // a corestore without it answers Close{discoveryKey}): it has nothing for us, so we are done.
  feed.on('peer-remove', () => {
    if (!oneShot) return
    setTimeout(() => {
      if (conns.length && !conns[conns.length - 1].isClosed) finish(0)
    }, 50)
  })

  const onConn = c => {
    conns.push(c)
    peer = c.remoteAddress + ':' + c.remotePort
    process.stderr.write('connected to ' + peer + '\n')
    c.stream.on('error', err => {
      if (listenAt) process.stderr.write('peer ' + peer + ': ' + err.message + '\n')
      else finish(1, 'replication with ' + peer + ' failed: ' + err.message)
    })
    c.closed.then(() => {
      if (listenAt) return
      if (o.live || uploadMode) finish(0)
      else finish(1, 'the peer closed the connection before the download completed')
    })
  }

  if (listenAt) {
    server = await jp.listen(feed, { host: listenAt.host, port: listenAt.port, onConnection: onConn })
    process.stderr.write('listening ' + server.host + ':' + server.port + '\n')
  } else {
    let c
    try {
      c = await jp.connect(feed, { host: connectTo.host, port: connectTo.port, localAddress: o.bind || '127.0.0.1' })
    } catch (err) {
      return finish(1, 'cannot connect to ' + o.connect + ': ' + (err.code || err.message))
    }
    onConn(c)
  }
}
