// @grpc/grpc-js (Node.js) on the socket in argv[2], with the standard proto in argv[3]:
// FetchX509SVID (first message), FetchJWTSVID, ValidateJWTSVID, FetchJWTBundles. grpc-js sends
// its own `:authority` on Unix sockets. Prints the results as one JSON line.
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [socket, proto] = process.argv.slice(2);
const definition = loader.loadSync(proto, { keepCase: true, longs: String, defaults: true });
const { SpiffeWorkloadAPI } = grpc.loadPackageDefinition(definition);
const client = new SpiffeWorkloadAPI('unix:' + socket, grpc.credentials.createInsecure());
const metadata = () => {
  const m = new grpc.Metadata();
  m.set('workload.spiffe.io', 'true');
  return m;
};
const deadline = () => Date.now() + 10000;
const unary = (method, request) => new Promise((resolve, reject) =>
  client[method](request, metadata(), { deadline: deadline() }, (e, r) => (e ? reject(e) : resolve(r))));
const first = (method, request) => new Promise((resolve, reject) => {
  const call = client[method](request, metadata(), { deadline: deadline() });
  call.on('data', (message) => { resolve(message); call.cancel(); });
  call.on('error', (e) => { if (e.code !== grpc.status.CANCELLED) reject(e); });
});

(async () => {
  const x509 = await first('FetchX509SVID', {});
  const jwt = await unary('FetchJWTSVID', { audience: ['web'] });
  const validated = await unary('ValidateJWTSVID', { audience: 'web', svid: jwt.svids[0].svid });
  const bundles = await first('FetchJWTBundles', {});
  console.log(JSON.stringify({
    x509: x509.svids[0].spiffe_id,
    jwt: jwt.svids[0].spiffe_id,
    validated: validated.spiffe_id,
    jwt_bundles: Object.keys(bundles.bundles).sort(),
  }));
  client.close();
})().catch((e) => { console.error(String(e)); process.exit(1); });
