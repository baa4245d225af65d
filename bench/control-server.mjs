// The control for `cargo xtask bench engine`'s collector table: Node's own HTTP server answering
// a constant JSON body on 127.0.0.1:$PORT (no workerd, no D1), so the same two clients can be
// measured against a server that does no work and has no runtime of its own.
import http from 'node:http';

const body = '{"ok":true}';
http
  .createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  })
  .listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
