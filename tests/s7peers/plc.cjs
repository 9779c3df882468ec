// A simulated S7 PLC for the tunnel tests: Snap7's S7Server (the PLC simulator S7 tools are
// tested against) on 127.0.0.1 and a free port, with data block DB1 of 100 bytes: INT at
// byte 0 = 1234, INT at byte 2 = 0. Prints "listening on 127.0.0.1:PORT", then every event the
// server reports (connections, reads, writes), one a line, all on standard error (where the
// tests read it), until it is killed.
'use strict';
const net = require('node:net');
const snap7 = require('node-snap7');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

(async () => {
  const server = new snap7.S7Server();
  const db1 = Buffer.alloc(100);
  db1.writeInt16BE(1234, 0);
  server.RegisterArea(server.srvAreaDB, 1, db1);
  server.on('event', (event) => console.error(`event: ${server.EventText(event)}`));
  // Snap7 takes a port number, not 0: a free one, again if another process took it meanwhile.
  let port = 0;
  for (let attempt = 0; attempt < 5 && port === 0; attempt += 1) {
    const candidate = await freePort();
    server.SetParam(server.LocalPort, candidate);
    if (server.StartTo('127.0.0.1')) port = candidate;
  }
  if (port === 0) {
    console.error('plc: the S7 server did not start');
    process.exit(1);
  }
  console.error(`listening on 127.0.0.1:${port}`);
  const stop = () => {
    server.Stop();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  setInterval(() => {}, 1 << 30);  // keeps the event loop (and the server) alive
})();
