"""Validates FHIR resources with the fhir.resources R4B models (an outside check of what the
server emits).

Usage: validate.py FILE, where FILE holds a JSON array of resources. Each is parsed with the
model class of its resourceType (unknown elements, wrong types, missing required elements and
invalid codes of required bindings all fail). Prints one line per resource; exits 1 on the
first set of failures, 0 when every resource parses.
"""

import json
import sys

from fhir.resources.R4B import get_fhir_model_class


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        resources = json.load(f)
    if not isinstance(resources, list) or not resources:
        print("expected a non-empty JSON array of resources", file=sys.stderr)
        return 2
    failures = 0
    for i, r in enumerate(resources):
        rt = r.get("resourceType") if isinstance(r, dict) else None
        try:
            model = get_fhir_model_class(rt)
            model.model_validate(r)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failures += 1
            print(f"[{i}] {rt}/{r.get('id') if isinstance(r, dict) else ''}: INVALID\n{e}\n{json.dumps(r)[:2000]}", file=sys.stderr)
            continue
        print(f"[{i}] {rt}/{r.get('id', '')}: valid")
    print(f"{len(resources) - failures} of {len(resources)} resources valid")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
