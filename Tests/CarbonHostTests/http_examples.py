#!/usr/bin/env python3
"""Sends sample requests to the host's HTTP/JSON gateway with httpx (HTTP/1.1) and writes what
came back, for HTTPGatewayTests (issue 22).

    http_examples.py BASE_URL CA_FILE CASES.json RESULTS.json

CASES.json is a list of {"module", "method", "body"}; RESULTS.json gets, per case, {"status"
(HTTP), "version" (carbonhub-module-version), "receipt" (whether one came), "body" (the JSON of
a unary answer or error), "results" (the `result` objects of an NDJSON stream, as JSON text),
"error" (a stream's last `error` line, if any)}. Responses use the .proto field names
(`names=proto`), as the samples' expectations are written.
"""
import json
import sys

import httpx


def main(base, ca, cases_file, results_file):
    with open(cases_file) as f:
        cases = json.load(f)
    results = []
    with httpx.Client(base_url=base, verify=ca, timeout=120) as client:
        for case in cases:
            response = client.post(
                "/v1/%s/%s" % (case["module"], case["method"]), params={"names": "proto"},
                content=case["body"].encode(), headers={"content-type": "application/json"})
            result = {
                "status": response.status_code,
                "version": response.headers.get("carbonhub-module-version", ""),
                "receipt": "carbonhub-receipt" in response.headers,
                "body": "", "results": [], "error": None,
            }
            if response.headers.get("content-type", "").startswith("application/x-ndjson"):
                for line in response.text.splitlines():
                    if not line.strip():
                        continue
                    item = json.loads(line)
                    if "result" in item:
                        result["results"].append(json.dumps(item["result"]))
                    elif "error" in item:
                        result["error"] = item["error"]
                    elif "receipt" in item:
                        result["receipt"] = True
            else:
                result["body"] = response.text
            results.append(result)
    with open(results_file, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
