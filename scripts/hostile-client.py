#!/usr/bin/env python3
"""A hostile client for the soak (scripts/soak.sh with SOAK_HOSTILE=1, issue 25): beside the
normal load, and until it is killed, it keeps

  - IDLE (default 50) idle TCP connections open that never send a TLS ClientHello (re-opened as
    the host closes them after its handshake timeout). On loopback the load and this client
    share one address: keep IDLE below `max_connections_per_address` (100) minus the load's
    connections, or the host rightly refuses the load too;
  - SLOW server-streaming calls whose client reads one response and then stops reading
    (units.ConvertBatch of 200 000 items; re-started as the host ends them at their deadline);
  - oversized requests: a 6 MiB request to gwp.ToCo2e every half second (above the 4 MiB
    default limit: RESOURCE_EXHAUSTED expected).

Every 10 s, and at the end, it prints what the host did to it, as one JSON line on stderr.

    hostile-client.py HOST:PORT CA_FILE REPOSITORY_ROOT [IDLE] [SLOW]
"""
import json
import os
import socket
import sys
import tempfile
import threading
import time

import grpc
import grpc_tools
from grpc_tools import protoc

address, ca_file, root = sys.argv[1], sys.argv[2], sys.argv[3]
idle_target = int(sys.argv[4]) if len(sys.argv) > 4 else 50
slow_target = int(sys.argv[5]) if len(sys.argv) > 5 else 8
host, port = address.rsplit(":", 1)

# Python stubs of the example module, generated as a client team would.
work = tempfile.mkdtemp(prefix="carbonhub-hostile-")
protocols = os.path.join(root, "protocols")
domain = ["carbon/domain/v1/" + name for name in os.listdir(os.path.join(protocols, "carbon/domain/v1")) if name.endswith(".proto")]
well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")  # google/protobuf/*.proto
if protoc.main(["protoc", "-I" + protocols, "-I" + well_known, "--python_out=" + work, "carbon/examples/v1/units.proto"] + domain) != 0:
    sys.exit("hostile-client: grpc_tools could not generate the stubs")
sys.path.insert(0, work)
from carbon.domain.v1 import units_pb2  # noqa: E402
from carbon.examples.v1 import units_pb2 as examples_pb2  # noqa: E402

counts = {}
lock = threading.Lock()
stop = threading.Event()


def count(key):
    with lock:
        counts[key] = counts.get(key, 0) + 1


def report():
    with lock:
        print(json.dumps({"hostile": dict(sorted(counts.items()))}), file=sys.stderr, flush=True)


def idle_connections():
    sockets = []
    while not stop.is_set():
        alive = []
        for s in sockets:
            try:
                s.setblocking(False)
                if s.recv(1) == b"":
                    count("idle_closed_by_host")
                    s.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                count("idle_closed_by_host")
                s.close()
                continue
            alive.append(s)
        sockets = alive
        while len(sockets) < idle_target:
            try:
                sockets.append(socket.create_connection((host, int(port)), timeout=5))
                count("idle_opened")
            except OSError:
                count("idle_refused")
                break
        time.sleep(0.5)


credentials = grpc.ssl_channel_credentials(root_certificates=open(ca_file, "rb").read())
batch = examples_pb2.ConvertBatchRequest()
item = batch.items.add()
item.quantity.value = 2
item.quantity.unit = units_pb2.UNIT_T_C
item.target_unit = units_pb2.UNIT_T_CO2E
for _ in range(200000 - 1):
    batch.items.add().CopyFrom(item)
batch_bytes = batch.SerializeToString()


def slow_reader():
    # One channel each: a stalled stream must not hold up the others on its connection.
    while not stop.is_set():
        with grpc.secure_channel("localhost:" + port, credentials) as channel:
            call = channel.unary_stream("/carbon.examples.v1.Units/ConvertBatch")(batch_bytes)
            try:
                next(call)
                count("slow_started")
                while not stop.is_set() and call.is_active():
                    time.sleep(0.5)  # never reads again
                if not stop.is_set():
                    count("slow_ended_by_host:" + call.code().name)
            except grpc.RpcError as error:
                count("slow_refused:" + error.code().name)
            finally:
                call.cancel()


def oversized():
    with grpc.secure_channel("localhost:" + port, credentials) as channel:
        method = channel.unary_unary("/carbon.examples.v1.Gwp/ToCo2e")
        payload = b"\xff" * (6 << 20)
        while not stop.is_set():
            try:
                method(payload, timeout=30)
                count("oversized_accepted")
            except grpc.RpcError as error:
                count("oversized:" + error.code().name)
            time.sleep(0.5)


threads = [threading.Thread(target=idle_connections, daemon=True), threading.Thread(target=oversized, daemon=True)]
threads += [threading.Thread(target=slow_reader, daemon=True) for _ in range(slow_target)]
for thread in threads:
    thread.start()
try:
    while True:
        time.sleep(10)
        report()
except KeyboardInterrupt:
    pass
finally:
    stop.set()
    report()
