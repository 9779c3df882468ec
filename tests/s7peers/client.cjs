// The vendor's S7 tools for the tunnel tests, against 127.0.0.1:PORT (rack 0, slot 1):
//   node client.cjs nodes7 PORT read            reads DB1,INT0 and DB1,INT2 with nodes7
//   node client.cjs nodes7 PORT write VALUE     writes VALUE to DB1,INT2 with nodes7
//   node client.cjs snap7 PORT read             the same with Snap7's S7Client
//   node client.cjs snap7 PORT write VALUE
//   node client.cjs snap7 PORT status          the CPU's state (SZL 0x0424): "run" or "stop"
//   node client.cjs snap7 PORT stop            PLC stop (job 0x29)
//   node client.cjs snap7 PORT start           hot start (PI service, job 0x28)
//   node client.cjs snap7 PORT blocks          list the blocks (userdata, block functions)
//   node client.cjs snap7 PORT download        download a minimal DB2 (jobs 0x1A-0x1C)
// Prints one JSON line: {"tool","op","ok",...} with the values read, or the tool's own error
// text (nodes7 reports a write's quality, snap7 the CPU's error as its ErrorText). Exit code 0
// when the tool reported success, 2 when it reported an error, 1 for a usage error.
'use strict';
const [tool, portText, op, valueText] = process.argv.slice(2);
const port = Number(portText);
const out = (o) => console.log(JSON.stringify({ tool, op, ...o }));
const ops = tool === 'snap7'
  ? ['read', 'write', 'status', 'stop', 'start', 'blocks', 'download']
  : ['read', 'write'];
if (!['nodes7', 'snap7'].includes(tool) || !port || !ops.includes(op) ||
    (op === 'write' && valueText === undefined)) {
  console.error('usage: node client.cjs nodes7|snap7 PORT read|write [VALUE], snap7 PORT status|stop|start|blocks|download');
  process.exit(1);
}
setTimeout(() => { out({ ok: false, error: 'timed out' }); process.exit(2); }, 15000).unref();

if (tool === 'nodes7') {
  const NodeS7 = require('nodes7');
  const conn = new NodeS7({ silent: true });
  conn.initiateConnection({ host: '127.0.0.1', port, rack: 0, slot: 1, timeout: 5000 }, (err) => {
    if (err !== undefined) {
      out({ ok: false, error: `connect: ${JSON.stringify(err)}` });
      process.exit(2);
    }
    conn.setTranslationCB((tag) => tag);
    const done = (o, code) => conn.dropConnection(() => { out(o); process.exit(code); });
    if (op === 'read') {
      conn.addItems(['DB1,INT0', 'DB1,INT2']);
      conn.readAllItems((bad, values) => {
        if (bad) return done({ ok: false, error: 'read quality not good', values }, 2);
        done({ ok: true, values: [values['DB1,INT0'], values['DB1,INT2']] }, 0);
      });
    } else {
      conn.writeItems('DB1,INT2', Number(valueText), (bad) => {
        if (bad) return done({ ok: false, error: 'write quality not good' }, 2);
        done({ ok: true }, 0);
      });
    }
  });
} else {
  const snap7 = require('node-snap7');
  const client = new snap7.S7Client();
  client.SetParam(client.RemotePort, port);
  client.ConnectTo('127.0.0.1', 0, 1, (err) => {
    if (err) {
      out({ ok: false, error: `connect: ${client.ErrorText(err)}` });
      process.exit(2);
    }
    const finish = (o, code) => { client.Disconnect(); out(o); process.exit(code); };
    if (op === 'read') {
      client.DBRead(1, 0, 4, (e, data) => {
        if (e) return finish({ ok: false, error: client.ErrorText(e) }, 2);
        finish({ ok: true, values: [data.readInt16BE(0), data.readInt16BE(2)] }, 0);
      });
    } else if (op === 'status') {
      client.PlcStatus((e, status) => {
        if (e) return finish({ ok: false, error: client.ErrorText(e) }, 2);
        const names = { [client.S7CpuStatusRun]: 'run', [client.S7CpuStatusStop]: 'stop' };
        finish({ ok: true, status: names[status] || `unknown ${status}` }, 0);
      });
    } else if (op === 'blocks') {
      client.ListBlocks((e, counts) => {
        if (e) return finish({ ok: false, error: client.ErrorText(e) }, 2);
        finish({ ok: true, db_count: counts.DBCount }, 0);
      });
    } else if (op === 'download') {
      // An MC7 image of DB2 as small as Snap7 accepts: "pp", version, attribute, language,
      // block type (0x0A DB), number, total length.
      const block = Buffer.alloc(60);
      block.write('pp', 0, 'latin1');
      block[2] = 1;
      block[4] = 5;
      block[5] = 0x0a;
      block.writeUInt16BE(2, 6);
      block.writeUInt32BE(block.length, 8);
      client.Download(2, block, (e) => {
        if (e) return finish({ ok: false, error: client.ErrorText(e) }, 2);
        finish({ ok: true }, 0);
      });
    } else if (op === 'stop' || op === 'start') {
      const call = op === 'stop' ? client.PlcStop.bind(client) : client.PlcHotStart.bind(client);
      call((e) => {
        if (e) return finish({ ok: false, error: client.ErrorText(e) }, 2);
        finish({ ok: true }, 0);
      });
    } else {
      const b = Buffer.alloc(2);
      b.writeInt16BE(Number(valueText), 0);
      client.DBWrite(1, 2, 2, b, (e) => {
        if (e) return finish({ ok: false, error: client.ErrorText(e) }, 2);
        finish({ ok: true }, 0);
      });
    }
  });
}
