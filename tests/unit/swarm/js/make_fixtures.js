// Generates the byte-exact DNS fixtures of tests/unit/swarm/dns_test.cpp with the pinned JS codec
// (dns-packet 5.6.1, as multicast-dns 7.2.5 / @hyperswarm/discovery 2.0.1 use it). Run with Node
// 20 after installing tests/interop:
//   node tests/unit/swarm/js/make_fixtures.js
// and paste the printed table into kJsFixtures of dns_test.cpp. Each entry is the hex of
// packet.encode(object) and, for hand-made inputs, the JSON that packet.decode() returns, which
// the C++ expectations restate.
'use strict'
const path = require('path')
const { createRequire } = require('module')
const req = createRequire(path.join(__dirname, '../../../interop/package.json'))
const packet = req('dns-packet')

const topic = Buffer.alloc(32)
for (let i = 0; i < 32; i++) topic[i] = i
const domain = topic.slice(0, 20).toString('hex') + '.hyperswarm.local'
const id = Buffer.concat([Buffer.from('id='), Buffer.alloc(32, 0xab)])

// What @hyperswarm/discovery hands multicast-dns, after multicast-dns sets type and flags.
const cases = [
  ['discovery_query', { type: 'query', questions: [{ type: 'SRV', name: domain }] }],
  ['discovery_response', {
    type: 'response',
    flags: packet.AUTHORITATIVE_ANSWER,
    answers: [
      { type: 'SRV', name: domain, data: { target: '0.0.0.0', port: 49737 } },
      { type: 'TXT', name: domain, data: [id] },
      { type: 'A', name: 'referrer.hyperswarm.local', data: '127.0.0.1' }
    ]
  }],
  ['discovery_announce', {
    type: 'response',
    flags: packet.AUTHORITATIVE_ANSWER,
    answers: [
      { type: 'SRV', name: domain, data: { target: '0.0.0.0', port: 1 } },
      { type: 'TXT', name: domain, data: [id] }
    ]
  }],
  ['mixed', {
    type: 'response',
    id: 0x1234,
    flags: packet.AUTHORITATIVE_ANSWER | packet.RECURSION_DESIRED,
    questions: [{ type: 'ANY', name: 'host.local', class: 'IN' }],
    answers: [
      { type: 'PTR', name: '_http._tcp.local', ttl: 4500, data: 'web._http._tcp.local' },
      { type: 'SRV', name: 'web._http._tcp.local', ttl: 120, flush: true, data: { priority: 1, weight: 2, port: 8080, target: 'host.local' } },
      { type: 'TXT', name: 'web._http._tcp.local', data: ['path=/', Buffer.alloc(0), 'k'] },
      { type: 'AAAA', name: 'host.local', ttl: 120, data: 'fe80::1' }
    ],
    authorities: [{ type: 'CNAME', name: 'alias.local', data: 'host.local' }],
    additionals: [
      { type: 'A', name: 'host.local', ttl: 120, flush: true, data: '192.168.1.20' },
      { type: 'HINFO', name: 'host.local', data: { cpu: 'x86', os: 'linux' } }
    ]
  }],
  ['empty_txt', { type: 'response', answers: [{ type: 'TXT', name: 'a.local', data: [] }] }],
  ['root_name', { type: 'query', questions: [{ type: 'A', name: '.' }] }]
]

for (const [name, obj] of cases) {
  const buf = packet.encode(obj)
  // must decode back with the same codec
  packet.decode(buf)
  console.log(`    {"${name}", "${buf.toString('hex')}"},`)
}

// Hand-made compressed response (as Avahi or Bonjour send): answers whose names and SRV target
// point back into the question. Printed with its dns-packet decoding.
const compressed = Buffer.from(
  '0000' + '8400' + '0001' + '0002' + '0000' + '0001' +
  // question @12: "web" "_http" "_tcp" "local" 0, type SRV, class IN|QU
  '03776562' + '055f68747470' + '045f746370' + '056c6f63616c' + '00' + '0021' + '8001' +
  // answer 1: name -> pointer to 12, SRV, class IN|flush, ttl 120, rdlen 13
  'c00c' + '0021' + '8001' + '00000078' + '000d' + '0000' + '0000' + '1f90' +
  //   target "host" + pointer to "local" (@27)
  '04686f7374' + 'c01b' +
  // answer 2: TXT at pointer 12, ttl 0, two strings
  'c00c' + '0010' + '0001' + '00000000' + '0007' + '03613d31' + '02623d' +
  // additional @82: A, name -> pointer to the SRV target "host.local" (@56), 192.168.1.10
  'c038' + '0001' + '0001' + '00000078' + '0004' + 'c0a8010a',
  'hex')
const full = compressed
console.log(`    {"compressed", "${full.toString('hex')}"},`)
console.log('// ' + JSON.stringify(packet.decode(full)))
