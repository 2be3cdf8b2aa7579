#!/usr/bin/env node
// Peer timing for platone-cim: Node xml2js (the stack of the original Platone access layer)
// on the generated 15-minute dump.
//
// Reads the file the Rust benchmark writes (benches/peers/out/cim-dump.xml, created by
// `cargo bench -p platone-benches --bench cim`), parses it with xml2js (prefixes stripped) and
// walks every reading taking meter, timestamp (Date.parse), value (parseFloat) and ReadingType
// ref. xml2js has no streaming mode, so it parses the whole document. Prints the best of RUNS
// runs in MB/s, by wall-clock and by process CPU time (the fair figure on a busy machine).
//
// Setup: (cd benches/peers/cim && npm ci)
// Run:   node benches/peers/cim_xml2js.js [FILE] [RUNS]
'use strict';
const fs = require('fs');
const path = require('path');
const xml2js = require(path.join(__dirname, 'cim', 'node_modules', 'xml2js'));

const file = process.argv[2] || path.join(__dirname, 'out', 'cim-dump.xml');
const runs = Number(process.argv[3] || 3);

function walk(doc) {
  let count = 0;
  let checksum = 0;
  const root = doc.MeterReadings;
  for (const mr of root.MeterReading || []) {
    const meter = mr.Meter && mr.Meter[0].mRID && mr.Meter[0].mRID[0];
    if (!meter) throw new Error('meter without mRID');
    for (const r of mr.Readings || []) {
      Date.parse(r.timeStamp[0]);
      const v = parseFloat(r.value[0]);
      void r.ReadingType[0].$.ref;
      count += 1;
      checksum += Number.isNaN(v) ? 0 : v;
    }
    for (const b of mr.IntervalBlocks || []) {
      void b.ReadingType[0].$.ref;
      for (const ir of b.IntervalReadings || []) {
        Date.parse(ir.timeStamp[0]);
        const v = parseFloat(ir.value[0]);
        count += 1;
        checksum += Number.isNaN(v) ? 0 : v;
      }
    }
  }
  return [count, checksum];
}

async function main() {
  const size = fs.statSync(file).size;
  let best = Infinity;
  let bestCpu = Infinity;
  let count = 0;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    const startCpu = process.cpuUsage();
    const text = fs.readFileSync(file, 'utf8');
    const doc = await xml2js.parseStringPromise(text, {
      tagNameProcessors: [xml2js.processors.stripPrefix],
    });
    [count] = walk(doc);
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    const cpu = process.cpuUsage(startCpu);
    best = Math.min(best, elapsed);
    bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / 1e6);
  }
  const version = require(path.join(__dirname, 'cim', 'node_modules', 'xml2js', 'package.json')).version;
  const mb = size / 1e6;
  console.log(
    `xml2js ${version}: ${count} readings, ${mb.toFixed(1)} MB, best of ${runs}: ` +
      `wall ${best.toFixed(3)} s = ${(mb / best).toFixed(1)} MB/s, ` +
      `CPU ${bestCpu.toFixed(3)} s = ${(mb / bestCpu).toFixed(1)} MB/s`
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
