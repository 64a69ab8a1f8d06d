"""A bare grpcio channel on the socket in argv[1] with py-spiffe's generated stubs: by default
with grpc-core's own `:authority` (the percent-encoded socket path), or with the authority in
argv[2] (`grpc.default_authority`, e.g. the raw path that grpc-java sends). Prints the SPIFFE ID
of the first FetchX509SVID message and of the FetchJWTSVID answer as JSON."""
import json
import sys

import grpc
from spiffe._proto import workload_pb2, workload_pb2_grpc

HEADER = (("workload.spiffe.io", "true"),)

options = [("grpc.default_authority", sys.argv[2])] if len(sys.argv) > 2 else []
with grpc.insecure_channel("unix:" + sys.argv[1], options=options) as channel:
    stub = workload_pb2_grpc.SpiffeWorkloadAPIStub(channel)
    first = next(stub.FetchX509SVID(workload_pb2.X509SVIDRequest(), metadata=HEADER, timeout=10))
    jwt = stub.FetchJWTSVID(workload_pb2.JWTSVIDRequest(audience=["a"]), metadata=HEADER, timeout=10)
    print(json.dumps({"x509": first.svids[0].spiffe_id, "jwt": jwt.svids[0].spiffe_id}), flush=True)
