'use strict'

// Runs a long-lived `hyp` process (e.g. `hyp replicate --listen` or `--live`) as a black box:
// watches its stderr lines, signals it, and collects its exit. Short commands use lib/hyp.js.

const { spawn } = require('child_process')
const { hypBin } = require('./hyp')

// Every child still running, so a test runner can kill them all even after a test timed out.
const running = new Set()

function killAll () {
  for (const c of running) c.kill('SIGKILL')
  running.clear()
}

function fmtCmd (args) {
  return 'hyp ' + args.map(a => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')
}

// Starts hyp with args. Returns an object with:
//   child, cmd, startedAt
//   stderr() / stdout(): what arrived so far (string / Buffer)
//   waitStderr(regex, ms): resolves the first regex match on a stderr line (rejects on exit or timeout)
//   exited: promise of { code, signal, stdout: Buffer, stderr: string, cmd, ms } (never rejects)
//   signal(sig): sends a signal if still running
//   stop(sig, ms): sends sig (default SIGTERM) and resolves the exit; SIGKILLs after ms and rejects
//   kill(): SIGKILL if running (cleanup)
function startHyp (args, opts = {}) {
  const bin = hypBin()
  const cmd = fmtCmd(args)
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(opts.env || {}) } })
  const startedAt = Date.now()
  running.add(child)
  const out = []
  let err = ''
  let pending = ''
  const lines = []
  const waiters = new Set()
  let done = false
  let spawnError = null
  child.stdout.on('data', d => out.push(d))
  child.stderr.on('data', d => {
    err += d
    pending += d
    const parts = pending.split('\n')
    pending = parts.pop()
    for (const l of parts) lines.push(l)
    for (const w of [...waiters]) w()
  })
  child.on('error', e => { spawnError = e })
  const exited = new Promise(resolve => {
    child.on('close', (code, signal) => {
      done = true
      running.delete(child)
      if (pending) { lines.push(pending); pending = '' }
      for (const w of [...waiters]) w()
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out),
        stderr: err + (spawnError ? '\n[spawn error] ' + spawnError.message : ''),
        cmd,
        ms: Date.now() - startedAt
      })
    })
  })

  function describe () {
    return cmd + (done ? ' (exited)' : ' (running)') + '\nstderr: ' + err.slice(-3000) + '\nstdout: ' + Buffer.concat(out).subarray(0, 2000).toString()
  }

  function waitStderr (regex, ms = 20000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { waiters.delete(check); reject(new Error('timed out after ' + ms + ' ms waiting for stderr ' + regex + '\n' + describe())) }, ms)
      function check () {
        for (const l of lines) {
          const m = regex.exec(l)
          if (m) { clearTimeout(timer); waiters.delete(check); resolve(m); return }
        }
        if (done) { clearTimeout(timer); waiters.delete(check); reject(new Error('exited before stderr matched ' + regex + '\n' + describe())) }
      }
      waiters.add(check)
      check()
    })
  }

  function signal (sig) {
    if (!done) child.kill(sig)
  }

  async function stop (sig = 'SIGTERM', ms = 20000) {
    signal(sig)
    let timer
    const t = new Promise((resolve, reject) => {
      timer = setTimeout(() => {
        signal('SIGKILL')
        reject(new Error(cmd + ' did not exit within ' + ms + ' ms of ' + sig + '\n' + describe()))
      }, ms)
    })
    try {
      return await Promise.race([exited, t])
    } finally {
      clearTimeout(timer)
    }
  }

  return {
    child,
    cmd,
    startedAt,
    exited,
    stderr: () => err,
    stdout: () => Buffer.concat(out),
    isDone: () => done,
    waitStderr,
    signal,
    stop,
    kill: () => signal('SIGKILL'),
    describe
  }
}

// Waits for `listening HOST:PORT` on stderr (the `hyp replicate --listen` contract).
async function waitListening (p, ms = 20000) {
  const m = await p.waitStderr(/^listening (\S+):(\d+)\s*$/, ms)
  return { host: m[1], port: Number(m[2]) }
}

// Resolves the exit of p, or rejects after ms (and SIGKILLs it).
async function waitExit (p, ms) {
  let timer
  const t = new Promise((resolve, reject) => {
    timer = setTimeout(() => {
      p.kill()
      reject(new Error(p.cmd + ' did not exit within ' + ms + ' ms\n' + p.describe()))
    }, ms)
  })
  try {
    return await Promise.race([p.exited, t])
  } finally {
    clearTimeout(timer)
  }
}

module.exports = { startHyp, waitListening, waitExit, killAll, fmtCmd }
