'use strict'

// The C++ client library (include/hyperspace/client.h) against the JS hyperspace 3.19 daemon and
// against ours, through its two examples: examples/seed (a writer: create, append, announce) and
// examples/tail (a live reader). The other side of each replication is the opposite daemon
// driven by the JS @hyperspace/client, so every run crosses both implementations.
//
//   HYPERSPACE_BIN=build/hyperspace HYP_BIN=build/hyp EXAMPLE_SEED_BIN=build/examples/seed \
//   EXAMPLE_TAIL_BIN=build/examples/tail node --test tests/interop/client.test.js
//
// Inside the loopback-only namespace of scripts/test.sh; our daemons bind 127.0.0.2 (a JS
// networker ignores peers at exactly 127.0.0.1).

const { describe, it, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('path')
const { spawn } = require('child_process')

const d = require('./lib/daemon')
const { withCleanup } = require('./lib/daemon_helpers')
const { startHypDht, startJsServer, startOurDaemon } = require('./lib/network')
const { eventually } = require('./lib/util')

d.setTmpdir()
const Client = require('@hyperspace/client')

after(d.cleanupTmpdir)

const T = { timeout: 120000 }

function bin (name) {
  const b = process.env[name]
  if (!b) throw new Error(name + ' is not set (see the comment at the top of this file)')
  return path.resolve(b)
}

// Starts a C++ example; `lines()` is what it printed on stdout so far, split in lines.
function run (binary, args, cleanup) {
  const child = spawn(bin(binary), args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', b => { out += b })
  child.stderr.on('data', b => { err += b })
  const exited = new Promise(resolve => child.on('exit', (code, signal) => resolve(signal || code)))
  cleanup.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  return {
    child,
    exited,
    lines: () => out.split('\n').filter(l => l.length),
    describe: () => binary + ' ' + args.join(' ') + '\nstdout: ' + out + '\nstderr: ' + err
  }
}

// The daemon the C++ programs use, and the JS client on the other daemon.
async function setup (cppDaemon, cleanup) {
  const boot = await startHypDht()
  cleanup.push(() => boot.stop())
  let cppHost, otherHost
  if (cppDaemon === 'js') {
    cppHost = await startJsServer(boot.address, cleanup, 'cjs')
    otherHost = (await startOurDaemon(boot.address, cleanup, { label: 'other', bind: '127.0.0.2' })).name
  } else {
    cppHost = (await startOurDaemon(boot.address, cleanup, { label: 'cpp', bind: '127.0.0.2' })).name
    otherHost = await startJsServer(boot.address, cleanup, 'other')
  }
  const client = new Client({ host: otherHost })
  cleanup.push(async () => { try { await client.close() } catch (_) {} })
  return { cppHost, client }
}

for (const cppDaemon of ['js', 'ours']) {
  describe('the C++ client on ' + (cppDaemon === 'js' ? 'the JS hyperspace daemon' : 'our daemon'), () => {
    it('seed: a core written by the C++ client reaches a JS reader, live appends too', T, async () => {
      await withCleanup(async cleanup => {
        const { cppHost, client } = await setup(cppDaemon, cleanup)
        const seed = run('EXAMPLE_SEED_BIN', ['--host', cppHost, '--name', 'walk', 'hello', 'world'], cleanup)
        await eventually(() => assert.ok(seed.lines().length >= 1, seed.describe()), 30000, 'seed prints the key')
        const [keyHex, length] = seed.lines()[0].split(' ')
        assert.match(keyHex, /^[0-9a-f]{64}$/, seed.describe())
        assert.equal(length, '2', seed.describe())

        const mirror = client.corestore().get(Buffer.from(keyHex, 'hex'))
        await mirror.ready()
        await client.network.configure(mirror.discoveryKey, { announce: true, lookup: true, flush: true })
        await eventually(async () => {
          assert.equal((await mirror.get(0)).toString(), 'hello')
        }, 30000, 'the JS side reads the C++ client\'s core')
        assert.equal((await mirror.get(1, { ifAvailable: false })).toString(), 'world')

        seed.child.stdin.write('live\n')
        await eventually(() => assert.ok(seed.lines().includes('appended 2'), seed.describe()), 10000)
        await mirror.update({ ifAvailable: false, minLength: 3 })
        assert.equal((await mirror.get(2, { ifAvailable: false })).toString(), 'live')
        seed.child.stdin.end()
        assert.equal(await seed.exited, 0, seed.describe())
      })
    })

    it('tail: the C++ client follows a core a JS client appends to', T, async () => {
      await withCleanup(async cleanup => {
        const { cppHost, client } = await setup(cppDaemon, cleanup)
        const core = client.corestore().get()
        await core.ready()
        await core.append([Buffer.from('a'), Buffer.from('b')])
        await client.network.configure(core.discoveryKey, { announce: true, lookup: true, flush: true })

        const tail = run('EXAMPLE_TAIL_BIN', ['--host', cppHost, '--count', '4', core.key.toString('hex')], cleanup)
        await eventually(() => assert.deepEqual(tail.lines(), ['a', 'b'], tail.describe()), 30000, 'tail prints the first blocks')
        await core.append([Buffer.from('c'), Buffer.from('d')])
        assert.equal(await tail.exited, 0, tail.describe())
        assert.deepEqual(tail.lines(), ['a', 'b', 'c', 'd'])
      })
    })

    it('extensions: core and network extension messages both ways with a JS client', T, async () => {
      await withCleanup(async cleanup => {
        const { cppHost, client } = await setup(cppDaemon, cleanup)
        const got = { core: [], net: [] }
        const core = client.corestore().get()
        await core.ready()
        const ext = core.registerExtension('chat', { onmessage: (m, peer) => got.core.push([m.toString(), peer.remotePublicKey.toString('hex')]) })
        const net = client.network.registerExtension('chat-net', { onmessage: (m, peer) => got.net.push([m.toString(), peer.remotePublicKey.toString('hex')]) })
        await core.append(Buffer.from('x'))
        await client.network.configure(core.discoveryKey, { announce: true, lookup: true, flush: true })

        const peer = run('CLIENT_PEER_BIN', [cppHost, core.key.toString('hex'), 'chat'], cleanup)
        await eventually(() => assert.ok(peer.lines().some(l => l.startsWith('ready ')), peer.describe()), 30000, 'client_peer is ready')
        const cppKey = peer.lines().find(l => l.startsWith('ready ')).split(' ')[1]
        await eventually(() => assert.ok(core.peers.length >= 1, 'the JS side sees the peer'), 30000)
        // C++ -> JS (repeat until the extension is known on both ends: registration travels with
        // the channel's options).
        await eventually(() => {
          peer.child.stdin.write('core hi from c++\nnet net hi from c++\n')
          assert.ok(got.core.some(([m]) => m === 'hi from c++'), JSON.stringify(got))
          assert.ok(got.net.some(([m]) => m === 'net hi from c++'), JSON.stringify(got))
        }, 30000, 'the JS client receives the C++ client\'s messages', 500)
        assert.equal(got.core.find(([m]) => m === 'hi from c++')[1], cppKey)
        // JS -> C++
        await eventually(() => {
          ext.broadcast(Buffer.from('hi from js'))
          net.broadcast(Buffer.from('net hi from js'))
          assert.ok(peer.lines().some(l => l.startsWith('core ') && l.endsWith(' hi from js')), peer.describe())
          assert.ok(peer.lines().some(l => l.startsWith('net ') && l.endsWith(' net hi from js')), peer.describe())
        }, 30000, 'the C++ client receives the JS client\'s messages', 500)
        peer.child.stdin.end()
        assert.equal(await peer.exited, 0, peer.describe())
      })
    })
  })
}
