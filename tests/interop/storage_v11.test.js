'use strict'

// `hyp storage` on second-generation cores (hypercore 11) against JS corestore 7.12.5 /
// hypercore 11.37.1: `append --generation 11 --name N` makes the core JS corestore 7 derives for
// that name from the folder's primary key; ls shows both generations; cat, verify and rm find a
// core by key in either; a damaged block is reported with the core's folder. (Replication of
// these cores to and from JS is in replicate_v11.test.js.)
//
//   HYP_BIN=/work/main/build/hyp node --test tests/interop/storage_v11.test.js

const { describe, it, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('fs')
const path = require('path')

const { hypBin, hypOk, hypFail, lsArray } = require('./lib/hyp')
const { mkTmp, cleanupTmp } = require('./lib/util')

hypBin()
const Corestore = require('corestore-v7')

after(cleanupTmp)

function primaryKey (dir) {
  return fs.readFileSync(path.join(dir, 'v11', 'primary-key'))
}

describe('hyp storage, second generation', () => {
  it('append --generation 11 --name makes the core JS corestore 7 derives for the name', async () => {
    const dir = mkTmp('v11-append')
    const values = ['a', 'bb', '', 'dddd']
    const res = await hypOk(['storage', 'append', '--storage', dir, '--generation', '11', '--name', 'log', '--json', ...values])
    const out = JSON.parse(res.stdout.toString())
    assert.equal(out.generation, 11)
    assert.equal(out.length, 4)
    assert.equal(out.byteLength, 7)

    const store = new Corestore(mkTmp('v11-js'), { primaryKey: primaryKey(dir), unsafe: true })
    const core = store.get({ name: 'log' })
    await core.ready()
    assert.equal(core.key.toString('hex'), out.key, 'the same key as JS corestore 7 for name "log"')
    await store.close()

    // stdin lines append to the same core by key; a second name is a second core.
    await hypOk(['storage', 'append', '--storage', dir, out.key], { input: 'e\nf\n' })
    await hypOk(['storage', 'append', '--storage', dir, '--generation', '11', '--name', 'other', 'x'])
    const cat = await hypOk(['storage', 'cat', '--storage', dir, out.key])
    assert.equal(cat.stdout.toString(), 'abbddddef')
    const json = await hypOk(['storage', 'cat', '--storage', dir, out.key, '--json', '--start', '1', '--end', '3'])
    assert.deepEqual(json.stdout.toString().trim().split('\n').map(l => JSON.parse(l)),
      [{ seq: 1, value: Buffer.from('bb').toString('base64') }, { seq: 2, value: '' }])
  })

  it('ls lists both generations; verify and rm find a core by key in either', async () => {
    const dir = mkTmp('v11-both')
    const v11 = JSON.parse((await hypOk(['storage', 'append', '--storage', dir, '--generation', '11', '--name', 'new', '--json', '1', '22'])).stdout)
    const v9 = JSON.parse((await hypOk(['storage', 'append', '--storage', dir, '--name', 'old', '--json', 'x'])).stdout)
    const rows = lsArray(await hypOk(['storage', 'ls', '--storage', dir, '--json']))
    const byKey = Object.fromEntries(rows.map(r => [r.key, r]))
    assert.equal(rows.length, 2)
    assert.equal(byKey[v11.key].generation, 11)
    assert.equal(byKey[v11.key].length, 2)
    assert.equal(byKey[v11.key].byteLength, 3)
    assert.equal(byKey[v11.key].writable, true)
    assert.equal(byKey[v9.key].generation, 9)
    assert.equal(byKey[v9.key].name, 'old')

    const all = JSON.parse((await hypOk(['storage', 'verify', '--storage', dir, '--json'])).stdout)
    assert.deepEqual(all, { cores: 2, blocks: 3, signatures: 2, damaged: [] })
    const one = JSON.parse((await hypOk(['storage', 'verify', '--storage', dir, v11.key, '--json'])).stdout)
    assert.equal(one.cores, 1)
    assert.equal(one.blocks, 2)

    await hypOk(['storage', 'rm', '--storage', dir, v11.key])
    const left = lsArray(await hypOk(['storage', 'ls', '--storage', dir, '--json']))
    assert.deepEqual(left.map(r => r.key), [v9.key])
    await hypFail(['storage', 'cat', '--storage', dir, v11.key])
  })

  it('a damaged block is reported with the core and its folder, and verify exits 1', async () => {
    const dir = mkTmp('v11-damage')
    const out = JSON.parse((await hypOk(['storage', 'append', '--storage', dir, '--generation', '11', '--name', 'd', '--json', 'hello', 'world'])).stdout)
    // Flip one byte of every stored block value wherever the storage keeps it (data file or log).
    const coreDir = fs.readdirSync(path.join(dir, 'v11', 'cores')).map(p => path.join(dir, 'v11', 'cores', p))
      .flatMap(p => fs.readdirSync(p).map(q => path.join(p, q)))[0]
    let flipped = 0
    for (const name of fs.readdirSync(coreDir)) {
      const file = path.join(coreDir, name)
      const buf = fs.readFileSync(file)
      const at = buf.indexOf('world')
      if (at < 0) continue
      buf[at] ^= 0x20
      fs.writeFileSync(file, buf)
      flipped++
    }
    assert.ok(flipped > 0, 'the block value is stored somewhere in ' + coreDir)
    const res = await hypFail(['storage', 'verify', '--storage', dir, '--json'])
    assert.equal(res.code, 1)
    const report = JSON.parse(res.stdout.toString())
    assert.ok(report.damaged.length >= 1, JSON.stringify(report))
    assert.equal(report.damaged[0].key, out.key)
    assert.ok(report.damaged[0].file.includes(path.basename(coreDir)), JSON.stringify(report.damaged[0]))
    assert.match(res.stderr.toString(), /damaged: core/)
  })

  it('append refuses --generation values other than 9 and 11, and a read-only core', async () => {
    const dir = mkTmp('v11-args')
    await hypFail(['storage', 'append', '--storage', dir, '--generation', '10', '--name', 'x', 'v'])
    const res = await hypFail(['storage', 'append', '--storage', dir, '00'.repeat(32), 'v'])
    assert.doesNotMatch(res.stderr.toString(), /^$/)
  })
})
