// An HTTPS upstream for the internal-hop bench: requires a client certificate of the CA in
// $CA_FILE; small JSON for any path. Prints its port when ready.
const fs = require('node:fs');
const https = require('node:https');

const body = Buffer.from('{"ok":true}');
const server = https.createServer(
  {
    cert: fs.readFileSync(process.env.CERT_FILE),
    key: fs.readFileSync(process.env.KEY_FILE),
    ca: fs.readFileSync(process.env.CA_FILE),
    requestCert: true,
    rejectUnauthorized: true,
  },
  (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
      res.end(body);
    });
  },
);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
