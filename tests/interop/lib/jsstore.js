'use strict'

// Helpers around the pinned JS reference stack (corestore 5.8.2, hypercore 9.12.0).
// The on-disk store is built exactly like Hyperspace 3.19 builds it
// (node_modules/hyperspace/server.js: p => hypercoreStorage(path.join(dir, p))), so the
// bitfield files are flock'ed through fsctl like in the real daemon.

const path = require('path')
const fs = require('fs')
const Corestore = require('corestore')
const hypercoreStorage = require('hypercore-default-storage')
const ram = require('random-access-memory')
const crypto = require('hypercore-crypto')
const deriveSeed = require('derive-key')
const varint = require('varint')

function toPromise (fn) {
  return new Promise((resolve, reject) => {
    fn((err, val) => (err ? reject(err) : resolve(val)))
  })
}

async function openStore (dir) {
  const store = new Corestore(p => hypercoreStorage(path.join(dir, p)))
  await store.ready()
  return store
}

async function openMemoryStore () {
  const store = new Corestore(ram)
  await store.ready()
  return store
}

function closeStore (store) {
  return toPromise(cb => store.close(cb))
}

function ready (core) {
  return toPromise(cb => core.ready(cb))
}

function append (core, blocks) {
  return toPromise(cb => core.append(blocks, cb))
}

function get (core, seq, opts = {}) {
  return toPromise(cb => core.get(seq, { valueEncoding: 'binary', ...opts }, cb))
}

function has (core, seq) {
  return core.has(seq)
}

function audit (core) {
  return toPromise(cb => core.audit(cb))
}

function download (core, range) {
  return toPromise(cb => core.download(range, cb))
}

// Live replication between two JS corestores in the same process.
// Returns a function that tears the streams down.
function replicate (a, b) {
  const s1 = a.replicate(true, { live: true })
  const s2 = b.replicate(false, { live: true })
  s1.on('error', () => {})
  s2.on('error', () => {})
  s1.pipe(s2).pipe(s1)
  return function stop () {
    return new Promise(resolve => {
      let n = 2
      const done = () => { if (--n === 0) resolve() }
      s1.once('close', done)
      s2.once('close', done)
      s1.destroy()
      s2.destroy()
    })
  }
}

function hex (buf) {
  return Buffer.from(buf).toString('hex')
}

function coreDir (storageDir, discoveryKeyHex) {
  const dk = discoveryKeyHex
  return path.join(storageDir, dk.slice(0, 2), dk.slice(2, 4), dk)
}

// Decodes the `name` file corestore 5 writes (varint(len) || name). Returns a Buffer or null.
function readNameFile (storageDir, discoveryKeyHex) {
  const file = path.join(coreDir(storageDir, discoveryKeyHex), 'name')
  if (!fs.existsSync(file)) return null
  const buf = fs.readFileSync(file)
  const len = varint.decode(buf, 0)
  const off = varint.decode.bytes
  if (off + len !== buf.length) throw new Error('malformed name file ' + file)
  return buf.subarray(off)
}

// What corestore 5 derives for a name: H_master("9\ncorestore" || name) -> Ed25519 seed.
function derivePublicKey (masterKey, name) {
  if (typeof name === 'string') name = Buffer.from(name)
  const seed = deriveSeed('corestore', masterKey, name)
  return crypto.keyPair(seed).publicKey
}

function discoveryKey (key) {
  return crypto.discoveryKey(key)
}

module.exports = {
  openStore,
  openMemoryStore,
  closeStore,
  ready,
  append,
  get,
  has,
  audit,
  download,
  replicate,
  hex,
  coreDir,
  readNameFile,
  derivePublicKey,
  discoveryKey,
  toPromise
}
