"""Checks every example of the OpenAPI document against its own schema.

Usage: examples.py OPENAPI.json
Validates (JSON Schema 2020-12, the dialect of OpenAPI 3.1) each example of a request body or a
response: the media type's own, or else its schema's; and each component schema's example.
Prints each mismatch and exits 1 if there is any.
"""

import json
import sys

from jsonschema import Draft202012Validator


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    components = doc.get("components", {})
    failures = []
    checked = 0

    def check(where: str, schema: dict, example: object) -> None:
        nonlocal checked
        checked += 1
        validator = Draft202012Validator({**schema, "components": components})
        for error in validator.iter_errors(example):
            failures.append(f"{where}: {'/'.join(map(str, error.absolute_path))}: {error.message[:200]}")

    def resolve(schema: dict) -> dict:
        while "$ref" in schema:
            schema = components["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    for name, schema in components.get("schemas", {}).items():
        if "example" in schema:
            check(f"schema {name}", schema, schema["example"])
    for path, item in doc["paths"].items():
        for method, op in item.items():
            media_types = [("request", m) for m in op.get("requestBody", {}).get("content", {}).values()]
            for status, response in op.get("responses", {}).items():
                media_types += [(status, m) for m in response.get("content", {}).values()]
            for where, media in media_types:
                schema = media.get("schema", {})
                if "example" in media:
                    check(f"{method.upper()} {path} {where}", schema, media["example"])
    for failure in failures:
        print(f"  example: {failure}")
    print(f"examples: {checked} checked, {len(failures)} not matching their schema")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
