'use strict'

const fs = require('fs')
const os = require('os')
const path = require('path')
const nodeCrypto = require('crypto')
const { StringDecoder } = require('string_decoder')

// The absolute path of the executable named by environment variable `name`; throws, with `hint`
// (how to set it), when it is unset or not an executable file.
function executableFromEnv (name, hint) {
  const bin = process.env[name]
  if (!bin) throw new Error(name + ' is not set: ' + hint)
  const abs = path.resolve(bin)
  try {
    fs.accessSync(abs, fs.constants.X_OK)
  } catch (err) {
    throw new Error(name + '=' + bin + ' is not an executable file (' + err.code + ')')
  }
  return abs
}

// Deterministic pseudo-random source, so a failing run can be replayed with HYP_TEST_SEED.
class Rng {
  constructor (seed) {
    this.seed = seed >>> 0
    this.state = this.seed || 1
    this.streamKey = nodeCrypto.createHash('sha256').update('hyp-storage-test:' + this.seed).digest()
    this.streamCounter = 0
  }

  // mulberry32
  next () {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  int (lo, hi) { // inclusive
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }

  // n pseudo-random bytes (AES-256-CTR keystream over a per-call IV)
  bytes (n) {
    const iv = Buffer.alloc(16)
    iv.writeUInt32BE(this.streamCounter++, 0)
    const c = nodeCrypto.createCipheriv('aes-256-ctr', this.streamKey, iv)
    return Buffer.concat([c.update(Buffer.alloc(n)), c.final()])
  }
}

function testSeed () {
  const env = process.env.HYP_TEST_SEED
  if (env !== undefined && env !== '') return Number(env) >>> 0
  return nodeCrypto.randomBytes(4).readUInt32BE(0)
}

const tmpDirs = []

function mkTmp (label) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hyp-storage-' + label + '-'))
  tmpDirs.push(dir)
  return dir
}

function cleanupTmp () {
  if (process.env.HYP_TEST_KEEP) {
    for (const d of tmpDirs) process.stderr.write('# kept ' + d + '\n')
    return
  }
  while (tmpDirs.length) fs.rmSync(tmpDirs.pop(), { recursive: true, force: true })
}

function sha256 (buf) {
  return nodeCrypto.createHash('sha256').update(buf).digest('hex')
}

// Digest over the block sequence that also pins block boundaries: sha256(u32BE(len) || block ...).
class BlockDigest {
  constructor () {
    this.h = nodeCrypto.createHash('sha256')
    this.count = 0
    this.bytes = 0
  }

  add (block) {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(block.length, 0)
    this.h.update(len)
    this.h.update(block)
    this.count++
    this.bytes += block.length
  }

  digest () { return this.h.digest('hex') }
}

// Every file under dir: relative path -> { size, sha256, mtimeNs }.
function snapshot (dir) {
  const out = {}
  const walk = rel => {
    for (const ent of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? rel + '/' + ent.name : ent.name
      if (ent.isDirectory()) walk(r)
      else {
        const abs = path.join(dir, r)
        const st = fs.statSync(abs, { bigint: true })
        out[r] = { size: Number(st.size), sha256: sha256(fs.readFileSync(abs)), mtimeNs: String(st.mtimeNs) }
      }
    }
  }
  walk('')
  return out
}

// Content of every file under dir: relative path -> sha256.
function treeContents (dir) {
  return Object.fromEntries(Object.entries(snapshot(dir)).map(([r, s]) => [r, s.sha256]))
}

// Content only (no mtimes) of the files in one directory.
function contentSnapshot (dir) {
  const out = {}
  for (const name of fs.readdirSync(dir).sort()) out[name] = sha256(fs.readFileSync(path.join(dir, name)))
  return out
}

// Incremental parser for newline-delimited JSON.
class JsonLines {
  constructor (onObject) {
    this.onObject = onObject
    this.rest = ''
    this.lineNo = 0
    this.decoder = new StringDecoder('utf8')
  }

  push (chunk) {
    const text = this.rest + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk))
    const lines = text.split('\n')
    this.rest = lines.pop()
    for (const line of lines) this._line(line)
  }

  end () {
    this.rest += this.decoder.end()
    if (this.rest !== '') throw new Error('output does not end with a newline: last line ' + JSON.stringify(this.rest.slice(0, 200)))
  }

  _line (line) {
    this.lineNo++
    let obj
    try {
      obj = JSON.parse(line)
    } catch (err) {
      throw new Error('line ' + this.lineNo + ' is not JSON: ' + JSON.stringify(line.slice(0, 200)))
    }
    this.onObject(obj, this.lineNo)
  }
}

function parseJsonLines (buf) {
  const out = []
  const p = new JsonLines(o => out.push(o))
  p.push(buf)
  p.end()
  return out
}

// Retries fn until it resolves; throws after `ms` with the last failure (discovery, replication
// and events take a moment to arrive).
async function eventually (fn, ms = 30000, what = 'condition', pollMs = 100) {
  const end = Date.now() + ms
  let last
  for (;;) {
    try {
      return await fn()
    } catch (err) {
      last = err
    }
    if (Date.now() > end) throw new Error(what + ' not met within ' + ms + ' ms: ' + (last && last.message))
    await new Promise(resolve => setTimeout(resolve, pollMs))
  }
}

module.exports = { eventually, executableFromEnv, Rng, testSeed, mkTmp, cleanupTmp, sha256, BlockDigest, snapshot, treeContents, contentSnapshot, JsonLines, parseJsonLines }
