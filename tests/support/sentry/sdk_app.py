#!/usr/bin/python3
"""A small application that reports to Sentry with Debian's python3-sentry-sdk, for rollgate's
Sentry tests. It serves simulated requests at a steady rate, writes each to an access log
(combined format), and runs every request in a Sentry session (request mode). What a release does
comes from <root>/current/mode.json:

  exception_rate  share of requests raising a handled KeyError in load_order (the background)
  new_type_rate   share raising a handled ZeroDivisionError in compute_total (a new type)
  crash_rate      share raising an unhandled RuntimeError in charge_card (the session crashes)

The release is <root>/current/VERSION, read at start (the agent restarts the unit on install).
"""
import argparse
import json
import os
import random
import signal
import sys
import time

import sentry_sdk
from sentry_sdk.hub import Hub
from sentry_sdk.utils import event_from_exception

parser = argparse.ArgumentParser()
parser.add_argument("--dsn", required=True)
parser.add_argument("--root", required=True)
parser.add_argument("--access-log", required=True)
parser.add_argument("--rps", type=float, default=40)
args = parser.parse_args()

current = os.path.join(args.root, "current")
with open(os.path.join(current, "VERSION")) as f:
    release = f.read().strip()
with open(os.path.join(current, "mode.json")) as f:
    mode = json.load(f)

sentry_sdk.init(dsn=args.dsn, release=release, environment="test", max_breadcrumbs=0,
                auto_session_tracking=False)
hub = Hub.current
rng = random.Random(os.getpid())
running = True


def stop(signum, frame):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)


def load_order(order_id):
    return {}[order_id]


def compute_total(items):
    return sum(items) / len(items)


def charge_card(amount):
    raise RuntimeError("card processor unavailable for %d" % amount)


def handle(n):
    """One request; returns its HTTP status."""
    draw = rng.random()
    try:
        if draw < mode.get("crash_rate", 0):
            charge_card(n)
        draw -= mode.get("crash_rate", 0)
        if draw < mode.get("new_type_rate", 0):
            compute_total([])
        draw -= mode.get("new_type_rate", 0)
        if draw < mode.get("exception_rate", 0):
            load_order("order-%d" % n)
    except RuntimeError:
        # What a framework integration does with an exception nobody caught: unhandled.
        event, hint = event_from_exception(
            sys.exc_info(), client_options=hub.client.options,
            mechanism={"type": "sdk_app", "handled": False})
        hub.capture_event(event, hint=hint)
        return 500
    except Exception:
        sentry_sdk.capture_exception()
        return 200
    return 200


log = open(args.access_log, "a", buffering=1 << 16)
interval = 1.0 / args.rps
next_request = time.monotonic()
next_flush = next_request
n = 0
while running:
    now = time.monotonic()
    if now < next_request:
        time.sleep(next_request - now)
        continue
    next_request += interval
    n += 1
    hub.start_session(session_mode="request")
    status = handle(n)
    hub.end_session()
    log.write('127.0.0.1 - - [%s] "GET /order/%d HTTP/1.1" %d 5 "-" "sdk-app"\n'
              % (time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()), n, status))
    if now >= next_flush:
        log.flush()
        hub.client.session_flusher.flush()  # request-mode aggregates, every half second
        next_flush = now + 0.5
log.flush()
sentry_sdk.flush()
