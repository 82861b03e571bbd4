'use strict'

// A child process that prints one JSON object per line on stdout (tests/interop/stream_peer.cpp,
// tests/interop/mdns_peer.cpp): collects the lines as they arrive and waits for one that matches.
// listWaiter: the same wait on any list that grows.

const path = require('path')
const readline = require('readline')
const { spawn } = require('child_process')

// Runs bin with args. opts.stdin: 'pipe' to write commands to the peer (default 'ignore');
// opts.waitMs: how long waitFor waits by default; opts.lineMax: how much of each line describe()
// shows. Returns { child, lines, exited, waitFor, describe, kill }: `lines` fills as lines come
// (a line that is not JSON becomes { event: 'unparsable', line }), `exited` resolves with
// { code, signal } after the last line was delivered, kill() sends SIGKILL unless it has exited.
// waitFor(pred, ms) on a list that grows: resolves with the first item matching pred; rejects
// after ms with new Error(timeoutMessage()), or once isDone() with new Error(doneMessage()).
// Call notify() whenever the list grows or isDone() may have changed.
function listWaiter (list, { timeoutMessage, isDone = () => false, doneMessage = timeoutMessage, ms = 20000 }) {
  const waiters = []
  const notify = () => { for (const w of waiters.slice()) w() }
  function waitFor (pred, timeoutMs = ms) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { cleanup(); reject(new Error(timeoutMessage())) }, timeoutMs)
      function check () {
        const hit = list.find(pred)
        if (hit) { cleanup(); resolve(hit); return }
        if (isDone()) { cleanup(); reject(new Error(doneMessage())) }
      }
      function cleanup () {
        clearTimeout(timer)
        const i = waiters.indexOf(check)
        if (i !== -1) waiters.splice(i, 1)
      }
      waiters.push(check)
      check()
    })
  }
  return { waitFor, notify }
}

function startJsonPeer (bin, args, opts = {}) {
  const name = path.basename(bin)
  const child = spawn(bin, args, { stdio: [opts.stdin || 'ignore', 'pipe', 'pipe'] })
  const lines = []
  let stderr = ''
  let done = false
  // Resolves with the first line matching `pred`; rejects if the peer exits first or after `ms`.
  const waiter = listWaiter(lines, {
    timeoutMessage: () => 'timed out waiting for a line\n' + describe(),
    isDone: () => done,
    doneMessage: () => name + ' exited first\n' + describe(),
    ms: opts.waitMs || 20000
  })
  const waitFor = waiter.waitFor
  child.stderr.on('data', (d) => { stderr += d })
  readline.createInterface({ input: child.stdout }).on('line', (l) => {
    let j
    try {
      j = JSON.parse(l)
    } catch (err) {
      j = { event: 'unparsable', line: l }
    }
    lines.push(j)
    waiter.notify()
  })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    // let readline deliver the last lines first
    setImmediate(() => {
      done = true
      waiter.notify()
      resolve({ code, signal })
    })
  }))
  const show = (l) => opts.lineMax ? JSON.stringify(l).slice(0, opts.lineMax) : JSON.stringify(l)
  const describe = () => name + ' ' + args.join(' ') + '\nstdout:\n' + lines.map(show).join('\n') +
    '\nstderr:\n' + stderr
  return { child, lines, exited, waitFor, describe, kill: () => { if (!done) child.kill('SIGKILL') } }
}

// A predicate for waitFor: the line's event is `name`.
function event (name) {
  return (l) => l.event === name
}

module.exports = { startJsonPeer, listWaiter, event }
