"""The floor: fetch the pages of a plan with `requests`, decode each with `json.loads`, nothing else.

    python bench/floor.py PLAN.json OUT.json

PLAN.json: {"base_url", "token_form", "requests": [{"stream", "path", "params"}, ...]} (see bench/oracle.py:
the pages an ideal client needs, cut from the emulator's own data). OUT.json gets the ids read per
stream, so that the benchmark can check the plan really reads every record once.
"""

import json
import sys

import requests


def main(plan_path: str, out_path: str) -> int:
    with open(plan_path) as f:
        plan = json.load(f)
    session = requests.Session()
    token = session.post(plan["base_url"] + "/oauth/token", data=plan["token_form"], timeout=60)
    token.raise_for_status()
    session.headers["Authorization"] = "Bearer " + token.json()["access_token"]
    ids: dict[str, list] = {}
    for request in plan["requests"]:
        answer = session.get(plan["base_url"] + "/" + request["path"], params=request["params"], timeout=60)
        answer.raise_for_status()
        body = json.loads(answer.content)
        got = ids.setdefault(request["stream"], [])
        if isinstance(body, list):
            got.extend(item.get("id", item.get("name")) for item in body)
        elif request["stream"] == "email_send_sources":
            got.extend(item["id"] for items in body.values() for item in items)
        else:
            got.append(request["params"].get("date[start]", request["params"].get("date_range[start_date]")))
    with open(out_path, "w") as f:
        json.dump(ids, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
