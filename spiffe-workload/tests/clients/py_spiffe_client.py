"""Every call py-spiffe (PyPI `spiffe`, grpc-core via grpcio) makes, against the socket in argv[1].

Prints one JSON object per line: the result of each call, then, for the watches, the first
update; after reading "rotated" on stdin it waits for the rotated X.509 context and prints it.
grpcio sends its default `:authority` on Unix sockets (the percent-encoded socket path).
"""
import json
import sys
import threading

from spiffe import WorkloadApiClient


def emit(**kw):
    print(json.dumps(kw), flush=True)


def main():
    socket = sys.argv[1]
    with WorkloadApiClient("unix://" + socket, default_timeout=10) as client:
        svid = client.fetch_x509_svid()
        emit(call="fetch_x509_svid", spiffe_id=str(svid.spiffe_id), chain=len(svid.cert_chain))
        svids = client.fetch_x509_svids()
        emit(call="fetch_x509_svids", ids=[str(s.spiffe_id) for s in svids])
        context = client.fetch_x509_context()
        emit(call="fetch_x509_context", svids=len(context.x509_svids),
             bundles=sorted(str(b.trust_domain) for b in context.x509_bundle_set.bundles))
        bundles = client.fetch_x509_bundles()
        emit(call="fetch_x509_bundles",
             bundles=sorted(str(b.trust_domain) for b in bundles.bundles))
        jwt = client.fetch_jwt_svid(audience={"web"})
        emit(call="fetch_jwt_svid", spiffe_id=str(jwt.spiffe_id), audience=sorted(jwt.audience))
        jwts = client.fetch_jwt_svids(audience={"web", "db"})
        emit(call="fetch_jwt_svids", ids=[str(j.spiffe_id) for j in jwts])
        jwt_bundles = client.fetch_jwt_bundles()
        emit(call="fetch_jwt_bundles",
             bundles=sorted(str(b.trust_domain) for b in jwt_bundles.bundles))
        validated = client.validate_jwt_svid(jwt.token, "web")
        emit(call="validate_jwt_svid", spiffe_id=str(validated.spiffe_id))

        updates = []
        got = threading.Condition()
        errors = []

        def on_x509(ctx):
            with got:
                updates.append(str(ctx.default_svid.spiffe_id))
                got.notify_all()

        def on_error(e):
            with got:
                errors.append(str(e))
                got.notify_all()

        jwt_updates = []

        def on_jwt(bundle_set):
            with got:
                jwt_updates.append(sorted(str(b.trust_domain) for b in bundle_set.bundles))
                got.notify_all()

        x509_watch = client.stream_x509_contexts(on_x509, on_error, retry_connect=False)
        jwt_watch = client.stream_jwt_bundles(on_jwt, on_error, retry_connect=False)
        with got:
            if not got.wait_for(lambda: (updates and jwt_updates) or errors, timeout=10):
                emit(call="watch", error="timeout")
                return 1
        if errors:
            emit(call="watch", error=errors[0])
            return 1
        emit(call="stream_x509_contexts", spiffe_id=updates[0])
        emit(call="stream_jwt_bundles", bundles=jwt_updates[0])
        if sys.stdin.readline().strip() != "rotated":
            return 1
        with got:
            if not got.wait_for(lambda: len(updates) > 1 or errors, timeout=10):
                emit(call="watch_rotation", error="timeout")
                return 1
        emit(call="watch_rotation", spiffe_id=updates[-1])
        x509_watch.cancel()
        jwt_watch.cancel()
    return 0


if __name__ == "__main__":
    sys.exit(main())
