'use strict'

// Networking interop (issue 5): our daemons find each other through a DHT (our `hyp dht` or a JS
// @hyperswarm/dht 4 node), JS @hyperspace/client 1.18 clients drive them, and a JS hyperspace
// 3.19 server replicates with our daemon in both directions. See docs/behaviour/networking.md,
// docs/behaviour/rpc.md "ifAvailable" and docs/testing.md.
//
//   HYPERSPACE_BIN=build/hyperspace HYP_BIN=build/hyp node --test tests/interop/swarm.test.js
//
// Runs inside the loopback-only namespace of scripts/test.sh: everything binds 127.0.0.0/8. Our
// daemons that must be accepted by a JS hyperspace bind 127.0.0.2 (the JS networker ignores peers
// at exactly 127.0.0.1, docs/testing.md "Addresses"). LAN discovery is off in every daemon here.

const { describe, it, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('fs')
const path = require('path')

const d = require('./lib/daemon')
const { connect, jsServerClient, withCleanup } = require('./lib/daemon_helpers')
const { startHypDht, startOurDaemon } = require('./lib/network')

d.hyperspaceBin()
const TMP = d.setTmpdir()
const Client = require('@hyperspace/client')
const createDht = require('@hyperswarm/dht')

after(d.cleanupTmpdir)

const T = { timeout: 120000 }

// A JS @hyperswarm/dht 4 bootstrap node, persistent (docs/testing.md "A local DHT bootstrap node").
async function startJsDht () {
  const node = createDht({ bootstrap: false, ephemeral: false })
  await new Promise(resolve => node.listen(0, '127.0.0.1', resolve))
  return {
    address: '127.0.0.1:' + node.address().port,
    async stop () { node.destroy() }
  }
}

const ourDaemon = startOurDaemon

// Runs fn(boot, cleanup) with a fresh `hyp dht` bootstrap node, stopped (last) with everything
// the test registered in cleanup.
async function withHypDht (fn) {
  const boot = await startHypDht()
  await withCleanup(async cleanup => {
    cleanup.push(() => boot.stop())
    await fn(boot, cleanup)
  })
}

// Two of our daemons on `boot` (labels <label>-a and <label>-b) and a client of each.
async function twoDaemons (boot, cleanup, label) {
  const a = await ourDaemon(boot.address, cleanup, { label: label + '-a' })
  const b = await ourDaemon(boot.address, cleanup, { label: label + '-b' })
  return { a, b, ca: connect(a, cleanup), cb: connect(b, cleanup) }
}

// What client.replicate(core) configures, but waiting for the flush: the writer's announce must
// have reached the DHT before a reader's first lookup, or that lookup finds nobody (ifAvailable
// then fails; our daemon looks again within a second, but the request has already decided).
async function announceFlushed (client, core) {
  await client.network.configure(core.discoveryKey, { announce: true, lookup: true, flush: true })
}

const { eventually } = require('./lib/util')

async function seedWalkthrough (bootstrap) {
  await withCleanup(async cleanup => {
    const a = await ourDaemon(bootstrap.address, cleanup, { label: 'seed-a' })
    const b = await ourDaemon(bootstrap.address, cleanup, { label: 'seed-b' })
    const c1 = connect(a, cleanup)
    const c2 = connect(b, cleanup)

    const core1 = c1.corestore().get()
    await core1.ready()
    await core1.append(Buffer.from('hello'))
    await core1.append(Buffer.from('world'))
    await announceFlushed(c1, core1)

    const core2 = c2.corestore().get(core1.key)
    await core2.ready()
    const peers = []
    core2.on('peer-open', p => peers.push(p))
    await c2.replicate(core2)
    // ifAvailable (the default) right after the configure: the lookup, the connection and the
    // bitfield exchange must all have had their chance (issue 5's contract).
    assert.equal((await core2.get(0)).toString(), 'hello')
    assert.equal((await core2.get(1)).toString(), 'world')
    assert.equal(core2.length, 2)
    assert.ok(peers.length >= 1, 'OnPeerOpen reached the client')
    assert.equal(peers[0].type, 'tcp')
    assert.equal(peers[0].remotePublicKey.length, 32)

    // Live: a new block on the writer reaches the reader.
    await core1.append(Buffer.from('live'))
    await core2.update({ ifAvailable: false })
    assert.equal((await core2.get(2)).toString(), 'live')

    // Network.Open / OnPeerAdd list the peer with its Noise key: the other daemon's public key.
    await c1.network.ready()
    await c2.network.ready()
    assert.ok(c2.network.peers.some(p => Buffer.from(p.remotePublicKey).equals(Buffer.from(c1.network.keyPair.publicKey))))
  })
}

describe('seed walkthrough: two of our daemons through a DHT', () => {
  for (const [name, startBootstrap] of [
    ['with our hyp dht as the bootstrap node', startHypDht],
    ['with a JS @hyperswarm/dht 4 bootstrap node', startJsDht]
  ]) {
    it(name, T, async () => {
      const boot = await startBootstrap()
      try {
        await seedWalkthrough(boot)
      } finally {
        await boot.stop()
      }
    })
  }
})

// A new core written through `writer` (blocks 'from' and `word`), announced, is replicated by
// `reader`, and so is a live append ('live-<word>') made after that.
async function writtenIsRead (writer, reader, word, what) {
  const core = writer.corestore().get()
  await core.ready()
  await core.append([Buffer.from('from'), Buffer.from(word)])
  await announceFlushed(writer, core)
  const mirror = reader.corestore().get(core.key)
  await mirror.ready()
  await reader.replicate(mirror)
  await eventually(async () => {
    assert.equal((await mirror.get(0)).toString(), 'from')
  }, 30000, what)
  assert.equal((await mirror.get(1, { ifAvailable: false })).toString(), word)
  await core.append(Buffer.from('live-' + word))
  await mirror.update({ ifAvailable: false })
  assert.equal((await mirror.get(2, { ifAvailable: false })).toString(), 'live-' + word)
}

describe('mixed peers: a JS hyperspace 3.19 server and our daemon', () => {
  it('replicate a core in each direction, with live appends', T, async () => {
    await withHypDht(async (boot, cleanup) => {
      const jsClient = await jsServerClient(boot.address, cleanup, 'js')
      const ours = await ourDaemon(boot.address, cleanup, { label: 'mixed', bind: '127.0.0.2' })
      const ourClient = connect(ours, cleanup)

      await writtenIsRead(jsClient, ourClient, 'js', 'our daemon reads the JS core')
      await writtenIsRead(ourClient, jsClient, 'cpp', 'the JS server reads our core')
    })
  })
})

describe('deduplication', () => {
  it('two daemons that find each other on two topics keep one connection', T, async () => {
    await withHypDht(async (boot, cleanup) => {
      const { ca, cb } = await twoDaemons(boot, cleanup, 'dedup')
      // Two cores, each announced and looked up on both sides: each daemon dials the other.
      const x = ca.corestore().get()
      const y = cb.corestore().get()
      await x.ready()
      await y.ready()
      await x.append(Buffer.from('x'))
      await y.append(Buffer.from('y'))
      const x2 = cb.corestore().get(x.key)
      const y2 = ca.corestore().get(y.key)
      await x2.ready()
      await y2.ready()
      await Promise.all([announceFlushed(ca, x), announceFlushed(cb, y)])
      await Promise.all([ca.replicate(y2), cb.replicate(x2)])
      assert.equal((await x2.get(0)).toString(), 'x')
      assert.equal((await y2.get(0)).toString(), 'y')
      // Give both dials time to finish, then count: one peer on each side, and it is the other
      // daemon (its Noise key, as Network.Open reported it there).
      await new Promise(resolve => setTimeout(resolve, 3000))
      await ca.network.ready()
      await cb.network.ready()
      assert.equal(ca.network.peers.length, 1, 'daemon A keeps one connection')
      assert.equal(cb.network.peers.length, 1, 'daemon B keeps one connection')
      assert.ok(Buffer.from(ca.network.peers[0].remotePublicKey).equals(Buffer.from(cb.network.keyPair.publicKey)))
      assert.ok(Buffer.from(cb.network.peers[0].remotePublicKey).equals(Buffer.from(ca.network.keyPair.publicKey)))
    })
  })
})

describe('events and extensions between two daemons', () => {
  it('OnPeerOpen/OnPeerRemove, Watch downloads and uploads, core and network extensions', T, async () => {
    await withHypDht(async (boot, cleanup) => {
      const { a, ca, cb } = await twoDaemons(boot, cleanup, 'ev')

      const core1 = ca.corestore().get()
      await core1.ready()
      await core1.append([Buffer.from('zero'), Buffer.from('one'), Buffer.from('two')])
      const uploads = []
      core1.on('upload', (seq, info) => uploads.push([seq, info.byteLength]))
      const got1 = []
      const ext1 = core1.registerExtension('chat', { encoding: 'utf-8', onmessage: (m, peer) => got1.push([m, peer]) })
      const netGot1 = []
      ca.network.registerExtension('net-chat', { encoding: 'utf-8', onmessage: (m, peer) => netGot1.push([m, peer]) })
      await announceFlushed(ca, core1)

      const core2 = cb.corestore().get(core1.key)
      await core2.ready()
      const downloads = []
      core2.on('download', (seq, info) => downloads.push([seq, info.byteLength]))
      const got2 = []
      const ext2 = core2.registerExtension('chat', { encoding: 'utf-8', onmessage: (m, peer) => got2.push([m, peer]) })
      const netGot2 = []
      const netExt2 = cb.network.registerExtension('net-chat', { encoding: 'utf-8', onmessage: (m, peer) => netGot2.push([m, peer]) })
      const removed = []
      core2.on('peer-remove', p => removed.push(p))
      const netRemoved = []
      cb.network.on('peer-remove', p => netRemoved.push(p))
      await cb.replicate(core2)

      assert.equal((await core2.get(0)).toString(), 'zero')
      assert.equal((await core2.get(2)).toString(), 'two')
      await eventually(async () => {
        assert.deepEqual(downloads.map(x => x[0]).sort(), [0, 2])
        assert.deepEqual(uploads.map(x => x[0]).sort(), [0, 2])
      }, 10000, 'download and upload events')
      assert.deepEqual(downloads.find(x => x[0] === 2), [2, 3])
      assert.equal(core2.peers.length, 1)
      assert.equal(core2.peers[0].type, 'tcp')

      // Core extension both ways: broadcast from b, a direct send from a to b's peer.
      await eventually(async () => {
        ext2.broadcast('hello from b')
        await new Promise(resolve => setTimeout(resolve, 100))
        assert.ok(got1.some(([m]) => m === 'hello from b'))
      }, 10000, 'core extension b -> a')
      assert.ok(Buffer.from(got1[0][1].remotePublicKey).equals(Buffer.from(cb.network.keyPair.publicKey)))
      await eventually(async () => {
        ext1.send('hello from a', core1.peers[0])
        await new Promise(resolve => setTimeout(resolve, 100))
        assert.ok(got2.some(([m]) => m === 'hello from a'))
      }, 10000, 'core extension a -> b')

      // Stream-level (network) extension.
      await eventually(async () => {
        netExt2.broadcast('net hello')
        await new Promise(resolve => setTimeout(resolve, 100))
        assert.ok(netGot1.some(([m]) => m === 'net hello'))
      }, 10000, 'network extension b -> a')

      // The writer's daemon stops: the reader sees the peer go, on the core and on the network.
      const res = await d.stopDaemon(a)
      assert.equal(res.code, 0, d.describe(a))
      await eventually(async () => {
        assert.equal(removed.length, 1)
        assert.equal(netRemoved.length, 1)
      }, 10000, 'peer-remove events')
      assert.equal(core2.peers.length, 0)
      assert.equal(cb.network.peers.length, 0)
      // A block nobody can serve now fails fast with ifAvailable.
      await assert.rejects(core2.get(1), /Block not available from peers/)
    })
  })
})

// update() fetches only the proof of the new length (Request.hash), never the newest block, so
// a download event fires only for blocks the reader asks for (upstream hyperspace
// test/networked.js "can watch downloads, uploads, and appends"). Counts and bytes are what
// hypercore 9 reports: upload/download once per block with its byte length, append once per
// length change seen by the reader.
async function watchScenario (writerClient, readerClient) {
  const core1 = writerClient.corestore().get()
  await core1.ready()
  await core1.append(Buffer.from('zero'))
  await core1.append(Buffer.from('one'))
  await core1.append(Buffer.from('two'))
  await announceFlushed(writerClient, core1)

  const core2 = readerClient.corestore().get(core1.key)
  await core2.ready()
  const ev = { uploads: 0, uploadBytes: 0, downloads: 0, downloadBytes: 0, appends: 0, downloaded: [] }
  core1.on('upload', (seq, data) => { ev.uploads++; ev.uploadBytes += data.byteLength })
  core2.on('download', (seq, data) => { ev.downloads++; ev.downloadBytes += data.byteLength; ev.downloaded.push(seq) })
  core2.on('append', () => { ev.appends++ })
  const downloadOf = seq => eventually(async () => assert.ok(ev.downloaded.includes(seq), 'download ' + seq + ': ' + JSON.stringify(ev)), 15000, 'download event of block ' + seq)
  await readerClient.network.configure(core1.discoveryKey, { announce: false, lookup: true })

  assert.equal((await core2.get(2)).toString(), 'two')
  await downloadOf(2)
  assert.equal((await core2.get(0)).toString(), 'zero')
  await downloadOf(0)
  // The writer's upload events reach its client on another connection than the reader's
  // download events: wait for both sides to have reported.
  const counts = (want, what) => eventually(async () => assert.deepEqual(
    [ev.uploads, ev.uploadBytes, ev.downloads, ev.downloadBytes, ev.appends], want,
    'uploads, upload bytes, downloads, download bytes, appends ' + what + ': ' + JSON.stringify(ev)), 10000, what)
  await counts([2, 7, 2, 7, 1], 'after two gets')

  await core1.append(Buffer.from('three'))
  await core1.append(Buffer.from('four'))
  await core2.update({})
  assert.equal(core2.length, 5)
  assert.equal(ev.appends, 2, 'one append event for the update: ' + JSON.stringify(ev))
  assert.equal(ev.downloads, 2, 'update() downloaded no block: ' + JSON.stringify(ev))
  assert.equal(await core2.has(4), false, 'update() stored no block')

  await core2.download(4)
  await downloadOf(4)
  await counts([3, 11, 3, 11, 2], 'after download(4)')
  assert.equal((await core2.get(4)).toString(), 'four')
}


describe('update() fetches only the proof: watch downloads, uploads and appends', () => {
  it('two of our daemons', T, async () => {
    await withHypDht(async (boot, cleanup) => {
      const { ca, cb } = await twoDaemons(boot, cleanup, 'watch')
      await watchScenario(ca, cb)
    })
  })

  it('a JS hyperspace writer, our reader (our hash-only Request to JS hypercore 9)', T, async () => {
    await withHypDht(async (boot, cleanup) => {
      const js = await jsServerClient(boot.address, cleanup, 'watch-js')
      const ours = await ourDaemon(boot.address, cleanup, { label: 'watch-r', bind: '127.0.0.2' })
      await watchScenario(js, connect(ours, cleanup))
    })
  })

  it('our writer, a JS hyperspace reader (the reference behaviour, and our hash-only answers)', T, async () => {
    await withHypDht(async (boot, cleanup) => {
      const ours = await ourDaemon(boot.address, cleanup, { label: 'watch-w', bind: '127.0.0.2' })
      const js = await jsServerClient(boot.address, cleanup, 'watch-js')
      await watchScenario(connect(ours, cleanup), js)
    })
  })
})

describe('remembered configurations', () => {
  it('a restarted daemon rejoins what it remembered and serves it', T, async () => {
    await withHypDht(async (boot, cleanup) => {
      const storage = fs.mkdtempSync(path.join(TMP, 'st-'))
      const network = ['--network-port', '0', '--no-local-discovery', '--bootstrap', boot.address]
      const a1 = await d.runningDaemon({ label: 'rem', storage, network })
      const c1 = new Client({ host: a1.name })
      const core = c1.corestore().get()
      await core.ready()
      await core.append(Buffer.from('remembered'))
      await c1.network.configure(core.discoveryKey, { announce: true, lookup: true, remember: true })
      const key = core.key
      await c1.close()
      assert.equal((await d.stopDaemon(a1)).code, 0)

      // Restart with no client: the remembered key is announced again.
      const a2 = await d.runningDaemon({ label: 'rem2', storage, network })
      cleanup.push(async () => { await d.stopDaemon(a2) })
      const b = await ourDaemon(boot.address, cleanup, { label: 'rem-b' })
      const cb = connect(b, cleanup)
      const mirror = cb.corestore().get(key)
      await mirror.ready()
      await cb.replicate(mirror)
      await eventually(async () => {
        assert.equal((await mirror.get(0)).toString(), 'remembered')
      }, 30000, 'the restarted daemon serves its remembered core')
    })
  })
})

describe('bad input on the peer port', () => {
  it('garbage TCP and UDP never stop the daemon from replicating', T, async () => {
    const net = require('net')
    const dgram = require('dgram')
    const crypto = require('crypto')
    await withHypDht(async (boot, cleanup) => {
      const a = await ourDaemon(boot.address, cleanup, { label: 'bad-a' })
      const b = await ourDaemon(boot.address, cleanup, { label: 'bad-b' })
      const port = Number(a.stdout.match(/Listening for peers on \S+:(\d+)/)[1])

      // Garbage handshakes, an oversized frame header, a peer that connects and sends nothing,
      // and random datagrams (and an empty one) on the DHT port.
      const sockets = []
      for (let i = 0; i < 20; i++) {
        const s = net.connect(port, '127.0.0.1')
        s.on('error', () => {})
        sockets.push(s)
        if (i % 4 === 0) s.write(crypto.randomBytes(1 + (i * 997) % 5000))
        if (i % 4 === 1) s.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]))
        if (i % 4 === 2) s.end()
      }
      const udp = dgram.createSocket('udp4')
      for (let i = 0; i < 200; i++) udp.send(crypto.randomBytes(i % 1400), port, '127.0.0.1')
      udp.send(Buffer.alloc(0), port, '127.0.0.1')
      await new Promise(resolve => setTimeout(resolve, 500))
      udp.close()
      for (const s of sockets) s.destroy()

      // The daemon still serves: the walkthrough works.
      const ca = connect(a, cleanup)
      const cb = connect(b, cleanup)
      const core = ca.corestore().get()
      await core.ready()
      await core.append(Buffer.from('still here'))
      await announceFlushed(ca, core)
      const mirror = cb.corestore().get(core.key)
      await mirror.ready()
      await cb.replicate(mirror)
      assert.equal((await mirror.get(0)).toString(), 'still here')
      assert.equal(a.exitCode, undefined, 'daemon A is still running')
    })
  })
})
