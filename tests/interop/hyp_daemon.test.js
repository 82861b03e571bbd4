'use strict'

// `hyp` through a daemon (docs/hyp.md): create, append, cat, info, download, seed/unseed and
// daemon start|stop|status, against our daemon and the JS hyperspace 3.19 daemon, with JS clients
// on the other side; a daemon started by hyp when none answers; --no-spawn.
//
//   HYPERSPACE_BIN=build/hyperspace HYP_BIN=build/hyp node --test tests/interop/hyp_daemon.test.js
//
// Inside the loopback-only namespace of scripts/test.sh; our daemons that a JS hyperspace must
// accept bind 127.0.0.2; LAN discovery is off everywhere.

const { describe, it, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('fs')
const path = require('path')

const d = require('./lib/daemon')
const { withCleanup } = require('./lib/daemon_helpers')
const { hypOk, hypFail, runHyp, describeRun } = require('./lib/hyp')
const { startHypDht, startJsServer, startOurDaemon } = require('./lib/network')
const { eventually } = require('./lib/util')

const TMP = d.setTmpdir()
const Client = require('@hyperspace/client')

after(d.cleanupTmpdir)

const T = { timeout: 180000 }

async function infoRow (host, key) {
  const res = await hypOk(['info', '--host', host, '--no-spawn', '--json', key])
  const rows = JSON.parse(res.stdout.toString())
  assert.equal(rows.length, 1, describeRun(res))
  return rows[0]
}

// create / append / cat / info on one daemon.
async function basics (host) {
  const created = await hypOk(['create', '--host', host, '--no-spawn', '--name', 'notes'])
  const key = created.stdout.toString().trim()
  assert.match(key, /^[0-9a-f]{64}$/, describeRun(created))
  // The same name is the same core.
  assert.equal((await hypOk(['create', '--host', host, '--no-spawn', '--name', 'notes'])).stdout.toString().trim(), key)

  assert.equal((await hypOk(['append', '--host', host, '--no-spawn', key, 'one', 'two'])).stdout.toString().trim(), '0')
  assert.equal((await hypOk(['append', '--host', host, '--no-spawn', '--name', 'notes'], { input: 'three\nfour\n' })).stdout.toString().trim(), '2')
  const file = path.join(TMP, 'block.bin')
  fs.writeFileSync(file, Buffer.from([0, 1, 2, 255]))
  assert.equal((await hypOk(['append', '--host', host, '--no-spawn', key, '--file', file])).stdout.toString().trim(), '4')

  const cat = await hypOk(['cat', '--host', host, '--no-spawn', key, '--end', '4'])
  assert.equal(cat.stdout.toString(), 'onetwothreefour')
  const json = await hypOk(['cat', '--host', host, '--no-spawn', '--json', '--start', '3', key])
  const lines = json.stdout.toString().trim().split('\n').map(l => JSON.parse(l))
  assert.deepEqual(lines, [
    { seq: 3, value: Buffer.from('four').toString('base64') },
    { seq: 4, value: Buffer.from([0, 1, 2, 255]).toString('base64') }
  ])

  const row = await infoRow(host, key)
  assert.equal(row.key, key)
  assert.match(row.discoveryKey, /^[0-9a-f]{64}$/)
  assert.equal(row.length, 5)
  assert.equal(row.byteLength, 3 + 3 + 5 + 4 + 4)
  assert.equal(row.downloaded, 5)
  assert.equal(row.peers, 0)
  assert.equal(row.seeding, false)

  // Usage errors exit 2 and say why; appending to a core we cannot write fails with 1.
  const bad = await hypFail(['cat', '--host', host, '--no-spawn', 'nothex'])
  assert.equal(bad.code, 2, describeRun(bad))
  const other = await hypFail(['append', '--host', host, '--no-spawn', 'ab'.repeat(32), 'x'])
  assert.equal(other.code, 1, describeRun(other))
  assert.match(other.stderr, /not writable here/)
  return key
}

describe('hyp on one daemon', () => {
  it('create, append, cat, info on our daemon', T, async () => {
    await withCleanup(async cleanup => {
      const daemon = await d.runningDaemon({ label: 'hb', storage: fs.mkdtempSync(path.join(TMP, 'st-')) })
      cleanup.push(() => d.stopDaemon(daemon))
      await basics(daemon.name)
    })
  })

  it('create, append, cat, info on the JS hyperspace daemon', T, async () => {
    const boot = await startHypDht()
    await withCleanup(async cleanup => {
      cleanup.push(() => boot.stop())
      const host = await startJsServer(boot.address, cleanup, 'hjs')
      const key = await basics(host)
      // The JS client sees what hyp wrote.
      const client = new Client({ host })
      cleanup.push(async () => { try { await client.close() } catch (_) {} })
      const core = client.corestore().get(Buffer.from(key, 'hex'))
      await core.ready()
      assert.equal(core.length, 5)
      assert.equal((await core.get(2)).toString(), 'three')
    })
  })
})

describe('hyp across daemons', () => {
  it('cat and download fetch from peers; seed keeps a core downloaded, also after a restart', T, async () => {
    const boot = await startHypDht()
    await withCleanup(async cleanup => {
      cleanup.push(() => boot.stop())
      // The writer: a JS hyperspace with the JS client.
      const jsHost = await startJsServer(boot.address, cleanup, 'w')
      const client = new Client({ host: jsHost })
      cleanup.push(async () => { try { await client.close() } catch (_) {} })
      const core = client.corestore().get()
      await core.ready()
      await core.append(['a', 'b', 'c'].map(s => Buffer.from(s)))
      await client.network.configure(core.discoveryKey, { announce: true, lookup: true, flush: true })
      const key = core.key.toString('hex')

      // A reader: our daemon; hyp cat and download through it.
      const reader = await startOurDaemon(boot.address, cleanup, { label: 'r', bind: '127.0.0.2' })
      const cat = await hypOk(['cat', '--host', reader.name, '--no-spawn', key, '--end', '2'])
      assert.equal(cat.stdout.toString(), 'ab')
      const dl = await hypOk(['download', '--host', reader.name, '--no-spawn', key])
      assert.match(dl.stderr, /3\/3 blocks/, describeRun(dl))
      assert.equal((await infoRow(reader.name, key)).downloaded, 3)

      // A seeder: our daemon, told only `hyp seed KEY`: it downloads everything by itself.
      const storage = fs.mkdtempSync(path.join(TMP, 'seed-'))
      const network = ['--network-port', '0', '--no-local-discovery', '--bootstrap', boot.address, '--bind-address', '127.0.0.2']
      let seeder = await d.runningDaemon({ label: 's', storage, network })
      cleanup.push(() => d.stopDaemon(seeder))
      const seeded = await hypOk(['seed', '--host', seeder.name, '--no-spawn', key])
      assert.match(seeded.stdout.toString(), /^seeding [0-9a-f]{64}/)
      await eventually(async () => {
        const row = await infoRow(seeder.name, key)
        assert.equal(row.downloaded, 3, JSON.stringify(row))
        assert.equal(row.seeding, true)
      }, 60000, 'the seeder downloads the core')

      // Restart the seeder: it announces and downloads again, live appends too, with no client.
      await hypOk(['daemon', 'stop', '--host', seeder.name])
      seeder = await d.runningDaemon({ name: seeder.name, storage, network })
      await core.append(['d', 'e'].map(s => Buffer.from(s)))
      await eventually(async () => {
        const row = await infoRow(seeder.name, key)
        assert.equal(row.downloaded, 5, JSON.stringify(row))
      }, 60000, 'the restarted seeder downloads the new blocks')
      // unseed: the record goes, the seeder stops announcing.
      const unseed = await hypOk(['unseed', '--host', seeder.name, '--no-spawn', key])
      assert.match(unseed.stdout.toString(), /^stopped seeding/)
      assert.equal((await infoRow(seeder.name, key)).seeding, false)
    })
  })
})

describe('which daemon hyp talks to', () => {
  it('starts one in the background when none answers, unless --no-spawn', T, async () => {
    const home = fs.mkdtempSync(path.join(TMP, 'home-'))
    const name = d.uniqueName('auto')
    const env = { HOME: home, HYP_DAEMON_ARGS: '--no-local-discovery --network-port 0 --bootstrap 127.0.0.1:9' }
    const none = await hypFail(['info', '--host', name, '--no-spawn'], { env })
    assert.equal(none.code, 2, describeRun(none))
    assert.match(none.stderr, new RegExp(name + '\\.sock'))
    assert.match(none.stderr, /--no-spawn/)

    try {
      const created = await hypOk(['create', '--host', name], { env })
      assert.match(created.stdout.toString().trim(), /^[0-9a-f]{64}$/)
      assert.match(created.stderr, /starting one/)
      // It is there now, with the default storage under $HOME.
      const status = await hypOk(['daemon', 'status', '--host', name, '--json'], { env })
      const s = JSON.parse(status.stdout.toString())
      assert.equal(s.storage, path.join(home, '.hyperspace', 'storage'))
      assert.ok(fs.existsSync(path.join(home, '.hyperspace', 'daemon.log')))
      // daemon start when one runs says so.
      const again = await hypOk(['daemon', 'start', '--host', name], { env })
      assert.match(again.stdout.toString(), /already running/)
    } finally {
      await runHyp(['daemon', 'stop', '--host', name], { env })
    }
    const gone = await hypFail(['daemon', 'status', '--host', name], { env })
    assert.equal(gone.code, 2, describeRun(gone))

    // daemon start with daemon arguments after --.
    const storage = fs.mkdtempSync(path.join(TMP, 'st-'))
    const started = await hypOk(['daemon', 'start', '--host', name, '--', '--storage', storage], { env })
    try {
      assert.match(started.stdout.toString(), /The daemon is running \(pid \d+\)/)
      const s = JSON.parse((await hypOk(['status', '--host', name, '--json'], { env })).stdout.toString())
      assert.equal(s.storage, storage)
    } finally {
      await hypOk(['daemon', 'stop', '--host', name], { env })
    }
  })
})
