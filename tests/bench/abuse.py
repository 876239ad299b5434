#!/usr/bin/env python3
"""The attacker for tests/bench/abuse.sh: every abuse of issue 14 at once, for
DURATION seconds, from source addresses of its own (127.0.0.2 for the requests,
.3 for the slow headers, .4 for the slow bodies), so that the normal client on
127.0.0.1 is another client. Prints what each attack got back, as JSON.

    abuse.py PORT STAFF_TOKEN DURATION_SECONDS

Standard library only: asyncio and raw HTTP/1.1, so the slow attacks can be as
slow as they like.
"""

import asyncio
import collections
import json
import sys
import time

PORT = int(sys.argv[1])
TOKEN = sys.argv[2]
DURATION = float(sys.argv[3])
REQUESTS, SLOW_HEADERS, SLOW_BODIES = "127.0.0.2", "127.0.0.3", "127.0.0.4"
VICTIM = "staff@hive.example"
STOP = time.monotonic() + DURATION
SEEN = collections.defaultdict(collections.Counter)


def fragment_bomb(depth=40):
    parts = ["query { ...F0 }"]
    for level in range(depth):
        parts.append(f"fragment F{level} on Query {{ ...F{level + 1} ...F{level + 1} }}")
    parts.append(f"fragment F{depth} on Query {{ __typename }}")
    return " ".join(parts)


COST_BOMB = "{ " + " ".join(
    f"a{i}: organisations(first: 100) {{ edges {{ node {{ name members {{ name }} }} }} }}"
    for i in range(300)
) + " }"
SIGN_IN_ALIASES = "mutation { " + " ".join(
    f'a{i}: requestSignIn(email: "{VICTIM}") {{ message }}' for i in range(200)
) + " }"
SIGN_IN = 'mutation { requestSignIn(email: "%s") { message } }' % VICTIM
INTROSPECTION = """query { __schema { types { kind name fields(includeDeprecated: true) { name args {
  name type { kind name ofType { kind name ofType { kind name } } } } type { kind name ofType {
  kind name ofType { kind name } } } } inputFields { name } enumValues { name } } } }"""
NESTED_INTROSPECTION = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
NUL_TOPIC = json.dumps({"query": "mutation($n: String!) { createTopic(name: $n) { id } }",
                        "variables": {"n": "bad\u0000name"}})


async def connect(source=REQUESTS):
    return await asyncio.open_connection("127.0.0.1", PORT, local_addr=(source, 0))


async def send(kind, raw):
    """One request on its own connection; counts the status (or how it failed)."""
    try:
        reader, writer = await connect()
        writer.write(raw)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 30)
        status = line.split(b" ")[1].decode() if line else "closed"
        await asyncio.wait_for(reader.read(), 30)
        writer.close()
    except Exception as error:  # noqa: BLE001 - the attacker only counts
        status = type(error).__name__
    SEEN[kind][status] += 1


def post(body, token=None):
    data = body if isinstance(body, bytes) else json.dumps({"query": body}).encode()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"POST /graphql HTTP/1.1\r\nHost: hive\r\nContent-Type: application/json\r\n"
            f"Accept: application/graphql-response+json\r\n"
            f"{auth}Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data


async def loop(kind, raw):
    while time.monotonic() < STOP:
        await send(kind, raw)


async def slowloris(slot):
    """Holds a connection open by sending a header line now and then."""
    while time.monotonic() < STOP:
        try:
            reader, writer = await connect(SLOW_HEADERS)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: hive\r\n")
            await writer.drain()
            while time.monotonic() < STOP:
                await asyncio.sleep(1)
                writer.write(b"X-Slow: %d\r\n" % slot)
                await writer.drain()
            writer.close()
            SEEN["slowloris"]["held to the end"] += 1
        except Exception as error:  # noqa: BLE001
            SEEN["slowloris"][type(error).__name__] += 1
            await asyncio.sleep(0.2)


async def slow_body():
    """A body that comes a byte a second."""
    while time.monotonic() < STOP:
        try:
            reader, writer = await connect(SLOW_BODIES)
            writer.write(b"POST /graphql HTTP/1.1\r\nHost: hive\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100000\r\n\r\n{")
            await writer.drain()
            answer = b""
            while time.monotonic() < STOP and not answer:
                writer.write(b" ")
                await writer.drain()
                try:
                    answer = await asyncio.wait_for(reader.readline(), 1)
                except asyncio.TimeoutError:
                    pass
            status = answer.split(b" ")[1].decode() if answer else "open at the end"
            SEEN["slow body"][status] += 1
            writer.close()
        except Exception as error:  # noqa: BLE001
            SEEN["slow body"][type(error).__name__] += 1
            await asyncio.sleep(0.2)


async def main():
    attacks = []
    for _ in range(4):
        attacks.append(loop("fragment bomb (40 levels, 2 KB)", post(fragment_bomb())))
        attacks.append(loop("300 aliases of a page of 100 (staff)", post(COST_BOMB, TOKEN)))
        attacks.append(loop("200 aliased requestSignIn", post(SIGN_IN_ALIASES)))
        attacks.append(loop("requestSignIn for one address", post(SIGN_IN)))
    for _ in range(2):
        attacks.append(loop("introspection (allowed)", post(INTROSPECTION)))
        attacks.append(loop("nested introspection", post(NESTED_INTROSPECTION)))
        attacks.append(loop("NUL in a name (staff)", post(NUL_TOPIC.encode(), TOKEN)))
    attacks += [slowloris(slot) for slot in range(300)]
    attacks += [slow_body() for _ in range(10)]
    await asyncio.gather(*attacks)
    print(json.dumps({kind: dict(counts) for kind, counts in SEEN.items()}, indent=1))


asyncio.run(main())
