"""Describe calls per second that the emulator answers on loopback, through real boto3 clients.

    python benchmarks/emulator_throughput.py [--calls 2000] [--threads 1 4]
"""

from __future__ import annotations

import argparse
import platform
import threading
import time

import boto3
from botocore.config import Config

from deployer.emulator import Emulator


def _client(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.client("appflow", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="bench", aws_secret_access_key="bench",
                        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=64))


def measure(endpoint: str, calls: int, threads: int) -> float:
    clients = [_client(endpoint) for _ in range(threads)]
    for client in clients:
        client.describe_connector_profiles()  # warm the connection
    per_thread = calls // threads

    def run(client) -> None:  # type: ignore[no-untyped-def]
        for _ in range(per_thread):
            client.describe_connector_profiles(connectorProfileNames=["p-001", "p-002"])

    workers = [threading.Thread(target=run, args=(c,)) for c in clients]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return per_thread * threads / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {platform.machine()}, boto3 {boto3.__version__}")
    with Emulator() as emulator:
        setup = _client(emulator.endpoint)
        for index in range(100):
            setup.create_connector_profile(
                connectorProfileName=f"p-{index:03d}", connectorType="Zendesk", connectionMode="Public",
                connectorProfileConfig={
                    "connectorProfileProperties": {"Zendesk": {"instanceUrl": "https://acme.zendesk.com"}},
                    "connectorProfileCredentials": {"Zendesk": {"clientId": "id", "clientSecret": "secret"}},
                },
            )
        for threads in args.threads:
            rate = measure(emulator.endpoint, args.calls, threads)
            print(f"describe, {threads} client thread(s): {rate:,.0f} calls/s")


if __name__ == "__main__":
    main()
