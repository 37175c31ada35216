#!/usr/bin/env python3
"""Builds the seed corpora of the gatekeeper fuzz targets.

usage: make_seeds.py FIXTURE_DIR SEED_DIR OUT_DIR

Writes OUT_DIR/config (YAML texts of the Travis fixtures: the `yaml` of
matrix.json and allow_failures.json, the configs of stages.json as JSON,
which is YAML too; request data as `#@key=value` comment lines) and
OUT_DIR/condition (every condition string of conditions_v1_parse.json and
conditions_v1_eval.json, the `if:` values found in the configs), then copies
the hand-written seeds of SEED_DIR/{config,condition}. Fixtures are read,
never copied into the repository.
"""
import hashlib
import json
import os
import shutil
import sys


def write(out_dir, kind, text):
    data = text.encode("utf-8") if isinstance(text, str) else text
    name = hashlib.sha1(data).hexdigest()
    path = os.path.join(out_dir, kind, name)
    with open(path, "wb") as f:
        f.write(data)


def request_lines(data):
    lines = []
    if not isinstance(data, dict):
        return ""
    for key, field in (("branch", "branch"), ("tag", "tag"),
                       ("type", "event"), ("sender", "sender"),
                       ("commit_message", "message"),
                       ("head_repo", "head_repo"),
                       ("head_branch", "head_branch")):
        value = data.get(key)
        if isinstance(value, str) and "\n" not in value:
            lines.append("#@%s=%s\n" % (field, value))
    if data.get("fork"):
        lines.append("#@fork=1\n")
    return "".join(lines)


def conditions_in(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "if" and isinstance(value, str):
                found.append(value)
            conditions_in(value, found)
    elif isinstance(node, list):
        for item in node:
            conditions_in(item, found)


def main():
    fixture_dir, seed_dir, out_dir = sys.argv[1:4]
    for kind in ("config", "condition"):
        os.makedirs(os.path.join(out_dir, kind), exist_ok=True)
    conds = []

    def load(name):
        with open(os.path.join(fixture_dir, name), encoding="utf-8") as f:
            return json.load(f)

    for name in ("matrix.json", "allow_failures.json"):
        for case in load(name):
            yaml = case.get("yaml")
            if not isinstance(yaml, str):
                continue
            header = request_lines(case.get("data"))
            if (case.get("opts") or {}).get("defaults"):
                header += "#@defaults=1\n"
            write(out_dir, "config", header + yaml)
            # The same config with a script, so that it plans jobs.
            if "script:" not in yaml:
                write(out_dir, "config", header + yaml + "\nscript: make\n")
            conditions_in(case, conds)
    for case in load("stages.json"):
        config = dict(case.get("config") or {})
        config["jobs"] = {"include": case.get("jobs") or []}
        config["script"] = "true"
        text = request_lines(case.get("data")) + json.dumps(config, indent=1)
        write(out_dir, "config", text)
        conditions_in(case, conds)

    parse = load("conditions_v1_parse.json")
    conds += parse.get("passes", []) + parse.get("failures", [])
    conds += [x["cond"] for x in parse.get("extra_passes", [])]
    conds += [case["expr"] for case in load("conditions_v1_eval.json")]
    for cond in conds:
        write(out_dir, "condition", cond)

    for kind in ("config", "condition"):
        src = os.path.join(seed_dir, kind)
        if os.path.isdir(src):
            for name in sorted(os.listdir(src)):
                shutil.copy(os.path.join(src, name),
                            os.path.join(out_dir, kind, "seed-" + name))
    for kind in ("config", "condition"):
        print("%s: %d seeds" % (kind, len(os.listdir(os.path.join(out_dir, kind)))))


if __name__ == "__main__":
    main()
