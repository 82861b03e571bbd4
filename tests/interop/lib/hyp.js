'use strict'

// Runs our C++ `hyp` binary as a black box.

const path = require('path')
const { spawn } = require('child_process')

const { executableFromEnv } = require('./util')

function hypBin () {
  return executableFromEnv('HYP_BIN', 'point it at our C++ hyp binary, e.g. HYP_BIN=/work/main/build/hyp node --test ' +
    'tests/interop/storage.test.js')
}

function fmtCmd (args) {
  return 'hyp ' + args.map(a => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')
}

// Runs hyp with args. opts.input: Buffer/string written to stdin (stdin is closed either way).
// opts.onStdout: if given, stdout chunks are handed to it instead of being collected.
// Resolves { code, signal, stdout: Buffer, stderr: string, cmd }.
function runHyp (args, opts = {}) {
  const bin = hypBin()
  const timeout = opts.timeout || 120000
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...(opts.env || {}) } })
    const out = []
    const err = []
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeout)
    child.stdout.on('data', d => (opts.onStdout ? opts.onStdout(d) : out.push(d)))
    child.stderr.on('data', d => err.push(d))
    child.stdin.on('error', () => {}) // hyp may exit before reading all of stdin
    child.on('error', e => { clearTimeout(timer); reject(e) })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const res = {
        code,
        signal,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString(),
        cmd: fmtCmd(args)
      }
      if (timedOut) return reject(new Error(res.cmd + ' timed out after ' + timeout + ' ms; stderr: ' + res.stderr))
      resolve(res)
    })
    if (opts.input !== undefined && opts.input !== null) child.stdin.end(opts.input)
    else child.stdin.end()
  })
}

function describeRun (res) {
  return res.cmd + ' -> exit ' + res.code + (res.signal ? ' (signal ' + res.signal + ')' : '') +
    '\nstderr: ' + res.stderr.slice(0, 2000) +
    '\nstdout: ' + res.stdout.subarray(0, 2000).toString()
}

// Runs hyp and throws (with full context) unless it exits 0.
async function hypOk (args, opts) {
  const res = await runHyp(args, opts)
  if (res.code !== 0) throw new Error('expected success: ' + describeRun(res))
  return res
}

// Runs hyp and throws unless it exits non-zero (and was not killed by a signal, i.e. did not crash).
async function hypFail (args, opts) {
  const res = await runHyp(args, opts)
  if (res.signal) throw new Error('hyp crashed instead of failing cleanly: ' + describeRun(res))
  if (res.code === 0) throw new Error('expected a non-zero exit: ' + describeRun(res))
  return res
}

// The array `hyp storage ls --json` printed (res: its runHyp result); throws unless stdout is one
// JSON array.
function lsArray (res) {
  let arr
  try {
    arr = JSON.parse(res.stdout.toString())
  } catch (err) {
    throw new Error('ls --json did not print one JSON document: ' + describeRun(res))
  }
  if (!Array.isArray(arr)) throw new Error('ls --json prints an array: ' + describeRun(res))
  return arr
}

module.exports = { hypBin, runHyp, hypOk, hypFail, describeRun, lsArray }
