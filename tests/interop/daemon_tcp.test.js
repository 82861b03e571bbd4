'use strict'

// The daemon's TCP endpoint (--port) driven by the pinned JS @hyperspace/client and hyp. By default
// it listens on 127.0.0.1 and ::1 (Node 18 connects to the first address `localhost` resolves to,
// ::1 on Debian 12); where IPv6 is off it serves 127.0.0.1 alone and says so. ctest runs this
// file as is (interop_daemon_tcp) and in a namespace with IPv6 off (interop_daemon_no_ipv6).
//
//   HYPERSPACE_BIN=build/hyperspace HYP_BIN=build/hyp node --test tests/interop/daemon_tcp.test.js

const { describe, it, after } = require('node:test')
const assert = require('node:assert/strict')
const { once } = require('events')

const d = require('./lib/daemon')
const { runHyp, describeRun } = require('./lib/hyp')
const { connect, withCleanup, daemonCleanup, hypJson, waitUntil, ipv6Loopback } = require('./lib/daemon_helpers')

d.hyperspaceBin() // fail at once with a clear message when HYPERSPACE_BIN is unset
d.setTmpdir()

after(d.cleanupTmpdir)

const T = { timeout: 60000 }

describe('TCP', () => {
  it('binds 127.0.0.1 and ::1 by default and serves the same API; hyp status --port', T, () => withCleanup(async (cleanup) => {
    const daemon = daemonCleanup(cleanup, await d.runningDaemon({ memory: true, port: 0 }))
    assert.match(daemon.endpoint, /^127\.0\.0\.1:\d+$/)
    assert.ok(daemon.port > 0)
    if (await ipv6Loopback()) {
      // Node 18 connects to the first address `localhost` resolves to, often ::1.
      assert.match(daemon.stdout, new RegExp('Listening on 127\\.0\\.0\\.1:' + daemon.port + ' and \\[::1\\]:' + daemon.port + '\n'))
      const v6 = connect(daemon, cleanup, { host: '::1' })
      assert.equal((await v6.status()).apiVersion, '1.15.1')
      const json6 = await hypJson(['status', '--host', '::1', '--port', String(daemon.port), '--json'])
      assert.equal(json6.socket, '[::1]:' + daemon.port)
      const core6 = v6.corestore('tcp6').get({ name: 'six' })
      await core6.append(Buffer.from('over ::1'))
      assert.deepEqual(await core6.get(0), Buffer.from('over ::1'))
    } else {
      // No IPv6 here: the daemon says so and serves on 127.0.0.1 alone.
      await waitUntil(() => /cannot listen on \[::1\]:\d+.*serving on 127\.0\.0\.1:\d+ only/.test(daemon.stderr))
      assert.match(daemon.stdout, new RegExp('Listening on 127\\.0\\.0\\.1:' + daemon.port + '\n'))
    }
    const a = connect(daemon, cleanup, { host: '127.0.0.1' })
    const b = connect(daemon, cleanup) // { port } only, as JS apps do
    const core = a.corestore('tcp').get({ name: 't', valueEncoding: 'utf-8' })
    await core.append(['over', 'tcp'])
    const mirror = b.corestore('tcp2').get(core.key, { valueEncoding: 'utf-8' })
    await mirror.ready()
    const appended = once(mirror, 'append')
    await core.append('!')
    await appended
    assert.equal(await mirror.get(2), '!')
    assert.equal(await mirror.get(1), 'tcp')
    const release = await core.lock()
    release()
    const json = await hypJson(['status', '--port', String(daemon.port), '--json'])
    assert.equal(json.socket, '127.0.0.1:' + daemon.port)
    assert.equal(json.apiVersion, '1.15.1')
    assert.ok(json.cores >= 1)
    // A second daemon on the same port refuses and shows the first one's status.
    const second = d.startDaemon({ memory: true, port: daemon.port })
    assert.equal((await second.exited).code, 1, d.describe(second))
    assert.match(second.stdout, /already running/)
    const stop = await runHyp(['stop', '--port', String(daemon.port)])
    assert.equal(stop.code, 0, describeRun(stop))
    assert.equal((await daemon.exited).code, 0)
  }))

  it('--host with --port binds that address and warns', T, () => withCleanup(async (cleanup) => {
    const daemon = daemonCleanup(cleanup, await d.runningDaemon({ memory: true, port: 0, host: '0.0.0.0' }))
    assert.match(daemon.endpoint, /^0\.0\.0\.0:\d+$/)
    await waitUntil(() => /without authentication/.test(daemon.stderr))
    const c = connect(daemon, cleanup, { host: '127.0.0.1' })
    assert.equal((await c.status()).version, '3.19.0')
  }))
  it('--host ::1 binds ::1 alone; hyp status/stop --port find it there', T, () => withCleanup(async (cleanup) => {
    if (!(await ipv6Loopback())) {
      const daemon = d.startDaemon({ memory: true, port: 0, host: '::1' })
      cleanup.push(async () => { await d.stopDaemon(daemon) })
      assert.equal((await daemon.exited).code, 1, d.describe(daemon))
      assert.match(daemon.stderr, /cannot listen on \[::1\]:0/)
      return
    }
    const daemon = daemonCleanup(cleanup, await d.runningDaemon({ memory: true, port: 0, host: '::1' }))
    assert.match(daemon.stdout, /Listening on \[::1\]:\d+\n/)
    assert.doesNotMatch(daemon.stderr, /without authentication/)
    const c = connect(daemon, cleanup, { host: '::1' })
    assert.equal((await c.status()).apiVersion, '1.15.1')
    // No --host: 127.0.0.1 refuses, ::1 answers.
    const json = await hypJson(['status', '--port', String(daemon.port), '--json'])
    assert.equal(json.socket, '[::1]:' + daemon.port)
    const stop = await runHyp(['stop', '--port', String(daemon.port)])
    assert.equal(stop.code, 0, describeRun(stop))
    assert.equal((await daemon.exited).code, 0)
  }))
})
