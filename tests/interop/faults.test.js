'use strict'

// Failing disk writes under the real daemon (issue 9 part 1). Our `hyperspace` (HYPERSPACE_BIN)
// runs under strace, which fails the n-th pwrite64/pwritev on one file of one core with ENOSPC or
// EIO, while the pinned JS @hyperspace/client appends to that core. For every variant:
//   - the append that hit the fault is rejected with a message naming the core, the others are
//     acknowledged, and the daemon keeps serving;
//   - has() and get() never show a block at or past the length (nothing of the failed batch);
//   - a fresh reader (another of our daemons, or a JS hyperspace 3.19 server) replicates every
//     acknowledged block through a DHT on loopback and verifies it, also a live append made
//     after the failure;
//   - after `hyp stop` and a restart without strace every acknowledged block is there with its
//     content, the length is right, and `hyp storage verify` is clean.
//
//   HYPERSPACE_BIN=build/hyperspace HYP_BIN=build/hyp node --test tests/interop/faults.test.js
//
// Needs strace (STRACE_BIN, default `strace` on PATH) and ptrace permission (root, or
// kernel.yama.ptrace_scope 0 or 1 since strace starts the daemon itself). Runs inside the
// loopback-only namespace of scripts/test.sh: the DHT node and every daemon use 127.0.0.0/8, the
// traced writer binds 127.0.0.2 (the JS networker ignores peers at exactly 127.0.0.1).

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('fs')
const path = require('path')
const { spawn, spawnSync } = require('child_process')

const d = require('./lib/daemon')
const { connect, jsServerClient } = require('./lib/daemon_helpers')
const { runHyp, describeRun } = require('./lib/hyp')

const HYPERSPACE = d.hyperspaceBin() // fails at once with a clear message when unset
const STRACE = straceBin()
const TMP = fs.realpathSync(d.setTmpdir()) // strace -P compares resolved paths
const createDht = require('@hyperswarm/dht')

const T = { timeout: 60000 }

function straceBin () {
  const bin = process.env.STRACE_BIN || 'strace'
  const res = spawnSync(bin, ['-V'], { encoding: 'utf8' })
  if (res.error || res.status !== 0) {
    throw new Error('strace is needed for these tests (STRACE_BIN=' + bin + '): ' +
      (res.error ? res.error.message : res.stderr) + '; install it (scripts/setup.sh does)')
  }
  return bin
}

// Core folder of a discovery key in a corestore 5 storage folder (docs/formats/sleep.md).
function coreDir (storage, discoveryKey) {
  const dk = discoveryKey.toString('hex')
  return path.join(storage, dk.slice(0, 2), dk.slice(2, 4), dk)
}

async function withCleanup (fn) {
  const cleanup = []
  try {
    return await fn(cleanup)
  } finally {
    for (const c of cleanup.reverse()) {
      try { await c() } catch (_) {}
    }
  }
}

const { eventually } = require('./lib/util')

// Resolves 'rejected: <message>' or 'resolved' (or 'pending' after ms): for calls that must fail.
function outcome (promise, ms = 5000) {
  let timer
  return Promise.race([
    promise.then(v => 'resolved: ' + String(v), err => 'rejected: ' + err.message),
    new Promise(resolve => { timer = setTimeout(() => resolve('pending'), ms) })
  ]).finally(() => clearTimeout(timer))
}

// The daemon's command line, as lib/daemon.js builds it, on the loopback DHT `bootstrap`.
function daemonArgs (name, storage, bootstrap) {
  return ['--host', name, '--storage', storage, '--log-level', 'debug', '--network-port', '0',
    '--no-local-discovery', '--bootstrap', bootstrap, '--bind-address', '127.0.0.2']
}

// Starts our daemon under strace, failing the `when`-th pwrite64 (and pwritev: strace counts
// each syscall on its own) on `file` with `error`. The handle of lib/daemon.js (watchDaemon), plus
// `tracee` (the daemon's pid) and `log` (strace's output file).
function startTraced ({ name, storage, bootstrap, file, error, when }) {
  const log = path.join(TMP, name + '.strace')
  const args = ['-f', '-qq', '--seccomp-bpf', '-o', log, '-P', file,
    '-e', 'trace=pwrite64,pwritev', '-e', 'inject=pwrite64,pwritev:error=' + error + ':when=' + when,
    '--', HYPERSPACE, ...daemonArgs(name, storage, bootstrap)]
  const child = spawn(STRACE, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  return d.watchDaemon({ name, args: [STRACE, ...args], child, log },
    { what: 'traced daemon', hint: 'is ptrace allowed here?' })
}

// The daemon strace started: SIGTERM to strace itself would only detach it.
function traceeOf (handle) {
  try {
    const kids = fs.readFileSync('/proc/' + handle.child.pid + '/task/' + handle.child.pid + '/children', 'utf8')
    return Number(kids.trim().split(/\s+/)[0]) || null
  } catch (_) {
    return null
  }
}

async function killTraced (handle) {
  if (handle.exitCode !== undefined) return
  const pid = traceeOf(handle)
  if (pid) try { process.kill(pid, 'SIGKILL') } catch (_) {}
  const timer = setTimeout(() => handle.child.kill('SIGKILL'), 5000)
  await handle.exited
  clearTimeout(timer)
}

async function hypStop (daemon, exitCode = 0) {
  const res = await runHyp(['stop', '--host', daemon.name], { timeout: 20000 })
  assert.equal(res.code, 0, 'hyp stop: ' + describeRun(res) + '\n' + d.describe(daemon))
  const { code } = await daemon.exited
  assert.equal(code, exitCode, 'the daemon\'s exit code after hyp stop: ' + d.describe(daemon))
}

function blocks (values) {
  return values.map(v => Buffer.from(v))
}

// Every acknowledged block is there, in order; nothing at or past the length.
async function assertExactly (core, acked, where) {
  assert.equal(core.length, acked.length, where + ': length')
  for (let i = 0; i < acked.length + 6; i++) {
    assert.equal(await core.has(i), i < acked.length, where + ': has(' + i + ') at length ' + acked.length)
  }
  for (let i = 0; i < acked.length; i++) {
    assert.equal((await core.get(i)).toString(), acked[i], where + ': get(' + i + ')')
  }
  const past = await outcome(core.get(acked.length, { wait: false }))
  assert.match(past, /^rejected: /, where + ': get(' + acked.length + ') at length ' + acked.length + ' answers ' + past)
}

// A fresh reader replicates the core through the DHT and verifies every block (it rejects a
// block or a signature that does not verify, so a bad one never arrives).
async function assertReplicates (readerClient, key, acked, where) {
  const mirror = readerClient.corestore().get(key)
  await mirror.ready()
  await readerClient.network.configure(mirror.discoveryKey, { announce: false, lookup: true })
  await eventually(async () => {
    await mirror.update({ ifAvailable: true, minLength: acked.length })
    assert.ok(mirror.length >= acked.length, 'length ' + mirror.length)
  }, 20000, where + ': the reader sees length ' + acked.length)
  assert.equal(mirror.length, acked.length, where + ': the reader\'s length')
  for (let i = 0; i < acked.length; i++) {
    const got = await outcome(mirror.get(i, { ifAvailable: false }), 10000)
    assert.equal(got, 'resolved: ' + acked[i], where + ': the reader\'s block ' + i)
  }
  assert.equal(await mirror.has(acked.length), false, where + ': the reader has nothing past the length')
  return mirror
}

let dht = null
before(async () => {
  const node = createDht({ bootstrap: false, ephemeral: false })
  await new Promise(resolve => node.listen(0, '127.0.0.1', resolve))
  dht = { node, address: '127.0.0.1:' + node.address().port }
})
after(async () => {
  if (dht) dht.node.destroy()
  d.cleanupTmpdir()
})

// One variant: the core gets its first block from a plain daemon; then, under strace, `ops` run
// in order (each an append of those blocks); the ones at the indexes in `fail` must be rejected.
async function faultScenario (v) {
  await withCleanup(async (cleanup) => {
    const storage = fs.mkdtempSync(path.join(TMP, 'st-'))
    const name = d.uniqueName('flt')
    const acked = ['first']

    // 1. Create the core (its files, and so the path strace watches, exist only from now on).
    let daemon = await d.runningDaemon({ name, storage })
    cleanup.push(() => d.stopDaemon(daemon, 'SIGKILL'))
    let client = connect(daemon, cleanup)
    let core = client.corestore('faults').get({ name: 'c' })
    await core.append(Buffer.from('first'))
    const key = core.key
    const keyHex = key.toString('hex')
    const file = path.join(coreDir(storage, core.discoveryKey), v.file)
    assert.ok(fs.existsSync(file), file + ' exists')
    await client.close()
    await hypStop(daemon)

    // 2. The same daemon under strace; appends, some of them failing.
    const traced = startTraced({ name, storage, bootstrap: dht.address, file, error: v.error, when: v.when })
    cleanup.push(() => killTraced(traced))
    await traced.listening
    client = connect(traced, cleanup)
    core = client.corestore('faults').get({ name: 'c' })
    await core.ready()
    assert.equal(core.length, 1)
    const failed = []
    for (let i = 0; i < v.ops.length; i++) {
      const got = await outcome(core.append(blocks(v.ops[i])), 10000)
      if (got.startsWith('rejected: ')) {
        failed.push(i)
        assert.ok(got.includes('core ' + keyHex), 'the error names the core: ' + got)
        assert.ok(got.includes(v.file), 'the error names the file: ' + got)
        assert.match(got, v.message, 'the error says what failed: ' + got)
        assert.match(got, /nothing was appended/, got)
      } else {
        assert.match(got, /^resolved: /, 'append ' + i + ': ' + got)
        acked.push(...v.ops[i])
      }
    }
    const log = fs.readFileSync(traced.log, 'utf8')
    assert.match(log, /INJECTED/, 'strace injected the fault:\n' + log)
    assert.deepEqual(failed, v.fail, 'the appends that failed (strace log:\n' + log + ')')

    // 3. What the daemon serves now: a fresh session, then fresh readers over the network.
    const client2 = connect(traced, cleanup)
    const fresh = client2.corestore().get(key)
    await fresh.ready()
    await assertExactly(fresh, acked, v.label + ', traced daemon, fresh session')
    await assertExactly(core, acked, v.label + ', traced daemon, writer session')
    await client.network.configure(core.discoveryKey, { announce: true, lookup: true, flush: true })
    const mirrors = []
    for (const kind of v.readers) {
      let readerClient
      if (kind === 'js') {
        readerClient = await jsServerClient(dht.address, cleanup, 'jsr')
      } else {
        const reader = await d.runningDaemon({
          label: 'rd',
          storage: fs.mkdtempSync(path.join(TMP, 'rd-')),
          network: ['--network-port', '0', '--no-local-discovery', '--bootstrap', dht.address]
        })
        cleanup.push(() => d.stopDaemon(reader))
        readerClient = connect(reader, cleanup)
      }
      mirrors.push([kind, await assertReplicates(readerClient, key, acked, v.label + ', ' + kind + ' reader')])
    }
    // A live append after the failure reaches every reader and verifies there (unless the disk
    // stays full: then it fails as well, and changes nothing).
    const live = await outcome(core.append(Buffer.from('live')), 10000)
    if (v.live === false) {
      assert.match(live, /^rejected: .*nothing was appended/, 'the disk is still full: ' + live)
      await assertExactly(fresh, acked, v.label + ', traced daemon, after the failed live append')
    } else {
      assert.match(live, /^resolved: /, 'the live append: ' + live)
      acked.push('live')
    }
    for (const [kind, mirror] of v.live === false ? [] : mirrors) {
      const where = v.label + ', ' + kind + ' reader, live append'
      const up = await outcome(mirror.update({ ifAvailable: false, minLength: acked.length }), 15000)
      assert.match(up, /^resolved/, where + ': update ' + up)
      assert.equal(mirror.length, acked.length, where)
      assert.equal(await outcome(mirror.get(acked.length - 1, { ifAvailable: false }), 10000), 'resolved: live', where)
    }
    await client.close()
    await client2.close()
    if (v.stop === 'SIGKILL') {
      const pid = traceeOf(traced)
      assert.ok(pid, 'the traced daemon\'s pid')
      process.kill(pid, 'SIGKILL')
      await traced.exited
    } else if (v.live === false) {
      // The disk is still full: the final flush fails, and the daemon says so in its exit code.
      await hypStop(traced, 1)
      assert.match(traced.stderr, /flushing the storage failed: cannot write \S+\/bitfield: No space left on device/, d.describe(traced))
    } else {
      await hypStop(traced)
    }

    // 4. A clean restart without strace: every acknowledged block, the right length, nothing more.
    daemon = await d.runningDaemon({ name, storage })
    client = connect(daemon, cleanup)
    core = client.corestore('faults').get({ name: 'c' })
    await core.ready()
    await assertExactly(core, acked, v.label + ', after a restart')
    await core.append(Buffer.from('after'))
    acked.push('after')
    await client.close()
    await hypStop(daemon)

    const verify = await runHyp(['storage', 'verify', '--storage', storage, '--json'], { timeout: 20000 })
    assert.equal(verify.code, 0, 'hyp storage verify: ' + describeRun(verify))
    const ls = await runHyp(['storage', 'ls', '--storage', storage, '--json'], { timeout: 20000 })
    assert.equal(ls.code, 0, describeRun(ls))
    const entry = JSON.parse(ls.stdout.toString()).find(e => e.key === keyHex)
    assert.ok(entry, 'hyp storage ls lists the core: ' + ls.stdout)
    assert.equal(entry.length, acked.length, 'hyp storage ls length')
    const cat = await runHyp(['storage', 'cat', '--storage', storage, keyHex], { timeout: 20000 })
    assert.equal(cat.code, 0, describeRun(cat))
    assert.equal(cat.stdout.toString(), acked.join(''), 'hyp storage cat')
  })
}

// The reproduction: one block, a batch of four, three single blocks.
const REPRO = [['one'], ['lost1', 'lost2', 'lost3', 'lost4'], ['s1'], ['s2'], ['s3']]
const NO_SPACE = /No space left on device/
const IO_ERROR = /Input\/output error/

describe('appends on a failing disk, under strace', () => {
  it('ENOSPC on the 2nd bitfield write (the issue\'s reproduction), JS and our readers', T, () => faultScenario({
    label: 'bitfield@2', file: 'bitfield', error: 'ENOSPC', when: '2', ops: REPRO, fail: [1], message: NO_SPACE, readers: ['ours', 'js']
  }))
  it('ENOSPC on the 1st bitfield write', T, () => faultScenario({
    label: 'bitfield@1', file: 'bitfield', error: 'ENOSPC', when: '1', ops: REPRO, fail: [0], message: NO_SPACE, readers: ['ours']
  }))
  it('ENOSPC on bitfield writes 2 to 4 (the rewrite at once and the next append fail too)', T, () => faultScenario({
    label: 'bitfield@2..4', file: 'bitfield', error: 'ENOSPC', when: '2..4', ops: REPRO, fail: [1, 2], message: NO_SPACE, readers: ['ours']
  }))
  it('ENOSPC on every bitfield write from the 2nd on, then hyp stop', T, () => faultScenario({
    label: 'bitfield@2+', file: 'bitfield', error: 'ENOSPC', when: '2+', ops: REPRO, fail: [1, 2, 3, 4], message: NO_SPACE, readers: ['ours'], live: false
  }))
  it('ENOSPC on every bitfield write from the 2nd on, then SIGKILL', T, () => faultScenario({
    label: 'bitfield@2+ (SIGKILL)', file: 'bitfield', error: 'ENOSPC', when: '2+', ops: REPRO, fail: [1, 2, 3, 4], message: NO_SPACE, readers: ['ours'], live: false, stop: 'SIGKILL'
  }))
  it('ENOSPC on the 2nd signatures write', T, () => faultScenario({
    label: 'signatures@2', file: 'signatures', error: 'ENOSPC', when: '2', ops: REPRO, fail: [1], message: NO_SPACE, readers: ['ours']
  }))
  it('EIO on a tree write of the batch', T, () => faultScenario({
    label: 'tree@3', file: 'tree', error: 'EIO', when: '3', ops: REPRO, fail: [1], message: IO_ERROR, readers: ['ours']
  }))
  it('EIO on the data write of the batch', T, () => faultScenario({
    label: 'data@2', file: 'data', error: 'EIO', when: '2', ops: REPRO, fail: [1], message: IO_ERROR, readers: ['ours']
  }))
})
