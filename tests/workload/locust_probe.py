"""Send one create per URL through the built-in target over Locust's FastHttpSession and print
each outcome and how Locust counted it, as JSON lines. Run in its own process: importing Locust
monkey-patches the standard library with gevent.

    python -m tests.workload.locust_probe --timeout 0.5 URL...
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401  (first: gevent's monkey patching)
# isort: on

import argparse
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment

from ackguard.harness.workload import HttpTarget, PatientEntry, PractitionerEntry, TargetContext


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, required=True)
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args()
    environment = Environment()
    counted: dict[str, str] = {}

    def on_request(name: str, exception: BaseException | None, **_: object) -> None:
        counted[name] = "failure" if exception else "success"

    environment.events.request.add_listener(on_request)
    practitioner = PractitionerEntry("1", "10000000008", "Dr Test", "pédiatrie")
    patient = PatientEntry("2", "Léa Martin", "2020-02-02", "220027511203384")
    started = datetime(2026, 1, 5, 8, tzinfo=ZoneInfo("Europe/Paris"))
    for url in args.urls:
        counted.clear()
        client = FastHttpSession(
            url,
            request_event=environment.events.request,
            user=None,
            network_timeout=args.timeout,
            connection_timeout=args.timeout,
            max_retries=0,
        )
        target = HttpTarget(TargetContext(url, args.timeout, client))
        answer = target.create(practitioner, patient, "key-1", started, {"visit_reason": "Fièvre"})
        line = {
            "url": url,
            "outcome": answer.outcome,
            "status": answer.status,
            "error": answer.error,
            "locust": counted.get("POST /v1/consultations"),
        }
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
